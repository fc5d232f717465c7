#include "util/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dir_stream.hpp"
#include "util/io.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {

constexpr mode_t kStateDirectoryMode = 0700;

namespace {

// The temporary names replace_file uses for `path`: ".NAME." and six characters from mkstemp.
constexpr std::size_t kTemporarySuffix = 6;
std::string temporary_prefix(const std::string& path) { return "." + base_name(path) + "."; }

// Writes all of `text` to `fd` and makes it durable; the errno of the failing call, or 0.
int write_durably(int fd, std::string_view text) {
  if (const int error = write_all(fd, text); error != 0) return error;
  return ::fsync(fd) == 0 ? 0 : errno;
}

}  // namespace

Result<std::optional<std::string>> read_file(const std::string& path, std::uint64_t max_size, const char* what) {
  const UniqueFd opened(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!opened.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    return system_error(path + ": open", errno);
  }
  const int fd = opened.get();
  const Error too_large{path + ": larger than " + std::to_string(max_size >> 20) + " MiB, too large for " + what};
  struct stat status {};
  Result<std::optional<std::string>> result = std::optional<std::string>(std::string());
  std::string& text = **result;
  if (::fstat(fd, &status) != 0) {
    result = system_error(path + ": fstat", errno);
  } else if (!S_ISREG(status.st_mode)) {
    result = Error{path + ": not a regular file"};
  } else if (static_cast<std::uint64_t>(status.st_size) > max_size) {
    result = too_large;
  } else {
    // Read straight into the string, sized as fstat says; to the end, however the size changed
    // since, but never past max_size.
    // /proc and sysfs files say size 0: for them a page, which the kernel fills in one read (a
    // doubling from one byte took a dozen reads of /proc/self/mountinfo).
    constexpr std::size_t kGeneratedFileGuess = 4096;
    std::size_t filled = 0;
    const auto guess = status.st_size == 0 ? kGeneratedFileGuess : static_cast<std::size_t>(status.st_size);
    text.resize(std::min<std::uint64_t>(max_size, guess) + 1);  // + 1: the end is seen in one read
    for (;;) {
      // Grown since fstat: room up to one byte past max_size, which tells too large from not.
      if (filled == text.size()) text.resize(std::min<std::uint64_t>(max_size + 1, text.size() * 2));
      const ssize_t count = ::read(fd, text.data() + filled, text.size() - filled);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) {
        result = system_error(path + ": read", errno);
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
  return result;
}

Result<void> replace_file(const std::string& path, std::string_view text) {
  const std::string directory = parent_directory(path);
  std::string temporary = join_path(directory, temporary_prefix(path) + std::string(kTemporarySuffix, 'X'));
  UniqueFd fd(::mkostemp(temporary.data(), O_CLOEXEC));
  if (!fd.valid()) return system_error(path + ": creating a temporary file", errno);
  int error = write_durably(fd.get(), text);
  const char* failed = "write";
  if (const int close_error = fd.close(); close_error != 0 && error == 0) {
    error = close_error;
    failed = "close";
  }
  if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) {
    error = errno;
    failed = "rename";
  }
  if (error != 0) {
    ::unlink(temporary.c_str());
    return system_error(path + ": " + failed, error);
  }
  const UniqueFd directory_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory_fd.valid()) return system_error(directory + ": open", errno);
  if (::fsync(directory_fd.get()) != 0) return system_error(directory + ": fsync", errno);
  return {};
}

void remove_temporaries(const std::vector<std::string>& paths) {
  if (paths.empty()) return;
  std::vector<std::string> prefixes;
  for (const std::string& path : paths) prefixes.push_back(temporary_prefix(path));
  Result<DirStream> stream = DirStream::open(parent_directory(paths.front()));
  if (!stream) return;
  // Best effort: a temporary left now is removed by the next run.
  while (Result<const dirent*> entry = stream->next()) {
    if (*entry == nullptr) break;
    const std::string_view name = (*entry)->d_name;
    const bool temporary = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& prefix) {
      return name.size() == prefix.size() + kTemporarySuffix && name.starts_with(prefix);
    });
    if (temporary) ::unlinkat(stream->fd(), (*entry)->d_name, 0);
  }
}

Result<void> make_directories(const std::string& directory) {
  struct stat status {};
  if (::stat(directory.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) return {};
  for (std::size_t end = directory.find('/', 1);; end = directory.find('/', end + 1)) {
    const std::string prefix = directory.substr(0, end);
    if (!prefix.empty() && !prefix.ends_with('/') && ::mkdir(prefix.c_str(), kStateDirectoryMode) != 0 &&
        errno != EEXIST) {
      return system_error(prefix + ": mkdir", errno);
    }
    if (end == std::string::npos) break;
  }
  if (::stat(directory.c_str(), &status) != 0) return system_error(directory + ": stat", errno);
  if (!S_ISDIR(status.st_mode)) return Error{directory + ": not a directory"};
  return {};
}

}  // namespace jailbuild
