// The system calls a trace stops on (add --trace, run --report-missing), defined once: the seccomp
// filter that makes the kernel stop the workload on them (src/run/seccomp_policy.cpp, compiled at
// build time) and the tracer that decodes their arguments (tracer.cpp) both read this table, so a
// call cannot be stopped on and not understood, or understood and never stopped on.
//
// Only calls that name a path are here: every other call runs at full speed, as with
// `strace --seccomp-bpf`. Native architecture only: the numbers are this build's SYS_*; the calls
// the architecture lacks (open, stat... on aarch64) drop out with their #ifdef.
#pragma once

#include <sys/syscall.h>

namespace jailbuild::trace {

enum class CallKind {
  Open,    // read or written as its flags say (open, openat, openat2, creat)
  Exec,    // execve, execveat
  LookUp,  // the path resolved and its inode read: stat, access, readlink, chdir
  Write,   // the path made, removed or renamed: mkdir, unlink, rename...
};

// Where a call's arguments are: -1 for "none". A call without a directory argument resolves a
// relative path against the working directory (AT_FDCWD).
struct TracedCall {
  long number;
  const char* name;
  CallKind kind;
  int dirfd_arg;
  int path_arg;
  int flags_arg;  // open flags (Open), or AT_* flags where AT_EMPTY_PATH can make the path unused
};

// openat2's flags are in the struct open_how its third argument points to (read by the tracer).
inline constexpr int kOpenHowArg = 2;

inline constexpr TracedCall kTracedCalls[] = {
#ifdef SYS_open
    {SYS_open, "open", CallKind::Open, -1, 0, 1},
#endif
    {SYS_openat, "openat", CallKind::Open, 0, 1, 2},
    {SYS_openat2, "openat2", CallKind::Open, 0, 1, -1},
#ifdef SYS_creat
    {SYS_creat, "creat", CallKind::Write, -1, 0, -1},
#endif
    {SYS_execve, "execve", CallKind::Exec, -1, 0, -1},
    {SYS_execveat, "execveat", CallKind::Exec, 0, 1, 4},
#ifdef SYS_stat
    {SYS_stat, "stat", CallKind::LookUp, -1, 0, -1},
    {SYS_lstat, "lstat", CallKind::LookUp, -1, 0, -1},
#endif
#ifdef SYS_newfstatat
    {SYS_newfstatat, "newfstatat", CallKind::LookUp, 0, 1, 3},
#endif
    {SYS_statx, "statx", CallKind::LookUp, 0, 1, 2},
#ifdef SYS_access
    {SYS_access, "access", CallKind::LookUp, -1, 0, -1},
#endif
    {SYS_faccessat, "faccessat", CallKind::LookUp, 0, 1, -1},
    {SYS_faccessat2, "faccessat2", CallKind::LookUp, 0, 1, -1},
#ifdef SYS_readlink
    {SYS_readlink, "readlink", CallKind::LookUp, -1, 0, -1},
#endif
    {SYS_readlinkat, "readlinkat", CallKind::LookUp, 0, 1, -1},
    {SYS_chdir, "chdir", CallKind::LookUp, -1, 0, -1},
#ifdef SYS_mkdir
    {SYS_mkdir, "mkdir", CallKind::Write, -1, 0, -1},
#endif
    {SYS_mkdirat, "mkdirat", CallKind::Write, 0, 1, -1},
#ifdef SYS_mknod
    {SYS_mknod, "mknod", CallKind::Write, -1, 0, -1},
#endif
    {SYS_mknodat, "mknodat", CallKind::Write, 0, 1, -1},
#ifdef SYS_unlink
    {SYS_unlink, "unlink", CallKind::Write, -1, 0, -1},
    {SYS_rmdir, "rmdir", CallKind::Write, -1, 0, -1},
#endif
    {SYS_unlinkat, "unlinkat", CallKind::Write, 0, 1, -1},
#ifdef SYS_rename
    {SYS_rename, "rename", CallKind::Write, -1, 1, -1},  // the new name: where it writes
#endif
    {SYS_renameat, "renameat", CallKind::Write, 2, 3, -1},
    {SYS_renameat2, "renameat2", CallKind::Write, 2, 3, -1},
#ifdef SYS_symlink
    {SYS_symlink, "symlink", CallKind::Write, -1, 1, -1},  // the link made
    {SYS_link, "link", CallKind::Write, -1, 1, -1},
#endif
    {SYS_symlinkat, "symlinkat", CallKind::Write, 1, 2, -1},
    {SYS_linkat, "linkat", CallKind::Write, 2, 3, -1},
    {SYS_truncate, "truncate", CallKind::Write, -1, 0, -1},
};

// The calls whose flags argument can say AT_EMPTY_PATH: with it, glibc's fstat (newfstatat(fd, "",
// AT_EMPTY_PATH)) and statx on a descriptor name no path, and the filter lets them run untraced
// (the descriptor's open was seen). A non-empty path with AT_EMPTY_PATH, which no libc makes, is
// missed.
inline bool may_name_no_path(const TracedCall& call) { return call.kind == CallKind::LookUp && call.flags_arg >= 0; }

}  // namespace jailbuild::trace
