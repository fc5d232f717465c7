// `add`, `list` and `remove`: the commands that change or show a root's contents.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "../util/json_bytes.hpp"
#include "commands.hpp"
#include "jailbuild/jail.hpp"

namespace jailbuild::cli {
namespace {

struct RootOptions {
  std::string root;
  std::string state_dir;
  bool no_wait = false;

  // `root_is_option`: --root ROOT (add, remove) rather than a positional ROOT; `creates`: add makes it.
  void add_to(CLI::App& command, bool root_is_option, bool creates = false) {
    if (root_is_option)
      command.add_option("--root", root, creates ? "The jail's root directory (created if missing)" : "The jail's root directory")
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

nlohmann::json reasons_json(const std::vector<Reason>& reasons) {
  nlohmann::json out = nlohmann::json::array();
  for (const Reason& r : reasons)
    out.push_back(
        {{"added", bytes_json(r.added)}, {"needed_by", bytes_json(r.needed_by)}, {"rule", bytes_json(r.rule)}});
  return out;
}

std::string describe_reason(const Reason& reason) {
  std::string text = reason.rule;
  if (!reason.needed_by.empty()) text += ", needed by " + reason.needed_by;
  if (!reason.added.empty()) text += " (for " + reason.added + ")";
  return text;
}

// Reports on stderr what the change left undone; returns the exit code it deserves.
int report_undone(const RootChange& change) {
  int code = kExitOk;
  for (const Problem& problem : change.plan.problems) {
    if (problem.kind == ProblemKind::Skipped) {
      spdlog::warn("{}", problem.message);
      continue;
    }
    std::fprintf(stderr, "%s\n", problem.message.c_str());
    code = kExitIncomplete;
  }
  for (const Conflict& conflict : change.report.conflicts)
    std::fprintf(stderr, "jailbuild: conflict: %s: %s; left alone\n", conflict.path.c_str(), conflict.reason.c_str());
  for (const Conflict& kept : change.kept)
    std::fprintf(stderr, "jailbuild: kept %s: %s\n", kept.path.c_str(), kept.reason.c_str());
  for (const std::string& added : change.vanished)
    std::fprintf(stderr, "jailbuild: %s: gone from the host; its files stay in the root (sync --prune removes them)\n",
                 added.c_str());
  for (const std::string& removed : change.report.privileges_removed) spdlog::warn("{}", removed);
  // A warning, not a failure (the exit status stays): the file is not jailbuild's to remove, and
  // one an administrator put there on purpose would otherwise fail every sync.
  for (const PrivilegedFile& file : change.unplaced_privileged) {
    spdlog::warn("{}{}: {} file that jailbuild did not place (mode {:04o}, owner {}:{}); any host user can run it "
                 "from there",
                 change.root == "/" ? "" : change.root, file.path,
                 (file.mode & S_ISUID) ? ((file.mode & S_ISGID) ? "setuid and setgid" : "setuid") : "setgid",
                 file.mode & 07777, file.uid, file.gid);
  }
  if (!change.complete()) code = kExitIncomplete;
  return code;
}

// The change for scripts: the same fields for add, remove and sync. Every path and message goes
// through bytes_json: this is printed after the root changed, when failing would hide the change.
nlohmann::json change_json(const RootChange& change, bool dry_run) {
  const WriteReport& report = change.report;
  nlohmann::json conflicts = nlohmann::json::array();
  for (const std::vector<Conflict>* list : {&report.conflicts, &change.kept})
    for (const Conflict& c : *list)
      conflicts.push_back({{"path", bytes_json(c.path)}, {"reason", bytes_json(c.reason)}});
  nlohmann::json problems = nlohmann::json::array();
  for (const Problem& problem : change.plan.problems) problems.push_back(bytes_json(problem.message));
  nlohmann::json unplaced_setuid = nlohmann::json::array();
  for (const PrivilegedFile& file : change.unplaced_privileged) unplaced_setuid.push_back(bytes_json(file.path));
  return {{"root", bytes_json(change.root)},
          {"dry_run", dry_run},
          {"created", bytes_json(report.created)},
          {"updated", bytes_json(report.updated)},
          {"removed", bytes_json(change.removed)},
          {"unchanged", report.unchanged},
          {"bytes_copied", report.bytes_copied},
          {"conflicts", conflicts},
          {"vanished", bytes_json(change.vanished)},
          {"pruned", bytes_json(change.pruned)},
          {"problems", problems},
          {"unplaced_setuid", unplaced_setuid}};
}

// The one-line summary on stderr, unless -q asked for errors only.
void print_summary(const RootChange& change, bool dry_run) {
  if (spdlog::get_level() > spdlog::level::warn) return;
  const WriteReport& report = change.report;
  std::fprintf(stderr, "%s%s: %zu created, %zu updated, %zu removed, %zu unchanged, %llu bytes copied\n",
               dry_run ? "dry run: " : "", change.root.c_str(), report.created.size(), report.updated.size(),
               change.removed.size(), report.unchanged, static_cast<unsigned long long>(report.bytes_copied));
}

struct AddOptions {
  RootOptions root;
  std::vector<std::string> paths;
  WriteOptions write;
  bool json = false;
};

int run_add(const AddOptions& options) {
  JailOptions jail = options.root.jail();
  jail.allow_proof = !options.json;  // the JSON lists every entry, so the plan is needed
  auto change = add_to_root(jail, options.paths, options.write);
  if (!change) {
    std::fprintf(stderr, "jailbuild: %s\n", change.error().message.c_str());
    return change.error().is_usage() ? kExitUsage : kExitIncomplete;
  }
  const int code = report_undone(*change);
  if (options.json) {
    nlohmann::json out = change_json(*change, options.write.dry_run);
    nlohmann::json entries = nlohmann::json::array();
    for (const ManifestEntry& e : change->report.placed)
      entries.push_back({{"path", bytes_json(e.path)}, {"type", to_string(e.type)}, {"source", bytes_json(e.source)},
                         {"link_target", bytes_json(e.link_target)}, {"reasons", reasons_json(e.reasons)}});
    out["entries"] = std::move(entries);
    std::printf("%s\n", json_text(out).c_str());
    return code;
  }
  if (options.write.dry_run) {
    for (const PlannedEntry& e : change->plan.entries) {
      std::string line = std::string(to_string(e.type)) + " " + e.path;
      if (e.type == EntryType::Symlink) line += " -> " + e.link_target;
      if (!e.reasons.empty()) line += "  [" + describe_reason(e.reasons.front()) + "]";
      std::printf("%s\n", line.c_str());
    }
  }
  print_summary(*change, options.write.dry_run);
  return code;
}

int run_list(const RootOptions& options, bool json) {
  auto manifest = read_root_manifest(options.jail());
  if (!manifest) {
    std::fprintf(stderr, "jailbuild: %s\n", manifest.error().message.c_str());
    return kExitUsage;
  }
  if (json) {
    std::printf("%s\n", manifest_json_text(*manifest).c_str());
    return kExitOk;
  }
  std::printf("added:\n");
  for (const std::string& path : manifest->added) std::printf("  %s\n", path.c_str());
  std::printf("entries:\n");
  for (const auto& [path, entry] : manifest->entries) {
    std::string line = std::string("  ") + to_string(entry.type) + " " + path;
    if (entry.type == EntryType::Symlink) line += " -> " + entry.link_target;
    std::printf("%s\n", line.c_str());
    for (const Reason& reason : entry.reasons) std::printf("      %s\n", describe_reason(reason).c_str());
  }
  return kExitOk;
}

int run_remove(const RootOptions& options, const std::vector<std::string>& paths, bool dry_run) {
  auto change = remove_from_root(options.jail(), paths, dry_run);
  if (!change) {
    std::fprintf(stderr, "jailbuild: %s\n", change.error().message.c_str());
    return change.error().is_usage() ? kExitUsage : kExitIncomplete;
  }
  for (const std::string& path : change->removed) std::printf("%s%s\n", dry_run ? "would remove " : "removed ", path.c_str());
  return report_undone(*change);
}

struct SyncCommand {
  RootOptions root;
  bool all = false;
  bool json = false;
  SyncOptions sync;
};

// One root's sync, printed; returns its exit code.
int sync_one(const SyncCommand& command, const JailOptions& jail, nlohmann::json& json_out) {
  auto change = sync_root(jail, command.sync);
  if (!change) {
    std::fprintf(stderr, "jailbuild: %s\n", change.error().message.c_str());
    if (command.json)
      json_out.push_back({{"root", bytes_json(jail.root)}, {"error", bytes_json(change.error().message)}});
    return change.error().is_usage() ? kExitUsage : kExitIncomplete;
  }
  const int code = report_undone(*change);
  if (command.json) {
    json_out.push_back(change_json(*change, command.sync.dry_run));
    return code;
  }
  if (command.sync.dry_run) {
    for (const std::string& path : change->report.created) std::printf("create %s\n", path.c_str());
    for (const std::string& path : change->report.updated) std::printf("update %s\n", path.c_str());
    for (const std::string& path : change->removed) std::printf("remove %s\n", path.c_str());
  }
  for (const std::string& added : change->pruned)
    std::fprintf(stderr, "jailbuild: %s %s\n", command.sync.dry_run ? "would prune" : "pruned", added.c_str());
  print_summary(*change, command.sync.dry_run);
  return code;
}

int run_sync(const SyncCommand& command) {
  std::vector<std::string> roots;
  if (command.all) {
    auto known = roots_in_state_dir(command.root.state_dir);
    if (!known) {
      std::fprintf(stderr, "jailbuild: %s\n", known.error().message.c_str());
      return kExitUsage;
    }
    roots = std::move(*known);
  } else {
    roots.push_back(command.root.root);
  }
  nlohmann::json json_out = nlohmann::json::array();
  int code = kExitOk;
  for (const std::string& root : roots) {
    JailOptions jail = command.root.jail();
    jail.root = root;
    code = std::max(code, sync_one(command, jail, json_out));
  }
  if (command.json) std::printf("%s\n", json_text(command.all ? json_out : json_out.at(0)).c_str());
  return code;
}

}  // namespace

void add_jail_commands(CLI::App& app, int& exit_code) {
  auto add = std::make_shared<AddOptions>();
  CLI::App* add_command = app.add_subcommand(
      "add", "Copy programs, libraries, scripts, directories or files into a root with everything they need");
  add_command->add_option("PATH", add->paths, "What to add")->required();
  add->root.add_to(*add_command, true, true);
  add_command->add_flag("--dry-run", add->write.dry_run, "Print the plan and change nothing");
  add_command->add_flag("--json", add->json, "Print what was (or would be) placed as JSON");
  add_command->add_flag("--force", add->write.force, "Replace what is in the way even if jailbuild did not put it there");
  add_command->add_flag("--keep-setuid", add->write.keep_setuid, "Keep setuid/setgid bits and file capabilities");
  add_command->add_flag("--allow-devices", add->write.allow_devices, "Copy device nodes");
  add_command->callback([add, &exit_code] { exit_code = run_add(*add); });

  auto list = std::make_shared<std::pair<RootOptions, bool>>();
  CLI::App* list_command = app.add_subcommand("list", "Show what a root holds and why each entry is there");
  list->first.add_to(*list_command, false);
  list_command->add_flag("--json", list->second, "Print the manifest as JSON");
  list_command->callback([list, &exit_code] { exit_code = run_list(list->first, list->second); });

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
  remove_command->callback([remove, &exit_code] { exit_code = run_remove(remove->root, remove->paths, remove->dry_run); });

  auto sync = std::make_shared<SyncCommand>();
  CLI::App* sync_command = app.add_subcommand(
      "sync", "Bring a root up to date with the host: copy what changed, add new dependencies, remove what "
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
  sync_command->callback([sync, &exit_code] {
    if (!sync->all && sync->root.root.empty()) throw CLI::RequiredError("ROOT or --all");
    exit_code = run_sync(*sync);
  });
}

}  // namespace jailbuild::cli
