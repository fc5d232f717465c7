// The jail's file system as data: an ordered list of mount operations, computed from the run's
// options by plan_mounts() without touching the kernel, then carried out one by one by
// enter_new_root() (jail_mounts.cpp). As in bubblewrap's list of setup operations, what the jail
// will see can be read, logged (`-vv`) and tested apart from how each operation is made safe.
#pragma once

#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "jailbuild/run.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::run {

// One entry at the top of a root, held from the moment it is read: whoever can write the root (a
// --writable run of it, its owner) may swap it for a symlink to a host directory at any moment,
// and what is checked is what gets bound, never a name looked up again.
struct TopLevelEntry {
  std::string name;
  UniqueFd held;  // O_PATH|O_NOFOLLOW
  bool directory = false;
  bool symlink = false;
  std::string link_target;  // for a symlink
};

// A file jailbuild makes for one run (the jail's /etc/passwd), never written to the root.
struct GeneratedFile {
  std::string name;  // in the directory it is laid over: "passwd"
  std::string content;
};

enum class MountKind {
  TopLevel,      // the jail's "/", attached over the root: a fresh tmpfs, or a bind of the root (source_fd)
  Bind,          // the source bound on the destination (never recursive)
  ReadOnlyBind,  // the same, then remounted read-only
  ReadOnly,      // the destination bound on itself and remounted read-only: visible, not writable
  Mask,          // the destination hidden: an empty read-only tmpfs on a directory, source read-only on a file
  Tmpfs,
  Proc,
  Devpts,
  Device,   // a character device node made fresh
  Symlink,  // a symlink to source
  Remount,  // the mount at the destination remounted with flags (those the kernel locked kept)
  // `files` made in a small tmpfs of jailbuild's, laid read-only over the directory at the
  // destination: an overlay whose upper layer is that tmpfs and lower layer the directory as the
  // jail sees it so far, so the directory's other entries stay as they are.
  Generated,
};

// How the executor reaches the destination. Each is made safe against a root that changes under
// it: nothing is ever reached through a symlink, and what is checked is what is mounted on.
enum class Reach {
  // One component at a time from the top level, O_NOFOLLOW, making what is missing (directories,
  // and an empty file at the end unless `directory`); a symlink anywhere is refused. For every
  // destination the root or the caller has a say in.
  Walk,
  // Made now, in a directory jailbuild made itself and nothing else can write yet (the top-level
  // tmpfs, /dev's tmpfs), and reached by its name there.
  Make,
  // A file of the kernel's that this kernel may not have (/proc's): opened without following a
  // symlink, and the operation skipped if it cannot be.
  IfPresent,
};

// What is mounted on: made so if missing.
enum class MountPoint {
  Directory,
  File,
  // Whatever the source is: a host path the caller named, opened once and held, so that what is
  // checked (its type) is what is mounted.
  LikeSource,
};

struct MountOp {
  MountKind kind = MountKind::Bind;
  std::string destination{};  // absolute, inside the jail
  // Bind: a host path (the caller's, symlinks followed) or, with source_fd, what to call it in
  // messages; Mask: what covers a file; Symlink: the link's target.
  std::string source{};
  int source_fd = -1;       // a held source (the root, its top-level entries); borrowed, not owned
  unsigned long flags = 0;  // MS_* of the mount, or kept through its read-only remount
  std::string data{};       // the file system's options: "mode=1777,size=256m"
  Reach reach = Reach::Walk;
  MountPoint point = MountPoint::Directory;
  dev_t device = 0;      // Device
  std::vector<GeneratedFile> files{};  // Generated
  // TopLevel, Bind, ReadOnlyBind: the mounts below the source come along, each made read-only
  // with it for ReadOnlyBind. Only for the host's own view (add --trace), where what the host
  // mounted below its directories is part of what the workload would see; a root's binds never
  // are (a user namespace refuses a non-recursive bind of a directory with mounts below it).
  bool recursive = false;
  const char* why = "";  // shown with -vv and in errors
};

// The /proc paths every jail sees read-only, and those it sees masked (Docker's lists): also what
// an exported OCI bundle asks its runtime for (linux.readonlyPaths, linux.maskedPaths).
std::span<const char* const> proc_read_only_paths();
std::span<const char* const> proc_masked_paths();

// What the jail sees, in order: the top level (a read-only tmpfs showing `top_level`, the root's
// entries, each bound read-only, or with options.writable the root `root_fd` holds itself), /proc
// (its host-wide parts read-only or masked), /dev (nodes made fresh with host privileges, the
// host's bound in a user namespace), /dev/pts, /dev/shm, /tmp, options.mounts in command-line
// order, `etc_files` (if any) laid over /etc, and last the top level remounted read-only (nosuid
// with --writable). No system call.
std::vector<MountOp> plan_mounts(const RunOptions& options, int root_fd, const std::vector<TopLevelEntry>& top_level,
                                 bool in_user_namespace, const std::vector<GeneratedFile>& etc_files = {});

// What an operation does, for errors: "ro-bind /usr from ROOT/usr".
std::string name_of(const MountOp& op);
// The same with its flags, options and why, for -vv: "ro-bind /usr from ROOT/usr (nosuid,nodev): an
// entry of the root, held since it was read".
std::string describe(const MountOp& op);

}  // namespace jailbuild::run
