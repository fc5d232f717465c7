// The new ld.so.cache format as ldconfig 2.36 writes it (sysdeps/generic/dl-cache.h), without
// its string tail-merging: a root's cache holds a few hundred entries at most.
#include <algorithm>
#include <bit>
#include <cstring>
#include <map>

#include "ld_cache.hpp"
#include "ld_cache_format.hpp"

namespace jailbuild {
namespace {

using namespace ld_cache_format;

template <typename T>
void put(std::string& out, std::size_t offset, T value) {
  static_assert(std::endian::native == std::endian::little, "x86 caches are little-endian");
  std::memcpy(out.data() + offset, &value, sizeof value);
}

template <typename T>
void append(std::string& out, T value) {
  out.resize(out.size() + sizeof value);
  put(out, out.size() - sizeof value, value);
}

// Strings stored once each, NUL-terminated, at offsets from the start of the file.
class StringTable {
 public:
  explicit StringTable(std::size_t base) : base_(base) {}
  std::uint32_t offset_of(const std::string& s) {
    auto [it, inserted] = offsets_.try_emplace(s, 0);
    if (inserted) {
      it->second = static_cast<std::uint32_t>(base_ + bytes_.size());
      bytes_ += s;
      bytes_.push_back('\0');
    }
    return it->second;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::size_t base_;
  std::string bytes_;
  std::map<std::string, std::uint32_t> offsets_;
};

}  // namespace

std::string write_ld_cache(std::vector<CacheEntry> entries, const std::string& generator) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const CacheEntry& a, const CacheEntry& b) { return cache_libcmp(a.key, b.key) > 0; });
  std::vector<std::string> hwcaps_names;
  for (const CacheEntry& entry : entries)
    if (entry.hwcaps_subdir) hwcaps_names.push_back(*entry.hwcaps_subdir);
  std::sort(hwcaps_names.begin(), hwcaps_names.end());
  hwcaps_names.erase(std::unique(hwcaps_names.begin(), hwcaps_names.end()), hwcaps_names.end());

  std::string out(kNewHeaderSize + kNewEntrySize * entries.size(), '\0');
  StringTable strings(out.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const CacheEntry& entry = entries[i];
    std::uint64_t hwcap = entry.hwcap;
    if (entry.hwcaps_subdir) {
      const auto index =
          std::lower_bound(hwcaps_names.begin(), hwcaps_names.end(), *entry.hwcaps_subdir) - hwcaps_names.begin();
      hwcap = (hwcap & ~kHwcapsIndexMask) | kHwcapExtensionBit | static_cast<std::uint64_t>(index);
    }
    const std::size_t at = kNewHeaderSize + kNewEntrySize * i;
    put(out, at, entry.flags);
    put(out, at + 4, strings.offset_of(entry.key));
    put(out, at + 8, strings.offset_of(entry.value));
    put(out, at + 16, hwcap);
  }
  std::vector<std::uint32_t> name_offsets;
  for (const std::string& name : hwcaps_names) name_offsets.push_back(strings.offset_of(name));
  out += strings.bytes();
  const auto len_strings = static_cast<std::uint32_t>(strings.bytes().size());

  out.resize((out.size() + 3) & ~std::size_t{3}, '\0');
  const auto extension_offset = static_cast<std::uint32_t>(out.size());
  const std::uint32_t sections = hwcaps_names.empty() ? 1 : 2;
  const std::size_t directory_size = kExtensionHeaderSize + kExtensionSectionSize * sections;
  append(out, kExtensionMagic);
  append(out, sections);
  const auto generator_offset = static_cast<std::uint32_t>(extension_offset + directory_size);
  for (std::uint32_t value : {kTagGenerator, 0u, generator_offset, static_cast<std::uint32_t>(generator.size())})
    append(out, value);
  if (!hwcaps_names.empty()) {
    const auto names_offset = static_cast<std::uint32_t>((generator_offset + generator.size() + 3) & ~std::size_t{3});
    for (std::uint32_t value : {kTagGlibcHwcaps, 0u, names_offset, static_cast<std::uint32_t>(4 * name_offsets.size())})
      append(out, value);
    out += generator;
    out.resize(names_offset, '\0');
    for (std::uint32_t offset : name_offsets) append(out, offset);
  } else {
    out += generator;
  }

  std::memcpy(out.data(), kNewMagic.data(), kNewMagic.size());
  put(out, kNlibsOffset, static_cast<std::uint32_t>(entries.size()));
  put(out, kStringsLengthOffset, len_strings);
  put(out, kEndianFlagsOffset, kEndianLittle);
  put(out, kExtensionOffsetOffset, extension_offset);
  return out;
}

}  // namespace jailbuild
