#include "util/open_beneath.hpp"

#include <cerrno>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace jailbuild {

int openat2_retrying(int dir_fd, const char* path, std::uint64_t flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = resolve;
  constexpr int kAttempts = 64;
  int error_number = EAGAIN;
  for (int attempt = 0; attempt < kAttempts && error_number == EAGAIN; ++attempt) {
    const long fd = ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    error_number = errno;
  }
  return -error_number;
}

int open_beneath(int dir_fd, const std::string& relative, int flags) {
  return openat2_retrying(dir_fd, relative.c_str(), static_cast<std::uint64_t>(flags),
                          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

}  // namespace jailbuild
