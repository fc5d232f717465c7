#include "state_files.hpp"

#include <cerrno>
#include <system_error>

#include <sys/stat.h>

namespace jailbuild::state_files {

constexpr mode_t kStateDirectoryMode = 0700;

Error system_error(const std::string& path, const char* operation, int error_number) {
  // std::strerror may share a static buffer between threads; the error category does not.
  return Error{path + ": " + operation + ": " + std::generic_category().message(error_number)};
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
