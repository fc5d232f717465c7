// Paths a build compiled into an object (OpenSSL's OPENSSLDIR, perl's @INC), read from the object's
// bytes as the rules find them, never by running it. The object is the host's, but what is read
// from it is checked as any other input: only plain absolute paths come out.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

// Whether `path` is absolute, at most 4096 bytes, of printable ASCII without spaces, with no `.`
// or `..` component: what a build configures, never a path that climbs.
bool is_plain_absolute_path(std::string_view path);

// The text between `marker` and the next `"` in `bytes` (`OPENSSLDIR: "` -> /usr/lib/ssl), with
// trailing slashes removed; nullopt when absent, unterminated before a NUL, or no plain path.
std::optional<std::string> quoted_path_after(std::span<const std::byte> bytes, std::string_view marker);

// The NUL-terminated strings of `bytes` that are plain absolute paths containing `part`, each once,
// in the order they appear.
std::vector<std::string> compiled_paths_containing(std::span<const std::byte> bytes, std::string_view part);

}  // namespace jailbuild
