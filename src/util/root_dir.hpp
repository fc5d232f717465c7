// A root directory, opened once without following a symlink on its way, and walked beneath that
// descriptor: how `add`, `sync`, `remove`, `list` and `run` reach a root.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "jailbuild/result.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {

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

}  // namespace jailbuild
