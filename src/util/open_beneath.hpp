// openat2 lookups confined to a directory: how jailbuild opens anything inside a root.
#pragma once

#include <cstdint>
#include <string>

namespace jailbuild {

// openat2(dir_fd, path, {flags | O_CLOEXEC, resolve}): a descriptor, or -errno. With RESOLVE_BENEATH
// or RESOLVE_IN_ROOT the kernel refuses (EAGAIN) a lookup through ".." whenever a rename or a
// mount happened anywhere on the system meanwhile, and asks the caller to try again: a busy
// machine (a package upgrade) does that often. The retries are bounded, since a hostile process
// could rename forever; the last EAGAIN is then returned.
int openat2_retrying(int dir_fd, const char* path, std::uint64_t flags, std::uint64_t resolve);

// openat2(dir_fd, relative, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS):
// the lookup fails (ELOOP) on any symlink, including the last component, and (EXDEV) on anything
// that would leave dir_fd. Retries the kernel's EAGAIN (a rename raced with the lookup).
// Returns the descriptor, or -errno: callers tell "changed underneath" (ENOENT, ELOOP, ...) apart.
int open_beneath(int dir_fd, const std::string& relative, int flags);

}  // namespace jailbuild
