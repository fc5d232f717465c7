// The copier's system-call layer: descriptors that close themselves, the root itself opened without
// following a symlink on its way, openat2 confined to the root, validated root paths, and temporary
// names in a directory of the root that vanish unless renamed over their final name. Nothing here
// follows a symlink inside the root or on the way to it.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailbuild/manifest.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild::copy {

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the descriptor.
  int release() { return std::exchange(fd_, -1); }
  // Closes now and reports close(2)'s error (0 if none): for files just written, whose last
  // write-back error some filesystems report only here.
  int close();

 private:
  int fd_ = -1;
};

// strerror, without std::strerror's shared buffer.
std::string errno_text(int error_number);

// "WHAT: strerror(error_number)".
Error system_error(const std::string& what, int error_number);

// A root directory as open_root found it.
struct OpenedRoot {
  // Absolute and normalised: no ".", "..", repeated or trailing slash. No component of it is a
  // symlink, so it is the canonical path too; the manifest and the lock are keyed by it.
  std::string path;
  // O_PATH|O_DIRECTORY descriptor of the root: everything done to the root goes through it (as the
  // base of open_beneath), never through `path` again. Not valid when the root, or a directory on
  // its way, does not exist and open_root was not asked to create it.
  UniqueFd fd;
};

// Opens the root directory at `path` (relative paths start at the working directory) once, for
// good: from "/", one component at a time with O_PATH|O_NOFOLLOW, so that a symlink anywhere on
// the way is refused (a bad request naming the symlink and the real path to give instead) rather
// than followed. Whoever can write a directory on the way could otherwise point it elsewhere
// between two lookups of the same path. With `create`, missing directories (the root and its
// parents) are made with mkdirat in the parent just opened, mode 0755 (the root itself exactly
// 0755, whatever the umask), and opened from that parent the same way. Warns (spdlog) about each
// directory on the way that someone other than root and the caller can write: they can swap the
// root for another directory between runs, which no descriptor can prevent. jailbuild `add`,
// `sync`, `remove`, `list` and `run` all open their root here.
Result<OpenedRoot> open_root(const std::string& path, bool create);

// A path inside the root as the plan gives it ("/usr/lib/x"), split for *at() calls: the parent
// relative to the root ("usr/lib", or "." for the root itself) and the last component ("x").
struct RootPath {
  std::string parent;
  std::string name;
};

// Splits an absolute, normalised path ("/a/b", no "." or ".." component, no empty component, no
// trailing slash). The root itself, "/", has no last component and is refused like any other
// malformed path.
Result<RootPath> split_root_path(const std::string& path);

// openat2(dir_fd, relative, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS):
// the lookup fails (ELOOP) on any symlink, including the last component, and (EXDEV) on anything
// that would leave dir_fd. Retries the kernel's EAGAIN (a rename raced with the lookup).
// Returns the descriptor, or -errno.
int open_beneath(int dir_fd, const std::string& relative, int flags);

// Where the copier writes a file before renaming it: ".jailbuild-tmp.XXXXXX".
inline constexpr std::string_view kTempPrefix = ".jailbuild-tmp.";
bool is_temp_name(std::string_view name);

// A temporary name in a directory of the root, unlinked on destruction unless committed (renamed
// over its final name). The entry behind it is created by the caller; `directory` says it is an
// (empty) directory, removed with AT_REMOVEDIR.
class TempName {
 public:
  TempName(int dir_fd, std::string name, bool directory = false)
      : dir_fd_(dir_fd), name_(std::move(name)), directory_(directory) {}
  TempName(TempName&& other) noexcept
      : dir_fd_(other.dir_fd_),
        name_(std::move(other.name_)),
        directory_(other.directory_),
        armed_(std::exchange(other.armed_, false)) {}
  TempName& operator=(TempName&&) = delete;
  TempName(const TempName&) = delete;
  TempName& operator=(const TempName&) = delete;
  ~TempName();

  const std::string& name() const { return name_; }
  // renameat over `final_name` in the same directory; returns 0 or errno (the name stays armed).
  int commit(const std::string& final_name);

 private:
  int dir_fd_;
  std::string name_;
  bool directory_ = false;
  bool armed_ = true;
};

// Creates an empty regular file (mode 0600 until the caller sets the final mode) under a fresh
// temporary name in dir_fd, opened for writing. `dir_display` names the directory in errors.
struct TempFile {
  TempName name;
  UniqueFd fd;
};
Result<TempFile> create_temp_file(int dir_fd, const std::string& dir_display);

// Creates `target` as a symlink under a fresh temporary name in dir_fd.
Result<TempName> create_temp_symlink(int dir_fd, const std::string& target, const std::string& dir_display);

// Creates an empty directory (mode 0700 until the caller sets its mode) under a fresh temporary name.
Result<TempName> create_temp_directory(int dir_fd, const std::string& dir_display);

// Creates a device node (mode bits 0600 until the caller sets them) under a fresh temporary name.
Result<TempName> create_temp_node(int dir_fd, mode_t type, dev_t device, const std::string& dir_display);

// A file found in the root by find_privileged_files: its path in the root ("/usr/bin/x") and lstat.
struct FoundFile {
  std::string path;
  struct stat status {};
};

// Every regular file with the setuid or setgid bit in the root open as `root_fd`, by a walk that
// opens each directory beneath the root without following a symlink and does not leave the root's
// file system (a mount inside the root is not the root's). Directories that vanish or turn into
// something else meanwhile, or that the caller may not read, are skipped. `display` names the root.
Result<std::vector<FoundFile>> find_privileged_files(int root_fd, const std::string& display);

// The inode facts the manifest keeps.
FileIdentity identity_of(const struct stat& status);

// "regular file", "directory", "symlink", "character device", ... for messages.
const char* file_type_name(mode_t mode);

}  // namespace jailbuild::copy
