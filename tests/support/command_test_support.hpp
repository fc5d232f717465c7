// What the command-line tests share: running the jailbuild binary, writing fixture files, and
// looking at a root afterwards (its tree, leftover temporary files, half-written files).
#pragma once

#include <sys/stat.h>

#include <algorithm>
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

#include "support/files.hpp"
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

// Whether two files hold the same bytes (compared without printing binaries in failure messages).
inline bool same_contents(const fs::path& a, const fs::path& b) {
  return fs::exists(a) && read_file(a) == read_file(b);
}

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

// Regular files under a final name in `root` that are exactly the file of the same name in none of
// `complete` (roots built without interruption: the one a run would give, or for an update, the
// root before it and after it): truncated or half-written files, or files of neither state.
inline std::vector<std::string> incomplete_files(const fs::path& root, const std::vector<fs::path>& complete) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!S_ISREG(mode_of(entry.path())) || is_temporary(entry.path())) continue;
    const fs::path relative = entry.path().lexically_relative(root);
    const std::string contents = read_file(entry.path());
    const bool whole = std::any_of(complete.begin(), complete.end(), [&](const fs::path& reference) {
      return S_ISREG(mode_of(reference / relative)) && read_file(reference / relative) == contents;
    });
    if (!whole) found.push_back("/" + relative.string());
  }
  return found;
}

inline std::vector<std::string> incomplete_files(const fs::path& root, const fs::path& complete) {
  return incomplete_files(root, std::vector<fs::path>{complete});
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

// The JSON document (an object, or an array as `sync --all` prints) in an output that may also
// hold stderr lines.
inline nlohmann::json json_in(const std::string& output) {
  const std::size_t begin = output.find_first_of("{[");
  if (begin == std::string::npos) return nullptr;
  const std::size_t end = output.rfind(output[begin] == '{' ? '}' : ']');
  if (end == std::string::npos) return nullptr;
  return nlohmann::json::parse(output.substr(begin, end - begin + 1), nullptr, false);
}

inline const nlohmann::json* entry_named(const nlohmann::json& entries, const std::string& path) {
  for (const auto& entry : entries)
    if (entry.value("path", "") == path) return &entry;
  return nullptr;
}

// The files a run opened (to read or write: O_PATH descriptors give access to no contents) or read
// from once it took the root's lock, from the log of `strace -f -y -e trace=open,openat,openat2,
// read,pread64 -o LOG`. Until the lock in the state directory is taken, the opens are the loader's,
// starting the binary. -y names the file behind every descriptor, so that a file opened relative
// to a directory descriptor (as everything in a root is) shows with its full path too.
inline std::vector<std::string> files_used_after_lock(const std::string& log) {
  // "N</path>" at `from` (a descriptor as -y prints it): the path; "" if something else is there.
  auto described = [](const std::string& line, std::size_t from) {
    const std::size_t digits = line.find_first_not_of("0123456789", from);
    if (digits == from || digits == std::string::npos || line[digits] != '<') return std::string();
    const std::size_t close = line.find('>', digits);
    return close == std::string::npos ? std::string() : line.substr(digits + 1, close - digits - 1);
  };
  std::vector<std::string> files;
  std::istringstream lines(read_file(log));
  bool started = false;
  for (std::string line; std::getline(lines, line);) {
    if (!started) {
      started = contains(line, "/locks/");
      continue;
    }
    const std::size_t name = line.find_first_not_of("0123456789 ");  // after the pid -f prints
    const std::size_t paren = line.find('(', name);
    if (name == std::string::npos || paren == std::string::npos) continue;
    const std::string call = line.substr(name, paren - name);
    std::string file;
    if (call == "read" || call == "pread64") {
      file = described(line, paren + 1);
    } else if (call.starts_with("open") && !contains(line, "O_PATH")) {
      const std::size_t result = line.rfind(") = ");
      if (result != std::string::npos) file = described(line, result + 4);
    }
    if (!file.empty()) files.push_back(file);
  }
  return files;
}

// Runs the jailbuild binary under test with ARGS and a plain environment.
inline ProcessResult run_jailbuild(std::vector<std::string> args) {
  args.insert(args.begin(), JAILBUILD_BINARY);
  return run_process(args, kPlainEnv);
}

// The same under strace with STRACE_OPTIONS (fault injection, tracing), its own log discarded
// unless they name another.
inline ProcessResult run_jailbuild_under_strace(const std::vector<std::string>& strace_options,
                                                const std::vector<std::string>& args) {
  std::vector<std::string> argv{kStrace, "-f", "-o", "/dev/null"};
  argv.insert(argv.end(), strace_options.begin(), strace_options.end());
  argv.push_back(JAILBUILD_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, kPlainEnv);
}

// `add PATHS... --root ROOT --state-dir STATE OPTIONS...`, as ARGS for run_jailbuild.
inline std::vector<std::string> add_args(const std::vector<std::string>& paths, const std::string& root,
                                         const std::string& state, const std::vector<std::string>& options = {}) {
  std::vector<std::string> args{"add"};
  args.insert(args.end(), paths.begin(), paths.end());
  args.insert(args.end(), {"--root", root, "--state-dir", state});
  args.insert(args.end(), options.begin(), options.end());
  return args;
}

}  // namespace jailbuild::testing
