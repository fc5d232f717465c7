// A small, bounds-checked ELF reader for the resolver's hot path. It reads only the ELF header,
// the program headers, PT_INTERP, the dynamic segment (and the string table it points to) and
// PT_NOTE segments; never section contents or symbols. LIEF gives the deep view in tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild::elf {

// e_ident values and constants the resolver and the loader's checks need.
inline constexpr std::uint8_t kClass32 = 1;
inline constexpr std::uint8_t kClass64 = 2;
inline constexpr std::uint8_t kDataLsb = 1;
inline constexpr std::uint8_t kDataMsb = 2;
inline constexpr std::uint8_t kOsAbiSysv = 0;
inline constexpr std::uint8_t kOsAbiGnu = 3;
inline constexpr std::uint16_t kTypeExec = 2;
inline constexpr std::uint16_t kTypeDyn = 3;
inline constexpr std::uint16_t kMachineX86 = 3;
inline constexpr std::uint16_t kMachineX86_64 = 62;
inline constexpr std::uint64_t kDf1NoDefLib = 0x800;
inline constexpr std::uint64_t kDf1Pie = 0x08000000;

// e_ident, the 16 bytes that open every ELF file, decoded: the ELF reader, the loader's checks
// (resolve/file_probe) and the planner's look at a file all read them here.
inline constexpr std::size_t kIdentSize = 16;
struct Ident {
  std::uint8_t elf_class = 0;    // EI_CLASS
  std::uint8_t data = 0;         // EI_DATA
  std::uint8_t version = 0;      // EI_VERSION
  std::uint8_t osabi = 0;        // EI_OSABI
  std::uint8_t abi_version = 0;  // EI_ABIVERSION
  bool padding_zero = true;      // e_ident[EI_PAD..15] all zero (the loader requires it)
};

// Whether `bytes` begin with the ELF magic, "\x7fELF".
bool has_magic(std::span<const std::byte> bytes);

// The identification at the start of `bytes`; nullopt without the magic or with fewer than
// kIdentSize bytes. Nothing in it is checked: the callers' rules differ (the loader's are strict).
std::optional<Ident> decode_ident(std::span<const std::byte> bytes);

// The fixed part of the file: e_ident and the ELF header, in host byte order.
// Parsing it needs only the first 52 (ELF32) or 64 (ELF64) bytes.
struct ElfHeader {
  std::uint8_t elf_class = 0;      // EI_CLASS
  std::uint8_t data = 0;           // EI_DATA
  std::uint8_t ident_version = 0;  // EI_VERSION
  std::uint8_t osabi = 0;          // EI_OSABI
  std::uint8_t abi_version = 0;    // EI_ABIVERSION
  bool ident_padding_zero = true;  // e_ident[EI_PAD..15] all zero (the loader requires it)
  std::uint16_t type = 0;
  std::uint16_t machine = 0;
  std::uint32_t version = 0;
  std::uint64_t phoff = 0;
  std::uint16_t phentsize = 0;
  std::uint16_t phnum = 0;
};

// What the resolver needs of one ELF object.
struct ElfObject {
  ElfHeader header;
  std::optional<std::string> interpreter;  // PT_INTERP, without the trailing NUL
  bool has_dynamic = false;                // a PT_DYNAMIC segment exists
  std::vector<std::string> needed;         // DT_NEEDED, in dynamic-section order
  std::optional<std::string> soname;       // DT_SONAME
  std::optional<std::string> rpath;        // DT_RPATH (as stored; the loader ignores it if runpath is set)
  std::optional<std::string> runpath;      // DT_RUNPATH
  std::uint64_t flags_1 = 0;               // DT_FLAGS_1
  std::vector<std::string> dlopen_notes;   // JSON payloads of FDO .note.dlopen notes (type 0x407c0c0a)
  std::uint32_t x86_isa_needed = 0;        // GNU_PROPERTY_X86_ISA_1_NEEDED bits; 0: none stated
  // The names of the symbols it imports (dynamic_symbols.hpp), in table order, read from the same
  // bytes only by a caller that asks (the resolver, for the runtime rules: parse_object does not):
  // nullopt when not asked, or when the table is malformed (imports_error then says why).
  std::optional<std::vector<std::string>> imported_names;
  std::string imports_error;
};

// Parses the ELF header from the start of `bytes`. Fails on non-ELF input or fewer bytes than the
// header of its class. Does not look at the rest of the file.
Result<ElfHeader> parse_header(std::span<const std::byte> bytes);

// Parses the whole object: header, program headers, PT_INTERP, dynamic segment, notes.
// Every offset, size and string is checked against `bytes`; errors say what is wrong.
Result<ElfObject> parse_object(std::span<const std::byte> bytes);

// A read-only private mapping of a whole file. Empty files are represented with no mapping.
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  // Maps the file behind an already open descriptor; the descriptor stays the caller's.
  static Result<MappedFile> from_fd(int fd, const std::string& path_for_errors);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  MappedFile(const std::byte* data, std::size_t size) : data_(data), size_(size) {}
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Maps `path` and parses it; errors are prefixed with the path.
Result<ElfObject> read_object(const std::string& path);

}  // namespace jailbuild::elf
