// Small process and file helpers for the resolve tests that ask the real tools (ld.so, ldconfig,
// gcc) for the answer. Commands run through /bin/sh; callers quote what they interpolate.
#pragma once

#include "jailbuild/result.hpp"
#include "support/temp_dir.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild::testing {

// True if `error`, from asking a loader, says that the kernel cannot execute it at all: an i386
// loader on a kernel built without IA-32 emulation, where there is no oracle to ask.
inline bool kernel_cannot_execute(const Error& error) {
  return error.message.find(std::strerror(ENOEXEC)) != std::string::npos;
}

struct ShellResult {
  int exit_status = -1;  // -1: it did not exit normally
  std::string output;    // stdout only; add 2>&1 to the command for stderr
};

inline ShellResult run_shell(const std::string& command) {
  ShellResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[65536];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, got);
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

// 'text' for /bin/sh, with embedded single quotes escaped.
inline std::string shell_quote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

inline std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) bytes[i] = static_cast<std::byte>(text[i]);
  return bytes;
}

}  // namespace jailbuild::testing
