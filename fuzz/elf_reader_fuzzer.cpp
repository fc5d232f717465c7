// libFuzzer entry point for the ELF reader: whatever the bytes, parse_header, parse_object and
// imported_symbols must return a value or an error, without crashing, reading out of bounds,
// undefined behaviour or a run time out of proportion to the input (the build adds
// AddressSanitizer and UndefinedBehaviorSanitizer; run-fuzzers.sh sets the time and memory limits).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "elf/elf.hpp"
#include "elf/dynamic_symbols.hpp"

namespace elf = jailbuild::elf;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const jailbuild::Result<elf::ElfHeader> header = elf::parse_header(bytes);
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(bytes);
  // An object parses only if its header does, and then with the same header.
  if (object && (!header || object->header.phoff != header->phoff || object->header.phnum != header->phnum)) {
    __builtin_trap();
  }
  // Imports are read from the same header and program headers: not from a file parse_header refuses.
  const jailbuild::Result<std::vector<elf::ImportedSymbol>> imports = elf::imported_symbols(bytes);
  if (imports && !header) __builtin_trap();
  return 0;
}
