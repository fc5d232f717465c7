// `add`, `list` and `remove`: the commands that change or show a root's contents.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "jailbuild/jail.hpp"

namespace jailbuild::cli {
namespace {

struct RootOptions {
  std::string root;
  std::string state_dir;
  bool no_wait = false;

  void add_to(CLI::App& command, bool root_is_option) {
    if (root_is_option)
      command.add_option("--root", root, "The jail's root directory (created if missing)")->required();
    else
      command.add_option("ROOT", root, "The jail's root directory")->required();
    command.add_option("--state-dir", state_dir, "Where manifests are kept (default /var/lib/jailbuild for root)");
    command.add_flag("--no-wait", no_wait, "Fail at once if another jailbuild works on this root");
  }
  JailOptions jail() const { return {root, state_dir, !no_wait}; }
};

nlohmann::json reasons_json(const std::vector<Reason>& reasons) {
  nlohmann::json out = nlohmann::json::array();
  for (const Reason& r : reasons) out.push_back({{"added", r.added}, {"needed_by", r.needed_by}, {"rule", r.rule}});
  return out;
}

std::string describe_reason(const Reason& reason) {
  std::string text = reason.rule;
  if (!reason.needed_by.empty()) text += ", needed by " + reason.needed_by;
  if (!reason.added.empty()) text += " (for " + reason.added + ")";
  return text;
}

int report_plan_problems(const CopyPlan& plan) {
  int code = kExitOk;
  for (const Problem& problem : plan.problems) {
    if (problem.kind == ProblemKind::Skipped) {
      spdlog::warn("{}", problem.message);
      continue;
    }
    std::fprintf(stderr, "%s\n", problem.message.c_str());
    code = kExitIncomplete;
  }
  return code;
}

struct AddOptions {
  RootOptions root;
  std::vector<std::string> paths;
  WriteOptions write;
  bool json = false;
};

int run_add(const AddOptions& options) {
  auto outcome = add_to_root(options.root.jail(), options.paths, options.write);
  if (!outcome) {
    std::fprintf(stderr, "jailbuild: %s\n", outcome.error().message.c_str());
    return kExitIncomplete;
  }
  int code = report_plan_problems(outcome->plan);
  const WriteReport& report = outcome->report;
  for (const Conflict& conflict : report.conflicts) {
    std::fprintf(stderr, "jailbuild: conflict: %s: %s; left alone\n", conflict.path.c_str(),
                 conflict.reason.c_str());
    code = kExitIncomplete;
  }
  for (const std::string& removed : report.privileges_removed) spdlog::warn("{}", removed);

  if (options.json) {
    nlohmann::json entries = nlohmann::json::array();
    for (const ManifestEntry& e : report.placed)
      entries.push_back({{"path", e.path}, {"type", to_string(e.type)}, {"source", e.source},
                         {"link_target", e.link_target}, {"reasons", reasons_json(e.reasons)}});
    nlohmann::json conflicts = nlohmann::json::array();
    for (const Conflict& c : report.conflicts) conflicts.push_back({{"path", c.path}, {"reason", c.reason}});
    std::printf("%s\n", nlohmann::json{{"root", options.root.root},
                                       {"dry_run", options.write.dry_run},
                                       {"entries", entries},
                                       {"conflicts", conflicts},
                                       {"created", report.created},
                                       {"updated", report.updated},
                                       {"unchanged", report.unchanged},
                                       {"bytes_copied", report.bytes_copied}}
                            .dump(2)
                            .c_str());
  } else if (options.write.dry_run) {
    for (const PlannedEntry& e : outcome->plan.entries) {
      std::string line = std::string(to_string(e.type)) + " " + e.path;
      if (e.type == EntryType::Symlink) line += " -> " + e.link_target;
      if (!e.reasons.empty()) line += "  [" + describe_reason(e.reasons.front()) + "]";
      std::printf("%s\n", line.c_str());
    }
  }
  if (!options.json) {
    std::fprintf(stderr, "%s%s: %zu created, %zu updated, %zu unchanged, %llu bytes copied\n",
                 options.write.dry_run ? "dry run: " : "", options.root.root.c_str(), report.created, report.updated,
                 report.unchanged, static_cast<unsigned long long>(report.bytes_copied));
  }
  return code;
}

int run_list(const RootOptions& options, bool json) {
  auto manifest = read_root_manifest(options.jail());
  if (!manifest) {
    std::fprintf(stderr, "jailbuild: %s\n", manifest.error().message.c_str());
    return kExitUsage;
  }
  if (json) {
    std::printf("%s\n", manifest->to_json().dump(2).c_str());
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
  auto outcome = remove_from_root(options.jail(), paths, dry_run);
  if (!outcome) {
    std::fprintf(stderr, "jailbuild: %s\n", outcome.error().message.c_str());
    return kExitIncomplete;
  }
  for (const std::string& path : outcome->removed) std::printf("%s%s\n", dry_run ? "would remove " : "removed ", path.c_str());
  for (const Conflict& kept : outcome->kept)
    std::fprintf(stderr, "jailbuild: kept %s: %s\n", kept.path.c_str(), kept.reason.c_str());
  return outcome->kept.empty() ? kExitOk : kExitIncomplete;
}

}  // namespace

void add_jail_commands(CLI::App& app, int& exit_code) {
  auto add = std::make_shared<AddOptions>();
  CLI::App* add_command = app.add_subcommand(
      "add", "Copy programs, libraries, scripts, directories or files into a root with everything they need");
  add_command->add_option("PATH", add->paths, "What to add")->required();
  add->root.add_to(*add_command, true);
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
}

}  // namespace jailbuild::cli
