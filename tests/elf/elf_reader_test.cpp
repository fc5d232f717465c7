// Tests of the ELF reader: synthetic images in all four layouts built by ElfImage below, each kind
// of malformed input, MappedFile, and objects compiled with gcc at test time.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "elf/elf.hpp"

namespace {

namespace elf = jailbuild::elf;
namespace fs = std::filesystem;

constexpr std::uint32_t kPtLoad = 1;
constexpr std::uint32_t kPtDynamic = 2;
constexpr std::uint32_t kPtInterp = 3;
constexpr std::uint32_t kPtNote = 4;
constexpr std::uint64_t kDtNull = 0;
constexpr std::uint64_t kDtNeeded = 1;
constexpr std::uint64_t kDtStrtab = 5;
constexpr std::uint64_t kDtStrsz = 10;
constexpr std::uint64_t kDtSoname = 14;
constexpr std::uint64_t kDtRpath = 15;
constexpr std::uint64_t kDtDebug = 21;
constexpr std::uint64_t kDtRunpath = 29;
constexpr std::uint64_t kDtFlags1 = 0x6ffffffb;
constexpr std::uint32_t kNoteDlopen = 0x407c0c0a;
constexpr std::uint32_t kNoteGnuBuildId = 3;
constexpr std::uint64_t kLoadAddress = 0x10000;

std::string hex(std::uint64_t value) {
  std::ostringstream text;
  text << "0x" << std::hex << value;
  return text.str();
}

// ---------------------------------------------------------------------------------------------
// ElfImage: a small ELF writer, independent of the reader, for well-formed and corrupted inputs.

struct NoteSpec {
  std::string owner;
  std::uint32_t type = 0;
  std::string descriptor;  // written with a terminating NUL, which n_descsz counts
};

struct ElfSpec {
  std::uint8_t elf_class = elf::kClass64;
  std::uint8_t data = elf::kDataLsb;
  std::uint8_t osabi = elf::kOsAbiSysv;
  std::uint16_t machine = elf::kMachineX86_64;
  std::optional<std::string> interpreter;
  std::vector<std::string> needed;
  std::optional<std::string> soname;
  std::optional<std::string> rpath;
  std::optional<std::string> runpath;
  std::optional<std::uint64_t> flags_1;
  std::vector<NoteSpec> notes;
  std::uint64_t note_align = 4;
  bool with_strtab = true;  // emit DT_STRTAB and DT_STRSZ
};

// Where the fields live in each class (p_type is at 0 in both).
struct ClassLayout {
  std::size_t word;  // size of an address, offset or Xword
  std::size_t ehdr_size, phdr_size;
  std::size_t e_phoff, e_ehsize, e_phentsize, e_phnum;
  std::size_t p_offset, p_vaddr, p_filesz, p_memsz, p_align;
};
constexpr ClassLayout kElf32Layout{4, 52, 32, 28, 40, 42, 44, 4, 8, 16, 20, 28};
constexpr ClassLayout kElf64Layout{8, 64, 56, 32, 52, 54, 56, 8, 16, 32, 40, 48};

enum class HeaderField { Phoff, Phentsize, Phnum };
enum class SegmentField { Offset, Filesz, Align };
enum class NoteField { Namesz, Descsz };

// One PT_LOAD at kLoadAddress maps the whole file: ELF header, program headers, then PT_INTERP,
// the dynamic string table, PT_DYNAMIC and PT_NOTE contents in that order.
class ElfImage {
 public:
  explicit ElfImage(const ElfSpec& spec)
      : layout_(spec.elf_class == elf::kClass64 ? kElf64Layout : kElf32Layout),
        big_endian_(spec.data == elf::kDataMsb) {
    std::vector<Segment> segments = {{kPtLoad, {}, 0x1000}};
    if (spec.interpreter) segments.push_back({kPtInterp, {}, 1});
    segments.push_back({kPtDynamic, {}, layout_.word});
    if (!spec.notes.empty()) segments.push_back({kPtNote, {}, spec.note_align});

    bytes_.resize(layout_.ehdr_size + segments.size() * layout_.phdr_size);
    write_elf_header(spec, segments.size());
    for (Segment& segment : segments) {
      if (segment.type == kPtInterp) segment.extent = append_text(*spec.interpreter + '\0');
      if (segment.type == kPtDynamic) segment.extent = append_dynamic(spec);
      if (segment.type == kPtNote) segment.extent = append_notes(spec);
    }
    segments.front().extent = {0, bytes_.size()};
    write_program_headers(segments);
  }

  std::span<const std::byte> bytes() const { return bytes_; }
  std::size_t size() const { return bytes_.size(); }
  void truncate(std::size_t size) { bytes_.resize(size); }

  void set_header_field(HeaderField field, std::uint64_t value) {
    switch (field) {
      case HeaderField::Phoff: return put(layout_.e_phoff, layout_.word, value);
      case HeaderField::Phentsize: return put(layout_.e_phentsize, 2, value);
      case HeaderField::Phnum: return put(layout_.e_phnum, 2, value);
    }
  }
  void set_ident_byte(std::size_t index, std::uint8_t value) { bytes_.at(index) = std::byte{value}; }

  // Changes a field of the first program header of `type`.
  void set_segment_field(std::uint32_t type, SegmentField field, std::uint64_t value) {
    const std::size_t phdr = phdr_offsets_.at(type);
    switch (field) {
      case SegmentField::Offset: return put(phdr + layout_.p_offset, layout_.word, value);
      case SegmentField::Filesz: return put(phdr + layout_.p_filesz, layout_.word, value);
      case SegmentField::Align: return put(phdr + layout_.p_align, layout_.word, value);
    }
  }

  // Changes the tag or the value of the first dynamic entry tagged `tag`.
  void set_dynamic_tag(std::uint64_t tag, std::uint64_t new_tag) { put(dynamic_entry(tag), layout_.word, new_tag); }
  void set_dynamic_value(std::uint64_t tag, std::uint64_t value) {
    put(dynamic_entry(tag) + layout_.word, layout_.word, value);
  }

  void set_first_note_field(NoteField field, std::uint32_t value) {
    put(first_note_offset_ + (field == NoteField::Namesz ? 0 : 4), 4, value);
  }

  std::uint64_t string_offset(const std::string& text) const { return string_offsets_.at(text); }
  std::uint64_t dynstr_offset() const { return dynstr_.offset; }
  std::uint64_t dynstr_size() const { return dynstr_.size; }
  std::uint64_t dynamic_size() const { return dynamic_size_; }
  std::uint64_t first_note_offset() const { return first_note_offset_; }

 private:
  struct Extent {
    std::size_t offset = 0;
    std::size_t size = 0;
  };
  struct Segment {
    std::uint32_t type;
    Extent extent;
    std::uint64_t align;
  };

  void put(std::size_t offset, std::size_t width, std::uint64_t value) {
    for (std::size_t i = 0; i < width; ++i) {
      const std::size_t shift = 8 * (big_endian_ ? width - 1 - i : i);
      bytes_.at(offset + i) = std::byte((value >> shift) & 0xff);
    }
  }
  std::size_t append(std::size_t width, std::uint64_t value) {
    const std::size_t offset = bytes_.size();
    bytes_.resize(offset + width);
    put(offset, width, value);
    return offset;
  }
  Extent append_text(const std::string& text) {
    const std::size_t offset = bytes_.size();
    for (const char c : text) bytes_.push_back(std::byte(c));
    return {offset, text.size()};
  }
  void pad_to(std::size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(std::byte{0});
  }

  void write_elf_header(const ElfSpec& spec, std::size_t segment_count) {
    const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', spec.elf_class, spec.data, 1, spec.osabi};
    for (std::size_t i = 0; i < sizeof ident; ++i) bytes_[i] = std::byte{ident[i]};
    put(16, 2, elf::kTypeDyn);
    put(18, 2, spec.machine);
    put(20, 4, 1);  // e_version
    put(layout_.e_phoff, layout_.word, layout_.ehdr_size);
    put(layout_.e_ehsize, 2, layout_.ehdr_size);
    put(layout_.e_phentsize, 2, layout_.phdr_size);
    put(layout_.e_phnum, 2, segment_count);
  }

  void write_program_headers(const std::vector<Segment>& segments) {
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const Segment& segment = segments[i];
      const std::size_t phdr = layout_.ehdr_size + i * layout_.phdr_size;
      phdr_offsets_.emplace(segment.type, phdr);
      put(phdr, 4, segment.type);
      put(phdr + layout_.p_offset, layout_.word, segment.extent.offset);
      put(phdr + layout_.p_vaddr, layout_.word, kLoadAddress + segment.extent.offset);
      put(phdr + layout_.p_filesz, layout_.word, segment.extent.size);
      put(phdr + layout_.p_memsz, layout_.word, segment.extent.size);
      put(phdr + layout_.p_align, layout_.word, segment.align);
    }
  }

  void append_string_table(const ElfSpec& spec) {
    const std::size_t offset = bytes_.size();
    bytes_.push_back(std::byte{0});
    std::vector<std::string> strings = spec.needed;
    for (const auto& text : {spec.soname, spec.rpath, spec.runpath}) {
      if (text) strings.push_back(*text);
    }
    for (const std::string& text : strings) {
      if (string_offsets_.count(text) != 0) continue;
      string_offsets_[text] = bytes_.size() - offset;
      append_text(text + '\0');
    }
    dynstr_ = {offset, bytes_.size() - offset};
  }

  Extent append_dynamic(const ElfSpec& spec) {
    append_string_table(spec);
    pad_to(layout_.word);
    const std::size_t offset = bytes_.size();
    const auto entry = [this](std::uint64_t tag, std::uint64_t value) {
      dynamic_entries_.emplace_back(tag, append(layout_.word, tag));
      append(layout_.word, value);
    };
    if (spec.with_strtab) {
      entry(kDtStrtab, kLoadAddress + dynstr_.offset);
      entry(kDtStrsz, dynstr_.size);
    }
    for (const std::string& name : spec.needed) entry(kDtNeeded, string_offsets_.at(name));
    if (spec.soname) entry(kDtSoname, string_offsets_.at(*spec.soname));
    if (spec.rpath) entry(kDtRpath, string_offsets_.at(*spec.rpath));
    if (spec.runpath) entry(kDtRunpath, string_offsets_.at(*spec.runpath));
    if (spec.flags_1) entry(kDtFlags1, *spec.flags_1);
    entry(kDtNull, 0);
    dynamic_size_ = bytes_.size() - offset;
    return {offset, dynamic_size_};
  }

  Extent append_notes(const ElfSpec& spec) {
    pad_to(spec.note_align);
    const std::size_t offset = bytes_.size();
    first_note_offset_ = offset;
    for (const NoteSpec& note : spec.notes) {
      append(4, note.owner.size() + 1);
      append(4, note.descriptor.size() + 1);
      append(4, note.type);
      append_text(note.owner + '\0');
      pad_to(spec.note_align);
      append_text(note.descriptor + '\0');
      pad_to(spec.note_align);
    }
    return {offset, bytes_.size() - offset};
  }

  std::size_t dynamic_entry(std::uint64_t tag) const {
    for (const auto& [entry_tag, offset] : dynamic_entries_) {
      if (entry_tag == tag) return offset;
    }
    throw std::out_of_range("no dynamic entry with tag " + std::to_string(tag));
  }

  ClassLayout layout_;
  bool big_endian_;
  std::vector<std::byte> bytes_;
  std::map<std::uint32_t, std::size_t> phdr_offsets_;                   // first program header of each type
  std::vector<std::pair<std::uint64_t, std::size_t>> dynamic_entries_;  // tag, entry offset
  std::map<std::string, std::uint64_t> string_offsets_;
  Extent dynstr_;
  std::uint64_t dynamic_size_ = 0;
  std::size_t first_note_offset_ = 0;
};

// Whether `text` contains `part`; says what `text` is otherwise.
testing::AssertionResult has_substring(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << '"' << text << "\" does not contain \"" << part << '"';
}

const std::string kDlopenJson = R"([{"feature":"zstd","soname":["libzstd.so.1"],"priority":"recommended"}])";
const std::string kDlopenJson2 = R"([{"soname":["libz.so.1"]}])";

// A spec with every field the reader extracts set.
ElfSpec full_spec() {
  ElfSpec spec;
  spec.machine = 0x0102;  // distinct bytes, so a byte-order mistake shows
  spec.osabi = elf::kOsAbiGnu;
  spec.interpreter = "/lib/ld-test.so.1";
  spec.needed = {"libfirst.so.1", "libsecond.so.2", "libfirst.so.1"};
  spec.soname = "libfull.so.3";
  spec.rpath = "/opt/rpath:/usr/rpath";
  spec.runpath = "$ORIGIN/../lib";
  spec.flags_1 = elf::kDf1NoDefLib | elf::kDf1Pie;
  spec.notes = {{"GNU", kNoteGnuBuildId, "0123456789abcdefghi"},
                {"FDO", 1, "not a dlopen note"},
                {"FDO", kNoteDlopen, kDlopenJson},
                {"XYZ", kNoteDlopen, "right type, wrong owner"},
                {"FDO", kNoteDlopen, kDlopenJson2}};
  return spec;
}

// The parse error for `bytes`, or "parsed" if there is none.
std::string parse_error(std::span<const std::byte> bytes) {
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(bytes);
  return object ? "parsed" : object.error().message;
}

std::vector<std::byte> to_bytes(std::string_view text) {
  std::vector<std::byte> bytes;
  for (const char c : text) bytes.push_back(std::byte(c));
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Well-formed images in every layout

struct Format {
  std::uint8_t elf_class;
  std::uint8_t data;
  std::uint64_t note_align;
  const char* name;
};

class WellFormedImage : public testing::TestWithParam<Format> {
 protected:
  ElfSpec spec() const {
    ElfSpec spec = full_spec();
    spec.elf_class = GetParam().elf_class;
    spec.data = GetParam().data;
    spec.note_align = GetParam().note_align;
    return spec;
  }
};

TEST_P(WellFormedImage, HeaderFieldsAreDecodedInTheFilesByteOrder) {
  const ElfImage image(spec());
  const jailbuild::Result<elf::ElfHeader> header = elf::parse_header(image.bytes());
  ASSERT_TRUE(header) << header.error().message;
  const bool is64 = GetParam().elf_class == elf::kClass64;
  EXPECT_EQ(header->elf_class, GetParam().elf_class);
  EXPECT_EQ(header->data, GetParam().data);
  EXPECT_EQ(header->ident_version, 1);
  EXPECT_EQ(header->osabi, elf::kOsAbiGnu);
  EXPECT_EQ(header->abi_version, 0);
  EXPECT_TRUE(header->ident_padding_zero);
  EXPECT_EQ(header->type, elf::kTypeDyn);
  EXPECT_EQ(header->machine, 0x0102);
  EXPECT_EQ(header->version, 1u);
  EXPECT_EQ(header->phoff, is64 ? 64u : 52u);
  EXPECT_EQ(header->phentsize, is64 ? 56 : 32);
  EXPECT_EQ(header->phnum, 4);
}

TEST_P(WellFormedImage, ObjectHasEverythingTheLoaderNeeds) {
  const ElfImage image(spec());
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->header.phnum, 4);
  EXPECT_EQ(object->interpreter, "/lib/ld-test.so.1");
  EXPECT_TRUE(object->has_dynamic);
  EXPECT_EQ(object->needed, (std::vector<std::string>{"libfirst.so.1", "libsecond.so.2", "libfirst.so.1"}));
  EXPECT_EQ(object->soname, "libfull.so.3");
  // Both are reported as stored; ignoring DT_RPATH is the resolver's business.
  EXPECT_EQ(object->rpath, "/opt/rpath:/usr/rpath");
  EXPECT_EQ(object->runpath, "$ORIGIN/../lib");
  EXPECT_EQ(object->flags_1, elf::kDf1NoDefLib | elf::kDf1Pie);
  EXPECT_EQ(object->dlopen_notes, (std::vector<std::string>{kDlopenJson, kDlopenJson2}));
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, WellFormedImage,
                         testing::Values(Format{elf::kClass32, elf::kDataLsb, 4, "Elf32Lsb"},
                                         Format{elf::kClass32, elf::kDataMsb, 4, "Elf32Msb"},
                                         Format{elf::kClass64, elf::kDataLsb, 4, "Elf64Lsb"},
                                         Format{elf::kClass64, elf::kDataMsb, 4, "Elf64Msb"},
                                         Format{elf::kClass64, elf::kDataLsb, 8, "Elf64LsbNotesAlignedTo8"},
                                         Format{elf::kClass64, elf::kDataMsb, 8, "Elf64MsbNotesAlignedTo8"}),
                         [](const testing::TestParamInfo<Format>& param_info) {
                           return std::string(param_info.param.name);
                         });

// ---------------------------------------------------------------------------------------------
// ELF header

TEST(ElfHeader, RejectsNonElfInput) {
  EXPECT_EQ(parse_error(to_bytes("#!/bin/sh\necho this is a script\n")), "not an ELF file (bad magic)");
  EXPECT_EQ(parse_error({}), "not an ELF file (bad magic)");
  EXPECT_EQ(parse_error(to_bytes("\x7f"
                                 "EL")),
            "not an ELF file (bad magic)");
}

TEST(ElfHeader, RejectsTruncatedHeaderOfEachClass) {
  ElfImage image64(full_spec());
  image64.truncate(40);
  EXPECT_EQ(parse_error(image64.bytes()), "truncated ELF header: 40 bytes, need 64");

  ElfSpec spec32 = full_spec();
  spec32.elf_class = elf::kClass32;
  ElfImage image32(spec32);
  image32.truncate(51);
  EXPECT_EQ(parse_error(image32.bytes()), "truncated ELF header: 51 bytes, need 52");

  image32.truncate(10);
  EXPECT_EQ(parse_error(image32.bytes()), "truncated ELF header: 10 bytes, need 16");
}

TEST(ElfHeader, RejectsUnknownClassAndByteOrder) {
  ElfImage image(full_spec());
  image.set_ident_byte(4, 3);
  EXPECT_EQ(parse_error(image.bytes()), "unsupported ELF class 3 (expected 1 or 2)");
  image.set_ident_byte(4, elf::kClass64);
  image.set_ident_byte(5, 0);
  EXPECT_EQ(parse_error(image.bytes()), "unsupported ELF data encoding 0 (expected 1 or 2)");
}

TEST(ElfHeader, ParseHeaderNeedsOnlyTheHeader) {
  ElfImage image(full_spec());
  image.truncate(64);
  const jailbuild::Result<elf::ElfHeader> header = elf::parse_header(image.bytes());
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->phnum, 4);
}

TEST(ElfHeader, ReportsNonZeroIdentPadding) {
  ElfImage image(full_spec());
  image.set_ident_byte(15, 1);
  const jailbuild::Result<elf::ElfHeader> header = elf::parse_header(image.bytes());
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_FALSE(header->ident_padding_zero);
}

// ---------------------------------------------------------------------------------------------
// Program headers

TEST(ProgramHeaders, RejectsTableCutShort) {
  ElfImage image(full_spec());
  image.truncate(64 + 56 + 20);
  EXPECT_EQ(parse_error(image.bytes()),
            "program header table runs past end of file: e_phoff 0x40, 4 entries of 56 bytes, file "
            "size 140");
}

TEST(ProgramHeaders, RejectsAbsurdPhnumWithoutAllocatingForIt) {
  ElfImage image(full_spec());
  image.set_header_field(HeaderField::Phnum, 0xffff);
  EXPECT_EQ(parse_error(image.bytes()),
            "program header table runs past end of file: e_phoff 0x40, 65535 entries of 56 bytes, "
            "file size " +
                std::to_string(image.size()));
}

TEST(ProgramHeaders, RejectsAbsurdPhoff) {
  ElfImage image(full_spec());
  image.set_header_field(HeaderField::Phoff, 0xfffffffffffffff0);
  EXPECT_TRUE(has_substring(parse_error(image.bytes()),
                            "program header table runs past end of file: e_phoff 0xfffffffffffffff0"));
}

TEST(ProgramHeaders, RejectsPhentsizeSmallerThanAProgramHeader) {
  ElfImage image64(full_spec());
  image64.set_header_field(HeaderField::Phentsize, 12);
  EXPECT_EQ(parse_error(image64.bytes()), "e_phentsize 12 is too small for ELF64 (need 56)");

  ElfSpec spec32 = full_spec();
  spec32.elf_class = elf::kClass32;
  ElfImage image32(spec32);
  image32.set_header_field(HeaderField::Phentsize, 31);
  EXPECT_EQ(parse_error(image32.bytes()), "e_phentsize 31 is too small for ELF32 (need 32)");
}

TEST(ProgramHeaders, NoProgramHeadersMeansNothingToLoad) {
  ElfImage image(full_spec());
  image.set_header_field(HeaderField::Phnum, 0);
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_FALSE(object->has_dynamic);
  EXPECT_FALSE(object->interpreter);
  EXPECT_TRUE(object->needed.empty());
}

// ---------------------------------------------------------------------------------------------
// PT_INTERP

TEST(Interpreter, RejectsPathWithoutNul) {
  ElfImage image(full_spec());
  const std::string path = *full_spec().interpreter;
  image.set_segment_field(kPtInterp, SegmentField::Filesz, path.size());
  EXPECT_EQ(parse_error(image.bytes()), "PT_INTERP is not NUL-terminated within its p_filesz " + hex(path.size()));
}

TEST(Interpreter, RejectsSegmentPastEndOfFile) {
  ElfImage image(full_spec());
  image.set_segment_field(kPtInterp, SegmentField::Offset, image.size() - 4);
  EXPECT_EQ(parse_error(image.bytes()), "PT_INTERP segment runs past end of file: p_offset " + hex(image.size() - 4) +
                                            ", p_filesz 0x12, file size " + std::to_string(image.size()));
}

// ---------------------------------------------------------------------------------------------
// PT_DYNAMIC

TEST(Dynamic, RejectsAbsurdStrsz) {
  ElfImage image(full_spec());
  image.set_dynamic_value(kDtStrsz, 0xffffffff);
  EXPECT_EQ(parse_error(image.bytes()), "DT_STRSZ 0xffffffff runs past end of file: DT_STRTAB at file offset " +
                                            hex(image.dynstr_offset()) + ", file size " + std::to_string(image.size()));
}

TEST(Dynamic, CapsTheTotalSizeOfNeededNames) {
  ElfSpec spec;
  for (int i = 0; i < 300; ++i) spec.needed.push_back(std::to_string(i) + std::string(4000, 'x'));
  EXPECT_EQ(parse_error(ElfImage(spec).bytes()), "DT_NEEDED names exceed 1048576 bytes in all (300 entries)");
  spec.needed.resize(200);  // 800 KB of names: absurd, but within the cap
  EXPECT_TRUE(elf::parse_object(ElfImage(spec).bytes()));
}

TEST(Dynamic, RejectsStringCutOffByStrsz) {
  ElfImage image(full_spec());
  image.set_dynamic_value(kDtStrsz, image.dynstr_size() - 1);  // drops the last string's NUL
  EXPECT_EQ(parse_error(image.bytes()), "string at offset " + hex(image.string_offset("$ORIGIN/../lib")) +
                                            " in dynamic string table is not NUL-terminated");
}

TEST(Dynamic, RejectsNeededOffsetOutsideStrsz) {
  ElfImage image(full_spec());
  image.set_dynamic_value(kDtNeeded, image.dynstr_size());
  EXPECT_EQ(parse_error(image.bytes()),
            "DT_NEEDED offset " + hex(image.dynstr_size()) + " outside DT_STRSZ " + hex(image.dynstr_size()));
}

TEST(Dynamic, RejectsStrtabOutsideEveryLoadSegment) {
  ElfImage image(full_spec());
  image.set_dynamic_value(kDtStrtab, 0x10);
  EXPECT_EQ(parse_error(image.bytes()), "DT_STRTAB 0x10 not inside any PT_LOAD segment");
  // Past the file-backed part of the only PT_LOAD: the bytes there are not in the file.
  image.set_dynamic_value(kDtStrtab, kLoadAddress + image.size());
  EXPECT_EQ(parse_error(image.bytes()),
            "DT_STRTAB " + hex(kLoadAddress + image.size()) + " not inside any PT_LOAD segment");
}

TEST(Dynamic, RejectsStrtabMappedPastEndOfFile) {
  ElfImage image(full_spec());
  image.set_segment_field(kPtLoad, SegmentField::Offset, 0xfffffffffffff000);
  EXPECT_EQ(parse_error(image.bytes()), "DT_STRTAB " + hex(kLoadAddress + image.dynstr_offset()) +
                                            " maps past end of file: PT_LOAD p_offset 0xfffffffffffff000, file size " +
                                            std::to_string(image.size()));
}

TEST(Dynamic, RejectsSectionWithoutDtNullBeforeSegmentEnd) {
  ElfImage image(full_spec());
  image.set_dynamic_tag(kDtNull, kDtDebug);
  EXPECT_EQ(parse_error(image.bytes()), "dynamic section has no DT_NULL within the " +
                                            std::to_string(image.dynamic_size()) + " bytes of its PT_DYNAMIC segment");
}

TEST(Dynamic, RejectsSegmentPastEndOfFile) {
  ElfImage image(full_spec());
  image.set_segment_field(kPtDynamic, SegmentField::Filesz, 0x100000);
  EXPECT_TRUE(has_substring(parse_error(image.bytes()), "PT_DYNAMIC segment runs past end of file"));
}

TEST(Dynamic, RejectsSegmentWithoutFileContents) {
  ElfImage image(full_spec());
  image.set_segment_field(kPtDynamic, SegmentField::Filesz, 0);
  EXPECT_EQ(parse_error(image.bytes()),
            "PT_DYNAMIC segment has p_filesz 0: no dynamic section in the file "
            "(a debug-info-only file?)");
}

TEST(Dynamic, RejectsStringTagsWithoutStrtab) {
  ElfImage image(full_spec());
  image.set_dynamic_tag(kDtStrtab, kDtDebug);
  EXPECT_EQ(parse_error(image.bytes()), "dynamic section has string-valued tags but no DT_STRTAB");
}

TEST(Dynamic, NeedsNoStrtabWithoutStringTags) {
  ElfSpec spec;
  spec.with_strtab = false;
  spec.flags_1 = elf::kDf1Pie;
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(ElfImage(spec).bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_TRUE(object->has_dynamic);
  EXPECT_EQ(object->flags_1, elf::kDf1Pie);
  EXPECT_TRUE(object->needed.empty());
  EXPECT_FALSE(object->soname);
}

TEST(Dynamic, WithoutStrszTheTableEndsWithItsLoadSegment) {
  ElfImage image(full_spec());
  image.set_dynamic_tag(kDtStrsz, kDtDebug);
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->runpath, "$ORIGIN/../lib");

  image.set_dynamic_value(kDtNeeded, image.size());
  EXPECT_EQ(parse_error(image.bytes()),
            "DT_NEEDED offset " + hex(image.size()) + " outside its PT_LOAD segment (no DT_STRSZ)");
}

TEST(Dynamic, EntriesAfterDtNullAreIgnored) {
  ElfImage image(full_spec());
  image.set_dynamic_tag(kDtRpath, kDtNull);
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->soname, "libfull.so.3");
  EXPECT_FALSE(object->rpath);
  EXPECT_FALSE(object->runpath);
  EXPECT_EQ(object->flags_1, 0u);
}

TEST(Dynamic, LastEntryOfARepeatedTagWinsAsInTheLoader) {
  ElfImage image(full_spec());
  image.set_dynamic_tag(kDtRpath, kDtSoname);  // DT_SONAME, then DT_SONAME with the rpath string
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->soname, "/opt/rpath:/usr/rpath");
  EXPECT_FALSE(object->rpath);
}

TEST(Dynamic, NoDynamicSegmentMeansStatic) {
  ElfImage image(full_spec());
  image.set_header_field(HeaderField::Phnum, 2);  // keep PT_LOAD and PT_INTERP only
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_FALSE(object->has_dynamic);
  EXPECT_EQ(object->interpreter, "/lib/ld-test.so.1");
}

// ---------------------------------------------------------------------------------------------
// PT_NOTE

ElfSpec single_dlopen_note_spec(std::string json) {
  ElfSpec spec;
  spec.notes = {{"FDO", kNoteDlopen, std::move(json)}};
  return spec;
}

TEST(Notes, RejectsAbsurdNamesz) {
  ElfImage image(full_spec());
  image.set_first_note_field(NoteField::Namesz, 0xffffffff);
  EXPECT_EQ(parse_error(image.bytes()), "note at file offset " + hex(image.first_note_offset()) +
                                            ": n_namesz 0xffffffff runs past end of its PT_NOTE segment");
}

TEST(Notes, RejectsAbsurdDescsz) {
  ElfImage image(full_spec());
  image.set_first_note_field(NoteField::Descsz, 0xfffffff0);
  EXPECT_EQ(parse_error(image.bytes()), "note at file offset " + hex(image.first_note_offset()) +
                                            ": n_descsz 0xfffffff0 runs past end of its PT_NOTE segment");
}

TEST(Notes, RejectsTruncatedNoteHeader) {
  ElfImage image(single_dlopen_note_spec("[]"));
  image.set_segment_field(kPtNote, SegmentField::Filesz, 6);
  EXPECT_EQ(parse_error(image.bytes()), "truncated note header at file offset " + hex(image.first_note_offset()) +
                                            ": 6 bytes left in its PT_NOTE segment");
}

TEST(Notes, RejectsUnsupportedAlignment) {
  ElfImage image(single_dlopen_note_spec("[]"));
  image.set_segment_field(kPtNote, SegmentField::Align, 16);
  EXPECT_EQ(parse_error(image.bytes()),
            "PT_NOTE segment at file offset " + hex(image.first_note_offset()) + " has p_align 16, expected 4 or 8");
}

TEST(Notes, RejectsSegmentPastEndOfFile) {
  ElfImage image(single_dlopen_note_spec("[]"));
  image.set_segment_field(kPtNote, SegmentField::Filesz, image.size());
  EXPECT_TRUE(has_substring(parse_error(image.bytes()), "PT_NOTE segment runs past end of file"));
}

TEST(Notes, AcceptsLastNoteWithoutTrailingPadding) {
  ElfImage image(single_dlopen_note_spec("[]"));
  image.set_segment_field(kPtNote, SegmentField::Filesz, 12 + 4 + 3);  // header, "FDO\0", "[]\0"
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->dlopen_notes, std::vector<std::string>{"[]"});
}

TEST(Notes, PayloadIsStoredWithoutTrailingNuls) {
  ElfImage image(single_dlopen_note_spec("[]"));
  image.set_first_note_field(NoteField::Descsz, 4);  // "[]", its NUL and a NUL of padding
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(image.bytes());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->dlopen_notes, std::vector<std::string>{"[]"});
}

// ---------------------------------------------------------------------------------------------
// Files: MappedFile and read_object

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "jailbuild-elf-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, std::span<const std::byte> bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_file(const fs::path& path, const std::string& text) { write_file(path, to_bytes(text)); }

TEST(MappedFile, MapsTheWholeFile) {
  const TempDir dir;
  const ElfImage image(full_spec());
  write_file(dir / "image", image.bytes());
  jailbuild::Result<elf::MappedFile> file = elf::MappedFile::open((dir / "image").string());
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_TRUE(std::equal(file->bytes().begin(), file->bytes().end(), image.bytes().begin(), image.bytes().end()));

  // Moving hands the mapping over; it stays readable.
  elf::MappedFile moved = std::move(*file);
  EXPECT_TRUE(file->bytes().empty());
  ASSERT_EQ(moved.bytes().size(), image.size());
  EXPECT_EQ(moved.bytes()[1], std::byte{'E'});
}

TEST(MappedFile, EmptyFileHasNoBytes) {
  const TempDir dir;
  write_file(dir / "empty", std::string());
  const jailbuild::Result<elf::MappedFile> file = elf::MappedFile::open((dir / "empty").string());
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_TRUE(file->bytes().empty());
}

TEST(MappedFile, ReportsMissingFilesDirectoriesAndFifosByPath) {
  const TempDir dir;
  const std::string missing = (dir / "missing").string();
  EXPECT_EQ(elf::MappedFile::open(missing).error().message, missing + ": No such file or directory");
  EXPECT_EQ(elf::MappedFile::open(dir.path().string()).error().message, dir.path().string() + ": is a directory");
  const std::string fifo = (dir / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(elf::MappedFile::open(fifo).error().message, fifo + ": not a regular file");
}

TEST(MappedFile, FromFdLeavesTheDescriptorOpen) {
  const TempDir dir;
  write_file(dir / "data", std::string("some bytes"));
  const int fd = ::open((dir / "data").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    const jailbuild::Result<elf::MappedFile> file = elf::MappedFile::from_fd(fd, "data");
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_EQ(file->bytes().size(), 10u);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), FD_CLOEXEC);
  ::close(fd);
}

TEST(ReadObject, PrefixesParseErrorsWithThePath) {
  const TempDir dir;
  const std::string script = (dir / "script").string();
  write_file(script, std::string("#!/bin/sh\n"));
  EXPECT_EQ(elf::read_object(script).error().message, script + ": not an ELF file (bad magic)");
  const std::string empty = (dir / "empty").string();
  write_file(empty, std::string());
  EXPECT_EQ(elf::read_object(empty).error().message, empty + ": not an ELF file (bad magic)");
  const std::string missing = (dir / "missing").string();
  EXPECT_EQ(elf::read_object(missing).error().message, missing + ": No such file or directory");
}

TEST(ReadObject, ReadsAnImageFromDisk) {
  const TempDir dir;
  write_file(dir / "libfull.so.3", ElfImage(full_spec()).bytes());
  const jailbuild::Result<elf::ElfObject> object = elf::read_object((dir / "libfull.so.3").string());
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->soname, "libfull.so.3");
}

// ---------------------------------------------------------------------------------------------
// Objects built by gcc and ld

testing::AssertionResult shell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "`" << command << "` exited with status " << status;
}

// The standard output of `command`.
std::string capture(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string output;
  std::array<char, 4096> buffer;
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) output += buffer.data();
  return output;
}

// The interpreter readelf reports, as an oracle independent of our reader.
std::string readelf_interpreter(const fs::path& path) {
  const std::string output = capture("readelf --program-headers '" + path.string() + "'");
  const std::string marker = "[Requesting program interpreter: ";
  const std::size_t start = output.find(marker);
  if (start == std::string::npos) return "";
  const std::size_t begin = start + marker.size();
  return output.substr(begin, output.find(']', begin) - begin);
}

class CompiledObjects : public testing::Test {
 protected:
  // Calls into libc, so that libc.so.6 is needed even when the linker defaults to --as-needed.
  // Declares puts itself: no 32-bit libc headers are needed for -m32.
  void SetUp() override {
    write_file(dir_ / "lib.c", std::string("int puts(const char*);\nint lib_function(void) { return puts(\"x\"); }\n"));
  }

  jailbuild::Result<elf::ElfObject> read(const std::string& name) const {
    return elf::read_object((dir_ / name).string());
  }

  std::string in_dir(const std::string& command) const { return "cd '" + dir_.path().string() + "' && " + command; }

  TempDir dir_;
};

TEST_F(CompiledObjects, SharedLibraryWithSonameAndOldStyleRpath) {
  ASSERT_TRUE(
      shell(in_dir("gcc -shared -fPIC -Wl,-soname,libx.so.1 -Wl,--disable-new-dtags "
                   "-Wl,-rpath,/a:/b -o libx.so lib.c")));
  const jailbuild::Result<elf::ElfObject> object = read("libx.so");
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->header.elf_class, elf::kClass64);
  EXPECT_EQ(object->header.type, elf::kTypeDyn);
  EXPECT_EQ(object->soname, "libx.so.1");
  EXPECT_EQ(object->rpath, "/a:/b");
  EXPECT_FALSE(object->runpath);
  EXPECT_FALSE(object->interpreter);
  EXPECT_EQ(object->needed, std::vector<std::string>{"libc.so.6"});
}

TEST_F(CompiledObjects, SharedLibraryWithRunpath) {
  ASSERT_TRUE(
      shell(in_dir("gcc -shared -fPIC -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib' "
                   "-o liby.so lib.c")));
  const jailbuild::Result<elf::ElfObject> object = read("liby.so");
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->runpath, "$ORIGIN/../lib");
  EXPECT_FALSE(object->rpath);
  EXPECT_FALSE(object->soname);
}

TEST_F(CompiledObjects, PieExecutableWithNeededInLinkOrderAndFlags1) {
  write_file(dir_ / "main.c", std::string("int lib_function(void);\nint main(void) { return lib_function(); }\n"));
  ASSERT_TRUE(shell(in_dir("gcc -shared -fPIC -Wl,-soname,libx.so.1 -o libx.so lib.c")));
  ASSERT_TRUE(
      shell(in_dir("gcc -pie -fPIE -Wl,--no-as-needed -Wl,-z,nodefaultlib -o prog main.c "
                   "-L. -lx -lm")));
  const jailbuild::Result<elf::ElfObject> object = read("prog");
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->needed, (std::vector<std::string>{"libx.so.1", "libm.so.6", "libc.so.6"}));
  const std::string interpreter = readelf_interpreter(dir_ / "prog");
  ASSERT_FALSE(interpreter.empty());
  EXPECT_EQ(object->interpreter, interpreter);
  EXPECT_EQ(object->flags_1 & (elf::kDf1Pie | elf::kDf1NoDefLib), elf::kDf1Pie | elf::kDf1NoDefLib);
}

TEST_F(CompiledObjects, DlopenNoteFromTheFdoMacroLayout) {
  // The layout of systemd's ELF_NOTE_DLOPEN: owner "FDO", type 0x407c0c0a, JSON descriptor.
  write_file(dir_ / "note.c", std::string(R"(
__asm__(".pushsection .note.dlopen,\"a\",@note\n"
        ".balign 4\n"
        ".long 4\n"
        ".long 2f - 1f\n"
        ".long 0x407c0c0a\n"
        ".asciz \"FDO\"\n"
        "1: .asciz \"[{\\\"soname\\\":[\\\"libzstd.so.1\\\"],\\\"priority\\\":\\\"suggested\\\"}]\"\n"
        "2: .balign 4\n"
        ".popsection\n");
int lib_function(void) { return 1; }
)"));
  ASSERT_TRUE(shell(in_dir("gcc -shared -fPIC -o libnote.so note.c")));
  const jailbuild::Result<elf::ElfObject> object = read("libnote.so");
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->dlopen_notes, std::vector<std::string>{R"([{"soname":["libzstd.so.1"],"priority":"suggested"}])"});
}

TEST_F(CompiledObjects, StaticExecutableHasNoDynamicSection) {
  write_file(dir_ / "main.c", std::string("int main(void) { return 0; }\n"));
  ASSERT_TRUE(shell(in_dir("gcc -static -o static main.c")));
  const jailbuild::Result<elf::ElfObject> object = read("static");
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_FALSE(object->has_dynamic);
  EXPECT_FALSE(object->interpreter);
  EXPECT_TRUE(object->needed.empty());
}

TEST_F(CompiledObjects, Elf32SharedLibrary) {
  // -nostdlib: a 32-bit link needs no 32-bit libc this way.
  ASSERT_TRUE(
      shell(in_dir("gcc -m32 -shared -fPIC -nostdlib -Wl,-soname,lib32.so.7 "
                   "-Wl,--enable-new-dtags -Wl,-rpath,/r32 -o lib32.so lib.c")));
  const jailbuild::Result<elf::ElfObject> object = read("lib32.so");
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->header.elf_class, elf::kClass32);
  EXPECT_EQ(object->header.machine, elf::kMachineX86);
  EXPECT_EQ(object->soname, "lib32.so.7");
  EXPECT_EQ(object->runpath, "/r32");
}

TEST_F(CompiledObjects, DebugInfoOnlyFileIsRefused) {
  ASSERT_TRUE(
      shell(in_dir("gcc -shared -fPIC -g -o libx.so lib.c && "
                   "objcopy --only-keep-debug libx.so libx.so.debug")));
  const jailbuild::Result<elf::ElfObject> object = read("libx.so.debug");
  ASSERT_FALSE(object);
  EXPECT_TRUE(has_substring(object.error().message, "PT_DYNAMIC segment has p_filesz 0"));
}

}  // namespace
