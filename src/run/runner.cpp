// `run`: jailbuild stays on the host, passes signals on and returns the exit status; a child it
// clones into new namespaces sets the jail up and then execs the jail's init from a sealed memfd
// (init/jail_init.c), which starts the program as its own process group, reaps whatever it leaves
// behind and exits with its status. The program cannot be pid 1: the kernel drops signals to a
// namespace's init that it has no handler for, so `kill -TERM` would not stop it.
//
// The setup is three lists, run in order and logged step by step with -vv: what jailbuild
// prepares before the clone (prepare), what it does to the child while a pipe holds it
// (kParentSteps: the id maps, the tracer's attach), and what the child does to itself (kChildSteps:
// session, mounts, limits, identity, descriptors, the trace filter, seccomp), each step in the
// module of its kernel facility (see jail_setup.hpp). Any failure after the clone takes the one way
// back, abandon(). Traced (add --trace, run --report-missing: traced_run.cpp), jailbuild's tracer
// follows every process of the jail, and the supervising loop hands it their ptrace stops.
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "init/jail_init.h"
#include "jail_setup.hpp"
#include "landlock.hpp"
#include "jailbuild/run.hpp"
#include "jailbuild/seccomp_allowlist.hpp"
#include "trace/tracer.hpp"
#include "util/root_dir.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {
namespace {

sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : kJailForwardedSignals) sigaddset(&set, signal);
  sigaddset(&set, SIGCHLD);
  return set;
}

int exit_status_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

// What the jail's processes are, as jailbuild on the host sees them.
struct Jail {
  pid_t child = -1;          // the jail's init (namespaces) or the program itself (--chroot-only)
  bool through_init = true;  // signals go to the init, which passes them on
};

// Passes `signal` on. What the caller's terminal sent (Ctrl-C, Ctrl-\, a new window size; the
// kernel is its sender) and job control go to the program's whole process group, as the terminal
// would have sent them had the jail not been a session of its own; what a process sent goes to
// the program.
void forward(const Jail& jail, int signal, const siginfo_t& info) {
  const bool to_group = info.si_code == SI_KERNEL || signal == SIGTSTP || signal == SIGCONT;
  if (jail.through_init) {
    sigval value{};
    value.sival_int = to_group ? kJailSignalToGroup : 0;
    ::sigqueue(jail.child, signal, value);
  } else {
    ::kill(to_group ? -jail.child : jail.child, signal);
  }
}

// Every status the traced jail's processes have to report (their ptrace stops, each resumed by
// the tracer): the child's exit status once it has ended.
std::optional<int> drain_traced(trace::SyscallTracer& tracer) {
  std::optional<int> ended;
  int status = 0;
  for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG | __WALL)) > 0;)
    if (auto exited = tracer.on_status(pid, status)) ended = exited;
  return ended;
}

// With the supervised signals blocked: passes each one on to the jail until the child exits, and
// returns its exit status. Ctrl-Z stops the program's group, then jailbuild itself, so that the
// caller's shell sees the job stopped; its SIGCONT resumes both. Traced, each SIGCHLD may also
// be a ptrace stop of any of the jail's processes, which the tracer handles.
int supervise(const Jail& jail, trace::SyscallTracer* tracer) {
  const sigset_t supervised = supervised_signals();
  while (true) {
    siginfo_t info{};
    const int signal = ::sigwaitinfo(&supervised, &info);
    if (signal == SIGCHLD && tracer != nullptr) {
      if (auto ended = drain_traced(*tracer)) return exit_status_of(*ended);
    } else if (signal == SIGCHLD) {
      int status = 0;
      if (::waitpid(jail.child, &status, WNOHANG) == jail.child) return exit_status_of(status);
    } else if (signal > 0) {
      forward(jail, signal, info);
      if (signal == SIGTSTP) ::raise(SIGSTOP);
    }
  }
}

// The child's last word before it exits kRunFailed, in the same format as jailbuild's own (the
// child is a copy of jailbuild, single-threaded, with its logger).
[[noreturn]] void fail(const Error& error) {
  spdlog::error("{}", error.message);
  spdlog::default_logger_raw()->flush();
  ::_exit(kRunFailed);
}

// ---- the child ----------------------------------------------------------------------------------
//
// A fork of jailbuild, which is single-threaded when it runs a jail (no lock can be held by a
// thread that did not come along): it may allocate, as it always has, and log through spdlog,
// whose logger writes to stderr synchronously (stderr_color_st) and was flushed before the clone.

// What the child that becomes the jail gets from jailbuild, and what it holds on the way.
struct JailChild {
  const RunOptions& options;
  int root_fd = -1;  // jailbuild's descriptor of the root, in the host's mount namespace
  int init_fd = -1;
  int wait_fd = -1;  // read end of the pipe that holds the child until jailbuild has done its part
  bool in_user_namespace = false;
  bool setgroups_denied = false;
  // Root's own ids are not mapped in the jail's user namespace: the child takes the namespace's
  // uid and gid 0 (jailbuild's unprivileged host ids) before it makes anything.
  bool takes_namespace_root = false;
  bool traced = false;  // add --trace, run --report-missing: jailbuild has attached with ptrace
  sigset_t program_mask{};
  const std::vector<std::string>& environment;       // the program's, LANG fitted to the root
  const std::vector<run::GeneratedFile>& etc_files;  // laid over the jail's /etc, if any
  const run::LandlockPlan& landlock;
  const run::CgroupRun& cgroup;  // --memory, --pids, --cpus: the v1 directories it joins itself
  const std::string& allowlist_filter;  // --seccomp traced or allowlist:FILE: its BPF program; or empty
  // -v with an allowlist: where the child hands its filter's listener to jailbuild (and wait_fd,
  // kept open, where it hears that jailbuild has it); -1 otherwise.
  int refusal_fd = -1;
  UniqueFd root_here{};  // the root, reopened in the new mount namespace
  std::vector<run::TopLevelEntry> top_level{};
};

Result<void> join_cgroup_v1(JailChild& child) { return child.cgroup.join_v1(); }

Result<void> die_with_jailbuild(JailChild&) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return run::failed("PR_SET_PDEATHSIG");
  return {};
}

// jailbuild writes one byte once its part is done (the id maps, and with them every id the child
// takes); if it gave up instead, it said why, and the child leaves quietly.
Result<void> wait_for_jailbuild(JailChild& child) {
  char byte = 0;
  ssize_t got;
  while ((got = ::read(child.wait_fd, &byte, 1)) < 0 && errno == EINTR) {}
  if (got != 1) ::_exit(kRunFailed);
  return {};
}

// The holding pipe stays open past the first byte only when the listener is handed over on it.
int handover_wait_fd(const JailChild& child) { return child.refusal_fd >= 0 ? child.wait_fd : -1; }

// The inherited descriptor of the root names a mount of the host's namespace, where nothing may
// be mounted; the working directory, which jailbuild set to it, was carried into the new
// namespace by clone(2): the same directory, no name looked up again.
Result<void> reopen_root(JailChild& child) {
  child.root_here = UniqueFd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!child.root_here.valid()) return run::failed(child.options.root + ": open in the new mount namespace");
  return run::close_all_but({child.root_here.get(), child.init_fd, child.refusal_fd, handover_wait_fd(child)});
}

// Read while the child still has the caller's ids (see read_top_level).
Result<void> read_top_level(JailChild& child) {
  child.top_level = TRY(run::read_top_level(child.root_here.get(), child.options));
  return {};
}

Result<void> become_namespace_root(JailChild&) { return run::become_namespace_root(); }
Result<void> detach_from_caller(JailChild&) { return run::detach_from_caller(); }
Result<void> bring_up_loopback(JailChild&) { return run::bring_up_loopback(); }

Result<void> enter_new_root(JailChild& child) {
  TRY(run::enter_new_root(child.options, child.root_here.get(), child.top_level, child.in_user_namespace,
                          child.etc_files));
  child.top_level.clear();  // no descriptor of the host's files may reach the jail
  child.root_here = UniqueFd();
  return {};
}

// --chroot-only: chroot(2) through the descriptor, then the root's own "/".
Result<void> enter_by_chroot(JailChild& child) {
  if (::fchdir(child.root_fd) != 0 || ::chroot(".") != 0) return run::failed(child.options.root + ": chroot");
  if (::chdir("/") != 0) return run::failed(child.options.root + ": chdir / after chroot");
  ::close(child.root_fd);
  return {};
}

Result<void> apply_limits(JailChild& child) { return run::apply_limits(child.options.limits); }

Result<void> switch_identity(JailChild& child) {
  const RunOptions& options = child.options;
  TRY(run::switch_identity(options.identity, options.capabilities, child.setgroups_denied));
  // Changing ids cleared the parent-death signal: the jail dies with jailbuild.
  return die_with_jailbuild(child);
}

Result<void> change_directory(JailChild& child) {
  if (::chdir(child.options.cwd.c_str()) != 0) return run::failed("--cwd " + child.options.cwd);
  return {};
}

Result<void> close_descriptors(JailChild& child) {
  return run::close_all_but({child.init_fd, child.refusal_fd, handover_wait_fd(child)});
}

Result<void> restrict_with_landlock(JailChild& child) { return run::apply_landlock(child.landlock); }
Result<void> load_seccomp_filter(JailChild&) { return run::load_seccomp_filter(); }
Result<void> load_trace_filter(JailChild&) { return run::load_trace_filter(); }
Result<void> load_allowlist_filter(JailChild& child) {
  if (child.refusal_fd >= 0) return run::load_notifying_allowlist(child.allowlist_filter, child.refusal_fd, child.wait_fd);
  return run::load_allowlist_filter(child.allowlist_filter);
}

bool always(const JailChild&) { return true; }
bool in_namespaces(const JailChild& child) { return !child.options.chroot_only; }
bool chroot_only(const JailChild& child) { return child.options.chroot_only; }
bool takes_namespace_root(const JailChild& child) { return child.takes_namespace_root; }
bool without_network(const JailChild& child) { return child.options.network == Network::None; }
bool with_seccomp(const JailChild& child) { return child.options.seccomp; }
bool with_allowlist(const JailChild& child) { return !child.allowlist_filter.empty(); }
bool traced(const JailChild& child) { return child.traced; }
bool with_landlock(const JailChild& child) { return child.landlock.abi != 0; }
bool with_cgroup_v1(const JailChild& child) { return child.cgroup.has_v1(); }

struct ChildStep {
  const char* what;  // for -vv
  bool (*applies)(const JailChild&);
  Result<void> (*run)(JailChild&);
};

// From a freshly cloned process to the jail, in the one order that works: the root's entries are
// read with the caller's ids, everything is made as the namespace's root, the mounts need the
// capabilities the identity then drops, and the filters, last, refuse what came before them. The
// denylist goes first; the trace filter after it, so that what is traced of jailbuild's own path is
// one prctl at most, and the denylist still refuses what it refuses (the stricter action wins, and a
// refused call is never stopped on); the allowlist last, since of two filters that refuse a call the
// later one's errno is returned, and it says ENOSYS where glibc needs it (seccomp_policy.hpp).
// Landlock goes before them, once the jail's file system is what the program will see (its rules
// name the jail's paths).
constexpr ChildStep kChildSteps[] = {
    {"join the run's cgroup v1 directories (tasks)", with_cgroup_v1, join_cgroup_v1},
    {"die with jailbuild (PR_SET_PDEATHSIG)", always, die_with_jailbuild},
    {"wait until jailbuild has done its part", always, wait_for_jailbuild},
    {"open the root in the new mount namespace, close what else was inherited", in_namespaces, reopen_root},
    {"read the root's top level", in_namespaces, read_top_level},
    {"become the user namespace's root", takes_namespace_root, become_namespace_root},
    {"start a session and a session keyring of its own", always, detach_from_caller},
    {"bring up loopback", without_network, bring_up_loopback},
    {"build the jail's file system and pivot_root into it", in_namespaces, enter_new_root},
    {"chroot into the root", chroot_only, enter_by_chroot},
    {"set the resource limits", always, apply_limits},
    {"take the program's identity and drop capabilities", always, switch_identity},
    {"change to the working directory", always, change_directory},
    {"close every descriptor but the init's", always, close_descriptors},
    {"restrict itself with Landlock", with_landlock, restrict_with_landlock},
    {"load the seccomp filter", with_seccomp, load_seccomp_filter},
    {"load the trace filter (stops on every call outside the allowlist's baseline)", traced, load_trace_filter},
    {"load the system call allowlist", with_allowlist, load_allowlist_filter},
};

// The child: pid 1 of the new PID namespace (with namespaces) until it execs the jail's init from
// its sealed memfd, which becomes (or starts) the program.
[[noreturn]] void set_up_jail(JailChild& child) {
  for (const ChildStep& step : kChildSteps) {
    if (!step.applies(child)) continue;
    spdlog::trace("run: child: {}", step.what);
    if (auto done = step.run(child); !done) fail(done.error());
  }
  const RunOptions& options = child.options;
  const char* init_mode = options.chroot_only ? "exec" : "init";
  spdlog::trace("run: child: execute the jail's init ({}) from its sealed memfd: {}", init_mode, options.program);
  std::vector<char*> argv{const_cast<char*>("jailbuild-init"), const_cast<char*>(init_mode),
                          const_cast<char*>(options.program.c_str())};
  for (const std::string& argument : options.arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& entry : child.environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  ::sigprocmask(SIG_SETMASK, &child.program_mask, nullptr);
  ::fexecve(child.init_fd, argv.data(), envp.data());
  fail(run::failed("execute the jail's init"));
}

// ---- jailbuild, on the host ------------------------------------------------------------------

Result<void> check_options(const RunOptions& options, bool in_user_namespace) {
  const bool root = ::geteuid() == 0;
  if (options.chroot_only) {
    if (!options.mounts.empty() || options.network == Network::None)
      return Error::usage("--bind, --ro-bind, --tmpfs and --net=none need namespaces: not with --chroot-only");
    if (!root) return Error::usage("--chroot-only needs root (chroot(2)); without it a user namespace is used");
  }
  if (options.host_root && !root) return Error::usage("--host-root needs root: a normal user is never host root");
  if (in_user_namespace && !root) {
    const Identity& id = options.identity;
    if (id.uid != ::getuid() || id.gid != ::getgid() || !id.groups.empty())
      return Error::usage("-u, -g and --groups other than your own need root: a user namespace maps only you");
  }
  if (options.cwd.empty() || options.cwd[0] != '/') return Error::usage("--cwd " + options.cwd + ": must be absolute");
  // A directory of the host as standard input, output or error leads out of any root
  // (fchdir(0), then ".."): refused rather than closed, since the program expects all three.
  for (const auto& [fd, name] : {std::pair{0, "standard input"}, {1, "standard output"}, {2, "standard error"}}) {
    struct stat status {};
    if (::fstat(fd, &status) == 0 && S_ISDIR(status.st_mode))
      return Error::usage(std::string(name) + " (descriptor " + std::to_string(fd) +
                          ") is a directory of the host, which would lead out of the jail");
  }
  return {};
}

// What jailbuild makes before the clone and keeps until the jail has ended.
struct Launch {
  bool caller_is_root = false;
  bool in_user_namespace = false;
  UniqueFd init;
  OpenedRoot root;
  run::UserNamespace user_namespace;
  std::vector<std::string> environment;       // the program's, LANG fitted to the root
  std::vector<run::GeneratedFile> etc_files;  // the run's passwd and group, if the root lacks them
  // The pipe that holds the child until jailbuild's steps (kParentSteps) are done; there is always
  // one, so that whatever jailbuild must do to the child before it runs has its place.
  UniqueFd hold_read, hold_write;
  trace::SyscallTracer* tracer = nullptr;  // add --trace, run --report-missing
  run::LandlockPlan landlock;              // decided here, enforced by the child on itself
  // --memory, --pids, --cpus: made here, joined by the child (kParentSteps), removed once the jail
  // has ended (run_in_jail) or, on any failure, when the launch goes.
  run::CgroupRun cgroup;
  std::string allowlist_filter;  // --seccomp traced or allowlist:FILE: the compiled BPF program
  // -v with an allowlist: what hears of the allowlist's refusals and says them (seccomp_notify.cpp).
  std::unique_ptr<run::RefusalReporter> refusals;
  int refusal_fd = -1;  // the child's end of its channel
};

Result<Launch> prepare(const RunOptions& options) {
  Launch launch;
  launch.caller_is_root = ::geteuid() == 0;
  const bool root = launch.caller_is_root;
  launch.in_user_namespace = !options.chroot_only && (!root || !options.host_root);
  TRY(check_options(options, launch.in_user_namespace));
  if (options.host_root && !options.chroot_only && !options.host_view && options.identity.uid == 0)
    spdlog::warn("--host-root: the program runs as the host's root; any way out of the jail is a way to host root");
  if (launch.in_user_namespace && root && options.network == Network::Host &&
      std::find(options.capabilities.begin(), options.capabilities.end(), CAP_NET_BIND_SERVICE) !=
          options.capabilities.end())
    spdlog::warn(
        "--cap NET_BIND_SERVICE acts in the jail's user namespace, which does not own the host's "
        "network: to bind a host port below 1024 add --host-root (with -u USER no process of the jail is root)");
  if (options.chroot_only && options.identity.uid == 0)
    spdlog::warn("--chroot-only leaves the program root inside a plain chroot, which root can leave; use -u USER");

  spdlog::trace("run: jailbuild: copy the jail's init into a sealed memfd");
  launch.init = TRY(run::sealed_init());
  // The root is opened once, through no symlink on its way, and from then on reached only through
  // this descriptor (see open_root).
  spdlog::trace("run: jailbuild: open the root {}", options.root);
  launch.root = TRY(open_root(options.root, false));
  if (!launch.root.fd.valid()) return system_error(launch.root.path, ENOENT);
  if (launch.root.path == "/" && !options.host_view)
    return Error::usage(options.root + ": the host's own root is not a jail");
  const int root_fd = launch.root.fd.get();
  launch.environment = run::environment_for_root(root_fd, options);
  launch.etc_files = TRY(run::user_database_for_root(root_fd, options));
  // A --writable root is the jail's top level itself, and its mount points are made here, by
  // jailbuild, without following a symlink: the jail's root may not own the root.
  if (options.writable && !options.chroot_only) {
    spdlog::trace("run: jailbuild: make proc, dev and tmp in the --writable root");
    for (const char* mount_point : {"proc", "dev", "tmp"})
      if (::mkdirat(root_fd, mount_point, 0755) != 0 && errno != EEXIST)
        return run::failed(options.root + "/" + mount_point + ": make the mount point");
  }
  if (launch.in_user_namespace) {
    spdlog::trace("run: jailbuild: plan the user namespace's id maps");
    launch.user_namespace = TRY(run::plan_user_namespace(options.identity));
    TRY(run::check_tmpfs_owners(options.mounts, launch.user_namespace));
    struct stat top {};
    if (options.writable && root && options.identity.uid == 0 && ::fstat(root_fd, &top) == 0 &&
        top.st_uid != launch.user_namespace.root_uid)
      spdlog::warn(
          "--writable: {} belongs to host uid {}, and the jail's root is host uid {}: it writes only where "
          "that id may (chown what it must write, or --host-root)",
          options.root, top.st_uid, launch.user_namespace.root_uid);
  }
  // The kernel's ABI is asked only when Landlock is: a run with --landlock off pays nothing for it.
  launch.landlock = TRY(run::plan_landlock(options, options.landlock ? run::landlock_abi() : 0));
  if (options.landlock) spdlog::debug("run: Landlock: {}", run::describe(launch.landlock));
  if (options.seccomp && options.seccomp_allowlist) {
    const SeccompAllowlist allowlist = TRY(compiled(*options.seccomp_allowlist));
    launch.allowlist_filter = allowlist.filter;
    spdlog::debug("run: seccomp: an allowlist of {} system calls and the baseline, from {}", allowlist.calls.size(),
                  allowlist.origin);
    // Only -v pays for hearing of each refusal (a round trip through jailbuild per refused call).
    if (spdlog::should_log(spdlog::level::debug)) {
      launch.allowlist_filter = run::notifying_refusals(std::move(launch.allowlist_filter));
      launch.refusals = std::make_unique<run::RefusalReporter>(allowlist.origin);
      launch.refusal_fd = TRY(launch.refusals->open_channel());
    }
  }
  if (options.cgroup_limits.any()) {
    spdlog::trace("run: jailbuild: make the run's cgroup");
    launch.cgroup = TRY(run::make_cgroup_run(options.cgroup_limits));
  }
  int holding[2] = {-1, -1};
  if (::pipe2(holding, O_CLOEXEC) != 0) return run::failed("pipe");
  launch.hold_read = UniqueFd(holding[0]);
  launch.hold_write = UniqueFd(holding[1]);
  return launch;
}

// ---- jailbuild's steps while the child waits -----------------------------------------------------

Result<void> write_id_maps(const Launch& launch, pid_t child) {
  return run::write_id_maps(child, launch.user_namespace);
}

bool in_user_namespace(const Launch& launch) { return launch.in_user_namespace; }

// Before the child takes a step: everything the jail ever starts is counted from its first process.
// (v1 directories the child joins itself, more cheaply: see CgroupRun::join_v1.)
Result<void> join_cgroup(const Launch& launch, pid_t child) { return launch.cgroup.add(child); }
bool with_cgroup_v2(const Launch& launch) { return launch.cgroup.has_v2(); }

// Attached while the child waits, so that nothing it runs escapes the trace; it stops only on the
// calls of the trace filter it loads last.
Result<void> attach_tracer(const Launch& launch, pid_t child) { return launch.tracer->seize(child); }
bool traced(const Launch& launch) { return launch.tracer != nullptr; }

struct ParentStep {
  const char* what;  // for -vv
  bool (*applies)(const Launch&);
  Result<void> (*run)(const Launch&, pid_t child);
};

// Done to the child from outside, before it takes a step of its own.
constexpr ParentStep kParentSteps[] = {
    {"move the child into the run's cgroup v2 directory (cgroup.procs)", with_cgroup_v2, join_cgroup},
    {"write the child's id maps", in_user_namespace, write_id_maps},
    {"attach the tracer (PTRACE_SEIZE)", traced, attach_tracer},
};

std::string namespace_names(int flags) {
  std::string names;
  for (const auto& [flag, name] : {std::pair{CLONE_NEWUSER, "user"},
                                   {CLONE_NEWNS, "mount"},
                                   {CLONE_NEWPID, "pid"},
                                   {CLONE_NEWIPC, "ipc"},
                                   {CLONE_NEWUTS, "uts"},
                                   {CLONE_NEWNET, "network"}})
    if (flags & flag) names += (names.empty() ? "" : ", ") + std::string(name);
  return names.empty() ? "no new namespaces (--chroot-only)" : "new " + names + " namespaces";
}

// The one way back once the supervised signals are blocked: the child, if there is one, is still
// waiting on the holding pipe, so it has done nothing yet; it is killed and reaped, and jailbuild
// says why.
int abandon(Launch& launch, pid_t child, const sigset_t& program_mask, const Error& error) {
  launch.hold_write = UniqueFd();
  if (child > 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  ::sigprocmask(SIG_SETMASK, &program_mask, nullptr);
  spdlog::error("{}", error.message);
  return kRunFailed;
}

// "32 MiB" for 33554432: --memory as it was likely given.
std::string size_text(std::uint64_t bytes) {
  for (const auto& [shift, unit] : {std::pair{30, "GiB"}, {20, "MiB"}, {10, "KiB"}})
    if (bytes % (std::uint64_t{1} << shift) == 0) return std::to_string(bytes >> shift) + " " + unit;
  return std::to_string(bytes) + " bytes";
}

// A program the OOM killer ended exits 137 like any SIGKILL: the one line that tells which it was.
void report_memory_limit(const RunOptions& options, int status, std::uint64_t oom_kills) {
  if (oom_kills == 0) return;
  const std::string limit = size_text(options.cgroup_limits.memory.value_or(0));
  if (status == 128 + SIGKILL)
    spdlog::error("the memory limit (--memory {}) killed the program: the jail ran out of memory", limit);
  else
    spdlog::warn("the memory limit (--memory {}) killed {} of the jail's processes", limit, oom_kills);
}

}  // namespace

int run_in_jail(const RunOptions& options, trace::SyscallTracer* tracer) {
  auto prepared = prepare(options);
  if (!prepared) {
    spdlog::error("{}", prepared.error().message);
    return kRunFailed;
  }
  Launch& launch = *prepared;
  launch.tracer = tracer;
  JailChild start{.options = options,
                  .root_fd = launch.root.fd.get(),
                  .init_fd = launch.init.get(),
                  .wait_fd = launch.hold_read.get(),
                  .in_user_namespace = launch.in_user_namespace,
                  .setgroups_denied = launch.user_namespace.deny_setgroups,
                  .takes_namespace_root = launch.in_user_namespace && launch.caller_is_root,
                  .traced = tracer != nullptr,
                  .environment = launch.environment,
                  .etc_files = launch.etc_files,
                  .landlock = launch.landlock,
                  .cgroup = launch.cgroup,
                  .allowlist_filter = launch.allowlist_filter,
                  .refusal_fd = launch.refusal_fd};

  int flags = 0;
  if (!options.chroot_only) {
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (options.network == Network::None) flags |= CLONE_NEWNET;
    if (launch.in_user_namespace) flags |= CLONE_NEWUSER;
  }
  const sigset_t supervised = supervised_signals();
  ::sigprocmask(SIG_BLOCK, &supervised, &start.program_mask);
  // The child starts in the root (see reopen_root); jailbuild goes back where it was.
  const UniqueFd caller_cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (::fchdir(launch.root.fd.get()) != 0)
    return abandon(launch, -1, start.program_mask, run::failed(options.root + ": chdir"));
  if (spdlog::should_log(spdlog::level::trace))
    spdlog::trace("run: jailbuild: clone the child into {}", namespace_names(flags));
  std::fflush(nullptr);
  // clone(2) without a new stack forks into the namespaces, as fork(2) would.
  const pid_t child = static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (child == 0) set_up_jail(start);
  if (caller_cwd.valid()) (void)::fchdir(caller_cwd.get());
  if (child < 0) {
    Error error = run::failed("create the namespaces");
    if (launch.in_user_namespace && !launch.caller_is_root)
      error.message += " (are user namespaces disabled? see user.max_user_namespaces, or run as root)";
    return abandon(launch, child, start.program_mask, error);
  }
  for (const ParentStep& step : kParentSteps) {
    if (!step.applies(launch)) continue;
    spdlog::trace("run: jailbuild: {} (pid {})", step.what, child);
    if (auto done = step.run(launch, child); !done) return abandon(launch, child, start.program_mask, done.error());
  }
  if (launch.refusals) {
    spdlog::trace("run: jailbuild: start hearing the allowlist's refusals");
    launch.refusals->start(child, launch.hold_write.get());
  }
  spdlog::trace("run: jailbuild: let the child go on, then pass signals on until it ends");
  if (::write(launch.hold_write.get(), "", 1) != 1)
    return abandon(launch, child, start.program_mask, run::failed("start the jail"));
  const int status = supervise(Jail{child, !options.chroot_only}, tracer);
  if (launch.refusals) launch.refusals->stop();
  report_memory_limit(options, status, launch.cgroup.finish());
  return status;
}

int run_in_jail(const RunOptions& options) { return run_in_jail(options, nullptr); }

}  // namespace jailbuild
