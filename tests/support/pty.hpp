// A pseudo-terminal for the tests that put a process on a terminal of its own.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <string>

namespace jailbuild::testing {

// How a Pty's line discipline treats what is typed: kRaw, no echo, no line editing and no
// signals (a byte pushed into its input queue stays there as it is, for the test to read from the
// slave); kCooked, a terminal's defaults (Ctrl-C sends SIGINT to its foreground process group).
enum class LineDiscipline { kRaw, kCooked };

// A pty, closed when it goes.
struct Pty {
  int master = -1;
  int slave = -1;
  explicit Pty(LineDiscipline discipline = LineDiscipline::kRaw) {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return;
    const char* name = ::ptsname(master);
    if (name == nullptr) return;
    slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    termios modes{};
    if (discipline == LineDiscipline::kRaw && slave >= 0 && ::tcgetattr(slave, &modes) == 0) {
      ::cfmakeraw(&modes);
      ::tcsetattr(slave, TCSANOW, &modes);
    }
  }
  ~Pty() {
    if (slave >= 0) ::close(slave);
    if (master >= 0) ::close(master);
  }
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;
  bool ok() const { return master >= 0 && slave >= 0; }

  // What waits in the terminal's input queue: what the caller's shell would read next.
  std::string pending_input() const {
    const int flags = ::fcntl(slave, F_GETFL);
    ::fcntl(slave, F_SETFL, flags | O_NONBLOCK);
    std::string input;
    char buffer[256];
    for (ssize_t n; (n = ::read(slave, buffer, sizeof buffer)) > 0;) input.append(buffer, static_cast<std::size_t>(n));
    ::fcntl(slave, F_SETFL, flags);
    return input;
  }
};

}  // namespace jailbuild::testing
