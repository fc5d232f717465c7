#include "util/dir_stream.hpp"

#include <cerrno>
#include <utility>

#include <fcntl.h>

#include "util/system_error.hpp"

namespace jailbuild {

Result<DirStream> DirStream::adopt(UniqueFd fd, const std::string& display) {
  DIR* stream = ::fdopendir(fd.get());
  if (stream == nullptr) return system_error(display, errno);
  fd.release();  // the stream's now
  return DirStream(stream, display);
}

Result<DirStream> DirStream::open(const std::string& path, const std::string& display) {
  const std::string& shown = display.empty() ? path : display;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return system_error(shown, errno);
  return adopt(std::move(fd), shown);
}

DirStream::DirStream(DirStream&& other) noexcept
    : stream_(std::exchange(other.stream_, nullptr)), display_(std::move(other.display_)) {}

DirStream::~DirStream() {
  if (stream_ != nullptr) ::closedir(stream_);
}

Result<const dirent*> DirStream::next() {
  for (;;) {
    // readdir says "end" and "error" both with nullptr: only errno tells them apart.
    errno = 0;
    const dirent* entry = ::readdir(stream_);
    if (entry == nullptr) {
      if (errno != 0) return system_error(display_ + ": reading the directory", errno);
      return entry;
    }
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") return entry;
  }
}

Result<std::vector<std::string>> DirStream::names() {
  std::vector<std::string> names;
  while (const dirent* entry = TRY(next())) names.emplace_back(entry->d_name);
  return names;
}

}  // namespace jailbuild
