// `run`: enter a root and run a program there.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "jailbuild/run.hpp"
#include "jailbuild/run_settings.hpp"
#include "jailbuild/spec.hpp"
#include "jailbuild/trace.hpp"
#include "util/json_bytes.hpp"
#include "output.hpp"

extern char** environ;

namespace jailbuild::cli {
namespace {

// What the command line gave: the options as words (only those given are set, so that `run ROOT`
// lays them over the recorded ones), and what --report-missing asks.
struct RunCommandLine {
  RunSettings given;
  std::string state_dir;
  bool report_missing = false;
  bool report_json = false;
};

// run --report-missing: on stderr (stdout is the program's), after the program has ended, what the
// jail looked for and the host has, and the `add` that brings it in. Nothing when nothing is missing.
void report_missing(const RunOptions& options, const std::vector<PathAccess>& missing, bool as_json) {
  // A directory the jail looked up is named, not put in the fix: adding it would copy all it holds,
  // and what the program needs of it shows up as files of its own.
  std::vector<std::string> fix = {"jailbuild", "add"};
  std::vector<bool> directory;
  for (const PathAccess& access : missing) {
    struct stat status {};
    directory.push_back(::stat(access.path.c_str(), &status) == 0 && S_ISDIR(status.st_mode));
    if (!directory.back()) fix.push_back(access.path);
  }
  fix.insert(fix.end(), {"--root", options.root});
  const bool any_file = fix.size() > 4;
  if (as_json) {
    nlohmann::json paths = nlohmann::json::array();
    for (std::size_t i = 0; i < missing.size(); ++i)
      paths.push_back({{"path", bytes_json(missing[i].path)},
                       {"directory", static_cast<bool>(directory[i])},
                       {"use", to_string(missing[i].use)},
                       {"call", missing[i].call},
                       {"by", bytes_json(missing[i].program)}});
    nlohmann::json report = {{"root", bytes_json(options.root)}, {"missing", paths}};
    report["fix"] = any_file ? bytes_json(fix) : nlohmann::json(nullptr);
    const std::string text = json_text(report) + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
    return;
  }
  if (missing.empty()) return;
  std::string text = "jailbuild: the jail looked for " + std::to_string(missing.size()) +
                     (missing.size() == 1 ? " path" : " paths") + " it lacks and the host has:\n";
  for (std::size_t i = 0; i < missing.size(); ++i) {
    const PathAccess& access = missing[i];
    text += "  " + for_terminal(access.path) + (directory[i] ? "/  (a directory; " : "  (") + to_string(access.use) +
            ", " + access.call;
    text += access.program.empty() ? ")\n" : " by " + for_terminal(access.program) + ")\n";
  }
  if (any_file) text += "jailbuild: to add the files: " + for_terminal(command_line(fix)) + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
}

// ROOT is the first word that is not an option or an option's value, so a second value given to an
// option that takes one (`--cap SETUID SETGID ROOT`) becomes ROOT. When ROOT is missing and follows
// such an option, that is the likely mistake, and the error says so rather than "no such root".
Result<void> check_root_follows_option(const std::string& root, const CLI::Option* last) {
  if (last == nullptr || last->get_expected_max() == 0 || last->results().empty()) return {};  // none, or a flag
  struct stat status {};
  if (::lstat(root.c_str(), &status) == 0 || errno != ENOENT) return {};
  const std::string name = last->get_name();
  const std::string value = last->results().back();
  std::string error = root + ": no such root; it follows `" + name + " " + value + "`, and " + name + " takes one value";
  if (last->get_delimiter() != '\0')
    error += ": give a list as " + name + " " + value + "," + root + " or " + name + " " + value + " " + name + " " + root;
  return Error::usage(error);
}

// Everything the command line says, checked and looked up; errors name the option at fault. ROOT
// alone runs the default command recorded for it (apply), with the recorded settings under the
// command line's.
Result<RunOptions> run_options(const RunCommandLine& line, const std::vector<std::string>& positionals,
                               const CLI::Option* last_option) {
  // CLI11 leaves an unknown option before ROOT among the positionals.
  if (!positionals.empty() && positionals[0].starts_with("-"))
    return Error::usage(positionals[0] + ": unknown option (see jailbuild run --help)");
  if (positionals.empty()) return Error::usage("expected ROOT [PROGRAM [ARGS...]] (see jailbuild run --help)");
  TRY(check_root_follows_option(positionals[0], last_option));
  const std::string& root = positionals[0];
  RunSettings settings = line.given;
  std::vector<std::string> command(positionals.begin() + 1, positionals.end());
  if (command.empty()) {
    const std::optional<RunSettings> recorded = TRY(recorded_run_settings(line.state_dir, root));
    if (!recorded || recorded->command.empty())
      return Error::usage(root + ": no PROGRAM given and no default command recorded for this root (jailbuild "
                                 "apply records a spec's [run] command)");
    settings = overlay(*recorded, line.given);
    command = recorded->command;
  }
  std::vector<std::string> caller;
  for (char** entry = environ; *entry != nullptr; ++entry) caller.emplace_back(*entry);
  const char* lang = ::getenv("LANG");
  return run_options_of(settings, root, command, caller, lang != nullptr ? lang : "", line.state_dir);
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto line = std::make_shared<RunCommandLine>();
  CLI::App* run = app.add_subcommand("run", "Run a program inside a root: namespaces, read-only root, seccomp");
  // ROOT, PROGRAM and the program's arguments: everything from the first positional on, untouched
  // (no fall-through: the parent would take the positionals, and -v/-q go before `run`).
  run->fallthrough(false);
  run->prefix_command();
  run->footer(
      "Usage: jailbuild run [OPTIONS] ROOT [PROGRAM [ARGS...]]\n"
      "PROGRAM is a path inside ROOT or a name looked up in the jail's PATH. Options go before ROOT.\n"
      "Without PROGRAM: the command and settings `jailbuild apply` recorded for ROOT, each option given\n"
      "here replacing the recorded one.\n"
      "Exit status: the program's (128+N if signal N killed it); 125 the jail could not be set up,\n"
      "126 PROGRAM cannot be executed, 127 PROGRAM not found.");
  RunSettings& given = line->given;
  run->add_option("-u,--user", given.user, "Run as USER (name or number, looked up on the host)");
  run->add_option("-g,--group", given.group, "Run with GROUP (default: the user's primary group)");
  // Options that take a list take it as one word, comma-separated or repeated: ROOT follows them.
  run->add_option("--groups", given.groups, "Supplementary groups G1,G2 (default: none)")
      ->delimiter(',')
      ->allow_extra_args(false);
  run->add_option("--cap", given.capabilities,
                  "Keep capability NAME (e.g. NET_BIND_SERVICE); repeat, or NAME1,NAME2; all others are dropped")
      ->delimiter(',')
      ->allow_extra_args(false);
  run->add_option("--env", given.environment, "Set K=V in the program's environment")->allow_extra_args(false);
  run->add_flag_callback(
      "--keep-env", [&given] { given.keep_environment = true; },
      "Start from the caller's environment, not PATH/HOME/TERM/LANG");
  run->add_option("--cwd", given.cwd, "Working directory inside the root (default /)");
  run->add_flag_callback(
      "--writable", [&given] { given.writable = true; }, "Mount the root read-write (default read-only)");
  for (const auto& [name, kind, help] :
       {std::tuple{"--bind", JailMount::Kind::Bind, "Bind host SRC read-write at DST inside (SRC:DST)"},
        std::tuple{"--ro-bind", JailMount::Kind::ReadOnlyBind, "Bind host SRC read-only at DST inside (SRC:DST)"},
        std::tuple{"--tmpfs", JailMount::Kind::Tmpfs,
                   "Mount an empty tmpfs at DIR inside, the program's, mode 0755 "
                   "(DIR[:mode=OCTAL,uid=U,gid=G,size=N])"}}) {
    run->add_option_function<std::string>(
           name,
           [&given, mount_kind = kind](const std::string& spec) {
             if (!given.mounts) given.mounts.emplace();
             given.mounts->emplace_back(mount_kind, spec);
           },
           help)
        ->trigger_on_parse()
        ->allow_extra_args(false);
  }
  run->add_option("--seccomp", given.seccomp,
                  "on (default): the system call denylist; off; traced: also an allowlist of the calls the root's "
                  "traces made (add --trace), all others refused with EPERM; allowlist:FILE: the same from a list "
                  "of names, one a line")
      ->type_name("on|off|traced|allowlist:FILE")
      ->check([](const std::string& value) -> std::string {
        auto checked = check_seccomp_setting(value);
        return checked ? "" : checked.error().message;
      });
  run->add_option("--net", given.network, "host (default) or none: a network namespace with only loopback")
      ->check(CLI::IsMember({"host", "none"}));
  run->add_flag_callback(
      "--chroot-only", [&given] { given.chroot_only = true; }, "Plain chroot(2), no namespaces (root only)");
  run->add_flag_callback(
      "--host-root", [&given] { given.host_root = true; },
      "As root: no user namespace, the jail's uid 0 is the host's root (default: an unprivileged id "
      "from jailbuild's range in /etc/subuid)");
  run->add_option("--tmpfs-size", given.tmpfs_size,
                  "Size of /tmp, /dev/shm and each --tmpfs (default 256m; k, m, g or %)");
  run->add_flag("--report-missing", line->report_missing,
                "Trace the jail; at the end, list on stderr the paths it looked for that the root lacks and the host "
                "has, with the `jailbuild add` that adds them");
  run->add_flag("--report-json", line->report_json, "With --report-missing: the report as JSON (on stderr)");
  run->add_option("--landlock", given.landlock,
                  "on (default) or off: Landlock confines files (write only where the jail may), signals and "
                  "abstract sockets, at the kernel's best ABI")
      ->check(CLI::IsMember({"on", "off"}));
  run->add_option("--allow-connect", given.allow_connect,
                  "Let the jail connect only to these TCP ports (PORT[,PORT...]; Landlock ABI 4)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->type_name("PORTS");
  run->add_option("--allow-bind", given.allow_bind,
                  "Let the jail bind only these TCP ports (PORT[,PORT...]; Landlock ABI 4)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->type_name("PORTS");
  run->add_option("--rlimit", given.limits, "Set a resource limit NAME=VALUE or NAME=SOFT:HARD (nofile=1024)")
      ->allow_extra_args(false);
  // Bounds for the whole jail, through a cgroup made for the run (v2, or v1 where a controller is only
  // there) and removed after it.
  run->add_option("--memory", given.memory,
                  "Bound the jail's memory (swap included where the kernel counts it): BYTES, or with k, m, g "
                  "(32M, 1G); the kernel kills the program beyond it (exit 137)")
      ->type_name("SIZE");
  run->add_option("--pids", given.pids, "Bound the jail's processes and threads to N, its init included")
      ->type_name("N");
  run->add_option("--cpus", given.cpus, "Bound the jail's CPU time to FRACTION of one CPU (0.5, 2)")
      ->type_name("FRACTION");
  run->add_option("--state-dir", line->state_dir,
                  "Where the recorded settings of `run ROOT` are kept (default /var/lib/jailbuild for root)");
  run->callback([run, line, &exit_code] {
    const std::vector<CLI::Option*>& parsed = run->parse_order();
    auto options = run_options(*line, run->remaining(), parsed.empty() ? nullptr : parsed.back());
    if (!options) {
      log_error(options.error());
      exit_code = kRunFailed;
      return;
    }
    if (line->report_json && !line->report_missing) {
      log_error(Error::usage("--report-json goes with --report-missing"));
      exit_code = kRunFailed;
      return;
    }
    int status = 0;
    if (line->report_missing) {
      const TraceLog log = run_traced(*options);
      status = log.exit_status;
      report_missing(*options, missing_from_root(log, *options), line->report_json);
    } else {
      status = run_in_jail(*options);
    }
    // The jail has ended: jailbuild leaves at once, without tearing its heap down. Every page it
    // wrote before the clone was shared copy-on-write with the child, and freeing the command
    // model page by page would fault each one in again, a cost paid on every run for nothing.
    spdlog::default_logger_raw()->flush();
    std::fflush(nullptr);
    ::_exit(status);
  });
}

}  // namespace jailbuild::cli
