#include "jailbuild/jail.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <variant>

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "copy/root_writer.hpp"
#include "manifest/root_lock.hpp"
#include "manifest/state_dir.hpp"
#include "plan/planner.hpp"
#include "rules/rules.hpp"
#include "util/paths.hpp"
#include "util/root_dir.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"
#include "util/users.hpp"
#include "watch_list.hpp"

namespace jailbuild {
namespace {

// An added path as the manifest records it: absolute, as given otherwise. Its directories' symlinks
// are recreated in the root (`add /bin/true` gives /bin -> usr/bin and /usr/bin/true, so that the
// program runs by the name it was added by), and an added symlink is added as the symlink, with
// what it points to. A path with ".." is made canonical up to its last component instead, since
// ".." after a symlink is not what it looks like.
// The real paths of the parent directories added_path resolved, by the parent as given: a command
// naming hundreds of programs in /usr/bin resolves /usr/bin once (realpath reads every symlink on
// the way each time).
using ResolvedParents = std::map<std::string, std::optional<std::string>>;

std::string added_path(const std::string& path, ResolvedParents& parents) {
  std::string absolute = path;
  if (absolute.empty() || absolute.front() != '/') {
    char cwd[PATH_MAX];
    absolute = absolute_path(path, ::getcwd(cwd, sizeof cwd) ? cwd : "");
  }
  while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  const std::size_t slash = absolute.rfind('/');
  const std::string name = absolute.substr(slash + 1);
  char resolved[PATH_MAX];
  if (name == "." || name == "..") return ::realpath(absolute.c_str(), resolved) ? resolved : absolute;
  const std::string parent = slash == 0 ? "/" : absolute.substr(0, slash);
  auto [known, inserted] = parents.try_emplace(parent);
  if (inserted && ::realpath(parent.c_str(), resolved)) known->second = resolved;
  if (!known->second) return absolute;  // missing: refused as such later
  std::string lexical;  // without "." components and repeated slashes: "/bin/true" stays so
  bool has_dot_dot = false;
  for (std::size_t begin = 1; begin <= slash;) {
    const std::size_t end = absolute.find('/', begin);
    const std::string component = absolute.substr(begin, end - begin);
    if (component == "..") has_dot_dot = true;
    if (!component.empty() && component != ".") lexical += "/" + component;
    begin = end + 1;
  }
  if (!has_dot_dot) return lexical + "/" + name;
  const std::string& real_parent = *known->second;
  return real_parent + (real_parent == "/" ? "" : "/") + name;
}

std::string added_path(const std::string& path) {
  ResolvedParents parents;
  return added_path(path, parents);
}

// Why `path` cannot be added, if it cannot: it is missing, or not something a root can hold.
std::optional<std::string> unaddable(const std::string& path, bool allow_devices) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno_text(errno);
  if (S_ISFIFO(st.st_mode)) return std::string("is a FIFO; jailbuild copies files, directories and symlinks");
  if (S_ISSOCK(st.st_mode)) return std::string("is a socket; jailbuild copies files, directories and symlinks");
  if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && !allow_devices)
    return std::string("is a device node (--allow-devices copies it)");
  return std::nullopt;
}

bool gone_from_host(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

// An entry recorded before a run that never completed: planned, but no copy seen yet.
bool is_pending(const ManifestEntry& entry) { return entry.copy_identity == FileIdentity{}; }

// The options of the add that recorded the manifest, which every later run repeats.
WriteOptions recorded_options(const Manifest& manifest, WriteOptions options) {
  options.keep_setuid = options.keep_setuid || manifest.intent.options.keep_setuid;
  options.allow_devices = options.allow_devices || manifest.intent.options.allow_devices;
  return options;
}

// The host path of a path requirement or a traced one, nullptr for the other kinds: what `sync`
// reports gone from the host, `--prune` forgets and `remove` takes out, alike for both.
const std::string* added_path_of(const Requirement& requirement) {
  if (const auto* path = std::get_if<PathRequirement>(&requirement)) return &path->path;
  if (const auto* traced = std::get_if<TracedRequirement>(&requirement)) return &traced->path;
  return nullptr;
}

// Adds `name` to `list` unless it is there; whether it did.
bool insert_once(std::vector<std::string>& list, const std::string& name) {
  if (std::find(list.begin(), list.end(), name) != list.end()) return false;
  list.push_back(name);
  return true;
}

// The state of a root under its lock: the manifest as loaded and as it is being changed.
struct LockedRoot {
  std::string root;  // normalised, without symlinks (open_root)
  UniqueFd root_fd;  // the root, opened once; invalid when it does not exist
  std::string manifest_path;
  std::string watch_path;
  std::optional<RootLock> lock;      // none in a dry run
  std::optional<Manifest> previous;  // as loaded; none for a root jailbuild has not seen
  Manifest manifest;                 // what this run records
  Progress* progress = nullptr;      // the caller's, told of planning and copying; never null
};

// Opens the root once (creating it when `create` and not a dry run) and takes its lock. Every later
// step reaches the root through locked.root_fd; the path is only a name (the manifest's key, messages).
Result<LockedRoot> lock_root(const JailOptions& jail, bool dry_run, bool create = false) {
  LockedRoot locked;
  locked.progress = &Progress::or_none(jail.progress);
  Result<OpenedRoot> opened = open_root(jail.root, create && !dry_run);
  if (!opened) return opened.error();
  locked.root = std::move(opened->path);
  locked.root_fd = std::move(opened->fd);
  const StateDir state_dir(jail.state_dir);
  const StateDir::RootFiles files = state_dir.files_of(locked.root);
  locked.manifest_path = files.manifest;
  locked.watch_path = files.watch_list;
  if (!dry_run) {
    locked.lock.emplace(TRY(RootLock::acquire(state_dir.path(), locked.root, jail.wait_for_lock)));
    // What a run killed while saving left; no other run writes these names while we hold the lock.
    StateDir::remove_temporaries(files);
  }
  return locked;
}

// The manifest, read once the root is locked (and the watch list could not prove it unchanged).
Result<void> load_locked(LockedRoot& locked) {
  locked.previous = TRY(load_manifest(locked.manifest_path));
  locked.manifest = locked.previous.value_or(Manifest{});
  locked.manifest.version = kManifestVersion;  // what a save writes: an older manifest is rewritten
  std::erase_if(locked.manifest.entries, [](const auto& item) { return is_pending(item.second); });
  locked.manifest.root = locked.root;
  return {};
}

// A root jailbuild does not know: a bad request, since nothing can be done for it.
Error unknown_root(const std::string& root, const std::string& manifest_path) {
  return Error::usage(root + ": jailbuild has no manifest for this root (looked in " + manifest_path + ")");
}

Result<void> load_known(LockedRoot& locked) {
  TRY(load_locked(locked));
  if (!locked.previous) return unknown_root(locked.root, locked.manifest_path);
  return {};
}

// The root as the watch list's functions see it.
WatchedRoot watched(const LockedRoot& locked) {
  return WatchedRoot{locked.root, locked.root_fd.get(), locked.manifest_path, locked.watch_path,
                     locked.lock.has_value()};
}

// The answer of a run that the watch list proved has nothing to do.
RootChange unchanged_change(const LockedRoot& locked, const Proof& proof) {
  spdlog::debug("{}: unchanged, as the watch list proves", locked.root);
  RootChange change;
  change.root = locked.root;
  change.manifest_path = locked.manifest_path;
  change.proven_unchanged = true;
  change.report.unchanged = proof.check.root_entries;
  return change;
}

// The answer of a run that the watch list proves has nothing to do (see prove_unchanged); nullopt
// when it cannot, after saying why at -v.
std::optional<RootChange> proven_unchanged(const LockedRoot& locked, const Intent& request) {
  const Proof proof = prove_unchanged(watched(locked), request);
  if (!proof.unchanged) {
    spdlog::debug("{}: checking every entry: the watch list cannot prove the root unchanged: {}", locked.root,
                  proof.why_not);
    return std::nullopt;
  }
  return unchanged_change(locked, proof);
}

// How converge() treats entries the plan no longer lists.
struct Cleanup {
  bool remove_unneeded = false;
  std::set<std::string> keep_for;  // added paths (of path requirements) whose entries stay although unplanned
};

// Whether an unplanned entry stays for one of `added`: it was placed for it, or it is a generated
// file (the root's loader cache), which may describe its libraries.
bool kept_for(const ManifestEntry& entry, const std::set<std::string>& added) {
  if (entry.source.empty() && entry.type == EntryType::File && !added.empty()) return true;
  return std::any_of(entry.reasons.begin(), entry.reasons.end(),
                     [&](const Reason& reason) { return added.count(reason.added) != 0; });
}

// One run of converge(): what its passes share. Each pass reads what the ones before it left.
struct Convergence {
  Convergence(LockedRoot& root, const std::set<std::string>& skipped, const Cleanup& how, const WriteOptions& options)
      : locked(root),
        skip(skipped),
        cleanup(how),
        write(recorded_options(root.manifest, options)),
        started_ns(now_ns()) {
    change.root = locked.root;
    change.manifest_path = locked.manifest_path;
  }

  LockedRoot& locked;
  const std::set<std::string>& skip;  // path requirements' paths not planned (gone from the host)
  const Cleanup& cleanup;
  WriteOptions write;       // the run's options with the recorded add options
  std::int64_t started_ns;  // when the run started, for the watch list
  RootChange change;
  std::vector<ManifestEntry> unneeded;  // recorded entries to remove
  std::optional<RootWriter> writer;
  Manifest pending;                 // the manifest with every planned entry (see record_pending)
  bool unrecorded_entries = false;  // the plan holds entries the manifest did not
  bool changed = false;             // the manifest must be saved
  bool finished = false;            // a pass answered for the whole run
};

// Plans the manifest's requirements, all but the paths skipped.
Result<void> plan_pass(Convergence& run) {
  PlanOptions plan_options;
  plan_options.allow_devices = run.write.allow_devices;
  // Relative search paths resolve against the jailed program's working directory, "/" by default,
  // not against wherever jailbuild happens to run.
  plan_options.resolver.cwd = "/";
  const Intent& intent = run.locked.manifest.intent;
  const std::vector<std::string> rules = enabled_rules(intent.options);
  // Only when some are on: the planner then reads the imports of every file it resolves.
  if (!rules.empty()) plan_options.rules = runtime_rules(intent.options);
  plan_options.progress = run.locked.progress;
  const ProgressStageScope stage(*run.locked.progress, ProgressStage::Planning, run.locked.root, std::nullopt);
  Planner planner = TRY(Planner::open(plan_options));
  for (const Requirement& requirement : intent.requirements) {
    const std::string* added = added_path_of(requirement);
    if (added == nullptr || !run.skip.count(*added)) planner.add(requirement);
  }
  // The runtime rules the intent turns on, each deciding from the closures planned above whether
  // it adds anything: a root of /usr/bin/true gets nothing from them.
  for (const std::string& rule : rules) planner.add(RuleRequirement{rule});
  run.change.plan = planner.finish();
  return {};
}

// The recorded entries the plan no longer lists, when asked to remove them: all but those kept for
// an added path (cleanup.keep_for) and the directories that hold an entry that stays.
Result<void> find_unneeded(Convergence& run) {
  if (!run.cleanup.remove_unneeded) return {};
  std::set<std::string> planned;
  for (const PlannedEntry& entry : run.change.plan.entries) planned.insert(entry.path);
  std::vector<std::string> staying;  // recorded entries that are not to go, sorted as the map is
  for (const auto& [path, entry] : run.locked.manifest.entries) {
    if (planned.count(path) || kept_for(entry, run.cleanup.keep_for)) {
      staying.push_back(path);
    } else {
      run.unneeded.push_back(entry);
    }
  }
  // A directory holding an entry that stays stays too.
  std::erase_if(run.unneeded, [&](const ManifestEntry& entry) {
    const std::string prefix = entry.path + "/";
    const auto next = std::lower_bound(staying.begin(), staying.end(), prefix);
    return entry.type == EntryType::Directory && next != staying.end() && next->starts_with(prefix);
  });
  return {};
}

// Before anything is written: the watch list goes (whatever this run changes, the list no longer
// describes the root; a new one is written only after a complete run), and every planned entry is
// recorded as pending, so that the files of a run killed from here on are adopted by the next run
// instead of being taken for strangers.
Result<void> record_pending(Convergence& run) {
  LockedRoot& locked = run.locked;
  if (!run.write.dry_run) discard_watch_list(locked.watch_path);
  if (!locked.root_fd.valid()) {
    if (!run.write.dry_run) return system_error(locked.root, ENOENT);
    // A dry run on a root that does not exist yet: everything would be created.
    for (const PlannedEntry& entry : run.change.plan.entries) {
      run.change.report.placed.push_back(to_manifest_entry(entry));
      run.change.report.created.push_back(entry.path);
    }
    run.finished = true;
    return {};
  }
  run.writer.emplace(TRY(RootWriter::at(locked.root_fd.get(), locked.root)));
  run.pending = locked.manifest;
  for (const PlannedEntry& entry : run.change.plan.entries) {
    if (run.pending.entries.count(entry.path)) continue;
    run.unrecorded_entries = true;
    run.pending.entries.emplace(entry.path, to_manifest_entry(entry));
  }
  if (!run.write.dry_run && run.unrecorded_entries) TRY(save_manifest(locked.manifest_path, run.pending));
  return {};
}

// Brings the root to the plan (new files in place before any old one goes), and the manifest in
// memory to what was placed.
Result<void> apply_plan(Convergence& run) {
  Manifest& manifest = run.locked.manifest;
  ProgressCount total;
  for (const PlannedEntry& entry : run.change.plan.entries) {
    ++total.files;
    total.bytes += entry.bytes();
  }
  Result<WriteReport> report = [&] {
    const ProgressStage what = run.write.dry_run ? ProgressStage::Checking : ProgressStage::Copying;
    const ProgressStageScope stage(*run.locked.progress, what, run.locked.root, total);
    return run.writer->apply(run.change.plan, &run.pending, run.write, *run.locked.progress);
  }();
  if (!report) {
    // Record what was placed before the failure, so that the next run knows those entries as
    // jailbuild's own and finishes the job instead of reporting them as conflicts.
    if (!run.write.dry_run) {
      for (const ManifestEntry& placed : run.writer->partial_report().placed) manifest.entries[placed.path] = placed;
      (void)save_manifest(run.locked.manifest_path, manifest);
    }
    return report.error();
  }
  run.change.report = std::move(*report);
  const std::optional<Manifest>& previous = run.locked.previous;
  run.changed = run.unrecorded_entries || !previous || previous->version != manifest.version ||
                previous->intent != manifest.intent;
  for (const ManifestEntry& placed : run.change.report.placed) {
    auto recorded = manifest.entries.find(placed.path);
    if (recorded != manifest.entries.end() && recorded->second == placed) continue;
    run.changed = true;
    if (!run.write.dry_run) manifest.entries[placed.path] = placed;
  }
  return {};
}

// A warning about an entry (a dangling symlink copied as it is) is said by the run that places it;
// a later run that finds it recorded as planned now says it only with -v, so that every `add` and
// `sync` of the root does not repeat it.
Result<void> quiet_repeated_warnings(Convergence& run) {
  const std::optional<Manifest>& previous = run.locked.previous;
  if (!previous) return {};
  std::erase_if(run.change.plan.problems, [&](const Problem& problem) {
    if (problem.kind != ProblemKind::Skipped) return false;
    const auto recorded = previous->entries.find(problem.name);
    const PlannedEntry* planned = run.change.plan.find(problem.name);
    if (recorded == previous->entries.end() || is_pending(recorded->second) || planned == nullptr ||
        recorded->second.type != planned->type || recorded->second.link_target != planned->link_target)
      return false;
    spdlog::debug("{} (said when it was placed)", problem.message);
    return true;
  });
  return {};
}

// Removes the unneeded entries that are still as placed (a dry run only lists them).
Result<void> remove_unneeded(Convergence& run) {
  if (run.write.dry_run) {
    for (const ManifestEntry& entry : run.unneeded) run.change.removed.push_back(entry.path);
    run.finished = true;
    return {};
  }
  if (run.unneeded.empty()) return {};
  run.change.kept = TRY(run.writer->remove(run.unneeded));
  std::set<std::string> kept_paths;
  for (const Conflict& conflict : run.change.kept) kept_paths.insert(conflict.path);
  for (const ManifestEntry& entry : run.unneeded) {
    if (kept_paths.count(entry.path)) continue;
    run.change.removed.push_back(entry.path);
    run.locked.manifest.entries.erase(entry.path);
    run.changed = true;
  }
  return {};
}

// The manifest replaced only after the files it describes, then the watch list of a complete run.
Result<void> save_and_watch(Convergence& run) {
  LockedRoot& locked = run.locked;
  if (run.changed) TRY(save_manifest(locked.manifest_path, locked.manifest));
  if (!run.change.complete() || !run.skip.empty()) {
    spdlog::debug("{}: no watch list written: the run did not bring the root to a complete plan", locked.root);
    return {};
  }
  NewWatchList made = make_watch_list(watched(locked), locked.manifest, run.change.plan, run.started_ns);
  if (!made.list) {
    spdlog::debug("{}: no watch list written: {}", locked.root, made.why_not);
    return {};
  }
  // Only a cache: failing to write it costs the next run a full check, nothing else.
  (void)save_watch_list(locked.watch_path, *made.list);
  return {};
}

// converge()'s passes, in order (as mold links: a list of named passes over shared state).
struct Pass {
  const char* name;
  Result<void> (*run)(Convergence&);
};
constexpr Pass kConvergePasses[] = {
    {"plan", plan_pass},   {"find unneeded", find_unneeded}, {"record pending", record_pending},
    {"apply", apply_plan}, {"quiet repeated warnings", quiet_repeated_warnings},
    {"remove", remove_unneeded}, {"save and watch", save_and_watch},
};

// Brings the root to the plan of the manifest's added paths (all but `skip`), then removes what
// nothing needs when asked, and records the result. The order of the passes keeps the root usable
// if the run stops anywhere: every planned entry recorded as pending before anything is written
// (so a killed run's files are adopted, not taken for strangers), new files in place before old
// ones go, and the manifest replaced only after the files it describes.
Result<RootChange> converge(LockedRoot& locked, const std::set<std::string>& skip, const WriteOptions& options,
                            const Cleanup& cleanup) {
  Convergence run(locked, skip, cleanup, options);
  for (const Pass& pass : kConvergePasses) {
    spdlog::trace("{}: {}", locked.root, pass.name);
    TRY(pass.run(run));
    if (run.finished) break;
  }
  return std::move(run.change);
}

// Setuid and setgid files in the root that jailbuild did not place as they are (another inode, or
// the bits set since), into change.unplaced_privileged. A run proven unchanged does not come here:
// walking the whole root would cost more than the proof itself.
void report_unplaced_privileged(const LockedRoot& locked, RootChange& change) {
  auto found = find_privileged_files(locked.root_fd.get(), locked.root);
  if (!found) {
    change.plan.problems.push_back({ProblemKind::Unreadable, locked.root, std::nullopt,
                                    found.error().message + " (searching the root for setuid files)"});
    return;
  }
  for (const FoundFile& file : *found) {
    const auto recorded = locked.manifest.entries.find(file.path);
    if (recorded != locked.manifest.entries.end()) {
      const FileIdentity& copy = recorded->second.copy_identity;
      if (copy.dev == file.status.st_dev && copy.ino == file.status.st_ino && copy.mode == file.status.st_mode)
        continue;
    }
    change.unplaced_privileged.push_back({file.path, file.status.st_mode, file.status.st_uid, file.status.st_gid});
  }
  std::sort(change.unplaced_privileged.begin(), change.unplaced_privileged.end(),
            [](const PrivilegedFile& a, const PrivilegedFile& b) { return a.path < b.path; });
}

}  // namespace

bool RootChange::complete() const {
  return plan.complete() && report.conflicts.empty() && kept.empty() && vanished.empty();
}

std::vector<std::string> extend_intent(Intent& intent, const Intent& request) {
  std::vector<std::string> changes;
  IntentOptions& options = intent.options;
  const auto turn_on = [&](bool& option, bool asked, const char* name) {
    if (asked && !option) changes.push_back(std::string("option ") + name);
    option = option || asked;
  };
  turn_on(options.keep_setuid, request.options.keep_setuid, "keep_setuid");
  turn_on(options.allow_devices, request.options.allow_devices, "allow_devices");
  const auto choose = [&](const std::vector<std::string>& asked, std::vector<std::string>& into,
                          std::vector<std::string>& out_of, const char* how) {
    for (const std::string& rule : asked) {
      const bool left = std::erase(out_of, rule) != 0;
      if (insert_once(into, rule) || left) changes.push_back("rule " + rule + " " + how);
    }
  };
  choose(request.options.rules_with, options.rules_with, options.rules_without, "on");
  choose(request.options.rules_without, options.rules_without, options.rules_with, "off");
  for (const std::string& user : request.options.users)
    if (insert_once(options.users, user)) changes.push_back("user " + user);
  for (const Requirement& requirement : request.requirements) {
    if (std::find(intent.requirements.begin(), intent.requirements.end(), requirement) != intent.requirements.end())
      continue;
    intent.requirements.push_back(requirement);
    changes.push_back("requirement " + to_string(requirement));
  }
  return changes;
}

namespace {


// Requirements that cannot be added now (missing, a FIFO...), taken out of `requirements` and
// returned as problems: reported, not recorded, so later runs do not repeat them.
std::vector<Problem> take_unaddable(std::vector<Requirement>& requirements, bool allow_devices) {
  std::vector<Problem> refused;
  std::erase_if(requirements, [&](const Requirement& requirement) {
    const std::string* added = added_path_of(requirement);
    if (added == nullptr) return false;
    const std::optional<std::string> why = unaddable(*added, allow_devices);
    if (why) refused.push_back({ProblemKind::Unreadable, *added, std::nullopt, *added + ": " + *why});
    return why.has_value();
  });
  return refused;
}

// Added paths gone from the host: their entries stay (removing them is sync --prune's call).
Cleanup cleanup_keeping_vanished(const std::vector<Requirement>& requirements) {
  Cleanup cleanup{true, {}};
  for (const Requirement& requirement : requirements) {
    const std::string* added = added_path_of(requirement);
    if (added != nullptr && gone_from_host(*added)) cleanup.keep_for.insert(*added);
  }
  return cleanup;
}

// Users named with `add --user` while the rule that writes them is off: said by the add that
// brings the two together (names a user, or turns the rule off), not by every later one.
void warn_users_without_their_rule(const Intent& intent, const RuleChoice& asked) {
  if (intent.options.users.empty()) return;
  const bool turns_users_off = std::find(asked.without.begin(), asked.without.end(), "users") != asked.without.end();
  if (asked.users.empty() && !turns_users_off) return;
  const std::vector<std::string> enabled = enabled_rules(intent.options);
  if (std::find(enabled.begin(), enabled.end(), "users") != enabled.end()) return;
  std::string names;
  for (const std::string& user : intent.options.users) names += (names.empty() ? "" : ", ") + user;
  spdlog::warn("--user {}: rule users is off for this root (--without users), so no /etc/passwd or /etc/group is "
               "written for them; `add --with users` turns it on again",
               names);
}

}  // namespace

Result<void> check_choice(const RuleChoice& rules) {
  TRY(check_rule_names(rules.with));
  TRY(check_rule_names(rules.without));
  for (const std::string& rule : rules.with) {
    if (std::find(rules.without.begin(), rules.without.end(), rule) != rules.without.end())
      return Error::usage("rule '" + rule + "' is both turned on (--with) and off (--without)");
  }
  for (const std::string& user : rules.users) {
    if (user.empty() || user.find_first_of(":\n") != std::string::npos)
      return Error::usage("--user '" + user + "': not a user name (empty, or holding ':' or a newline)");
    if (!account_by_name(user)) return Error::usage("--user " + user + ": the host has no such user");
  }
  return {};
}

Result<RootChange> add_to_root(const JailOptions& jail, const std::vector<std::string>& paths,
                               const WriteOptions& options, const RuleChoice& rules,
                               const std::vector<TracedRequirement>& traced) {
  TRY(check_choice(rules));
  auto locked = lock_root(jail, options.dry_run, true);
  if (!locked) return locked.error();
  // What this add asks: its paths, and the options a manifest records so that later runs repeat them.
  Intent request;
  request.options.keep_setuid = options.keep_setuid;
  request.options.allow_devices = options.allow_devices;
  request.options.rules_with = rules.with;
  request.options.rules_without = rules.without;
  request.options.users = rules.users;
  ResolvedParents parents;
  for (const std::string& path : paths) request.requirements.push_back(PathRequirement{added_path(path, parents)});
  request.requirements.insert(request.requirements.end(), traced.begin(), traced.end());
  if (jail.allow_proof && !options.dry_run) {
    if (auto unchanged = proven_unchanged(*locked, request)) return std::move(*unchanged);
  }
  TRY(load_locked(*locked));
  const std::vector<Problem> refused = take_unaddable(request.requirements, options.allow_devices);
  (void)extend_intent(locked->manifest.intent, request);
  warn_users_without_their_rule(locked->manifest.intent, rules);
  auto change = converge(*locked, {}, options, Cleanup{});
  if (!change) return change;
  change->plan.problems.insert(change->plan.problems.begin(), refused.begin(), refused.end());
  return change;
}

Result<RootChange> set_root_intent(const JailOptions& jail, const IntentDecision& decide, const WriteOptions& options) {
  auto locked = lock_root(jail, options.dry_run, true);
  if (!locked) return locked.error();
  // The recorded intent from the watch list when it is current (one line, where the manifest
  // would be every entry), else from the manifest.
  const std::optional<WatchListText> watch = load_watch_list(locked->watch_path);
  std::optional<Intent> recorded = watch ? current_intent(watched(*locked), *watch) : std::nullopt;
  bool loaded = false;
  if (!recorded) {
    TRY(load_locked(*locked));
    loaded = true;
    if (locked->previous) recorded = locked->previous->intent;
  }
  Intent intent = TRY(decide(recorded ? &*recorded : nullptr));
  TRY(check_choice({intent.options.rules_with, intent.options.rules_without, intent.options.users}));
  ResolvedParents parents;
  for (Requirement& requirement : intent.requirements)
    if (auto* path = std::get_if<PathRequirement>(&requirement)) path->path = added_path(path->path, parents);
  if (watch && recorded && intent == *recorded && jail.allow_proof && !options.dry_run) {
    const Proof proof = prove_unchanged(watched(*locked), *watch, intent, IntentMatch::exact);
    if (proof.unchanged) return unchanged_change(*locked, proof);
    spdlog::debug("{}: checking every entry: the watch list cannot prove the root unchanged: {}", locked->root,
                  proof.why_not);
  }
  if (!loaded) TRY(load_locked(*locked));
  const std::vector<Problem> refused = take_unaddable(intent.requirements, intent.options.allow_devices);
  const Cleanup cleanup = cleanup_keeping_vanished(intent.requirements);
  locked->manifest.intent = std::move(intent);
  WriteOptions write = options;
  write.keep_setuid = locked->manifest.intent.options.keep_setuid;
  write.allow_devices = locked->manifest.intent.options.allow_devices;
  auto change = converge(*locked, cleanup.keep_for, write, cleanup);
  if (!change) return change;
  change->plan.problems.insert(change->plan.problems.begin(), refused.begin(), refused.end());
  return change;
}

Result<RootChange> remove_from_root(const JailOptions& jail, const std::vector<std::string>& paths, bool dry_run) {
  auto locked = lock_root(jail, dry_run);
  if (!locked) return locked.error();
  TRY(load_known(*locked));
  std::vector<Requirement>& requirements = locked->manifest.intent.requirements;
  for (const std::string& path : paths) {
    const std::string added = added_path(path);
    // Added or traced (by any number of workloads): all of it goes.
    const auto erased = std::erase_if(requirements, [&](const Requirement& requirement) {
      const std::string* named = added_path_of(requirement);
      return named != nullptr && *named == added;
    });
    if (erased == 0) return Error::usage(added + ": was not added to " + locked->root);
  }
  // Other added paths gone from the host keep their entries: removing them is sync --prune's call.
  const Cleanup cleanup = cleanup_keeping_vanished(requirements);
  WriteOptions options;
  options.dry_run = dry_run;
  return converge(*locked, cleanup.keep_for, options, cleanup);
}

Result<RootChange> sync_root(const JailOptions& jail, const SyncOptions& options) {
  auto locked = lock_root(jail, options.dry_run);
  if (!locked) return locked.error();
  // A root someone deleted stays deleted: bringing it back is add's job, asked for explicitly.
  if (!locked->root_fd.valid()) {
    return Error::usage(locked->root +
                        ": the root is gone (its manifest remains; `jailbuild add` with its paths builds it again)");
  }
  if (jail.allow_proof && !options.checksum) {
    if (auto unchanged = proven_unchanged(*locked, Intent{})) return std::move(*unchanged);
  }
  TRY(load_known(*locked));
  std::vector<Requirement>& requirements = locked->manifest.intent.requirements;
  std::vector<std::string> gone;
  for (const Requirement& requirement : requirements) {
    const std::string* added = added_path_of(requirement);
    if (added != nullptr && gone_from_host(*added)) gone.push_back(*added);
  }

  Cleanup cleanup{true, {}};
  if (options.prune) {
    std::erase_if(requirements, [&](const Requirement& requirement) {
      const std::string* added = added_path_of(requirement);
      return added != nullptr && std::find(gone.begin(), gone.end(), *added) != gone.end();
    });
  } else {
    cleanup.keep_for.insert(gone.begin(), gone.end());
  }
  WriteOptions write;
  write.dry_run = options.dry_run;
  write.checksum = options.checksum;
  write.force = options.force;
  auto change = converge(*locked, cleanup.keep_for, write, cleanup);
  if (!change) return change;
  (options.prune ? change->pruned : change->vanished) = std::move(gone);
  report_unplaced_privileged(*locked, *change);
  return change;
}

Result<std::vector<std::string>> roots_in_state_dir(const std::string& state_dir) {
  std::vector<std::string> roots;
  for (const std::string& manifest : TRY(StateDir(state_dir).manifests())) {
    // The watch list names the root too, and is much quicker to read than the manifest.
    if (auto watch = load_watch_list(StateDir::watch_list_of(manifest)); watch && !watch->header.root.empty()) {
      roots.push_back(watch->header.root);
      continue;
    }
    const std::optional<Manifest> loaded = TRY(load_manifest(manifest));
    if (loaded) roots.push_back(loaded->root);
  }
  std::sort(roots.begin(), roots.end());
  return roots;
}

Result<Manifest> read_root_manifest(const JailOptions& jail) {
  // Opened only to name it as add did (and refuse a path through a symlink); a root deleted since
  // still has its manifest listed.
  Result<OpenedRoot> opened = open_root(jail.root, false);
  if (!opened) return opened.error();
  const std::string path = StateDir(jail.state_dir).files_of(opened->path).manifest;
  auto loaded = load_manifest(path);
  if (!loaded) return loaded.error();
  if (!loaded->has_value()) return unknown_root(opened->path, path);
  return std::move(**loaded);
}

}  // namespace jailbuild
