// Helpers the manifest and the lock share for files in the state directory.
#pragma once

#include <string>

#include "jailbuild/result.hpp"

namespace jailbuild::state_files {

// "PATH: OPERATION: reason" for a failed system call (thread-safe errno text).
Error system_error(const std::string& path, const char* operation, int error_number);

// mkdir -p: creates `directory` and its missing parents with mode 0700 (the state directory is
// private to its user); existing directories are left as they are.
Result<bool> make_directories(const std::string& directory);

}  // namespace jailbuild::state_files
