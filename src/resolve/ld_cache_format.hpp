// The ld.so.cache file format, defined once for its reader (ld_cache.cpp) and its writer
// (ld_cache_writer.cpp): glibc 2.36's sysdeps/generic/dl-cache.h, as the loader and ldconfig use it.
// Numbers are little-endian on x86, the only byte order jailbuild reads or writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jailbuild::ld_cache_format {

inline constexpr std::string_view kNewMagic = "glibc-ld.so.cache1.1";  // 20 bytes, no NUL
inline constexpr std::string_view kOldMagic = "ld.so-1.7.0";

inline constexpr std::size_t kNewHeaderSize = 48;  // struct cache_file_new
inline constexpr std::size_t kNewEntrySize = 24;   // struct file_entry_new
inline constexpr std::size_t kOldHeaderSize = 16;  // struct cache_file
inline constexpr std::size_t kOldEntrySize = 12;   // struct file_entry

// struct cache_file_new: magic and version, then these fields.
inline constexpr std::size_t kNlibsOffset = 20;
inline constexpr std::size_t kStringsLengthOffset = 24;
inline constexpr std::size_t kEndianFlagsOffset = 28;
inline constexpr std::size_t kExtensionOffsetOffset = 32;
// struct cache_file: magic, then nlibs.
inline constexpr std::size_t kOldNlibsOffset = 12;

inline constexpr std::uint8_t kEndianMask = 3;
inline constexpr std::uint8_t kEndianLittle = 2;

// The extension directory: magic, count, then sections of tag, flags, offset, size.
inline constexpr std::uint32_t kExtensionMagic = 0xEAA42174;  // (uint32_t) -358342284
inline constexpr std::size_t kExtensionHeaderSize = 8;
inline constexpr std::size_t kExtensionSectionSize = 16;
inline constexpr std::uint32_t kTagGenerator = 0;
inline constexpr std::uint32_t kTagGlibcHwcaps = 1;

inline constexpr std::int32_t kFlagElf = 1;  // FLAG_ELF

// The hwcap word of a new-format entry (sysdeps/generic/dl-cache.h, sysdeps/x86/dl-procinfo.h):
// with the extension bit, its low 32 bits index the glibc-hwcaps subdirectory names.
inline constexpr std::uint64_t kHwcapExtensionBit = std::uint64_t{1} << 62;
inline constexpr std::uint64_t kHwcapsIndexMask = 0xffffffff;
inline constexpr std::uint64_t kIsaLevelMask = 0x3ff;  // bits 32-41 of an extension entry
inline constexpr std::uint64_t kPlatformBits = std::uint64_t{0xf} << 48;
inline constexpr std::uint64_t kTlsBit = std::uint64_t{1} << 63;

}  // namespace jailbuild::ld_cache_format
