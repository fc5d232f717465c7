#include "util/unique_fd.hpp"

#include <cerrno>

#include <unistd.h>

namespace jailbuild {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

// Descriptors closed here were only read, or their errors were already collected with close().
UniqueFd::~UniqueFd() { close(); }

int UniqueFd::close() {
  if (fd_ < 0) return 0;
  // Linux releases the descriptor even when close fails, so it must never be retried (EINTR included).
  const int result = ::close(std::exchange(fd_, -1));
  return result == 0 ? 0 : errno;
}

}  // namespace jailbuild
