// The tracer: jailbuild on the host, ptrace-attached to a jail's first process and, through
// PTRACE_O_TRACEFORK/VFORK/CLONE, to everything it starts. The kernel stops a traced process only
// on the calls of traced_calls.hpp (the trace filter returns SECCOMP_RET_TRACE for them), as
// `strace --seccomp-bpf` does: at that stop the tracer reads the call's path from the process's
// memory, resumes it to the call's exit, and records the path with the call's result there.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "jailbuild/result.hpp"
#include "jailbuild/trace.hpp"
#include "traced_calls.hpp"

namespace jailbuild::trace {

class SyscallTracer {
 public:
  // Attaches to `child` (PTRACE_SEIZE, which does not stop it) with the options that follow its
  // descendants and its execs; the tracees die with jailbuild (PTRACE_O_EXITKILL).
  Result<void> seize(pid_t child);

  // Handles one status waitpid(-1, __WALL) returned for `pid` and resumes the process. Returns the
  // exit status (as `run` reports it) once the first process, `child`, has ended.
  std::optional<int> on_status(pid_t pid, int status);

  TraceLog take_log() { return std::move(log_); }

 private:
  // A call stopped at its entry, waiting for its exit.
  struct PendingCall {
    const TracedCall* call = nullptr;
    std::string path;
    PathUse use = PathUse::Read;
  };
  struct Tracee {
    std::optional<PendingCall> pending;
    std::string program;  // its last successful execve's path
  };

  void on_seccomp_stop(pid_t pid, Tracee& tracee);
  void on_syscall_exit(pid_t pid, Tracee& tracee);
  void on_exec(pid_t pid);
  void record(const Tracee& tracee, const PendingCall& pending, int error);

  pid_t child_ = -1;
  std::unordered_map<pid_t, Tracee> tracees_;
  TraceLog log_;
  std::set<std::tuple<std::string, PathUse, int>> seen_;  // each (path, use, error) recorded once
};

}  // namespace jailbuild::trace
