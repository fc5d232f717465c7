// The ELF on-disk formats and the bounds-checked access to them, shared by the parts of jb_elf:
// the reader of what the loader needs (elf_reader.cpp) and the reader of the dynamic symbol table
// (dynamic_symbols.cpp). Private to jb_elf.
//
// On-disk structures are declared once per class (ELF32, ELF64) with fields of type
// Stored<T, Order>: byte arrays that decode in the file's byte order when read. A structure is
// copied out of the file with memcpy, so neither alignment nor host byte order matters (the
// approach of mold's elf.h). Decoding yields host-order values; the logic after it is written once.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "elf.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild::elf::format {

using Bytes = std::span<const std::byte>;

// ---------------------------------------------------------------------------------------------
// On-disk layouts

template <typename T>
T byteswap(T value) {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (sizeof(T) == 2) {
    return __builtin_bswap16(value);
  } else if constexpr (sizeof(T) == 4) {
    return __builtin_bswap32(value);
  } else {
    static_assert(sizeof(T) == 8);
    return __builtin_bswap64(value);
  }
}

// An unsigned integer as stored in the file, in byte order `Order`; alignment 1.
template <typename T, std::endian Order>
class Stored {
 public:
  operator T() const {
    T value;
    std::memcpy(&value, bytes_.data(), sizeof value);
    if constexpr (Order != std::endian::native) value = byteswap(value);
    return value;
  }

 private:
  std::array<std::byte, sizeof(T)> bytes_;
};

template <std::endian Order>
struct NoteHeader {  // Elf32_Nhdr and Elf64_Nhdr are the same
  Stored<std::uint32_t, Order> namesz, descsz, type;
};

// Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn, Elf32_Sym, Elf32_Rel, Elf32_Rela. d_tag is signed in the
// gABI; read unsigned, since every tag the readers look for is positive.
template <std::endian Order>
struct Elf32 {
  static constexpr std::endian kOrder = Order;
  static constexpr std::string_view kName = "ELF32";
  using Half = Stored<std::uint16_t, Order>;
  using Word = Stored<std::uint32_t, Order>;

  struct Ehdr {
    std::array<std::byte, kIdentSize> ident;
    Half type, machine;
    Word version, entry, phoff, shoff, flags;
    Half ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
  };
  struct Phdr {
    Word type, offset, vaddr, paddr, filesz, memsz, flags, align;
  };
  struct Dyn {
    Word tag, val;
  };
  struct Sym {
    Word name, value, size;
    std::uint8_t info, other;
    Half shndx;
  };
  struct Rel {
    Word offset, info;
  };
  struct Rela {
    Word offset, info, addend;
  };
  static constexpr unsigned kRelocationSymbolShift = 8;  // ELF32_R_SYM
};

// Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn, Elf64_Sym, Elf64_Rel, Elf64_Rela (p_flags and st_value move
// to keep the 8-byte fields aligned).
template <std::endian Order>
struct Elf64 {
  static constexpr std::endian kOrder = Order;
  static constexpr std::string_view kName = "ELF64";
  using Half = Stored<std::uint16_t, Order>;
  using Word = Stored<std::uint32_t, Order>;
  using Xword = Stored<std::uint64_t, Order>;

  struct Ehdr {
    std::array<std::byte, kIdentSize> ident;
    Half type, machine;
    Word version;
    Xword entry, phoff, shoff;
    Word flags;
    Half ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
  };
  struct Phdr {
    Word type, flags;
    Xword offset, vaddr, paddr, filesz, memsz, align;
  };
  struct Dyn {
    Xword tag, val;
  };
  struct Sym {
    Word name;
    std::uint8_t info, other;
    Half shndx;
    Xword value, size;
  };
  struct Rel {
    Xword offset, info;
  };
  struct Rela {
    Xword offset, info, addend;
  };
  static constexpr unsigned kRelocationSymbolShift = 32;  // ELF64_R_SYM
};

// Elf32_Verneed and Elf64_Verneed, Elf32_Vernaux and Elf64_Vernaux: the same in both classes.
template <std::endian Order>
struct Verneed {
  Stored<std::uint16_t, Order> version, count;
  Stored<std::uint32_t, Order> file, aux, next;
};
template <std::endian Order>
struct Vernaux {
  Stored<std::uint32_t, Order> hash;
  Stored<std::uint16_t, Order> flags, other;
  Stored<std::uint32_t, Order> name, next;
};

static_assert(sizeof(Elf32<std::endian::big>::Ehdr) == 52);
static_assert(sizeof(Elf32<std::endian::big>::Phdr) == 32);
static_assert(sizeof(Elf32<std::endian::big>::Dyn) == 8);
static_assert(sizeof(Elf64<std::endian::big>::Ehdr) == 64);
static_assert(sizeof(Elf64<std::endian::big>::Phdr) == 56);
static_assert(sizeof(Elf32<std::endian::big>::Sym) == 16);
static_assert(sizeof(Elf32<std::endian::big>::Rel) == 8);
static_assert(sizeof(Elf32<std::endian::big>::Rela) == 12);
static_assert(sizeof(Elf64<std::endian::big>::Dyn) == 16);
static_assert(sizeof(Elf64<std::endian::big>::Sym) == 24);
static_assert(sizeof(Elf64<std::endian::big>::Rel) == 16);
static_assert(sizeof(Elf64<std::endian::big>::Rela) == 24);
static_assert(sizeof(Verneed<std::endian::big>) == 16);
static_assert(sizeof(Vernaux<std::endian::big>) == 16);
static_assert(sizeof(NoteHeader<std::endian::big>) == 12);

// Calls `visit` with an (empty) layout object for a class and byte order that parse_header has
// validated.
template <typename Visitor>
auto visit_layout(std::uint8_t elf_class, std::uint8_t data, Visitor&& visit) {
  constexpr auto kLittle = std::endian::little;
  constexpr auto kBig = std::endian::big;
  if (elf_class == kClass32) { return data == kDataLsb ? visit(Elf32<kLittle>{}) : visit(Elf32<kBig>{}); }
  return data == kDataLsb ? visit(Elf64<kLittle>{}) : visit(Elf64<kBig>{});
}

// ---------------------------------------------------------------------------------------------
// Bounds-checked access and error text

// Whether [offset, offset + size) lies within `bytes`; cannot overflow.
inline bool contains(Bytes bytes, std::uint64_t offset, std::uint64_t size) {
  return offset <= bytes.size() && size <= bytes.size() - offset;
}

// Copies a T out of `bytes` at `offset`; the caller has checked the range with contains().
template <typename T>
T load(Bytes bytes, std::uint64_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

inline std::string_view as_chars(Bytes bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

// The text before the first NUL, or nullopt if `bytes` has no NUL.
inline std::optional<std::string_view> c_string(Bytes bytes) {
  if (bytes.empty()) return std::nullopt;  // memchr must not see a null pointer
  const void* nul = std::memchr(bytes.data(), 0, bytes.size());
  if (nul == nullptr) return std::nullopt;
  return as_chars(bytes.first(static_cast<std::size_t>(static_cast<const std::byte*>(nul) - bytes.data())));
}

inline std::string hex(std::uint64_t value) {
  std::array<char, 2 + 16> text{'0', 'x'};
  const auto end = std::to_chars(text.data() + 2, text.data() + text.size(), value, 16).ptr;
  return std::string(text.data(), end);
}

inline std::string dec(std::uint64_t value) { return std::to_string(value); }

// ---------------------------------------------------------------------------------------------
// Program headers

inline constexpr std::uint32_t kPtLoad = 1;
inline constexpr std::uint32_t kPtDynamic = 2;
inline constexpr std::uint32_t kPtInterp = 3;
inline constexpr std::uint32_t kPtNote = 4;

// The fields of a program header this reader uses, in host byte order.
struct Segment {
  std::uint32_t type = 0;
  std::uint64_t offset = 0;
  std::uint64_t vaddr = 0;
  std::uint64_t filesz = 0;
  std::uint64_t align = 0;
};

template <typename Layout>
Result<std::vector<Segment>> read_segments(Bytes file, const ElfHeader& header) {
  using Phdr = typename Layout::Phdr;
  if (header.phnum == 0) return std::vector<Segment>();
  if (header.phentsize < sizeof(Phdr)) {
    return Error{"e_phentsize " + dec(header.phentsize) + " is too small for " + std::string(Layout::kName) +
                 " (need " + dec(sizeof(Phdr)) + ")"};
  }
  // Both factors are 16-bit, so the product cannot overflow.
  if (!contains(file, header.phoff, std::uint64_t{header.phnum} * header.phentsize)) {
    return Error{"program header table runs past end of file: e_phoff " + hex(header.phoff) + ", " + dec(header.phnum) +
                 " entries of " + dec(header.phentsize) + " bytes, file size " + dec(file.size())};
  }
  std::vector<Segment> segments;
  segments.reserve(header.phnum);
  for (std::uint64_t index = 0; index < header.phnum; ++index) {
    const auto phdr = load<Phdr>(file, header.phoff + index * header.phentsize);
    segments.push_back({phdr.type, phdr.offset, phdr.vaddr, phdr.filesz, phdr.align});
  }
  return segments;
}

inline Result<Bytes> segment_contents(Bytes file, const Segment& segment, std::string_view type_name) {
  if (!contains(file, segment.offset, segment.filesz)) {
    return Error{std::string(type_name) + " segment runs past end of file: p_offset " + hex(segment.offset) +
                 ", p_filesz " + hex(segment.filesz) + ", file size " + dec(file.size())};
  }
  return file.subspan(segment.offset, segment.filesz);
}

// The first PT_LOAD segment whose file-backed part holds `address`, or nullptr.
inline const Segment* find_load_segment(std::span<const Segment> segments, std::uint64_t address) {
  const auto it = std::find_if(segments.begin(), segments.end(), [address](const Segment& s) {
    return s.type == kPtLoad && address >= s.vaddr && address - s.vaddr < s.filesz;
  });
  return it == segments.end() ? nullptr : &*it;
}

// ---------------------------------------------------------------------------------------------
// PT_DYNAMIC

inline constexpr std::uint64_t kDtNull = 0;
inline constexpr std::uint64_t kDtStrtab = 5;
inline constexpr std::uint64_t kDtStrsz = 10;

// Reads the entries before DT_NULL into a `Tags` (each reader records the tags it needs with
// `record(tag, value)`). The loader stops at DT_NULL, so a dynamic section without one within the
// bytes of its segment is malformed.
template <typename Layout, typename Tags>
Result<Tags> read_dynamic_tags(Bytes contents) {
  using Dyn = typename Layout::Dyn;
  Tags tags;
  for (std::uint64_t offset = 0; contains(contents, offset, sizeof(Dyn)); offset += sizeof(Dyn)) {
    const auto entry = load<Dyn>(contents, offset);
    if (entry.tag == kDtNull) return tags;
    tags.record(entry.tag, entry.val);
  }
  return Error{"dynamic section has no DT_NULL within the " + dec(contents.size()) +
               " bytes of its PT_DYNAMIC segment"};
}

// A table the dynamic section gives by its address (DT_STRTAB, DT_SYMTAB, ...), located through
// the PT_LOAD segment that maps it: its offset in the file and the file's bytes from there to the
// end of that segment's file-backed part (what the loader maps of it; the table cannot be longer).
struct MappedTable {
  std::uint64_t file_offset = 0;
  Bytes to_segment_end;
};

inline Result<MappedTable> map_address(Bytes file, std::span<const Segment> segments, std::uint64_t address,
                                       std::string_view tag_name) {
  const Segment* load_segment = find_load_segment(segments, address);
  if (load_segment == nullptr) {
    return Error{std::string(tag_name) + " " + hex(address) + " not inside any PT_LOAD segment"};
  }
  const std::uint64_t offset_in_segment = address - load_segment->vaddr;
  std::uint64_t offset = 0;
  if (__builtin_add_overflow(load_segment->offset, offset_in_segment, &offset) || offset > file.size()) {
    return Error{std::string(tag_name) + " " + hex(address) + " maps past end of file: PT_LOAD p_offset " +
                 hex(load_segment->offset) + ", file size " + dec(file.size())};
  }
  const Bytes rest = file.subspan(offset);
  // find_load_segment chose a segment with offset_in_segment < p_filesz.
  const std::uint64_t in_segment = load_segment->filesz - offset_in_segment;
  return MappedTable{offset, rest.first(std::min<std::uint64_t>(rest.size(), in_segment))};
}

// The dynamic string table, located through the PT_LOAD segment that maps DT_STRTAB.
class StringTable {
 public:
  static Result<StringTable> locate(Bytes file, std::span<const Segment> segments, std::uint64_t address,
                                    std::optional<std::uint64_t> size) {
    const MappedTable mapped = TRY(map_address(file, segments, address, "DT_STRTAB"));
    const std::uint64_t offset = mapped.file_offset;
    if (size) {
      if (!contains(file, offset, *size)) {
        return Error{"DT_STRSZ " + hex(*size) + " runs past end of file: DT_STRTAB at file offset " + hex(offset) +
                     ", file size " + dec(file.size())};
      }
      return StringTable(file.subspan(offset, *size), size);
    }
    // Without DT_STRSZ (the loader never needs it) the table can reach the end of the segment.
    return StringTable(mapped.to_segment_end, size);
  }

  Result<std::string> string_at(std::uint64_t offset, std::string_view tag_name) const {
    if (offset >= table_.size()) {
      return Error{
          std::string(tag_name) + " offset " + hex(offset) + " outside " +
          (declared_size_ ? "DT_STRSZ " + hex(*declared_size_) : std::string("its PT_LOAD segment (no DT_STRSZ)"))};
    }
    const std::optional<std::string_view> text = c_string(table_.subspan(offset));
    if (!text) { return Error{"string at offset " + hex(offset) + " in dynamic string table is not NUL-terminated"}; }
    return std::string(*text);
  }

 private:
  StringTable(Bytes table, std::optional<std::uint64_t> declared_size) : table_(table), declared_size_(declared_size) {}

  Bytes table_;
  std::optional<std::uint64_t> declared_size_;  // DT_STRSZ, if the table has one
};

// glibc's _dl_map_object_from_fd keeps the last PT_DYNAMIC.
inline const Segment* find_dynamic_segment(std::span<const Segment> segments) {
  const auto it =
      std::find_if(segments.rbegin(), segments.rend(), [](const Segment& s) { return s.type == kPtDynamic; });
  return it == segments.rend() ? nullptr : &*it;
}

}  // namespace jailbuild::elf::format
