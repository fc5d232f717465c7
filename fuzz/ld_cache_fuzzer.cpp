// libFuzzer entry point for the ld.so.cache reader: a root's cache may have been written by a
// hostile jailed process. Whatever the bytes, parse and every lookup must return without crashing
// or undefined behaviour, and a parsed cache must survive being written back out.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "resolve/ld_cache.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const auto cache = jailbuild::LdCache::parse(bytes);
  if (!cache) return 0;
  static const jailbuild::LoaderConfig x86_64 = jailbuild::default_loader_config(2, 62);
  static const jailbuild::LoaderConfig i386 = jailbuild::default_loader_config(1, 3);
  for (const char* name : {"libc.so.6", "libz.so.1", "libzz.so.01", "ld-linux.so.2", ""}) {
    (void)cache->lookup(name, x86_64);
    (void)cache->lookup(name, i386);
  }
  // Every key of a small cache; the first ones of a large one (a host-sized input is slow under the
  // sanitizers, and the search is the same for every key).
  const std::size_t keys = std::min<std::size_t>(cache->entries().size(), 64);
  for (std::size_t i = 0; i < keys; ++i) (void)cache->lookup(cache->entries()[i].key, x86_64);
  // What we read, we can write: the root's own cache is written from entries like these.
  const std::string written = jailbuild::write_ld_cache(cache->entries(), "fuzz");
  const auto reread = jailbuild::LdCache::parse(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(written.data()), written.size()));
  if (!reread || reread->entries().size() != cache->entries().size()) __builtin_trap();
  return 0;
}
