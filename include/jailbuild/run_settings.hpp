// How a jail runs, as words: `run`'s options before they are checked and looked up. The command
// line fills one, a spec's [run] table another (src/spec/), `apply` records that one beside the
// root's manifest, and `run ROOT` lays the command line's over the recorded one, option by option.
// Kept as words, not as RunOptions, because names (users, groups) are looked up on the host at each
// run, and an export (src/export/) turns the same words into an OCI configuration.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "jailbuild/result.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild {

// An unset field is one the command line (or spec) did not give: the recorded value, else run's
// default, applies. Each field is one option of `run` (see `jailbuild run --help`).
struct RunSettings {
  std::optional<std::string> user;                 // -u
  std::optional<std::string> group;                // -g
  std::optional<std::vector<std::string>> groups;  // --groups
  std::optional<std::vector<std::string>> capabilities;  // --cap: NET_BIND_SERVICE
  std::optional<std::vector<std::string>> environment;   // --env: K=V
  std::optional<bool> keep_environment;                  // --keep-env
  std::optional<std::string> cwd;                        // --cwd
  std::optional<bool> writable;                          // --writable
  // --bind, --ro-bind, --tmpfs, in order (a later one may go inside an earlier one).
  std::optional<std::vector<std::pair<JailMount::Kind, std::string>>> mounts;
  std::optional<std::string> seccomp;     // on | off | traced | allowlist:FILE
  std::optional<std::string> network;     // host | none
  std::optional<bool> chroot_only;        // --chroot-only
  std::optional<bool> host_root;          // --host-root
  std::optional<std::string> tmpfs_size;  // --tmpfs-size
  std::optional<std::vector<std::string>> limits;  // --rlimit NAME=VALUE
  std::optional<std::string> memory;               // --memory 32M
  std::optional<std::string> pids;                 // --pids 64
  std::optional<std::string> cpus;                 // --cpus 0.5
  std::optional<std::string> landlock;                    // --landlock on | off
  std::optional<std::vector<std::string>> allow_connect;  // --allow-connect PORT
  std::optional<std::vector<std::string>> allow_bind;     // --allow-bind PORT
  // The default command: PROGRAM and its arguments, what `run ROOT` runs when given none.
  std::vector<std::string> command;

  bool operator==(const RunSettings&) const = default;
};

// `recorded` with every field `given` sets replaced by it (a list replaces a list: `--env A=1`
// on the command line replaces the recorded environment assignments, as any option does).
RunSettings overlay(const RunSettings& recorded, const RunSettings& given);

// The settings checked and looked up, for running `command` (PROGRAM ARGS...) in `root`. `caller`
// is the environment the program's PATH, HOME and TERM come from (jailbuild's own for `run`; empty
// for an export, which must not depend on who exports); `caller_lang` the caller's LANG;
// `state_dir` where `--seccomp traced` finds the root's recorded allowlist ("" for the default).
Result<RunOptions> run_options_of(const RunSettings& settings, const std::string& root,
                                  const std::vector<std::string>& command, const std::vector<std::string>& caller,
                                  const std::string& caller_lang, const std::string& state_dir);

// --seccomp's value: on, off, traced, or allowlist:FILE (the file is read when the run starts).
inline constexpr std::string_view kAllowlistPrefix = "allowlist:";
Result<void> check_seccomp_setting(const std::string& seccomp);

// The settings as a JSON object (only the fields set, in run's option names: "user", "cap", ...,
// "bind", "ro-bind" and "tmpfs" as one ordered "mounts" list of {"bind": SPEC}), and back. The
// reader is as strict as a spec: an unknown key or a wrong type is an error naming it.
nlohmann::json run_settings_json(const RunSettings& settings);
Result<RunSettings> run_settings_from_json(const nlohmann::json& json);

}  // namespace jailbuild
