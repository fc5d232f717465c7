#include "util/system_error.hpp"

#include <system_error>

namespace jailbuild {

// The error category's message is the C library's text, built in a string of its own.
std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

Error system_error(const std::string& what, int error_number) { return Error{what + ": " + errno_text(error_number)}; }

}  // namespace jailbuild
