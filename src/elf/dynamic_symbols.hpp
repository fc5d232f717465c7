// The symbols an ELF object imports, read from its dynamic symbol table (.dynsym) through the
// dynamic segment, for rules that depend on what an object calls (tzset: zoneinfo; iconv_open:
// gconv modules). Apart from parse_object so that the resolver's hot path does not pay for it.
// Part of the ELF stage's interface, beside its reader; other stages include it as
// "elf/dynamic_symbols.hpp".
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild::elf {

// An undefined symbol of the dynamic symbol table: what the object expects another to define.
struct ImportedSymbol {
  std::string name;
  std::optional<std::string> version;  // the DT_VERNEED version it asks for (GLIBC_2.34); none if unversioned
  bool weak = false;                   // STB_WEAK: the object runs without it

  friend bool operator==(const ImportedSymbol&, const ImportedSymbol&) = default;
};

// The undefined symbols of the dynamic symbol table of the object in `bytes`, in table order.
// The table and its size come from the dynamic segment only (DT_SYMTAB, DT_STRTAB, DT_STRSZ; the
// count from DT_HASH, else DT_GNU_HASH; versions from DT_VERSYM and DT_VERNEED), as the loader sees
// them: never section headers or other symbol tables. An object without a dynamic segment or
// without DT_SYMTAB imports nothing. Every offset, count and index is checked against the file;
// a malformed table is an Error, never a read outside `bytes`.
Result<std::vector<ImportedSymbol>> imported_symbols(std::span<const std::byte> bytes);

// Maps `path` and reads its imported symbols; errors are prefixed with the path.
Result<std::vector<ImportedSymbol>> read_imported_symbols(const std::string& path);

}  // namespace jailbuild::elf
