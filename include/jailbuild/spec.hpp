// A jail as a file: the spec (TOML) that names a root, what it holds and how it runs, and `apply`,
// which makes the root what the spec says. See docs/commands/apply.md for the format.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "jailbuild/jail.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/run_settings.hpp"
#include "jailbuild/trace.hpp"
#include "jailbuild/write_report.hpp"

namespace jailbuild {

struct Spec {
  std::string file;       // where it was read from, for messages
  std::string root;       // absolute (a relative one is taken from the spec's directory)
  std::string state_dir;  // empty: the default
  std::vector<std::string> paths;  // what `add` would be given, absolute
  std::vector<HostTrace> traces;   // each run once, when its command line is new to the root
  IntentOptions options;           // keep-setuid, allow-devices, rules on and off, users
  RunSettings run;                 // [run]: how `run ROOT` runs it, with its default command
};

// Reads and checks a spec: a TOML syntax error, an unknown key, a value of the wrong type or that
// run would refuse (a bind, a tmpfs, a capability, a limit) is an error "FILE:LINE: what". Names
// of users and groups are looked up when the jail runs, not here.
Result<Spec> read_spec(const std::string& file);

// What apply did: the root's change and whether the recorded run settings changed.
struct Applied {
  RootChange change;
  std::vector<std::string> traced;    // command lines traced by this apply (new to the root)
  std::vector<std::string> untraced;  // command lines whose paths it removed (gone from the spec)
  bool run_settings_changed = false;
};

// Makes the root what the spec says: the traces new to it run (not in a dry run, which lists them),
// then its intent becomes the spec's exactly (add_to_root for what is new, removal of what the spec
// no longer names, sync of the rest: set_root_intent), then the run settings are recorded.
// `progress`: told how far planning and copying have come (nullptr: nobody).
Result<Applied> apply_spec(const Spec& spec, bool dry_run, Progress* progress = nullptr);

// The run settings `apply` recorded for `root` (a path as given: it is made canonical), nullopt
// when none were. `state_dir` empty: the default.
Result<std::optional<RunSettings>> recorded_run_settings(const std::string& state_dir, const std::string& root);

}  // namespace jailbuild
