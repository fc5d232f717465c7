// The one way an errno becomes text in a message.
#pragma once

#include <string>

#include "jailbuild/result.hpp"

namespace jailbuild {

// strerror's text, without std::strerror's buffer that threads may share.
std::string errno_text(int error_number);

// "WHAT: errno_text(error_number)"; WHAT names the path and, where it helps, the operation
// ("/etc/x: open").
Error system_error(const std::string& what, int error_number);

}  // namespace jailbuild
