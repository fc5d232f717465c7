// The parameters of one glibc dynamic loader that decide where it looks for libraries.
// They are read from the target loader (`ld.so --list-diagnostics`), with built-in defaults
// for Debian 12 x86_64 when the loader cannot be asked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild {

struct LoaderConfig {
  std::string rtld_path = "/lib64/ld-linux-x86-64.so.2";  // path.rtld: the name ld.so calls itself
  std::string rtld_soname = "ld-linux-x86-64.so.2";       // dso.ld
  std::uint8_t elf_class = 2;                             // ELFCLASS64
  std::uint16_t machine = 62;                             // EM_X86_64
  // Searched in this order at step (5); each ends with '/' as in the loader.
  std::vector<std::string> system_dirs = {"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/", "/usr/lib/"};
  std::string lib = "lib/x86_64-linux-gnu";        // $LIB
  std::optional<std::string> platform = "x86_64";  // $PLATFORM; nullopt when unknown
  // Active glibc-hwcaps subdirectory names, highest priority first (e.g. x86-64-v3, x86-64-v2).
  std::vector<std::string> hwcaps_subdirs = {"x86-64-v3", "x86-64-v2"};
  // Legacy hwcap bit names by bit number, and the loader's hwcap word and mask.
  std::vector<std::string> legacy_hwcap_names = {"sse2", "x86_64", "avx512_1"};
  std::uint64_t hwcap = 0x2;
  std::uint64_t hwcap_mask = 0x6;
  // dl_string_platform: the cache's platform bit number (48 + index), or nullopt when the platform
  // is not one the cache knows (x86_64), in which case every cache entry with platform bits is skipped.
  std::optional<unsigned> platform_bit;
  std::uint32_t isa_level_mask = 0x7;  // bit n set: x86-64 ISA level v(n+1) supported (x86.cpu_features.isa_1)
  std::int32_t cache_flags = 0x0303;   // the only ld.so.cache entry flags this loader accepts
  // ...besides FLAG_ELF (1) when set: the generic _dl_cache_check_flags (i386 and every machine
  // without its own dl-cache.h) also takes those, e.g. ldconfig's `ld-linux.so.2 (ELF)` entries.
  bool cache_accepts_plain_elf = false;
  std::string cache_path = "/etc/ld.so.cache";
  std::string preload_path = "/etc/ld.so.preload";

  // Legacy subdirectory prefixes tried in every search directory after the glibc-hwcaps ones,
  // in the loader's order, ending with "" (the directory itself). See docs/loader-rules.md#hwcaps-subdirectories.
  std::vector<std::string> legacy_subdirs() const;
  // Every prefix tried in a search directory: "glibc-hwcaps/NAME/" for each active name, then legacy.
  std::vector<std::string> search_subdirs() const;
};

// Built-in parameters of a glibc loader with the given class and machine (x86_64 and i386 known).
LoaderConfig default_loader_config(std::uint8_t elf_class = 2, std::uint16_t machine = 62);

// Applies the `ld.so --list-diagnostics` output to `base`. Pure: no process or file access.
Result<LoaderConfig> parse_diagnostics(std::string_view text, LoaderConfig base);

// Runs `LOADER --list-diagnostics` (the loader itself, never a target program) and parses it.
// `loader_path` is a host path. Errors say why the loader could not be asked.
Result<LoaderConfig> query_loader(const std::string& loader_path, LoaderConfig base);

}  // namespace jailbuild
