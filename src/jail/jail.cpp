#include "jailbuild/jail.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include <sys/stat.h>

#include <unistd.h>

namespace jailbuild {
namespace {

std::string state_dir_of(const JailOptions& jail) {
  return jail.state_dir.empty() ? default_state_dir() : jail.state_dir;
}

// The root as the manifest names it: absolute and canonical once it exists.
std::string canonical_root(const std::string& root) {
  char resolved[PATH_MAX];
  if (::realpath(root.c_str(), resolved)) return resolved;
  if (!root.empty() && root.front() == '/') return root;
  char cwd[PATH_MAX];
  return std::string(::getcwd(cwd, sizeof cwd) ? cwd : "") + "/" + root;
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  char cwd[PATH_MAX];
  return std::string(::getcwd(cwd, sizeof cwd) ? cwd : "") + "/" + path;
}

Result<std::optional<Manifest>> load_for(const std::string& state_dir, const std::string& root) {
  return load_manifest(manifest_path(state_dir, root));
}

// Why `path` cannot be added, if it cannot: it is missing, or not something a root can hold.
std::optional<std::string> unaddable(const std::string& path, bool allow_devices) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::string(std::strerror(errno));
  if (S_ISFIFO(st.st_mode)) return std::string("is a FIFO; jailbuild copies files, directories and symlinks");
  if (S_ISSOCK(st.st_mode)) return std::string("is a socket; jailbuild copies files, directories and symlinks");
  if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && !allow_devices)
    return std::string("is a device node (--allow-devices copies it)");
  return std::nullopt;
}

// An entry recorded before a run that never completed: planned, but no copy seen yet.
bool is_pending(const ManifestEntry& entry) { return entry.copy_identity == FileIdentity{}; }

CopyPlan plan_for(const std::vector<std::string>& added, bool allow_devices = false) {
  PlanOptions options;
  options.allow_devices = allow_devices;
  Planner planner{options};
  for (const std::string& path : added) planner.add(path);
  return planner.finish();
}

}  // namespace

Result<AddOutcome> add_to_root(const JailOptions& jail, const std::vector<std::string>& paths,
                               const WriteOptions& options) {
  auto writer = RootWriter::open(jail.root, !options.dry_run);
  if (!writer && !options.dry_run) return writer.error();
  const std::string root = canonical_root(jail.root);
  const std::string state_dir = state_dir_of(jail);
  std::optional<RootLock> lock;
  if (!options.dry_run) {
    auto acquired = RootLock::acquire(state_dir, root, jail.wait_for_lock);
    if (!acquired) return acquired.error();
    lock.emplace(std::move(*acquired));
  }
  auto previous = load_for(state_dir, root);
  if (!previous) return previous.error();

  Manifest manifest = previous->value_or(Manifest{});
  manifest.root = root;
  if (options.keep_setuid) manifest.options["keep_setuid"] = "true";
  if (options.allow_devices) manifest.options["allow_devices"] = "true";
  // A path that cannot be added now is reported and not recorded, so later runs do not repeat it.
  std::vector<Problem> refused;
  for (const std::string& path : paths) {
    const std::string added = absolute(path);
    if (auto why = unaddable(added, options.allow_devices)) {
      refused.push_back({ProblemKind::Unreadable, added, std::nullopt, added + ": " + *why});
      continue;
    }
    if (std::find(manifest.added.begin(), manifest.added.end(), added) == manifest.added.end())
      manifest.added.push_back(added);
  }

  AddOutcome outcome;
  outcome.manifest_path = manifest_path(state_dir, root);
  outcome.plan = plan_for(manifest.added, options.allow_devices);
  outcome.plan.problems.insert(outcome.plan.problems.begin(), refused.begin(), refused.end());
  if (!writer) {  // a dry run on a root that does not exist yet: everything would be created
    for (const PlannedEntry& entry : outcome.plan.entries) {
      outcome.report.placed.push_back(to_manifest_entry(entry));
      ++outcome.report.created;
    }
    return outcome;
  }
  // Before writing, record every planned entry not yet recorded, without identities: if this run
  // is killed, the next one finds what it placed identical to its plan and adopts it instead of
  // calling it a conflict. Entries still without identity afterwards were never placed.
  Manifest pending = manifest;
  bool unrecorded_entries = false;
  for (const PlannedEntry& entry : outcome.plan.entries) {
    if (pending.entries.count(entry.path)) continue;
    unrecorded_entries = true;
    pending.entries.emplace(entry.path, to_manifest_entry(entry));
  }
  if (!options.dry_run && unrecorded_entries) {
    if (auto saved = save_manifest(outcome.manifest_path, pending); !saved) return saved.error();
  }
  std::erase_if(manifest.entries, [](const auto& item) { return is_pending(item.second); });
  auto report = writer->apply(outcome.plan, &pending, options);
  if (!report) {
    // Record what was placed before the failure, so that the next run knows those entries as
    // jailbuild's own and finishes the job instead of reporting them as conflicts.
    if (!options.dry_run) {
      for (const ManifestEntry& placed : writer->partial_report().placed) manifest.entries[placed.path] = placed;
      (void)save_manifest(outcome.manifest_path, manifest);
    }
    return report.error();
  }
  outcome.report = std::move(*report);
  if (options.dry_run) return outcome;

  // A repeated add that changed nothing leaves the manifest as it is (no rewrite, no fsync).
  const bool changed = unrecorded_entries || outcome.report.created > 0 || outcome.report.updated > 0 ||
                       !previous->has_value() || (*previous)->added != manifest.added ||
                       (*previous)->options != manifest.options;
  if (!changed) return outcome;
  for (ManifestEntry& placed : outcome.report.placed) manifest.entries[placed.path] = placed;
  if (auto saved = save_manifest(outcome.manifest_path, manifest); !saved) return saved.error();
  return outcome;
}

Result<Manifest> read_root_manifest(const JailOptions& jail) {
  const std::string root = canonical_root(jail.root);
  auto loaded = load_for(state_dir_of(jail), root);
  if (!loaded) return loaded.error();
  if (!loaded->has_value())
    return Error{root + ": jailbuild has no manifest for this root (looked in " +
                 manifest_path(state_dir_of(jail), root) + ")"};
  return std::move(**loaded);
}

Result<RemoveOutcome> remove_from_root(const JailOptions& jail, const std::vector<std::string>& paths,
                                       bool dry_run) {
  const std::string root = canonical_root(jail.root);
  const std::string state_dir = state_dir_of(jail);
  auto lock = RootLock::acquire(state_dir, root, jail.wait_for_lock);
  if (!lock) return lock.error();
  auto loaded = read_root_manifest(jail);
  if (!loaded) return loaded.error();
  Manifest manifest = std::move(*loaded);
  std::erase_if(manifest.entries, [](const auto& item) { return is_pending(item.second); });

  for (const std::string& path : paths) {
    const std::string added = absolute(path);
    auto it = std::find(manifest.added.begin(), manifest.added.end(), added);
    if (it == manifest.added.end()) return Error{added + ": was not added to " + root};
    manifest.added.erase(it);
  }
  // What the remaining added paths need today; everything else jailbuild placed goes.
  const CopyPlan plan = plan_for(manifest.added);
  std::set<std::string> planned;
  for (const PlannedEntry& entry : plan.entries) planned.insert(entry.path);
  std::vector<ManifestEntry> unneeded;
  for (const auto& [path, entry] : manifest.entries)
    if (!planned.count(path)) unneeded.push_back(entry);

  RemoveOutcome outcome;
  if (dry_run) {
    for (const ManifestEntry& entry : unneeded) outcome.removed.push_back(entry.path);
    return outcome;
  }
  auto writer = RootWriter::open(root, false);
  if (!writer) return writer.error();
  auto kept = writer->remove(unneeded);
  if (!kept) return kept.error();
  outcome.kept = std::move(*kept);
  std::set<std::string> kept_paths;
  for (const Conflict& conflict : outcome.kept) kept_paths.insert(conflict.path);
  for (const ManifestEntry& entry : unneeded) {
    if (kept_paths.count(entry.path)) continue;
    outcome.removed.push_back(entry.path);
    manifest.entries.erase(entry.path);
  }
  // The root's own loader cache must now describe less.
  auto report = writer->apply(plan, &manifest, WriteOptions{});
  if (!report) return report.error();
  for (ManifestEntry& placed : report->placed) manifest.entries[placed.path] = placed;
  if (auto saved = save_manifest(manifest_path(state_dir, root), manifest); !saved) return saved.error();
  return outcome;
}

}  // namespace jailbuild
