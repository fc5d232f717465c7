// The default filter's rules as data (seccomp_rules.hpp): one table, which the build-time
// compiler (seccomp_policy.cpp, libseccomp) and the OCI export (src/export/) both read.
#include "seccomp_rules.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>

namespace jailbuild::run {
namespace {

// Refused with EPERM: the file system view (mount and its new API, pivot_root, chroot), other
// namespaces (unshare, setns), the kernel itself (modules, kexec, bpf, perf, keyrings), other
// processes (ptrace, process_vm_*), and file handles, which open files by inode number on a
// mounted file system, bypassing the jail's paths (the "shocker" escape).
constexpr std::array kDenied{
    "mount",
    "umount2",
    "pivot_root",
    "chroot",  // the file system view
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",  // namespaces
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",  // the kernel
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",  // other processes
    "open_by_handle_at",  // files by inode
    // io_uring opens, reads and writes files on the kernel's own threads, out of any filter's
    // sight (Docker refuses it too).
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
};

// A setuid or setgid bit in a mode: refused wherever a mode is given, so that nothing in a jail
// can make a file that would run with its owner's ids outside it (through --writable or a
// --bind). The bits are tested one at a time: a rule can only compare a masked value for equality.
constexpr std::array<unsigned long, 2> kPrivilegeBits{S_ISUID, S_ISGID};

// The calls that take a mode, with the position of the mode argument, and for the opening calls
// the position of the flags that make them create (O_CREAT, O_TMPFILE); -1 for none.
struct ModeCall {
  const char* name;
  unsigned mode_arg;
  int flags_arg;
};
constexpr std::array kModeCalls{ModeCall{"chmod", 1, -1},     ModeCall{"fchmod", 1, -1}, ModeCall{"fchmodat", 2, -1},
                                ModeCall{"fchmodat2", 2, -1}, ModeCall{"mknod", 1, -1},  ModeCall{"mknodat", 2, -1},
                                ModeCall{"creat", 1, -1},     ModeCall{"open", 2, 1},    ModeCall{"openat", 3, 2}};
// __O_TMPFILE, the bit O_TMPFILE adds to O_DIRECTORY: glibc does not export it.
constexpr unsigned long kCreatingFlags[] = {O_CREAT, O_TMPFILE & ~static_cast<unsigned long>(O_DIRECTORY)};

// Namespace flags of clone(2): each would give the program a namespace of its own to mount in.
constexpr std::array<unsigned long, 7> kNamespaceFlags{CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                                       CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

// Terminal ioctls that push input into the terminal (TIOCSTI) or reach the console (TIOCLINUX):
// the kernel compares only the low 32 bits of the request, so the filter does too.
constexpr std::array<unsigned long, 2> kDeniedIoctls{TIOCSTI, TIOCLINUX};

// See allowlist_baseline(). Grouped by why each is harmless; a name missing from an architecture
// (open on aarch64) is skipped where the names are compiled.
constexpr std::array kBaseline{
    // jailbuild's own path once the filters are loaded: the signal mask, fexecve (execveat) of the
    // jail's init, and the init's calls (src/run/init/jail_init_syscalls.h): it forks the program,
    // gives it a process group, executes it, passes signals on and reaps.
    "rt_sigprocmask", "execveat", "execve", "clone", "setpgid", "kill", "wait4", "rt_sigtimedwait", "exit_group",
    "exit",
    // The program's own memory.
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore",
    // Descriptors it holds: reading, writing, seeking, duplicating, waiting on, closing them.
    "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2", "lseek",
    "close", "close_range", "dup", "dup2", "dup3", "fcntl", "fstat", "newfstatat", "statx", "fstatfs", "fsync",
    "fdatasync", "ftruncate", "getdents64", "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "pipe", "pipe2", "eventfd2",
    // Threads and their synchronisation.
    "futex", "set_robust_list", "get_robust_list", "set_tid_address", "rseq", "sched_yield", "sched_getaffinity",
    "arch_prctl",
    // Signals to itself.
    "rt_sigaction", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending", "sigaltstack", "tgkill",
    // The time, and waiting for it.
    "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
    // Its own ids and facts.
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "getpgrp", "getpgid", "getsid", "getcwd", "uname", "getrlimit", "prlimit64", "getrusage", "sysinfo", "umask",
    "getrandom", "waitid",
};

}  // namespace

std::vector<SeccompRule> allowing_rules() {
  unsigned long namespaces = 0;
  for (const unsigned long flag : kNamespaceFlags) namespaces |= flag;
  unsigned long creating = 0;
  for (const unsigned long flag : kCreatingFlags) creating |= flag;
  unsigned long privileged = 0;
  for (const unsigned long bit : kPrivilegeBits) privileged |= bit;
  std::vector<SeccompRule> rules = {{"clone", 0, {{0, namespaces, 0}}}, {"ioctl", 0, {}}};
  for (const ModeCall& call : kModeCalls) {
    rules.push_back({call.name, 0, {{call.mode_arg, privileged, 0}}});
    if (call.flags_arg >= 0) rules.push_back({call.name, 0, {{static_cast<unsigned>(call.flags_arg), creating, 0}}});
  }
  return rules;
}

bool refused_whole(const std::string& name) {
  for (const SeccompRule& rule : default_policy_rules())
    if (rule.name == name && rule.conditions.empty()) return true;
  return false;
}

const std::vector<std::string>& allowlist_baseline() {
  static const std::vector<std::string> names(kBaseline.begin(), kBaseline.end());
  return names;
}

std::vector<SeccompRule> default_policy_rules() {
  std::vector<SeccompRule> rules;
  for (const char* name : kDenied) rules.push_back({name, EPERM, {}});
  for (unsigned long flag : kNamespaceFlags) rules.push_back({"clone", EPERM, {{0, flag, flag}}});
  // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes glibc fall back to clone.
  rules.push_back({"clone3", ENOSYS, {}});
  for (unsigned long request : kDeniedIoctls) rules.push_back({"ioctl", EPERM, {{1, 0xffffffffUL, request}}});
  // Creating files with a setuid or setgid bit, by any call that takes a mode.
  for (const ModeCall& call : kModeCalls)
    for (unsigned long bit : kPrivilegeBits) {
      if (call.flags_arg < 0) {
        rules.push_back({call.name, EPERM, {{call.mode_arg, bit, bit}}});
        continue;
      }
      for (unsigned long creating : kCreatingFlags)
        rules.push_back(
            {call.name, EPERM, {{static_cast<unsigned>(call.flags_arg), creating, creating}, {call.mode_arg, bit, bit}}});
    }
  // openat2 passes its mode in memory, out of a filter's reach: ENOSYS makes callers fall back to
  // openat, which the rules above see.
  rules.push_back({"openat2", ENOSYS, {}});
  return rules;
}

}  // namespace jailbuild::run
