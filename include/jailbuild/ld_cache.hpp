// /etc/ld.so.cache: parsing (new, old and combined formats) and the loader's lookup rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/loader_config.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild {

struct CacheEntry {
  std::int32_t flags = 0;
  std::string key;    // soname
  std::string value;  // path
  std::uint64_t hwcap = 0;  // 0 for old-format entries
  std::optional<std::string> hwcaps_subdir;  // set for glibc-hwcaps extension entries
};

// glibc's _dl_cache_libcmp: digit runs compare as numbers, a digit ranks above a non-digit,
// other bytes compare as bytes. Returns <0, 0 or >0.
int cache_libcmp(std::string_view a, std::string_view b);

class LdCache {
 public:
  enum class Format { New, Old, Combined };

  LdCache() = default;  // an empty cache: every lookup misses (no /etc/ld.so.cache)

  // Parses a cache file's bytes. A file the loader would ignore (bad magic, wrong byte order flag,
  // nlibs larger than the file) is an error that says so. Pure.
  static Result<LdCache> parse(std::span<const std::byte> bytes);

  // The path the loader would take from the cache for `name` (no '/'), or nullopt.
  // Applies flags, hwcap, platform, ISA level and glibc-hwcaps priority as in ldso-reference §6.4.
  std::optional<std::string> lookup(std::string_view name, const LoaderConfig& config) const;

  const std::vector<CacheEntry>& entries() const { return entries_; }
  Format format() const { return format_; }

 private:
  std::vector<CacheEntry> entries_;  // in file order (sorted descending by cache_libcmp on key)
  Format format_ = Format::New;
};

}  // namespace jailbuild
