// The steps that turn a freshly cloned process into a jailed one, split by concern as nsjail and
// bubblewrap do: the file system view, the network, the credentials, the system call filter.
// Each checks every system call and returns what failed, with the path and the reason.
#pragma once

#include <optional>
#include <string>

#include "jailbuild/result.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild::run {

using Step = std::optional<Error>;  // nullopt: done

// "WHAT: reason" for the failed system call that set errno.
Error failed(const std::string& what);

// In a new mount namespace: a read-only tmpfs top level with the root's entries bound in (with
// options.writable, the root itself, read-write), a fresh /proc, /dev and /tmp, then
// options.mounts; pivot_root into it and detach the old root. Read-only, the root is never
// written to: a mount point of options.mounts missing below one of its directories cannot be
// made, and the error says so. Mount points are never made or reached through a symlink.
Step enter_new_root(const RunOptions& options);

// Plain chroot(2) into options.root, then chdir("/").
Step enter_chroot(const std::string& root);

// Brings up the loopback interface of a new network namespace.
Step bring_up_loopback();

// setrlimit for each limit; before the identity changes, so that raising a hard limit can work.
Step apply_limits(const std::vector<ResourceLimit>& limits);

// Capabilities outside `keep` leave the bounding set; then setgroups (unless in a user namespace,
// where it is denied), setresgid, setresuid; `keep` stays in the permitted, effective,
// inheritable and ambient sets so that it survives execve; finally PR_SET_NO_NEW_PRIVS.
Step switch_identity(const Identity& identity, const std::vector<int>& keep, bool in_user_namespace);

// Loads the denylist (see seccomp_filter.cpp) for this process and its children.
Step load_seccomp_filter();

}  // namespace jailbuild::run
