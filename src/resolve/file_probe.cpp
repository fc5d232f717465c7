#include "file_probe.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/stat.h>
#include <unistd.h>

#include "elf/dynamic_symbols.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {
namespace {

// Native-endian fields, as the loader reads its own ElfW(Ehdr) over the file's bytes.
std::uint16_t native_u16(const std::array<unsigned char, 64>& head, std::size_t offset) {
  std::uint16_t value;
  std::memcpy(&value, head.data() + offset, sizeof value);
  return value;
}
std::uint32_t native_u32(const std::array<unsigned char, 64>& head, std::size_t offset) {
  std::uint32_t value;
  std::memcpy(&value, head.data() + offset, sizeof value);
  return value;
}

bool valid_osabi(unsigned char osabi) { return osabi == 0 /* SYSV */ || osabi == 3 /* GNU */; }
bool valid_abi_version(unsigned char osabi, unsigned char version) {
  // LIBC_ABI_MAX is 4 in glibc 2.36 (UNIQUE=1, IFUNC=2, ABSOLUTE=3).
  return osabi == 3 ? version < 4 : version == 0;
}

Verification fatal(std::string message) { return {Verdict::Fatal, 0, std::move(message)}; }
Verification skip(int error) { return {Verdict::Skip, error, {}}; }

// The e_ident checks in the order Debian's open_verify makes them when e_ident is not the
// expected one (including the Debian patch that skips a wrong machine before the rest).
Verification verify_ident(const std::array<unsigned char, 64>& head, const LoaderConfig& config,
                          std::uint16_t machine) {
  const std::optional<elf::Ident> ident = elf::decode_ident(std::as_bytes(std::span(head)));
  if (!ident) return fatal("invalid ELF header");
  if (ident->elf_class != config.elf_class) return {Verdict::SkipOtherClass, ENOENT, {}, "wrong ELF class"};
  if (machine != config.machine) return {Verdict::Skip, ENOENT, {}, "wrong machine"};
  if (ident->data != elf::kDataLsb) return fatal("ELF file data encoding not little-endian");
  if (ident->version != 1) return fatal("ELF file version ident does not match current one");
  if (!valid_osabi(ident->osabi)) return fatal("ELF file OS ABI invalid");
  if (!valid_abi_version(ident->osabi, ident->abi_version)) return fatal("ELF file ABI version invalid");
  if (!ident->padding_zero) return fatal("nonzero padding in e_ident");
  return {};
}

// The names of the symbols `object` imports, from the bytes already mapped for it: the runtime
// rules' triggers without a second open and mapping of every file of the closure.
void read_imports(std::span<const std::byte> bytes, const std::string& path, elf::ElfObject& object) {
  auto symbols = elf::imported_symbols(bytes);
  if (!symbols) {
    object.imports_error = path + ": " + symbols.error().message;
    return;
  }
  auto& names = object.imported_names.emplace();
  names.reserve(symbols->size());
  for (elf::ImportedSymbol& symbol : *symbols) names.push_back(std::move(symbol.name));
}

}  // namespace

Verification verify_candidate(const Probe& probe, const LoaderConfig& config) {
  if (probe.open_error != 0) return skip(probe.open_error);
  const FileData& file = *probe.data;
  if (file.is_directory) return fatal("cannot read file data: Is a directory");
  if (file.read_error != 0) return fatal("cannot read file data: " + errno_text(file.read_error));
  const bool is64 = config.elf_class == elf::kClass64;
  if (file.size < (is64 ? 64u : 52u)) return fatal("file too short");

  const auto& head = file.head;
  const std::uint16_t machine = native_u16(head, 18);
  if (Verification ident = verify_ident(head, config, machine); ident.verdict != Verdict::Accept) return ident;
  if (native_u32(head, 20) != 1) return fatal("ELF file version does not match current one");
  if (machine != config.machine) return {Verdict::Skip, ENOENT, {}, "wrong machine"};
  const std::uint16_t type = native_u16(head, 16);
  if (type != elf::kTypeDyn && type != elf::kTypeExec) return fatal("only ET_DYN and ET_EXEC can be loaded");
  if (native_u16(head, is64 ? 54 : 42) != (is64 ? 56 : 32)) return fatal("ELF file's phentsize not the expected size");
  if (!file.elf) return fatal(file.elf_error);
  return {};
}

const Probe& FileProbes::probe(const std::string& path) {
  if (auto it = probes_.find(path); it != probes_.end()) return it->second;
  Probe result;
  const UniqueFd opened(root_.open_read(path));
  const int fd = opened.get();
  if (fd < 0) {
    result.open_error = -fd;
  } else {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      result.open_error = errno;
    } else {
      result.dev = st.st_dev;
      result.ino = st.st_ino;
      result.data =
          read_file(fd, path, st.st_dev, st.st_ino, static_cast<std::size_t>(st.st_size), S_ISDIR(st.st_mode));
    }
  }
  return probes_.emplace(path, std::move(result)).first->second;
}

std::shared_ptr<const FileData> FileProbes::read_file(int fd, const std::string& path, dev_t dev, ino_t ino,
                                                      std::size_t size, bool is_directory) {
  auto& slot = files_[{dev, ino}];
  if (slot) return slot;
  auto data = std::make_shared<FileData>();
  data->size = size;
  data->is_directory = is_directory;
  if (!is_directory) {
    auto mapped = elf::MappedFile::from_fd(fd, path);
    if (!mapped) {
      data->read_error = EIO;
      data->elf_error = mapped.error().message;
    } else {
      const auto bytes = mapped->bytes();
      if (!bytes.empty()) std::memcpy(data->head.data(), bytes.data(), std::min(bytes.size(), data->head.size()));
      constexpr std::size_t kKernelScriptHead = 256;  // BINPRM_BUF_SIZE
      if (bytes.size() >= 2 && bytes[0] == std::byte{'#'} && bytes[1] == std::byte{'!'})
        data->script_head.assign(reinterpret_cast<const char*>(bytes.data()),
                                 std::min(bytes.size(), kKernelScriptHead));
      auto object = elf::parse_object(bytes);
      if (object && read_imports_) read_imports(bytes, path, *object);
      if (object) {
        data->elf = std::make_shared<const elf::ElfObject>(std::move(*object));
      } else {
        data->elf_error = object.error().message;
      }
    }
  }
  slot = std::move(data);
  return slot;
}

const Result<std::string>& FileProbes::canonical(const std::string& path) {
  if (auto it = canonical_.find(path); it != canonical_.end()) return it->second;
  return canonical_.emplace(path, root_.canonical(path)).first->second;
}

std::vector<std::string> FileProbes::paths() const {
  std::vector<std::string> out;
  out.reserve(probes_.size() + canonical_.size());
  for (const auto& [path, probe] : probes_) out.push_back(path);
  for (const auto& [path, canonical] : canonical_) out.push_back(path);
  return out;
}

}  // namespace jailbuild
