// `apply`: a root made what its spec file says.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "jailbuild/spec.hpp"
#include "output.hpp"
#include "progress_line.hpp"
#include "util/json_bytes.hpp"

namespace jailbuild::cli {
namespace {

struct ApplyOptions {
  std::string spec;
  bool dry_run = false;
  bool json = false;
  ProgressMode progress = ProgressMode::automatic;
};

int run_apply(const ApplyOptions& options) {
  auto spec = read_spec(options.spec);
  if (!spec) return failed(spec.error());
  ProgressLine progress(options.progress);
  auto applied = apply_spec(*spec, options.dry_run, progress.if_shown());
  if (!applied) return failed(applied.error());
  const RootChange& change = applied->change;
  log_details(change, options.dry_run);
  log_undone(change);
  const char* would = options.dry_run ? "would " : "";
  for (const std::string& command : applied->traced) spdlog::info("{}: {}trace `{}`", change.root, would, command);
  for (const std::string& command : applied->untraced)
    spdlog::info("{}: {}remove what `{}` used (no longer in the spec)", change.root, would, command);
  if (applied->run_settings_changed) spdlog::info("{}: {}record the spec's [run] settings", change.root, would);
  if (options.json) {
    nlohmann::json out = change_json(change, options.dry_run);
    out["traced"] = bytes_json(applied->traced);
    out["untraced"] = bytes_json(applied->untraced);
    out["run_settings_changed"] = applied->run_settings_changed;
    print(out);
  } else {
    if (options.dry_run) print(sync_plan_text(change));
    print_summary(change, options.dry_run);
  }
  return exit_code_of(change);
}

}  // namespace

void add_spec_commands(CLI::App& app, int& exit_code) {
  auto apply = std::make_shared<ApplyOptions>();
  CLI::App* command = app.add_subcommand(
      "apply", "Make a root what a spec file says: add what is new, remove what it no longer names, sync the rest");
  command->footer(
      "Usage: jailbuild apply SPEC [--dry-run] [--json]\n"
      "SPEC is a TOML file naming the root, its paths, traces, users, rules and [run] settings\n"
      "(see docs/commands/apply.md). `jailbuild run ROOT` then runs the spec's command.\n"
      "Exit status: 0 done, 1 something left undone, 2 a bad spec (nothing changed).");
  command->add_option("SPEC", apply->spec, "The spec file (TOML)")->required();
  command->add_flag("--dry-run", apply->dry_run, "Print what would change, run no trace and change nothing");
  command->add_flag("--json", apply->json, "Print the changes as JSON");
  add_progress_option(*command, apply->progress);
  command->callback([apply, &exit_code] { exit_code = run_apply(*apply); });
}

}  // namespace jailbuild::cli
