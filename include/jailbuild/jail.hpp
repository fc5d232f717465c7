// Operations on a jail root, as the commands use them: each takes the root's lock, reads its
// manifest from the state directory, plans what the root must hold, writes it through
// RootWriter, removes what nothing needs any more, and records the result.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jailbuild/copy_plan.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/progress.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/write_report.hpp"

namespace jailbuild {

struct JailOptions {
  std::string root;
  std::string state_dir;      // empty: default_state_dir()
  bool wait_for_lock = true;  // wait for another jailbuild on the same root, or fail at once
  // May answer "nothing to do" from the root's watch list without planning (RootChange::
  // proven_unchanged); false when the caller wants the full plan and report even then.
  bool allow_proof = true;
  // Told how far planning and copying have come (the progress line); nullptr: nobody.
  Progress* progress = nullptr;
};

// A setuid or setgid file found in a root.
struct PrivilegedFile {
  std::string path;  // in the root: "/usr/bin/x"
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

// What an operation did to a root (or, in a dry run, would do).
struct RootChange {
  std::string root;  // normalised and without symlinks (so canonical), as open_root gives it
  std::string manifest_path;
  CopyPlan plan;                      // what the root must hold; its problems are what could not be planned
  WriteReport report;                 // entries created, updated, unchanged, conflicts, privileges removed
  std::vector<std::string> removed;   // entries deleted because nothing needs them any more
  std::vector<Conflict> kept;         // entries nothing needs, left because they changed since placed
  std::vector<std::string> vanished;  // added paths gone from the host; their entries stay
  std::vector<std::string> pruned;    // added paths gone from the host and forgotten (--prune)
  // Regular files with a setuid or setgid bit in the root that jailbuild did not place as they are
  // (sync only): any host user can run them from the root's host path, where no nosuid applies.
  // Reported, never removed: they are not jailbuild's. Not searched for when proven_unchanged.
  std::vector<PrivilegedFile> unplaced_privileged;
  // True when the watch list proved that nothing changed on the host or in the root since the last
  // run: then no file was read and `plan` and `report.placed` are empty.
  bool proven_unchanged = false;

  // Nothing left undone: no problem, conflict, kept entry or vanished path.
  bool complete() const;
};

// What `add` makes of a root's recorded intent and a request (`request`: the requirements and
// options of one command line): requirements not yet recorded join them, in order; options asked
// for are turned on (a rule turned on is no longer turned off, and the other way round); users
// join the list. Returns what changed, one line each ("requirement /usr/bin/x",
// "option keep_setuid", "rule x on", "rule x off", "user x"), empty when the intent covered the
// request already. The watch list proves an `add` unchanged only when this is empty for the intent
// the list was written with.
std::vector<std::string> extend_intent(Intent& intent, const Intent& request);

// Runtime rules an `add` turns on or off by name (add --with RULE, --without RULE): recorded in
// the root's intent, so that every later `add` and `sync` repeats the choice.
struct RuleChoice {
  std::vector<std::string> with;
  std::vector<std::string> without;
  std::vector<std::string> users;  // add --user: users the `users` rule's /etc/passwd and /etc/group hold
};

// What add and apply refuse before touching anything: a rule name that is no rule, one both on and
// off, a user the host does not know or whose name a passwd line cannot hold.
Result<void> check_choice(const RuleChoice& rules);

// Adds `paths` (and everything they need) to the root, creating it if missing. The plan covers
// every path the manifest already lists too, so that the root's own loader cache describes all it
// holds, and the runtime rules the root's intent turns on. Nothing is removed. With
// options.dry_run nothing is written, not even the manifest. A name in `rules` that is no rule is
// a usage error, and so is a user the host does not know or whose name holds ':' or a newline.
// `traced`: the paths a traced workload used (add --trace), recorded with its command line.
Result<RootChange> add_to_root(const JailOptions& jail, const std::vector<std::string>& paths,
                               const WriteOptions& options, const RuleChoice& rules = {},
                               const std::vector<TracedRequirement>& traced = {});

// What `apply` asks of a root, decided from the intent it records (nullptr for a root jailbuild
// has not seen): the intent it is to hold. Called once, under the root's lock.
using IntentDecision = std::function<Result<Intent>(const Intent* recorded)>;

// The root made to hold exactly the intent `decide` returns (`apply`): its requirements and options
// replace the recorded ones, what is new is added, entries nothing needs any more are removed, the
// rest is synced. Checked as add checks its request (rule names, users). Path requirements are
// made absolute as add makes them; one that cannot be added is a problem and is not recorded.
// Proven unchanged by the watch list, without planning, when the intent is the one recorded: the
// recorded intent is then read from the list's header, never from the whole manifest.
Result<RootChange> set_root_intent(const JailOptions& jail, const IntentDecision& decide, const WriteOptions& options);

// Removes added `paths` and every entry nothing else still needs.
Result<RootChange> remove_from_root(const JailOptions& jail, const std::vector<std::string>& paths, bool dry_run);

struct SyncOptions {
  bool dry_run = false;
  bool checksum = false;  // compare contents too, not only identities
  bool prune = false;     // forget added paths gone from the host, and remove their entries
  bool force = false;     // replace what is in the way even if jailbuild did not place it
};

// Brings the root to what adding its manifest's paths into an empty root would give today:
// changed files copied again, symlinks re-pointed, new dependencies added, and entries jailbuild
// placed that nothing needs any more removed. Added paths gone from the host are reported in
// `vanished` and keep their entries unless options.prune.
Result<RootChange> sync_root(const JailOptions& jail, const SyncOptions& options);

// The roots that have a manifest in `state_dir` (default_state_dir() if empty), sorted.
Result<std::vector<std::string>> roots_in_state_dir(const std::string& state_dir);

// The root's manifest; an error if jailbuild has none for it.
Result<Manifest> read_root_manifest(const JailOptions& jail);

}  // namespace jailbuild
