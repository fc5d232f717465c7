// The steps that turn a freshly cloned process into a jailed one, split by concern as nsjail and
// bubblewrap do: the file system view, the network, the credentials, the system call filter.
// Each checks every system call and returns what failed, with the path and the reason.
#pragma once

#include <linux/filter.h>

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../copy/safe_fs.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild::run {

using Step = std::optional<Error>;  // nullopt: done

// "WHAT: reason" for the failed system call that set errno.
Error failed(const std::string& what);

// One entry at the top of a root, held from the moment it is read: whoever can write the root (a
// --writable run of it, its owner) may swap it for a symlink to a host directory at any moment,
// and what is checked is what gets bound, never a name looked up again.
struct TopLevelEntry {
  std::string name;
  copy::UniqueFd held;  // O_PATH|O_NOFOLLOW
  bool directory = false;
  bool symlink = false;
  std::string link_target;  // for a symlink
};

// The root's top-level entries but proc, dev and tmp (with a warning if its tmp holds files).
// Read before the child takes the jail's ids: as the host's root, whose ids the user namespace
// does not map, it still owns a root of mode 0700, which the jail's root could not even list.
Result<std::vector<TopLevelEntry>> read_top_level(int root_fd, const RunOptions& options);

// In a new mount namespace: a read-only tmpfs top level with `top_level` (the entries of the root
// `root_fd` holds) bound in (with options.writable, the root itself, read-write), a fresh /proc (host-wide
// parts masked or read-only), /dev (nodes made fresh with host privileges, the host's bound in a
// user namespace) and /tmp, then options.mounts; pivot_root into it and detach the old root.
// Read-only, the root is never written to: a mount point of options.mounts missing below one of
// its directories cannot be made, and the error says so. Mount points are never made or reached
// through a symlink.
Step enter_new_root(const RunOptions& options, int root_fd, const std::vector<TopLevelEntry>& top_level,
                    bool in_user_namespace);

// Brings up the loopback interface of a new network namespace.
Step bring_up_loopback();

// setrlimit for each limit; before the identity changes, so that raising a hard limit can work.
Step apply_limits(const std::vector<ResourceLimit>& limits);

// Capabilities outside `keep` leave the bounding set; then setgroups (unless `setgroups_denied`, as
// in a user namespace a normal user made), setresgid, setresuid; `keep` stays in the permitted,
// effective, inheritable and ambient sets so that it survives execve; finally PR_SET_NO_NEW_PRIVS.
Step switch_identity(const Identity& identity, const std::vector<int>& keep, bool setgroups_denied);

// One line of an id map: `count` ids from `inside` (in the namespace) are `outside` on the host.
struct IdMapping {
  unsigned inside = 0;
  unsigned outside = 0;
  unsigned count = 1;
};

// The jail's user namespace: see user_namespace.cpp for which ids map to what, and why.
struct UserNamespace {
  std::vector<IdMapping> uids;
  std::vector<IdMapping> gids;
  bool deny_setgroups = false;  // required when a normal user writes the maps
  uid_t root_uid = 0;           // the host ids of the jail's uid and gid 0 (root callers only)
  gid_t root_gid = 0;
};

// The maps for running as `identity`: a normal caller maps only itself; root maps the jail's 0 to
// jailbuild's range in /etc/subuid and /etc/subgid (added if missing) and the identity's other ids
// to themselves.
Result<UserNamespace> plan_user_namespace(const Identity& identity);

// Writes the maps of `child`'s new user namespace (from the parent, before the child goes on).
Step write_id_maps(pid_t child, const UserNamespace& plan);

// A sealed memfd holding the jail's init program (init/jail_init.c), close-on-exec: executed with
// fexecve once the jail is set up, so that no process in the jail runs jailbuild's own binary.
Result<copy::UniqueFd> sealed_init();

// Loads the denylist (see seccomp_policy.cpp) for this process and its children.
Step load_seccomp_filter();
// The denylist's BPF program as embedded in jailbuild when it was built.
std::span<const sock_filter> default_seccomp_program();

}  // namespace jailbuild::run
