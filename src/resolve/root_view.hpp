// A read-only view of a directory tree as a process chrooted into it would see it: absolute
// symlinks restart at the root and ".." stops there. Used by the resolver to open what the loader
// would open inside a jail or sysroot; with root "/" it is simply the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jailbuild/result.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {

// One thing met while walking a path: a directory passed through, a symlink followed, or the
// object the path finally names.
struct PathStep {
  enum class Kind { Directory, Symlink, Final };
  std::string path;  // where it is, absolute inside the root, with no symlink on the way
  Kind kind = Kind::Final;
  std::string link_target;  // for symlinks, the link's text
};

class RootView {
 public:
  static Result<RootView> open(const std::string& root);

  RootView(RootView&& other) noexcept = default;
  RootView& operator=(RootView&&) = delete;
  RootView(const RootView&) = delete;
  ~RootView() = default;

  // Opens `path` (absolute, inside the root) read-only, following symlinks within the root.
  // Returns a descriptor, or -errno (ENOENT, EACCES, ELOOP, ...) exactly as open(2) would fail.
  int open_read(const std::string& path) const;

  // Walks `path` as the kernel would inside the root, reporting each directory passed through and
  // each symlink followed, in order, then the final object; an error if a component is missing,
  // not a directory, or the symlinks loop. The final step's path is the canonical path.
  Result<std::vector<PathStep>> walk(const std::string& path) const;

  // `path` with every symlink resolved inside the root, "." and ".." removed.
  Result<std::string> canonical(const std::string& path) const;

  // Where `path` (absolute, inside the root, symlink-free) is on the host.
  std::string host_path(const std::string& path) const;

  bool is_host_root() const { return root_ == "/"; }
  const std::string& root() const { return root_; }

 private:
  RootView(UniqueFd fd, std::string root) : root_fd_(std::move(fd)), root_(std::move(root)) {}
  UniqueFd root_fd_;
  std::string root_;
};

}  // namespace jailbuild
