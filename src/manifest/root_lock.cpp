// RootLock: one jailbuild at a time on a root, with flock(2) on a file in the state directory.
// An flock lock belongs to an open file description and goes away when its last descriptor is
// closed, also when the process dies: a crash never leaves a root locked. The file holds the
// holder's pid, for the message the next jailbuild prints; it is informational only (a holder that
// has just taken the lock may not have written its pid yet).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

#include "jailbuild/manifest.hpp"
#include "root_lock.hpp"
#include "state_dir.hpp"
#include "util/files.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"

namespace jailbuild {
namespace {

// `path` absolute, with the symlinks of its existing part resolved and no trailing slash.
std::string resolved(const std::string& path) {
  std::error_code error;
  std::string result = std::filesystem::weakly_canonical(path, error).string();
  if (error) result = path;  // an unreadable ancestor: compare as written
  while (result.size() > 1 && result.ends_with('/')) result.pop_back();
  return result;
}

bool is_within(const std::string& path, const std::string& directory) {
  if (directory == "/") return true;
  return path.starts_with(directory) && (path.size() == directory.size() || path[directory.size()] == '/');
}

// A lock (or a manifest) inside the root could be held forever, or edited, by a jailed process.
// Checked before anything is created, so a refused state directory is not created in the root.
// The root is taken as written (jailbuild opens roots only by a path without symlinks, so it is
// its real path): resolving it again could follow a symlink swapped in meanwhile.
Result<void> check_outside_root(const std::string& state_dir, const std::string& root) {
  if (is_within(resolved(state_dir), lexically_normal(root))) {
    return Error{"the state directory " + state_dir + " is inside the root " + root +
                 ", where a jailed process could change it; choose another with --state-dir"};
  }
  return {};
}

int flock_retrying(int fd, int operation) {
  int result = 0;
  do { result = ::flock(fd, operation); } while (result != 0 && errno == EINTR);
  return result;
}

// ", pid N" if the lock file names its holder, else "".
std::string describe_holder(int fd) {
  char buffer[32];
  const ssize_t count = ::pread(fd, buffer, sizeof buffer, 0);
  if (count <= 0) return "";
  long pid = 0;
  const auto [end, error] = std::from_chars(buffer, buffer + count, pid);
  if (error != std::errc() || end == buffer || pid <= 0) return "";
  return ", pid " + std::to_string(pid);
}

// The pid padded to a fixed width, written over the last holder's: truncating the file first
// would cost every run a block freed and, on ext4, the file flushed when it is closed.
Result<void> record_holder(int fd, const std::string& path) {
  char text[16];
  std::snprintf(text, sizeof text, "%-14d\n", static_cast<int>(::getpid()));
  const std::string_view line(text, 15);
  const ssize_t written = ::pwrite(fd, line.data(), line.size(), 0);
  if (written < 0) return system_error(path + ": write", errno);
  if (static_cast<std::size_t>(written) != line.size()) return Error{path + ": write: short write"};
  return {};
}

Result<void> take_lock(int fd, const std::string& path, const std::string& root, bool wait) {
  if (flock_retrying(fd, LOCK_EX | LOCK_NB) == 0) return {};
  if (errno != EWOULDBLOCK) return system_error(path + ": flock", errno);

  const std::string where = root + " (lock " + path + describe_holder(fd) + ")";
  if (!wait) return Error{"another jailbuild is working on " + where};
  spdlog::warn("waiting for another jailbuild working on {}", where);
  if (flock_retrying(fd, LOCK_EX) != 0) return system_error(path + ": flock", errno);
  return {};
}

}  // namespace

Result<RootLock> RootLock::acquire(const std::string& state_dir, const std::string& root, bool wait) {
  TRY(check_outside_root(state_dir, root));
  const StateDir layout(state_dir);
  TRY(make_directories(layout.locks_directory()));

  const std::string path = layout.files_of(root).lock;
  RootLock lock(UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)));
  if (!lock.fd_.valid()) return system_error(path + ": open", errno);
  TRY(take_lock(lock.fd_.get(), path, root, wait));
  TRY(record_holder(lock.fd_.get(), path));
  return lock;
}

}  // namespace jailbuild
