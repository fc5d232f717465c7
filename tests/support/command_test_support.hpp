// What the command-line tests share: running the jailbuild binary, writing fixture files, and
// looking at a root afterwards (its tree, leftover temporary files, half-written files).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/loader_oracle.hpp"

namespace jailbuild::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline const Environment kPlainEnv{{"PATH", "/usr/bin:/bin"}};
inline const std::string kStrace = "/usr/bin/strace";
inline const std::string kLoader = "/lib64/ld-linux-x86-64.so.2";
inline constexpr int kExitOk = 0;
inline constexpr int kExitIncomplete = 1;
inline constexpr int kExitUsage = 2;

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// Whether two files hold the same bytes (compared without printing binaries in failure messages).
inline bool same_contents(const fs::path& a, const fs::path& b) { return fs::exists(a) && read_file(a) == read_file(b); }

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline bool is_temporary(const fs::path& path) { return path.filename().string().starts_with(".jailbuild-tmp."); }

inline mode_t mode_of(const fs::path& path) {
  struct stat status {};
  return ::lstat(path.c_str(), &status) == 0 ? status.st_mode : 0;
}

// What a tree holds: relative path -> type, permission bits, and a symlink's target or a file's
// contents (hashed); with `times`, each entry's mtime and ctime too (anything written, created,
// removed or chmod-ed in it shows).
using Tree = std::map<std::string, std::string>;

inline Tree snapshot(const fs::path& dir, bool times = false) {
  Tree tree;
  if (!fs::is_directory(fs::symlink_status(dir))) return tree;
  auto describe = [&](const fs::path& path) {
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0) return std::string("vanished");
    std::ostringstream out;
    out << std::oct << status.st_mode << std::dec;
    if (S_ISLNK(status.st_mode)) out << " -> " << fs::read_symlink(path).string();
    if (S_ISREG(status.st_mode)) out << " " << status.st_size << " " << std::hash<std::string>{}(read_file(path));
    if (times) {
      out << " m" << status.st_mtim.tv_sec << "." << status.st_mtim.tv_nsec << " c" << status.st_ctim.tv_sec << "."
          << status.st_ctim.tv_nsec;
    }
    return out.str();
  };
  tree["."] = times ? describe(dir) : "";
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    tree[entry.path().lexically_relative(dir).string()] = describe(entry.path());
  return tree;
}

// The ".jailbuild-tmp.*" entries under `root`.
inline std::vector<std::string> temporaries(const fs::path& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (is_temporary(entry.path())) found.push_back(entry.path().string());
  return found;
}

// Regular files under a final name in `root` that are not exactly the file of the same name in
// `complete` (a root the same add built without interruption): truncated or half-written files.
inline std::vector<std::string> incomplete_files(const fs::path& root, const fs::path& complete) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!S_ISREG(mode_of(entry.path())) || is_temporary(entry.path())) continue;
    const fs::path relative = entry.path().lexically_relative(root);
    if (read_file(entry.path()) != read_file(complete / relative)) found.push_back("/" + relative.string());
  }
  return found;
}

// Polls `condition` every few milliseconds until it holds or `limit` passes.
inline bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The JSON document in an output that may also hold stderr lines.
inline nlohmann::json json_in(const std::string& output) {
  const std::size_t begin = output.find('{');
  const std::size_t end = output.rfind('}');
  if (begin == std::string::npos || end == std::string::npos) return nullptr;
  return nlohmann::json::parse(output.substr(begin, end - begin + 1), nullptr, false);
}

inline const nlohmann::json* entry_named(const nlohmann::json& entries, const std::string& path) {
  for (const auto& entry : entries)
    if (entry.value("path", "") == path) return &entry;
  return nullptr;
}

// Runs the jailbuild binary under test with ARGS and a plain environment.
inline ProcessResult run_jailbuild(std::vector<std::string> args) {
  args.insert(args.begin(), JAILBUILD_BINARY);
  return run_process(args, kPlainEnv);
}

}  // namespace jailbuild::testing
