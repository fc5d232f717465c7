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
  std::string key;                           // soname
  std::string value;                         // path
  std::uint64_t hwcap = 0;                   // 0 for old-format entries
  std::optional<std::string> hwcaps_subdir;  // set for glibc-hwcaps extension entries
};

// glibc's _dl_cache_libcmp: digit runs compare as numbers, a digit ranks above a non-digit,
// other bytes compare as bytes. Returns <0, 0 or >0.
int cache_libcmp(std::string_view a, std::string_view b);

// Writes a new-format ("glibc-ld.so.cache1.1") cache holding `entries`, as a root's own
// /etc/ld.so.cache. `entries` are taken in cache order (a filtered host cache keeps it); they are
// sorted stably by key so the loader's binary search works whatever the caller passes. Entries
// with a glibc-hwcaps subdirectory keep their ISA level and get a hwcaps section. Pure.
std::string write_ld_cache(std::vector<CacheEntry> entries, const std::string& generator);

class LdCache {
 public:
  enum class Format { New, Old, Combined };

  LdCache() = default;  // an empty cache: every lookup misses (no /etc/ld.so.cache)

  // Parses a cache file's bytes. A file the loader would ignore (bad magic, wrong byte order flag,
  // nlibs larger than the file) is an error that says so. Pure.
  static Result<LdCache> parse(std::span<const std::byte> bytes);

  // The path the loader would take from the cache for `name` (no '/'), or nullopt.
  // Applies flags, hwcap, platform, ISA level and glibc-hwcaps priority as in docs/loader-rules.md#cache-lookup.
  std::optional<std::string> lookup(std::string_view name, const LoaderConfig& config) const;

  // The entries the loader searches: the new-format part when there is one. An entry whose key or
  // value offset is out of range has an empty key or value here (the loader's verdict on such
  // offsets is kept privately and applied by `lookup`).
  const std::vector<CacheEntry>& entries() const { return entries_; }
  Format format() const { return format_; }
  // The extension directory's generator string (tag 0), e.g. "ldconfig (Debian GLIBC ...) ...".
  const std::optional<std::string>& generator() const { return generator_; }

 private:
  // Whether the loader's range check (`_dl_cache_verify_ptr`) accepts an entry's string offsets.
  struct OffsetCheck {
    bool key_in_range = true;
    bool value_in_range = true;
  };
  struct EqualRun;

  std::optional<EqualRun> find_equal_run(std::string_view name) const;
  bool key_matches(std::size_t index, std::string_view name) const;

  std::vector<CacheEntry> entries_;         // in file order (sorted descending by cache_libcmp on key)
  std::vector<OffsetCheck> offset_checks_;  // parallel to entries_
  // The glibc-hwcaps section (tag 1) in file order; nullopt for a name offset outside the file.
  // Empty when the section is missing or the loader rejects the extension directory.
  std::vector<std::optional<std::string>> hwcaps_names_;
  std::optional<std::string> generator_;
  Format format_ = Format::New;
};

}  // namespace jailbuild
