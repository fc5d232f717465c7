// Tracing a workload (add --trace, run --report-missing): what it looked for, found and failed to
// write, as jailbuild on the host saw it through ptrace, and what that means for a root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "jailbuild/requirement.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild {

// How a traced call used its path.
enum class PathUse {
  Read,     // opened for reading (a directory opened is listed)
  Execute,  // execve, execveat
  LookUp,   // stat, access, readlink, chdir: resolved, its inode read
  Write,    // opened for writing, made, removed or renamed
};

const char* to_string(PathUse use);

// One path a traced process used, as the process named it (made absolute against its working
// directory or directory descriptor, as its own mount namespace shows them), and how it ended.
struct PathAccess {
  std::string path;
  PathUse use = PathUse::Read;
  int error = 0;        // errno of the call, 0 for success
  std::string call;     // the system call: "openat"
  std::string program;  // what the process was running: the path of its last execve
  bool operator==(const PathAccess&) const = default;
};

// Everything a traced run used, each (path, use, error) once, in the order first seen; and how
// the workload ended.
struct TraceLog {
  std::vector<PathAccess> accesses;
  // The numbers of the native system calls the workload made outside the allowlist's baseline,
  // each once: the trace filter lets the baseline run without a stop (src/run/seccomp_rules.hpp).
  std::set<long> system_calls;
  int exit_status = 0;  // as `run` returns it (128+N for signal N; kRunFailed and the like)
  bool truncated = false;  // more distinct accesses than the tracer keeps: the rest were dropped
};

// ---- add --trace --------------------------------------------------------------------------------

struct HostTrace {
  std::vector<std::string> command;   // CMD ARGS..., CMD found in PATH as a shell would
  std::optional<std::string> user;    // --trace-user: a name or number looked up on the host
  bool writable = false;              // --trace-writable: the workload may write the host
  std::vector<std::string> excluded;  // --trace-exclude: absolute host directories
};

// Runs the workload once on the host, traced: the host's file system read-only (unless
// writable), fresh tmpfs on /tmp, /var/tmp and /run, new mount, PID and IPC namespaces, the
// runner's identity and capability steps. Its standard streams pass through. The log holds its
// exit status; a setup failure is an error.
Result<TraceLog> trace_on_host(const HostTrace& trace);

// What a trace of `trace.command` adds to a root: each existing host path it read, executed or
// looked up with success, outside /proc, /sys, /dev, the scratch tmpfs and trace.excluded, once.
std::vector<TracedRequirement> traced_requirements(const TraceLog& log, const HostTrace& trace);

// A write the workload could not make because the host was read-only: the directory it needs
// writable in the jail.
struct WriteNeed {
  std::string path;       // what it tried to write
  std::string directory;  // where: the path's parent
};
std::vector<WriteNeed> write_needs(const TraceLog& log, const HostTrace& trace);

// add --trace and apply: the workload traced on the host (trace_on_host) and what it used, as
// requirements; its failure (a status but 0) and the writes it could not make are warnings, what it
// used up to there is added. A workload that never ran (could not be set up, found or executed,
// and used nothing) is an error.
struct TracedWorkload {
  std::vector<TracedRequirement> used;
  std::set<long> system_calls;  // as TraceLog's: for the root's allowlist (record_system_calls)
};
Result<TracedWorkload> trace_for_root(const HostTrace& trace);

// The command line as one string for the reasons shown to the user: arguments quoted for a shell
// where they need it.
std::string command_line(const std::vector<std::string>& command);

// ---- run --report-missing -----------------------------------------------------------------------

// `run` with every process of the jail traced; the log holds the program's exit status.
TraceLog run_traced(const RunOptions& options);

// Paths the jail looked up and did not find (ENOENT) that exist on the host, each once with the
// first program that looked for it: outside /proc, /sys, /dev, /tmp and the run's own mounts.
std::vector<PathAccess> missing_from_root(const TraceLog& log, const RunOptions& options);

}  // namespace jailbuild
