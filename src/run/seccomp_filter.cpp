// The system call denylist: everything else is allowed, as in Docker's and bubblewrap's filters,
// so that ordinary programs run unchanged; what is refused is what reaches outside the jail.
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include <array>
#include <cerrno>
#include <memory>

#include "jail_setup.hpp"

namespace jailbuild::run {
namespace {

// Refused with EPERM: the file system view (mount and its new API, pivot_root, chroot), other
// namespaces (unshare, setns), the kernel itself (modules, kexec, bpf, perf, keyrings), other
// processes (ptrace, process_vm_*), and file handles, which open files by inode number on a
// mounted file system, bypassing the jail's paths (the "shocker" escape).
constexpr std::array kDenied{
    "mount", "umount2", "pivot_root", "chroot",                                     // the file system view
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "unshare", "setns",                                                             // namespaces
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",  // the kernel
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "ptrace", "process_vm_readv", "process_vm_writev",                              // other processes
    "open_by_handle_at",                                                            // files by inode
};

// Namespace flags of clone(2): each would give the program a namespace of its own to mount in.
constexpr std::array<unsigned long, 7> kNamespaceFlags{CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                                                       CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

// Terminal ioctls that push input into the terminal (TIOCSTI) or reach the console (TIOCLINUX):
// the kernel compares only the low 32 bits of the request, so the filter does too.
constexpr std::array<unsigned long, 2> kDeniedIoctls{TIOCSTI, TIOCLINUX};

struct ContextDeleter {
  void operator()(scmp_filter_ctx context) const { ::seccomp_release(context); }
};

Error seccomp_failed(const std::string& what, int result) {
  errno = -result;
  return failed("seccomp: " + what);
}

}  // namespace

Step load_seccomp_filter() {
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
    if (call == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp, and so to this kernel's ABI table
    if (int rc = ::seccomp_rule_add(filter, refuse, call, 0); rc < 0) return seccomp_failed(name, rc);
  }
  for (unsigned long flag : kNamespaceFlags)
    if (int rc = ::seccomp_rule_add(filter, refuse, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)); rc < 0)
      return seccomp_failed("clone", rc);
  // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes glibc fall back to clone.
  if (int rc = ::seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc < 0)
    return seccomp_failed("clone3", rc);
  for (unsigned long request : kDeniedIoctls)
    if (int rc = ::seccomp_rule_add(filter, refuse, SCMP_SYS(ioctl), 1,
                                    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, request));
        rc < 0)
      return seccomp_failed("ioctl", rc);
  if (int rc = ::seccomp_load(filter); rc < 0) return seccomp_failed("load the filter", rc);
  return std::nullopt;
}

}  // namespace jailbuild::run
