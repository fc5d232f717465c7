// Reading and writing fixture files, and splitting and joining lines, for every test that needs
// them; apart from command_test_support.hpp so that tests linked without the loader oracle can
// use them too.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace jailbuild::testing {

namespace fs = std::filesystem;

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// Each line followed by a newline: a list of problems as one failure message.
inline std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// What lines_of does with a '\r' that ends a line: output read from a terminal ends its lines
// with "\r\n", a pipe's end them as the program wrote them.
enum class CarriageReturn { kKept, kDropped };

inline std::vector<std::string> lines_of(const std::string& text,
                                         CarriageReturn carriage_return = CarriageReturn::kKept) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (carriage_return == CarriageReturn::kDropped && !line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// lstat's answer for PATH, with st_ino 0 if there is nothing there.
inline struct stat lstat_of(const std::string& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) status.st_ino = 0;
  return status;
}

}  // namespace jailbuild::testing
