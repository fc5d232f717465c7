#include "watch_list.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <fstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../copy/safe_fs.hpp"
#include "../manifest/state_files.hpp"

namespace jailbuild {
namespace {

constexpr std::string_view kHeader = "jailbuild-watch 1";

// A path as the last field of a line: backslash and newline escaped.
void append_escaped(std::string& out, std::string_view path) {
  for (const char c : path) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

std::optional<std::string> unescape(std::string_view text) {
  if (text.find('\\') == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    if (text[i] == '\\') {
      out += '\\';
    } else if (text[i] == 'n') {
      out += '\n';
    } else {
      return std::nullopt;
    }
  }
  return out;
}

void append_identity(std::string& out, const FileIdentity& id) {
  out += std::to_string(id.dev) + ' ' + std::to_string(id.ino) + ' ' + std::to_string(id.size) + ' ' +
         std::to_string(id.mtime_ns) + ' ' + std::to_string(id.ctime_ns) + ' ' + std::to_string(id.mode) + ' ' +
         std::to_string(id.uid) + ' ' + std::to_string(id.gid);
}

// Reads one space-terminated number from `text` at `pos`.
template <typename Number>
bool read_number(std::string_view text, std::size_t& pos, Number& value) {
  const char* begin = text.data() + pos;
  const char* end = text.data() + text.size();
  const auto [next, error] = std::from_chars(begin, end, value);
  if (error != std::errc() || next == end || *next != ' ') return false;
  pos = static_cast<std::size_t>(next - text.data()) + 1;
  return true;
}

bool read_identity(std::string_view text, std::size_t& pos, FileIdentity& id) {
  return read_number(text, pos, id.dev) && read_number(text, pos, id.ino) && read_number(text, pos, id.size) &&
         read_number(text, pos, id.mtime_ns) && read_number(text, pos, id.ctime_ns) &&
         read_number(text, pos, id.mode) && read_number(text, pos, id.uid) && read_number(text, pos, id.gid);
}

char side_letter(WatchedPath::Side side) {
  switch (side) {
    case WatchedPath::Side::Host: return 'h';
    case WatchedPath::Side::HostDirectory: return 'd';
    case WatchedPath::Side::HostFollow: return 'f';
    case WatchedPath::Side::Root: return 'r';
  }
  return '?';
}

std::optional<WatchedPath::Side> side_of(char letter) {
  switch (letter) {
    case 'h': return WatchedPath::Side::Host;
    case 'd': return WatchedPath::Side::HostDirectory;
    case 'f': return WatchedPath::Side::HostFollow;
    case 'r': return WatchedPath::Side::Root;
    default: return std::nullopt;
  }
}

Error malformed(std::size_t line_number, const char* what) {
  return Error{"watch list line " + std::to_string(line_number) + ": " + what};
}

// Stats paths in one directory after another through a kept descriptor of the directory, so that
// each lookup is one component: the lists are sorted, and siblings follow each other.
class DirectoryStat {
 public:
  // `root_fd` >= 0: directories are opened beneath it with no symlink followed (a root's paths);
  // otherwise they are host paths, opened as the kernel resolves them.
  explicit DirectoryStat(int root_fd) : root_fd_(root_fd) {}

  // The identity at `path` (absolute), nullopt if nothing is there; false in `ok` on any other
  // failure (which never proves anything).
  std::optional<FileIdentity> identity(const std::string& path, bool follow, bool& ok) {
    if (path == "/") return root_itself(ok);
    const std::size_t slash = path.rfind('/');
    const std::string_view parent = std::string_view(path).substr(0, slash);
    const char* name = path.c_str() + slash + 1;
    if (*name == '\0' || std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) {
      ok = false;
      return std::nullopt;
    }
    if (!opened_ || parent != dir_path_) {  // a directory that failed to open is remembered too
      dir_path_ = parent;
      const int fd = open_directory(dir_path_);
      dir_error_ = fd >= 0 ? 0 : errno;
      dir_ = copy::UniqueFd(fd);
      opened_ = true;
    }
    if (!dir_.valid()) {
      if (dir_error_ != ENOENT && dir_error_ != ENOTDIR) ok = false;
      return std::nullopt;
    }
    struct stat status {};
    if (::fstatat(dir_.get(), name, &status, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) ok = false;
      return std::nullopt;
    }
    return copy::identity_of(status);
  }

 private:
  std::optional<FileIdentity> root_itself(bool& ok) const {
    struct stat status {};
    if ((root_fd_ >= 0 ? ::fstat(root_fd_, &status) : ::stat("/", &status)) != 0) {
      ok = false;
      return std::nullopt;
    }
    return copy::identity_of(status);
  }

  int open_directory(const std::string& parent) {
    if (root_fd_ < 0) return ::open(parent.empty() ? "/" : parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    const int fd = copy::open_beneath(root_fd_, parent.empty() ? "." : parent.substr(1), O_PATH | O_DIRECTORY);
    if (fd >= 0) return fd;
    // A symlink or a file where a directory was: nothing jailbuild placed is there any more.
    errno = -fd == ELOOP || -fd == EXDEV ? ENOTDIR : -fd;
    return -1;
  }

  int root_fd_;
  bool opened_ = false;
  copy::UniqueFd dir_;
  std::string dir_path_;
  int dir_error_ = 0;
};

}  // namespace

bool ignores_entries(const WatchedPath& watched) {
  if (watched.side == WatchedPath::Side::HostDirectory) return true;
  return watched.side == WatchedPath::Side::Root && watched.identity && S_ISDIR(watched.identity->mode);
}

WatchedPath make_watched(WatchedPath::Side side, std::string path, std::optional<FileIdentity> identity) {
  WatchedPath watched{side, std::move(path), identity};
  if (ignores_entries(watched)) watched.identity->size = watched.identity->mtime_ns = watched.identity->ctime_ns = 0;
  return watched;
}

std::string serialize_watch_list(const WatchList& list) {
  std::string out;
  out.reserve(list.paths.size() * 120);
  out += kHeader;
  out += "\nroot ";
  append_escaped(out, list.root);
  out += "\nmanifest ";
  append_identity(out, list.manifest);
  out += "\nboot ";
  append_escaped(out, list.boot_id);
  out += '\n';
  for (const auto& [name, value] : list.options) {
    out += "option ";
    append_escaped(out, name + "=" + value);
    out += '\n';
  }
  for (const std::string& added : list.added) {
    out += "added ";
    append_escaped(out, added);
    out += '\n';
  }
  for (const WatchedPath& watched : list.paths) {
    out += side_letter(watched.side);
    out += ' ';
    if (watched.identity) {
      append_identity(out, *watched.identity);
    } else {
      out += '-';
    }
    out += ' ';
    append_escaped(out, watched.path);
    out += '\n';
  }
  return out;
}

Result<WatchList> parse_watch_list(std::string_view text) {
  WatchList list;
  std::size_t line_number = 0;
  bool saw_manifest = false;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return malformed(line_number + 1, "no newline at the end");
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    if (++line_number == 1) {
      if (line != kHeader) return malformed(1, "not a jailbuild watch list of version 1");
      continue;
    }
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) return malformed(line_number, "no field");
    const std::string_view keyword = line.substr(0, space);
    std::size_t pos = space + 1;
    if (keyword == "manifest") {
      const std::string with_end = std::string(line.substr(pos)) + ' ';
      std::size_t at = 0;
      if (!read_identity(with_end, at, list.manifest) || at != with_end.size()) {
        return malformed(line_number, "bad manifest identity");
      }
      saw_manifest = true;
      continue;
    }
    std::optional<std::string> rest;
    if (keyword == "root" || keyword == "boot" || keyword == "option" || keyword == "added") {
      rest = unescape(line.substr(pos));
      if (!rest) return malformed(line_number, "bad escape");
      if (keyword == "root") {
        list.root = std::move(*rest);
      } else if (keyword == "boot") {
        list.boot_id = std::move(*rest);
      } else if (keyword == "added") {
        list.added.push_back(std::move(*rest));
      } else {
        const std::size_t equals = rest->find('=');
        if (equals == std::string::npos) return malformed(line_number, "option without '='");
        list.options[rest->substr(0, equals)] = rest->substr(equals + 1);
      }
      continue;
    }
    const auto side = keyword.size() == 1 ? side_of(keyword[0]) : std::nullopt;
    if (!side) return malformed(line_number, "unknown keyword");
    WatchedPath watched;
    watched.side = *side;
    if (line.substr(pos, 2) == "- ") {
      pos += 2;
    } else {
      FileIdentity identity;
      if (!read_identity(line, pos, identity)) return malformed(line_number, "bad identity");
      watched.identity = identity;
    }
    rest = unescape(line.substr(pos));
    if (!rest || rest->empty() || rest->front() != '/') return malformed(line_number, "bad path");
    watched.path = std::move(*rest);
    list.paths.push_back(std::move(watched));
  }
  if (line_number == 0) return malformed(1, "empty");
  if (!saw_manifest) return malformed(line_number, "no manifest identity");
  return list;
}

std::string watch_list_path(const std::string& manifest_path) {
  std::string path = manifest_path;
  if (path.ends_with(".json")) path.resize(path.size() - 5);
  return path + ".watch";
}

std::optional<WatchList> load_watch_list(const std::string& path) {
  // A list is about 250 bytes per entry; a root of a million entries stays under this.
  constexpr std::uint64_t kMaxWatchListSize = std::uint64_t{512} << 20;
  auto text = state_files::read_file(path, kMaxWatchListSize, "a watch list");
  if (!text || !text->has_value()) return std::nullopt;
  auto parsed = parse_watch_list(**text);
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

Result<bool> save_watch_list(const std::string& path, const WatchList& list) {
  return state_files::replace_file(path, serialize_watch_list(list));
}

void discard_watch_list(const std::string& path) { ::unlink(path.c_str()); }

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::optional<FileIdentity> identity_at(const std::string& path, bool follow) {
  struct stat status {};
  if ((follow ? ::stat(path.c_str(), &status) : ::lstat(path.c_str(), &status)) != 0) return std::nullopt;
  return copy::identity_of(status);
}

bool still_current(const WatchList& list, const std::string& root, const FileIdentity& manifest) {
  if (list.manifest != manifest || list.boot_id.empty() || list.boot_id != current_boot_id()) return false;
  const copy::UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return false;
  // Nearly all the time goes to the stat calls; the lists are sorted by directory (watch_list_of),
  // so each directory is opened once per side.
  DirectoryStat in_root(root_fd.get());
  DirectoryStat on_host(-1);
  bool ok = true;
  for (const WatchedPath& watched : list.paths) {
    DirectoryStat& where = watched.side == WatchedPath::Side::Root ? in_root : on_host;
    auto now = where.identity(watched.path, watched.side == WatchedPath::Side::HostFollow, ok);
    if (now && ignores_entries(watched)) now->size = now->mtime_ns = now->ctime_ns = 0;
    if (!ok || now != watched.identity) return false;
  }
  return true;
}

}  // namespace jailbuild
