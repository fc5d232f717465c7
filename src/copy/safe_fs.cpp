// The copier's system-call layer (see safe_fs.hpp).

#include "safe_fs.hpp"

#include "jailbuild/root_view.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>

namespace jailbuild::copy {

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

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

Error system_error(const std::string& what, int error_number) {
  return Error{what + ": " + errno_text(error_number)};
}

namespace {

bool trusted_owner(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Why someone other than root and the caller could replace `entry`, found in `directory` on the way
// to a root, by another directory of their choosing; "" when nobody else can. A sticky directory
// (/tmp) lets only an entry's owner rename or remove it. These are the ancestors jk_init refuses.
std::string replaceable_by_others(const std::string& directory_path, const struct stat& directory,
                                  const std::string& entry_path, const struct stat& entry) {
  if (!trusted_owner(directory.st_uid))
    return directory_path + " belongs to uid " + std::to_string(directory.st_uid);
  if ((directory.st_mode & (S_IWGRP | S_IWOTH)) == 0) return "";
  const std::string writers = (directory.st_mode & S_IWOTH) ? "everyone" : "its group";
  if ((directory.st_mode & S_ISVTX) == 0)
    return directory_path + " is writable by " + writers + " (mode " + octal_mode(directory.st_mode) + ")";
  if (!trusted_owner(entry.st_uid)) {
    return entry_path + " belongs to uid " + std::to_string(entry.st_uid) + ", who may rename it in " + directory_path +
           " (writable by " + writers + ", sticky)";
  }
  return "";
}

// The error for a symlink on the way to a root, with the path to give instead when it resolves.
Error symlink_on_the_way(const std::string& root, const std::string& link) {
  std::string message = root + ": " + (link == root ? std::string("is a symlink") : link + " is a symlink") +
                        "; jailbuild opens a root only by a path without symlinks, which nobody can point elsewhere "
                        "while it works";
  char real[PATH_MAX];
  if (::realpath(root.c_str(), real)) {
    message += ": give its real path, " + std::string(real);
  } else if (::realpath(link.c_str(), real)) {
    message += " (" + link + " resolves to " + real + ")";
  }
  return Error::usage(message);
}

}  // namespace

Result<OpenedRoot> open_root(const std::string& path, bool create) {
  if (path.empty()) return Error::usage("the root path is empty");
  std::string absolute = path;
  if (path.front() != '/') {
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return system_error("the working directory (for the root " + path + ")", errno);
    absolute = std::string(cwd) + "/" + path;
  }
  // Each component from "/" on; ".." goes back to the directory the walk came from, which is the
  // lexical parent since nothing on the way was a symlink.
  std::vector<std::string> components;
  auto joined = [&] {
    std::string text;
    for (const std::string& component : components) text += "/" + component;
    return text.empty() ? std::string("/") : text;
  };
  OpenedRoot root;
  UniqueFd directory(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!directory.valid()) return system_error("/", errno);
  struct stat directory_status {};
  if (::fstat(directory.get(), &directory_status) != 0) return system_error("/", errno);
  std::vector<std::string> unsafe;  // why directories on the way can be changed by others
  bool missing = false;        // a directory on the way does not exist: the rest is only normalised
  bool created_last = false;   // the last component was made here
  for (std::size_t begin = 0; begin < absolute.size();) {
    std::size_t end = absolute.find('/', begin);
    if (end == std::string::npos) end = absolute.size();
    const std::string name = absolute.substr(begin, end - begin);
    begin = end + 1;
    if (name.empty() || name == ".") continue;
    const std::string parent_path = joined();
    if (name == "..") {
      if (!components.empty()) components.pop_back();
      if (missing) continue;
      UniqueFd up(::openat(directory.get(), "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!up.valid() || ::fstat(up.get(), &directory_status) != 0) return system_error(joined(), errno);
      directory = std::move(up);
      created_last = false;
      continue;
    }
    components.push_back(name);
    if (missing) continue;
    const std::string entry_path = joined();
    created_last = false;
    UniqueFd entry(::openat(directory.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!entry.valid() && errno == ENOENT) {
      if (!create) {
        missing = true;
        continue;
      }
      // 0755 less the umask for the parents, as mkdir -p makes them; the root itself is set below.
      created_last = ::mkdirat(directory.get(), name.c_str(), 0755) == 0;
      if (!created_last && errno != EEXIST) return system_error(entry_path + ": creating the directory", errno);
      entry = UniqueFd(::openat(directory.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!entry.valid()) return system_error(entry_path, errno);
    struct stat entry_status {};
    if (::fstat(entry.get(), &entry_status) != 0) return system_error(entry_path, errno);
    if (S_ISLNK(entry_status.st_mode)) return symlink_on_the_way(absolute, entry_path);
    if (!S_ISDIR(entry_status.st_mode)) {
      return Error::usage(absolute + ": " + entry_path + " is a " + file_type_name(entry_status.st_mode) +
                          ", not a directory");
    }
    if (std::string why = replaceable_by_others(parent_path, directory_status, entry_path, entry_status); !why.empty())
      unsafe.push_back(std::move(why));
    directory = std::move(entry);
    directory_status = entry_status;
  }
  root.path = joined();
  for (const std::string& why : unsafe) {
    spdlog::warn("{}: {}, who can swap the root for another directory between runs (jailbuild refuses symlinks "
                 "on the way, but cannot tell a swapped directory)",
                 root.path, why);
  }
  if (missing) return root;
  // The umask may have narrowed the new root's mode; jailed users must be able to traverse it.
  // fchmod needs a descriptor opened for reading: the one directory made here, reached the same way.
  if (created_last) {
    const UniqueFd readable(::openat(directory.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!readable.valid() || ::fchmod(readable.get(), 0755) != 0) return system_error(root.path, errno);
  }
  root.fd = std::move(directory);
  return root;
}

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

int open_beneath(int dir_fd, const std::string& relative, int flags) {
  return openat2_retrying(dir_fd, relative.c_str(), static_cast<std::uint64_t>(flags),
                          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
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

Result<std::vector<FoundFile>> find_privileged_files(int root_fd, const std::string& display) {
  std::vector<FoundFile> found;
  struct stat root_status {};
  if (::fstat(root_fd, &root_status) != 0) return system_error(display, errno);
  const std::string shown_root = display == "/" ? "" : display;
  // Directories still to read, as paths in the root ("" for the root itself): a stack of names
  // rather than of descriptors, so that a deep tree a jailed process made costs no descriptors.
  std::vector<std::string> pending{""};
  while (!pending.empty()) {
    const std::string directory = std::move(pending.back());
    pending.pop_back();
    const int fd = open_beneath(root_fd, directory.empty() ? "." : directory.substr(1), O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
      const int error_number = -fd;
      if (error_number == ENOENT || error_number == ENOTDIR || error_number == ELOOP || error_number == EXDEV ||
          error_number == EACCES)
        continue;
      return system_error(shown_root + directory, error_number);
    }
    DIR* stream = ::fdopendir(fd);
    if (stream == nullptr) {
      const int error_number = errno;
      ::close(fd);
      return system_error(shown_root + directory, error_number);
    }
    struct stat directory_status {};
    if (::fstat(fd, &directory_status) != 0 || directory_status.st_dev != root_status.st_dev) {
      ::closedir(stream);
      continue;
    }
    errno = 0;
    while (const dirent* item = ::readdir(stream)) {
      const std::string_view name = item->d_name;
      if (name == "." || name == "..") continue;
      const std::string path = directory + "/" + std::string(name);
      if (item->d_type == DT_DIR) {
        pending.push_back(path);
        continue;
      }
      if (item->d_type != DT_REG && item->d_type != DT_UNKNOWN) continue;
      struct stat status {};
      if (::fstatat(fd, item->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
      if (S_ISDIR(status.st_mode)) pending.push_back(path);
      if (S_ISREG(status.st_mode) && (status.st_mode & (S_ISUID | S_ISGID)) != 0) found.push_back({path, status});
      errno = 0;
    }
    const int error_number = errno;
    ::closedir(stream);
    if (error_number != 0) return system_error(shown_root + directory + ": reading the directory", error_number);
  }
  return found;
}

FileIdentity identity_of(const struct stat& status) {
  constexpr std::int64_t kNanosecondsPerSecond = 1'000'000'000;
  FileIdentity identity;
  identity.dev = status.st_dev;
  identity.ino = status.st_ino;
  identity.size = static_cast<std::uint64_t>(status.st_size);
  identity.mtime_ns = static_cast<std::int64_t>(status.st_mtim.tv_sec) * kNanosecondsPerSecond + status.st_mtim.tv_nsec;
  identity.ctime_ns = static_cast<std::int64_t>(status.st_ctim.tv_sec) * kNanosecondsPerSecond + status.st_ctim.tv_nsec;
  identity.mode = status.st_mode;
  identity.uid = status.st_uid;
  identity.gid = status.st_gid;
  return identity;
}

const char* file_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFIFO: return "FIFO";
    case S_IFSOCK: return "socket";
    default: return "file of unknown type";
  }
}

}  // namespace jailbuild::copy
