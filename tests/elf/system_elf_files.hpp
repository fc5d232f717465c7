// The ELF files of the system that the LIEF cross-check and the reader benchmark walk.
#pragma once

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>
#include <vector>

namespace jailbuild::testing {

inline constexpr std::array<const char*, 3> kSystemElfRoots = {"/usr/bin", "/usr/sbin", "/usr/lib"};

inline bool has_elf_magic(const std::filesystem::path& path) {
  std::array<char, 4> magic{};
  std::ifstream file(path, std::ios::binary);
  return file.read(magic.data(), magic.size()) && std::string_view(magic.data(), magic.size()) ==
                                                      "\x7f"
                                                      "ELF";
}

// Regular files starting with the ELF magic under kSystemElfRoots, sorted. Symbolic links are
// neither followed nor listed, so each file appears once; unreadable directories are skipped.
inline std::vector<std::filesystem::path> system_elf_files() {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const char* root : kSystemElfRoots) {
    std::error_code error;
    for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error), end;
         !error && it != end; it.increment(error)) {
      std::error_code status_error;
      if (fs::is_regular_file(it->symlink_status(status_error)) && has_elf_magic(it->path())) {
        files.push_back(it->path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace jailbuild::testing
