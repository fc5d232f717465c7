// The ELF reader of what the loader needs. The on-disk structures and the bounds-checked access
// to them (Stored<T, Order> fields decoded in the file's byte order, contains(), load()) are in
// elf_format.hpp, shared with the dynamic symbol reader; the logic here is written once for all
// four layouts.
//
// Bounds: every range is checked with contains() before it is read, and nothing is allocated in
// proportion to a header field, only to bytes that are actually present.

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

#include "elf_format.hpp"
#include "elf.hpp"

namespace jailbuild::elf {
namespace {

// The on-disk layouts and the bounds-checked access shared with the symbol reader.
using namespace format;

// ---------------------------------------------------------------------------------------------
// ELF header

constexpr std::array<std::byte, 4> kMagic = {std::byte{0x7f}, std::byte{'E'}, std::byte{'L'}, std::byte{'F'}};
enum IdentIndex : std::size_t {
  kEiClass = 4,
  kEiData = 5,
  kEiVersion = 6,
  kEiOsAbi = 7,
  kEiAbiVersion = 8,
  kEiPad = 9,
};

Error truncated_header(std::size_t size, std::size_t needed) {
  return Error{"truncated ELF header: " + dec(size) + " bytes, need " + dec(needed)};
}

template <typename Layout>
ElfHeader decode_header(Bytes bytes) {
  const auto ehdr = load<typename Layout::Ehdr>(bytes, 0);
  const Ident ident = *decode_ident(bytes);  // the caller checked the magic and the size
  ElfHeader header;
  header.elf_class = ident.elf_class;
  header.data = ident.data;
  header.ident_version = ident.version;
  header.osabi = ident.osabi;
  header.abi_version = ident.abi_version;
  header.ident_padding_zero = ident.padding_zero;
  header.type = ehdr.type;
  header.machine = ehdr.machine;
  header.version = ehdr.version;
  header.phoff = ehdr.phoff;
  header.phentsize = ehdr.phentsize;
  header.phnum = ehdr.phnum;
  return header;
}

// ---------------------------------------------------------------------------------------------
// PT_INTERP

// The kernel uses the first PT_INTERP, as a C string.
Result<void> read_interpreter(Bytes file, std::span<const Segment> segments, ElfObject& object) {
  const auto interp =
      std::find_if(segments.begin(), segments.end(), [](const Segment& s) { return s.type == kPtInterp; });
  if (interp == segments.end()) return {};
  const Result<Bytes> contents = segment_contents(file, *interp, "PT_INTERP");
  if (!contents) return contents.error();
  const std::optional<std::string_view> path = c_string(*contents);
  if (!path) { return Error{"PT_INTERP is not NUL-terminated within its p_filesz " + hex(interp->filesz)}; }
  object.interpreter = std::string(*path);
  return {};
}

// ---------------------------------------------------------------------------------------------
// PT_DYNAMIC

constexpr std::uint64_t kDtNeeded = 1;
constexpr std::uint64_t kDtSoname = 14;
constexpr std::uint64_t kDtRpath = 15;
constexpr std::uint64_t kDtRunpath = 29;
constexpr std::uint64_t kDtFlags1 = 0x6ffffffb;

// The values of the dynamic tags the loader consults, before string offsets are resolved.
// Like glibc's _dl_dynamic_info, the last entry of a tag wins; DT_NEEDED entries are a list.
struct DynamicTags {
  std::vector<std::uint64_t> needed;
  std::optional<std::uint64_t> soname, rpath, runpath, strtab, strsz;
  std::uint64_t flags_1 = 0;

  void record(std::uint64_t tag, std::uint64_t value) {
    switch (tag) {
      case kDtNeeded: needed.push_back(value); break;
      case kDtSoname: soname = value; break;
      case kDtRpath: rpath = value; break;
      case kDtRunpath: runpath = value; break;
      case kDtStrtab: strtab = value; break;
      case kDtStrsz: strsz = value; break;
      case kDtFlags1: flags_1 = value; break;
      default: break;
    }
  }

  bool has_string_tags() const { return !needed.empty() || soname || rpath || runpath; }
};

Result<void> resolve_string(const StringTable& strings, std::optional<std::uint64_t> offset, std::string_view tag_name,
                            std::optional<std::string>& out) {
  if (!offset) return {};
  Result<std::string> text = strings.string_at(*offset, tag_name);
  if (!text) return text.error();
  out = std::move(*text);
  return {};
}

// Each entry gets its own copy of its string (ElfObject holds std::string): N DT_NEEDED entries
// naming one long string cost N copies of it, so a crafted file could ask for memory quadratic in
// its size (a 256 KiB file, 1 GiB). Real objects need a few KiB of names at most (libLLVM: 10
// names), so the total is capped far above any real file instead of capping single names.
constexpr std::uint64_t kMaxNeededBytes = 1 << 20;

Result<void> resolve_strings(const DynamicTags& tags, const StringTable& strings, ElfObject& object) {
  std::uint64_t needed_bytes = 0;
  for (const std::uint64_t offset : tags.needed) {
    Result<std::string> name = strings.string_at(offset, "DT_NEEDED");
    if (!name) return name.error();
    needed_bytes += name->size();
    if (needed_bytes > kMaxNeededBytes) {
      return Error{"DT_NEEDED names exceed " + dec(kMaxNeededBytes) + " bytes in all (" + dec(tags.needed.size()) +
                   " entries)"};
    }
    object.needed.push_back(std::move(*name));
  }
  TRY(resolve_string(strings, tags.soname, "DT_SONAME", object.soname));
  TRY(resolve_string(strings, tags.rpath, "DT_RPATH", object.rpath));
  return resolve_string(strings, tags.runpath, "DT_RUNPATH", object.runpath);
}

template <typename Layout>
Result<void> read_dynamic(Bytes file, std::span<const Segment> segments, ElfObject& object) {
  const Segment* dynamic = find_dynamic_segment(segments);
  if (dynamic == nullptr) return {};
  object.has_dynamic = true;
  // objcopy --only-keep-debug leaves such a segment; glibc refuses the object ("object file has
  // no dynamic section").
  if (dynamic->filesz == 0) {
    return Error{
        "PT_DYNAMIC segment has p_filesz 0: no dynamic section in the file "
        "(a debug-info-only file?)"};
  }
  const Result<Bytes> contents = segment_contents(file, *dynamic, "PT_DYNAMIC");
  if (!contents) return contents.error();
  const Result<DynamicTags> tags = read_dynamic_tags<Layout, DynamicTags>(*contents);
  if (!tags) return tags.error();
  object.flags_1 = tags->flags_1;
  if (!tags->has_string_tags()) return {};

  if (!tags->strtab) return Error{"dynamic section has string-valued tags but no DT_STRTAB"};
  const Result<StringTable> strings = StringTable::locate(file, segments, *tags->strtab, tags->strsz);
  if (!strings) return strings.error();
  return resolve_strings(*tags, *strings, object);
}

// ---------------------------------------------------------------------------------------------
// PT_NOTE

constexpr std::uint32_t kNoteDlopenType = 0x407c0c0a;
constexpr std::string_view kNoteDlopenOwner = "FDO";

struct Note {
  std::uint32_t type = 0;
  std::string_view owner;  // n_namesz bytes, up to the first NUL
  Bytes descriptor;
};

std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

// Like readelf: notes in a segment aligned to 8 are padded to 8 (the layout of GNU property
// notes); a segment aligned to 4 or less holds notes padded to 4.
Result<std::uint64_t> note_alignment(const Segment& segment) {
  if (segment.align <= 4) return std::uint64_t{4};
  if (segment.align == 8) return std::uint64_t{8};
  return Error{"PT_NOTE segment at file offset " + hex(segment.offset) + " has p_align " + dec(segment.align) +
               ", expected 4 or 8"};
}

// Walks the notes of one PT_NOTE segment.
template <std::endian Order>
class NoteCursor {
 public:
  NoteCursor(Bytes contents, std::uint64_t file_offset, std::uint64_t alignment)
      : contents_(contents), file_offset_(file_offset), alignment_(alignment) {}

  bool done() const { return position_ >= contents_.size(); }

  Result<Note> next() {
    const std::uint64_t note_offset = file_offset_ + position_;
    if (!contains(contents_, position_, sizeof(NoteHeader<Order>))) {
      return Error{"truncated note header at file offset " + hex(note_offset) + ": " +
                   dec(contents_.size() - position_) + " bytes left in its PT_NOTE segment"};
    }
    const auto header = load<NoteHeader<Order>>(contents_, position_);
    const std::uint64_t name_offset = position_ + sizeof header;
    if (!contains(contents_, name_offset, header.namesz)) {
      return past_segment_end(note_offset, "n_namesz", header.namesz);
    }
    // name_offset + namesz is within contents_, so aligning it cannot overflow.
    const std::uint64_t descriptor_offset = align_up(name_offset + header.namesz, alignment_);
    if (!contains(contents_, descriptor_offset, header.descsz)) {
      return past_segment_end(note_offset, "n_descsz", header.descsz);
    }
    // The padding after the last descriptor may be missing; done() then ends the walk.
    position_ = align_up(descriptor_offset + header.descsz, alignment_);

    const Bytes name = contents_.subspan(name_offset, header.namesz);
    return Note{header.type, c_string(name).value_or(as_chars(name)),
                contents_.subspan(descriptor_offset, header.descsz)};
  }

 private:
  static Error past_segment_end(std::uint64_t note_offset, std::string_view field, std::uint32_t value) {
    return Error{"note at file offset " + hex(note_offset) + ": " + std::string(field) + " " + hex(value) +
                 " runs past end of its PT_NOTE segment"};
  }

  Bytes contents_;
  std::uint64_t file_offset_;
  std::uint64_t alignment_;
  std::uint64_t position_ = 0;
};

// FDO .note.dlopen (https://systemd.io/ELF_DLOPEN_METADATA/): the descriptor is a JSON string,
// NUL-terminated and padded with NULs.
std::optional<std::string> dlopen_payload(const Note& note) {
  if (note.type != kNoteDlopenType || note.owner != kNoteDlopenOwner) return std::nullopt;
  std::string_view json = as_chars(note.descriptor);
  while (!json.empty() && json.back() == '\0') json.remove_suffix(1);
  return std::string(json);
}

// NT_GNU_PROPERTY_TYPE_0: an array of {u32 type, u32 size, data padded to the class's word}. The
// x86 ISA level a file needs is what glibc checks against the CPU after loading it.
constexpr std::uint32_t kNoteGnuPropertyType = 5;
constexpr std::string_view kNoteGnuOwner = "GNU";
constexpr std::uint32_t kGnuPropertyX86IsaNeeded = 0xc0008002;

template <std::endian Order>
std::uint32_t decode_u32(Bytes bytes, std::uint64_t offset) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  if constexpr (Order != std::endian::native) value = byteswap(value);
  return value;
}

template <std::endian Order>
std::optional<std::uint32_t> x86_isa_needed(const Note& note, std::uint64_t word_size) {
  if (note.type != kNoteGnuPropertyType || note.owner != kNoteGnuOwner) return std::nullopt;
  const Bytes properties = note.descriptor;
  for (std::uint64_t at = 0; contains(properties, at, 8);) {
    const std::uint32_t type = decode_u32<Order>(properties, at);
    const std::uint32_t size = decode_u32<Order>(properties, at + 4);
    if (!contains(properties, at + 8, size)) break;  // glibc stops at a malformed property too
    if (type == kGnuPropertyX86IsaNeeded && size == 4) return decode_u32<Order>(properties, at + 8);
    at = align_up(at + 8 + size, word_size);
  }
  return std::nullopt;
}

template <std::endian Order>
Result<void> read_notes(Bytes file, std::span<const Segment> segments, std::uint64_t word_size, ElfObject& object) {
  for (const Segment& segment : segments) {
    if (segment.type != kPtNote) continue;
    const Result<Bytes> contents = segment_contents(file, segment, "PT_NOTE");
    if (!contents) return contents.error();
    const Result<std::uint64_t> alignment = note_alignment(segment);
    if (!alignment) return alignment.error();
    for (NoteCursor<Order> cursor(*contents, segment.offset, *alignment); !cursor.done();) {
      const Result<Note> note = cursor.next();
      if (!note) return note.error();
      if (std::optional<std::string> payload = dlopen_payload(*note)) {
        object.dlopen_notes.push_back(std::move(*payload));
      } else if (std::optional<std::uint32_t> isa = x86_isa_needed<Order>(*note, word_size)) {
        object.x86_isa_needed = *isa;
      }
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------

template <typename Layout>
Result<ElfObject> parse_object_as(Bytes file, const ElfHeader& header) {
  const Result<std::vector<Segment>> segments = read_segments<Layout>(file, header);
  if (!segments) return segments.error();
  ElfObject object;
  object.header = header;
  TRY(read_interpreter(file, *segments, object));
  TRY(read_dynamic<Layout>(file, *segments, object));
  const std::uint64_t word_size = header.elf_class == kClass64 ? 8 : 4;
  TRY(read_notes<Layout::kOrder>(file, *segments, word_size, object));
  return object;
}

}  // namespace

bool has_magic(std::span<const std::byte> bytes) {
  return bytes.size() >= kMagic.size() && std::equal(kMagic.begin(), kMagic.end(), bytes.begin());
}

std::optional<Ident> decode_ident(std::span<const std::byte> bytes) {
  if (!has_magic(bytes) || bytes.size() < kIdentSize) return std::nullopt;
  Ident ident;
  ident.elf_class = std::to_integer<std::uint8_t>(bytes[kEiClass]);
  ident.data = std::to_integer<std::uint8_t>(bytes[kEiData]);
  ident.version = std::to_integer<std::uint8_t>(bytes[kEiVersion]);
  ident.osabi = std::to_integer<std::uint8_t>(bytes[kEiOsAbi]);
  ident.abi_version = std::to_integer<std::uint8_t>(bytes[kEiAbiVersion]);
  ident.padding_zero =
      std::all_of(bytes.begin() + kEiPad, bytes.begin() + kIdentSize, [](std::byte b) { return b == std::byte{0}; });
  return ident;
}

Result<ElfHeader> parse_header(std::span<const std::byte> bytes) {
  if (!has_magic(bytes)) return Error{"not an ELF file (bad magic)"};
  if (bytes.size() < kIdentSize) return truncated_header(bytes.size(), kIdentSize);
  const Ident ident = *decode_ident(bytes);
  const auto elf_class = ident.elf_class;
  const auto data = ident.data;
  if (elf_class != kClass32 && elf_class != kClass64) {
    return Error{"unsupported ELF class " + dec(elf_class) + " (expected 1 or 2)"};
  }
  if (data != kDataLsb && data != kDataMsb) {
    return Error{"unsupported ELF data encoding " + dec(data) + " (expected 1 or 2)"};
  }
  return visit_layout(elf_class, data, [bytes](auto layout) -> Result<ElfHeader> {
    using Layout = decltype(layout);
    constexpr std::size_t kHeaderSize = sizeof(typename Layout::Ehdr);
    if (bytes.size() < kHeaderSize) return truncated_header(bytes.size(), kHeaderSize);
    return decode_header<Layout>(bytes);
  });
}

Result<ElfObject> parse_object(std::span<const std::byte> bytes) {
  const Result<ElfHeader> header = parse_header(bytes);
  if (!header) return header.error();
  return visit_layout(header->elf_class, header->data,
                      [&](auto layout) { return parse_object_as<decltype(layout)>(bytes, *header); });
}

Result<ElfObject> read_object(const std::string& path) {
  const Result<MappedFile> file = MappedFile::open(path);
  if (!file) return file.error();  // already names the path
  Result<ElfObject> object = parse_object(file->bytes());
  if (!object) return Error{path + ": " + object.error().message};
  return object;
}

}  // namespace jailbuild::elf
