#include "tracer.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>

#include <spdlog/spdlog.h>

#include "util/paths.hpp"
#include "util/system_error.hpp"

namespace jailbuild::trace {
namespace {

// The table of traced_calls.hpp by number, built once.
const TracedCall* traced_call(unsigned long number) {
  static const std::unordered_map<unsigned long, const TracedCall*> by_number = [] {
    std::unordered_map<unsigned long, const TracedCall*> calls;
    for (const TracedCall& call : kTracedCalls) calls.emplace(static_cast<unsigned long>(call.number), &call);
    return calls;
  }();
  const auto found = by_number.find(number);
  return found == by_number.end() ? nullptr : found->second;
}

// The AUDIT_ARCH_* of this build: the trace filter lets no other ABI's call through.
std::uint32_t native_architecture() {
#if defined(__x86_64__)
  return AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  return AUDIT_ARCH_AARCH64;
#else
#error "trace: name this architecture's AUDIT_ARCH"
#endif
}

// `size` bytes of the tracee's memory at `address`; false if any is unreadable.
bool read_memory(pid_t pid, unsigned long address, void* into, std::size_t size) {
  const iovec local{into, size};
  const iovec remote{reinterpret_cast<void*>(address), size};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

// The NUL-terminated string at `address` in the tracee, up to PATH_MAX bytes, read a page at a
// time so that a string ending just before an unmapped page is still read; nullopt if unreadable
// or unterminated.
std::optional<std::string> read_path(pid_t pid, unsigned long address) {
  constexpr std::size_t kPage = 4096;
  std::string path;
  std::array<char, kPage> chunk{};
  while (path.size() < PATH_MAX) {
    const std::size_t size = kPage - address % kPage;
    if (!read_memory(pid, address, chunk.data(), size)) return std::nullopt;
    const auto end = std::find(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(size), '\0');
    path.append(chunk.begin(), end);
    if (end != chunk.begin() + static_cast<std::ptrdiff_t>(size)) return path;
    address += size;
  }
  return std::nullopt;
}

// What /proc/PID/LINK leads to, as the tracee's own mount namespace names it; "" unless an
// absolute path (a pipe, a socket, a deleted directory).
std::string proc_link(pid_t pid, const std::string& link) {
  std::array<char, PATH_MAX> target{};
  const std::string name = "/proc/" + std::to_string(pid) + "/" + link;
  const ssize_t length = ::readlink(name.c_str(), target.data(), target.size() - 1);
  if (length <= 0 || target[0] != '/') return "";
  const std::string text(target.data(), static_cast<std::size_t>(length));
  return text.ends_with(" (deleted)") ? "" : text;
}

// `path` made absolute as the call resolves it: against the working directory or the directory
// descriptor `dirfd`. "" when the base is not a directory of the file system.
// "/usr/share/" and "/usr/./share" as "/usr/share": one name per path in the log.
std::string absolute_for(pid_t pid, int dirfd, const std::string& path) {
  std::string base;
  if (!path.starts_with('/')) {
    base = dirfd == AT_FDCWD ? proc_link(pid, "cwd") : proc_link(pid, "fd/" + std::to_string(dirfd));
    if (base.empty()) return "";
  }
  return lexically_normal(base.empty() ? path : join_path(base, path));
}

// The kernel's own file systems: what a process reads there is the kernel's, not the host's
// files, and a root never holds them (the jail mounts its own).
bool in_kernel_file_system(const std::string& path) {
  for (const char* top : {"/proc", "/sys", "/dev"})
    if (path == top || (path.starts_with(top) && path[std::string_view(top).size()] == '/')) return true;
  return false;
}

PathUse use_of_open(unsigned long flags) {
  const bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0;
  return writes ? PathUse::Write : PathUse::Read;
}

bool is_stop_signal(int signal) {
  return signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU;
}

void resume(pid_t pid, int signal = 0) { ::ptrace(PTRACE_CONT, pid, 0, static_cast<long>(signal)); }

}  // namespace

Result<void> SyscallTracer::seize(pid_t child) {
  constexpr long kOptions = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                            PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
  if (::ptrace(PTRACE_SEIZE, child, 0, kOptions) != 0)
    return system_error("trace: attach to the workload (pid " + std::to_string(child) + ")", errno);
  child_ = child;
  tracees_[child];
  return {};
}

std::optional<int> SyscallTracer::on_status(pid_t pid, int status) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    tracees_.erase(pid);
    if (pid == child_) return status;
    return std::nullopt;
  }
  if (!WIFSTOPPED(status)) return std::nullopt;
  Tracee& tracee = tracees_[pid];
  const int signal = WSTOPSIG(status);
  const int event = status >> 16;
  switch (event) {
    case PTRACE_EVENT_SECCOMP: on_seccomp_stop(pid, tracee); return std::nullopt;
    case PTRACE_EVENT_EXEC: on_exec(pid); return std::nullopt;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      unsigned long born = 0;
      if (::ptrace(PTRACE_GETEVENTMSG, pid, 0, &born) == 0) {
        Tracee& child = tracees_[static_cast<pid_t>(born)];
        if (child.program.empty()) child.program = tracees_[pid].program;
      }
      resume(pid);
      return std::nullopt;
    }
    case PTRACE_EVENT_STOP:
      // A group stop (SIGSTOP and the terminal's) stays a stop until SIGCONT, as without a tracer;
      // anything else here is a new process's first stop.
      if (is_stop_signal(signal))
        ::ptrace(PTRACE_LISTEN, pid, 0, 0);
      else
        resume(pid);
      return std::nullopt;
    default: break;
  }
  if (signal == (SIGTRAP | 0x80)) {
    on_syscall_exit(pid, tracee);
    return std::nullopt;
  }
  // A signal on its way to the process: delivered.
  resume(pid, signal == SIGTRAP && event != 0 ? 0 : signal);
  return std::nullopt;
}

void SyscallTracer::on_seccomp_stop(pid_t pid, Tracee& tracee) {
  __ptrace_syscall_info info{};
  const long size = ::ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info);
  if (size <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP) return resume(pid);
  // Every call the trace filter stops on is one the workload makes (run --seccomp traced).
  if (info.arch == native_architecture()) log_.system_calls.insert(static_cast<long>(info.seccomp.nr));
  const TracedCall* call = traced_call(static_cast<unsigned long>(info.seccomp.nr));
  if (call == nullptr) return resume(pid);
  const auto& args = info.seccomp.args;
  const auto named = read_path(pid, args[static_cast<std::size_t>(call->path_arg)]);
  if (!named || named->empty()) return resume(pid);  // unreadable, or a descriptor's (AT_EMPTY_PATH)
  const int dirfd = call->dirfd_arg >= 0 ? static_cast<int>(args[static_cast<std::size_t>(call->dirfd_arg)]) : AT_FDCWD;
  std::string path = absolute_for(pid, dirfd, *named);
  if (path.empty() || in_kernel_file_system(path)) return resume(pid);
  PathUse use = PathUse::LookUp;
  switch (call->kind) {
    case CallKind::Open: {
      unsigned long flags = 0;
      if (call->flags_arg >= 0) {
        flags = args[static_cast<std::size_t>(call->flags_arg)];
      } else {  // openat2: the flags are open_how's first field
        open_how how{};
        if (!read_memory(pid, args[kOpenHowArg], &how.flags, sizeof how.flags)) return resume(pid);
        flags = how.flags;
      }
      use = use_of_open(flags);
      break;
    }
    case CallKind::Exec: use = PathUse::Execute; break;
    case CallKind::LookUp: use = PathUse::LookUp; break;
    case CallKind::Write: use = PathUse::Write; break;
  }
  tracee.pending = PendingCall{call, std::move(path), use};
  // On to the call's exit, where its result is.
  ::ptrace(PTRACE_SYSCALL, pid, 0, 0);
}

void SyscallTracer::on_syscall_exit(pid_t pid, Tracee& tracee) {
  __ptrace_syscall_info info{};
  const long size = ::ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info);
  if (tracee.pending && size > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT) {
    const int error = info.exit.is_error ? static_cast<int>(-info.exit.rval) : 0;
    record(tracee, *tracee.pending, error);
  }
  tracee.pending.reset();
  resume(pid);
}

// A successful execve: the kernel reports it before the call returns, under the process's id even
// when another of its threads called it (PTRACE_GETEVENTMSG names that thread).
void SyscallTracer::on_exec(pid_t pid) {
  unsigned long former = 0;
  if (::ptrace(PTRACE_GETEVENTMSG, pid, 0, &former) == 0 && static_cast<pid_t>(former) != pid) {
    auto thread = tracees_.find(static_cast<pid_t>(former));
    if (thread != tracees_.end()) {
      tracees_[pid] = std::move(thread->second);
      tracees_.erase(static_cast<pid_t>(former));
    }
  }
  Tracee& tracee = tracees_[pid];
  if (tracee.pending && tracee.pending->use == PathUse::Execute) {
    record(tracee, *tracee.pending, 0);
    tracee.program = tracee.pending->path;
  }
  tracee.pending.reset();
  resume(pid);  // PTRACE_CONT: no stop at the exit of a call that has just succeeded
}

void SyscallTracer::record(const Tracee& tracee, const PendingCall& pending, int error) {
  // A jail chooses its paths (run --report-missing traces what may be hostile): the log is bounded,
  // so that millions of distinct names cannot grow jailbuild without end. Far above any real
  // workload's (Python's imports: some 2,000).
  constexpr std::size_t kMostAccesses = 200'000;
  if (log_.accesses.size() >= kMostAccesses) {
    if (!log_.truncated) spdlog::warn("trace: more than {} distinct paths used; the rest are not recorded", kMostAccesses);
    log_.truncated = true;
    return;
  }
  if (!seen_.emplace(pending.path, pending.use, error).second) return;
  log_.accesses.push_back({pending.path, pending.use, error, pending.call->name, tracee.program});
}

}  // namespace jailbuild::trace
