// Reading /etc/ld.so.cache as glibc 2.36's loader does (elf/dl-cache.c,
// sysdeps/generic/dl-cache.h), including its range checks: what the loader rejects is an error
// here, what it skips is skipped, and where a hostile file would make the loader read past the
// mapping, we stop at the file's end instead (see `CacheBytes::c_string`). See docs/loader-rules.md#loader-cache.
#include "ld_cache.hpp"
#include "ld_cache_format.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace jailbuild {

namespace {

using namespace ld_cache_format;

// The cache file's bytes with the bounds checks every read needs. Numbers are little-endian: a
// cache marked big-endian is rejected before anything else is read, as on an x86 loader.
class CacheBytes {
 public:
  explicit CacheBytes(std::span<const std::byte> bytes) : bytes_(bytes) {}

  std::size_t size() const { return bytes_.size(); }

  // True if [offset, offset + length) lies inside the file, without overflow.
  bool contains(std::uint64_t offset, std::uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }

  bool has_at(std::size_t offset, std::string_view text) const {
    return contains(offset, text.size()) && std::memcmp(bytes_.data() + offset, text.data(), text.size()) == 0;
  }

  // Precondition for the integer readers: contains(offset, sizeof the integer).
  std::uint8_t u8(std::size_t offset) const { return std::to_integer<std::uint8_t>(bytes_[offset]); }
  std::uint32_t u32(std::size_t offset) const { return static_cast<std::uint32_t>(little_endian(offset, 4)); }
  std::uint64_t u64(std::size_t offset) const { return little_endian(offset, 8); }

  // The NUL-terminated string at `offset`. The loader only checks that an offset is below its
  // string-table bound, which for a combined file can still point past the end; it then reads the
  // zero fill of the mapping's last page. So the end of the file terminates a string too.
  std::string c_string(std::uint64_t offset) const {
    if (offset >= bytes_.size()) return {};
    const auto* begin = reinterpret_cast<const char*>(bytes_.data()) + offset;
    const std::size_t available = bytes_.size() - offset;
    return std::string(begin, strnlen(begin, available));
  }

  std::string text(std::size_t offset, std::size_t length) const {
    return std::string(reinterpret_cast<const char*>(bytes_.data()) + offset, length);
  }

 private:
  std::uint64_t little_endian(std::size_t offset, unsigned width) const {
    std::uint64_t value = 0;
    for (unsigned i = width; i-- > 0;) value = (value << 8) | u8(offset + i);
    return value;
  }

  std::span<const std::byte> bytes_;
};

constexpr std::size_t align8(std::size_t offset) { return (offset + 7) & ~std::size_t{7}; }

// cache_file_new_matches_endian: 0 means "unknown" and is accepted.
bool endian_flags_accepted(std::uint8_t flags) { return flags == 0 || (flags & kEndianMask) == kEndianLittle; }

// The loader's first test: a new-format file whose entry array fits.
bool is_new_format_file(const CacheBytes& file) {
  return file.size() > kNewHeaderSize && file.has_at(0, kNewMagic) &&
         (file.size() - kNewHeaderSize) / kNewEntrySize >= file.u32(kNlibsOffset);
}

bool is_old_format_file(const CacheBytes& file) {
  return file.size() > kOldHeaderSize && file.has_at(0, kOldMagic) &&
         (file.size() - kOldHeaderSize) / kOldEntrySize >= file.u32(kOldNlibsOffset);
}

// The glibc-hwcaps names and generator from the extension directory (cache_extension_load). Any
// inconsistency makes the loader drop the whole directory, so this is all or nothing.
struct Extensions {
  std::vector<std::optional<std::string>> hwcaps_names;
  std::optional<std::string> generator;
};

struct SectionRef {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

std::optional<Extensions> load_extensions(const CacheBytes& file, std::uint32_t directory) {
  Extensions loaded;
  if (directory == 0) return loaded;  // no directory is not an error
  if (directory % 4 != 0 || !file.contains(directory, kExtensionHeaderSize)) return std::nullopt;
  if (file.u32(directory) != kExtensionMagic) return std::nullopt;
  const std::uint32_t count = file.u32(directory + 4);
  const std::uint64_t sections = std::uint64_t{directory} + kExtensionHeaderSize;
  if (!file.contains(sections, std::uint64_t{count} * kExtensionSectionSize)) return std::nullopt;

  std::optional<SectionRef> generator, hwcaps;  // a later section with the same tag wins
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t at = sections + std::size_t{i} * kExtensionSectionSize;
    const std::uint32_t tag = file.u32(at);
    const SectionRef section{file.u32(at + 8), file.u32(at + 12)};
    if (!file.contains(section.offset, section.size)) return std::nullopt;
    if (tag == kTagGenerator) generator = section;
    if (tag == kTagGlibcHwcaps) hwcaps = section;
  }

  if (generator) loaded.generator = file.text(generator->offset, generator->size);
  // cache_extension_verify: an empty, misaligned or ragged hwcaps section is ignored.
  if (hwcaps && hwcaps->size != 0 && hwcaps->offset % 4 == 0 && hwcaps->size % 4 == 0) {
    const std::uint64_t end = std::uint64_t{hwcaps->offset} + hwcaps->size;
    for (std::uint64_t at = hwcaps->offset; at < end; at += 4) {
      const std::uint32_t name = file.u32(at);  // relative to the file start, even when combined
      loaded.hwcaps_names.push_back(name < file.size() ? std::optional(file.c_string(name)) : std::nullopt);
    }
  }
  return loaded;
}

bool is_hwcaps_extension(std::uint64_t hwcap) { return ((hwcap >> 32) & ~kIsaLevelMask) == (kHwcapExtensionBit >> 32); }

std::uint32_t hwcaps_index(std::uint64_t hwcap) { return static_cast<std::uint32_t>(hwcap); }

// dl_cache_hwcap_isa_level_compatible computes `1 << level` on an int; x86 shifts by the level
// modulo 32, which we copy so that a hostile level ≥ 32 answers as the loader does.
bool isa_level_compatible(std::uint64_t hwcap, std::uint32_t isa_level_mask) {
  const auto level = static_cast<unsigned>((hwcap >> 32) & kIsaLevelMask);
  return ((std::uint32_t{1} << (level % 32)) & isa_level_mask) != 0;
}

// glibc_hwcaps_priorities_init: merges the cache's hwcaps names (sorted by strcmp in a sane file)
// with the loader's active subdirectories sorted by name, giving each cache name the 1-based
// position of its subdirectory in `active_subdirs` (lower is better) or 0 (not usable). A merge,
// not a lookup, so an unsorted or duplicated section gets the same odd answers as in the loader.
std::vector<std::uint32_t> hwcaps_priorities(const std::vector<std::optional<std::string>>& names,
                                             const std::vector<std::string>& active_subdirs) {
  struct RankedSubdir {
    std::string_view name;
    std::uint32_t priority;
  };
  std::vector<RankedSubdir> ranked;
  for (std::size_t i = 0; i < active_subdirs.size(); ++i)
    ranked.push_back({active_subdirs[i], static_cast<std::uint32_t>(i + 1)});
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const RankedSubdir& a, const RankedSubdir& b) { return a.name < b.name; });

  std::vector<std::uint32_t> priorities;
  auto subdir = ranked.begin();
  for (const auto& name : names) {
    // A name outside the file sends the loader into an endless loop writing past its array;
    // the only sane reading is "not usable".
    if (!name) {
      priorities.push_back(0);
      continue;
    }
    while (subdir != ranked.end() && std::string_view(*name) > subdir->name) ++subdir;
    if (subdir != ranked.end() && std::string_view(*name) == subdir->name) {
      priorities.push_back(subdir->priority);
      ++subdir;
    } else {
      priorities.push_back(0);
    }
  }
  return priorities;
}

// The per-lookup constants of search_cache: which legacy hwcap bits and platform an entry may
// carry, and how glibc-hwcaps names rank.
class EntryFilter {
 public:
  EntryFilter(const LoaderConfig& config, const std::vector<std::optional<std::string>>& names)
      : config_(config), hwcaps_names_(names) {}

  bool flags_accepted(std::int32_t flags) const {
    return flags == config_.cache_flags || (config_.cache_accepts_plain_elf && flags == kFlagElf);
  }
  bool isa_level_ok(std::uint64_t hwcap) const { return isa_level_compatible(hwcap, config_.isa_level_mask); }
  // Legacy entries: only the loader's own (masked) hwcap bits, platform bits and tls may be set.
  bool legacy_bits_ok(std::uint64_t hwcap) const {
    const std::uint64_t allowed = (config_.hwcap & config_.hwcap_mask) | kPlatformBits | kTlsBit;
    return (hwcap & ~allowed) == 0;
  }
  // Platform bits, if any, must be exactly the loader's platform; an unknown platform matches none.
  bool platform_ok(std::uint64_t hwcap) const {
    const std::uint64_t platforms = hwcap & kPlatformBits;
    const std::optional<unsigned> bit = config_.platform_bit;
    const std::uint64_t own = bit && *bit < 64 ? std::uint64_t{1} << *bit : ~std::uint64_t{0};
    return platforms == 0 || platforms == own;
  }
  // 0: not an active subdirectory. Computed once per lookup, on the first extension entry.
  std::uint32_t priority(std::uint64_t hwcap) {
    if (!priorities_computed_) {
      priorities_ = hwcaps_priorities(hwcaps_names_, config_.hwcaps_subdirs);
      priorities_computed_ = true;
    }
    const std::uint32_t index = hwcaps_index(hwcap);
    return index < priorities_.size() ? priorities_[index] : 0;
  }
  bool is_default_flags(std::int32_t flags) const { return flags == config_.cache_flags; }

 private:
  const LoaderConfig& config_;
  const std::vector<std::optional<std::string>>& hwcaps_names_;
  // A plain vector and a flag: GCC 12 warns falsely about an optional<vector> here.
  std::vector<std::uint32_t> priorities_;
  bool priorities_computed_ = false;
};

// One entry as read, with the loader's verdict on its string offsets.
struct ReadEntry {
  CacheEntry entry;
  bool key_in_range = false;
  bool value_in_range = false;
};

// The flags, key and value common to both entry layouts at `at`. String offsets count from
// `strings` and the loader only checks them against `bound`.
ReadEntry read_common_fields(const CacheBytes& file, std::size_t at, std::uint64_t strings, std::uint64_t bound) {
  ReadEntry read;
  read.entry.flags = static_cast<std::int32_t>(file.u32(at));
  const std::uint32_t key = file.u32(at + 4);
  const std::uint32_t value = file.u32(at + 8);
  read.key_in_range = key < bound;
  read.value_in_range = value < bound;
  if (read.key_in_range) read.entry.key = file.c_string(strings + key);
  if (read.value_in_range) read.entry.value = file.c_string(strings + value);
  return read;
}

// Where the part of the file the loader uses starts, and in which layout.
struct Layout {
  LdCache::Format format;
  std::size_t base;  // of the new-format header, or 0 for the old format
};

Error wrong_endianness() { return Error{"ld.so.cache is not marked little-endian; the loader ignores it"}; }

// The format tests of _dl_load_cache_lookup, in its order.
Result<Layout> detect_layout(const CacheBytes& file) {
  if (is_new_format_file(file)) {
    if (!endian_flags_accepted(file.u8(kEndianFlagsOffset))) return wrong_endianness();
    return Layout{LdCache::Format::New, 0};
  }
  if (!is_old_format_file(file))
    return Error{"not an ld.so.cache the loader accepts (bad magic, or more entries than the " +
                 std::to_string(file.size()) + "-byte file holds)"};

  const std::size_t base = align8(kOldHeaderSize + std::size_t{file.u32(kOldNlibsOffset)} * kOldEntrySize);
  if (!file.contains(base, kNewHeaderSize) || !file.has_at(base, kNewMagic)) return Layout{LdCache::Format::Old, 0};
  // A wrong byte order condemns the old part too.
  if (!endian_flags_accepted(file.u8(base + kEndianFlagsOffset))) return wrong_endianness();
  // The loader does not check that the embedded entries fit; it would read past the file.
  const std::uint32_t nlibs = file.u32(base + kNlibsOffset);
  if ((file.size() - base - kNewHeaderSize) / kNewEntrySize < nlibs)
    return Error{"ld.so.cache: the embedded new-format part claims " + std::to_string(nlibs) +
                 " entries, more than the file holds"};
  return Layout{LdCache::Format::Combined, base};
}

// New-format entries: string offsets are relative to the new header but checked against the
// whole file's size, even when the header is not at the file's start.
std::vector<ReadEntry> read_new_entries(const CacheBytes& file, std::size_t base, const Extensions& extensions) {
  std::vector<ReadEntry> entries;
  const std::uint32_t nlibs = file.u32(base + kNlibsOffset);
  for (std::uint32_t i = 0; i < nlibs; ++i) {
    const std::size_t at = base + kNewHeaderSize + std::size_t{i} * kNewEntrySize;
    ReadEntry read = read_common_fields(file, at, base, file.size());
    read.entry.hwcap = file.u64(at + 16);
    const std::uint32_t index = hwcaps_index(read.entry.hwcap);
    if (is_hwcaps_extension(read.entry.hwcap) && index < extensions.hwcaps_names.size())
      read.entry.hwcaps_subdir = extensions.hwcaps_names[index];
    entries.push_back(std::move(read));
  }
  return entries;
}

// Old-format entries: string offsets count from the end of the entry array.
std::vector<ReadEntry> read_old_entries(const CacheBytes& file) {
  std::vector<ReadEntry> entries;
  const std::uint32_t nlibs = file.u32(kOldNlibsOffset);
  const std::size_t strings = kOldHeaderSize + std::size_t{nlibs} * kOldEntrySize;
  for (std::uint32_t i = 0; i < nlibs; ++i) {
    const std::size_t at = kOldHeaderSize + std::size_t{i} * kOldEntrySize;
    entries.push_back(read_common_fields(file, at, strings, file.size() - strings));
  }
  return entries;
}

}  // namespace

// _dl_cache_libcmp, byte for byte: `char` is signed on x86 (so bytes ≥ 0x80 sort below ASCII),
// digit runs accumulate in a 32-bit int that wraps on overflow, and the end of a view acts as the
// terminating NUL.
int cache_libcmp(std::string_view a, std::string_view b) {
  auto at = [](std::string_view s, std::size_t i) -> int { return i < s.size() ? static_cast<signed char>(s[i]) : 0; };
  auto is_digit = [](int c) { return c >= '0' && c <= '9'; };
  auto number = [&](std::string_view s, std::size_t& i) {
    std::uint32_t value = 0;
    while (is_digit(at(s, i))) value = value * 10 + static_cast<std::uint32_t>(at(s, i++) - '0');
    return value;
  };

  std::size_t i = 0;
  std::size_t j = 0;
  while (at(a, i) != 0) {
    const bool a_digit = is_digit(at(a, i));
    const bool b_digit = is_digit(at(b, j));
    if (a_digit && b_digit) {
      const std::uint32_t a_value = number(a, i);
      const std::uint32_t b_value = number(b, j);
      if (a_value != b_value) return static_cast<std::int32_t>(a_value - b_value);
    } else if (a_digit) {
      return 1;
    } else if (b_digit) {
      return -1;
    } else if (at(a, i) != at(b, j)) {
      return at(a, i) - at(b, j);
    } else {
      ++i;
      ++j;
    }
  }
  return at(a, i) - at(b, j);
}

Result<LdCache> LdCache::parse(std::span<const std::byte> bytes) {
  const CacheBytes file(bytes);
  const Result<Layout> layout = detect_layout(file);
  if (!layout) return layout.error();

  LdCache cache;
  cache.format_ = layout->format;
  std::vector<ReadEntry> entries;
  if (layout->format == Format::Old) {
    entries = read_old_entries(file);
  } else {
    // The loader ignores a bad extension directory but still uses the entries.
    Extensions extensions =
        load_extensions(file, file.u32(layout->base + kExtensionOffsetOffset)).value_or(Extensions{});
    entries = read_new_entries(file, layout->base, extensions);
    cache.hwcaps_names_ = std::move(extensions.hwcaps_names);
    cache.generator_ = std::move(extensions.generator);
  }
  for (ReadEntry& read : entries) {
    cache.entries_.push_back(std::move(read.entry));
    cache.offset_checks_.push_back(OffsetCheck{read.key_in_range, read.value_in_range});
  }
  return cache;
}

// Where the binary search met `name`: the first entry of its run of equal keys, and the end of
// the search window, which the loader's walk over the run never passes.
struct LdCache::EqualRun {
  std::size_t first;
  std::size_t end;
};

bool LdCache::key_matches(std::size_t index, std::string_view name) const {
  return offset_checks_[index].key_in_range && cache_libcmp(name, entries_[index].key) == 0;
}

// The binary search of search_cache over keys sorted descending. A key offset out of range on the
// way makes the loader give up on the whole lookup.
std::optional<LdCache::EqualRun> LdCache::find_equal_run(std::string_view name) const {
  std::int64_t left = 0;
  std::int64_t right = static_cast<std::int64_t>(entries_.size()) - 1;
  while (left <= right) {
    const auto middle = static_cast<std::size_t>((left + right) / 2);
    if (!offset_checks_[middle].key_in_range) return std::nullopt;
    const int order = cache_libcmp(name, entries_[middle].key);
    if (order == 0) {
      std::size_t first = middle;
      while (first > 0 && key_matches(first - 1, name)) --first;
      return EqualRun{first, static_cast<std::size_t>(right) + 1};
    }
    if (order < 0)
      left = static_cast<std::int64_t>(middle) + 1;
    else
      right = static_cast<std::int64_t>(middle) - 1;
  }
  return std::nullopt;
}

// search_cache's walk over the equal run. glibc-hwcaps extension entries (ldconfig sorts them
// first) compete by priority; after them the first acceptable legacy or plain entry ends the
// search, unless an extension entry was already chosen.
std::optional<std::string> LdCache::lookup(std::string_view name, const LoaderConfig& config) const {
  const std::optional<EqualRun> run = find_equal_run(name);
  if (!run) return std::nullopt;

  EntryFilter filter(config, hwcaps_names_);
  const bool has_hwcap_field = format_ != Format::Old;
  const std::string* best = nullptr;
  std::uint32_t best_priority = 0;
  for (std::size_t i = run->first; i < run->end; ++i) {
    if (!key_matches(i, name)) break;
    const CacheEntry& entry = entries_[i];
    if (!filter.flags_accepted(entry.flags) || !offset_checks_[i].value_in_range) continue;

    bool extension = false;
    if (has_hwcap_field) {
      extension = is_hwcaps_extension(entry.hwcap);
      if (extension && !filter.isa_level_ok(entry.hwcap)) continue;
      if (!extension && best != nullptr) break;
      if (!extension && !filter.legacy_bits_ok(entry.hwcap)) continue;
      if (!filter.platform_ok(entry.hwcap)) continue;
      if (extension) {
        const std::uint32_t priority = filter.priority(entry.hwcap);
        if (priority == 0) continue;
        if (best != nullptr && priority >= best_priority) continue;
        best_priority = priority;
      }
    }
    best = &entry.value;
    // Another accepted flag value (FLAG_ELF) keeps the search going: a later entry may still win.
    if (!extension && filter.is_default_flags(entry.flags)) break;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

}  // namespace jailbuild
