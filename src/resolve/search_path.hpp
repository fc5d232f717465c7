// Pure pieces of the loader's search rules: dynamic string tokens and search path lists.
// Nothing here touches the filesystem (docs/loader-rules.md#path-lists, #dynamic-string-tokens, #origin).
#pragma once

#include <cstddef>
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
std::vector<std::string> parse_search_path(std::string_view list, PathListKind kind, const DstValues& values);

// The directory part of a path the loader opened, used as a library's $ORIGIN: everything before
// the last '/', with `cwd` + '/' prepended when `path` is relative. "/libx.so" gives "/".
std::string origin_of(std::string_view path, std::string_view cwd);

// Where the loader looks for a name without '/' (_dl_map_object, docs/loader-rules.md#search-order).
enum class SearchSource { Rpath, LdLibraryPath, Runpath, Cache, SystemDirs };

struct SearchStep {
  SearchSource source;
  std::size_t owner = 0;  // for Rpath: whose DT_RPATH; for Runpath: the requesting object
};

// What the search order depends on, about the object that asks for the name.
struct SearchContext {
  struct Link {
    std::size_t object;
    bool has_rpath;  // a DT_RPATH the loader uses (none when the object also has DT_RUNPATH)
  };
  std::vector<Link> loader_chain;  // the requesting object, the object that loaded it, and so on up
  std::size_t program = 0;         // the program's object
  bool program_has_rpath = false;
  bool loader_has_runpath = false;
  bool has_ld_library_path = false;
  bool nodeflib = false;  // DF_1_NODEFLIB on the requesting object
};

// The sources in the order the loader tries them: the RPATH chain (and the program's RPATH)
// unless the requester has a RUNPATH; LD_LIBRARY_PATH; the requester's own RUNPATH;
// ld.so.cache; the system directories unless DF_1_NODEFLIB.
std::vector<SearchStep> search_steps(const SearchContext& context);

// Whether a cache hit may be used: with DF_1_NODEFLIB, not if it lies in or below a system
// directory (a plain prefix comparison, as the loader does it).
bool cache_hit_allowed(std::string_view path, const std::vector<std::string>& system_dirs, bool nodeflib);

}  // namespace jailbuild
