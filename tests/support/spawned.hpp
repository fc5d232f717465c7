// A child process for the tests that need more than run_process gives (stdin from /dev/null, one
// merged output, no pid): input, stdout and stderr apart, the pid to send signals to, a descriptor
// of the caller's left open, or a terminal.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/command_test_support.hpp"
#include "support/loader_oracle.hpp"

namespace jailbuild::testing {

// How a spawned process ended.
struct Outcome {
  int exit_code = -1;  // -1 unless it exited
  int term_signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
  std::chrono::milliseconds took{0};

  std::string describe() const {
    std::ostringstream text;
    text << "exit code " << exit_code;
    if (term_signal != 0) text << ", killed by signal " << term_signal;
    if (timed_out) text << ", timed out (killed)";
    text << ", after " << took.count() << " ms\n--- stdout ---\n" << out << "--- stderr ---\n" << err;
    return text.str();
  }
};

// A descriptor of the caller's that stays open in the child (no FD_CLOEXEC), as number `as`, or as
// its own number when `as` is negative.
struct Inherited {
  int fd = -1;
  int as = -1;
};

struct SpawnOptions {
  std::string input;               // written to its stdin, which is then closed
  std::vector<Inherited> inherit;  // descriptors it inherits besides 0, 1 and 2
  bool merged = false;             // stderr into stdout's pipe: `out` holds both, interleaved as written
  // A pty's slave: the child's stdin, stdout, stderr and controlling terminal (in a session of its
  // own), with `master` that pty's master, where its output is read. The caller keeps both: the
  // slave's input queue shows afterwards what the child pushed into the terminal.
  int terminal = -1;
  int master = -1;
};

// The child gets its own process group, default signal dispositions and an empty signal mask; what
// is left when the object goes is killed.
class Spawned {
 public:
  Spawned(const std::vector<std::string>& argv, const Environment& env, const SpawnOptions& options = {})
      : input_(options.input), terminal_(options.terminal >= 0), started_(Clock::now()) {
    if (terminal_ && !input_.empty()) throw std::invalid_argument("spawn: input goes through a pipe, not a terminal");
    // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
    std::vector<std::string> env_strings;
    for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
    std::vector<char*> args;
    std::vector<char*> envp;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    for (const std::string& entry : env_strings) envp.push_back(const_cast<char*>(entry.c_str()));
    args.push_back(nullptr);
    envp.push_back(nullptr);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (terminal_) {
      out[0] = ::fcntl(options.master, F_DUPFD_CLOEXEC, 0);  // a copy of its own, closed with the rest
      if (out[0] < 0) throw std::runtime_error(std::string("dup: ") + std::strerror(errno));
    } else if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
               (!options.merged && ::pipe2(err, O_CLOEXEC) != 0)) {
      throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      if (terminal_) {
        ::setsid();
        for (int fd : {0, 1, 2}) ::dup2(options.terminal, fd);
        ::ioctl(0, TIOCSCTTY, 0);
      } else {
        ::setpgid(0, 0);
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(options.merged ? out[1] : err[1], 2);
      }
      for (const Inherited& kept : options.inherit) {
        if (kept.as < 0 || kept.as == kept.fd)
          ::fcntl(kept.fd, F_SETFD, 0);
        else
          ::dup2(kept.fd, kept.as);  // dup2 leaves FD_CLOEXEC off the copy
      }
      struct sigaction default_action {};
      default_action.sa_handler = SIG_DFL;
      for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execve(args[0], args.data(), envp.data());
      static const char message[] = "spawn: execve failed\n";
      [[maybe_unused]] auto ignored = ::write(2, message, sizeof message - 1);
      ::_exit(254);
    }
    // Also here, so that the group exists before any kill(-pid); not for a terminal, where it
    // could come first and make the child's setsid fail.
    if (!terminal_) ::setpgid(pid_, pid_);
    for (int fd : {in[0], out[1], err[1]})
      if (fd >= 0) ::close(fd);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
    for (int fd : {stdin_, stdout_, stderr_})
      if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (input_.empty()) close_fd(stdin_);
  }

  ~Spawned() {
    if (!exited_) kill_and_reap();
    for (int* fd : {&stdin_, &stdout_, &stderr_}) close_fd(*fd);
  }

  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  void signal(int sig) const { ::kill(pid_, sig); }

  // Whether it is still running (reads what it wrote meanwhile).
  bool running() {
    pump(std::chrono::milliseconds(0));
    return !exited_;
  }

  // Waits until its stdout holds `text`; false if it ended or `limit` passed first.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!contains(outcome_.out, text)) {
      if (Clock::now() > deadline || (exited_ && stdout_ < 0)) return false;
      pump(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Waits for it to exit (killing its process group after `limit`) and collects what it wrote. An
  // orphan it left may hold the pipes open: they are read for at most a second after the exit. A
  // terminal never ends (the caller holds its slave): it is read until it stays quiet for a poll.
  Outcome finish(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto deadline = Clock::now() + limit;
    while (!exited_) {
      if (Clock::now() > deadline) {
        outcome_.timed_out = true;
        kill_and_reap();
        break;
      }
      pump(std::chrono::milliseconds(10));
    }
    const auto drain_until = Clock::now() + std::chrono::seconds(1);
    while ((stdout_ >= 0 || stderr_ >= 0) && Clock::now() < drain_until)
      if (!pump(std::chrono::milliseconds(terminal_ ? 20 : 10)) && terminal_) break;
    return outcome_;
  }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  // The child too: before its setsid, the group that kill(-pid) names may not exist yet.
  void kill_and_reap() {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    record(status);
  }

  void record(int status) {
    exited_ = true;
    outcome_.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    if (WIFEXITED(status)) outcome_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) outcome_.term_signal = WTERMSIG(status);
  }

  // One round: waits up to `wait` for something to read or write, moves what it can, reaps.
  // Whether it read anything.
  bool pump(std::chrono::milliseconds wait) {
    std::vector<pollfd> fds;
    for (int fd : {stdout_, stderr_})
      if (fd >= 0) fds.push_back({fd, POLLIN, 0});
    if (stdin_ >= 0) fds.push_back({stdin_, POLLOUT, 0});
    if (!fds.empty())
      ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    else if (wait.count() > 0)
      ::usleep(static_cast<useconds_t>(wait.count()) * 1000);
    const bool got_out = read_from(stdout_, outcome_.out);
    const bool got_err = read_from(stderr_, outcome_.err);
    if (stdin_ >= 0) {
      const ssize_t written = ::write(stdin_, input_.data() + input_sent_, input_.size() - input_sent_);
      if (written > 0) input_sent_ += static_cast<std::size_t>(written);
      if (input_sent_ == input_.size() || (written < 0 && errno != EAGAIN)) close_fd(stdin_);
    }
    if (!exited_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) record(status);
    }
    return got_out || got_err;
  }

  static bool read_from(int& fd, std::string& into) {
    char buffer[65536];
    bool got = false;
    while (fd >= 0) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        into.append(buffer, static_cast<std::size_t>(n));
        got = true;
      } else if (n == 0 || errno != EAGAIN) {
        close_fd(fd);
      } else {
        break;
      }
    }
    return got;
  }

  std::string input_;
  std::size_t input_sent_ = 0;
  bool terminal_ = false;
  Clock::time_point started_;
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  bool exited_ = false;
  Outcome outcome_;
};

}  // namespace jailbuild::testing
