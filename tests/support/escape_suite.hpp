// What the escape suites share (tests/run/run_escape_test.cpp, run_escape_review_test.cpp): reading
// the report of the probe (tests/run/escape_probe.c), running it in a jail and under plain
// chroot(8), host processes for it to reach, and the suite's root holding it. A test that includes
// this defines ESCAPE_PROBE_SOURCE, the probe's source file.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jailbuild/manifest.hpp"
#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"
#include "support/loader_oracle.hpp"
#include "support/pty.hpp"
#include "support/spawned.hpp"

namespace jailbuild::testing {

inline const std::string kChroot = "/usr/sbin/chroot";
inline const std::string kGcc = "/usr/bin/gcc";
inline constexpr int kKilledBySigsys = 128 + SIGSYS;
inline constexpr int kNobody = 65534;
inline constexpr int kInheritedFd = 5;

// ---- the probe's report -----------------------------------------------------------------------

// What the probe answered for WHAT ("OK", "EPERM", ...), or "(no answer)" if it printed no line
// for it (it did not get that far).
inline std::string answer(const ProcessResult& result, const std::string& what) {
  for (const std::string& line : lines_of(result.output, CarriageReturn::kDropped))
    if (line.starts_with(what + ": ")) return line.substr(what.size() + 2);
  return "(no answer)";
}

// The lines starting with PREFIX ("ESCAPED: ", "LEAK: ", "ENV ").
inline std::vector<std::string> lines_starting(const ProcessResult& result, const std::string& prefix) {
  std::vector<std::string> found;
  for (const std::string& line : lines_of(result.output, CarriageReturn::kDropped))
    if (line.starts_with(prefix)) found.push_back(line);
  return found;
}

inline std::vector<std::string> escapes(const ProcessResult& result) { return lines_starting(result, "ESCAPED: "); }

// The probe ran to its end: a jail that fails to start must not pass for one that holds.
inline void expect_ran(const ProcessResult& result) {
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(contains(result.output, "PROBE-END")) << "the probe did not run to its end: " << result.describe();
}

// ---- processes with an inherited descriptor or a terminal ------------------------------------

// Runs ARGV with exactly ENV, as run_process does (stdout and stderr in one output), but with a
// descriptor of the caller's left open or on a terminal.
inline ProcessResult spawn(const std::vector<std::string>& argv, const Environment& env, SpawnOptions options) {
  options.merged = true;
  const Outcome outcome = Spawned(argv, env, options).finish(std::chrono::seconds(60));
  ProcessResult result;
  result.timed_out = outcome.timed_out;
  result.exit_code = outcome.exit_code;
  result.term_signal = outcome.term_signal;
  result.output = outcome.out;
  return result;
}

// The descriptor of the caller's the child gets as kInheritedFd.
inline SpawnOptions inheriting(int fd) {
  SpawnOptions options;
  options.inherit.push_back({.fd = fd, .as = kInheritedFd});
  return options;
}

// A process of the host (sleep), as UID, killed when this goes.
struct HostProcess {
  pid_t pid = -1;
  explicit HostProcess(uid_t uid) {
    pid = ::fork();
    if (pid == 0) {
      if (uid != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0)) ::_exit(126);
      ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~HostProcess() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  // "State: S" and "TracerPid: 0", or what /proc/PID/status says instead.
  std::string state() const {
    std::string state, tracer;
    const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    for (const std::string& line : lines_of(status, CarriageReturn::kDropped)) {
      if (line.starts_with("State:")) state = line;
      if (line.starts_with("TracerPid:")) tracer = line;
    }
    return state + " " + tracer;
  }
  // Still there (not exited, killed or stopped) and traced by nobody.
  bool untouched() const {
    const std::string now = state();
    return ::waitpid(pid, nullptr, WNOHANG) == 0 && !contains(now, "\tT") && !contains(now, "\tt") &&
           !contains(now, "\tZ") && contains(now, "TracerPid:\t0");
  }
  // Once it runs sleep (not the test's fork of itself any more).
  bool started() const {
    return wait_for([&] { return contains(read_file("/proc/" + std::to_string(pid) + "/cmdline"), "sleep"); },
                    std::chrono::seconds(5));
  }
};

// ---- a terminal ---------------------------------------------------------------------------------

// The child on PTY, a terminal of its own.
inline SpawnOptions on_terminal(const Pty& pty) {
  SpawnOptions options;
  options.terminal = pty.slave;
  options.master = pty.master;
  return options;
}

// ---- the fixture: one root with the probe, built once ------------------------------------------

// A suite's root holding the probe (built with gcc, added with `jailbuild add`), and beside it a
// host directory with a marker file the jail must not reach.
class EscapeSuite : public JailSuite {
 protected:
  // For the suite's SetUpTestSuite; NAME goes into its directory's name.
  static void set_up_probe_suite(const std::string& name) {
    if (::geteuid() != 0 || !make_suite_directory(name)) return;
    probe_ = dir_ + "/bin/probe";
    host_dir_ = dir_ + "/host";
    marker_ = host_dir_ + "/marker";
    write_file(marker_, "host-only marker\n");
    fs::create_directories(dir_ + "/bin");

    const ProcessResult built = run_process({kGcc, "-O1", "-Wall", "-o", probe_, ESCAPE_PROBE_SOURCE}, kPlainEnv);
    if (built.exit_code != 0) {
      setup_error_ = "building the probe failed: " + built.describe();
      return;
    }
    const ProcessResult added = run_jailbuild({"add", probe_, "--root", root_, "--state-dir", state_});
    if (added.exit_code != kExitOk) {
      setup_error_ = "jailbuild add failed: " + added.describe();
      return;
    }
    manifest_ = manifest_path(state_, root_);
    if (!fs::exists(manifest_)) {
      setup_error_ = "no manifest at " + manifest_;
      return;
    }
    // A /tmp for the controls under plain chroot (the jail mounts a tmpfs over it), and the state
    // directory's path as an empty directory: the manifest's path then exists in the root up to
    // its last two names, and a bind mount of the real one (a control) has a place to go.
    fs::create_directories(root_ + "/tmp");
    fs::permissions(root_ + "/tmp", fs::perms::all | fs::perms::sticky_bit);
    fs::create_directories(root_ + state_);

    const ProcessResult hello = run_jailbuild({"run", root_, probe_, "hello"});
    if (hello.exit_code != 0 || !contains(hello.output, "hello from the jail")) {
      setup_error_ = "jailbuild run cannot run the probe at all: " + hello.describe();
    }
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: jailbuild run sets namespaces up, the controls chroot";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  // `jailbuild run OPTIONS ROOT PROGRAM ARGS`, the probe as PROGRAM unless given.
  static std::vector<std::string> run_argv(const std::vector<std::string>& options,
                                           const std::vector<std::string>& args, const std::string& program = "") {
    std::vector<std::string> command{program.empty() ? probe_ : program};
    command.insert(command.end(), args.begin(), args.end());
    return JailSuite::run_argv(options, command);
  }

  // The probe in the jail.
  static ProcessResult jail(const std::vector<std::string>& options, const std::vector<std::string>& args,
                            const Environment& env = kPlainEnv) {
    return run_process(run_argv(options, args), env);
  }

  // The probe under plain chroot(8) as root (or as USERSPEC): the control, which gets out.
  static std::vector<std::string> chroot_argv(const std::vector<std::string>& args, const std::string& program = "",
                                              const std::string& userspec = "") {
    std::vector<std::string> argv{kChroot};
    if (!userspec.empty()) argv.push_back("--userspec=" + userspec);
    argv.push_back(root_);
    argv.push_back(program.empty() ? probe_ : program);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  static ProcessResult chrooted(const std::vector<std::string>& args, const std::string& userspec = "") {
    return run_process(chroot_argv(args, "", userspec), kPlainEnv);
  }

  // The /proc/self/status lines the probe's creds mode printed, as /proc/self/status text.
  static std::string status_of(const ProcessResult& result) {
    std::string status;
    for (const std::string& line : lines_starting(result, "STATUS ")) status += line.substr(7) + "\n";
    return status;
  }

  static inline std::string probe_, host_dir_, marker_, manifest_;
};

}  // namespace jailbuild::testing
