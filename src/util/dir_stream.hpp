// Reading a directory's entries: the one wrapper around opendir/fdopendir, readdir and closedir.
#pragma once

#include <dirent.h>

#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/result.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {

class DirStream {
 public:
  // The directory open as `fd` (which it takes, and closes with the stream). `display` names it in
  // errors ("DISPLAY: reason").
  static Result<DirStream> adopt(UniqueFd fd, const std::string& display);
  // The directory at `path` (symlinks followed, as opendir does); errors name `display`, or `path`
  // if it is empty.
  static Result<DirStream> open(const std::string& path, const std::string& display = "");

  DirStream(DirStream&& other) noexcept;
  DirStream& operator=(DirStream&&) = delete;
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;
  ~DirStream();

  // The next entry, never "." or "..", or nullptr at the end. A read error is "DISPLAY: reading
  // the directory: reason". The entry is valid until the next call.
  Result<const dirent*> next();

  // The names of the entries not read yet, in the directory's order.
  Result<std::vector<std::string>> names();

  // The directory's descriptor, for *at() calls on its entries; owned by the stream.
  int fd() const { return ::dirfd(stream_); }

 private:
  DirStream(DIR* stream, std::string display) : stream_(stream), display_(std::move(display)) {}
  DIR* stream_ = nullptr;
  std::string display_;
};

}  // namespace jailbuild
