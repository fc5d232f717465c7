// The one owner of a file descriptor in jailbuild: closes it on destruction, moves but never copies.
#pragma once

#include <utility>

namespace jailbuild {

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

}  // namespace jailbuild
