// The watch list: what the last complete run on a root depended on, so that the next run can
// prove with stat calls alone, reading no file, that there is nothing to do.
//
// A plan is a function of the host files the planner looked at: each entry's source, and every
// path the resolver probed (found or not). A path's lookup answer can only change if the path's
// own inode changes (content, ctime, replacement) or its directory's entries change (the
// directory's mtime and ctime move with every name added, removed or renamed in it). So the list
// holds the identity of every entry's source (only the inode, type, mode and owner of a directory
// the plan merely passes through), of every other path it looked up (found or, as "nothing there",
// not), of every entry in the root as placed, and of the manifest it goes with. If all still match, and the
// machine has not rebooted (the loader's hardware capabilities could differ), a new plan would be
// the old one and the root still holds it.
//
// A directory's listing (its identity with its times) proves its symlinks and its misses at
// once: a symlink's target cannot be rewritten, only the link replaced, and a name cannot appear
// without changing the directory. A file can be rewritten in place, so files are always stat'ed.
// A listing is only recorded for a directory that had settled (no change for a margin) before
// the entries it proves were last seen, so that a change within one timestamp tick cannot hide.
//
// It lives next to the manifest in the state directory and is only a cache: a missing, corrupt or
// outdated list just means the run plans and checks everything.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/copy_plan.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild {

struct WatchedPath {
  enum class Side {
    Host,           // lstat of a host path
    HostDirectory,  // lstat of a host directory whose entries do not matter: times and size ignored
    HostFollow,     // stat of a host path (symlinks followed, as the resolver's lookups do)
    HostListing,    // a host directory (as open(2) reaches it), times included: its names unchanged
    Root,           // lstat of a path inside the root, reached without following any symlink
    RootListing,    // a directory inside the root, times included: its names unchanged
  };
  Side side = Side::Host;
  std::string path;
  std::optional<FileIdentity> identity;  // nullopt: nothing there

  bool operator==(const WatchedPath&) const = default;
};

// Whether a watched directory's entries do not matter, only the directory itself: a host
// directory passed through, or a directory in the root (whose entries jailbuild placed are watched
// one by one; others are not its business). Its identity is then kept without size and times.
bool ignores_entries(const WatchedPath& watched);

// A watched path as the list keeps it (without size and times when ignores_entries).
WatchedPath make_watched(WatchedPath::Side side, std::string path, std::optional<FileIdentity> identity);

struct WatchList {
  std::string root;       // the root's host path, as its manifest names it
  FileIdentity manifest;  // the manifest file this list was written with
  std::string boot_id;    // of the boot the list was written in
  Intent intent;          // the manifest's, which a run may ask no more of for the list to prove it
  std::vector<WatchedPath> paths;

  bool operator==(const WatchList&) const = default;
};

std::string serialize_watch_list(const WatchList& list);
Result<WatchList> parse_watch_list(std::string_view text);

// A list as a check reads it: all but the intent and the paths parsed, the path lines kept as
// text. A check reads each line once and builds nothing, which matters as much as its stat calls;
// the intent is parsed only by a run that asks for something (an `add`), never by a `sync`.
struct WatchListText {
  WatchList header;         // intent and paths empty
  std::string intent_line;  // the intent in the manifest's JSON form (intent_json_line)
  std::string text;
  std::size_t paths_offset = 0;  // where the path lines start in text
};

Result<WatchListText> read_watch_list(std::string text);

// The list at `path`; nullopt when missing or unreadable as a list.
std::optional<WatchListText> load_watch_list(const std::string& path);
// Written atomically (replace_file).
Result<void> save_watch_list(const std::string& path, const WatchList& list);
void discard_watch_list(const std::string& path);

// The kernel's boot id ("" if unknown, which never matches).
std::string current_boot_id();

// What is at `path` now; nullopt if nothing is.
std::optional<FileIdentity> identity_at(const std::string& path, bool follow);

// Gives `list` (whose entries are all in; `root_fd` a descriptor of the root, as open_root
// opened it, or -1 to leave the root's side without listings) the listing of each
// directory that holds entries a listing proves and whose last change (ctime) is before
// `settled_before_ns`, and sorts it in the order a check reads it: by side and directory, each
// directory's listing before its entries.
void complete_watch_list(WatchList& list, int root_fd, std::int64_t settled_before_ns);

struct WatchCheck {
  bool current = false;  // every watched path is as the list says
  // Why not, when not current: the first difference found ("the host path /x: changed (size,
  // mtime)", "the root's entry /y: gone", "the manifest changed ...").
  std::string why_not;
  std::size_t root_entries = 0;  // the root's entries the list describes
  std::size_t unlisted = 0;      // directories whose listing would have spared stat calls
  // The root's side was checked by a second thread, beside the host's: whether checking on two
  // CPUs happened at all, which nothing else in the answer shows.
  bool root_side_on_second_thread = false;
};

// Whether every watched path is as the list says, `root_fd` being a descriptor of the root (as
// open_root opened it; the root's paths are looked up beneath it, never by the root's host
// path) and `manifest` the manifest file's identity now. Reads no file contents.
WatchCheck check_watch_list(const WatchListText& list, int root_fd, const FileIdentity& manifest);

// The root a list is about, as a locked run holds it.
struct WatchedRoot {
  std::string root;           // its host path, as its manifest names it
  int root_fd = -1;           // a descriptor of it (open_root's); -1 when it does not exist
  std::string manifest_path;  // its manifest, whose identity the list records
  std::string watch_path;     // its watch list
  bool locked = false;        // the run holds the root's lock (and may rewrite the list)
};

// The answer of prove_unchanged.
struct Proof {
  bool unchanged = false;
  std::string why_not;  // when not unchanged: why the list could not prove it (for -v)
  WatchCheck check;
};

// How the intent a watch list was written with must match a command's request for a proof.
enum class IntentMatch {
  covers,  // holds all of the request, as extend_intent adds it (add; sync asks for nothing)
  exact,   // is the request (apply, which also takes out what the request no longer names)
};

// The fast path of a run with nothing to do: whether the root's watch list proves, by stat calls
// alone, that the host and the root are as the last complete run left them, and that the intent
// it was written with matches `request` (the requirements and options a command asks for). The manifest is not even read: the list
// records its identity, so a manifest whose intent changed in any part proves nothing. A locked
// run that proves it also records the listings of directories that have settled since the list
// was written.
Proof prove_unchanged(const WatchedRoot& watched, const Intent& request, IntentMatch match = IntentMatch::covers);
// The same with the list already read.
Proof prove_unchanged(const WatchedRoot& watched, const WatchListText& list, const Intent& request, IntentMatch match);

// The intent the list holds, when it was written with the manifest in place (the same file, by
// identity): the manifest's intent, read from one line rather than from the whole manifest.
std::optional<Intent> current_intent(const WatchedRoot& watched, const WatchListText& list);

// The time now, in nanoseconds since the epoch: when a run starts, for make_watch_list.
std::int64_t now_ns();

// The watch list of a root just brought to `plan` and recorded as `manifest` by a run that started
// at `started_ns`; or, in `why_not`, why no list may be trusted: a host path changed during the run
// (its ctime is not safely older than the run's start, so what was read may not be what is
// recorded), or an entry's source is unknown.
struct NewWatchList {
  std::optional<WatchList> list;
  std::string why_not;
};
NewWatchList make_watch_list(const WatchedRoot& watched, const Manifest& manifest, const CopyPlan& plan,
                             std::int64_t started_ns);

}  // namespace jailbuild
