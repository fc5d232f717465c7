// Operations on a jail root, as the commands use them: each takes the root's lock, reads its
// manifest from the state directory, plans, writes through RootWriter, and records the result.
#pragma once

#include <string>
#include <vector>

#include "jailbuild/manifest.hpp"
#include "jailbuild/plan.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/root_writer.hpp"

namespace jailbuild {

struct JailOptions {
  std::string root;
  std::string state_dir;       // empty: default_state_dir()
  bool wait_for_lock = true;   // wait for another jailbuild on the same root, or fail at once
};

struct AddOutcome {
  CopyPlan plan;
  WriteReport report;
  std::string manifest_path;
};

// Adds `paths` (and everything they need) to the root, creating it if missing. The plan covers
// every path the manifest already lists too, so that the root's own loader cache describes all it
// holds. With options.dry_run nothing is written, not even the manifest.
Result<AddOutcome> add_to_root(const JailOptions& jail, const std::vector<std::string>& paths,
                               const WriteOptions& options);

struct RemoveOutcome {
  std::vector<std::string> removed;  // entries deleted from the root
  std::vector<Conflict> kept;        // entries left because they changed since jailbuild placed them
};

// Removes added `paths` and every entry nothing else still needs.
Result<RemoveOutcome> remove_from_root(const JailOptions& jail, const std::vector<std::string>& paths,
                                       bool dry_run);

// The root's manifest; an error if jailbuild has none for it.
Result<Manifest> read_root_manifest(const JailOptions& jail);

}  // namespace jailbuild
