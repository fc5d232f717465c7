// Opening a root and walking it (see root_dir.hpp).

#include "util/root_dir.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "util/dir_stream.hpp"
#include "util/file_type.hpp"
#include "util/open_beneath.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"

namespace jailbuild {

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
  if (!trusted_owner(directory.st_uid)) return directory_path + " belongs to uid " + std::to_string(directory.st_uid);
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
    absolute = absolute_path(path, cwd);
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
  bool missing = false;             // a directory on the way does not exist: the rest is only normalised
  bool created_last = false;        // the last component was made here
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
    spdlog::warn(
        "{}: {}, who can swap the root for another directory between runs (jailbuild refuses symlinks "
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
    const int opened = open_beneath(root_fd, directory.empty() ? "." : directory.substr(1), O_RDONLY | O_DIRECTORY);
    if (opened < 0) {
      const int error_number = -opened;
      if (error_number == ENOENT || error_number == ENOTDIR || error_number == ELOOP || error_number == EXDEV ||
          error_number == EACCES)
        continue;
      return system_error(shown_root + directory, error_number);
    }
    DirStream stream = TRY(DirStream::adopt(UniqueFd(opened), shown_root + directory));
    const int fd = stream.fd();
    struct stat directory_status {};
    if (::fstat(fd, &directory_status) != 0 || directory_status.st_dev != root_status.st_dev) continue;
    while (const dirent* item = TRY(stream.next())) {
      const std::string path = directory + "/" + item->d_name;
      if (item->d_type == DT_DIR) {
        pending.push_back(path);
        continue;
      }
      if (item->d_type != DT_REG && item->d_type != DT_UNKNOWN) continue;
      struct stat status {};
      if (::fstatat(fd, item->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
      if (S_ISDIR(status.st_mode)) pending.push_back(path);
      if (S_ISREG(status.st_mode) && (status.st_mode & (S_ISUID | S_ISGID)) != 0) found.push_back({path, status});
    }
  }
  return found;
}

}  // namespace jailbuild
