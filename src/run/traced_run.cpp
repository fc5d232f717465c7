// The runner traced: `add --trace` runs a workload on the host through the jail's own machinery,
// pointed at the host's "/" instead of a root; `run --report-missing` runs a jail as usual. Both
// with jailbuild's tracer attached (src/trace/tracer.hpp).
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string_view>

#include <spdlog/spdlog.h>

#include "jail_setup.hpp"
#include "jailbuild/trace.hpp"
#include "jailbuild/types.hpp"
#include "trace/tracer.hpp"

extern char** environ;

namespace jailbuild {
namespace {

// Where the workload starts: where jailbuild was started, as a shell would run it, unless that is
// in a scratch directory the workload gets empty (then "/").
std::string working_directory() {
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return "/";
  const std::string here = cwd;
  for (const std::string_view scratch : {"/tmp", "/var/tmp", "/run"}) {
    if (here.starts_with(scratch) && (here.size() == scratch.size() || here[scratch.size()] == '/')) {
      spdlog::warn("--trace: the workload starts in / (the working directory {} is in its empty {})", here, scratch);
      return "/";
    }
  }
  return here;
}

TraceLog traced(const RunOptions& options) {
  trace::SyscallTracer tracer;
  const int status = run_in_jail(options, &tracer);
  TraceLog log = tracer.take_log();
  log.exit_status = status;
  return log;
}

}  // namespace

Result<TraceLog> trace_on_host(const HostTrace& trace) {
  if (trace.command.empty()) return Error::usage("--trace: no command to trace after --");
  RunOptions options;
  options.root = std::string("/");  // constructed, then moved: GCC 12 warns falsely (-Wrestrict) on = "/"
  options.host_view = true;
  options.program = trace.command.front();
  options.arguments.assign(trace.command.begin() + 1, trace.command.end());
  options.identity = TRY(resolve_identity(trace.user, std::nullopt, std::nullopt));
  // The environment `run` gives a program (PATH, HOME, TERM), so that the trace sees what a run
  // of the same command will do: the same PATH finds the same programs. And the LANG `run` will
  // set: the caller's, whose locale files the trace then adds (so that the root holds it, which
  // is when `run` passes it on), or else C.UTF-8, which the locale rule adds.
  std::vector<std::string> caller;
  for (char** entry = environ; *entry != nullptr; ++entry) caller.emplace_back(*entry);
  const char* lang = ::getenv("LANG");
  const std::vector<std::string> assignments = {std::string("LANG=") +
                                                (lang != nullptr && *lang != '\0' ? lang : kRunLocale)};
  options.environment = TRY(jail_environment(caller, false, options.identity, assignments));
  options.lang_from_root = false;
  options.cwd = working_directory();
  options.writable = trace.writable;
  // No Landlock: the workload must meet the host's own answers (a read-only file system says
  // EROFS, which is how write_needs tells a write the workload needs).
  options.landlock = false;
  // /tmp is the jail's own tmpfs already; /var/tmp and /run are where programs keep what they make
  // for a while (locks, sockets, caches): fresh and empty too, so that the host's stay untouched
  // and what the workload finds there is what it made.
  for (const char* scratch : {"/var/tmp", "/run"}) options.mounts.push_back({JailMount::Kind::Tmpfs, "", scratch, {}});
  // As root: the workload reads the host as root does (no user namespace, whose unmapped ids would
  // make root's 0600 files unreadable); the capabilities are still dropped and the host is read-only.
  options.host_root = ::geteuid() == 0;
  spdlog::info("--trace: running `{}` on the host ({}), traced", command_line(trace.command),
               trace.writable ? "read-write: --trace-writable" : "read-only");
  return traced(options);
}

TraceLog run_traced(const RunOptions& options) { return traced(options); }

Result<TracedWorkload> trace_for_root(const HostTrace& trace) {
  const std::string command = command_line(trace.command);
  const TraceLog log = TRY(trace_on_host(trace));
  std::vector<TracedRequirement> used = traced_requirements(log, trace);
  // Nothing used and one of run's own statuses: the workload never ran (a setup failure, a
  // command not found or not executable), and there is nothing to add.
  const bool never_ran =
      log.exit_status == kRunFailed || log.exit_status == kRunCannotExecute || log.exit_status == kRunNotFound;
  if (never_ran && used.empty()) return Error{"--trace: `" + command + "` could not be run on the host (see above)"};
  if (log.exit_status != 0)
    spdlog::warn("--trace: `{}` exited with status {}; what it used is added", command, log.exit_status);
  for (const WriteNeed& need : write_needs(log, trace))
    spdlog::warn(
        "--trace: `{}` could not write {}: in a jail it needs {} writable (run --bind HOST_DIR:{} or --tmpfs {})",
        command, need.path, need.directory, need.directory, need.directory);
  spdlog::info("--trace: `{}` used {} paths of the host", command, used.size());
  return TracedWorkload{std::move(used), log.system_calls};
}

}  // namespace jailbuild
