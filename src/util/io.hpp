// The read and write loops: the kernel may move fewer bytes than asked (a pipe, a signal), so
// every caller that needs all of them goes through these.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include <sys/types.h>

namespace jailbuild {

// Writes all of `data`, however many calls it takes (EINTR retried). 0, or the errno of the
// failing write: callers tell some errors apart, and name the file themselves.
int write_all(int fd, std::string_view data);

// Reads until `buffer` is full or the file ends (EINTR retried). The count read, fewer than the
// buffer holds only at the end of the file; or -errno.
ssize_t read_full(int fd, std::span<char> buffer);

}  // namespace jailbuild
