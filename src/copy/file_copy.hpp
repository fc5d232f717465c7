// Copying a file's bytes between two descriptors with the cheapest mechanism the filesystems
// offer: a reflink (the copy shares extents copy-on-write, so nothing is read), then in-kernel
// copying, then plain reads and writes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace jailbuild::copy {

// The mechanisms in the order they are tried; each falls back to the next when the kernel or the
// filesystems cannot do it (not on real errors such as ENOSPC or EIO).
enum class CopyMethod { Reflink, CopyFileRange, Sendfile, ReadWrite };

struct CopyOutcome {
  int error = 0;                          // errno of the failure, 0 on success
  std::uint64_t bytes = 0;                // bytes placed in `to` (the whole file for a reflink)
  CopyMethod used = CopyMethod::Reflink;  // the mechanism that did (or failed) the work
};

// Copies everything from the current offset of `from` (a regular file of `size` bytes when
// opened; a file that grows or shrinks meanwhile is copied up to its end) into `to`, an empty
// regular file opened for writing. `first` skips the mechanisms before it (for tests).
CopyOutcome copy_contents(int from, int to, std::uint64_t size, CopyMethod first = CopyMethod::Reflink);

}  // namespace jailbuild::copy
