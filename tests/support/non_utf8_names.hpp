// Names that are not UTF-8, for the tests of `--json`: a fixture program and libraries whose paths
// hold such bytes, and a reader of jailbuild's byte-string encoding written from its documentation
// (README.md, "Paths in JSON") apart from the product's code, so that the tests judge the encoder
// rather than share its mistakes.
#pragma once

#include <cctype>
#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/loader_oracle.hpp"

namespace jailbuild::testing {

// "déjà" in Latin-1: 0xE9 followed by 'j' is no UTF-8 sequence.
inline const std::string kLatin1Directory = "d\xe9j\xe0";
// A library whose name (file name and soname) holds a byte that never occurs in UTF-8.
inline const std::string kLatin1Library = "lib\xff.so";
// "café" in UTF-8: a directory and a library whose paths must stay plain JSON strings.
inline const std::string kUtf8Directory = "caf\xc3\xa9";
inline const std::string kUtf8Library = "libcaf\xc3\xa9.so";

// The bytes a JSON value stands for: a string is its own UTF-8 bytes, {"hex": "..."} (nothing
// else in the object, an even number of lowercase hex digits) the bytes the digits spell; nullopt
// for anything else.
inline std::optional<std::string> bytes_in(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_object() || value.size() != 1 || !value.contains("hex") || !value["hex"].is_string())
    return std::nullopt;
  const std::string hex = value["hex"].get<std::string>();
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    for (const char digit : {hex[i], hex[i + 1]})
      if (!std::isxdigit(static_cast<unsigned char>(digit)) || std::isupper(static_cast<unsigned char>(digit)))
        return std::nullopt;
    bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return bytes;
}

// The control: nlohmann refuses to write `bytes` as a JSON string (type_error 316, what `--json`
// died of). True proves that a test's name really is not UTF-8.
inline bool plain_dump_refuses(const std::string& bytes) {
  try {
    (void)nlohmann::json(bytes).dump();
  } catch (const nlohmann::json::type_error& error) { return error.id == 316; }
  return false;
}

// Builds in `dir`, from the sources latin1_library.c, utf8_library.c and non_utf8_app.c it writes
// there: DIR/déjà(Latin-1)/lib\xff.so, DIR/café(UTF-8)/libcafé.so and the program DIR/déjà/app
// that needs both through its RPATH and prints "latin 1 café 2". gcc runs from an argument
// vector, not a shell command, so that the bytes reach it unchanged. Returns the program.
inline std::string build_program_with_non_utf8_paths(const std::filesystem::path& dir) {
  const std::filesystem::path latin1 = dir / kLatin1Directory;
  const std::filesystem::path utf8 = dir / kUtf8Directory;
  std::filesystem::create_directories(latin1);
  std::filesystem::create_directories(utf8);
  write_file(dir / "latin1_library.c", "int latin(void) { return 1; }\n");
  write_file(dir / "utf8_library.c", "int cafe(void) { return 2; }\n");
  write_file(dir / "non_utf8_app.c",
             "#include <stdio.h>\nint latin(void); int cafe(void);\n"
             "int main(void) { printf(\"latin %d caf\\xc3\\xa9 %d\\n\", latin(), cafe()); return 0; }\n");
  ProcessOptions in_dir;
  in_dir.cwd = dir.string();
  const Environment env{{"PATH", "/usr/bin:/bin"}};
  auto gcc = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/gcc");
    const ProcessResult built = run_process(args, env, in_dir);
    EXPECT_EQ(built.exit_code, 0) << built.describe();
  };
  gcc({"-shared", "-fPIC", "-Wl,-soname," + kLatin1Library, "-o", (latin1 / kLatin1Library).string(),
       "latin1_library.c"});
  gcc({"-shared", "-fPIC", "-Wl,-soname," + kUtf8Library, "-o", (utf8 / kUtf8Library).string(), "utf8_library.c"});
  const std::string program = (latin1 / "app").string();
  gcc({"-o", program, "non_utf8_app.c", "-Wl,--no-as-needed", "-L" + latin1.string(), "-L" + utf8.string(),
       "-l:" + kLatin1Library, "-l:" + kUtf8Library, "-Wl,-rpath," + latin1.string() + ":" + utf8.string()});
  return program;
}

// Rebuilds DIR/déjà/lib\xff.so (of build_program_with_non_utf8_paths) so that latin() returns
// `value`, and renames it into place as a package manager does: a new file at the same path.
inline ::testing::AssertionResult rebuild_latin1_library(const std::filesystem::path& dir, int value) {
  write_file(dir / "latin1_library.c", "int latin(void) { return " + std::to_string(value) + "; }\n");
  ProcessOptions in_dir;
  in_dir.cwd = dir.string();
  const ProcessResult built = run_process(
      {"/usr/bin/gcc", "-shared", "-fPIC", "-Wl,-soname," + kLatin1Library, "-o", "new.so", "latin1_library.c"},
      Environment{{"PATH", "/usr/bin:/bin"}}, in_dir);
  if (built.exit_code != 0) return ::testing::AssertionFailure() << built.describe();
  std::filesystem::rename(dir / "new.so", dir / kLatin1Directory / kLatin1Library);
  return ::testing::AssertionSuccess();
}

}  // namespace jailbuild::testing
