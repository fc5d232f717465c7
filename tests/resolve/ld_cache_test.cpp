// ld.so.cache parsing and lookup: unit tests on caches written in memory, and oracles that hold
// the reader to `ldconfig -p` and to the real loader's choices (docs/loader-rules.md#loader-cache).
#include "resolve/ld_cache.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "jailbuild/loader_config.hpp"
#include "resolve/shell_helpers.hpp"

namespace {

using jailbuild::cache_libcmp;
using jailbuild::default_loader_config;
using jailbuild::LdCache;
using jailbuild::LoaderConfig;
using jailbuild::testing::read_file_bytes;
using jailbuild::testing::run_shell;
using jailbuild::testing::shell_quote;
using jailbuild::testing::TempDir;

// Entry flags (sysdeps/generic/ldconfig.h).
constexpr std::int32_t kX8664 = 0x0303;     // FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
constexpr std::int32_t kLibc6 = 0x0003;     // i386
constexpr std::int32_t kX32 = 0x0803;       // FLAG_ELF_LIBC6 | FLAG_X8664_LIBX32
constexpr std::int32_t kPlainElf = 0x0001;  // FLAG_ELF

// Legacy hwcap bits of an entry (sysdeps/x86/dl-hwcap.h, dl-procinfo.h).
constexpr std::uint64_t kHwcapSse2 = 0x1;
constexpr std::uint64_t kHwcapX86_64 = 0x2;
constexpr std::uint64_t kHwcapAvx512 = 0x4;
constexpr std::uint64_t kTls = std::uint64_t{1} << 63;
constexpr unsigned kHaswellBit = 50;
constexpr unsigned kXeonPhiBit = 51;

constexpr std::uint64_t platform(unsigned bit) { return std::uint64_t{1} << bit; }

// The hwcap word of a glibc-hwcaps extension entry: the index of its subdirectory name in the
// cache's hwcaps section, and the ISA level it needs (0 baseline, 1 v2, 2 v3, 3 v4).
constexpr std::uint64_t hwcaps_entry(std::uint32_t index, std::uint64_t isa_level = 0) {
  return (std::uint64_t{1} << 62) | (isa_level << 32) | index;
}

// ---------------------------------------------------------------------------------------------
// A small ld.so.cache writer, laying files out the way ldconfig 2.36 does.

struct TestEntry {
  std::string key;
  std::string value;
  std::int32_t flags = kX8664;
  std::uint64_t hwcap = 0;
};

void put_u32(std::vector<std::byte>& bytes, std::size_t at, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = std::byte{static_cast<std::uint8_t>(value >> (8 * i))};
}

std::uint32_t get_u32(const std::vector<std::byte>& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | std::to_integer<std::uint32_t>(bytes[at + i]);
  return value;
}

class ByteWriter {
 public:
  std::size_t size() const { return bytes_.size(); }
  void text(std::string_view s) {
    for (char c : s) bytes_.push_back(static_cast<std::byte>(c));
  }
  void c_string(std::string_view s) {
    text(s);
    zeros(1);
  }
  void u8(std::uint8_t value) { bytes_.push_back(std::byte{value}); }
  void u32(std::uint32_t value) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  void zeros(std::size_t count) { bytes_.insert(bytes_.end(), count, std::byte{0}); }
  void align(std::size_t alignment) { zeros((alignment - size() % alignment) % alignment); }
  void put_u32(std::size_t at, std::uint32_t value) { ::put_u32(bytes_, at, value); }
  void put_u64(std::size_t at, std::uint64_t value) {
    put_u32(at, static_cast<std::uint32_t>(value));
    put_u32(at + 4, static_cast<std::uint32_t>(value >> 32));
  }
  std::vector<std::byte> take() { return std::move(bytes_); }

 private:
  std::vector<std::byte> bytes_;
};

struct NewCacheSpec {
  NewCacheSpec(std::vector<TestEntry> entries_in, std::vector<std::string> hwcaps_names_in = {})
      : entries(std::move(entries_in)), hwcaps_names(std::move(hwcaps_names_in)) {}

  std::vector<TestEntry> entries;
  std::vector<std::string> hwcaps_names;  // the glibc-hwcaps section (tag 1), written if not empty
  std::optional<std::string> generator = "jailbuild test writer";
  std::uint8_t endian_flags = 2;  // little-endian
};

// Where a new-format block's parts landed (file offsets), for tests that corrupt them.
struct NewBlockLayout {
  std::size_t base = 0;
  std::vector<std::size_t> entries;
  std::size_t extension_directory = 0;  // 0: none
  std::size_t hwcaps_section = 0;       // its u32 array; 0: none
};

constexpr std::size_t kExtensionOffsetField = 32;
constexpr std::size_t kEntryKeyField = 4;
constexpr std::size_t kEntryValueField = 8;

// Header, entries, strings (a key that is the tail of its value shares its bytes, as ldconfig's
// string table merges them), hwcaps names, generator, then the extension directory.
NewBlockLayout append_new_block(ByteWriter& out, const NewCacheSpec& spec) {
  NewBlockLayout layout;
  layout.base = out.size();
  out.text("glibc-ld.so.cache1.1");
  out.u32(static_cast<std::uint32_t>(spec.entries.size()));
  out.u32(0);  // len_strings, filled in below; the loader does not read it
  out.u8(spec.endian_flags);
  out.zeros(3 + 4 + 12);  // padding, extension_offset, unused
  for (std::size_t i = 0; i < spec.entries.size(); ++i) {
    layout.entries.push_back(out.size());
    out.zeros(24);
  }
  const std::size_t strings = out.size();
  for (std::size_t i = 0; i < spec.entries.size(); ++i) {
    const TestEntry& entry = spec.entries[i];
    const auto value_at = static_cast<std::uint32_t>(out.size() - layout.base);
    out.c_string(entry.value);
    std::uint32_t key_at = 0;
    if (entry.value.size() > entry.key.size() && entry.value.ends_with("/" + entry.key)) {
      key_at = value_at + static_cast<std::uint32_t>(entry.value.size() - entry.key.size());
    } else {
      key_at = static_cast<std::uint32_t>(out.size() - layout.base);
      out.c_string(entry.key);
    }
    out.put_u32(layout.entries[i], static_cast<std::uint32_t>(entry.flags));
    out.put_u32(layout.entries[i] + kEntryKeyField, key_at);
    out.put_u32(layout.entries[i] + kEntryValueField, value_at);
    out.put_u64(layout.entries[i] + 16, entry.hwcap);
  }
  std::vector<std::uint32_t> name_offsets;  // relative to the file start, as the loader reads them
  for (const std::string& name : spec.hwcaps_names) {
    name_offsets.push_back(static_cast<std::uint32_t>(out.size()));
    out.c_string(name);
  }
  const std::size_t generator_at = out.size();
  if (spec.generator) out.text(*spec.generator);
  out.put_u32(layout.base + 24, static_cast<std::uint32_t>(out.size() - strings));
  if (!spec.generator && spec.hwcaps_names.empty()) return layout;

  out.align(4);
  if (!name_offsets.empty()) layout.hwcaps_section = out.size();
  for (std::uint32_t offset : name_offsets) out.u32(offset);
  out.align(4);
  layout.extension_directory = out.size();
  out.u32(0xEAA42174);
  out.u32((spec.generator ? 1 : 0) + (name_offsets.empty() ? 0 : 1));
  if (spec.generator) {
    for (std::size_t field : {std::size_t{0}, std::size_t{0}, generator_at, spec.generator->size()})
      out.u32(static_cast<std::uint32_t>(field));
  }
  if (!name_offsets.empty()) {
    for (std::size_t field : {std::size_t{1}, std::size_t{0}, layout.hwcaps_section, 4 * name_offsets.size()})
      out.u32(static_cast<std::uint32_t>(field));
  }
  out.put_u32(layout.base + kExtensionOffsetField, static_cast<std::uint32_t>(layout.extension_directory));
  return layout;
}

std::vector<std::byte> new_cache(const NewCacheSpec& spec, NewBlockLayout* layout = nullptr) {
  ByteWriter out;
  const NewBlockLayout written = append_new_block(out, spec);
  if (layout != nullptr) *layout = written;
  return out.take();
}

void append_old_header(ByteWriter& out, std::size_t count) {
  out.text("ld.so-1.7.0");
  out.zeros(1);
  out.u32(static_cast<std::uint32_t>(count));
  out.zeros(12 * count);
}

// Appends the old entries' strings and points the entries at them, relative to `table`.
void append_old_strings(ByteWriter& out, const std::vector<TestEntry>& entries, std::size_t table) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::size_t entry = 16 + 12 * i;
    out.put_u32(entry, static_cast<std::uint32_t>(entries[i].flags));
    out.put_u32(entry + 4, static_cast<std::uint32_t>(out.size() - table));
    out.c_string(entries[i].key);
    out.put_u32(entry + 8, static_cast<std::uint32_t>(out.size() - table));
    out.c_string(entries[i].value);
  }
}

std::vector<std::byte> old_cache(const std::vector<TestEntry>& entries) {
  ByteWriter out;
  append_old_header(out, entries.size());
  append_old_strings(out, entries, out.size());
  return out.take();
}

// Old header and entries, padding to 8, a complete new block, then the old strings.
std::vector<std::byte> combined_cache(const std::vector<TestEntry>& old_entries, const NewCacheSpec& new_part,
                                      NewBlockLayout* layout = nullptr) {
  ByteWriter out;
  append_old_header(out, old_entries.size());
  const std::size_t old_strings = out.size();
  out.align(8);
  const NewBlockLayout written = append_new_block(out, new_part);
  if (layout != nullptr) *layout = written;
  append_old_strings(out, old_entries, old_strings);
  return out.take();
}

// `run` (entries with one key) between entries with keys that sort above and below it, so that
// the binary search has to move.
std::vector<TestEntry> surround(std::vector<TestEntry> run) {
  std::vector<TestEntry> entries;
  for (std::string key : {"libzz.so.3", "libzz.so.2", "libzz.so.1", "libyy.so.1"})
    entries.push_back({key, "/filler/" + key});
  entries.insert(entries.end(), run.begin(), run.end());
  for (std::string key : {"libcc.so.1", "libbb.so.1", "libaa.so.2", "libaa.so.1", "libaa.so"})
    entries.push_back({key, "/filler/" + key});
  return entries;
}

LdCache parse_or_fail(const std::vector<std::byte>& bytes) {
  auto parsed = LdCache::parse(bytes);
  if (!parsed) {
    ADD_FAILURE() << parsed.error().message;
    return LdCache{};
  }
  return std::move(parsed).value();
}

// Debian 12 x86_64 on a CPU with x86-64-v3 (the header's defaults): v3 and v2 active, ISA levels
// baseline..v3, platform x86_64 (no cache platform bit), hwcap x86_64 with mask x86_64|avx512_1.
LoaderConfig x86_64_v3() { return default_loader_config(2, 62); }

LoaderConfig with_hwcaps(std::vector<std::string> active, std::uint32_t isa_levels) {
  LoaderConfig config = x86_64_v3();
  config.hwcaps_subdirs = std::move(active);
  config.isa_level_mask = isa_levels;
  return config;
}

// ---------------------------------------------------------------------------------------------

TEST(CacheLibcmp, EqualNamesCompareEqual) {
  EXPECT_EQ(cache_libcmp("libc.so.6", "libc.so.6"), 0);
  EXPECT_EQ(cache_libcmp("", ""), 0);
}

TEST(CacheLibcmp, LeadingZerosOfDigitRunsDoNotCount) {
  EXPECT_EQ(cache_libcmp("libzz.so.01", "libzz.so.1"), 0);
  EXPECT_EQ(cache_libcmp("libzz.so.1", "libzz.so.001"), 0);
  EXPECT_EQ(cache_libcmp("libfoo007.so", "libfoo7.so"), 0);
}

TEST(CacheLibcmp, DigitRunsCompareAsNumbers) {
  EXPECT_GT(cache_libcmp("libfoo.so.10", "libfoo.so.9"), 0);
  EXPECT_LT(cache_libcmp("libfoo.so.2", "libfoo.so.10"), 0);
  EXPECT_LT(cache_libcmp("libfoo.so.1.2", "libfoo.so.1.10"), 0);
}

TEST(CacheLibcmp, DigitRanksAboveNonDigit) {
  EXPECT_GT(cache_libcmp("lib1", "liba"), 0);
  EXPECT_LT(cache_libcmp("libx.so.a", "libx.so.0"), 0);
  EXPECT_LT(cache_libcmp("lib~", "lib0"), 0);  // '~' is above every digit as a byte
}

TEST(CacheLibcmp, OtherBytesCompareAsSignedChars) {
  EXPECT_LT(cache_libcmp("liba.so", "libb.so"), 0);
  EXPECT_GT(cache_libcmp("libB", "libA"), 0);
  EXPECT_LT(cache_libcmp("lib\xe9", "liba"), 0);  // 0xe9 is negative as a char on x86
}

TEST(CacheLibcmp, PrefixSortsBelowLongerName) {
  EXPECT_LT(cache_libcmp("libz.so", "libz.so.1"), 0);
  EXPECT_GT(cache_libcmp("libz.so.1", "libz.so"), 0);
  EXPECT_GT(cache_libcmp("libz.so.1", "libz.so."), 0);
}

TEST(CacheLibcmp, EndOfViewActsAsTerminatingNul) {
  EXPECT_EQ(cache_libcmp(std::string_view("libz.so.1\0junk", 14), "libz.so.1"), 0);
  EXPECT_EQ(cache_libcmp(std::string_view("libz.so.1", 7), "libz.so"), 0);
}

// ---------------------------------------------------------------------------------------------

TEST(LdCacheParse, NewFormatEntriesInFileOrder) {
  const LdCache cache = parse_or_fail(new_cache({{
      {"libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"},
      {"libc.so.6", "/lib32/libc.so.6", kLibc6},
      {"liblg.so.1", "/opt/legacy/tls/liblg.so.1", kX8664, kTls},
  }}));
  EXPECT_EQ(cache.format(), LdCache::Format::New);
  ASSERT_EQ(cache.entries().size(), 3u);
  EXPECT_EQ(cache.entries()[0].key, "libz.so.1");
  EXPECT_EQ(cache.entries()[0].value, "/lib/x86_64-linux-gnu/libz.so.1");
  EXPECT_EQ(cache.entries()[0].flags, kX8664);
  EXPECT_EQ(cache.entries()[1].flags, kLibc6);
  EXPECT_EQ(cache.entries()[1].value, "/lib32/libc.so.6");
  EXPECT_EQ(cache.entries()[2].hwcap, kTls);
  EXPECT_FALSE(cache.entries()[2].hwcaps_subdir);
  EXPECT_EQ(cache.generator(), "jailbuild test writer");
}

TEST(LdCacheParse, KeysInsideTheirValuesAreRead) {
  NewBlockLayout layout;
  const auto bytes = new_cache({{{"libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"}}}, &layout);
  // The writer merged the key into the value's tail, as ldconfig does.
  ASSERT_EQ(get_u32(bytes, layout.entries[0] + kEntryKeyField),
            get_u32(bytes, layout.entries[0] + kEntryValueField) + std::string("/lib/x86_64-linux-gnu/").size());
  const LdCache cache = parse_or_fail(bytes);
  ASSERT_EQ(cache.entries().size(), 1u);
  EXPECT_EQ(cache.entries()[0].key, "libz.so.1");
  EXPECT_EQ(cache.entries()[0].value, "/lib/x86_64-linux-gnu/libz.so.1");
}

TEST(LdCacheParse, GlibcHwcapsSectionNamesExtensionEntries) {
  const LdCache cache = parse_or_fail(new_cache({
      {{"libhw.so.1", "/d/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(1, 2)},
       {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v2/libhw.so.1", kX8664, hwcaps_entry(0, 1)},
       {"libhw.so.1", "/d/libhw.so.1"}},
      {"x86-64-v2", "x86-64-v3"},
  }));
  ASSERT_EQ(cache.entries().size(), 3u);
  EXPECT_EQ(cache.entries()[0].hwcaps_subdir, "x86-64-v3");
  EXPECT_EQ(cache.entries()[0].hwcap, hwcaps_entry(1, 2));
  EXPECT_EQ(cache.entries()[1].hwcaps_subdir, "x86-64-v2");
  EXPECT_FALSE(cache.entries()[2].hwcaps_subdir);
}

TEST(LdCacheParse, OldFormatOffsetsCountFromEndOfEntries) {
  const LdCache cache = parse_or_fail(old_cache({
      {"libz.so.1", "/lib/libz.so.1"},
      {"libc.so.6", "/lib32/libc.so.6", kLibc6},
  }));
  EXPECT_EQ(cache.format(), LdCache::Format::Old);
  ASSERT_EQ(cache.entries().size(), 2u);
  EXPECT_EQ(cache.entries()[0].key, "libz.so.1");
  EXPECT_EQ(cache.entries()[0].value, "/lib/libz.so.1");
  EXPECT_EQ(cache.entries()[1].key, "libc.so.6");
  EXPECT_EQ(cache.entries()[1].flags, kLibc6);
  EXPECT_EQ(cache.entries()[1].hwcap, 0u);
  EXPECT_FALSE(cache.generator());
}

TEST(LdCacheParse, CombinedFileUsesTheNewPart) {
  const LdCache cache =
      parse_or_fail(combined_cache({{"libold.so.1", "/old/libold.so.1"}},
                                   {{{"libnew.so.1", "/new/libnew.so.1"}, {"libnew.so.0", "/new/libnew.so.0"}}}));
  EXPECT_EQ(cache.format(), LdCache::Format::Combined);
  ASSERT_EQ(cache.entries().size(), 2u);
  EXPECT_EQ(cache.entries()[0].key, "libnew.so.1");
  EXPECT_EQ(cache.entries()[1].value, "/new/libnew.so.0");
  EXPECT_EQ(cache.generator(), "jailbuild test writer");
}

TEST(LdCacheParse, OnlyLittleOrUnsetEndiannessIsAccepted) {
  const std::vector<TestEntry> entries = {{"libz.so.1", "/lib/libz.so.1"}};
  auto with_endian_flags = [&](std::uint8_t flags) {
    NewCacheSpec spec(entries);
    spec.endian_flags = flags;
    return new_cache(spec);
  };
  for (std::uint8_t flags : {0, 2, 6, 0x82})
    EXPECT_TRUE(LdCache::parse(with_endian_flags(flags))) << "endian flags " << int(flags);
  for (std::uint8_t flags : {1, 3, 7})
    EXPECT_FALSE(LdCache::parse(with_endian_flags(flags))) << "endian flags " << int(flags);
}

TEST(LdCacheParse, CombinedFileWithWrongEndianNewPartIsIgnoredWhole) {
  NewCacheSpec big_endian(std::vector<TestEntry>{{"libn.so.1", "/n"}});
  big_endian.endian_flags = 3;
  const auto parsed = LdCache::parse(combined_cache({{"libold.so.1", "/old/libold.so.1"}}, big_endian));
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("little-endian"), std::string::npos);
}

TEST(LdCacheParse, RejectsWhatTheLoaderIgnores) {
  auto bytes_of = [](std::string_view text) {
    std::vector<std::byte> bytes;
    for (char c : text) bytes.push_back(static_cast<std::byte>(c));
    return bytes;
  };
  EXPECT_FALSE(LdCache::parse({}));
  EXPECT_FALSE(LdCache::parse(bytes_of("not a cache at all, just some text of decent length......")));
  // A bare new header: the loader wants more than 48 bytes.
  NewCacheSpec empty({});
  empty.generator.reset();
  auto header_only = new_cache(empty);
  ASSERT_EQ(header_only.size(), 48u);
  EXPECT_FALSE(LdCache::parse(header_only));
  header_only.push_back(std::byte{0});
  EXPECT_TRUE(LdCache::parse(header_only));
  // More entries than the file holds.
  auto too_many = new_cache({{{"libz.so.1", "/z"}}});
  put_u32(too_many, 20, 1000);
  EXPECT_FALSE(LdCache::parse(too_many));
  auto too_many_old = old_cache({{"libz.so.1", "/z"}});
  put_u32(too_many_old, 12, 1000);
  EXPECT_FALSE(LdCache::parse(too_many_old));
  // A bare old header: the loader wants more than 16 bytes.
  auto old_header_only = old_cache({});
  ASSERT_EQ(old_header_only.size(), 16u);
  EXPECT_FALSE(LdCache::parse(old_header_only));
}

TEST(LdCacheParse, CombinedNewPartWithMoreEntriesThanTheFileIsRejected) {
  NewBlockLayout layout;
  auto bytes = combined_cache({{"libold.so.1", "/old"}}, {{{"libn.so.1", "/n"}}}, &layout);
  ASSERT_TRUE(LdCache::parse(bytes));
  put_u32(bytes, layout.base + 20, 5000);
  EXPECT_FALSE(LdCache::parse(bytes));
}

TEST(LdCacheParse, OutOfRangeOffsetsKeepTheEntryWithEmptyStrings) {
  NewBlockLayout layout;
  auto bytes = new_cache({{{"libz.so.1", "/z/libz.so.1"}, {"liba.so.1", "/a/liba.so.1"}}}, &layout);
  put_u32(bytes, layout.entries[0] + kEntryKeyField, 0xfffffff0);
  put_u32(bytes, layout.entries[1] + kEntryValueField, static_cast<std::uint32_t>(bytes.size()));
  const LdCache cache = parse_or_fail(bytes);
  ASSERT_EQ(cache.entries().size(), 2u);
  EXPECT_EQ(cache.entries()[0].key, "");
  EXPECT_EQ(cache.entries()[0].value, "/z/libz.so.1");
  EXPECT_EQ(cache.entries()[1].key, "liba.so.1");
  EXPECT_EQ(cache.entries()[1].value, "");
}

TEST(LdCacheParse, StringRunningIntoTheEndOfTheFileEndsThere) {
  NewCacheSpec spec(std::vector<TestEntry>{{"libz.so.1", "/z/libz.so.1"}});
  spec.generator.reset();
  auto bytes = new_cache(spec);
  bytes.pop_back();  // the value's NUL: the string now ends with the file
  const LdCache cache = parse_or_fail(bytes);
  ASSERT_EQ(cache.entries().size(), 1u);
  EXPECT_EQ(cache.entries()[0].value, "/z/libz.so.1");
  EXPECT_EQ(cache.lookup("libz.so.1", x86_64_v3()), "/z/libz.so.1");
}

TEST(LdCacheParse, CombinedOffsetPastTheFileReadsAsEmpty) {
  // The loader checks new-part offsets against the whole file size although they count from the
  // new header, so an offset can be "valid" and still point past the end.
  NewBlockLayout layout;
  auto bytes = combined_cache({{"libold.so.1", "/old"}}, {{{"libn.so.1", "/n/libn.so.1"}}}, &layout);
  put_u32(bytes, layout.entries[0] + kEntryValueField, static_cast<std::uint32_t>(bytes.size() - 1));
  const LdCache cache = parse_or_fail(bytes);
  ASSERT_EQ(cache.entries().size(), 1u);
  EXPECT_EQ(cache.entries()[0].value, "");
  EXPECT_EQ(cache.lookup("libn.so.1", x86_64_v3()), "");
}

// The extension directory is all or nothing for the loader: any flaw drops the hwcaps names, and
// the extension entries become unusable while the rest of the cache still works.
struct ExtensionDamage {
  const char* name;
  void (*damage)(std::vector<std::byte>&, const NewBlockLayout&);
  bool generator_survives;
};

void PrintTo(const ExtensionDamage& damage, std::ostream* out) { *out << damage.name; }

class LdCacheExtensionDamage : public ::testing::TestWithParam<ExtensionDamage> {};

TEST_P(LdCacheExtensionDamage, DropsHwcapsButKeepsEntries) {
  NewBlockLayout layout;
  auto bytes = new_cache({surround({{"libhw.so.1", "/d/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(0)},
                                    {"libhw.so.1", "/d/libhw.so.1"}}),
                          {"x86-64-v3"}},
                         &layout);
  ASSERT_EQ(parse_or_fail(bytes).lookup("libhw.so.1", x86_64_v3()), "/d/glibc-hwcaps/x86-64-v3/libhw.so.1");
  GetParam().damage(bytes, layout);
  const LdCache cache = parse_or_fail(bytes);
  EXPECT_EQ(cache.lookup("libhw.so.1", x86_64_v3()), "/d/libhw.so.1");
  EXPECT_EQ(cache.lookup("libzz.so.2", x86_64_v3()), "/filler/libzz.so.2");
  for (const auto& entry : cache.entries()) EXPECT_FALSE(entry.hwcaps_subdir);
  EXPECT_EQ(cache.generator().has_value(), GetParam().generator_survives);
}

constexpr std::size_t kDirectoryCount = 4;
constexpr std::size_t kHwcapsSectionRecord = 8 + 16;  // the second section record
constexpr std::size_t kDirectorySize = 8 + 2 * 16;    // magic, count, two section records

INSTANTIATE_TEST_SUITE_P(
    Flaws, LdCacheExtensionDamage,
    ::testing::Values(
        ExtensionDamage{"MisalignedDirectory",  // an intact copy at an offset ≡ 2 (mod 4)
                        [](auto& b, const auto& l) {
                          b.resize(b.size() + 6 - b.size() % 4);
                          const std::size_t copy = b.size();
                          b.insert(b.end(), b.begin() + l.extension_directory,
                                   b.begin() + l.extension_directory + kDirectorySize);
                          put_u32(b, l.base + kExtensionOffsetField, static_cast<std::uint32_t>(copy));
                        },
                        false},
        ExtensionDamage{"DirectoryPastTheEnd",
                        [](auto& b, const auto& l) {
                          put_u32(b, l.base + kExtensionOffsetField, static_cast<std::uint32_t>(b.size() - 4));
                        },
                        false},
        ExtensionDamage{"BadMagic", [](auto& b, const auto& l) { put_u32(b, l.extension_directory, 0x1234); }, false},
        ExtensionDamage{"TooManySections",
                        [](auto& b, const auto& l) { put_u32(b, l.extension_directory + kDirectoryCount, 0x10000000); },
                        false},
        ExtensionDamage{
            "SectionPastTheEnd",
            [](auto& b, const auto& l) { put_u32(b, l.extension_directory + kHwcapsSectionRecord + 12, 0x100000); },
            false},
        ExtensionDamage{"HwcapsSectionMisaligned",  // an intact copy at an odd offset
                        [](auto& b, const auto& l) {
                          b.resize(b.size() + 5 - b.size() % 4);
                          const std::size_t copy = b.size();
                          b.insert(b.end(), b.begin() + l.hwcaps_section, b.begin() + l.hwcaps_section + 4);
                          put_u32(b, l.extension_directory + kHwcapsSectionRecord + 8,
                                  static_cast<std::uint32_t>(copy));
                        },
                        true},
        ExtensionDamage{
            "HwcapsSectionRaggedSize",
            [](auto& b, const auto& l) { put_u32(b, l.extension_directory + kHwcapsSectionRecord + 12, 3); }, true},
        ExtensionDamage{
            "HwcapsSectionEmpty",
            [](auto& b, const auto& l) { put_u32(b, l.extension_directory + kHwcapsSectionRecord + 12, 0); }, true},
        ExtensionDamage{"HwcapsSectionUnknownTag",
                        [](auto& b, const auto& l) { put_u32(b, l.extension_directory + kHwcapsSectionRecord, 7); },
                        true},
        ExtensionDamage{"NameOffsetOutsideTheFile",
                        [](auto& b, const auto& l) { put_u32(b, l.hwcaps_section, 0xfffffff0); }, true}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// Random corruption must give an error or a cache, never a crash or an out-of-range read (run the
// tests under ASan/valgrind to see the latter).
TEST(LdCacheParse, MutatedCachesNeverCrash) {
  const NewCacheSpec spec{surround({{"libhw.so.1", "/d/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(1)},
                                    {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v2/libhw.so.1", kX8664, hwcaps_entry(0, 1)},
                                    {"libhw.so.1", "/d/tls/libhw.so.1", kX8664, kTls},
                                    {"libhw.so.1", "/d/libhw.so.1"}}),
                          {"x86-64-v2", "x86-64-v3"}};
  const std::vector<std::vector<std::byte>> seeds = {
      new_cache(spec), combined_cache({{"libold.so.1", "/old"}}, spec),
      old_cache({{"libhw.so.1", "/d/libhw.so.1"}, {"libc.so.6", "/lib/libc.so.6"}})};
  std::mt19937 random(20240611);
  std::size_t parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::byte> bytes = seeds[round % seeds.size()];
    const int edits = 1 + static_cast<int>(random() % 8);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = random() % bytes.size();
      bytes[at] = random() % 4 == 0 ? std::byte{0xff} : static_cast<std::byte>(random());
    }
    if (round % 5 == 0) bytes.resize(random() % (bytes.size() + 1));
    const auto cache = LdCache::parse(bytes);
    if (!cache) continue;
    ++parsed;
    EXPECT_LE(cache->entries().size(), bytes.size() / 12);
    for (std::string_view name : {"libhw.so.1", "libzz.so.2", "libaa.so", "libold.so.1", ""})
      (void)cache->lookup(name, x86_64_v3());
  }
  EXPECT_GT(parsed, 100u);  // the mutations must not all be rejected outright
}

// ---------------------------------------------------------------------------------------------

TEST(LdCacheLookup, FindsPlainEntryAndMissesUnknownNames) {
  const LdCache cache = parse_or_fail(new_cache({surround({{"libhw.so.1", "/d/libhw.so.1"}})}));
  EXPECT_EQ(cache.lookup("libhw.so.1", x86_64_v3()), "/d/libhw.so.1");
  for (const char* key : {"libzz.so.3", "libyy.so.1", "libaa.so", "libaa.so.1"})
    EXPECT_EQ(cache.lookup(key, x86_64_v3()), "/filler/" + std::string(key)) << key;
  EXPECT_FALSE(cache.lookup("libhw.so.2", x86_64_v3()));
  EXPECT_FALSE(cache.lookup("libhw.so", x86_64_v3()));
  EXPECT_FALSE(cache.lookup("", x86_64_v3()));
}

TEST(LdCacheLookup, EmptyCacheFindsNothing) { EXPECT_FALSE(LdCache{}.lookup("libc.so.6", x86_64_v3())); }

TEST(LdCacheLookup, NameWithLeadingZeroMatchesKey) {
  const LdCache cache = parse_or_fail(new_cache({surround({{"libzz.so.1", "/d/libzz.so.1"}})}));
  EXPECT_EQ(cache.lookup("libzz.so.01", x86_64_v3()), "/d/libzz.so.1");
}

// ldconfig's order for one soname: extension entries (by name), legacy ones, then the plain one.
std::vector<TestEntry> hwcaps_run(std::uint64_t v2_isa_level = 1) {
  return surround({
      {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v2/libhw.so.1", kX8664, hwcaps_entry(0, v2_isa_level)},
      {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(1, 2)},
      {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v4/libhw.so.1", kX8664, hwcaps_entry(2, 3)},
      {"libhw.so.1", "/d/libhw.so.1"},
  });
}
const std::vector<std::string> kHwcapsNames = {"x86-64-v2", "x86-64-v3", "x86-64-v4"};

TEST(LdCacheLookup, BestActiveHwcapsSubdirectoryWins) {
  const LdCache cache = parse_or_fail(new_cache({hwcaps_run(), kHwcapsNames}));
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v4", "x86-64-v3", "x86-64-v2"}, 0xf)),
            "/d/glibc-hwcaps/x86-64-v4/libhw.so.1");
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v3", "x86-64-v2"}, 0x7)),
            "/d/glibc-hwcaps/x86-64-v3/libhw.so.1");
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v2"}, 0x3)), "/d/glibc-hwcaps/x86-64-v2/libhw.so.1");
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({}, 0x1)), "/d/libhw.so.1");
  // Priority is the position in the active list, not the order in the file.
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v2", "x86-64-v4"}, 0xf)),
            "/d/glibc-hwcaps/x86-64-v2/libhw.so.1");
}

TEST(LdCacheLookup, InactiveHwcapsSubdirectoryIsSkipped) {
  const LdCache cache =
      parse_or_fail(new_cache({surround({
                                   {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v4/libhw.so.1", kX8664, hwcaps_entry(0, 0)},
                                   {"libhw.so.1", "/d/libhw.so.1"},
                               }),
                               {"x86-64-v4"}}));
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v3", "x86-64-v2"}, 0xf)), "/d/libhw.so.1");
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v4"}, 0xf)), "/d/glibc-hwcaps/x86-64-v4/libhw.so.1");
}

TEST(LdCacheLookup, HwcapsEntryNeedingHigherIsaLevelIsSkipped) {
  // A library in the v2 directory marked as needing x86-64-v4 (ISA level 3).
  const LdCache cache = parse_or_fail(new_cache({hwcaps_run(3), kHwcapsNames}));
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v2"}, 0x7)), "/d/libhw.so.1");
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v2"}, 0xf)), "/d/glibc-hwcaps/x86-64-v2/libhw.so.1");
}

TEST(LdCacheLookup, HwcapsEntryBeatsLegacyEntries) {
  const LdCache cache =
      parse_or_fail(new_cache({surround({
                                   {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(0, 2)},
                                   {"libhw.so.1", "/d/tls/libhw.so.1", kX8664, kTls},
                                   {"libhw.so.1", "/d/libhw.so.1"},
                               }),
                               {"x86-64-v3"}}));
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v3"}, 0x7)), "/d/glibc-hwcaps/x86-64-v3/libhw.so.1");
  EXPECT_EQ(cache.lookup("libhw.so.1", with_hwcaps({"x86-64-v2"}, 0x7)), "/d/tls/libhw.so.1");
}

TEST(LdCacheLookup, PlainEntryBeforeExtensionEntryEndsTheSearch) {
  // Not ldconfig's order: the loader takes the first acceptable non-extension entry and stops.
  const LdCache cache =
      parse_or_fail(new_cache({surround({
                                   {"libhw.so.1", "/d/libhw.so.1"},
                                   {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(0, 2)},
                               }),
                               {"x86-64-v3"}}));
  EXPECT_EQ(cache.lookup("libhw.so.1", x86_64_v3()), "/d/libhw.so.1");
}

TEST(LdCacheLookup, TlsLegacyEntryBeatsPlainEntry) {
  const LdCache cache = parse_or_fail(new_cache({surround({
      {"liblg.so.1", "/opt/legacy/tls/liblg.so.1", kX8664, kTls},
      {"liblg.so.1", "/opt/legacy/liblg.so.1"},
  })}));
  EXPECT_EQ(cache.lookup("liblg.so.1", x86_64_v3()), "/opt/legacy/tls/liblg.so.1");
}

TEST(LdCacheLookup, LegacyHwcapBitsMustBeTheLoadersImportantOnes) {
  const LdCache cache = parse_or_fail(new_cache({surround({
      {"liblg.so.1", "/l/avx512_1/liblg.so.1", kX8664, kHwcapAvx512},
      {"liblg.so.1", "/l/sse2/liblg.so.1", kX8664, kHwcapSse2},
      {"liblg.so.1", "/l/x86_64/liblg.so.1", kX8664, kHwcapX86_64},
      {"liblg.so.1", "/l/liblg.so.1"},
  })}));
  LoaderConfig amd = x86_64_v3();  // hwcap x86_64, mask x86_64|avx512_1
  EXPECT_EQ(cache.lookup("liblg.so.1", amd), "/l/x86_64/liblg.so.1");
  LoaderConfig intel_avx512 = amd;
  intel_avx512.hwcap = kHwcapX86_64 | kHwcapAvx512;
  EXPECT_EQ(cache.lookup("liblg.so.1", intel_avx512), "/l/avx512_1/liblg.so.1");
  LoaderConfig masked = amd;
  masked.hwcap_mask = 0;  // LD_HWCAP_MASK=0
  EXPECT_EQ(cache.lookup("liblg.so.1", masked), "/l/liblg.so.1");
  LoaderConfig sse2_unmasked = amd;
  sse2_unmasked.hwcap = kHwcapSse2;
  sse2_unmasked.hwcap_mask = kHwcapSse2;
  EXPECT_EQ(cache.lookup("liblg.so.1", sse2_unmasked), "/l/sse2/liblg.so.1");
}

TEST(LdCacheLookup, PlatformBitsMustBeTheLoadersPlatform) {
  const LdCache cache = parse_or_fail(new_cache({surround({
      {"liblg.so.1", "/l/xeon_phi/liblg.so.1", kX8664, platform(kXeonPhiBit)},
      {"liblg.so.1", "/l/haswell/liblg.so.1", kX8664, platform(kHaswellBit)},
      {"liblg.so.1", "/l/liblg.so.1"},
  })}));
  LoaderConfig amd = x86_64_v3();  // platform "x86_64": no cache bit, so no platform entry fits
  ASSERT_FALSE(amd.platform_bit);
  EXPECT_EQ(cache.lookup("liblg.so.1", amd), "/l/liblg.so.1");
  LoaderConfig haswell = amd;
  haswell.platform_bit = kHaswellBit;
  EXPECT_EQ(cache.lookup("liblg.so.1", haswell), "/l/haswell/liblg.so.1");
  LoaderConfig xeon_phi = amd;
  xeon_phi.platform_bit = kXeonPhiBit;
  EXPECT_EQ(cache.lookup("liblg.so.1", xeon_phi), "/l/xeon_phi/liblg.so.1");
}

TEST(LdCacheLookup, OnlyTheLoadersOwnFlagsAreVisible) {
  const LdCache cache = parse_or_fail(new_cache({surround({
      {"libc.so.6", "/libx32/libc.so.6", kX32},
      {"libc.so.6", "/lib32/libc.so.6", kLibc6},
      {"libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"},
  })}));
  const LdCache i386_only = parse_or_fail(new_cache({surround({
      {"libc.so.6", "/lib32/libc.so.6", kLibc6},
      {"libc.so.6", "/lib32/elf/libc.so.6", kPlainElf},
  })}));
  const LoaderConfig i386 = default_loader_config(1, 3);
  EXPECT_EQ(cache.lookup("libc.so.6", x86_64_v3()), "/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_EQ(cache.lookup("libc.so.6", i386), "/lib32/libc.so.6");
  EXPECT_FALSE(i386_only.lookup("libc.so.6", x86_64_v3()));
  LoaderConfig x32 = x86_64_v3();
  x32.cache_flags = kX32;
  EXPECT_EQ(cache.lookup("libc.so.6", x32), "/libx32/libc.so.6");
}

TEST(LdCacheLookup, FlagElfIsAcceptedOnlyByTheGenericCheck) {
  const std::vector<TestEntry> run = {
      {"ld-linux.so.2", "/lib32/ld-linux.so.2", kPlainElf},
      {"ld-linux.so.2", "/lib/ld-linux.so.2", kLibc6},
  };
  const LoaderConfig i386 = default_loader_config(1, 3);
  // New format: an accepted FLAG_ELF entry is the answer unless a better extension entry follows.
  EXPECT_EQ(parse_or_fail(new_cache({surround(run)})).lookup("ld-linux.so.2", i386), "/lib32/ld-linux.so.2");
  // Old format: no hwcap field, so a later entry with the default flags replaces it.
  EXPECT_EQ(parse_or_fail(old_cache(surround(run))).lookup("ld-linux.so.2", i386), "/lib/ld-linux.so.2");
  LoaderConfig strict = i386;
  strict.cache_accepts_plain_elf = false;
  EXPECT_EQ(parse_or_fail(new_cache({surround(run)})).lookup("ld-linux.so.2", strict), "/lib/ld-linux.so.2");
}

TEST(LdCacheLookup, EqualRunIsWalkedBackToItsFirstEntry) {
  std::vector<TestEntry> run = {{"libdup.so.1", "/lib32/libdup.so.1", kLibc6}, {"libdup.so.1", "/first/libdup.so.1"}};
  for (int i = 0; i < 7; ++i) run.push_back({"libdup.so.1", "/later" + std::to_string(i)});
  const std::vector<TestEntry> entries = surround(run);
  // The binary search's first probe lands inside the run but after its first x86-64 entry.
  const std::size_t first_probe = (entries.size() - 1) / 2;
  ASSERT_EQ(entries[first_probe].key, "libdup.so.1");
  ASSERT_NE(entries[first_probe].value, "/first/libdup.so.1");
  EXPECT_EQ(parse_or_fail(new_cache({entries})).lookup("libdup.so.1", x86_64_v3()), "/first/libdup.so.1");
}

TEST(LdCacheLookup, KeyOffsetOutOfRangeOnTheSearchPathAbortsTheLookup) {
  NewBlockLayout layout;
  const std::vector<TestEntry> entries = surround({{"libhw.so.1", "/d/libhw.so.1"}});
  auto bytes = new_cache({entries}, &layout);
  const std::size_t first_probe = (entries.size() - 1) / 2;
  ASSERT_NE(entries[first_probe].key, "libzz.so.3");
  ASSERT_EQ(parse_or_fail(bytes).lookup("libzz.so.3", x86_64_v3()), "/filler/libzz.so.3");
  put_u32(bytes, layout.entries[first_probe] + kEntryKeyField, 0xfffffff0);
  const LdCache cache = parse_or_fail(bytes);
  EXPECT_FALSE(cache.lookup("libzz.so.3", x86_64_v3()));
  EXPECT_FALSE(cache.lookup("libaa.so", x86_64_v3()));
}

TEST(LdCacheLookup, ValueOffsetOutOfRangeSkipsTheEntry) {
  NewBlockLayout layout;
  const std::vector<TestEntry> entries =
      surround({{"libhw.so.1", "/d/tls/libhw.so.1", kX8664, kTls}, {"libhw.so.1", "/d/libhw.so.1"}});
  auto bytes = new_cache({entries}, &layout);
  ASSERT_EQ(parse_or_fail(bytes).lookup("libhw.so.1", x86_64_v3()), "/d/tls/libhw.so.1");
  put_u32(bytes, layout.entries[4] + kEntryValueField, 0xfffffff0);
  EXPECT_EQ(parse_or_fail(bytes).lookup("libhw.so.1", x86_64_v3()), "/d/libhw.so.1");
}

TEST(LdCacheLookup, OldFormatOffsetsAreCheckedAgainstTheStringTable) {
  const std::vector<TestEntry> entries = surround({{"libhw.so.1", "/d1/libhw.so.1"}, {"libhw.so.1", "/d2/libhw.so.1"}});
  auto bytes = old_cache(entries);
  ASSERT_EQ(parse_or_fail(bytes).lookup("libhw.so.1", x86_64_v3()), "/d1/libhw.so.1");
  // Just past the string table, though still inside the file counted from its start.
  const std::size_t string_table = 16 + 12 * entries.size();
  put_u32(bytes, 16 + 12 * 4 + kEntryValueField, static_cast<std::uint32_t>(bytes.size() - string_table));
  EXPECT_EQ(parse_or_fail(bytes).lookup("libhw.so.1", x86_64_v3()), "/d2/libhw.so.1");
}

TEST(LdCacheLookup, OldFormatHasNoHwcapLogic) {
  const LdCache cache = parse_or_fail(old_cache(surround({
      {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v2/libhw.so.1"},
      {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v3/libhw.so.1"},
      {"libhw.so.1", "/d/libhw.so.1"},
  })));
  EXPECT_EQ(cache.lookup("libhw.so.1", x86_64_v3()), "/d/glibc-hwcaps/x86-64-v2/libhw.so.1");
}

TEST(LdCacheLookup, CombinedFileLooksUpInTheNewPart) {
  const LdCache cache =
      parse_or_fail(combined_cache({{"libhw.so.1", "/old/libhw.so.1"}}, {hwcaps_run(), kHwcapsNames}));
  EXPECT_EQ(cache.lookup("libhw.so.1", x86_64_v3()), "/d/glibc-hwcaps/x86-64-v3/libhw.so.1");
}

TEST(LdCacheLookup, HwcapsPrioritiesComeFromTheLoadersMerge) {
  // The loader merges the section's names, which ldconfig sorts, with its own sorted list. In an
  // unsorted section, v2 (after v3) is passed over by the merge and gets no priority at all.
  const LdCache cache =
      parse_or_fail(new_cache({surround({
                                   {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v2/libhw.so.1", kX8664, hwcaps_entry(1, 1)},
                                   {"libhw.so.1", "/d/libhw.so.1"},
                               }),
                               {"x86-64-v3", "x86-64-v2"}}));
  EXPECT_EQ(cache.lookup("libhw.so.1", x86_64_v3()), "/d/libhw.so.1");
  const LdCache sorted =
      parse_or_fail(new_cache({surround({
                                   {"libhw.so.1", "/d/glibc-hwcaps/x86-64-v2/libhw.so.1", kX8664, hwcaps_entry(0, 1)},
                                   {"libhw.so.1", "/d/libhw.so.1"},
                               }),
                               {"x86-64-v2", "x86-64-v3"}}));
  EXPECT_EQ(sorted.lookup("libhw.so.1", x86_64_v3()), "/d/glibc-hwcaps/x86-64-v2/libhw.so.1");
}

TEST(LdCacheLookup, FirstOfEquallyRankedHwcapsEntriesWins) {
  const LdCache cache =
      parse_or_fail(new_cache({surround({
                                   {"libhw.so.1", "/d1/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(0, 2)},
                                   {"libhw.so.1", "/d2/glibc-hwcaps/x86-64-v3/libhw.so.1", kX8664, hwcaps_entry(0, 2)},
                               }),
                               {"x86-64-v3"}}));
  EXPECT_EQ(cache.lookup("libhw.so.1", x86_64_v3()), "/d1/glibc-hwcaps/x86-64-v3/libhw.so.1");
}

// ---------------------------------------------------------------------------------------------
// Oracles: the host's cache, ldconfig and the real loader.

constexpr const char* kHostCache = "/etc/ld.so.cache";
constexpr const char* kLoader64 = "/lib64/ld-linux-x86-64.so.2";
constexpr const char* kLoader32 = "/lib/ld-linux.so.2";
// ldconfig lives in /sbin; C locale for its messages.
constexpr const char* kLdconfigEnv = "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C ";

// print_entry's "(libc6,x86-64)" and friends (elf/cache.c).
std::string describe_flags(std::int32_t flags) {
  static const char* const kTypes[] = {"libc4", "ELF", "libc5", "libc6"};
  static const std::map<int, const char*> kAbis = {
      {0x0100, ",64bit"},       {0x0200, ",IA-64"},         {0x0300, ",x86-64"},     {0x0400, ",64bit"},
      {0x0500, ",64bit"},       {0x0600, ",N32"},           {0x0700, ",64bit"},      {0x0800, ",x32"},
      {0x0900, ",hard-float"},  {0x0a00, ",AArch64"},       {0x0b00, ",soft-float"}, {0x0c00, ",nan2008"},
      {0x0d00, ",N32,nan2008"}, {0x0e00, ",64bit,nan2008"}, {0x0f00, ",soft-float"}, {0x1000, ",double-float"}};
  const int type = flags & 0x00ff;
  std::string text = type < 4 ? kTypes[type] : "unknown";
  const int abi = flags & 0xff00;
  if (auto it = kAbis.find(abi); it != kAbis.end()) {
    text += it->second;
  } else if (abi != 0) {
    text += "," + std::to_string(abi);
  }
  return text;
}

// What `ldconfig -p` prints for a new-format (or combined) cache at `path`.
std::string ldconfig_listing(const LdCache& cache, const std::string& path) {
  std::ostringstream out;
  out << cache.entries().size() << " libs found in cache `" << path << "'\n";
  for (const auto& entry : cache.entries()) {
    out << '\t' << entry.key << " (" << describe_flags(entry.flags);
    if (entry.hwcaps_subdir) {
      out << ", hwcap: \"" << *entry.hwcaps_subdir << '"';
    } else if (entry.hwcap != 0) {
      char hex[32];
      std::snprintf(hex, sizeof hex, "%#.16" PRIx64, entry.hwcap);
      out << ", hwcap: " << hex;
    }
    out << ") => " << entry.value << '\n';
  }
  if (cache.generator()) out << "Cache generated by: " << *cache.generator() << '\n';
  return out.str();
}

std::optional<LdCache> host_cache() {
  if (!std::filesystem::exists(kHostCache)) return std::nullopt;
  auto parsed = LdCache::parse(read_file_bytes(kHostCache));
  if (!parsed) return std::nullopt;
  return std::move(parsed).value();
}

TEST(LdCacheHost, ListingIsByteIdenticalToLdconfigP) {
  if (!std::filesystem::exists(kHostCache)) GTEST_SKIP() << "no " << kHostCache;
  const auto parsed = LdCache::parse(read_file_bytes(kHostCache));
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto ldconfig = run_shell(std::string(kLdconfigEnv) + "ldconfig -p");
  ASSERT_EQ(ldconfig.exit_status, 0);
  EXPECT_EQ(ldconfig_listing(*parsed, kHostCache), ldconfig.output);
}

TEST(LdCacheHost, KeysAreSortedDescendingByLibcmp) {
  const auto cache = host_cache();
  if (!cache) GTEST_SKIP() << "no readable " << kHostCache;
  ASSERT_GT(cache->entries().size(), 10u);
  for (std::size_t i = 1; i < cache->entries().size(); ++i)
    EXPECT_GE(cache_libcmp(cache->entries()[i - 1].key, cache->entries()[i].key), 0)
        << cache->entries()[i - 1].key << " before " << cache->entries()[i].key;
}

// How to make the real loader look a name up in its cache, with LD_DEBUG=libs showing the answer.
enum class CacheQuery {
  // `--preload NAME --list PROGRAM`: the lookup a DT_NEEDED gets (step 4 of
  // docs/loader-rules.md#search-order), made after the loader has set up its glibc-hwcaps priorities. Names
  // the loader already has (its own soname, PROGRAM's soname) are never searched.
  Preload,
  // `--list NAME`: the program itself is looked up in the cache only, and so early that the
  // glibc-hwcaps priorities are not set up yet: every glibc-hwcaps entry is skipped.
  Program,
};

std::string cache_query_command(const std::string& loader, CacheQuery query, const std::string& name,
                                const std::string& program) {
  const std::string tail = query == CacheQuery::Preload
                               ? " --preload " + shell_quote(name) + " --list " + shell_quote(program)
                               : " --list " + shell_quote(name);
  return "env -i LD_DEBUG=libs " + shell_quote(loader) + tail + " 2>&1";
}

// The file the loader took from its cache for `name`: the `trying file=` line right after
// `search cache=` in its LD_DEBUG=libs output, or nothing when the cache had no answer.
// `answered` is false if the output does not show that search at all.
struct LoaderPick {
  bool answered = false;
  std::optional<std::string> path;
};

LoaderPick parse_cache_pick(const std::string& output, const std::string& name) {
  LoaderPick pick;
  std::istringstream lines(output);
  std::string line;
  const std::string search = "find library=" + name + " [0]; searching";
  while (std::getline(lines, line) && line.find(search) == std::string::npos) {}
  if (!std::getline(lines, line) || line.find(" search cache=") == std::string::npos) return pick;
  pick.answered = true;
  const std::string trying = "  trying file=";
  if (std::getline(lines, line)) {
    if (const std::size_t at = line.find(trying); at != std::string::npos) pick.path = line.substr(at + trying.size());
  }
  return pick;
}

// ~24 evenly spaced keys with an entry `wanted` accepts, plus the extra names, minus `excluded`.
std::vector<std::string> sample_keys(const LdCache& cache, bool (*wanted)(std::int32_t), std::vector<std::string> extra,
                                     const std::set<std::string>& excluded) {
  std::vector<std::string> keys;
  for (const auto& entry : cache.entries())
    if (wanted(entry.flags) && (keys.empty() || keys.back() != entry.key)) keys.push_back(entry.key);
  std::vector<std::string> sample;
  const std::size_t step = std::max<std::size_t>(1, keys.size() / 24);
  for (std::size_t i = 0; i < keys.size(); i += step)
    if (!excluded.contains(keys[i])) sample.push_back(keys[i]);
  sample.insert(sample.end(), extra.begin(), extra.end());
  return sample;
}

void expect_lookups_match_loader(const LdCache& cache, const LoaderConfig& config, const std::string& loader,
                                 CacheQuery query, const std::string& program, const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    const std::string output = run_shell(cache_query_command(loader, query, key, program)).output;
    const LoaderPick pick = parse_cache_pick(output, key);
    ASSERT_TRUE(pick.answered) << key << ":\n" << output;
    EXPECT_EQ(cache.lookup(key, config), pick.path) << key << ":\n" << output;
  }
}

TEST(LdCacheHost, X8664LookupsMatchTheLoader) {
  const auto cache = host_cache();
  if (!cache || !std::filesystem::exists(kLoader64)) GTEST_SKIP() << "no host cache or loader";
  const auto config = jailbuild::query_loader(kLoader64, default_loader_config(2, 62));
  ASSERT_TRUE(config) << config.error().message;
  // Also: a name only i386 entries have, a name in no entry, and a zero-padded variant.
  std::vector<std::string> extra = {"ld-linux.so.2", "libjailbuild-absent.so.1"};
  if (cache->lookup("libz.so.1", *config)) extra.push_back("libz.so.01");
  const auto keys =
      sample_keys(*cache, [](std::int32_t flags) { return flags == kX8664; }, extra, {config->rtld_soname});
  ASSERT_GE(keys.size(), 20u);
  expect_lookups_match_loader(*cache, *config, kLoader64, CacheQuery::Preload, "/bin/true", keys);
}

// i386 has no glibc-hwcaps, so the program lookup is as good an oracle, and it also searches the
// cache for ld-linux.so.2 itself, whose entries carry FLAG_ELF.
TEST(LdCacheHost, I386LookupsMatchTheLoader) {
  const auto cache = host_cache();
  if (!cache || !std::filesystem::exists(kLoader32)) GTEST_SKIP() << "no host cache or loader";
  const auto config = jailbuild::query_loader(kLoader32, default_loader_config(1, 3));
  // A kernel without IA-32 emulation cannot execute the loader: there is no oracle to ask.
  if (!config && jailbuild::testing::kernel_cannot_execute(config.error()))
    GTEST_SKIP() << "this kernel cannot run the i386 loader: " << config.error().message;
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(config->hwcaps_subdirs.empty());
  const auto keys = sample_keys(*cache, [](std::int32_t flags) { return flags == kLibc6 || flags == kPlainElf; },
                                {"ld-linux.so.2", "ld-linux-x86-64.so.2", "libjailbuild-absent.so.1"}, {});
  expect_lookups_match_loader(*cache, *config, kLoader32, CacheQuery::Program, "", keys);
}

// A cache that the real ldconfig writes for glibc-hwcaps and legacy subdirectories of temporary
// directories, read by us and by the real loader. ldconfig (even with -C) rewrites the host's
// aux-cache and the loader reads only /etc/ld.so.cache, so both run in a private mount namespace
// with a tmpfs over /var/cache/ldconfig and the new cache bind-mounted over /etc/ld.so.cache.
class LdCacheRealLdconfig : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    built_ = build();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::string path(const std::string& relative) { return *dir_ / relative; }

  // Builds the libraries, runs ldconfig and asks the loader; sets `problem_` when it cannot.
  static bool build() {
    if (run_shell("command -v gcc && command -v ldconfig && command -v unshare").exit_status != 0)
      return fail("gcc, ldconfig or unshare is missing");
    std::ofstream(path("probe.c")) << "int jb_probe(void) { return 1; }\n";
    const std::vector<std::pair<std::string, std::string>> libraries = {
        {"hw/libhw.so.1", "libhw.so.1"},
        {"hw/glibc-hwcaps/x86-64-v2/libhw.so.1", "libhw.so.1"},
        {"hw/glibc-hwcaps/x86-64-v3/libhw.so.1", "libhw.so.1"},
        {"lg/liblg.so.1", "liblg.so.1"},
        {"lg/tls/liblg.so.1", "liblg.so.1"},
        {"lg/libpl.so.1", "libpl.so.1"},
        {"lg/x86_64/libpl.so.1", "libpl.so.1"},
        {"lg/haswell/libpl.so.1", "libpl.so.1"},
    };
    for (const auto& [file, soname] : libraries) {
      std::filesystem::create_directories(std::filesystem::path(path(file)).parent_path());
      const auto gcc = run_shell("gcc -shared -fPIC -Wl,-soname," + soname + " -o " + shell_quote(path(file)) + " " +
                                 shell_quote(path("probe.c")) + " 2>&1");
      if (gcc.exit_status != 0) return fail("gcc failed: " + gcc.output);
    }
    std::ofstream(path("ld.so.conf")) << path("hw") << '\n' << path("lg") << '\n';

    std::string script = "set -e; mount -t tmpfs jb-aux-cache /var/cache/ldconfig; ldconfig -X -C " +
                         shell_quote(path("ld.so.cache")) + " -f " + shell_quote(path("ld.so.conf")) +
                         "; mount --bind " + shell_quote(path("ld.so.cache")) + " /etc/ld.so.cache";
    for (const char* name : {"libhw.so.1", "liblg.so.1", "libpl.so.1"}) {
      for (CacheQuery query : {CacheQuery::Preload, CacheQuery::Program})
        script += "; echo " + shell_quote(marker(name, query)) + "; " +
                  cache_query_command(kLoader64, query, name, "/bin/true") + " || true";
    }
    const auto run = run_shell("unshare -m sh -c " + shell_quote(script) + " 2>&1");
    if (run.exit_status != 0) return fail("unshare/ldconfig failed: " + run.output);
    loader_output_ = run.output;
    return true;
  }

  static bool fail(const std::string& why) {
    problem_ = why;
    return false;
  }

  static std::string marker(const std::string& name, CacheQuery query) {
    return "=== " + name + (query == CacheQuery::Preload ? " preload" : " program");
  }

  // The loader's pick for `name`, from its part of the script's output.
  static LoaderPick loader_pick(const std::string& name, CacheQuery query) {
    const std::size_t begin = loader_output_.find(marker(name, query) + "\n");
    if (begin == std::string::npos) return {};
    const std::size_t end = loader_output_.find("=== ", begin + 1);
    return parse_cache_pick(loader_output_.substr(begin, end - begin), name);
  }

  void SetUp() override {
    if (!built_) GTEST_SKIP() << problem_;
    auto parsed = LdCache::parse(read_file_bytes(path("ld.so.cache")));
    ASSERT_TRUE(parsed) << parsed.error().message;
    cache_ = std::move(parsed).value();
    auto queried = jailbuild::query_loader(kLoader64, default_loader_config(2, 62));
    ASSERT_TRUE(queried) << queried.error().message;
    config_ = *queried;
  }

  static inline TempDir* dir_ = nullptr;
  static inline bool built_ = false;
  static inline std::string problem_;
  static inline std::string loader_output_;
  LdCache cache_;
  LoaderConfig config_;
};

TEST_F(LdCacheRealLdconfig, ListingMatchesLdconfigP) {
  const auto ldconfig = run_shell(std::string(kLdconfigEnv) + "ldconfig -p -C " + shell_quote(path("ld.so.cache")));
  ASSERT_EQ(ldconfig.exit_status, 0);
  EXPECT_EQ(ldconfig_listing(cache_, path("ld.so.cache")), ldconfig.output);
  std::set<std::string> subdirs;
  for (const auto& entry : cache_.entries())
    if (entry.hwcaps_subdir) subdirs.insert(*entry.hwcaps_subdir);
  EXPECT_EQ(subdirs, (std::set<std::string>{"x86-64-v2", "x86-64-v3"}));
}

TEST_F(LdCacheRealLdconfig, HwcapsLookupTakesTheBestActiveSubdirectory) {
  // docs/loader-rules.md#cache-lookup on this CPU: the first active subdirectory that has the library, else the
  // plain one.
  std::string expected = path("hw/libhw.so.1");
  for (const std::string& name : config_.hwcaps_subdirs) {
    if (name == "x86-64-v2" || name == "x86-64-v3") {
      expected = path("hw/glibc-hwcaps/" + name + "/libhw.so.1");
      break;
    }
  }
  EXPECT_EQ(cache_.lookup("libhw.so.1", config_), expected);
  const LoaderPick pick = loader_pick("libhw.so.1", CacheQuery::Preload);
  ASSERT_TRUE(pick.answered) << loader_output_;
  EXPECT_EQ(cache_.lookup("libhw.so.1", config_), pick.path);
}

TEST_F(LdCacheRealLdconfig, ProgramLookupSkipsHwcapsEntries) {
  // What `ld.so --list libhw.so.1` gets: the cache without glibc-hwcaps priorities.
  LoaderConfig before_hwcaps_setup = config_;
  before_hwcaps_setup.hwcaps_subdirs.clear();
  EXPECT_EQ(cache_.lookup("libhw.so.1", before_hwcaps_setup), path("hw/libhw.so.1"));
  const LoaderPick pick = loader_pick("libhw.so.1", CacheQuery::Program);
  ASSERT_TRUE(pick.answered) << loader_output_;
  EXPECT_EQ(cache_.lookup("libhw.so.1", before_hwcaps_setup), pick.path);
}

TEST_F(LdCacheRealLdconfig, LegacyLookupsMatchTheLoader) {
  EXPECT_EQ(cache_.lookup("liblg.so.1", config_), path("lg/tls/liblg.so.1"));
  for (const char* name : {"liblg.so.1", "libpl.so.1"}) {
    for (CacheQuery query : {CacheQuery::Preload, CacheQuery::Program}) {
      const LoaderPick pick = loader_pick(name, query);
      ASSERT_TRUE(pick.answered) << loader_output_;
      EXPECT_EQ(cache_.lookup(name, config_), pick.path) << marker(name, query);
    }
  }
}

}  // namespace
