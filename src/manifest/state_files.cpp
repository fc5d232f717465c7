#include "state_files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <system_error>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild::state_files {

constexpr mode_t kStateDirectoryMode = 0700;

Error system_error(const std::string& path, const char* operation, int error_number) {
  // std::strerror may share a static buffer between threads; the error category does not.
  return Error{path + ": " + operation + ": " + std::generic_category().message(error_number)};
}

std::string join_path(const std::string& directory, std::string_view name) {
  if (directory.ends_with('/')) return directory + std::string(name);
  return directory + "/" + std::string(name);
}

std::string parent_directory(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

namespace {

std::string base_name(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The temporary names replace_file uses for `path`: ".NAME." and six characters from mkstemp.
constexpr std::size_t kTemporarySuffix = 6;
std::string temporary_prefix(const std::string& path) { return "." + base_name(path) + "."; }

// Writes all of `text` to `fd` and makes it durable; the errno of the failing call, or 0.
int write_durably(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return errno;
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return ::fsync(fd) == 0 ? 0 : errno;
}

}  // namespace

Result<std::optional<std::string>> read_file(const std::string& path, std::uint64_t max_size, const char* what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return system_error(path, "open", errno);
  }
  const Error too_large{path + ": larger than " + std::to_string(max_size >> 20) + " MiB, too large for " + what};
  struct stat status {};
  Result<std::optional<std::string>> result = std::optional<std::string>(std::string());
  std::string& text = **result;
  if (::fstat(fd, &status) != 0) {
    result = system_error(path, "fstat", errno);
  } else if (!S_ISREG(status.st_mode)) {
    result = Error{path + ": not a regular file"};
  } else if (static_cast<std::uint64_t>(status.st_size) > max_size) {
    result = too_large;
  } else {
    // Read straight into the string, sized as fstat says; to the end, however the size changed
    // since, but never past max_size.
    std::size_t filled = 0;
    text.resize(static_cast<std::size_t>(status.st_size) + 1);  // + 1: the end is seen in one read
    for (;;) {
      // Grown since fstat: room up to one byte past max_size, which tells too large from not.
      if (filled == text.size()) text.resize(std::min<std::uint64_t>(max_size + 1, text.size() * 2));
      const ssize_t count = ::read(fd, text.data() + filled, text.size() - filled);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) {
        result = system_error(path, "read", errno);
        break;
      }
      if (count == 0) break;
      filled += static_cast<std::size_t>(count);
      if (filled > max_size) {
        result = too_large;
        break;
      }
    }
    if (result) text.resize(filled);
  }
  ::close(fd);
  return result;
}

Result<bool> replace_file(const std::string& path, std::string_view text) {
  const std::string directory = parent_directory(path);
  std::string temporary = join_path(directory, temporary_prefix(path) + std::string(kTemporarySuffix, 'X'));
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) return system_error(path, "creating a temporary file", errno);
  int error = write_durably(fd, text);
  const char* failed = "write";
  if (::close(fd) != 0 && error == 0) {
    error = errno;
    failed = "close";
  }
  if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) {
    error = errno;
    failed = "rename";
  }
  if (error != 0) {
    ::unlink(temporary.c_str());
    return system_error(path, failed, error);
  }
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) return system_error(directory, "open", errno);
  error = ::fsync(directory_fd) == 0 ? 0 : errno;
  ::close(directory_fd);
  if (error != 0) return system_error(directory, "fsync", error);
  return true;
}

void remove_temporaries(const std::vector<std::string>& paths) {
  if (paths.empty()) return;
  std::vector<std::string> prefixes;
  for (const std::string& path : paths) prefixes.push_back(temporary_prefix(path));
  DIR* stream = ::opendir(parent_directory(paths.front()).c_str());
  if (stream == nullptr) return;
  while (const dirent* entry = ::readdir(stream)) {
    const std::string_view name = entry->d_name;
    const bool temporary = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& prefix) {
      return name.size() == prefix.size() + kTemporarySuffix && name.starts_with(prefix);
    });
    if (temporary) ::unlinkat(::dirfd(stream), entry->d_name, 0);
  }
  ::closedir(stream);
}

Result<bool> make_directories(const std::string& directory) {
  struct stat status {};
  if (::stat(directory.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) return true;
  for (std::size_t end = directory.find('/', 1);; end = directory.find('/', end + 1)) {
    const std::string prefix = directory.substr(0, end);
    if (!prefix.empty() && !prefix.ends_with('/') &&
        ::mkdir(prefix.c_str(), kStateDirectoryMode) != 0 && errno != EEXIST) {
      return system_error(prefix, "mkdir", errno);
    }
    if (end == std::string::npos) break;
  }
  if (::stat(directory.c_str(), &status) != 0) return system_error(directory, "stat", errno);
  if (!S_ISDIR(status.st_mode)) return Error{directory + ": not a directory"};
  return true;
}

}  // namespace jailbuild::state_files
