// RootLock: one jailbuild at a time on a root (root_lock.cpp). Its interface for dependants: the
// stages that change a root take it.
#pragma once

#include <string>

#include "jailbuild/result.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {

// An exclusive lock on one root, held in the state directory (not in the root, where a jailed
// process could hold it forever). Released when destroyed.
class RootLock {
 public:
  // Blocks until the lock is free when `wait`, after telling the user on stderr who holds it;
  // otherwise fails at once with a message naming the root. `root` is the root's path without
  // symlinks (open_root's); it is never looked up, only compared with the state directory's.
  static Result<RootLock> acquire(const std::string& state_dir, const std::string& root, bool wait);

  RootLock(RootLock&& other) noexcept = default;
  RootLock& operator=(RootLock&&) = delete;
  ~RootLock() = default;

 private:
  explicit RootLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace jailbuild
