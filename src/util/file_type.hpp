// A file's type in words, for messages.
#pragma once

#include <sys/types.h>

namespace jailbuild {

// "regular file", "directory", "symlink", "character device", ... from st_mode's type bits.
const char* file_type_name(mode_t mode);

}  // namespace jailbuild
