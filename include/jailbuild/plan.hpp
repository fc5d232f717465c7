// The planner: turns the paths given to `add` into a CopyPlan, the list of directories, symlinks
// and files the root must hold, each with the host path it mirrors and why it is needed. It reads
// the host (through the resolver and by walking symlinks) but writes nothing.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jailbuild/manifest.hpp"
#include "jailbuild/resolver.hpp"

namespace jailbuild {

struct PlannedEntry {
  std::string path;  // absolute inside the root; every directory on the way is planned before it
  EntryType type = EntryType::File;
  std::string source;                  // the host path it mirrors; "" for generated files
  std::string link_target;             // for symlinks, exactly as on the host
  std::optional<std::string> content;  // for generated files: the bytes to write
  std::uint32_t mode = 0;              // for generated files and directories without a source
  std::vector<Reason> reasons;
};

// The manifest's record of a planned entry, before anything about its copy is known.
ManifestEntry to_manifest_entry(const PlannedEntry& entry);

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

struct PlanOptions {
  ResolverOptions resolver;      // how programs are resolved (on the host: root "/")
  bool generate_loader_cache = true;  // give the root its own /etc/ld.so.cache and ld.so.conf
  bool allow_devices = false;         // plan device nodes found in added directories (else skipped)
};

class Planner {
 public:
  // Fails, naming the root, if the root cannot be opened.
  static Result<Planner> open(PlanOptions options);
  ~Planner();
  Planner(Planner&&) noexcept;
  Planner& operator=(Planner&&) noexcept;
  Planner(const Planner&) = delete;
  Planner& operator=(const Planner&) = delete;

  // Adds PATH and everything it needs: an ELF program or library with its closure, a script with
  // its interpreters' closures, a directory recursively (with the closure of every ELF file in
  // it), a plain file, or a symlink (and what it points to).
  void add(const std::string& path);

  // The plan, with the root's generated loader cache (entries of the host's ld.so.cache whose
  // files the root holds) when asked for.
  CopyPlan finish();

 private:
  struct Impl;
  explicit Planner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jailbuild
