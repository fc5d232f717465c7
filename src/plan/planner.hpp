// The planner: turns the paths given to `add` into a CopyPlan, the list of directories, symlinks
// and files the root must hold, each with the host path it mirrors and why it is needed. It reads
// the host (through the resolver and by walking symlinks) but writes nothing.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jailbuild/copy_plan.hpp"
#include "jailbuild/progress.hpp"
#include "jailbuild/resolver.hpp"
#include "jailbuild/types.hpp"
#include "jailbuild/requirement.hpp"
#include "resolve/root_view.hpp"

namespace jailbuild {

// The rule a Reason records for an object the loader maps in `map` (not the program itself):
// "ld.so.cache", "rpath of X", "runpath of X", "path given in DT_NEEDED", "system dir", ...
// Persisted text: manifests on disk hold it and a sync compares it with what it plans, so it
// changes only with the manifest's format, never with how `deps` words a reason for display
// (src/cli/output.cpp).
std::string loader_rule(const LinkMap& map, const LoadedObject& object);

// What a named rule sees: the link maps of every program and library planned so far, and the host
// as the planner reads it.
struct RuleInput {
  const std::vector<LinkMap>& programs;
  const RootView& host;  // host.host_path(p): where the path p of the link maps is on the host
  // Whether `path` (absolute, symlink-free) exists on the host, not following a symlink there. The
  // planner records it, found or not, as a path the plan depends on: should it appear or go,
  // `sync` plans again.
  std::function<bool(const std::string& path)> exists;
  // The contents of the host file `path` (absolute, symlink-free; a symlink is not followed);
  // nullopt when it is missing or not a readable regular file. Recorded as a path the plan depends
  // on, read or not.
  std::function<std::optional<std::string>(const std::string& path)> read;
  // The names in the host directory `dir` (absolute, symlink-free), sorted; empty when it is
  // missing or not a directory. Recorded as a path the plan depends on.
  std::function<std::vector<std::string>(const std::string& dir)> list;
  // Whether dlopen(name) called from the object `from` (a path of the link maps) would load a file,
  // searched as the loader would from that object; what the search looks at is recorded.
  std::function<bool(const std::string& from, const std::string& name)> dlopen_finds;
};

// One requirement a rule adds, with why: the trigger that held ("/usr/bin/date imports tzset").
struct RuleAddition {
  Requirement requirement;
  std::string why;
};

// A runtime rule: a name a RuleRequirement can ask for, and the requirements it adds, decided
// from the planned closures (e.g. the symbols they import). What they bring in has "rule NAME" as
// its `added` and "rule NAME: WHY" as its rule. A rule's requirements may not name rules.
struct Rule {
  std::string name;
  std::function<std::vector<RuleAddition>(const RuleInput&)> expand;
};

struct PlanOptions {
  ResolverOptions resolver;  // how programs are resolved (on the host: root "/")
  // Give the root its own loader cache and ld.so.conf (where the resolver's loader configuration
  // says the loader reads them).
  bool generate_loader_cache = true;
  bool allow_devices = false;  // plan device nodes found in added directories (else skipped)
  std::vector<Rule> rules;     // the rules RuleRequirements may name
  Progress* progress = nullptr;  // told of each entry planned, and of its size; nullptr: nobody
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

  // Adds what the requirement asks for (requirement.hpp) and everything it needs. Paths, traced
  // files and generated files are planned at once; dlopens and rules, which depend on the
  // closures planned, when the plan is finished.
  void add(const Requirement& requirement);

  // The plan, after the dlopens and rules asked for, with the root's generated loader cache
  // (entries of the host's cache whose files the root holds) when asked for.
  CopyPlan finish();

 private:
  struct Impl;
  explicit Planner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jailbuild
