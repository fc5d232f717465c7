#include "util/io.hpp"

#include <cerrno>

#include <unistd.h>

namespace jailbuild {

int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return errno;
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return 0;
}

ssize_t read_full(int fd, std::span<char> buffer) {
  std::size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t step = ::read(fd, buffer.data() + got, buffer.size() - got);
    if (step < 0 && errno == EINTR) continue;
    if (step < 0) return -errno;
    if (step == 0) break;
    got += static_cast<std::size_t>(step);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace jailbuild
