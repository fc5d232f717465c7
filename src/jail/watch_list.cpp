#include "watch_list.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <set>
#include <tuple>
#include <utility>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jailbuild/jail.hpp"
#include "util/file_type.hpp"
#include "util/files.hpp"
#include "util/open_beneath.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {
namespace {

// An identity without what a directory's entries change, its size and times (see ignores_entries).
FileIdentity without_times(FileIdentity identity) {
  identity.size = 0;
  identity.mtime_ns = 0;
  identity.ctime_ns = 0;
  return identity;
}

// 3: the whole intent on one line ("intent {...}"); 2 had "added" and "option" lines.
constexpr std::string_view kHeader = "jailbuild-watch 3";

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
    case WatchedPath::Side::HostListing: return 'H';
    case WatchedPath::Side::Root: return 'r';
    case WatchedPath::Side::RootListing: return 'R';
  }
  return '?';
}

std::optional<WatchedPath::Side> side_of(std::string_view keyword) {
  if (keyword.size() != 1) return std::nullopt;
  switch (keyword[0]) {
    case 'h': return WatchedPath::Side::Host;
    case 'd': return WatchedPath::Side::HostDirectory;
    case 'f': return WatchedPath::Side::HostFollow;
    case 'H': return WatchedPath::Side::HostListing;
    case 'r': return WatchedPath::Side::Root;
    case 'R': return WatchedPath::Side::RootListing;
    default: return std::nullopt;
  }
}

bool in_root(WatchedPath::Side side) {
  return side == WatchedPath::Side::Root || side == WatchedPath::Side::RootListing;
}

bool is_listing(WatchedPath::Side side) {
  return side == WatchedPath::Side::HostListing || side == WatchedPath::Side::RootListing;
}

// Whether a directory's unchanged listing proves the entry unchanged: a symlink (its target cannot
// be rewritten in place) or nothing at all at the name. A HostFollow miss may be a dangling
// symlink whose target could appear elsewhere, so it is always stat'ed.
bool proven_by_listing(WatchedPath::Side side, const std::optional<FileIdentity>& identity) {
  if (side != WatchedPath::Side::Host && side != WatchedPath::Side::Root) return false;
  return !identity || S_ISLNK(identity->mode);
}

// The parent of an absolute path ("/" for a top-level one and for "/" itself).
std::string_view parent_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? std::string_view("/") : path.substr(0, slash);
}

// The directory whose descriptor a check reads a watched path through: a listing's own directory,
// or the parent of anything else.
std::string_view directory_of(WatchedPath::Side side, std::string_view path) {
  return is_listing(side) ? path : parent_of(path);
}

Error malformed(std::size_t line_number, const char* what) {
  return Error{"watch list line " + std::to_string(line_number) + ": " + what};
}

// One path line, its path still escaped.
struct PathLine {
  WatchedPath::Side side = WatchedPath::Side::Host;
  std::optional<FileIdentity> identity;
  std::string_view escaped_path;
};

std::optional<PathLine> parse_path_line(std::string_view line) {
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto side = side_of(line.substr(0, space));
  if (!side) return std::nullopt;
  PathLine parsed;
  parsed.side = *side;
  std::size_t pos = space + 1;
  if (line.substr(pos, 2) == "- ") {
    pos += 2;
  } else {
    FileIdentity identity;
    if (!read_identity(line, pos, identity)) return std::nullopt;
    parsed.identity = identity;
  }
  parsed.escaped_path = line.substr(pos);
  if (parsed.escaped_path.empty() || parsed.escaped_path.front() != '/') return std::nullopt;
  return parsed;
}

// Splits off the first line of `text` (without its newline); nullopt when no newline ends it.
std::optional<std::string_view> next_line(std::string_view& text) {
  const std::size_t newline = text.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  const std::string_view line = text.substr(0, newline);
  text.remove_prefix(newline + 1);
  return line;
}

// Stats paths one directory after another through a kept descriptor of the directory, so that
// each lookup is one component.
class DirectoryWalker {
 public:
  // `root_fd` >= 0: directories are opened beneath it with no symlink followed (a root's paths);
  // otherwise they are host paths, opened as the kernel resolves them.
  explicit DirectoryWalker(int root_fd) : root_fd_(root_fd) {}

  // Makes `directory` (absolute) the current one, opening it unless it is already. Below a
  // directory found missing, nothing is opened: the resolver's misses come in whole trees of
  // hardware-capability subdirectories (tls/x86_64/x86_64, glibc-hwcaps/x86-64-v2, ...).
  void enter(std::string_view directory) {
    if (opened_ && directory == path_) return;
    const bool below_missing = !missing_.empty() && directory.starts_with(missing_) &&
                               directory.size() > missing_.size() && directory[missing_.size()] == '/';
    path_ = directory;
    opened_ = true;
    if (below_missing) {
      fd_ = UniqueFd();
      error_ = ENOENT;
      return;
    }
    const int fd = open_directory();
    error_ = fd >= 0 ? 0 : errno;
    fd_ = UniqueFd(fd);
    if (error_ == ENOENT) missing_ = path_;
  }

  bool is_open() const { return fd_.valid(); }

  // The current directory's identity, nullopt if nothing is there; false in `ok` on any other
  // failure (which never proves anything).
  std::optional<FileIdentity> self(bool& ok) {
    if (!fd_.valid()) return missing(ok);
    struct stat status {};
    if (::fstat(fd_.get(), &status) != 0) {
      ok = false;
      return std::nullopt;
    }
    return identity_of(status);
  }

  // The identity of `name` (one component) in the current directory.
  std::optional<FileIdentity> entry(const char* name, bool follow, bool& ok) {
    if (!fd_.valid()) return missing(ok);
    struct stat status {};
    if (::fstatat(fd_.get(), name, &status, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) ok = false;
      return std::nullopt;
    }
    return identity_of(status);
  }

 private:
  std::optional<FileIdentity> missing(bool& ok) const {
    if (error_ != ENOENT && error_ != ENOTDIR) ok = false;
    return std::nullopt;
  }

  int open_directory() {
    if (root_fd_ < 0) return ::open(path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    const int fd = open_beneath(root_fd_, path_ == "/" ? "." : path_.substr(1), O_PATH | O_DIRECTORY);
    if (fd >= 0) return fd;
    // A symlink or a file where a directory was: nothing jailbuild placed is there any more.
    errno = -fd == ELOOP || -fd == EXDEV ? ENOTDIR : -fd;
    return -1;
  }

  int root_fd_;
  bool opened_ = false;
  UniqueFd fd_;
  std::string path_;
  int error_ = 0;
  std::string missing_;  // the last directory found missing
};

const char* side_name(WatchedPath::Side side) {
  switch (side) {
    case WatchedPath::Side::Host: return "host path";
    case WatchedPath::Side::HostDirectory: return "host directory";
    case WatchedPath::Side::HostFollow: return "host path looked up";
    case WatchedPath::Side::HostListing: return "host directory's listing";
    case WatchedPath::Side::Root: return "root's entry";
    case WatchedPath::Side::RootListing: return "root directory's listing";
  }
  return "path";
}

std::string describe(const std::optional<FileIdentity>& identity) {
  return identity ? "a " + std::string(file_type_name(identity->mode)) : std::string("nothing");
}

// How a watched path differs from what the list says of it: "the host path /x: new (a regular
// file is there)", "...: gone", "...: changed (size, mtime)".
std::string path_change(WatchedPath::Side side, std::string_view path, const std::optional<FileIdentity>& was,
                        const std::optional<FileIdentity>& now) {
  std::string text = "the " + std::string(side_name(side)) + " " + std::string(path) + ": ";
  if (!was) return text + "new (" + describe(now) + " is there, where nothing was)";
  if (!now) return text + "gone (" + describe(was) + " was there)";
  return text + "changed (" + identity_difference(*was, *now) + ")";
}

// Checks the path lines `lines` (a side's, or all), giving up early once `mismatch` is set, by
// this call or the other side's. A directory's listing must come before the entries it proves.
// The first difference found is described in the result's `why_not` (empty when this call gave up
// because the other side found one).
WatchCheck check_lines(std::string_view lines, int root_fd, std::atomic<bool>& mismatch) {
  WatchCheck result;
  DirectoryWalker root_walker(root_fd);
  DirectoryWalker host_walker(-1);
  // The directory being read, and whether its listing proved its symlinks and misses.
  bool group_in_root = false;
  std::string group;
  bool have_group = false;
  bool listed = false;
  bool listing_would_help = false;
  std::string path_buffer;
  std::string name;  // a NUL-terminated copy of the last component, its storage reused
  auto fail = [&](std::string why) {
    mismatch.store(true, std::memory_order_relaxed);
    result.why_not = std::move(why);
    return result;
  };
  while (!lines.empty()) {
    if (mismatch.load(std::memory_order_relaxed)) return fail("");
    const auto line = next_line(lines);
    const auto parsed = line ? parse_path_line(*line) : std::nullopt;
    if (!parsed) return fail("a malformed line: " + std::string(line.value_or(lines)));
    std::string_view path = parsed->escaped_path;
    if (path.find('\\') != std::string_view::npos) {
      auto unescaped = unescape(path);
      if (!unescaped) return fail("a malformed path: " + std::string(path));
      path_buffer = std::move(*unescaped);
      path = path_buffer;
    }
    const bool root_side = in_root(parsed->side);
    const std::string_view directory = directory_of(parsed->side, path);
    DirectoryWalker& walker = root_side ? root_walker : host_walker;
    if (!have_group || root_side != group_in_root || directory != group) {
      if (listing_would_help && !listed) ++result.unlisted;
      have_group = true;
      group_in_root = root_side;
      group = directory;
      listed = listing_would_help = false;
      walker.enter(directory);
    }
    bool ok = true;
    if (is_listing(parsed->side)) {
      listed = walker.self(ok) == parsed->identity;
      if (!ok)
        return fail("the " + std::string(side_name(parsed->side)) + " " + std::string(path) + ": cannot be checked");
      continue;
    }
    if (parsed->side == WatchedPath::Side::Root) ++result.root_entries;
    if (proven_by_listing(parsed->side, parsed->identity)) {
      if (listed) continue;
      // A directory that is not there proves all its entries missing with one failed open.
      listing_would_help = walker.is_open();
    }
    const std::size_t slash = path.rfind('/');
    std::optional<FileIdentity> now;
    if (path.size() == 1) {  // "/" itself
      now = walker.self(ok);
    } else {
      name.assign(path.substr(slash + 1));
      if (name == "." || name == "..") return fail("a malformed path: " + std::string(path));
      now = walker.entry(name.c_str(), parsed->side == WatchedPath::Side::HostFollow, ok);
    }
    if (now && ignores_entries({parsed->side, {}, now})) *now = without_times(*now);
    if (!ok)
      return fail("the " + std::string(side_name(parsed->side)) + " " + std::string(path) + ": cannot be checked");
    if (now != parsed->identity) return fail(path_change(parsed->side, path, parsed->identity, now));
  }
  if (listing_would_help && !listed) ++result.unlisted;
  result.current = true;
  return result;
}

// Where the root's lines start: the list is sorted host side first (complete_watch_list), and the
// two sides cost about the same stat calls, each file in the root having its source on the host.
std::size_t root_side_start(std::string_view lines) {
  if (lines.starts_with("r ") || lines.starts_with("R ")) return 0;
  const std::size_t file = lines.find("\nr ");
  const std::size_t listing = lines.find("\nR ");
  const std::size_t newline = std::min(file, listing);
  return newline == std::string_view::npos ? lines.size() : newline + 1;
}

// One side's lines, checked by whichever of the two threads claims them first.
struct SideCheck {
  std::string_view lines;
  int root_fd = -1;
  std::atomic<bool>* mismatch = nullptr;
  cpu_set_t allowed{};  // the CPUs this process may use
  std::atomic<bool> claimed = false;
  WatchCheck result;

  // Whether this call did the check.
  bool check_unless_claimed() {
    if (claimed.exchange(true)) return false;
    result = check_lines(lines, root_fd, *mismatch);
    return true;
  }
};

void* check_side(void* argument) {
  auto* side = static_cast<SideCheck*>(argument);
  // Started on another CPU so as not to displace its creator; from here on it may run anywhere,
  // should that CPU be busy. (Pid 0: this thread.)
  ::sched_setaffinity(0, sizeof side->allowed, &side->allowed);
  if (side->check_unless_claimed()) side->result.root_side_on_second_thread = true;
  return nullptr;
}

// Starts a thread to check `side` on another CPU than this thread's; false if there is none to be
// had. Another CPU, because Linux starts a new thread on its creator's CPU and runs it first: the
// creator would then wait most of a millisecond for the scheduler to move one of them.
bool start_on_another_cpu(pthread_t& thread, SideCheck& side) {
  if (::sched_getaffinity(0, sizeof side.allowed, &side.allowed) != 0) return false;
  cpu_set_t others = side.allowed;
  if (const int here = ::sched_getcpu(); here >= 0 && here < CPU_SETSIZE) CPU_CLR(static_cast<std::size_t>(here), &others);
  if (CPU_COUNT(&others) == 0) return false;
  pthread_attr_t attributes;
  if (::pthread_attr_init(&attributes) != 0) return false;
  constexpr std::size_t kStackSize = 256 * 1024;  // check_lines keeps its strings on the heap
  const bool started = ::pthread_attr_setstacksize(&attributes, kStackSize) == 0 &&
                       ::pthread_attr_setaffinity_np(&attributes, sizeof others, &others) == 0 &&
                       ::pthread_create(&thread, &attributes, check_side, &side) == 0;
  ::pthread_attr_destroy(&attributes);
  return started;
}

}  // namespace

bool ignores_entries(const WatchedPath& watched) {
  if (watched.side == WatchedPath::Side::HostDirectory) return true;
  return watched.side == WatchedPath::Side::Root && watched.identity && S_ISDIR(watched.identity->mode);
}

WatchedPath make_watched(WatchedPath::Side side, std::string path, std::optional<FileIdentity> identity) {
  WatchedPath watched{side, std::move(path), identity};
  if (ignores_entries(watched)) watched.identity = without_times(*watched.identity);
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
  out += "\nintent ";
  append_escaped(out, intent_json_line(list.intent));
  out += '\n';
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

Result<WatchListText> read_watch_list(std::string text) {
  WatchListText read;
  WatchList& list = read.header;
  std::string_view rest = text;
  std::size_t line_number = 0;
  bool saw_manifest = false;
  bool saw_intent = false;
  while (!rest.empty()) {
    const std::size_t offset = text.size() - rest.size();
    const auto line = next_line(rest);
    if (!line) return malformed(line_number + 1, "no newline at the end");
    if (++line_number == 1) {
      if (*line != kHeader) return malformed(1, "not a jailbuild watch list of version 3");
      continue;
    }
    const std::size_t space = line->find(' ');
    if (space == std::string_view::npos) return malformed(line_number, "no field");
    const std::string_view keyword = line->substr(0, space);
    const std::string_view value = line->substr(space + 1);
    if (side_of(keyword)) {  // the first path line: the rest is read by whoever wants the paths
      read.paths_offset = offset;
      break;
    }
    if (keyword == "manifest") {
      const std::string with_end = std::string(value) + ' ';
      std::size_t at = 0;
      if (!read_identity(with_end, at, list.manifest) || at != with_end.size()) {
        return malformed(line_number, "bad manifest identity");
      }
      saw_manifest = true;
      continue;
    }
    if (keyword != "root" && keyword != "boot" && keyword != "intent") {
      return malformed(line_number, "unknown keyword");
    }
    std::optional<std::string> unescaped = unescape(value);
    if (!unescaped) return malformed(line_number, "bad escape");
    if (keyword == "root") {
      list.root = std::move(*unescaped);
    } else if (keyword == "boot") {
      list.boot_id = std::move(*unescaped);
    } else {
      read.intent_line = std::move(*unescaped);
      saw_intent = true;
    }
  }
  if (line_number == 0) return malformed(1, "empty");
  if (!saw_manifest) return malformed(line_number, "no manifest identity");
  if (!saw_intent) return malformed(line_number, "no intent");
  if (read.paths_offset == 0) read.paths_offset = text.size();
  read.text = std::move(text);
  return read;
}

Result<WatchList> parse_watch_list(std::string_view text) {
  auto read = read_watch_list(std::string(text));
  if (!read) return read.error();
  WatchList list = std::move(read->header);
  Result<Intent> intent = intent_from_json_line(read->intent_line);
  if (!intent) return Error{"not a watch list: its intent: " + intent.error().message};
  list.intent = std::move(*intent);
  std::string_view rest = std::string_view(read->text).substr(read->paths_offset);
  const std::string_view header = std::string_view(read->text).substr(0, read->paths_offset);
  const auto header_lines = static_cast<std::size_t>(std::count(header.begin(), header.end(), '\n'));
  for (std::size_t line_number = header_lines + 1; !rest.empty(); ++line_number) {
    const auto line = next_line(rest);
    if (!line) return malformed(line_number, "no newline at the end");
    const auto parsed = parse_path_line(*line);
    if (!parsed) return malformed(line_number, "not a watched path");
    auto path = unescape(parsed->escaped_path);
    if (!path) return malformed(line_number, "bad escape");
    list.paths.push_back({parsed->side, std::move(*path), parsed->identity});
  }
  return list;
}

std::optional<WatchListText> load_watch_list(const std::string& path) {
  // A list is about 250 bytes per entry; a root of a million entries stays under this.
  constexpr std::uint64_t kMaxWatchListSize = std::uint64_t{512} << 20;
  auto text = read_file(path, kMaxWatchListSize, "a watch list");
  if (!text || !text->has_value()) return std::nullopt;
  auto read = read_watch_list(std::move(**text));
  if (!read) return std::nullopt;
  return std::move(*read);
}

Result<void> save_watch_list(const std::string& path, const WatchList& list) {
  return replace_file(path, serialize_watch_list(list));
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
  return identity_of(status);
}

void complete_watch_list(WatchList& list, int root_fd, std::int64_t settled_before_ns) {
  std::erase_if(list.paths, [](const WatchedPath& watched) { return is_listing(watched.side); });
  std::set<std::pair<bool, std::string>> directories;  // (in the root, directory) with entries to prove
  for (const WatchedPath& watched : list.paths) {
    if (proven_by_listing(watched.side, watched.identity))
      directories.emplace(in_root(watched.side), std::string(parent_of(watched.path)));
  }
  DirectoryWalker root_walker(root_fd);
  DirectoryWalker host_walker(-1);
  for (const auto& [root_side, directory] : directories) {
    if (root_side && root_fd < 0) continue;
    DirectoryWalker& walker = root_side ? root_walker : host_walker;
    walker.enter(directory);
    bool ok = true;
    const std::optional<FileIdentity> identity = walker.self(ok);
    if (!ok || !identity || identity->ctime_ns >= settled_before_ns) continue;
    list.paths.push_back(
        {root_side ? WatchedPath::Side::RootListing : WatchedPath::Side::HostListing, directory, identity});
  }
  auto order = [](const WatchedPath& watched) {
    return std::make_tuple(in_root(watched.side), directory_of(watched.side, watched.path), !is_listing(watched.side),
                           std::string_view(watched.path), watched.side);
  };
  std::sort(list.paths.begin(), list.paths.end(),
            [&](const WatchedPath& a, const WatchedPath& b) { return order(a) < order(b); });
}

WatchCheck check_watch_list(const WatchListText& list, int root_fd, const FileIdentity& manifest) {
  WatchCheck check;
  const WatchList& header = list.header;
  if (header.manifest != manifest) {
    check.why_not =
        "the manifest changed since the list was written (" + identity_difference(header.manifest, manifest) + ")";
    return check;
  }
  if (header.boot_id.empty() || header.boot_id != current_boot_id()) {
    check.why_not = "the machine rebooted since the list was written (the loader's hardware capabilities may differ)";
    return check;
  }
  if (root_fd < 0) {
    check.why_not = "the root does not exist";
    return check;
  }
  // Nearly all the time goes to the stat calls, a microsecond or two of kernel time each and
  // independent of one another: with a second CPU, the host side and the root side are checked
  // at the same time.
  constexpr std::size_t kWorthASecondThread = 64 * 1024;  // bytes of path lines, about 500 paths
  const std::string_view lines = std::string_view(list.text).substr(list.paths_offset);
  const std::size_t cut = lines.size() < kWorthASecondThread ? lines.size() : root_side_start(lines);
  std::atomic<bool> mismatch = false;
  SideCheck root_side;
  root_side.lines = lines.substr(cut);
  root_side.root_fd = root_fd;
  root_side.mismatch = &mismatch;
  pthread_t thread{};
  if (cut == lines.size() || !start_on_another_cpu(thread, root_side)) { return check_lines(lines, root_fd, mismatch); }
  const WatchCheck host_side = check_lines(lines.substr(0, cut), root_fd, mismatch);
  // Unless the thread has started on it by now: then it is not worth waiting for.
  root_side.check_unless_claimed();
  ::pthread_join(thread, nullptr);
  check.current = host_side.current && root_side.result.current;
  check.why_not = !host_side.why_not.empty() ? host_side.why_not : root_side.result.why_not;
  check.root_entries = host_side.root_entries + root_side.result.root_entries;
  check.unlisted = host_side.unlisted + root_side.result.unlisted;
  check.root_side_on_second_thread = root_side.result.root_side_on_second_thread;
  return check;
}

namespace {

// A margin for filesystems whose timestamps lag the clock by a tick: a path whose last change is
// less than this before a run started may change again without its times moving.
constexpr std::int64_t kSettleMarginNs = 1'000'000'000;

Proof not_proven(std::string why) {
  Proof proof;
  proof.why_not = std::move(why);
  return proof;
}

}  // namespace

std::int64_t now_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

Proof prove_unchanged(const WatchedRoot& watched, const Intent& request, IntentMatch match) {
  const std::optional<WatchListText> watch = load_watch_list(watched.watch_path);
  if (!watch) return not_proven("no watch list (" + watched.watch_path + " missing or unreadable)");
  return prove_unchanged(watched, *watch, request, match);
}

std::optional<Intent> current_intent(const WatchedRoot& watched, const WatchListText& watch) {
  if (watch.header.root != watched.root) return std::nullopt;
  const std::optional<FileIdentity> manifest = identity_at(watched.manifest_path, false);
  if (!manifest || *manifest != watch.header.manifest) return std::nullopt;
  Result<Intent> intent = intent_from_json_line(watch.intent_line);
  if (!intent) return std::nullopt;
  return std::move(*intent);
}

Proof prove_unchanged(const WatchedRoot& watched, const WatchListText& loaded, const Intent& request,
                      IntentMatch match) {
  const WatchListText* watch = &loaded;
  if (watch->header.root != watched.root) return not_proven("the watch list is of another root, " + watch->header.root);
  if (request != Intent{} || match == IntentMatch::exact) {
    Result<Intent> recorded = intent_from_json_line(watch->intent_line);
    if (!recorded) return not_proven("the watch list's intent cannot be read: " + recorded.error().message);
    if (match == IntentMatch::exact && *recorded != request)
      return not_proven("the list was written for another intent than the one asked for");
    // (An intent equal to the request holds all of it: extend_intent, quadratic in requirements, is not asked.)
    if (const std::vector<std::string> asked = match == IntentMatch::exact ? std::vector<std::string>{}
                                                                             : extend_intent(*recorded, request);
        !asked.empty()) {
      return not_proven("the list was written for an intent without " + asked.front());
    }
  }
  const std::optional<FileIdentity> manifest = identity_at(watched.manifest_path, false);
  if (!manifest) return not_proven("no manifest at " + watched.manifest_path);
  const std::int64_t started_ns = now_ns();
  Proof proof;
  proof.check = check_watch_list(*watch, watched.root_fd, *manifest);
  if (!proof.check.current) return not_proven(std::move(proof.check.why_not));
  proof.unchanged = true;
  // Directories that had not settled when the list was written (the run had just written to
  // them) have settled since: their listings spare the next runs a stat call per symlink.
  if (proof.check.unlisted > 0 && watched.locked) {
    if (auto list = parse_watch_list(watch->text)) {
      const WatchList before = *list;
      complete_watch_list(*list, watched.root_fd, started_ns - kSettleMarginNs);
      if (*list != before) (void)save_watch_list(watched.watch_path, *list);  // only a cache
    }
  }
  return proof;
}

NewWatchList make_watch_list(const WatchedRoot& watched, const Manifest& manifest, const CopyPlan& plan,
                             std::int64_t started_ns) {
  NewWatchList made;
  const std::optional<FileIdentity> manifest_identity = identity_at(watched.manifest_path, false);
  if (!manifest_identity) {
    made.why_not = "no manifest at " + watched.manifest_path;
    return made;
  }
  WatchList list;
  list.root = watched.root;
  list.manifest = *manifest_identity;
  list.boot_id = current_boot_id();
  list.intent = manifest.intent;
  const std::int64_t settled_before_ns = started_ns - kSettleMarginNs;
  auto settled = [&](const std::optional<FileIdentity>& identity) {
    return !identity || identity->ctime_ns < settled_before_ns;
  };
  auto unsettled = [&](const std::string& path) {
    made.why_not = path + " changed during the run (or less than a second before it)";
    return made;
  };
  std::set<std::string> sources;  // of files and symlinks, whose every change the list notices
  for (const auto& [path, entry] : manifest.entries) {
    list.paths.push_back(make_watched(WatchedPath::Side::Root, path, entry.copy_identity));
    if (entry.source.empty()) continue;
    if (entry.source_identity == FileIdentity{}) {
      made.why_not = path + ": its source " + entry.source + " was not there when it was placed";
      return made;
    }
    if (entry.type == EntryType::Directory) {
      // What matters of a directory passed through is what the root's copy takes from it; one
      // whose entries were read (an added directory) is among plan.looked_up as well.
      list.paths.push_back(make_watched(WatchedPath::Side::HostDirectory, entry.source, entry.source_identity));
      continue;
    }
    const FileIdentity& source = entry.source_identity;
    if (!settled(source)) return unsettled(entry.source);
    list.paths.push_back({WatchedPath::Side::Host, entry.source, source});
    sources.insert(entry.source);
  }
  // Each path looked up, found or not, as the lookup saw it (symlinks followed). A miss is watched
  // as such, not through its directory's times alone: a file created next to /etc/ld.so.preload
  // changes nothing. A miss with nothing at all at the name (not even a dangling symlink) is
  // watched with lstat, which its directory's listing can prove.
  for (const std::string& path : plan.looked_up) {
    if (sources.count(path)) continue;
    std::optional<FileIdentity> identity = identity_at(path, true);
    if (!settled(identity)) return unsettled(path);
    const bool nothing_there = !identity && !identity_at(path, false);
    list.paths.push_back({nothing_there ? WatchedPath::Side::Host : WatchedPath::Side::HostFollow, path, identity});
  }
  complete_watch_list(list, watched.root_fd, settled_before_ns);
  made.list = std::move(list);
  return made;
}

}  // namespace jailbuild
