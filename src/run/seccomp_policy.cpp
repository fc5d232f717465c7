// The system call denylist: everything else is allowed, as in Docker's and bubblewrap's filters,
// so that ordinary programs run unchanged; what is refused is what reaches outside the jail.
//
// Compiled once, when jailbuild is built: building a filter of some fifty rules with libseccomp
// and attaching it next to a second, hand-written one cost a run 1.5 ms (two JIT compiles); the
// runner now attaches one program it carries as bytes.
#include "seccomp_policy.hpp"
#include "trace/traced_calls.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

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

// System calls newer than this libseccomp (and so out of reach of its rules) are refused with
// ENOSYS by hand-written instructions before libseccomp's program: a denylist cannot refuse a call
// it does not know, and ENOSYS makes programs fall back to the older calls the denylist covers.
// fchmodat2 (Linux 6.6) is such a call: it takes a mode.
// Since Linux 5.1 every architecture numbers new calls alike, from 424 up without gaps, so the
// first number from 424 that this libseccomp cannot name is where its knowledge ends.
int first_unknown_syscall() {
  constexpr int kFirstSharedNumber = 424;
  const uint32_t native = ::seccomp_arch_native();
  int call = kFirstSharedNumber;
  for (char* name; (name = ::seccomp_syscall_resolve_num_arch(native, call)) != nullptr; ++call) ::free(name);
  return call;
}

// Namespace flags of clone(2): each would give the program a namespace of its own to mount in.
constexpr std::array<unsigned long, 7> kNamespaceFlags{CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                                       CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

// Terminal ioctls that push input into the terminal (TIOCSTI) or reach the console (TIOCLINUX):
// the kernel compares only the low 32 bits of the request, so the filter does too.
constexpr std::array<unsigned long, 2> kDeniedIoctls{TIOCSTI, TIOCLINUX};

struct ContextDeleter {
  void operator()(scmp_filter_ctx context) const { ::seccomp_release(context); }
};

Error seccomp_failed(const std::string& what, int result) { return system_error("seccomp: " + what, -result); }

// The denylist's rules, for libseccomp to compile.
Result<std::unique_ptr<void, ContextDeleter>> denylist() {
  // Only the native ABI is in the filter: a 32-bit (int 0x80) or x32 system call is not matched
  // by any rule and kills the process (SCMP_FLTATR_ACT_BADARCH), since its numbers differ.
  std::unique_ptr<void, ContextDeleter> context(::seccomp_init(SCMP_ACT_ALLOW));
  if (!context) return Error{"seccomp: cannot create a filter"};
  scmp_filter_ctx filter = context.get();
  if (int rc = ::seccomp_attr_set(filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0)
    return seccomp_failed("refuse foreign ABIs", rc);
  const uint32_t refuse = SCMP_ACT_ERRNO(EPERM);
  for (const char* name : kDenied) {
    const int call = ::seccomp_syscall_resolve_name(name);
    if (call == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: refused by the unknown-call prefix
    if (int rc = ::seccomp_rule_add(filter, refuse, call, 0); rc < 0) return seccomp_failed(name, rc);
  }
  for (unsigned long flag : kNamespaceFlags)
    if (int rc = ::seccomp_rule_add(filter, refuse, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc < 0)
      return seccomp_failed("clone", rc);
  // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes glibc fall back to clone.
  if (int rc = ::seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc < 0)
    return seccomp_failed("clone3", rc);
  for (unsigned long request : kDeniedIoctls)
    if (int rc =
            ::seccomp_rule_add(filter, refuse, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, request));
        rc < 0)
      return seccomp_failed("ioctl", rc);
  // Creating files with a setuid or setgid bit, by any call that takes a mode.
  for (const ModeCall& call : kModeCalls) {
    const int number = ::seccomp_syscall_resolve_name(call.name);
    // Not in this ABI (open, chmod on newer architectures), or newer than this libseccomp
    // (fchmodat2 before 2.5.5), and then refused whole by the unknown-call prefix.
    if (number == __NR_SCMP_ERROR) continue;
    for (unsigned long bit : kPrivilegeBits) {
      const scmp_arg_cmp mode{call.mode_arg, SCMP_CMP_MASKED_EQ, bit, bit};
      if (call.flags_arg < 0) {
        if (int rc = ::seccomp_rule_add(filter, refuse, number, 1, mode); rc < 0) return seccomp_failed(call.name, rc);
        continue;
      }
      for (unsigned long creating : kCreatingFlags) {
        const scmp_arg_cmp flags{static_cast<unsigned>(call.flags_arg), SCMP_CMP_MASKED_EQ, creating, creating};
        if (int rc = ::seccomp_rule_add(filter, refuse, number, 2, flags, mode); rc < 0)
          return seccomp_failed(call.name, rc);
      }
    }
  }
  // openat2 passes its mode in memory, out of a filter's reach: ENOSYS makes callers fall back to
  // openat, which the rules above see.
  if (int rc = ::seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0); rc < 0)
    return seccomp_failed("openat2", rc);
  return context;
}

// libseccomp writes its program to a descriptor only: through a memfd, read back.
Result<std::vector<sock_filter>> exported_program(scmp_filter_ctx filter) {
  const UniqueFd memfd(::memfd_create("seccomp-filter", MFD_CLOEXEC));
  if (!memfd.valid()) return system_error("seccomp: memfd_create", errno);
  const int fd = memfd.get();
  if (int rc = ::seccomp_export_bpf(filter, fd); rc < 0) return seccomp_failed("export the filter", rc);
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
    return Error{"seccomp: the exported filter has " + std::to_string(size) + " bytes"};
  std::vector<sock_filter> program(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(fd, program.data(), static_cast<std::size_t>(size), 0) != size)
    return system_error("seccomp: read the exported filter", errno);
  return program;
}

// Instructions put before libseccomp's program: ENOSYS for every native call numbered from
// first_unknown_syscall() on. Calls of other ABIs, and x32 calls (numbers with bit 30 set), go on
// to libseccomp's program, which kills the process for them.
std::vector<sock_filter> unknown_call_prefix() {
  constexpr uint32_t kX32SyscallBit = 0x40000000;
  const auto first = static_cast<uint32_t>(first_unknown_syscall());
  // Jump offsets count instructions after the jump: "to the program" is to just past this prefix.
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ::seccomp_arch_native(), 0, 4),  // another ABI: to the program
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, 2, 0),  // x32: to the program
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, first, 0, 1),           // known: to the program
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
  };
}

// The trace filter's rules: SECCOMP_RET_TRACE for the calls of kTracedCalls, so that the kernel
// stops the workload for its tracer on those alone; every other call is allowed (the default
// filter, loaded after it, still refuses what it refuses: the stricter action wins).
Result<std::unique_ptr<void, ContextDeleter>> trace_rules() {
  std::unique_ptr<void, ContextDeleter> context(::seccomp_init(SCMP_ACT_ALLOW));
  if (!context) return Error{"seccomp: cannot create a filter"};
  scmp_filter_ctx filter = context.get();
  for (const trace::TracedCall& call : trace::kTracedCalls) {
    const int number = static_cast<int>(call.number);
    int rc = 0;
    if (trace::may_name_no_path(call)) {
      // fstat and statx on a descriptor run untraced (see may_name_no_path).
      const scmp_arg_cmp named = {static_cast<unsigned>(call.flags_arg), SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0};
      rc = ::seccomp_rule_add(filter, SCMP_ACT_TRACE(0), number, 1, named);
    } else {
      rc = ::seccomp_rule_add(filter, SCMP_ACT_TRACE(0), number, 0);
    }
    if (rc < 0) return seccomp_failed(call.name, rc);
  }
  return context;
}

}  // namespace

Result<std::vector<sock_filter>> compile_trace_filter() {
  auto context = TRY(trace_rules());
  return exported_program(context.get());
}

Result<std::vector<sock_filter>> compile_default_filter() {
  auto context = TRY(denylist());
  std::vector<sock_filter> program = unknown_call_prefix();
  const std::vector<sock_filter> rules = TRY(exported_program(context.get()));
  program.insert(program.end(), rules.begin(), rules.end());
  // The kernel's limit (BPF_MAXINSNS): far above this filter's size, checked so a growing rule
  // set fails the build rather than a run.
  if (program.size() > 4096)
    return Error{"seccomp: the filter has " + std::to_string(program.size()) + " instructions"};
  return program;
}

}  // namespace jailbuild::run
