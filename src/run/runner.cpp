// `run`: jailbuild stays on the host, passes signals on and returns the exit status; a child it
// clones into new namespaces sets the jail up (mounts, session, keyring, limits, identity, seccomp)
// and then execs the jail's init from a sealed memfd (init/jail_init.c), which starts the program
// as its own process group, reaps whatever it leaves behind and exits with its status. The
// program cannot be pid 1: the kernel drops signals to a namespace's init that it has no handler
// for, so `kill -TERM` would not stop it.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <initializer_list>

#include <spdlog/spdlog.h>

#include "init/jail_init.h"
#include "jail_setup.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild {
namespace {

using copy::UniqueFd;
using run::Step;

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
  pid_t child = -1;         // the jail's init (namespaces) or the program itself (--chroot-only)
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

// With the supervised signals blocked: passes each one on to the jail until the child exits, and
// returns its exit status. Ctrl-Z stops the program's group, then jailbuild itself, so that the
// caller's shell sees the job stopped; its SIGCONT resumes both.
int supervise(const Jail& jail) {
  const sigset_t supervised = supervised_signals();
  while (true) {
    siginfo_t info{};
    const int signal = ::sigwaitinfo(&supervised, &info);
    if (signal == SIGCHLD) {
      int status = 0;
      if (::waitpid(jail.child, &status, WNOHANG) == jail.child) return exit_status_of(status);
    } else if (signal > 0) {
      forward(jail, signal, info);
      if (signal == SIGTSTP) ::raise(SIGSTOP);
    }
  }
}

// The child's last word before it exits kRunFailed. (The parent side says what it has to say through
// spdlog, in jailbuild/log.hpp's format.)
void report(const std::string& message) { std::fprintf(stderr, "jailbuild: run: %s\n", message.c_str()); }

[[noreturn]] void fail(const Error& error) {
  report(error.message);
  std::fflush(stderr);
  ::_exit(kRunFailed);
}

// Closes every descriptor above 2 but `keep`: a descriptor of the host's file system is a way out
// of any root (fchdir, openat), and /proc/1/fd would show it.
Step close_all_but(std::initializer_list<int> keep) {
  std::vector<int> kept(keep);
  std::sort(kept.begin(), kept.end());
  unsigned first = 3;
  for (int fd : kept) {
    if (fd < static_cast<int>(first)) continue;
    if (static_cast<unsigned>(fd) > first && ::close_range(first, static_cast<unsigned>(fd) - 1, 0) != 0)
      return run::failed("close inherited descriptors");
    first = static_cast<unsigned>(fd) + 1;
  }
  if (::close_range(first, UINT_MAX, 0) != 0) return run::failed("close inherited descriptors");
  return std::nullopt;
}

// A session of its own (kill(0) and a terminal's signals reach no host process, and the caller's
// terminal is not the jail's controlling terminal, so TIOCSTI needs a capability the jail lacks),
// and a fresh session keyring: keyrings are not namespaced, and the caller's may hold secrets.
Step detach_from_caller() {
  if (::setsid() < 0) return run::failed("setsid");
  if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr) < 0 && errno != ENOSYS)
    return run::failed("join a new session keyring");
  return std::nullopt;
}

// The last steps, already inside the root: limits, identity, working directory, the system call
// filter, then the jail's init from its sealed memfd, which becomes (or starts) the program.
[[noreturn]] void exec_jail_init(const RunOptions& options, int init_fd, const char* init_mode, bool setgroups_denied,
                                 const sigset_t& program_mask) {
  if (Step error = run::apply_limits(options.limits)) fail(*error);
  if (Step error = run::switch_identity(options.identity, options.capabilities, setgroups_denied)) fail(*error);
  // Changing ids cleared the parent-death signal: the jail dies with jailbuild.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::chdir(options.cwd.c_str()) != 0) fail(run::failed("--cwd " + options.cwd));
  if (Step error = close_all_but({init_fd})) fail(*error);
  if (options.seccomp)
    if (Step error = run::load_seccomp_filter()) fail(*error);
  std::vector<char*> argv{const_cast<char*>("jailbuild-init"), const_cast<char*>(init_mode),
                          const_cast<char*>(options.program.c_str())};
  for (const std::string& argument : options.arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& entry : options.environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  ::sigprocmask(SIG_SETMASK, &program_mask, nullptr);
  ::fexecve(init_fd, argv.data(), envp.data());
  fail(run::failed("execute the jail's init"));
}

// What the child that becomes the jail gets from jailbuild.
struct JailStart {
  int root_fd = -1;
  int init_fd = -1;
  int wait_fd = -1;  // read end of the pipe that holds the child until jailbuild has done its part
  bool in_user_namespace = false;
  bool setgroups_denied = false;
  // Root's own ids are not mapped in the jail's user namespace: the child takes the namespace's
  // uid and gid 0 (jailbuild's unprivileged host ids) before it makes anything.
  bool takes_namespace_root = false;
  sigset_t program_mask{};
};

// The child in the new namespaces: pid 1 of the new PID namespace until it execs the init.
[[noreturn]] void set_up_jail(const RunOptions& options, const JailStart& start) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  char byte = 0;
  ssize_t got;
  while ((got = ::read(start.wait_fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  if (got != 1) ::_exit(kRunFailed);  // jailbuild gave up (it said why)
  // The inherited descriptor of the root names a mount of the host's namespace, where nothing may
  // be mounted; the working directory, which jailbuild set to it, was carried into the new
  // namespace by clone(2): the same directory, no name looked up again.
  const int root_fd = ::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) fail(run::failed(options.root + ": open in the new mount namespace"));
  if (Step error = close_all_but({root_fd, start.init_fd})) fail(*error);
  // Read-only, the jail shows the root's top-level entries; read while the child still has the
  // caller's ids (see read_top_level).
  std::vector<run::TopLevelEntry> top_level;
  if (!options.writable) {
    auto entries = run::read_top_level(root_fd, options);
    if (!entries) fail(entries.error());
    top_level = std::move(*entries);
  }
  if (start.takes_namespace_root && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0))
    fail(run::failed("become the user namespace's root"));
  if (Step error = detach_from_caller()) fail(*error);
  if (options.network == Network::None)
    if (Step error = run::bring_up_loopback()) fail(*error);
  if (Step error = run::enter_new_root(options, root_fd, top_level, start.in_user_namespace)) fail(*error);
  top_level.clear();  // no descriptor of the host's files may reach the jail
  ::close(root_fd);
  exec_jail_init(options, start.init_fd, "init", start.setgroups_denied, start.program_mask);
}

// The child of --chroot-only: no namespaces, only chroot(2) and the steps after it.
[[noreturn]] void set_up_chroot(const RunOptions& options, const JailStart& start) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (Step error = detach_from_caller()) fail(*error);
  if (::fchdir(start.root_fd) != 0 || ::chroot(".") != 0) fail(run::failed(options.root + ": chroot"));
  if (::chdir("/") != 0) fail(run::failed(options.root + ": chdir / after chroot"));
  ::close(start.root_fd);
  exec_jail_init(options, start.init_fd, "exec", false, start.program_mask);
}

Step check_options(const RunOptions& options, bool in_user_namespace) {
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
  return std::nullopt;
}

}  // namespace

int run_in_jail(const RunOptions& options) {
  const bool root = ::geteuid() == 0;
  const bool in_user_namespace = !options.chroot_only && (!root || !options.host_root);
  if (Step error = check_options(options, in_user_namespace)) {
    spdlog::error("{}", error->message);
    return kRunFailed;
  }
  if (options.host_root && !options.chroot_only && options.identity.uid == 0)
    spdlog::warn("--host-root: the program runs as the host's root; any way out of the jail is a way to host root");
  if (in_user_namespace && root && options.network == Network::Host &&
      std::find(options.capabilities.begin(), options.capabilities.end(), CAP_NET_BIND_SERVICE) !=
          options.capabilities.end())
    spdlog::warn("--cap NET_BIND_SERVICE acts in the jail's user namespace, which does not own the host's "
           "network: to bind a host port below 1024 add --host-root (with -u USER no process of the jail is root)");
  if (options.chroot_only && options.identity.uid == 0)
    spdlog::warn("--chroot-only leaves the program root inside a plain chroot, which root can leave; use -u USER");

  auto init = run::sealed_init();
  if (!init) {
    spdlog::error("{}", init.error().message);
    return kRunFailed;
  }
  // The root is opened once, through no symlink on its way, and from then on reached only through
  // this descriptor (see copy::open_root).
  auto opened = copy::open_root(options.root, false);
  if (opened && !opened->fd.valid()) opened = copy::system_error(opened->path, ENOENT);
  if (opened && opened->path == "/") opened = Error::usage(options.root + ": the host's own root is not a jail");
  if (!opened) {
    spdlog::error("{}", opened.error().message);
    return kRunFailed;
  }
  const UniqueFd& root_fd = opened->fd;
  // A --writable root is the jail's top level itself, and its mount points are made here, by
  // jailbuild, without following a symlink: the jail's root may not own the root.
  if (options.writable && !options.chroot_only)
    for (const char* mount_point : {"proc", "dev", "tmp"})
      if (::mkdirat(root_fd.get(), mount_point, 0755) != 0 && errno != EEXIST) {
        spdlog::error("{}", run::failed(options.root + "/" + mount_point + ": make the mount point").message);
        return kRunFailed;
      }
  run::UserNamespace user_namespace;
  if (in_user_namespace) {
    auto plan = run::plan_user_namespace(options.identity);
    if (!plan) {
      spdlog::error("{}", plan.error().message);
      return kRunFailed;
    }
    user_namespace = std::move(*plan);
    struct stat top {};
    if (options.writable && root && options.identity.uid == 0 && ::fstat(root_fd.get(), &top) == 0 &&
        top.st_uid != user_namespace.root_uid)
      spdlog::warn("--writable: {} belongs to host uid {}, and the jail's root is host uid {}: it writes only where "
                   "that id may (chown what it must write, or --host-root)",
                   options.root, top.st_uid, user_namespace.root_uid);
  }

  int holding[2] = {-1, -1};
  if (::pipe2(holding, O_CLOEXEC) != 0) {
    spdlog::error("{}", run::failed("pipe").message);
    return kRunFailed;
  }
  const UniqueFd hold_read(holding[0]), hold_write(holding[1]);
  JailStart start{root_fd.get(), init->get(), hold_read.get(), in_user_namespace, user_namespace.deny_setgroups,
                  in_user_namespace && root, {}};

  int flags = 0;
  if (!options.chroot_only) {
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (options.network == Network::None) flags |= CLONE_NEWNET;
    if (in_user_namespace) flags |= CLONE_NEWUSER;
  }
  // The child starts in the root (see set_up_jail); jailbuild goes back where it was.
  const UniqueFd caller_cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (::fchdir(root_fd.get()) != 0) {
    spdlog::error("{}", run::failed(options.root + ": chdir").message);
    return kRunFailed;
  }
  const sigset_t supervised = supervised_signals();
  ::sigprocmask(SIG_BLOCK, &supervised, &start.program_mask);
  std::fflush(nullptr);
  // clone(2) without a new stack forks into the namespaces, as fork(2) would.
  const pid_t child = static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (child == 0) {
    if (options.chroot_only) set_up_chroot(options, start);
    set_up_jail(options, start);
  }
  if (caller_cwd.valid()) (void)::fchdir(caller_cwd.get());
  if (child < 0) {
    const Error error = run::failed("create the namespaces");
    ::sigprocmask(SIG_SETMASK, &start.program_mask, nullptr);
    spdlog::error("{}{}", error.message,
                  in_user_namespace && !root
                      ? " (are user namespaces disabled? see user.max_user_namespaces, or run as root)"
                      : "");
    return kRunFailed;
  }
  if (in_user_namespace) {
    if (Step error = run::write_id_maps(child, user_namespace)) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      ::sigprocmask(SIG_SETMASK, &start.program_mask, nullptr);
      spdlog::error("{}", error->message);
      return kRunFailed;
    }
  }
  if (!options.chroot_only && ::write(hold_write.get(), "", 1) != 1) {
    spdlog::error("{}", run::failed("start the jail").message);
    ::kill(child, SIGKILL);
  }
  return supervise(Jail{child, !options.chroot_only});
}

}  // namespace jailbuild
