// `add`, `list`, `remove` and `sync`: the commands that change or show a root's contents; `rules`, what
// `add --with/--without` names.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "jailbuild/jail.hpp"
#include "jailbuild/rules.hpp"
#include "jailbuild/seccomp_allowlist.hpp"
#include "jailbuild/trace.hpp"
#include "output.hpp"
#include "progress_line.hpp"
#include "util/json_bytes.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::cli {

// The exit code of a change that happened: 1 if it left anything undone (a problem other than a
// skipped entry, a conflict, a kept entry, a vanished path), else 0.
int exit_code_of(const RootChange& change) {
  const bool problems = std::any_of(change.plan.problems.begin(), change.plan.problems.end(),
                                    [](const Problem& problem) { return problem.kind != ProblemKind::Skipped; });
  return problems || !change.complete() ? kExitIncomplete : kExitOk;
}

// The exit code of a command that could not be carried out, after saying why.
int failed(const Error& error) {
  log_error(error);
  return error.is_usage() ? kExitUsage : kExitIncomplete;
}

namespace {

struct RootOptions {
  std::string root;
  std::string state_dir;
  bool no_wait = false;

  // `root_is_option`: --root ROOT (add, remove) rather than a positional ROOT; `creates`: add makes it.
  void add_to(CLI::App& command, bool root_is_option, bool creates = false) {
    if (root_is_option)
      command
          .add_option("--root", root,
                      creates ? "The jail's root directory (created if missing)" : "The jail's root directory")
          ->required();
    else
      command.add_option("ROOT", root, "The jail's root directory")->required();
    add_state_options(command);
  }
  // The options every command on a root takes, whichever way it names the root.
  void add_state_options(CLI::App& command) {
    command.add_option("--state-dir", state_dir, "Where manifests are kept (default /var/lib/jailbuild for root)");
    command.add_flag("--no-wait", no_wait, "Fail at once if another jailbuild works on this root");
  }
  JailOptions jail() const { return {root, state_dir, !no_wait}; }
};

struct AddOptions {
  RootOptions root;
  std::vector<std::string> paths;
  WriteOptions write;
  RuleChoice rules;
  bool json = false;
  ProgressMode progress = ProgressMode::automatic;
  bool trace = false;
  std::optional<std::vector<std::string>> traced_command;  // after `--`
  std::optional<std::string> trace_user;
  bool trace_writable = false;
  std::vector<std::string> trace_excludes;
};

// add --trace: the workload run once on the host, traced; what it used, as requirements. Its
// failure is said, not fatal: what it used up to there is added.
Result<TracedWorkload> trace_workload(const AddOptions& options) {
  if (!options.trace)
    return Error::usage(
        "a command after -- is run only with --trace: jailbuild add --trace --root ROOT -- CMD [ARGS...]");
  if (!options.traced_command || options.traced_command->empty())
    return Error::usage(
        "--trace: give the command to trace after --: jailbuild add --trace --root ROOT -- CMD [ARGS...]");
  // What add_to_root would refuse after the workload has run, refused before it runs.
  TRY(check_rule_names(options.rules.with));
  TRY(check_rule_names(options.rules.without));
  HostTrace trace{*options.traced_command, options.trace_user, options.trace_writable, {}};
  for (const std::string& excluded : options.trace_excludes) {
    if (!excluded.starts_with('/')) return Error::usage("--trace-exclude " + excluded + ": must be absolute");
    trace.excluded.push_back(lexically_normal(excluded));
  }
  // With --json, stdout is the document's: the workload's output goes to stderr meanwhile.
  UniqueFd saved_stdout;
  if (options.json) {
    std::fflush(stdout);
    saved_stdout = UniqueFd(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
    if (!saved_stdout.valid() || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
      return system_error("--trace --json: send the workload's output to stderr", errno);
  }
  auto used = trace_for_root(trace);
  if (saved_stdout.valid()) ::dup2(saved_stdout.get(), STDOUT_FILENO);
  return used;
}

int run_add(const AddOptions& options) {
  if (options.paths.empty() && !options.trace)
    return failed(Error::usage("add: give a PATH to add, or --trace -- CMD (see jailbuild add --help)"));
  TracedWorkload traced;
  if (options.trace || options.traced_command) {
    auto workload = trace_workload(options);
    if (!workload) return failed(workload.error());
    traced = std::move(*workload);
  }
  JailOptions jail = options.root.jail();
  jail.allow_proof = !options.json;  // the JSON lists every entry, so the plan is needed
  ProgressLine progress(options.progress);
  jail.progress = progress.if_shown();
  auto change = add_to_root(jail, options.paths, options.write, options.rules, traced.used);
  if (!change) return failed(change.error());
  if (options.trace && !options.write.dry_run) {
    auto recorded = record_system_calls(jail.state_dir, jail.root, traced.system_calls);
    if (!recorded) return failed(recorded.error());
    spdlog::info("--trace: {} system calls recorded beyond the baseline (run --seccomp traced allows only them)",
                 *recorded);
  }
  log_details(*change, options.write.dry_run);
  log_undone(*change);
  if (options.json) {
    nlohmann::json out = change_json(*change, options.write.dry_run);
    out["entries"] = placed_entries_json(*change);
    print(out);
    return exit_code_of(*change);
  }
  if (options.write.dry_run) print(plan_text(change->plan));
  print_summary(*change, options.write.dry_run);
  return exit_code_of(*change);
}

int run_list(const RootOptions& options, bool json) {
  auto manifest = read_root_manifest(options.jail());
  if (!manifest) return failed(manifest.error());
  // --json: the manifest's own form, as stored (its byte strings encoded as bytes_json does), with
  // the size of what each rule brought.
  if (json)
    print(list_json(*manifest));
  else
    print(manifest_text(*manifest));
  return kExitOk;
}

// profile: the root's traced allowlist, as a list `run --seccomp allowlist:FILE` takes back (to
// review and edit), or as the OCI filter an engine loads.
int run_profile(const RootOptions& options, bool oci) {
  auto recorded = recorded_allowlist(options.state_dir, options.root);
  if (!recorded) return failed(recorded.error());
  if (!*recorded)
    return failed(Error::usage(options.root + ": no system calls recorded (jailbuild add --trace --root " +
                               options.root + " -- CMD records those CMD makes)"));
  if (oci) {
    print(oci_seccomp(**recorded));
    return kExitOk;
  }
  std::string text = "# " + for_terminal(options.root) + ": the system calls its traces made (" + (*recorded)->origin +
                     "), beyond the baseline every allowlist holds\n";
  for (const std::string& call : (*recorded)->calls) text += call + "\n";
  print(text);
  return kExitOk;
}

int run_remove(const RootOptions& options, const std::vector<std::string>& paths, bool dry_run) {
  auto change = remove_from_root(options.jail(), paths, dry_run);
  if (!change) return failed(change.error());
  log_details(*change, dry_run);
  print(removed_text(*change, dry_run));
  log_undone(*change);
  return exit_code_of(*change);
}

struct SyncCommand {
  RootOptions root;
  bool all = false;
  bool json = false;
  SyncOptions sync;
  ProgressMode progress = ProgressMode::automatic;
};

// One root's sync, printed; returns its exit code.
int sync_one(const SyncCommand& command, const JailOptions& jail, nlohmann::json& json_out) {
  auto change = sync_root(jail, command.sync);
  if (!change) {
    if (command.json) json_out.push_back(failed_root_json(jail.root, change.error()));
    return failed(change.error());
  }
  log_details(*change, command.sync.dry_run);
  log_undone(*change);
  if (command.json) {
    json_out.push_back(change_json(*change, command.sync.dry_run));
    return exit_code_of(*change);
  }
  if (command.sync.dry_run) print(sync_plan_text(*change));
  log_pruned(*change, command.sync.dry_run);
  print_summary(*change, command.sync.dry_run);
  return exit_code_of(*change);
}

int run_sync(const SyncCommand& command) {
  std::vector<std::string> roots;
  if (command.all) {
    auto known = roots_in_state_dir(command.root.state_dir);
    if (!known) return failed(known.error());
    roots = std::move(*known);
  } else {
    roots.push_back(command.root.root);
  }
  nlohmann::json json_out = nlohmann::json::array();
  int code = kExitOk;
  ProgressLine progress(command.progress);
  for (const std::string& root : roots) {
    JailOptions jail = command.root.jail();
    jail.root = root;
    jail.progress = progress.if_shown();
    code = std::max(code, sync_one(command, jail, json_out));
  }
  if (command.json) print(command.all ? json_out : json_out.at(0));
  return code;
}

}  // namespace

void add_jail_commands(CLI::App& app, int& exit_code, const std::optional<std::vector<std::string>>& traced_command) {
  auto add = std::make_shared<AddOptions>();
  add->traced_command = traced_command;
  CLI::App* add_command = app.add_subcommand(
      "add", "Copy programs, libraries, scripts, directories or files into a root with everything they need");
  add_command->footer(
      "Usage: jailbuild add PATH... --root ROOT [OPTIONS]\n"
      "       jailbuild add [PATH...] --root ROOT --trace [--trace-user USER] [--trace-writable]\n"
      "                     [--trace-exclude DIR]... -- CMD [ARGS...]\n"
      "--trace runs CMD once on the host (read-only, fresh /tmp, /var/tmp and /run) and adds every host\n"
      "path it and its children opened, executed or looked up; later syncs keep them current.");
  add_command->add_option("PATH", add->paths, "What to add");
  add->root.add_to(*add_command, true, true);
  add_command->add_flag("--dry-run", add->write.dry_run, "Print the plan and change nothing");
  add_command->add_flag("--json", add->json, "Print what was (or would be) placed as JSON");
  add_command->add_flag("--force", add->write.force,
                        "Replace what is in the way even if jailbuild did not put it there");
  add_command->add_flag("--keep-setuid", add->write.keep_setuid, "Keep setuid/setgid bits and file capabilities");
  add_command->add_flag("--allow-devices", add->write.allow_devices, "Copy device nodes");
  add_progress_option(*add_command, add->progress);
  add_command
      ->add_option("--with", add->rules.with,
                   "Turn runtime rules on (RULE[,RULE], repeatable; `jailbuild rules` lists them); later add and sync "
                   "repeat it")
      ->delimiter(',')
      ->allow_extra_args(false)  // one word: `--without tz PATH` leaves PATH a path
      ->type_name("RULE");
  add_command
      ->add_option("--without", add->rules.without,
                   "Turn runtime rules off (RULE[,RULE], repeatable); later add and sync repeat it")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->type_name("RULE");
  add_command
      ->add_option("--user", add->rules.users,
                   "Name a host user (and its groups) in the root's generated /etc/passwd and /etc/group (rule "
                   "users; repeatable); later add and sync repeat it")
      ->type_name("NAME");
  add_command->add_flag("--trace", add->trace,
                        "Run the command after -- once on the host, traced, and add every path it used");
  add_command->add_option("--trace-user", add->trace_user, "Run the traced command as USER (name or number)");
  add_command->add_flag("--trace-writable", add->trace_writable,
                        "Let the traced command write the host's files (default: the host is read-only to it)");
  add_command
      ->add_option("--trace-exclude", add->trace_excludes,
                   "Add nothing the traced command used under DIR (repeatable): its input data, say")
      ->allow_extra_args(false)
      ->type_name("DIR");
  add_command->callback([add, &exit_code] { exit_code = run_add(*add); });

  auto rules_as_json = std::make_shared<bool>(false);
  CLI::App* rules_command = app.add_subcommand(
      "rules", "List the runtime rules: what each adds to a root, when, and whether it is on by default");
  rules_command->add_flag("--json", *rules_as_json, "Print the rules as JSON");
  rules_command->callback([rules_as_json, &exit_code] {
    if (*rules_as_json)
      print(rules_json(rule_catalogue()));
    else
      print(rules_text(rule_catalogue()));
    exit_code = kExitOk;
  });

  auto list = std::make_shared<std::pair<RootOptions, bool>>();
  CLI::App* list_command = app.add_subcommand("list", "Show what a root holds and why each entry is there");
  list->first.add_to(*list_command, false);
  list_command->add_flag("--json", list->second, "Print the manifest as JSON");
  list_command->callback([list, &exit_code] { exit_code = run_list(list->first, list->second); });

  auto profile = std::make_shared<std::pair<RootOptions, bool>>();
  CLI::App* profile_command = app.add_subcommand(
      "profile", "Show the system calls a root's traces made: the allowlist `run --seccomp traced` enforces");
  profile->first.add_to(*profile_command, false);
  profile_command->add_flag("--oci", profile->second, "Print it as an OCI runtime's seccomp filter (config.json's linux.seccomp)");
  profile_command->callback([profile, &exit_code] { exit_code = run_profile(profile->first, profile->second); });

  struct RemoveOptions {
    RootOptions root;
    std::vector<std::string> paths;
    bool dry_run = false;
  };
  auto remove = std::make_shared<RemoveOptions>();
  CLI::App* remove_command =
      app.add_subcommand("remove", "Remove added paths and every entry nothing else still needs");
  remove_command->add_option("PATH", remove->paths, "Paths given to add earlier")->required();
  remove->root.add_to(*remove_command, true);
  remove_command->add_flag("--dry-run", remove->dry_run, "Print what would be removed and change nothing");
  remove_command->callback(
      [remove, &exit_code] { exit_code = run_remove(remove->root, remove->paths, remove->dry_run); });

  auto sync = std::make_shared<SyncCommand>();
  CLI::App* sync_command =
      app.add_subcommand("sync",
                         "Bring a root up to date with the host: copy what changed, add new dependencies, remove what "
                         "nothing needs");
  CLI::Option* root_option = sync_command->add_option("ROOT", sync->root.root, "The jail's root directory");
  sync_command->add_flag("--all", sync->all, "Sync every root that has a manifest in the state directory")
      ->excludes(root_option);
  sync->root.add_state_options(*sync_command);
  sync_command->add_flag("--dry-run", sync->sync.dry_run, "Print what would change and change nothing");
  sync_command->add_flag("--json", sync->json, "Print the changes as JSON (an array of roots with --all)");
  sync_command->add_flag("--checksum", sync->sync.checksum,
                         "Compare contents too, not only size, times and inode numbers");
  sync_command->add_flag("--force", sync->sync.force,
                         "Replace what is in the way even if jailbuild did not put it there");
  sync_command->add_flag("--prune", sync->sync.prune,
                         "Forget added paths gone from the host and remove the files only they needed");
  add_progress_option(*sync_command, sync->progress);
  sync_command->callback([sync, &exit_code] {
    if (!sync->all && sync->root.root.empty()) throw CLI::RequiredError("ROOT or --all");
    exit_code = run_sync(*sync);
  });
}

}  // namespace jailbuild::cli
