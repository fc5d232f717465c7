// StateDir: the state directory's layout (see state_dir.hpp), and where it is by default.
#include "state_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "jailbuild/manifest.hpp"
#include "util/dir_stream.hpp"
#include "util/files.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"
#include "util/users.hpp"

namespace jailbuild {
namespace {

constexpr std::string_view kManifestSuffix = ".json";
constexpr std::string_view kWatchListSuffix = ".watch";
constexpr std::string_view kRunSettingsSuffix = ".run";
constexpr std::string_view kSystemCallsSuffix = ".syscalls";
constexpr std::string_view kLockSuffix = ".lock";

// ---------------------------------------------------------------------------------------------
// Naming

constexpr std::string_view kHexDigits = "0123456789abcdef";

// Names longer than this (before ".json" or ".lock") are shortened; the limit leaves room under
// NAME_MAX (255) for the suffix and for the temporary file's "." and ".XXXXXX".
constexpr std::size_t kMaxNameLength = 200;

// The components of `root` without empty and "." ones: the spellings of one directory that are
// equivalent without looking at the file system. ".." is kept (it depends on symlinks).
std::vector<std::string_view> normalized_components(std::string_view root) {
  std::vector<std::string_view> components;
  for (std::size_t start = 0; start < root.size();) {
    const std::size_t end = std::min(root.find('/', start), root.size());
    const std::string_view component = root.substr(start, end - start);
    if (!component.empty() && component != ".") components.push_back(component);
    start = end + 1;
  }
  return components;
}

bool is_plain_name_byte(unsigned char byte) {
  return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') || byte == '_' ||
         byte == '.' || byte == ':';
}

void append_escaped(std::string& name, unsigned char byte) {
  name += "\\x";
  name += kHexDigits[byte >> 4];
  name += kHexDigits[byte & 0xF];
}

// 64-bit FNV-1a: stable across compilers and versions, unlike std::hash.
std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3;
  }
  return hash;
}

// The file name (without suffix) of a root's manifest and lock: its path escaped as
// `systemd-escape --path` does, so it is readable and reversible. The path is normalized
// lexically first (repeated and trailing slashes and "." components dropped) so that spellings of
// one directory share one manifest and one lock. Components are joined with "-"; every byte but
// ASCII letters, digits, "_", "." and ":" (and a "." that starts the name) becomes "\xNN", "-" and
// "\" included: "/home/program" gives "home-program", "/a-b" gives "a\x2db", "/a/b" gives "a-b",
// "/" gives "-".
//
// A name longer than kMaxNameLength keeps a readable prefix and ends in "~" and the 64-bit FNV-1a
// hash of the normalized path. "~" is always escaped in unshortened names, so the two forms never
// collide; two shortened names collide only if their hashes do.
std::string root_file_name(const std::string& root) {
  const std::vector<std::string_view> components = normalized_components(root);
  if (components.empty()) return "-";
  std::string normalized;
  std::string name;
  for (const std::string_view component : components) {
    if (!name.empty()) name += '-';
    normalized += '/';
    normalized += component;
    for (const char c : component) {
      const auto byte = static_cast<unsigned char>(c);
      const bool leading_dot = name.empty() && byte == '.';
      if (is_plain_name_byte(byte) && !leading_dot) {
        name += c;
      } else {
        append_escaped(name, byte);
      }
    }
  }
  if (name.size() <= kMaxNameLength) return name;

  const std::uint64_t hash = fnv1a(normalized);
  std::string suffix = "~";
  for (int shift = 60; shift >= 0; shift -= 4) suffix += kHexDigits[(hash >> shift) & 0xF];
  std::size_t keep = kMaxNameLength - suffix.size();
  const std::size_t escape = name.rfind('\\', keep);  // do not cut an escape in half
  if (escape != std::string::npos && keep - escape < 4) keep = escape;
  return name.substr(0, keep) + suffix;
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// $HOME, else the password database's home of the effective user, else "/" (then creating the
// state directory fails with a message naming it, rather than writing somewhere unexpected).
std::string home_directory() {
  if (std::string home = environment("HOME"); !home.empty()) return home;
  if (std::optional<Account> account = account_by_uid(::geteuid()); account && !account->home.empty()) {
    return account->home;
  }
  return "/";
}

}  // namespace

std::string default_state_dir() {
  if (std::string directory = environment("JAILBUILD_STATE_DIR"); !directory.empty()) return directory;
  if (::geteuid() == 0) return "/var/lib/jailbuild";
  // The XDG base directory specification: a relative path is invalid and must be ignored.
  if (const std::string state_home = environment("XDG_STATE_HOME"); state_home.starts_with('/')) {
    return join_path(state_home, "jailbuild");
  }
  return join_path(home_directory(), ".local/state/jailbuild");
}

std::string manifest_path(const std::string& state_dir, const std::string& root) {
  return StateDir(state_dir).files_of(root).manifest;
}

StateDir::StateDir(const std::string& path) : path_(path.empty() ? default_state_dir() : path) {}

std::string StateDir::roots_directory() const { return join_path(path_, "roots"); }

std::string StateDir::locks_directory() const { return join_path(path_, "locks"); }

StateDir::RootFiles StateDir::files_of(const std::string& root) const {
  const std::string name = root_file_name(root);
  RootFiles files;
  files.manifest = join_path(roots_directory(), name + std::string(kManifestSuffix));
  files.watch_list = watch_list_of(files.manifest);
  files.run_settings = join_path(roots_directory(), name + std::string(kRunSettingsSuffix));
  files.system_calls = join_path(roots_directory(), name + std::string(kSystemCallsSuffix));
  files.lock = join_path(locks_directory(), name + std::string(kLockSuffix));
  return files;
}

void StateDir::remove_temporaries(const RootFiles& files) {
  jailbuild::remove_temporaries({files.manifest, files.watch_list, files.run_settings, files.system_calls});
}

std::string StateDir::watch_list_of(const std::string& manifest_path) {
  std::string path = manifest_path;
  if (path.ends_with(kManifestSuffix)) path.resize(path.size() - kManifestSuffix.size());
  return path + std::string(kWatchListSuffix);
}

Result<std::vector<std::string>> StateDir::manifests() const {
  const std::string directory = roots_directory();
  std::vector<std::string> found;
  UniqueFd opened(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!opened.valid()) {
    if (errno == ENOENT) return found;
    return system_error(directory, errno);
  }
  DirStream stream = TRY(DirStream::adopt(std::move(opened), directory));
  // Hidden names are replace_file's temporaries.
  for (const std::string& name : TRY(stream.names())) {
    if (name.size() > kManifestSuffix.size() && name.front() != '.' && name.ends_with(kManifestSuffix)) {
      found.push_back(join_path(directory, name));
    }
  }
  return found;
}

}  // namespace jailbuild
