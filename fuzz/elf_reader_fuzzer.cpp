// libFuzzer entry point for the ELF reader: whatever the bytes, parse_header and parse_object must
// return a value or an error, without crashing, reading out of bounds or undefined behaviour
// (the build adds AddressSanitizer and UndefinedBehaviorSanitizer).

#include <cstddef>
#include <cstdint>
#include <span>

#include "elf/elf.hpp"

namespace elf = jailbuild::elf;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const jailbuild::Result<elf::ElfHeader> header = elf::parse_header(bytes);
  const jailbuild::Result<elf::ElfObject> object = elf::parse_object(bytes);
  // An object parses only if its header does, and then with the same header.
  if (object && (!header || object->header.phoff != header->phoff || object->header.phnum != header->phnum)) {
    __builtin_trap();
  }
  return 0;
}
