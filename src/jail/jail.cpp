#include "jailbuild/jail.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../copy/safe_fs.hpp"
#include "../manifest/state_files.hpp"
#include "watch_list.hpp"

namespace jailbuild {
namespace {

std::string state_dir_of(const std::string& state_dir) {
  return state_dir.empty() ? default_state_dir() : state_dir;
}

// An added path as the manifest records it: absolute, as given otherwise. Its directories' symlinks
// are recreated in the root (`add /bin/true` gives /bin -> usr/bin and /usr/bin/true, so that the
// program runs by the name it was added by), and an added symlink is added as the symlink, with
// what it points to. A path with ".." is made canonical up to its last component instead, since
// ".." after a symlink is not what it looks like.
std::string added_path(const std::string& path) {
  std::string absolute = path;
  if (absolute.empty() || absolute.front() != '/') {
    char cwd[PATH_MAX];
    absolute = std::string(::getcwd(cwd, sizeof cwd) ? cwd : "") + "/" + path;
  }
  while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  const std::size_t slash = absolute.rfind('/');
  const std::string name = absolute.substr(slash + 1);
  char resolved[PATH_MAX];
  if (name == "." || name == "..") return ::realpath(absolute.c_str(), resolved) ? resolved : absolute;
  const std::string parent = slash == 0 ? "/" : absolute.substr(0, slash);
  if (!::realpath(parent.c_str(), resolved)) return absolute;  // missing: refused as such later
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
  return std::string(resolved) + (std::string_view(resolved) == "/" ? "" : "/") + name;
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

bool gone_from_host(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

// An entry recorded before a run that never completed: planned, but no copy seen yet.
bool is_pending(const ManifestEntry& entry) { return entry.copy_identity == FileIdentity{}; }

bool option_set(const Manifest& manifest, const std::string& name) {
  const auto it = manifest.options.find(name);
  return it != manifest.options.end() && it->second == "true";
}

// The options of the add that recorded the manifest, which every later run repeats.
WriteOptions recorded_options(const Manifest& manifest, WriteOptions options) {
  options.keep_setuid = options.keep_setuid || option_set(manifest, "keep_setuid");
  options.allow_devices = options.allow_devices || option_set(manifest, "allow_devices");
  return options;
}

// The state of a root under its lock: the manifest as loaded and as it is being changed.
struct LockedRoot {
  std::string root;                       // normalised, without symlinks (copy::open_root)
  copy::UniqueFd root_fd;                 // the root, opened once; invalid when it does not exist
  std::string manifest_path;
  std::string watch_path;
  std::optional<RootLock> lock;           // none in a dry run
  std::optional<Manifest> previous;       // as loaded; none for a root jailbuild has not seen
  Manifest manifest;                      // what this run records
};

// Opens the root once (creating it when `create` and not a dry run) and takes its lock. Every later
// step reaches the root through locked.root_fd; the path is only a name (the manifest's key, messages).
Result<LockedRoot> lock_root(const JailOptions& jail, bool dry_run, bool create = false) {
  LockedRoot locked;
  Result<copy::OpenedRoot> opened = copy::open_root(jail.root, create && !dry_run);
  if (!opened) return opened.error();
  locked.root = std::move(opened->path);
  locked.root_fd = std::move(opened->fd);
  const std::string state_dir = state_dir_of(jail.state_dir);
  locked.manifest_path = manifest_path(state_dir, locked.root);
  locked.watch_path = watch_list_path(locked.manifest_path);
  if (!dry_run) {
    auto acquired = RootLock::acquire(state_dir, locked.root, jail.wait_for_lock);
    if (!acquired) return acquired.error();
    locked.lock.emplace(std::move(*acquired));
    // What a run killed while saving left; no other run writes these names while we hold the lock.
    state_files::remove_temporaries({locked.manifest_path, locked.watch_path});
  }
  return locked;
}

// The manifest, read once the root is locked (and the watch list could not prove it unchanged).
Result<bool> load_locked(LockedRoot& locked) {
  auto loaded = load_manifest(locked.manifest_path);
  if (!loaded) return loaded.error();
  locked.previous = std::move(*loaded);
  locked.manifest = locked.previous.value_or(Manifest{});
  std::erase_if(locked.manifest.entries, [](const auto& item) { return is_pending(item.second); });
  locked.manifest.root = locked.root;
  return true;
}

// A root jailbuild does not know: a bad request, since nothing can be done for it.
Error unknown_root(const std::string& root, const std::string& manifest_path) {
  return Error::usage(root + ": jailbuild has no manifest for this root (looked in " + manifest_path + ")");
}

Result<bool> load_known(LockedRoot& locked) {
  if (auto loaded = load_locked(locked); !loaded) return loaded;
  if (!locked.previous) return unknown_root(locked.root, locked.manifest_path);
  return true;
}

// A margin for filesystems whose timestamps lag the clock by a tick: a path whose last change is
// less than this before a run started may change again without its times moving.
constexpr std::int64_t kSettleMarginNs = 1'000'000'000;

std::int64_t now_ns() {
  timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// The fast path of a run with nothing to do: the watch list proves, by stat calls alone, that the
// host and the root are as the last complete run left them, and that it covered `paths` (added
// paths) and `options` (add options). The manifest is not even read.
std::optional<RootChange> proven_unchanged(const LockedRoot& locked, const std::vector<std::string>& paths,
                                           const std::vector<std::string>& options) {
  const std::optional<WatchListText> watch = load_watch_list(locked.watch_path);
  if (!watch || watch->header.root != locked.root) return std::nullopt;
  for (const std::string& path : paths) {
    const auto& added = watch->header.added;
    if (std::find(added.begin(), added.end(), path) == added.end()) return std::nullopt;
  }
  for (const std::string& option : options)
    if (!watch->header.options.count(option)) return std::nullopt;
  const std::optional<FileIdentity> manifest = identity_at(locked.manifest_path, false);
  if (!manifest) return std::nullopt;
  const std::int64_t started_ns = now_ns();
  const WatchCheck check = check_watch_list(*watch, locked.root_fd.get(), *manifest);
  if (!check.current) return std::nullopt;
  // Directories that had not settled when the list was written (the run had just written to
  // them) have settled since: their listings spare the next runs a stat call per symlink.
  if (check.unlisted > 0 && locked.lock) {
    if (auto list = parse_watch_list(watch->text)) {
      const WatchList before = *list;
      complete_watch_list(*list, locked.root_fd.get(), started_ns - kSettleMarginNs);
      if (*list != before) (void)save_watch_list(locked.watch_path, *list);  // only a cache
    }
  }
  RootChange change;
  change.root = locked.root;
  change.manifest_path = locked.manifest_path;
  change.proven_unchanged = true;
  change.report.unchanged = check.root_entries;
  return change;
}

// The watch list of a root just brought to its plan, or nullopt when no list may be trusted: a
// host path changed during the run (its ctime is not safely older than the run's start, so what
// was read may not be what is recorded) or an entry's source is unknown.
std::optional<WatchList> watch_list_of(const LockedRoot& locked, const CopyPlan& plan, std::int64_t started_ns) {
  const std::optional<FileIdentity> manifest = identity_at(locked.manifest_path, false);
  if (!manifest) return std::nullopt;
  WatchList list;
  list.root = locked.root;
  list.manifest = *manifest;
  list.boot_id = current_boot_id();
  list.added = locked.manifest.added;
  list.options = locked.manifest.options;
  const std::int64_t settled_before_ns = started_ns - kSettleMarginNs;
  auto settled = [&](const std::optional<FileIdentity>& identity) {
    return !identity || identity->ctime_ns < settled_before_ns;
  };
  std::set<std::string> sources;  // of files and symlinks, whose every change the list notices
  for (const auto& [path, entry] : locked.manifest.entries) {
    list.paths.push_back(make_watched(WatchedPath::Side::Root, path, entry.copy_identity));
    if (entry.source.empty()) continue;
    if (entry.source_identity == FileIdentity{}) return std::nullopt;
    if (entry.type == EntryType::Directory) {
      // What matters of a directory passed through is what the root's copy takes from it; one
      // whose entries were read (an added directory) is among plan.looked_up as well.
      list.paths.push_back(make_watched(WatchedPath::Side::HostDirectory, entry.source, entry.source_identity));
      continue;
    }
    const FileIdentity& source = entry.source_identity;
    if (!settled(source)) return std::nullopt;
    list.paths.push_back({WatchedPath::Side::Host, entry.source, source});
    sources.insert(entry.source);
  }
  // Each path looked up, found or not, as the lookup saw it (symlinks followed). A miss is watched
  // as such, not through its directory's times alone: a file created next to /etc/ld.so.preload
  // changes nothing. A miss with nothing at all at the name (not even a dangling symlink) is
  // watched with lstat, which its directory's listing can prove.
  for (const std::string& path : plan.looked_up) {
    if (sources.count(path)) continue;
    std::optional<FileIdentity> identity = identity_at(path, true);
    if (!settled(identity)) return std::nullopt;
    const bool nothing_there = !identity && !identity_at(path, false);
    list.paths.push_back({nothing_there ? WatchedPath::Side::Host : WatchedPath::Side::HostFollow, path, identity});
  }
  complete_watch_list(list, locked.root_fd.get(), settled_before_ns);
  return list;
}

// How converge() treats entries the plan no longer lists.
struct Cleanup {
  bool remove_unneeded = false;
  std::set<std::string> keep_for;  // added paths whose entries stay although unplanned
};

// Whether an unplanned entry stays for one of `added`: it was placed for it, or it is a generated
// file (the root's loader cache), which may describe its libraries.
bool kept_for(const ManifestEntry& entry, const std::set<std::string>& added) {
  if (entry.source.empty() && entry.type == EntryType::File && !added.empty()) return true;
  return std::any_of(entry.reasons.begin(), entry.reasons.end(),
                     [&](const Reason& reason) { return added.count(reason.added) != 0; });
}

// Brings the root to the plan of the manifest's added paths (all but `skip`), then removes what
// nothing needs when asked, and records the result. The order keeps the root usable if the run
// stops anywhere: every planned entry recorded as pending before anything is written (so a killed
// run's files are adopted, not taken for strangers), new files in place before old ones go, and
// the manifest replaced only after the files it describes.
Result<RootChange> converge(LockedRoot& locked, const std::set<std::string>& skip, const WriteOptions& options,
                            const Cleanup& cleanup) {
  const std::int64_t started_ns = now_ns();
  // Whatever this run changes, the list no longer describes the root; a new one is written only
  // after a complete run.
  if (!options.dry_run) discard_watch_list(locked.watch_path);
  RootChange change;
  change.root = locked.root;
  change.manifest_path = locked.manifest_path;
  Manifest& manifest = locked.manifest;
  const WriteOptions write = recorded_options(manifest, options);

  PlanOptions plan_options;
  plan_options.allow_devices = write.allow_devices;
  // Relative search paths resolve against the jailed program's working directory, "/" by default,
  // not against wherever jailbuild happens to run.
  plan_options.resolver.cwd = "/";
  Planner planner = TRY(Planner::open(plan_options));
  for (const std::string& added : manifest.added)
    if (!skip.count(added)) planner.add(PathRequirement{added});
  change.plan = planner.finish();

  std::set<std::string> planned;
  for (const PlannedEntry& entry : change.plan.entries) planned.insert(entry.path);
  std::vector<ManifestEntry> unneeded;
  if (cleanup.remove_unneeded) {
    std::vector<std::string> staying;  // recorded entries that are not to go, sorted as the map is
    for (const auto& [path, entry] : manifest.entries) {
      if (planned.count(path) || kept_for(entry, cleanup.keep_for)) {
        staying.push_back(path);
      } else {
        unneeded.push_back(entry);
      }
    }
    // A directory holding an entry that stays stays too.
    std::erase_if(unneeded, [&](const ManifestEntry& entry) {
      const std::string prefix = entry.path + "/";
      const auto next = std::lower_bound(staying.begin(), staying.end(), prefix);
      return entry.type == EntryType::Directory && next != staying.end() && next->starts_with(prefix);
    });
  }

  if (!locked.root_fd.valid()) {
    if (!write.dry_run) return copy::system_error(locked.root, ENOENT);
    // A dry run on a root that does not exist yet: everything would be created.
    for (const PlannedEntry& entry : change.plan.entries) {
      change.report.placed.push_back(to_manifest_entry(entry));
      change.report.created.push_back(entry.path);
    }
    return change;
  }
  auto writer = RootWriter::at(locked.root_fd.get(), locked.root);
  if (!writer) return writer.error();

  Manifest pending = manifest;
  bool unrecorded_entries = false;
  for (const PlannedEntry& entry : change.plan.entries) {
    if (pending.entries.count(entry.path)) continue;
    unrecorded_entries = true;
    pending.entries.emplace(entry.path, to_manifest_entry(entry));
  }
  if (!write.dry_run && unrecorded_entries) {
    if (auto saved = save_manifest(locked.manifest_path, pending); !saved) return saved.error();
  }
  auto report = writer->apply(change.plan, &pending, write);
  if (!report) {
    // Record what was placed before the failure, so that the next run knows those entries as
    // jailbuild's own and finishes the job instead of reporting them as conflicts.
    if (!write.dry_run) {
      for (const ManifestEntry& placed : writer->partial_report().placed) manifest.entries[placed.path] = placed;
      (void)save_manifest(locked.manifest_path, manifest);
    }
    return report.error();
  }
  change.report = std::move(*report);

  bool changed = unrecorded_entries || !locked.previous || locked.previous->added != manifest.added ||
                 locked.previous->options != manifest.options;
  for (const ManifestEntry& placed : change.report.placed) {
    auto recorded = manifest.entries.find(placed.path);
    if (recorded != manifest.entries.end() && recorded->second == placed) continue;
    changed = true;
    if (!write.dry_run) manifest.entries[placed.path] = placed;
  }

  if (write.dry_run) {
    for (const ManifestEntry& entry : unneeded) change.removed.push_back(entry.path);
    return change;
  }
  if (!unneeded.empty()) {
    auto kept = writer->remove(unneeded);
    if (!kept) return kept.error();
    change.kept = std::move(*kept);
    std::set<std::string> kept_paths;
    for (const Conflict& conflict : change.kept) kept_paths.insert(conflict.path);
    for (const ManifestEntry& entry : unneeded) {
      if (kept_paths.count(entry.path)) continue;
      change.removed.push_back(entry.path);
      manifest.entries.erase(entry.path);
      changed = true;
    }
  }
  if (changed) {
    if (auto saved = save_manifest(locked.manifest_path, manifest); !saved) return saved.error();
  }
  if (change.complete() && skip.empty()) {
    // Only a cache: failing to write it costs the next run a full check, nothing else.
    if (std::optional<WatchList> watch = watch_list_of(locked, change.plan, started_ns))
      (void)save_watch_list(locked.watch_path, *watch);
  }
  return change;
}

// Setuid and setgid files in the root that jailbuild did not place as they are (another inode, or
// the bits set since), into change.unplaced_privileged. A run proven unchanged does not come here:
// walking the whole root would cost more than the proof itself.
void report_unplaced_privileged(const LockedRoot& locked, RootChange& change) {
  auto found = copy::find_privileged_files(locked.root_fd.get(), locked.root);
  if (!found) {
    change.plan.problems.push_back({ProblemKind::Unreadable, locked.root, std::nullopt,
                                    found.error().message + " (searching the root for setuid files)"});
    return;
  }
  for (const copy::FoundFile& file : *found) {
    const auto recorded = locked.manifest.entries.find(file.path);
    if (recorded != locked.manifest.entries.end()) {
      const FileIdentity& copy = recorded->second.copy_identity;
      if (copy.dev == file.status.st_dev && copy.ino == file.status.st_ino && copy.mode == file.status.st_mode) continue;
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

Result<RootChange> add_to_root(const JailOptions& jail, const std::vector<std::string>& paths,
                               const WriteOptions& options) {
  auto locked = lock_root(jail, options.dry_run, true);
  if (!locked) return locked.error();
  std::vector<std::string> requested;
  for (const std::string& path : paths) requested.push_back(added_path(path));
  // The add options a manifest records, so that later runs repeat them.
  std::vector<std::string> recorded;
  if (options.keep_setuid) recorded.push_back("keep_setuid");
  if (options.allow_devices) recorded.push_back("allow_devices");
  if (jail.allow_proof && !options.dry_run) {
    if (auto unchanged = proven_unchanged(*locked, requested, recorded)) return std::move(*unchanged);
  }
  if (auto loaded = load_locked(*locked); !loaded) return loaded.error();
  Manifest& manifest = locked->manifest;
  for (const std::string& option : recorded) manifest.options[option] = "true";
  // A path that cannot be added now is reported and not recorded, so later runs do not repeat it.
  std::vector<Problem> refused;
  for (const std::string& added : requested) {
    if (auto why = unaddable(added, options.allow_devices)) {
      refused.push_back({ProblemKind::Unreadable, added, std::nullopt, added + ": " + *why});
      continue;
    }
    if (std::find(manifest.added.begin(), manifest.added.end(), added) == manifest.added.end())
      manifest.added.push_back(added);
  }
  auto change = converge(*locked, {}, options, Cleanup{});
  if (!change) return change;
  change->plan.problems.insert(change->plan.problems.begin(), refused.begin(), refused.end());
  return change;
}

Result<RootChange> remove_from_root(const JailOptions& jail, const std::vector<std::string>& paths,
                                    bool dry_run) {
  auto locked = lock_root(jail, dry_run);
  if (!locked) return locked.error();
  if (auto loaded = load_known(*locked); !loaded) return loaded.error();
  Manifest& manifest = locked->manifest;
  for (const std::string& path : paths) {
    const std::string added = added_path(path);
    auto it = std::find(manifest.added.begin(), manifest.added.end(), added);
    if (it == manifest.added.end()) return Error::usage(added + ": was not added to " + locked->root);
    manifest.added.erase(it);
  }
  // Other added paths gone from the host keep their entries: removing them is sync --prune's call.
  Cleanup cleanup{true, {}};
  for (const std::string& added : manifest.added)
    if (gone_from_host(added)) cleanup.keep_for.insert(added);
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
    if (auto unchanged = proven_unchanged(*locked, {}, {})) return std::move(*unchanged);
  }
  if (auto loaded = load_known(*locked); !loaded) return loaded.error();
  Manifest& manifest = locked->manifest;
  std::vector<std::string> gone;
  for (const std::string& added : manifest.added)
    if (gone_from_host(added)) gone.push_back(added);

  Cleanup cleanup{true, {}};
  if (options.prune) {
    std::erase_if(manifest.added, [&](const std::string& added) {
      return std::find(gone.begin(), gone.end(), added) != gone.end();
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
  const std::string directory = state_dir_of(state_dir) + "/roots";
  std::vector<std::string> roots;
  DIR* stream = ::opendir(directory.c_str());
  if (!stream) {
    if (errno == ENOENT) return roots;
    return Error{directory + ": " + std::strerror(errno)};
  }
  std::vector<std::string> files;
  while (const dirent* d = ::readdir(stream)) {
    const std::string name = d->d_name;
    if (name.size() > 5 && name.front() != '.' && name.ends_with(".json")) files.push_back(name);
  }
  ::closedir(stream);
  for (const std::string& name : files) {
    // The watch list names the root too, and is much quicker to read than the manifest.
    if (auto watch = load_watch_list(watch_list_path(directory + "/" + name)); watch && !watch->header.root.empty()) {
      roots.push_back(watch->header.root);
      continue;
    }
    auto loaded = load_manifest(directory + "/" + name);
    if (!loaded) return loaded.error();
    if (loaded->has_value()) roots.push_back((*loaded)->root);
  }
  std::sort(roots.begin(), roots.end());
  return roots;
}

Result<Manifest> read_root_manifest(const JailOptions& jail) {
  // Opened only to name it as add did (and refuse a path through a symlink); a root deleted since
  // still has its manifest listed.
  Result<copy::OpenedRoot> opened = copy::open_root(jail.root, false);
  if (!opened) return opened.error();
  const std::string path = manifest_path(state_dir_of(jail.state_dir), opened->path);
  auto loaded = load_manifest(path);
  if (!loaded) return loaded.error();
  if (!loaded->has_value()) return unknown_root(opened->path, path);
  return std::move(**loaded);
}

}  // namespace jailbuild
