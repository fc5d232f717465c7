// A read-only view of a directory tree as a process chrooted into it would see it: absolute
// symlinks restart at the root and ".." stops there. Used by the resolver to open what the loader
// would open inside a jail or sysroot; with root "/" it is simply the host.
#pragma once

#include <string>

#include "jailbuild/result.hpp"

namespace jailbuild {

class RootView {
 public:
  static Result<RootView> open(const std::string& root);

  RootView(RootView&& other) noexcept;
  RootView& operator=(RootView&&) = delete;
  RootView(const RootView&) = delete;
  ~RootView();

  // Opens `path` (absolute, inside the root) read-only, following symlinks within the root.
  // Returns a descriptor, or -errno (ENOENT, EACCES, ELOOP, ...) exactly as open(2) would fail.
  int open_read(const std::string& path) const;

  // `path` with every symlink resolved inside the root, "." and ".." removed; an error if a
  // component is missing, not a directory, or the symlinks loop.
  Result<std::string> canonical(const std::string& path) const;

  // Where `path` (absolute, inside the root, symlink-free) is on the host.
  std::string host_path(const std::string& path) const;

  bool is_host_root() const { return root_ == "/"; }
  const std::string& root() const { return root_; }

 private:
  RootView(int fd, std::string root) : root_fd_(fd), root_(std::move(root)) {}
  int root_fd_ = -1;
  std::string root_;
};

}  // namespace jailbuild
