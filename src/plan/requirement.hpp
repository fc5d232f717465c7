// What a root is asked to hold: the typed requirements given to `add` (and recorded in the
// manifest as the root's intent, which `sync` plans again). The planner has a provider for each
// kind; nothing here reads the disk.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace jailbuild {

// A host path given to `add`: the object it names with its closure (an ELF program or library, a
// `#!` script with its interpreters), a directory with everything in it, or a plain file, each
// with the symlinks and directories on its way.
struct PathRequirement {
  std::string path;  // absolute on the host
  bool operator==(const PathRequirement&) const = default;
};

// dlopen(NAME) as called from the object at `from`: found with that object's search context
// (its RPATH chain and RUNPATH) in the link map of each planned program holding it, or of `from`
// itself when none does.
struct DlopenRequirement {
  std::string from;  // absolute host path of the calling object (a program or library)
  std::string name;  // as passed to dlopen
  bool operator==(const DlopenRequirement&) const = default;
};

// A named runtime rule (PlanOptions::rules): what it adds is decided from the plan's closures.
struct RuleRequirement {
  std::string name;
  bool operator==(const RuleRequirement&) const = default;
};

// A file a traced workload opened: the path with its closure, never a directory's contents (a
// directory it listed is not a directory it read).
struct TracedRequirement {
  std::string path;     // absolute on the host
  std::string command;  // the workload that opened it, for the reason shown to the user
  bool operator==(const TracedRequirement&) const = default;
};

// A file jailbuild writes into the root, with no host source.
struct GeneratedRequirement {
  std::string path;  // absolute inside the root
  std::string content;
  std::uint32_t mode = 0644;
  std::string why;  // the reason recorded for it
  bool operator==(const GeneratedRequirement&) const = default;
};

using Requirement =
    std::variant<PathRequirement, DlopenRequirement, RuleRequirement, TracedRequirement, GeneratedRequirement>;

// The requirement in one line, which is also what the entries it brings in name as their `added`
// (Reason::added): the path for a path requirement, so that manifests and `remove PATH` keep
// meaning what they did.
std::string to_string(const Requirement& requirement);

}  // namespace jailbuild
