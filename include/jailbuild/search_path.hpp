// Pure pieces of the loader's search rules: dynamic string tokens and search path lists.
// Nothing here touches the filesystem (ldso-reference §3.3, §4).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

// The values that $ORIGIN, $LIB and $PLATFORM expand to for one object.
struct DstValues {
  std::optional<std::string> origin;    // nullopt: unknown (the loader drops the element)
  std::string lib;                      // $LIB
  std::optional<std::string> platform;  // $PLATFORM; nullopt: unknown
};

// True if `s` contains $ORIGIN, $LIB or $PLATFORM (braced or not) as a token.
bool has_dst(std::string_view s);

// Replaces every token in `s`. Returns nullopt if any token's value is unknown.
// `$ORIGINX` is not a token and stays literally; any other `$...` is copied as is.
std::optional<std::string> expand_dst(std::string_view s, const DstValues& values);

enum class PathListKind {
  DynamicTag,     // DT_RPATH / DT_RUNPATH: separated by ':'
  LdLibraryPath,  // LD_LIBRARY_PATH: separated by ':' and ';'
};

// Splits a search path list into directory prefixes as fillin_rpath does: each element is
// DST-expanded (dropped if that fails or gives ""), trailing slashes are cut (a lone "/" stays)
// and one '/' is appended; a literally empty element stays "" (the current directory);
// duplicates are dropped, keeping the first. An empty `list` gives no directories.
std::vector<std::string> parse_search_path(std::string_view list, PathListKind kind,
                                           const DstValues& values);

// The directory part of a path the loader opened, used as a library's $ORIGIN: everything before
// the last '/', with `cwd` + '/' prepended when `path` is relative. "/libx.so" gives "/".
std::string origin_of(std::string_view path, std::string_view cwd);

}  // namespace jailbuild
