// `jailbuild run` end to end: real programs in roots built by the real `jailbuild add`, run through
// the jailbuild binary as a user would: exit statuses, signals passed on, orphans reaped, standard
// streams, a $ORIGIN program, the jail's own /proc, /dev and /tmp, the defaults that confine the
// program (read-only root, no capabilities, seccomp, a bare environment, no inherited descriptors)
// and every option, a Python HTTP server reached from the host, and a run by a user who is not
// root.
//
// The fixtures are built once per test suite (SetUpTestSuite) in a directory under /var/tmp, not
// /tmp: `add` places each file at its host path inside the root, and the jail mounts a fresh tmpfs
// on /tmp, which would hide anything placed under it. The fixture programs (a "probe" with one
// subcommand per thing to look at, and an app that finds its library through $ORIGIN) are
// compiled in a staging directory, added to the root, and the staging directory is then removed:
// they exist only inside the root, so a run that did not really enter it finds nothing (127).
//
// The statuses, the options and the defaults checked here are those of the `run` specification:
// the program's status, 128+N when signal N killed it, 125 when the jail could not be set up, 126
// when the program cannot be executed, 127 when it is not in the root; command-line mistakes are
// jailbuild's own failures too (125).
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"
#include "support/loader_oracle.hpp"
#include "support/proc_status.hpp"
#include "support/pty.hpp"
#include "support/spawned.hpp"

namespace jailbuild {
namespace {

using namespace testing;  // the shared command-test helpers: run_jailbuild, write_file, contains, ...
using namespace std::chrono_literals;

// `run`'s own statuses (any other is the program's).
constexpr int kRunFailed = 125;
constexpr int kCannotExecute = 126;
constexpr int kNotFound = 127;
// A command-line mistake is one of jailbuild's own failures: 125, as chroot(8) and env(1) use it,
// so that 1 and 2 stay the program's.
constexpr int kRunUsage = kRunFailed;

constexpr uid_t kNobody = 65534;
const std::string kSetpriv = "/usr/bin/setpriv";
// dash. Not /bin/sh: `add /bin/sh` places the shell under its real directory, /usr/bin, and the
// root gets no /bin -> usr/bin symlink unless something else needs it.
const std::string kShell = "/usr/bin/sh";
const std::string kPython = "/usr/bin/python3";
const std::string kPythonLibrary = "/usr/lib/python3.11";

// ---- small parsers for what the programs print ------------------------------------------------

// `env` output: NAME -> value.
std::map<std::string, std::string> environment_in(const std::string& text) {
  std::map<std::string, std::string> env;
  for (const std::string& line : lines_of(text)) {
    const std::size_t equals = line.find('=');
    if (equals != std::string::npos) env[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return env;
}

std::set<std::string> names_of(const std::map<std::string, std::string>& env) {
  std::set<std::string> names;
  for (const auto& entry : env) names.insert(entry.first);
  return names;
}

// "SOFT HARD" of a /proc/PID/limits line, e.g. "Max open files".
std::string limit_in(const std::string& limits, const std::string& name) {
  for (const std::string& line : lines_of(limits)) {
    if (!line.starts_with(name + " ")) continue;
    std::istringstream fields(line.substr(name.size()));
    std::string soft, hard;
    fields >> soft >> hard;
    return soft + " " + hard;
  }
  return "(no " + name + " line)";
}

// The interface names of /proc/net/dev text.
std::set<std::string> interfaces_in(const std::string& net_dev) {
  std::set<std::string> names;
  for (const std::string& line : lines_of(net_dev)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos || contains(line, "|")) continue;  // the two header lines
    const std::size_t begin = line.find_first_not_of(' ');
    names.insert(line.substr(begin, colon - begin));
  }
  return names;
}

std::set<std::string> words_of(const std::string& text) {
  std::set<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.insert(word);
  return words;
}

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// GET PATH from 127.0.0.1:PORT over plain HTTP/1.0: the whole response; nullopt if nothing
// accepted the connection.
std::optional<std::string> http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  const timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  [[maybe_unused]] auto sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  for (ssize_t got; (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, got);
  ::close(fd);
  return response;
}

// ---- the fixture programs -----------------------------------------------------------------------

// One program with a subcommand per thing a test looks at. stdout is unbuffered: tests wait for
// "ready" before sending signals.
constexpr const char* kProbeSource = R"C(
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t caught;
static void on_signal(int sig) { caught = sig; }

static int numeric(const char* s) {
  if (!*s) return 0;
  for (; *s; ++s)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* The numeric entries of DIR, sorted, space-separated on one line (fds, pids). */
static int list_numbers(const char* path) {
  DIR* dir = opendir(path);
  if (!dir) { printf("%s: %s\n", path, strerror(errno)); return 1; }
  int numbers[4096], count = 0;
  for (struct dirent* entry; (entry = readdir(dir)) && count < 4096;) {
    if (!numeric(entry->d_name)) continue;
    int number = atoi(entry->d_name);
    if (strcmp(path, "/proc/self/fd") == 0 && number == dirfd(dir)) continue;
    numbers[count++] = number;
  }
  closedir(dir);
  for (int i = 1; i < count; ++i)
    for (int j = i; j > 0 && numbers[j - 1] > numbers[j]; --j) {
      int swap = numbers[j]; numbers[j] = numbers[j - 1]; numbers[j - 1] = swap;
    }
  for (int i = 0; i < count; ++i) printf(i ? " %d" : "%d", numbers[i]);
  printf("\n");
  return 0;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char* what = argc > 1 ? argv[1] : "";
  if (!strcmp(what, "exit") && argc > 2) return atoi(argv[2]);
  if (!strcmp(what, "raise") && argc > 2) {
    raise(atoi(argv[2]));
    printf("still alive after signal %s\n", argv[2]);
    return 99;
  }
  if (!strcmp(what, "args")) {
    for (int i = 2; i < argc; ++i) printf("[%s]\n", argv[i]);
    return 0;
  }
  if (!strcmp(what, "wait")) {
    puts("ready");
    for (;;) pause();
  }
  if (!strcmp(what, "trap")) {  /* trap SIG...: prints the first one that comes, exits 0 */
    sigset_t blocked, none;
    sigemptyset(&blocked);
    sigemptyset(&none);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    for (int i = 2; i < argc; ++i) {
      sigaddset(&blocked, atoi(argv[i]));
      sigaction(atoi(argv[i]), &action, NULL);
    }
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    puts("ready");
    while (!caught) sigsuspend(&none);
    printf("got signal %d\n", (int)caught);
    return 0;
  }
  if (!strcmp(what, "write") && argc > 2) {
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "written by probe\n", 17) != 17) {
      printf("%s: %s\n", argv[2], strerror(errno));
      return 1;
    }
    close(fd);
    printf("wrote %s\n", argv[2]);
    return 0;
  }
  if (!strcmp(what, "cwd")) {
    char buffer[4096];
    if (!getcwd(buffer, sizeof buffer)) { printf("getcwd: %s\n", strerror(errno)); return 1; }
    puts(buffer);
    return 0;
  }
  if (!strcmp(what, "pid")) { printf("%d\n", (int)getpid()); return 0; }
  if (!strcmp(what, "fds")) return list_numbers("/proc/self/fd");
  if (!strcmp(what, "pids")) return list_numbers("/proc");
  if (!strcmp(what, "bind") && argc > 2) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = loopback(atoi(argv[2]));
    if (fd < 0 || bind(fd, (struct sockaddr*)&address, sizeof address) != 0) {
      printf("bind: %s\n", strerror(errno));
      return 1;
    }
    puts("bound");
    return 0;
  }
  if (!strcmp(what, "loopback")) {  /* a connection to itself over 127.0.0.1 */
    struct sockaddr_in address = loopback(0);
    socklen_t size = sizeof address;
    int listener = socket(AF_INET, SOCK_STREAM, 0), client = socket(AF_INET, SOCK_STREAM, 0);
    char byte = 0;
    if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr*)&address, &size) != 0 ||
        connect(client, (struct sockaddr*)&address, sizeof address) != 0) {
      printf("loopback: %s\n", strerror(errno));
      return 1;
    }
    int server = accept(listener, NULL, NULL);
    if (server < 0 || write(client, "x", 1) != 1 || read(server, &byte, 1) != 1 || byte != 'x') {
      printf("loopback: %s\n", strerror(errno));
      return 1;
    }
    puts("loopback ok");
    return 0;
  }
  if (!strcmp(what, "orphan")) {
    /* A child that forks a grandchild and exits at once: the grandchild, which exits too, is
       reparented to the jail's pid 1, which must reap it. Exits 5 once its /proc entry is gone. */
    if (access("/proc/self/status", F_OK) != 0) { puts("no /proc"); return 7; }
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return 8;
    pid_t child = fork();
    if (child == 0) {
      pid_t grandchild = fork();
      if (grandchild == 0) _exit(9);
      if (write(pipe_fds[1], &grandchild, sizeof grandchild) != sizeof grandchild) _exit(1);
      _exit(0);
    }
    pid_t grandchild = 0;
    if (read(pipe_fds[0], &grandchild, sizeof grandchild) != sizeof grandchild) return 8;
    waitpid(child, NULL, 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)grandchild);
    for (int i = 0; i < 300; ++i) {
      if (access(path, F_OK) != 0) { puts("orphan reaped"); return 5; }
      usleep(10000);
    }
    printf("orphan %d left a zombie\n", (int)grandchild);
    return 6;
  }
  fprintf(stderr, "probe: unknown command %s\n", what);
  return 100;
}
)C";

constexpr const char* kGreetLibrarySource =
    "#include <stdio.h>\nvoid greet(void) { puts(\"hello from libgreet, found through $ORIGIN\"); }\n";
constexpr const char* kGreetSource = "void greet(void);\nint main(void) { greet(); return 0; }\n";

// ---- the fixture ----------------------------------------------------------------------------

class RunCommand : public JailSuite {
 protected:
  // Builds the fixtures and the shared root once: the host's sh (dash), a few coreutils, the probe
  // and the $ORIGIN app, each with its closure, by `jailbuild add`.
  static void SetUpTestSuite() {
    ::signal(SIGPIPE, SIG_IGN);  // a program that stops reading its stdin must not kill the test
    if (!make_suite_directory("run")) return;
    const std::string stage = dir_ + "/stage";
    probe_ = stage + "/bin/probe";
    greet_ = stage + "/app/bin/greet";

    write_file(dir_ + "/src/probe.c", kProbeSource);
    write_file(dir_ + "/src/greet.c", kGreetSource);
    write_file(dir_ + "/src/libgreet.c", kGreetLibrarySource);
    fs::create_directories(stage + "/bin");
    fs::create_directories(stage + "/app/bin");
    fs::create_directories(stage + "/app/lib");
    for (const std::string& args :
         {"-O1 -o " + probe_ + " src/probe.c",
          "-shared -fPIC -Wl,-soname,libgreet.so.1 -o " + stage + "/app/lib/libgreet.so.1 src/libgreet.c",
          "-o " + greet_ + " src/greet.c -L" + stage +
              "/app/lib -l:libgreet.so.1 -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'"}) {
      const std::string command = "cd " + dir_ + " && gcc " + args;
      if (std::system(command.c_str()) != 0) {
        setup_error_ = "failed: " + command;
        return;
      }
    }
    const ProcessResult added = add({kShell, "/usr/bin/cat", "/usr/bin/env", "/usr/bin/id", "/usr/bin/sleep",
                                     "/usr/bin/readlink", "/usr/bin/ls", probe_, greet_},
                                    root_);
    if (added.exit_code != kExitOk) {
      setup_error_ = "add: " + added.describe();
      return;
    }
    fs::remove_all(stage);  // from now on the fixtures exist only inside the root

    // What cannot be executed: a file without x bits, and an executable file the kernel has no
    // format for (no ELF header, no #!).
    write_file(root_ + "/usr/bin/not-executable", "#!/bin/sh\necho ran\n");
    ::chmod((root_ + "/usr/bin/not-executable").c_str(), 0644);
    write_file(root_ + "/usr/bin/no-format", "echo ran\n");
    ::chmod((root_ + "/usr/bin/no-format").c_str(), 0755);
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  // `jailbuild add PATHS... --root ROOT --state-dir STATE`.
  static ProcessResult add(const std::vector<std::string>& paths, const std::string& root) {
    return run_jailbuild(add_args(paths, root, state_));
  }

  // Runs `jailbuild run OPTIONS... ROOT COMMAND...` on the shared root to the end.
  static Outcome run(const std::vector<std::string>& options, const std::vector<std::string>& command,
                     const Environment& env = kPlainEnv, const SpawnOptions& spawn = {}) {
    return Spawned(run_argv(options, command), env, spawn).finish();
  }
  static Outcome run(const std::vector<std::string>& command) { return run({}, command); }

  // The same through `sh -c SCRIPT` inside the jail.
  static Outcome shell(const std::vector<std::string>& options, const std::string& script) {
    return run(options, {kShell, "-c", script});
  }

  // NAME in the suite's directory: a file or a root of one test's own (removed with the directory).
  static std::string path(const std::string& name) { return dir_ + "/" + name; }

  static inline std::string probe_;  // the same path on the host (gone) and in the root
  static inline std::string greet_;
};

#define REQUIRE_ROOT(why) \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << why

// ---- exit statuses --------------------------------------------------------------------------

TEST_F(RunCommand, TheProgramsExitStatusIsJailbuildsExitStatus) {
  for (int status : {0, 3, 42}) {
    const Outcome outcome = run({probe_, "exit", std::to_string(status)});
    EXPECT_EQ(outcome.exit_code, status) << outcome.describe();
  }
}

TEST_F(RunCommand, AProgramKilledBySignalNExitsWith128PlusN) {
  // The probe raises the signal against itself; if it lives on (e.g. as a pid 1, which ignores
  // signals it has no handler for), it says so and exits 99.
  for (int sig : {SIGKILL, SIGSEGV}) {
    const Outcome outcome = run({probe_, "raise", std::to_string(sig)});
    EXPECT_EQ(outcome.exit_code, 128 + sig) << outcome.describe();
    EXPECT_FALSE(contains(outcome.out, "still alive")) << outcome.describe();
  }
  const Outcome shell_killed = shell({}, "kill -TERM $$; echo still alive");
  EXPECT_EQ(shell_killed.exit_code, 128 + SIGTERM) << shell_killed.describe();
  EXPECT_FALSE(contains(shell_killed.out, "still alive")) << shell_killed.describe();
}

TEST_F(RunCommand, AProgramMissingFromTheRootExitsWith127NamingIt) {
  // /usr/bin/true exists on the host, not in the root: only the root counts.
  ASSERT_TRUE(fs::exists("/usr/bin/true"));
  for (const std::string program : {"/usr/bin/true", "/usr/bin/no-such-program", "no-such-program", "true"}) {
    const Outcome outcome = run({program});
    EXPECT_EQ(outcome.exit_code, kNotFound) << program << "\n" << outcome.describe();
    EXPECT_TRUE(contains(outcome.err, program)) << program << "\n" << outcome.describe();
  }
}

TEST_F(RunCommand, AProgramThatCannotBeExecutedExitsWith126NamingIt) {
  for (const std::string program : {"/usr/bin/not-executable", "/usr/bin/no-format", "/usr/bin"}) {
    const Outcome outcome = run({program});
    EXPECT_EQ(outcome.exit_code, kCannotExecute) << program << "\n" << outcome.describe();
    EXPECT_TRUE(contains(outcome.err, program)) << program << "\n" << outcome.describe();
    EXPECT_FALSE(contains(outcome.out, "ran")) << outcome.describe();
  }
}

TEST_F(RunCommand, AJailThatCannotBeSetUpExitsWith125NamingWhy) {
  const std::string missing = path("no-such-root");
  const Outcome no_root = Spawned(run_argv({}, {kShell, "-c", "echo ran"}, missing), kPlainEnv).finish();
  EXPECT_EQ(no_root.exit_code, kRunFailed) << no_root.describe();
  EXPECT_TRUE(contains(no_root.err, missing)) << no_root.describe();

  write_file(path("a-file"), "not a directory\n");
  const Outcome file_root = Spawned(run_argv({}, {kShell, "-c", "echo ran"}, path("a-file")), kPlainEnv).finish();
  EXPECT_EQ(file_root.exit_code, kRunFailed) << file_root.describe();
  EXPECT_TRUE(contains(file_root.err, path("a-file"))) << file_root.describe();

  const Outcome no_cwd = run({"--cwd", "/no/such/dir"}, {kShell, "-c", "echo ran"});
  EXPECT_EQ(no_cwd.exit_code, kRunFailed) << no_cwd.describe();
  EXPECT_TRUE(contains(no_cwd.err, "/no/such/dir")) << no_cwd.describe();

  for (const Outcome* outcome : {&no_root, &file_root, &no_cwd})
    EXPECT_FALSE(contains(outcome->out, "ran")) << outcome->describe();
}

TEST_F(RunCommand, CommandLineMistakesExitWith125) {
  const std::vector<std::vector<std::string>> mistakes{
      {},        // no root
      {"ROOT"},  // no program
      {"--no-such-option", "ROOT", "/usr/bin/sh"},
      {"--net", "bogus", "ROOT", "/usr/bin/sh"},
      {"--seccomp", "maybe", "ROOT", "/usr/bin/sh"},
      {"--rlimit", "nofile=lots", "ROOT", "/usr/bin/sh"},
      {"--rlimit", "no-such-limit=1", "ROOT", "/usr/bin/sh"},
      {"--cap", "NOT_A_CAPABILITY", "ROOT", "/usr/bin/sh"},
      {"--bind", "relative:/mnt", "ROOT", "/usr/bin/sh"},
      {"--env", "NO_EQUALS_SIGN", "ROOT", "/usr/bin/sh"},
      {"--cwd"},  // an option without its value
  };
  for (std::vector<std::string> args : mistakes) {
    for (std::string& arg : args)
      if (arg == "ROOT") arg = root_;
    args.insert(args.begin(), "run");
    const ProcessResult result = run_jailbuild(args);
    std::string shown;
    for (const std::string& arg : args) shown += arg + " ";
    EXPECT_EQ(result.exit_code, kRunUsage) << shown << "\n" << result.describe();
  }
}

TEST_F(RunCommand, EverythingAfterTheProgramGoesToItUntouched) {
  // Options of `run` after PROGRAM are the program's arguments, and so are empty strings and "--".
  const Outcome outcome = run({probe_, "args", "-u", "root", "--env", "X=1", "--writable", "two words", "", "--"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "[-u]\n[root]\n[--env]\n[X=1]\n[--writable]\n[two words]\n[]\n[--]\n") << outcome.describe();
}

TEST_F(RunCommand, AProgramNameIsLookedUpInTheJailsPath) {
  const Outcome by_name = run({"readlink", "/proc/self/exe"});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.describe();
  EXPECT_EQ(by_name.out, "/usr/bin/readlink\n") << by_name.describe();

  // The PATH the program gets is the one searched.
  const Outcome elsewhere = run({"--env", "PATH=/nowhere"}, {"readlink", "/proc/self/exe"});
  EXPECT_EQ(elsewhere.exit_code, kNotFound) << elsewhere.describe();
}

// ---- signals and orphans ----------------------------------------------------------------------

TEST_F(RunCommand, SigtermToJailbuildKillsTheProgramWhichExitsWith143) {
  Spawned jail(run_argv({}, {probe_, "wait"}), kPlainEnv);
  ASSERT_TRUE(jail.wait_for_output("ready\n", 20s)) << jail.finish(1s).describe();
  jail.signal(SIGTERM);
  const Outcome outcome = jail.finish(10s);
  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM) << outcome.describe();
}

TEST_F(RunCommand, SignalsSentToJailbuildReachTheProgram) {
  // The probe handles the signal, prints it and exits 0: jailbuild passed it on, then waited for
  // the program and exited with its status (not 128+N of its own).
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM}) {
    Spawned jail(run_argv({}, {probe_, "trap", std::to_string(sig)}), kPlainEnv);
    ASSERT_TRUE(jail.wait_for_output("ready\n", 20s)) << jail.finish(1s).describe();
    jail.signal(sig);
    const Outcome outcome = jail.finish(10s);
    EXPECT_EQ(outcome.exit_code, 0) << "signal " << sig << "\n" << outcome.describe();
    EXPECT_EQ(outcome.out, "ready\ngot signal " + std::to_string(sig) + "\n") << outcome.describe();
  }
}

// The jail is a session of its own (kill(0) inside reaches no host process), so the caller's
// terminal is not its controlling terminal: Ctrl-C reaches jailbuild, in the terminal's foreground
// group, which passes it on to the program's whole process group, as the terminal would have. A
// shell's foreground program (sleep) is interrupted, and the shell with it.
TEST_F(RunCommand, CtrlCReachesTheJailedProgramsWholeProcessGroup) {
  const Pty pty(LineDiscipline::kCooked);
  ASSERT_TRUE(pty.ok()) << std::strerror(errno);
  SpawnOptions on_terminal;
  on_terminal.terminal = pty.slave;
  on_terminal.master = pty.master;
  Spawned jail(run_argv({}, {kShell, "-c", "echo ready; sleep 30; echo not interrupted"}), kPlainEnv, on_terminal);
  ASSERT_TRUE(jail.wait_for_output("ready", 20s)) << jail.finish(1s).describe();
  std::this_thread::sleep_for(200ms);  // until sh runs sleep
  ASSERT_EQ(::write(pty.master, "\x03", 1), 1) << std::strerror(errno);
  const Outcome outcome = jail.finish(10s);
  EXPECT_EQ(outcome.exit_code, 128 + SIGINT) << outcome.describe();
  EXPECT_FALSE(contains(outcome.out, "not interrupted")) << outcome.describe();
  EXPECT_LT(outcome.took, 10s) << outcome.describe();
}

TEST_F(RunCommand, OrphansAreReapedAndTheRunEndsWithTheProgramsStatus) {
  // An orphan that exits (9) while the program runs: reaped by the jail's pid 1, and its status
  // is not taken for the program's (5).
  const Outcome reaped = run({probe_, "orphan"});
  EXPECT_EQ(reaped.exit_code, 5) << reaped.describe();
  EXPECT_EQ(reaped.out, "orphan reaped\n") << reaped.describe();

  // An orphan that outlives the program does not keep the run going.
  const Outcome outlived = shell({}, "sleep 30 & exit 4");
  EXPECT_EQ(outlived.exit_code, 4) << outlived.describe();
  EXPECT_LT(outlived.took, 10s) << outlived.describe();
}

// ---- standard streams and descriptors ---------------------------------------------------------

TEST_F(RunCommand, StdinReachesTheProgramAndStdoutAndStderrComeBackApart) {
  // More than a pipe holds, so that a runner that buffered or relayed only part of it would show.
  std::string input;
  for (int line = 0; input.size() < 300000; ++line) input += "line " + std::to_string(line) + " of the input\n";
  const Outcome piped = run({}, {"cat"}, kPlainEnv, {.input = input, .inherit = {}});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out.size(), input.size());
  EXPECT_TRUE(piped.out == input) << "stdout differs from stdin";

  const Outcome apart = shell({}, "echo to stdout; echo to stderr >&2; exit 7");
  EXPECT_EQ(apart.exit_code, 7) << apart.describe();
  EXPECT_EQ(apart.out, "to stdout\n") << apart.describe();
  EXPECT_EQ(apart.err, "to stderr\n") << apart.describe();
}

TEST_F(RunCommand, DescriptorsBeyondStderrAreClosed) {
  // A descriptor jailbuild inherits (a host file outside the root) must not reach the program.
  write_file(path("host-secret"), "host secret\n");
  const int leaked = ::open(path("host-secret").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(leaked, 3);
  const Outcome outcome = run({}, {probe_, "fds"}, kPlainEnv, {.input = "", .inherit = {{leaked}}});
  ::close(leaked);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "0 1 2\n") << "descriptor " << leaked << " was passed in\n" << outcome.describe();
}

// ---- the program and its view of the system ---------------------------------------------------

TEST_F(RunCommand, AnOriginRpathProgramFindsItsLibraryInTheRoot) {
  // greet's DT_RUNPATH is $ORIGIN/../lib; neither it nor its library exists on the host anymore.
  const Outcome outcome = run({greet_});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "hello from libgreet, found through $ORIGIN\n") << outcome.describe();
}

TEST_F(RunCommand, TheProgramGetsItsOwnMountPidIpcAndUtsNamespaces) {
  const std::vector<std::string> kinds{"mnt", "pid", "ipc", "uts", "net", "user"};
  auto namespaces_of = [&](const std::vector<std::string>& options) {
    std::vector<std::string> command{"readlink"};
    for (const std::string& kind : kinds) command.push_back("/proc/self/ns/" + kind);
    const Outcome outcome = run(options, command);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
    std::map<std::string, bool> fresh;
    std::istringstream lines(outcome.out);
    std::string line;
    for (const std::string& kind : kinds) {
      std::getline(lines, line);
      fresh[kind] = line != fs::read_symlink("/proc/self/ns/" + kind).string();
    }
    return fresh;
  };
  // A user namespace too, for root as for anyone: the jail's uid 0 is not the host's.
  EXPECT_EQ(namespaces_of({}),
            (std::map<std::string, bool>{
                {"ipc", true}, {"mnt", true}, {"net", false}, {"pid", true}, {"user", true}, {"uts", true}}));
  EXPECT_TRUE(namespaces_of({"--net", "none"})["net"]);
  if (::geteuid() == 0) { EXPECT_FALSE(namespaces_of({"--host-root"})["user"]) << "--host-root keeps the host's"; }
}

TEST_F(RunCommand, ProcShowsTheJailsOwnProcesses) {
  // A fresh /proc of the jail's PID namespace: the program is pid 2 (after the jail's init), and
  // it sees only the jail's few processes, none of the host's.
  const Outcome status = run({"cat", "/proc/self/status"});
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_EQ(status_field(status.out, "Pid"), "2") << status.out;
  EXPECT_EQ(status_field(status.out, "NSpid"), "2") << status.out;

  const Outcome pids = run({probe_, "pids"});
  EXPECT_EQ(pids.exit_code, 0) << pids.describe();
  const std::set<std::string> seen = words_of(pids.out);
  EXPECT_TRUE(seen.contains("2")) << pids.out;
  EXPECT_LE(seen.size(), 3u) << pids.out;

  const Outcome exe = run({"/usr/bin/readlink", "/proc/self/exe"});
  EXPECT_EQ(exe.out, "/usr/bin/readlink\n") << exe.describe();

  // The jail's mounts (its /proc among them) never show in the host's mount table.
  const std::string host_mounts = read_file("/proc/self/mountinfo");
  EXPECT_FALSE(contains(host_mounts, root_)) << host_mounts;
}

TEST_F(RunCommand, TheJailHasAMinimalDevAndAFreshTmp) {
  const Outcome dev = run({"ls", "-A", "/dev"});
  EXPECT_EQ(dev.exit_code, 0) << dev.describe();
  const std::set<std::string> in_jail = words_of(dev.out);
  for (const char* needed : {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx"})
    EXPECT_TRUE(in_jail.contains(needed)) << "/dev/" << needed << " missing:\n" << dev.out;
  // No other host device (disks, kmsg, kvm, loop devices, ...) is there.
  const std::set<std::string> allowed{"null", "zero", "full",  "random", "urandom", "tty",  "pts",     "shm",
                                      "ptmx", "fd",   "stdin", "stdout", "stderr",  "core", "console", "mqueue"};
  for (const auto& entry : fs::directory_iterator("/dev")) {
    const std::string name = entry.path().filename().string();
    if (!allowed.contains(name)) { EXPECT_FALSE(in_jail.contains(name)) << "host /dev/" << name << " in the jail"; }
  }

  // /tmp is an empty tmpfs (the host's /tmp is not empty), writable although the root is not.
  const Outcome tmp = shell({}, "ls -A /tmp; echo end of ls; " + probe_ + " write /tmp/file && cat /tmp/file && " +
                                    probe_ + " write /dev/null");
  EXPECT_EQ(tmp.exit_code, 0) << tmp.describe();
  EXPECT_EQ(tmp.out, "end of ls\nwrote /tmp/file\nwritten by probe\nwrote /dev/null\n") << tmp.describe();
}

// ---- confinement by default ------------------------------------------------------------------

TEST_F(RunCommand, TheRootIsReadOnlyUnlessWritable) {
  REQUIRE_ROOT("as any other user, the root's files are not writable anyway");
  const std::string written = root_ + "/written";
  const Outcome read_only = run({probe_, "write", "/written"});
  EXPECT_EQ(read_only.exit_code, 1) << read_only.describe();
  EXPECT_EQ(read_only.out, "/written: " + std::string(std::strerror(EROFS)) + "\n") << read_only.describe();
  EXPECT_FALSE(fs::exists(written));

  // --writable: the jail's uid 0 is jailbuild's unprivileged host id, which may not write a root
  // that root owns...
  const Outcome not_owner = run({"--writable"}, {probe_, "write", "/written"});
  EXPECT_EQ(not_owner.exit_code, 1) << not_owner.describe();
  EXPECT_EQ(not_owner.out, "/written: " + std::string(std::strerror(EACCES)) + "\n") << not_owner.describe();
  EXPECT_FALSE(fs::exists(written));

  // ... but writes where that id may, and what it makes belongs to that id on the host.
  const std::optional<unsigned> jail_root = jail_root_id();
  ASSERT_TRUE(jail_root.has_value()) << "no jailbuild line in /etc/subuid after a run as root";
  const std::string data = root_ + "/data";
  fs::create_directories(data);
  ASSERT_EQ(::chown(data.c_str(), *jail_root, *jail_root_id("/etc/subgid")), 0) << std::strerror(errno);
  const Outcome owner = run({"--writable"}, {probe_, "write", "/data/written"});
  EXPECT_EQ(owner.exit_code, 0) << owner.describe();
  EXPECT_EQ(read_file(data + "/written"), "written by probe\n");
  struct stat status {};
  EXPECT_EQ(::stat((data + "/written").c_str(), &status), 0);
  EXPECT_EQ(status.st_uid, *jail_root) << "the jail's root wrote as host uid " << status.st_uid;
  fs::remove_all(data);

  // --host-root: the jail's uid 0 is the host's root, and writes anywhere in the root.
  const Outcome as_host_root = run({"--writable", "--host-root"}, {probe_, "write", "/written"});
  EXPECT_EQ(as_host_root.exit_code, 0) << as_host_root.describe();
  EXPECT_EQ(read_file(written), "written by probe\n");
  fs::remove(written);
}

// A root only its owner, the host's root, may read (mode 0700, as mktemp -d makes it): its entries
// are read before the jail takes its unprivileged ids, so it runs as any root does; the control is
// the root's mode, which the jail's root could not have listed.
TEST_F(RunCommand, ARootOnlyRootMayReadRunsAsAnyOther) {
  REQUIRE_ROOT("the root belongs to root and is private to it");
  const std::string private_root = path("private-root");
  fs::create_directories(private_root);
  fs::permissions(private_root, fs::perms::owner_all);
  ASSERT_EQ(add({"/usr/bin/ls"}, private_root).exit_code, kExitOk);
  ASSERT_EQ(fs::status(private_root).permissions(), fs::perms::owner_all) << "add changed the root's mode";
  const Outcome listed = Spawned(run_argv({}, {"/usr/bin/ls", "/"}, private_root), kPlainEnv).finish();
  EXPECT_EQ(listed.exit_code, 0) << listed.describe();
  EXPECT_TRUE(contains(listed.out, "usr\n")) << listed.describe();
}

TEST_F(RunCommand, RunningARootLeavesItAsItWas) {
  // No mount point is made in a read-only root (its /proc, /dev and /tmp live in a tmpfs top
  // level), and nothing is touched: times included.
  std::error_code ignored;
  for (const char* mount_point : {"proc", "dev", "tmp"})  // made by a --writable run, if one came first
    fs::remove(root_ + "/" + mount_point, ignored);
  const Tree before = snapshot(root_, true);
  ASSERT_FALSE(before.contains("proc")) << "the root holds a /proc of its own: nothing would be tested";
  const Outcome outcome = shell({}, "ls / /dev /proc/self >/dev/null && echo hi > /tmp/x && cat /tmp/x");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "hi\n") << outcome.describe();
  EXPECT_EQ(snapshot(root_, true), before) << "the run changed the root";
}

TEST_F(RunCommand, NoCapabilitiesNoNewPrivilegesAndSeccompByDefault) {
  const Outcome defaults = run({"cat", "/proc/self/status"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.describe();
  expect_no_capabilities(defaults.out, defaults.out);

  const Outcome off = run({"--seccomp", "off"}, {"cat", "/proc/self/status"});
  ASSERT_EQ(off.exit_code, 0) << off.describe();
  EXPECT_EQ(status_field(off.out, "Seccomp"), "0") << off.out;
}

TEST_F(RunCommand, TheDefaultEnvironmentHoldsOnlyPathHomeTermAndLang) {
  const passwd* caller = ::getpwuid(::getuid());
  ASSERT_NE(caller, nullptr);
  const Environment rich{{"PATH", "/usr/bin:/bin"},
                         {"TERM", "xterm-jailtest"},
                         {"LANG", "C.UTF-8"},
                         {"SECRET", "hunter2"},
                         {"HOME", "/caller/home"}};
  const Outcome outcome = run({}, {"env"}, rich);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.describe();
  const auto env = environment_in(outcome.out);
  EXPECT_EQ(names_of(env), (std::set<std::string>{"HOME", "LANG", "PATH", "TERM"})) << outcome.out;
  EXPECT_EQ(env.at("TERM"), "xterm-jailtest");
  // A locale the root holds: the caller's C.UTF-8, whose files the locale rule added with the
  // programs that call setlocale (run_root_fit_test has the other cases: a root without them).
  EXPECT_EQ(env.at("LANG"), "C.UTF-8");
  EXPECT_EQ(env.at("HOME"), caller->pw_dir);  // the user's home, not the caller's HOME
  EXPECT_TRUE(contains(":" + env.at("PATH") + ":", ":/usr/bin:")) << env.at("PATH");

  // Without TERM in the caller's environment, there is none; LANG is the root's locale all the same.
  const Outcome plain = run({}, {"env"});
  EXPECT_EQ(names_of(environment_in(plain.out)), (std::set<std::string>{"HOME", "LANG", "PATH"})) << plain.describe();
}

TEST_F(RunCommand, EnvAssignmentsAreSetOverTheEnvironment) {
  const Outcome outcome = run({"--env", "GREETING=hello world", "--env", "PATH=/opt/bin", "--env", "EMPTY=", "--env",
                               "TWICE=first", "--env", "TWICE=second"},
                              {"/usr/bin/env"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.describe();
  const auto env = environment_in(outcome.out);
  EXPECT_EQ(names_of(env), (std::set<std::string>{"EMPTY", "GREETING", "HOME", "LANG", "PATH", "TWICE"}))
      << outcome.out;
  EXPECT_EQ(env.at("GREETING"), "hello world");
  EXPECT_EQ(env.at("PATH"), "/opt/bin");
  EXPECT_EQ(env.at("EMPTY"), "");
  EXPECT_EQ(env.at("TWICE"), "second");
}

TEST_F(RunCommand, KeepEnvPassesTheCallersEnvironment) {
  const Environment caller{{"PATH", "/usr/bin:/bin"}, {"SECRET", "hunter2"}, {"OTHER", "x y"}};
  const Outcome kept = run({"--keep-env", "--env", "OTHER=replaced"}, {"env"}, caller);
  ASSERT_EQ(kept.exit_code, 0) << kept.describe();
  const auto env = environment_in(kept.out);
  EXPECT_EQ(env.count("SECRET") ? env.at("SECRET") : "(unset)", "hunter2") << kept.out;
  EXPECT_EQ(env.count("PATH") ? env.at("PATH") : "(unset)", "/usr/bin:/bin") << kept.out;
  EXPECT_EQ(env.count("OTHER") ? env.at("OTHER") : "(unset)", "replaced") << kept.out;
}

// ---- options ------------------------------------------------------------------------------------

TEST_F(RunCommand, CwdSetsTheWorkingDirectoryInsideTheRoot) {
  const Outcome by_default = run({probe_, "cwd"});
  EXPECT_EQ(by_default.out, "/\n") << by_default.describe();
  const Outcome in_bin = run({"--cwd", "/usr/bin"}, {probe_, "cwd"});
  EXPECT_EQ(in_bin.exit_code, 0) << in_bin.describe();
  EXPECT_EQ(in_bin.out, "/usr/bin\n") << in_bin.describe();
  // The directory is the root's, not the host's: /usr/bin in the root has cat but no python3.
  const Outcome listed = run({"--cwd", "/usr/bin"}, {"ls", "cat"});
  EXPECT_EQ(listed.out, "cat\n") << listed.describe();
  const Outcome unlisted = run({"--cwd", "/usr/bin"}, {"ls", "python3"});
  EXPECT_NE(unlisted.exit_code, 0) << unlisted.describe();
}

TEST_F(RunCommand, BindMountsShowHostDirectoriesReadWriteOrReadOnly) {
  REQUIRE_ROOT("writes into a host directory bound into the jail");
  const std::string shared = path("shared");
  write_file(shared + "/hello.txt", "hello from the host\n");
  // Writable by the jail's uid 0, which is jailbuild's unprivileged host id (see run.md).
  const std::optional<unsigned> jail_root = jail_root_id();
  ASSERT_TRUE(jail_root.has_value()) << "no jailbuild line in /etc/subuid after a run as root";
  ASSERT_EQ(::chown(shared.c_str(), *jail_root, *jail_root), 0) << std::strerror(errno);
  fs::create_directories(root_ + "/mnt/rw");
  fs::create_directories(root_ + "/mnt/ro");
  const Outcome outcome = shell({"--bind", shared + ":/mnt/rw", "--ro-bind", shared + ":/mnt/ro"},
                                "cat /mnt/rw/hello.txt /mnt/ro/hello.txt; " + probe_ + " write /mnt/rw/from-jail; " +
                                    probe_ + " write /mnt/ro/not-allowed; exit 0");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "hello from the host\nhello from the host\nwrote /mnt/rw/from-jail\n/mnt/ro/not-allowed: " +
                             std::string(std::strerror(EROFS)) + "\n")
      << outcome.describe();
  EXPECT_EQ(read_file(shared + "/from-jail"), "written by probe\n");
  EXPECT_FALSE(fs::exists(shared + "/not-allowed"));
}

// A file bound onto a name the root holds as a symlink would land on whatever the symlink is
// taken to mean; jailbuild refuses it, naming the destination. Control: the same bind onto a
// regular file shows the host's file.
TEST_F(RunCommand, AFileBindOntoASymlinkInTheRootIsRefused) {
  const std::string host_file = path("bound-file.txt");
  write_file(host_file, "from the host\n");
  write_file(root_ + "/mnt/files/plain", "the root's plain file\n");
  write_file(root_ + "/mnt/files/pointed-at", "the root's file the symlink names\n");
  fs::create_symlink("pointed-at", root_ + "/mnt/files/link");
  const Outcome plain = run({"--ro-bind", host_file + ":/mnt/files/plain"}, {"cat", "/mnt/files/plain"});
  const Outcome linked =
      run({"--ro-bind", host_file + ":/mnt/files/link"}, {"cat", "/mnt/files/pointed-at", "/mnt/files/link"});
  fs::remove_all(root_ + "/mnt/files");
  EXPECT_EQ(plain.exit_code, 0) << plain.describe();
  EXPECT_EQ(plain.out, "from the host\n") << plain.describe();
  EXPECT_EQ(linked.exit_code, kRunFailed) << linked.describe();
  EXPECT_TRUE(contains(linked.err, "/mnt/files/link")) << linked.describe();
  EXPECT_TRUE(contains(linked.err, "a symlink in the root; refusing to mount through it")) << linked.describe();
  EXPECT_EQ(linked.out, "") << linked.describe();
}

TEST_F(RunCommand, TmpfsMountsAFreshWritableDirectory) {
  REQUIRE_ROOT("compares with a root that root wrote");
  write_file(root_ + "/scratch/underneath.txt", "hidden by the tmpfs\n");
  const Outcome outcome =
      shell({"--tmpfs", "/scratch"}, "ls -A /scratch; echo end of ls; " + probe_ + " write /scratch/new");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "end of ls\nwrote /scratch/new\n") << outcome.describe();
  EXPECT_FALSE(fs::exists(root_ + "/scratch/new")) << "the write reached the root";
  EXPECT_TRUE(fs::exists(root_ + "/scratch/underneath.txt"));
}

TEST_F(RunCommand, MountsAreMadeInCommandLineOrder) {
  // A bind inside a tmpfs given before it: made after it, it shows; made before, the tmpfs hides it.
  const std::string site = path("site");
  write_file(site + "/index.html", "hello\n");
  const Outcome outcome = shell({"--tmpfs", "/srv", "--ro-bind", site + ":/srv/site", "--tmpfs", "/srv/cache"},
                                "cat /srv/site/index.html; ls -A /srv; echo end");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "hello\ncache\nsite\nend\n") << outcome.describe();
}

TEST_F(RunCommand, DoubleVerboseLogsEachStepAndMountTheRunTakes) {
  const std::string site = path("verbose-site");
  write_file(site + "/index.html", "hello\n");
  const auto verbose_run = [&](const char* verbosity) {
    std::vector<std::string> argv{JAILBUILD_BINARY};
    if (*verbosity != '\0') argv.push_back(verbosity);
    for (const std::string& arg : run_argv({"--ro-bind", site + ":/srv/site"}, {"cat", "/srv/site/index.html"}))
      if (arg != JAILBUILD_BINARY) argv.push_back(arg);
    return Spawned(argv, kPlainEnv).finish();
  };
  const Outcome outcome = verbose_run("-vv");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  EXPECT_EQ(outcome.out, "hello\n") << outcome.describe();
  // Each step, from jailbuild's and the child's side, and each mount with its paths, in the order
  // they were taken (the child's first two steps run while jailbuild does its own: see below).
  std::vector<std::string> expected{"trace: run: jailbuild: open the root " + root_,
                                    "trace: run: jailbuild: clone the child into new user, mount, pid",
                                    "trace: run: jailbuild: write the child's id maps"};
  for (const std::string& line :
       {std::string("trace: run: child: read the root's top level"),
        std::string("trace: run: child: build the jail's file system and pivot_root into it"),
        std::string("trace: run: mount: top level / (nosuid,nodev,mode=0755,size=64k)"),
        "trace: run: mount: ro-bind /usr from " + root_ + "/usr (nosuid,nodev)",
        std::string("trace: run: mount: proc /proc"), std::string("trace: run: mount: read-only /proc/sys"),
        std::string("trace: run: mount: mask /proc/kcore"), std::string("trace: run: mount: tmpfs /dev "),
        std::string("trace: run: mount: symlink /dev/fd -> /proc/self/fd"),
        std::string("trace: run: mount: tmpfs /tmp "), "trace: run: mount: ro-bind /srv/site from " + site,
        std::string("trace: run: mount: remount / (ro,nosuid,nodev)"),
        std::string("trace: run: pivot_root into the top level"),
        std::string("trace: run: child: take the program's identity"),
        std::string("trace: run: child: load the seccomp filter"),
        std::string("trace: run: child: execute the jail's init (init) from its sealed memfd: cat")})
    expected.push_back(line);
  std::size_t at = 0;
  for (const std::string& line : expected) {
    const std::size_t found = outcome.err.find("jailbuild: " + line, at);
    ASSERT_NE(found, std::string::npos) << "missing, or out of order: " << line << "\n" << outcome.describe();
    at = found;
  }
  // Said by the child while jailbuild writes the id maps, so in either order with that line.
  EXPECT_TRUE(contains(outcome.err, "jailbuild: trace: run: child: wait until jailbuild has done its part"))
      << outcome.describe();
  // The control: without -vv, nothing of it.
  const Outcome quiet = verbose_run("");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.describe();
  EXPECT_EQ(quiet.err, "") << quiet.describe();
}

TEST_F(RunCommand, NetNoneLeavesOnlyLoopbackUp) {
  const std::set<std::string> host = interfaces_in(read_file("/proc/net/dev"));

  const Outcome none = run({"--net", "none"}, {"cat", "/proc/net/dev"});
  EXPECT_EQ(none.exit_code, 0) << none.describe();
  EXPECT_EQ(interfaces_in(none.out), std::set<std::string>{"lo"}) << none.out;
  const Outcome loopback = run({"--net", "none"}, {probe_, "loopback"});
  EXPECT_EQ(loopback.out, "loopback ok\n") << loopback.describe();

  // By default the host's network: its interfaces are all there.
  const Outcome shared = run({"cat", "/proc/net/dev"});
  EXPECT_EQ(interfaces_in(shared.out), host) << shared.describe();
}

TEST_F(RunCommand, RlimitSetsTheProgramsLimits) {
  const Outcome one = run({"--rlimit", "nofile=64"}, {"cat", "/proc/self/limits"});
  EXPECT_EQ(one.exit_code, 0) << one.describe();
  EXPECT_EQ(limit_in(one.out, "Max open files"), "64 64") << one.out;

  const Outcome several = run({"--rlimit", "nofile=32:64", "--rlimit", "core=0", "--rlimit", "fsize=unlimited"},
                              {"cat", "/proc/self/limits"});
  EXPECT_EQ(several.exit_code, 0) << several.describe();
  EXPECT_EQ(limit_in(several.out, "Max open files"), "32 64") << several.out;
  EXPECT_EQ(limit_in(several.out, "Max core file size"), "0 0") << several.out;
  EXPECT_EQ(limit_in(several.out, "Max file size"), "unlimited unlimited") << several.out;
}

TEST_F(RunCommand, UserAndGroupsAreLookedUpOnTheHost) {
  REQUIRE_ROOT("changing user");
  // Copied at once: getpwnam and getgrnam return static storage that the next call overwrites.
  const passwd* nobody_entry = ::getpwnam("nobody");
  if (nobody_entry == nullptr) GTEST_SKIP() << "no user nobody on this host";
  const std::string nobody_uid = std::to_string(nobody_entry->pw_uid);
  const std::string nobody_gid = std::to_string(nobody_entry->pw_gid);
  const std::string nobody_home = nobody_entry->pw_dir;
  const group* users_entry = ::getgrnam("users");
  if (users_entry == nullptr) GTEST_SKIP() << "no group users on this host";
  const std::string users_gid = std::to_string(users_entry->gr_gid);
  const group* adm_entry = ::getgrnam("adm");
  if (adm_entry == nullptr) GTEST_SKIP() << "no group adm on this host";
  const std::string adm_gid = std::to_string(adm_entry->gr_gid);

  const Outcome as_root = shell({}, "id -u; id -g; id -G");
  EXPECT_EQ(as_root.out, "0\n0\n0\n") << as_root.describe();

  // nobody with its primary group and no supplementary groups (none of root's), and its HOME.
  const Outcome as_nobody = shell({"-u", "nobody"}, "id -u; id -g; id -G; echo $HOME");
  EXPECT_EQ(as_nobody.exit_code, 0) << as_nobody.describe();
  EXPECT_EQ(as_nobody.out, nobody_uid + "\n" + nobody_gid + "\n" + nobody_gid + "\n" + nobody_home + "\n")
      << as_nobody.describe();

  // Numbers and names mixed, with the long options.
  const Outcome with_groups =
      shell({"--user", nobody_uid, "--group", "users", "--groups", "adm," + users_gid}, "id -u; id -g; echo; id -G");
  EXPECT_EQ(with_groups.exit_code, 0) << with_groups.describe();
  const std::size_t blank = with_groups.out.find("\n\n");
  ASSERT_NE(blank, std::string::npos) << with_groups.describe();
  EXPECT_EQ(with_groups.out.substr(0, blank + 1), nobody_uid + "\n" + users_gid + "\n") << with_groups.describe();
  EXPECT_EQ(words_of(with_groups.out.substr(blank)), (std::set<std::string>{users_gid, adm_gid}))
      << with_groups.describe();

  const Outcome unknown = shell({"-u", "no-such-user-jailbuild"}, "echo ran");
  EXPECT_EQ(unknown.exit_code, kRunFailed) << unknown.describe();
  EXPECT_TRUE(contains(unknown.err, "no-such-user-jailbuild")) << unknown.describe();
  EXPECT_FALSE(contains(unknown.out, "ran")) << unknown.describe();
}

TEST_F(RunCommand, CapNetBindServiceLetsNobodyBindPort80) {
  REQUIRE_ROOT("changing user");
  // In a network namespace of the jail's own (--net none), where port 80 is free whatever the
  // host runs, and ports below 1024 are privileged as on any new namespace.
  const Outcome without = run({"-u", "nobody", "--net", "none"}, {probe_, "bind", "80"});
  EXPECT_EQ(without.exit_code, 1) << without.describe();
  EXPECT_EQ(without.out, "bind: " + std::string(std::strerror(EACCES)) + "\n") << without.describe();

  const Outcome with = run({"-u", "nobody", "--net", "none", "--cap", "NET_BIND_SERVICE"}, {probe_, "bind", "80"});
  EXPECT_EQ(with.exit_code, 0) << with.describe();
  EXPECT_EQ(with.out, "bound\n") << with.describe();

  // That one capability and no other; --cap repeated keeps each one named.
  const Outcome one = run({"-u", "nobody", "--cap", "NET_BIND_SERVICE"}, {"cat", "/proc/self/status"});
  const std::string bit = "0000000000000400";  // 1 << CAP_NET_BIND_SERVICE (10)
  for (const char* set : {"CapEff", "CapPrm", "CapBnd", "CapAmb"})
    EXPECT_EQ(status_field(one.out, set), bit) << set << "\n" << one.describe();
  const Outcome two = run({"-u", "nobody", "--cap", "NET_BIND_SERVICE", "--cap", "KILL"}, {"cat", "/proc/self/status"});
  EXPECT_EQ(status_field(two.out, "CapEff"), "0000000000000420") << two.describe();  // | 1 << CAP_KILL (5)
}

TEST_F(RunCommand, ChrootOnlyRunsTheProgramAndWarnsRootWithoutUser) {
  REQUIRE_ROOT("chroot(2)");
  const Outcome as_root = run({"--chroot-only"}, {probe_, "exit", "3"});
  EXPECT_EQ(as_root.exit_code, 3) << as_root.describe();
  EXPECT_TRUE(contains(as_root.err, "warning")) << as_root.describe();

  // No PID namespace: the program has a host pid, never the 2 it gets in a jail.
  const Outcome pid = run({"--chroot-only"}, {probe_, "pid"});
  EXPECT_EQ(pid.exit_code, 0) << pid.describe();
  EXPECT_GT(std::atoi(pid.out.c_str()), 2) << pid.describe();

  // Inside the root (the probe exists nowhere else), as the user asked for, without a warning.
  const Outcome as_nobody = shell({"--chroot-only", "-u", "nobody"}, "id -u; " + probe_ + " cwd");
  EXPECT_EQ(as_nobody.exit_code, 0) << as_nobody.describe();
  EXPECT_EQ(as_nobody.out, std::to_string(kNobody) + "\n/\n") << as_nobody.describe();
  EXPECT_EQ(as_nobody.err, "") << as_nobody.describe();
}

// ---- without root -------------------------------------------------------------------------------

// `jailbuild run ROOT COMMAND...` as nobody (uid and gid 65534, no groups), through setpriv.
Outcome run_as_nobody(const std::string& root, const std::vector<std::string>& command) {
  std::vector<std::string> argv{kSetpriv,
                                "--reuid",
                                std::to_string(kNobody),
                                "--regid",
                                std::to_string(kNobody),
                                "--clear-groups",
                                JAILBUILD_BINARY,
                                "run",
                                root};
  argv.insert(argv.end(), command.begin(), command.end());
  return Spawned(argv, kPlainEnv).finish();
}

TEST_F(RunCommand, AUserWhoIsNotRootRunsProgramsInARootThatAddBuilt) {
  REQUIRE_ROOT("setpriv to become nobody");
  // A root of its own that no run has touched yet: like any root `add` builds, it has no /proc,
  // /dev or /tmp, which a root does not need, and which nobody cannot create in it.
  const std::string root = path("unprivileged-root");
  const ProcessResult added = add({kShell, "/usr/bin/id"}, root);
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  for (const char* mount_point : {"proc", "dev", "tmp"}) ASSERT_FALSE(fs::exists(root + "/" + mount_point));

  // The user namespace maps the caller to itself; the program's status comes back.
  const Outcome ids = run_as_nobody(root, {kShell, "-c", "id -u; id -g; exit 3"});
  EXPECT_EQ(ids.exit_code, 3) << ids.describe();
  EXPECT_EQ(ids.out, std::to_string(kNobody) + "\n" + std::to_string(kNobody) + "\n") << ids.describe();
}

TEST_F(RunCommand, AUserWhoIsNotRootGetsTheSameJailThroughAUserNamespace) {
  REQUIRE_ROOT("setpriv to become nobody");
  // Mount points made beforehand by the root's owner, so that this test sees the jail itself
  // whatever happens to a root without them (the test above).
  const std::string root = path("unprivileged-root-with-mount-points");
  const ProcessResult added = add({kShell, "/usr/bin/id", "/usr/bin/cat"}, root);
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  for (const char* mount_point : {"proc", "dev", "tmp"}) fs::create_directories(root + "/" + mount_point);

  const Outcome ids = run_as_nobody(root, {kShell, "-c", "id -u; id -g; exit 3"});
  EXPECT_EQ(ids.exit_code, 3) << ids.describe();
  EXPECT_EQ(ids.out, std::to_string(kNobody) + "\n" + std::to_string(kNobody) + "\n") << ids.describe();

  // Its own PID namespace and /proc, no capabilities (not even those of its user namespace),
  // seccomp, and the root read-only.
  const Outcome proc = run_as_nobody(root, {"cat", "/proc/self/status"});
  EXPECT_EQ(proc.exit_code, 0) << proc.describe();
  EXPECT_EQ(status_field(proc.out, "Pid"), "2") << proc.describe();
  EXPECT_EQ(status_field(proc.out, "CapEff"), "0000000000000000") << proc.describe();
  EXPECT_EQ(status_field(proc.out, "Seccomp"), "2") << proc.describe();
  const Outcome tmp = run_as_nobody(root, {kShell, "-c", "echo in tmp > /tmp/file && cat /tmp/file"});
  EXPECT_EQ(tmp.out, "in tmp\n") << tmp.describe();
}

// ---- a real server --------------------------------------------------------------------------------

TEST_F(RunCommand, APythonHttpServerInTheJailServesTheHostOverLoopback) {
  if (!fs::exists(kPython) || !fs::is_directory(kPythonLibrary)) GTEST_SKIP() << "no " << kPython;
  const std::string root = path("python-root");
  const ProcessResult added = add({kPython, kPythonLibrary}, root);
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  const std::string page = "served from inside the jail\n";
  write_file(root + "/srv/jail.txt", page);
  ::chmod((root + "/srv").c_str(), 0755);

  const int port = free_loopback_port();
  ASSERT_GT(port, 0);
  Spawned server(
      run_argv({}, {kPython, "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1", "--directory", "/srv"},
               root),
      kPlainEnv);
  std::optional<std::string> response;
  const auto deadline = Clock::now() + 30s;
  while (!response && server.running() && Clock::now() < deadline) {
    response = http_get(port, "/jail.txt");
    if (!response) ::usleep(50000);
  }
  ASSERT_TRUE(response) << "the server never accepted a connection\n" << server.finish(1s).describe();
  EXPECT_TRUE(response->starts_with("HTTP/1.0 200")) << *response;
  EXPECT_TRUE(response->ends_with("\r\n\r\n" + page)) << *response;

  server.signal(SIGTERM);
  const Outcome outcome = server.finish(10s);
  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM) << outcome.describe();
  EXPECT_TRUE(contains(outcome.err, "\"GET /jail.txt HTTP/1.0\" 200")) << outcome.describe();  // its access log
}

}  // namespace
}  // namespace jailbuild
