// Tests of the imported-symbol reader: objects linked by gcc and ld at test time, whose imports are
// known from their source (ELF32 and ELF64, each hash style), then the same objects corrupted the
// ways a hostile file could be: each must give an error or a bounded, correct result.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "elf/dynamic_symbols.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace elf = jailbuild::elf;
using jailbuild::testing::TempDir;
using Imports = std::vector<elf::ImportedSymbol>;

testing::AssertionResult shell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "`" << command << "` exited with status " << status;
}

testing::AssertionResult has_substring(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << '"' << text << "\" does not contain \"" << part << '"';
}

std::span<const std::byte> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

Imports sorted(Imports imports) {
  std::sort(imports.begin(), imports.end(), [](const elf::ImportedSymbol& a, const elf::ImportedSymbol& b) {
    return std::tie(a.name, a.version, a.weak) < std::tie(b.name, b.version, b.weak);
  });
  return imports;
}

std::string describe(const jailbuild::Result<Imports>& imports) {
  if (!imports) return "error: " + imports.error().message;
  std::string text;
  for (const elf::ImportedSymbol& symbol : *imports) {
    text += symbol.name + (symbol.version ? "@" + *symbol.version : "") + (symbol.weak ? " (weak)" : "") + "; ";
  }
  return text;
}

// libdep.so defines dep_v1@DEP_1 and dep_v2@DEP_2; libuser.so calls both, a weak hook nobody
// defines and free_symbol (left undefined, so unversioned), and exports user_function unless
// built with -fvisibility=hidden.
constexpr const char* kDepSource = "int dep_v1(void) { return 1; }\nint dep_v2(void) { return 2; }\n";
constexpr const char* kDepVersions = "DEP_1 { global: dep_v1; local: *; };\nDEP_2 { global: dep_v2; } DEP_1;\n";
constexpr const char* kUserSource = R"(
int dep_v1(void);
int dep_v2(void);
int free_symbol(int);
__attribute__((weak)) int weak_hook(void);
int user_function(void) {
  return dep_v1() + dep_v2() + free_symbol(3) + (weak_hook ? weak_hook() : 0);
}
static int hidden_entry(void) __attribute__((constructor, used));
static int hidden_entry(void) { return dep_v1() + free_symbol(4) + (weak_hook ? weak_hook() : 0); }
)";

const Imports kUserImports = sorted({{"dep_v1", "DEP_1", false},
                                     {"dep_v2", "DEP_2", false},
                                     {"free_symbol", std::nullopt, false},
                                     {"weak_hook", std::nullopt, true}});

// Builds libdep.so and libuser.so in `dir` with `flags` (-m32/-m64, the hash style), and libuser.so
// also with `user_flags`; -nostdlib needs no libc of the class.
testing::AssertionResult build_user_library(const TempDir& dir, const std::string& flags,
                                            const std::string& user_flags = "") {
  jailbuild::testing::write_file(dir / "dep.c", kDepSource);
  jailbuild::testing::write_file(dir / "dep.map", kDepVersions);
  jailbuild::testing::write_file(dir / "user.c", kUserSource);
  return shell("cd '" + dir.path() + "' && gcc " + flags +
               " -shared -fPIC -nostdlib -Wl,--version-script=dep.map -o libdep.so dep.c && gcc " + flags + " " +
               user_flags + " -shared -fPIC -nostdlib -o libuser.so user.c -L. -ldep");
}

// ---------------------------------------------------------------------------------------------
// Well-formed objects

// The flags of both libraries, and those of libuser.so alone.
class LinkedLibrary : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(LinkedLibrary, ImportsAreTheUndefinedSymbolsOfTheSourceWithTheirVersions) {
  const TempDir dir("jailbuild-dynsym-test");
  ASSERT_TRUE(build_user_library(dir, std::get<0>(GetParam()), std::get<1>(GetParam())));
  if (!std::get<1>(GetParam()).empty()) {
    // Hidden: nothing exported, so nothing for DT_GNU_HASH to hash (readelf as the witness).
    ASSERT_TRUE(shell("! readelf --dyn-syms -W '" + dir / "libuser.so" + "' | grep -q user_function"));
  }
  const jailbuild::Result<Imports> imports = elf::read_imported_symbols(dir / "libuser.so");
  ASSERT_TRUE(imports) << imports.error().message;
  EXPECT_EQ(sorted(*imports), kUserImports) << describe(imports);
  // libdep.so defines everything it has.
  const jailbuild::Result<Imports> dep_imports = elf::read_imported_symbols(dir / "libdep.so");
  ASSERT_TRUE(dep_imports) << dep_imports.error().message;
  EXPECT_TRUE(dep_imports->empty()) << describe(dep_imports);
}

// -fvisibility=hidden: libuser.so exports nothing, DT_GNU_HASH hashes no symbol, and the count
// comes from the relocations.
INSTANTIATE_TEST_SUITE_P(ClassAndHashStyle, LinkedLibrary,
                         testing::Combine(testing::Values("-m64 -Wl,--hash-style=gnu", "-m64 -Wl,--hash-style=sysv",
                                                          "-m64 -Wl,--hash-style=both", "-m32 -Wl,--hash-style=gnu",
                                                          "-m32 -Wl,--hash-style=sysv"),
                                          testing::Values("", "-fvisibility=hidden")));

TEST(ImportedSymbols, StaticExecutableImportsNothing) {
  const TempDir dir("jailbuild-dynsym-test");
  jailbuild::testing::write_file(dir / "main.c", "int main(void) { return 0; }\n");
  ASSERT_TRUE(shell("cd '" + dir.path() + "' && gcc -static -o static main.c"));
  const jailbuild::Result<Imports> imports = elf::read_imported_symbols(dir / "static");
  ASSERT_TRUE(imports) << imports.error().message;
  EXPECT_TRUE(imports->empty()) << describe(imports);
}

TEST(ImportedSymbols, ErrorsNameThePath) {
  const TempDir dir("jailbuild-dynsym-test");
  jailbuild::testing::write_file(dir / "text", "not an ELF file\n");
  const jailbuild::Result<Imports> imports = elf::read_imported_symbols(dir / "text");
  ASSERT_FALSE(imports);
  EXPECT_TRUE(has_substring(imports.error().message, dir / "text"));
  EXPECT_TRUE(has_substring(imports.error().message, "not an ELF file"));
}

// ---------------------------------------------------------------------------------------------
// Corrupted objects. Elf64File finds the structures to corrupt in an ELF64 little-endian file
// on its own, independently of the reader.

class Elf64File {
 public:
  explicit Elf64File(std::string bytes) : bytes_(std::move(bytes)) {}

  const std::string& bytes() const { return bytes_; }
  std::span<const std::byte> span() const { return as_bytes(bytes_); }

  template <typename T>
  T get(std::size_t offset) const {
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof value);
    return value;
  }
  template <typename T>
  void put(std::size_t offset, T value) {
    std::memcpy(bytes_.data() + offset, &value, sizeof value);
  }

  // The file offset of the value of the first dynamic entry tagged `tag`.
  std::size_t dynamic_value(std::uint64_t tag) const {
    const std::size_t dynamic = get<std::uint64_t>(program_header(2) + 8);
    for (std::size_t entry = dynamic;; entry += 16) {
      const auto entry_tag = get<std::uint64_t>(entry);
      if (entry_tag == tag) return entry + 8;
      if (entry_tag == 0) throw std::runtime_error("no dynamic tag " + std::to_string(tag));
    }
  }
  std::uint64_t dynamic(std::uint64_t tag) const { return get<std::uint64_t>(dynamic_value(tag)); }
  void set_dynamic(std::uint64_t tag, std::uint64_t value) { put(dynamic_value(tag), value); }

  // The file offset of address `vaddr`, and the end of the file part of the PT_LOAD holding it.
  std::size_t offset_of(std::uint64_t vaddr) const { return std::get<0>(locate(vaddr)); }
  std::size_t segment_end_of(std::uint64_t vaddr) const { return std::get<1>(locate(vaddr)); }

 private:
  // The first program header of `type`.
  std::size_t program_header(std::uint32_t type) const {
    const auto phoff = get<std::uint64_t>(32);
    const auto phnum = get<std::uint16_t>(56);
    for (std::size_t index = 0; index < phnum; ++index) {
      if (get<std::uint32_t>(phoff + index * 56) == type) return phoff + index * 56;
    }
    throw std::runtime_error("no program header of type " + std::to_string(type));
  }

  std::tuple<std::size_t, std::size_t> locate(std::uint64_t vaddr) const {
    const auto phoff = get<std::uint64_t>(32);
    for (std::size_t index = 0; index < get<std::uint16_t>(56); ++index) {
      const std::size_t header = phoff + index * 56;
      const auto start = get<std::uint64_t>(header + 16);
      const auto filesz = get<std::uint64_t>(header + 32);
      if (get<std::uint32_t>(header) == 1 && vaddr >= start && vaddr - start < filesz) {
        const auto offset = get<std::uint64_t>(header + 8);
        return {offset + (vaddr - start), offset + filesz};
      }
    }
    throw std::runtime_error("address not in any PT_LOAD");
  }

  std::string bytes_;
};

constexpr std::uint64_t kDtHash = 4;
constexpr std::uint64_t kDtStrsz = 10;
constexpr std::uint64_t kDtSymtab = 6;
constexpr std::uint64_t kDtSyment = 11;
constexpr std::uint64_t kDtGnuHash = 0x6ffffef5;
constexpr std::uint64_t kDtVersym = 0x6ffffff0;
constexpr std::uint64_t kDtVerneednum = 0x6fffffff;

class CorruptedLibrary : public testing::Test {
 protected:
  // libuser.so as ELF64 with the given hash style.
  Elf64File build(const std::string& hash_style, const std::string& user_flags = "") {
    if (!build_user_library(dir_, "-m64 -Wl,--hash-style=" + hash_style, user_flags)) {
      throw std::runtime_error("build failed");
    }
    Elf64File file(jailbuild::testing::read_file(dir_ / "libuser.so"));
    // The uncorrupted file is read correctly, so that each corruption is what makes a difference.
    const jailbuild::Result<Imports> imports = elf::imported_symbols(file.span());
    if (!imports || sorted(*imports) != kUserImports) throw std::runtime_error("unexpected: " + describe(imports));
    return file;
  }

  static std::string error_of(const Elf64File& file) {
    const jailbuild::Result<Imports> imports = elf::imported_symbols(file.span());
    return imports ? "no error, read: " + describe(imports) : imports.error().message;
  }

  TempDir dir_{"jailbuild-dynsym-test"};
};

// Every prefix of the file gives an error or exactly the imports of the whole file: what lies past
// the dynamic tables (code, section headers) is never read.
TEST_F(CorruptedLibrary, EveryTruncationGivesAnErrorOrTheWholeAnswer) {
  for (const char* style : {"gnu", "sysv"}) {
    const Elf64File file = build(style);
    std::size_t errors = 0, answers = 0;
    for (std::size_t size = 0; size < file.bytes().size(); ++size) {
      const jailbuild::Result<Imports> imports = elf::imported_symbols(file.span().first(size));
      if (!imports) {
        ++errors;
      } else {
        ++answers;
        ASSERT_EQ(sorted(*imports), kUserImports) << style << ", cut to " << size << " bytes: " << describe(imports);
      }
    }
    // The tables are near the start, the section headers at the end.
    EXPECT_GT(errors, 100u) << style;
    EXPECT_GT(answers, 100u) << style;
  }
}

TEST_F(CorruptedLibrary, SectionHeadersAreNeverRead) {
  Elf64File file = build("gnu");
  const auto shoff = file.get<std::uint64_t>(40);
  for (std::size_t offset = shoff; offset < file.bytes().size(); ++offset) file.put<std::uint8_t>(offset, 0xa5);
  file.put<std::uint64_t>(40, 0xffffffffffff0000);  // e_shoff
  file.put<std::uint16_t>(60, 0xffff);              // e_shnum
  const jailbuild::Result<Imports> imports = elf::imported_symbols(file.span());
  ASSERT_TRUE(imports) << imports.error().message;
  EXPECT_EQ(sorted(*imports), kUserImports);
}

TEST_F(CorruptedLibrary, SymtabOutsideEveryLoadSegment) {
  Elf64File file = build("gnu");
  file.set_dynamic(kDtSymtab, 0x7fff00000000);
  EXPECT_TRUE(has_substring(error_of(file), "DT_SYMTAB 0x7fff00000000 not inside any PT_LOAD segment"));
}

TEST_F(CorruptedLibrary, SymtabNearTheEndOfItsSegment) {
  Elf64File file = build("gnu");
  const std::uint64_t symtab = file.dynamic(kDtSymtab);
  // Moved so that the table would run past the file part of its segment.
  file.set_dynamic(kDtSymtab, symtab + (file.segment_end_of(symtab) - file.offset_of(symtab)) - 24);
  EXPECT_TRUE(has_substring(error_of(file), "run past the end of its PT_LOAD segment"));
}

TEST_F(CorruptedLibrary, HugeNchainIsRefusedWithoutReadingOrAllocatingForIt) {
  Elf64File file = build("sysv");
  file.put<std::uint32_t>(file.offset_of(file.dynamic(kDtHash)) + 4, 0xffffffff);
  EXPECT_TRUE(has_substring(error_of(file), "DT_SYMTAB"));
  EXPECT_TRUE(has_substring(error_of(file), "4294967295 entries of 24 bytes run past the end"));
}

TEST_F(CorruptedLibrary, GnuHashChainWithoutEndMarkerStopsAtTheSegmentEnd) {
  Elf64File file = build("gnu");
  const std::size_t table = file.offset_of(file.dynamic(kDtGnuHash));
  const auto buckets = file.get<std::uint32_t>(table);
  const auto bloom_words = file.get<std::uint32_t>(table + 8);
  const std::size_t chains = table + 16 + bloom_words * 8 + buckets * 4;
  // No word from the chains to the end of the segment ends a chain.
  for (std::size_t offset = chains; offset + 4 <= file.segment_end_of(file.dynamic(kDtGnuHash)); offset += 4) {
    file.put<std::uint32_t>(offset, file.get<std::uint32_t>(offset) & ~1u);
  }
  EXPECT_TRUE(has_substring(error_of(file), "has no end marker before the end of its PT_LOAD segment"));
}

TEST_F(CorruptedLibrary, GnuHashWithHugeBucketCount) {
  Elf64File file = build("gnu");
  file.put<std::uint32_t>(file.offset_of(file.dynamic(kDtGnuHash)), 0xffffffff);
  EXPECT_TRUE(has_substring(error_of(file), "DT_GNU_HASH buckets run past the end of its PT_LOAD segment"));
}

TEST_F(CorruptedLibrary, GnuHashBucketBelowSymoffset) {
  Elf64File file = build("gnu");
  const std::size_t table = file.offset_of(file.dynamic(kDtGnuHash));
  file.put<std::uint32_t>(table + 4, 0x10000);  // symoffset above every bucket's first symbol
  EXPECT_TRUE(has_substring(error_of(file), "below symoffset 65536"));
}

TEST_F(CorruptedLibrary, NameOutsideDtStrsz) {
  Elf64File file = build("gnu");
  file.set_dynamic(kDtStrsz, 1);
  EXPECT_TRUE(has_substring(error_of(file), "st_name of symbol 1 offset"));
  EXPECT_TRUE(has_substring(error_of(file), "outside DT_STRSZ 0x1"));
}

TEST_F(CorruptedLibrary, NameRunningOffTheEndOfDtStrsz) {
  Elf64File file = build("gnu");
  // Symbol 1 is undefined (ld puts the unhashed symbols first); its name is cut after 2 bytes.
  const auto name = file.get<std::uint32_t>(file.offset_of(file.dynamic(kDtSymtab)) + 24);
  file.set_dynamic(kDtStrsz, name + 2);
  EXPECT_TRUE(has_substring(error_of(file), "in dynamic string table is not NUL-terminated"));
}

TEST_F(CorruptedLibrary, WrongSymbolEntrySize) {
  Elf64File file = build("gnu");
  file.set_dynamic(kDtSyment, 16);
  EXPECT_TRUE(has_substring(error_of(file), "DT_SYMENT 16 is not the ELF64 symbol size 24"));
}

TEST_F(CorruptedLibrary, VersionIndexThatNoVerneedDefines) {
  Elf64File file = build("sysv");
  const std::size_t versym = file.offset_of(file.dynamic(kDtVersym));
  const auto symbols = file.get<std::uint32_t>(file.offset_of(file.dynamic(kDtHash)) + 4);  // nchain
  std::size_t patched = 0;
  // Every symbol with a version (index 2 or more) gets index 0x7ffe.
  for (std::size_t index = 1; index < symbols; ++index) {
    if ((file.get<std::uint16_t>(versym + index * 2) & 0x7fff) >= 2) {
      file.put<std::uint16_t>(versym + index * 2, 0x7ffe);
      ++patched;
    }
  }
  ASSERT_GT(patched, 0u);
  EXPECT_TRUE(has_substring(error_of(file), "version index 32766, which no DT_VERNEED entry defines"));
}

TEST_F(CorruptedLibrary, HugeVerneednumIsBoundedByTheEntriesPresent) {
  Elf64File file = build("gnu");
  file.set_dynamic(kDtVerneednum, 0xffffffffffffffff);
  // vn_next 0 ends the list whatever DT_VERNEEDNUM says.
  const jailbuild::Result<Imports> imports = elf::imported_symbols(file.span());
  ASSERT_TRUE(imports) << imports.error().message;
  EXPECT_EQ(sorted(*imports), kUserImports);
}

// ---------------------------------------------------------------------------------------------
// Big-endian objects. No big-endian toolchain is at hand, so libuser.so is converted: every field
// the reader may use (headers, dynamic entries, symbols, hash tables, versions, relocations) is
// byte-swapped in place, found the plain way (the section header of .dynsym gives the count).

class BigEndianCopy {
 public:
  explicit BigEndianCopy(Elf64File& file) : file_(file) {}

  void convert() {
    const auto phoff = file_.get<std::uint64_t>(32);
    const auto phnum = file_.get<std::uint16_t>(56);
    const std::uint64_t symbols = dynsym_count();
    const std::uint64_t symtab = file_.offset_of(file_.dynamic(kDtSymtab));
    for (std::uint64_t index = 0; index < symbols; ++index) {
      const std::size_t symbol = symtab + index * 24;
      swap<std::uint32_t>(symbol);
      swap<std::uint16_t>(symbol + 6);
      swap<std::uint64_t>(symbol + 8);
      swap<std::uint64_t>(symbol + 16);
    }
    if (has(kDtHash)) swap_words(file_.offset_of(file_.dynamic(kDtHash)), 2 + bucket_and_chain_words());
    if (has(kDtGnuHash)) swap_gnu_hash(symbols);
    if (has(kDtVersym)) {
      const std::size_t versym = file_.offset_of(file_.dynamic(kDtVersym));
      for (std::uint64_t index = 0; index < symbols; ++index) swap<std::uint16_t>(versym + index * 2);
    }
    if (has(kDtVerneed)) swap_verneed();
    for (const auto& [table, size] : {std::pair{kDtRela, kDtRelasz}, std::pair{kDtJmprel, kDtPltrelsz}}) {
      if (!has(table)) continue;
      const std::size_t start = file_.offset_of(file_.dynamic(table));
      for (std::size_t offset = 0; offset < file_.dynamic(size); offset += 8) swap<std::uint64_t>(start + offset);
    }
    // The dynamic section, then the program headers, then the ELF header: each is read above in
    // the file's original byte order. Section headers are left out: the reader never needs them.
    const std::size_t dynamic = dynamic_offset(phoff, phnum);
    for (std::size_t entry = dynamic;; entry += 16) {
      const bool last = file_.get<std::uint64_t>(entry) == 0;
      swap<std::uint64_t>(entry);
      swap<std::uint64_t>(entry + 8);
      if (last) break;
    }
    for (std::size_t index = 0; index < phnum; ++index) {
      const std::size_t header = phoff + index * 56;
      swap<std::uint32_t>(header);
      swap<std::uint32_t>(header + 4);
      for (std::size_t field = 8; field < 56; field += 8) swap<std::uint64_t>(header + field);
    }
    file_.put<std::uint64_t>(40, 0);  // e_shoff
    file_.put<std::uint16_t>(60, 0);  // e_shnum
    file_.put<std::uint16_t>(62, 0);  // e_shstrndx
    for (const std::size_t field : {16u, 18u, 52u, 54u, 56u, 58u, 60u, 62u}) swap<std::uint16_t>(field);
    for (const std::size_t field : {20u, 48u}) swap<std::uint32_t>(field);
    for (const std::size_t field : {24u, 32u, 40u}) swap<std::uint64_t>(field);
    file_.put<std::uint8_t>(5, 2);  // EI_DATA: ELFDATA2MSB
  }

 private:
  static constexpr std::uint64_t kDtPltrelsz = 2;
  static constexpr std::uint64_t kDtRela = 7;
  static constexpr std::uint64_t kDtRelasz = 8;
  static constexpr std::uint64_t kDtJmprel = 23;
  static constexpr std::uint64_t kDtVerneed = 0x6ffffffe;

  template <typename T>
  void swap(std::size_t offset) {
    auto value = file_.get<T>(offset);
    auto* bytes = reinterpret_cast<unsigned char*>(&value);
    std::reverse(bytes, bytes + sizeof value);
    file_.put<T>(offset, value);
  }
  void swap_words(std::size_t offset, std::uint64_t count) {
    for (std::uint64_t index = 0; index < count; ++index) swap<std::uint32_t>(offset + index * 4);
  }

  bool has(std::uint64_t tag) const {
    try {
      file_.dynamic_value(tag);
      return true;
    } catch (const std::runtime_error&) { return false; }
  }

  // sh_size / sh_entsize of the SHT_DYNSYM section.
  std::uint64_t dynsym_count() const {
    const auto shoff = file_.get<std::uint64_t>(40);
    for (std::size_t index = 0; index < file_.get<std::uint16_t>(60); ++index) {
      const std::size_t header = shoff + index * 64;
      if (file_.get<std::uint32_t>(header + 4) == 11) return file_.get<std::uint64_t>(header + 32) / 24;
    }
    throw std::runtime_error("no .dynsym section header");
  }

  std::uint64_t bucket_and_chain_words() const {
    const std::size_t table = file_.offset_of(file_.dynamic(kDtHash));
    return std::uint64_t{file_.get<std::uint32_t>(table)} + file_.get<std::uint32_t>(table + 4);
  }

  void swap_gnu_hash(std::uint64_t symbols) {
    const std::size_t table = file_.offset_of(file_.dynamic(kDtGnuHash));
    const auto buckets = file_.get<std::uint32_t>(table);
    const auto symoffset = file_.get<std::uint32_t>(table + 4);
    const auto bloom_words = file_.get<std::uint32_t>(table + 8);
    swap_words(table, 4);
    for (std::uint32_t index = 0; index < bloom_words; ++index) swap<std::uint64_t>(table + 16 + index * 8);
    const std::size_t buckets_offset = table + 16 + bloom_words * 8;
    swap_words(buckets_offset, buckets + (symbols > symoffset ? symbols - symoffset : 0));
  }

  void swap_verneed() {
    std::size_t need = file_.offset_of(file_.dynamic(kDtVerneed));
    for (;;) {
      const auto count = file_.get<std::uint16_t>(need + 2);
      const auto aux_offset = file_.get<std::uint32_t>(need + 8);
      const auto next = file_.get<std::uint32_t>(need + 12);
      std::size_t aux = need + aux_offset;
      for (std::uint16_t index = 0; index < count; ++index) {
        const auto aux_next = file_.get<std::uint32_t>(aux + 12);
        swap<std::uint32_t>(aux);
        swap<std::uint16_t>(aux + 4);
        swap<std::uint16_t>(aux + 6);
        swap<std::uint32_t>(aux + 8);
        swap<std::uint32_t>(aux + 12);
        if (aux_next == 0) break;
        aux += aux_next;
      }
      swap<std::uint16_t>(need);
      swap<std::uint16_t>(need + 2);
      for (const std::size_t field : {4u, 8u, 12u}) swap<std::uint32_t>(need + field);
      if (next == 0) break;
      need += next;
    }
  }

  std::size_t dynamic_offset(std::uint64_t phoff, std::uint16_t phnum) const {
    for (std::size_t index = 0; index < phnum; ++index) {
      if (file_.get<std::uint32_t>(phoff + index * 56) == 2) return file_.get<std::uint64_t>(phoff + index * 56 + 8);
    }
    throw std::runtime_error("no PT_DYNAMIC");
  }

  Elf64File& file_;
};

TEST_F(CorruptedLibrary, BigEndianCopyHasTheSameImports) {
  // DT_GNU_HASH, DT_HASH, and DT_GNU_HASH hashing nothing (the count from the relocations).
  for (const auto& [style, user_flags] :
       {std::pair{"gnu", ""}, std::pair{"sysv", ""}, std::pair{"gnu", "-fvisibility=hidden"}}) {
    Elf64File file = build(style, user_flags);
    BigEndianCopy(file).convert();
    ASSERT_EQ(file.get<std::uint8_t>(5), 2);
    const jailbuild::Result<Imports> imports = elf::imported_symbols(file.span());
    ASSERT_TRUE(imports) << style << user_flags << ": " << imports.error().message;
    EXPECT_EQ(sorted(*imports), kUserImports) << style << user_flags << ": " << describe(imports);
    // Control: the same bytes read as little-endian are not the same object.
    Elf64File misread = file;
    misread.put<std::uint8_t>(5, 1);
    const jailbuild::Result<Imports> misread_imports = elf::imported_symbols(misread.span());
    EXPECT_TRUE(!misread_imports || sorted(*misread_imports) != kUserImports) << style << user_flags;
  }
}

}  // namespace
