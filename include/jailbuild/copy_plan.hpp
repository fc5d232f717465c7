// What a root must hold, as data: the planner's output (src/plan/planner.hpp), what RootWriter
// applies and what the commands report. Nothing here reads the host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jailbuild/types.hpp"

namespace jailbuild {

struct PlannedEntry {
  std::string path;  // absolute inside the root; every directory on the way is planned before it
  EntryType type = EntryType::File;
  std::string source;                  // the host path it mirrors; "" for generated files
  std::string link_target;             // for symlinks, exactly as on the host
  std::optional<std::string> content;  // for generated files: the bytes to write
  std::uint32_t mode = 0;              // for generated files and directories without a source
  std::vector<Reason> reasons;
  // A regular source's size when it was planned: what the progress line counts on. The copy
  // reads the size again from the file it opens; this one is never trusted for anything else.
  std::uint64_t source_size = 0;

  // The bytes the entry holds, as planned: the generated content's, or the source's.
  std::uint64_t bytes() const { return content ? content->size() : source_size; }
};

struct CopyPlan {
  std::vector<PlannedEntry> entries;  // in creation order: parents before children
  std::vector<Problem> problems;      // what the resolver could not find or the planner could not read
  // Host paths the plan depends on besides its entries (whose sources it depends on too): every
  // path the resolver or the planner looked up, found or not, unless planned with every step on
  // its way. Sorted, each once.
  std::vector<std::string> looked_up;

  const PlannedEntry* find(const std::string& path) const;
  bool complete() const;  // no problem other than a skipped entry
};

}  // namespace jailbuild
