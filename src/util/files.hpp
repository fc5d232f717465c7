// Whole files by path, for jailbuild's own files (the state directory, /etc/subuid): read at once
// with a size limit, and replaced so that a crash leaves the old file or the new one, never half.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild {

// The contents of the regular file at `path`; nullopt if there is none. A file larger than
// `max_size` is an error ("PATH: larger than N MiB, too large for WHAT"), as is anything but a
// regular file (opened without waiting on a FIFO).
Result<std::optional<std::string>> read_file(const std::string& path, std::uint64_t max_size, const char* what);

// Replaces the file at `path` with `text` so that it is always either the old file or the new
// one, even after a crash: a temporary ".NAME.XXXXXX" in the same directory, fsync, rename,
// fsync of the directory.
Result<void> replace_file(const std::string& path, std::string_view text);

// Removes the temporaries that replace_file calls on `paths` (all in one directory, read once)
// left behind when killed midway. Only for a caller that holds the lock they are written under.
void remove_temporaries(const std::vector<std::string>& paths);

// mkdir -p: creates `directory` and its missing parents with mode 0700 (the state directory is
// private to its user); existing directories are left as they are.
Result<void> make_directories(const std::string& directory);

}  // namespace jailbuild
