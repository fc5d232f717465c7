// MappedFile: a read-only private mapping of a whole file, unmapped on destruction.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <utility>

#include "elf.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::elf {

Result<MappedFile> MappedFile::open(const std::string& path) {
  // O_NONBLOCK keeps open() from waiting on a FIFO or a device; from_fd rejects those anyway.
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return system_error(path, errno);
  return from_fd(fd.get(), path);  // a mapping keeps its own reference to the file
}

Result<MappedFile> MappedFile::from_fd(int fd, const std::string& path_for_errors) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return system_error(path_for_errors + ": fstat", errno);
  if (S_ISDIR(status.st_mode)) return Error{path_for_errors + ": is a directory"};
  if (!S_ISREG(status.st_mode)) return Error{path_for_errors + ": not a regular file"};

  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (size == 0) return MappedFile(nullptr, 0);  // mmap refuses a zero length
  if (size > std::numeric_limits<std::size_t>::max()) {
    return Error{path_for_errors + ": too large to map into memory"};
  }
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) return system_error(path_for_errors + ": mmap", errno);
  return MappedFile(static_cast<const std::byte*>(address), static_cast<std::size_t>(size));
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

// Swapping hands our old mapping to `other`, whose destructor unmaps it; self-move is harmless.
MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace jailbuild::elf
