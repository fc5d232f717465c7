// Helpers the manifest and the lock share for files in the state directory.
#pragma once

#include <string>
#include <string_view>

#include "jailbuild/result.hpp"

namespace jailbuild::state_files {

// "PATH: OPERATION: reason" for a failed system call (thread-safe errno text).
Error system_error(const std::string& path, const char* operation, int error_number);

std::string join_path(const std::string& directory, std::string_view name);
std::string parent_directory(const std::string& path);

// Replaces the file at `path` with `text` so that it is always either the old file or the new
// one, even after a crash: a temporary ".NAME.XXXXXX" in the same directory, fsync, rename,
// fsync of the directory.
Result<bool> replace_file(const std::string& path, std::string_view text);

// Removes the temporaries a replace_file of `path` killed midway left behind. Only for a caller
// that holds the lock under which `path` is written.
void remove_temporaries(const std::string& path);

// mkdir -p: creates `directory` and its missing parents with mode 0700 (the state directory is
// private to its user); existing directories are left as they are.
Result<bool> make_directories(const std::string& directory);

}  // namespace jailbuild::state_files
