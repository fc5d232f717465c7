// apply: a root made what its spec says, and the run settings recorded beside its manifest.
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "jailbuild/manifest.hpp"
#include "jailbuild/seccomp_allowlist.hpp"
#include "jailbuild/spec.hpp"
#include "manifest/root_lock.hpp"
#include "manifest/state_dir.hpp"
#include "util/files.hpp"
#include "util/json_bytes.hpp"
#include "util/root_dir.hpp"

namespace jailbuild {
namespace {

// Run settings are a few kilobytes at most.
constexpr std::uint64_t kMaxRunSettingsSize = 1 << 20;

// The state files of `root` (as given: made canonical without following a symlink, as every
// command on a root does), and the canonical path.
Result<std::pair<std::string, StateDir::RootFiles>> state_files_of(const std::string& state_dir,
                                                                  const std::string& root) {
  OpenedRoot opened = TRY(open_root(root, false));
  StateDir::RootFiles files = StateDir(state_dir).files_of(opened.path);
  return std::pair{std::move(opened.path), std::move(files)};
}

// The run settings recorded in `file`; nullopt if there are none.
Result<std::optional<RunSettings>> read_run_settings(const std::string& file) {
  const std::optional<std::string> text = TRY(read_file(file, kMaxRunSettingsSize, "run settings"));
  if (!text) return std::optional<RunSettings>{};
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded()) return Error{file + ": not JSON (remove it, or apply the spec again)"};
  auto settings = run_settings_from_json(json);
  if (!settings) return Error{file + ": " + settings.error().message};
  return std::optional<RunSettings>(std::move(*settings));
}

}  // namespace

Result<std::optional<RunSettings>> recorded_run_settings(const std::string& state_dir, const std::string& root) {
  const auto [canonical, files] = TRY(state_files_of(state_dir, root));
  return read_run_settings(files.run_settings);
}

Result<Applied> apply_spec(const Spec& spec, bool dry_run, Progress* progress) {
  // Refused before any trace runs, as set_root_intent would refuse it after.
  TRY(check_choice({spec.options.rules_with, spec.options.rules_without, spec.options.users}));
  const auto [root, files] = TRY(state_files_of(spec.state_dir, spec.root));
  Applied applied;
  std::set<long> system_calls;  // what the new traces made, for the root's allowlist
  // The intent: the spec's paths and options, then its traces. A trace the root already records
  // is kept as recorded (sync keeps its files current); a trace runs when its command line is new,
  // so a second apply runs no workload. Decided under the root's lock, from the recorded intent.
  const IntentDecision decide = [&](const Intent* recorded) -> Result<Intent> {
    Intent intent;
    intent.options = spec.options;
    for (const std::string& path : spec.paths) intent.requirements.push_back(PathRequirement{path});
    std::set<std::string> wanted;
    for (const HostTrace& trace : spec.traces) wanted.insert(command_line(trace.command));
    std::set<std::string> held;
    for (const Requirement& requirement : recorded ? recorded->requirements : std::vector<Requirement>{}) {
      const auto* traced = std::get_if<TracedRequirement>(&requirement);
      if (traced == nullptr) continue;
      if (wanted.count(traced->command) != 0) intent.requirements.push_back(requirement);
      if (held.insert(traced->command).second && wanted.count(traced->command) == 0)
        applied.untraced.push_back(traced->command);
    }
    for (const HostTrace& trace : spec.traces) {
      const std::string command = command_line(trace.command);
      if (!held.insert(command).second) continue;  // recorded, or named twice in the spec
      applied.traced.push_back(command);
      if (dry_run) continue;  // a dry run runs no workload: it says which it would trace
      TracedWorkload workload = TRY(trace_for_root(trace));
      for (TracedRequirement& used : workload.used) intent.requirements.emplace_back(std::move(used));
      system_calls.insert(workload.system_calls.begin(), workload.system_calls.end());
    }
    return intent;
  };

  WriteOptions write;
  write.dry_run = dry_run;
  applied.change = TRY(set_root_intent({root, spec.state_dir, true, true, progress}, decide, write));
  if (!applied.traced.empty() && !dry_run) TRY(record_system_calls(spec.state_dir, root, system_calls));

  // The run settings after the root: a run of the new settings finds what they name in place.
  const std::optional<RunSettings> settings = TRY(read_run_settings(files.run_settings));
  applied.run_settings_changed = settings != spec.run;
  if (applied.run_settings_changed && !dry_run) {
    // Under the root's lock, whose holder removes the temporaries of the files it guards.
    const RootLock lock = TRY(RootLock::acquire(StateDir(spec.state_dir).path(), root, true));
    TRY(replace_file(files.run_settings, json_text(run_settings_json(spec.run)) + "\n"));
  }
  return applied;
}

}  // namespace jailbuild
