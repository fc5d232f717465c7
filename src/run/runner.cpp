// `run`: three processes. jailbuild stays on the host, passes signals on and returns the exit
// status; the jail's init (pid 1 of the new PID namespace) sets up the mounts, starts the program
// and reaps whatever it leaves behind; the program itself drops its identity, loads the seccomp
// filter and execs. The program cannot be pid 1: the kernel drops signals to a namespace's init
// that it has no handler for, so `kill -TERM` would not stop it.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "jail_setup.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild {
namespace {

using run::Step;

// Passed on to the program when a process sends them to jailbuild. The terminal sends its own
// (Ctrl-C, window size) to the whole foreground process group, the program included.
constexpr std::array kForwarded{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : kForwarded) sigaddset(&set, signal);
  sigaddset(&set, SIGCHLD);
  return set;
}

// Sent by a process (kill, sigqueue, tgkill) rather than by the kernel or a terminal.
bool sent_by_process(const siginfo_t& info) { return info.si_code <= 0; }

int exit_status_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

// With the supervised signals blocked: passes each one a process sends on to `child`, reaps every
// child that exits (in the jail's init, orphans too), and returns `child`'s exit status.
int supervise(pid_t child) {
  const sigset_t supervised = supervised_signals();
  while (true) {
    siginfo_t info{};
    const int signal = ::sigwaitinfo(&supervised, &info);
    if (signal == SIGCHLD) {
      int status = 0;
      for (pid_t reaped; (reaped = ::waitpid(-1, &status, WNOHANG)) > 0;)
        if (reaped == child) return exit_status_of(status);
    } else if (signal > 0 && sent_by_process(info)) {
      ::kill(child, signal);
    }
  }
}

void report(const std::string& message) { std::fprintf(stderr, "jailbuild: run: %s\n", message.c_str()); }

[[noreturn]] void fail(const Error& error) {
  report(error.message);
  std::fflush(stderr);
  ::_exit(kRunFailed);
}

std::string path_of(const std::vector<std::string>& environment) {
  for (const std::string& entry : environment)
    if (entry.starts_with("PATH=")) return entry.substr(5);
  return "/usr/bin:/bin";
}

// execve, or a PATH search as execvpe does, minus its fallback of running a non-ELF file with
// /bin/sh: status 126 for a program found but not executable, 127 for one not found.
[[noreturn]] void exec_program(const RunOptions& options) {
  std::vector<char*> argv{const_cast<char*>(options.program.c_str())};
  for (const std::string& argument : options.arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& entry : options.environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  std::vector<std::string> candidates;
  if (options.program.find('/') != std::string::npos) {
    candidates.push_back(options.program);
  } else {
    const std::string path = path_of(options.environment);
    for (std::size_t begin = 0; begin <= path.size();) {
      const std::size_t end = std::min(path.find(':', begin), path.size());
      const std::string directory = end == begin ? "." : path.substr(begin, end - begin);
      candidates.push_back(directory + "/" + options.program);
      begin = end + 1;
    }
  }
  int cannot_execute = 0;
  for (const std::string& candidate : candidates) {
    ::execve(candidate.c_str(), argv.data(), envp.data());
    if (errno != ENOENT && errno != ENOTDIR && cannot_execute == 0) cannot_execute = errno;
  }
  if (cannot_execute != 0) {
    report(options.program + ": cannot execute: " + std::strerror(cannot_execute));
    ::_exit(kRunCannotExecute);
  }
  report(options.program + (candidates.size() == 1 ? ": no such file in the root"
                                                   : ": not found in the root's PATH (" + path_of(options.environment) + ")"));
  ::_exit(kRunNotFound);
}

// The last steps, in the process that becomes the program, already inside the root.
[[noreturn]] void become_program(const RunOptions& options, bool in_user_namespace) {
  if (Step error = run::apply_limits(options.limits)) fail(*error);
  if (Step error = run::switch_identity(options.identity, options.capabilities, in_user_namespace)) fail(*error);
  if (::chdir(options.cwd.c_str()) != 0) fail(run::failed("--cwd " + options.cwd));
  // A descriptor of the host's file system is a way out of any chroot (fchdir, openat).
  if (::close_range(3, UINT_MAX, 0) != 0) fail(run::failed("close inherited descriptors"));
  if (options.seccomp)
    if (Step error = run::load_seccomp_filter()) fail(*error);
  exec_program(options);
}

void ignore_signal(int) {}

// Pid 1 of the jail: returns the program's exit status (128+N if signal N killed it).
int jail_init(const RunOptions& options, int wait_fd, bool in_user_namespace, const sigset_t& program_mask) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (wait_fd >= 0) {  // until jailbuild has written the user namespace's id maps
    char byte;
    while (::read(wait_fd, &byte, 1) < 0 && errno == EINTR) {
    }
    ::close(wait_fd);
  }
  // Nothing of the host stays open in the jail, not even in its init: /proc/1/fd would show it.
  if (::close_range(3, UINT_MAX, 0) != 0) fail(run::failed("close inherited descriptors"));
  if (options.network == Network::None)
    if (Step error = run::bring_up_loopback()) fail(*error);
  if (Step error = run::enter_new_root(options)) fail(*error);

  // A namespace's init receives only the signals it handles; they stay blocked and are taken
  // with sigwaitinfo, the handler only makes the kernel deliver them.
  struct sigaction action {};
  action.sa_handler = ignore_signal;
  for (int signal : kForwarded) ::sigaction(signal, &action, nullptr);
  const pid_t program = ::fork();
  if (program < 0) fail(run::failed("fork the program"));
  if (program == 0) {
    action.sa_handler = SIG_DFL;
    for (int signal : kForwarded) ::sigaction(signal, &action, nullptr);
    ::sigprocmask(SIG_SETMASK, &program_mask, nullptr);
    become_program(options, in_user_namespace);
  }
  return supervise(program);  // when it returns, the kernel kills what is left in the jail
}

bool write_file(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return ::close(fd) == 0 && written;
}

// Maps the caller's uid and gid to themselves in the child's new user namespace.
Step map_caller(pid_t child) {
  const std::string proc = "/proc/" + std::to_string(child) + "/";
  if (!write_file(proc + "setgroups", "deny")) return run::failed(proc + "setgroups");
  if (!write_file(proc + "uid_map", std::to_string(::getuid()) + " " + std::to_string(::getuid()) + " 1\n"))
    return run::failed(proc + "uid_map");
  if (!write_file(proc + "gid_map", std::to_string(::getgid()) + " " + std::to_string(::getgid()) + " 1\n"))
    return run::failed(proc + "gid_map");
  return std::nullopt;
}

Step check_options(const RunOptions& options, bool in_user_namespace) {
  if (options.chroot_only) {
    if (!options.mounts.empty() || options.network == Network::None)
      return Error{"--bind, --ro-bind, --tmpfs and --net=none need namespaces: not with --chroot-only", true};
    if (::geteuid() != 0) return Error{"--chroot-only needs root (chroot(2)); without it a user namespace is used", true};
  }
  if (in_user_namespace) {
    const Identity& id = options.identity;
    if (id.uid != ::getuid() || id.gid != ::getgid() || !id.groups.empty())
      return Error{"-u, -g and --groups other than your own need root: a user namespace maps only you", true};
  }
  if (options.cwd.empty() || options.cwd[0] != '/') return Error{"--cwd " + options.cwd + ": must be absolute", true};
  return std::nullopt;
}

int run_with_namespaces(const RunOptions& options, bool in_user_namespace) {
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (options.network == Network::None) flags |= CLONE_NEWNET;
  if (in_user_namespace) flags |= CLONE_NEWUSER;
  int sync[2] = {-1, -1};
  if (in_user_namespace && ::pipe2(sync, O_CLOEXEC) != 0) {
    report(run::failed("pipe").message);
    return kRunFailed;
  }
  const sigset_t supervised = supervised_signals();
  sigset_t previous;
  ::sigprocmask(SIG_BLOCK, &supervised, &previous);
  std::fflush(nullptr);
  // clone(2) without a new stack forks into the namespaces, as fork(2) would.
  const pid_t child = static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (child == 0) {
    ::close(sync[1]);
    ::_exit(jail_init(options, sync[0], in_user_namespace, previous));
  }
  if (child < 0) {
    const Error error = run::failed("create the namespaces");
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    report(error.message + (in_user_namespace ? " (are user namespaces disabled? see user.max_user_namespaces, or run as root)" : ""));
    return kRunFailed;
  }
  if (in_user_namespace) {
    ::close(sync[0]);
    if (Step error = map_caller(child)) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      ::sigprocmask(SIG_SETMASK, &previous, nullptr);
      report(error->message);
      return kRunFailed;
    }
    ::close(sync[1]);
  }
  return supervise(child);
}

}  // namespace

int run_in_jail(const RunOptions& options) {
  const bool in_user_namespace = !options.chroot_only && ::geteuid() != 0;
  if (Step error = check_options(options, in_user_namespace)) {
    report(error->message);
    return kRunFailed;
  }
  if (!options.chroot_only) return run_with_namespaces(options, in_user_namespace);
  if (options.identity.uid == 0)
    report("warning: --chroot-only leaves the program root inside a plain chroot, which root can leave; use -u USER");
  if (Step error = run::enter_chroot(options.root)) {
    report(error->message);
    return kRunFailed;
  }
  std::fflush(nullptr);
  become_program(options, false);
}

}  // namespace jailbuild
