// The root's own ld.so.cache: what write_ld_cache produces must read back as the same entries and
// give the same answers, and ldconfig must read it (the loader's own reader is checked on it by the
// jail tests, which run the loader inside roots carrying such a cache).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "elf/elf.hpp"
#include "resolve/ld_cache.hpp"

namespace jailbuild {
namespace {

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

LdCache host_cache() {
  auto file = elf::MappedFile::open("/etc/ld.so.cache");
  if (!file) return {};
  auto parsed = LdCache::parse(file->bytes());
  return parsed ? std::move(*parsed) : LdCache{};
}

TEST(WriteLdCache, HostCacheRoundTripsWithTheSameAnswers) {
  const LdCache host = host_cache();
  ASSERT_GT(host.entries().size(), 10u) << "this machine's /etc/ld.so.cache is needed";
  const std::string bytes = write_ld_cache(host.entries(), "jailbuild test");
  auto reread = LdCache::parse(as_bytes(bytes));
  ASSERT_TRUE(reread) << reread.error().message;
  ASSERT_EQ(reread->entries().size(), host.entries().size());
  for (std::size_t i = 0; i < host.entries().size(); ++i) {
    EXPECT_EQ(reread->entries()[i].key, host.entries()[i].key);
    EXPECT_EQ(reread->entries()[i].value, host.entries()[i].value);
    EXPECT_EQ(reread->entries()[i].flags, host.entries()[i].flags);
  }
  EXPECT_EQ(reread->generator(), "jailbuild test");
  const LoaderConfig config = default_loader_config();
  for (const CacheEntry& entry : host.entries())
    EXPECT_EQ(reread->lookup(entry.key, config), host.lookup(entry.key, config)) << entry.key;
}

TEST(WriteLdCache, SortsForTheLoadersBinarySearchAndKeepsHwcapsEntries) {
  std::vector<CacheEntry> entries = {
      {0x0303, "liba.so.1", "/opt/a/liba.so.1", 0, std::nullopt},
      {0x0303, "libhw.so.1", "/opt/h/glibc-hwcaps/x86-64-v2/libhw.so.1", (std::uint64_t{1} << 32), "x86-64-v2"},
      {0x0303, "libz.so.10", "/opt/z/libz.so.10", 0, std::nullopt},
      {0x0303, "libz.so.9", "/opt/z/libz.so.9", 0, std::nullopt},
      {0x0303, "libhw.so.1", "/opt/h/libhw.so.1", 0, std::nullopt},
  };
  auto cache = LdCache::parse(as_bytes(write_ld_cache(entries, "g")));
  ASSERT_TRUE(cache) << cache.error().message;
  std::vector<std::string> keys;
  for (const CacheEntry& entry : cache->entries()) keys.push_back(entry.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"libz.so.10", "libz.so.9", "libhw.so.1", "libhw.so.1", "liba.so.1"}));
  LoaderConfig config = default_loader_config();
  config.hwcaps_subdirs = {"x86-64-v3", "x86-64-v2"};
  config.isa_level_mask = 0x3;
  EXPECT_EQ(cache->lookup("libz.so.9", config), "/opt/z/libz.so.9");
  EXPECT_EQ(cache->lookup("liba.so.1", config), "/opt/a/liba.so.1");
  EXPECT_EQ(cache->lookup("libhw.so.1", config), "/opt/h/glibc-hwcaps/x86-64-v2/libhw.so.1");
  config.hwcaps_subdirs = {};
  EXPECT_EQ(cache->lookup("libhw.so.1", config), "/opt/h/libhw.so.1");
}

TEST(WriteLdCache, LdconfigReadsIt) {
  const std::string path = ::testing::TempDir() + "jailbuild-written-ld.so.cache";
  std::ofstream(path, std::ios::binary) << write_ld_cache({{0x0303, "libq.so.3", "/opt/q/libq.so.3", 0, std::nullopt}},
                                                          "g");
  FILE* pipe = ::popen(("/sbin/ldconfig -p -C " + path + " 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  for (int c; (c = std::fgetc(pipe)) != EOF;) output.push_back(static_cast<char>(c));
  EXPECT_EQ(::pclose(pipe), 0) << output;
  EXPECT_NE(output.find("1 libs found in cache"), std::string::npos) << output;
  EXPECT_NE(output.find("libq.so.3 (libc6,x86-64) => /opt/q/libq.so.3"), std::string::npos) << output;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace jailbuild
