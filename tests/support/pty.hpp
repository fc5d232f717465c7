// A pseudo-terminal for the tests that put a process on a terminal of its own.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <string>

namespace jailbuild::testing {

// A pty, closed when it goes. Raw mode (no echo, no line editing, no signals: a byte pushed into
// its input queue stays there as it is, for the test to read from the slave) unless `cooked`,
// where ^C written to the master is SIGINT for the terminal's foreground process group.
struct Pty {
  int master = -1;
  int slave = -1;
  explicit Pty(bool cooked = false) {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return;
    const char* name = ::ptsname(master);
    if (name == nullptr) return;
    slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    termios modes{};
    if (!cooked && slave >= 0 && ::tcgetattr(slave, &modes) == 0) {
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
