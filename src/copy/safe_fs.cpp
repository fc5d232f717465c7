// The copier's system-call layer (see safe_fs.hpp).

#include "safe_fs.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "util/system_error.hpp"

namespace jailbuild::copy {

Result<RootPath> split_root_path(const std::string& path) {
  const auto malformed = [&] { return Error{"'" + path + "': not a normalised absolute path inside the root"}; };
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') return malformed();
  if (path.find('\0') != std::string::npos) return malformed();
  std::size_t start = 1;
  while (true) {
    const std::size_t end = path.find('/', start);
    const std::string_view component(path.data() + start, (end == std::string::npos ? path.size() : end) - start);
    if (component.empty() || component == "." || component == "..") return malformed();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  const std::size_t slash = path.rfind('/');
  RootPath split;
  split.parent = slash == 0 ? "." : path.substr(1, slash - 1);
  split.name = path.substr(slash + 1);
  return split;
}

bool is_temp_name(std::string_view name) { return name.substr(0, kTempPrefix.size()) == kTempPrefix; }

TempName::~TempName() {
  // Best effort: if this fails the file stays, and the next run's cleanup of the directory removes it.
  if (armed_) ::unlinkat(dir_fd_, name_.c_str(), directory_ ? AT_REMOVEDIR : 0);
}

int TempName::commit(const std::string& final_name) {
  // Both names are last components relative to the same directory descriptor, and rename never
  // follows a symlink in its last component: whatever sits at final_name is replaced, not followed.
  if (::renameat(dir_fd_, name_.c_str(), dir_fd_, final_name.c_str()) != 0) return errno;
  armed_ = false;
  return 0;
}

namespace {

// A fresh ".jailbuild-tmp.XXXXXX" from the kernel's random pool.
Result<std::string> random_temp_name() {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::array<unsigned char, 6> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return system_error("getrandom", errno);
  }
  std::string name(kTempPrefix);
  for (const unsigned char byte : bytes) name += kAlphabet[byte % kAlphabet.size()];
  return name;
}

// Calls create(name) with fresh temporary names until one is not taken. create returns 0 or errno;
// only EEXIST (the name is taken) is retried, so a planted file can never be reused by us.
template <typename Create>
Result<std::string> create_under_fresh_name(const std::string& dir_display, const char* what, Create create) {
  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Result<std::string> name = random_temp_name();
    if (!name) return name.error();
    const int error_number = create(*name);
    if (error_number == 0) return name;
    if (error_number != EEXIST) return system_error(dir_display + ": creating a temporary " + what, error_number);
  }
  return Error{dir_display + ": creating a temporary " + what + ": every name tried was taken"};
}

}  // namespace

Result<TempFile> create_temp_file(int dir_fd, const std::string& dir_display) {
  UniqueFd fd;
  Result<std::string> name = create_under_fresh_name(dir_display, "file", [&](const std::string& candidate) {
    // O_EXCL with O_NOFOLLOW: a symlink planted under this name makes the open fail, never followed.
    const int opened = ::openat(dir_fd, candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (opened < 0) return errno;
    fd = UniqueFd(opened);
    return 0;
  });
  if (!name) return name.error();
  return TempFile{TempName(dir_fd, std::move(*name)), std::move(fd)};
}

Result<TempName> create_temp_symlink(int dir_fd, const std::string& target, const std::string& dir_display) {
  Result<std::string> name = create_under_fresh_name(dir_display, "symlink", [&](const std::string& candidate) {
    return ::symlinkat(target.c_str(), dir_fd, candidate.c_str()) == 0 ? 0 : errno;
  });
  if (!name) return name.error();
  return TempName(dir_fd, std::move(*name));
}

Result<TempName> create_temp_directory(int dir_fd, const std::string& dir_display) {
  Result<std::string> name = create_under_fresh_name(dir_display, "directory", [&](const std::string& candidate) {
    return ::mkdirat(dir_fd, candidate.c_str(), 0700) == 0 ? 0 : errno;
  });
  if (!name) return name.error();
  return TempName(dir_fd, std::move(*name), true);
}

Result<TempName> create_temp_node(int dir_fd, mode_t type, dev_t device, const std::string& dir_display) {
  Result<std::string> name = create_under_fresh_name(dir_display, "device node", [&](const std::string& candidate) {
    return ::mknodat(dir_fd, candidate.c_str(), type | 0600, device) == 0 ? 0 : errno;
  });
  if (!name) return name.error();
  return TempName(dir_fd, std::move(*name));
}

}  // namespace jailbuild::copy
