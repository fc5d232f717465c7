// Copying a file's bytes (see file_copy.hpp).

#include "file_copy.hpp"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <vector>

#include "util/io.hpp"

namespace jailbuild::copy {

namespace {

// Each call moves at most this much, so a long copy returns to user space (where a signal can
// stop it) between chunks.
constexpr std::size_t kChunk = std::size_t{8} << 20;

// What one mechanism achieved: done, not possible here (try the next), or a real failure.
enum class Step { Done, Unsupported, Failed };

struct Progress {
  std::uint64_t bytes = 0;
  int error = 0;
};

// Errors with which a filesystem says "not this way", as opposed to a failed copy.
bool refuses_reflink(int error_number) {
  return error_number == EOPNOTSUPP || error_number == ENOTTY || error_number == EXDEV || error_number == EINVAL ||
         error_number == ENOSYS;
}
bool refuses_copy_file_range(int error_number) {
  return error_number == EXDEV || error_number == EINVAL || error_number == ENOSYS || error_number == EOPNOTSUPP;
}
bool refuses_sendfile(int error_number) { return error_number == EINVAL || error_number == ENOSYS; }

Step reflink(int from, int to, Progress& progress) {
  if (::ioctl(to, FICLONE, from) != 0) {
    if (refuses_reflink(errno)) return Step::Unsupported;
    progress.error = errno;
    return Step::Failed;
  }
  // The clone took the whole file, whatever its size had become since it was opened.
  struct stat status {};
  if (::fstat(to, &status) != 0) {
    progress.error = errno;
    return Step::Failed;
  }
  progress.bytes = static_cast<std::uint64_t>(status.st_size);
  return Step::Done;
}

// copy_file_range and sendfile move data from the descriptors' offsets and advance them, so a
// mechanism that gives up midway leaves the next one exactly where it stopped.
Step kernel_copy(int from, int to, std::uint64_t size, Progress& progress) {
  while (true) {
    const ssize_t moved = ::copy_file_range(from, nullptr, to, nullptr, kChunk, 0);
    if (moved > 0) {
      progress.bytes += static_cast<std::uint64_t>(moved);
      continue;
    }
    if (moved == 0) {
      // Files whose size the kernel does not know in advance (procfs-like) read as empty here.
      return progress.bytes == 0 && size > 0 ? Step::Unsupported : Step::Done;
    }
    if (errno == EINTR) continue;
    if (refuses_copy_file_range(errno)) return Step::Unsupported;
    progress.error = errno;
    return Step::Failed;
  }
}

Step send_file(int from, int to, Progress& progress) {
  while (true) {
    const ssize_t moved = ::sendfile(to, from, nullptr, kChunk);
    if (moved > 0) {
      progress.bytes += static_cast<std::uint64_t>(moved);
      continue;
    }
    if (moved == 0) return Step::Done;
    if (errno == EINTR) continue;
    if (refuses_sendfile(errno)) return Step::Unsupported;
    progress.error = errno;
    return Step::Failed;
  }
}

Step read_write(int from, int to, Progress& progress) {
  std::vector<char> buffer(std::size_t{1} << 17);
  while (true) {
    const ssize_t got = ::read(from, buffer.data(), buffer.size());
    if (got == 0) return Step::Done;
    if (got < 0) {
      if (errno == EINTR) continue;
      progress.error = errno;
      return Step::Failed;
    }
    if (const int error_number = write_all(to, std::string_view(buffer.data(), static_cast<std::size_t>(got)));
        error_number != 0) {
      progress.error = error_number;
      return Step::Failed;
    }
    progress.bytes += static_cast<std::uint64_t>(got);
  }
}

Step run(CopyMethod method, int from, int to, std::uint64_t size, Progress& progress) {
  switch (method) {
    case CopyMethod::Reflink: return reflink(from, to, progress);
    case CopyMethod::CopyFileRange: return kernel_copy(from, to, size, progress);
    case CopyMethod::Sendfile: return send_file(from, to, progress);
    case CopyMethod::ReadWrite: return read_write(from, to, progress);
  }
  return Step::Unsupported;
}

}  // namespace

CopyOutcome copy_contents(int from, int to, std::uint64_t size, CopyMethod first) {
  static constexpr CopyMethod kOrder[] = {CopyMethod::Reflink, CopyMethod::CopyFileRange, CopyMethod::Sendfile,
                                          CopyMethod::ReadWrite};
  Progress progress;
  for (const CopyMethod method : kOrder) {
    if (method < first) continue;
    switch (run(method, from, to, size, progress)) {
      case Step::Done: return CopyOutcome{0, progress.bytes, method};
      case Step::Failed: return CopyOutcome{progress.error, progress.bytes, method};
      case Step::Unsupported: break;
    }
  }
  // read and write work on any readable and writable descriptors; the loop cannot get here.
  return CopyOutcome{EINVAL, progress.bytes, CopyMethod::ReadWrite};
}

}  // namespace jailbuild::copy
