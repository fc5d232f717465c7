// What a run adapts to the root it runs, read on the host before the clone through the root's
// descriptor (never following a symlink, never leaving the root): the locale LANG names, and the
// passwd and group lines the program needs to name itself. Nothing is written to the root: the
// names reach the jail as generated files laid over its /etc by the mount plan (mount_plan.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "jail_setup.hpp"
#include "jailbuild/types.hpp"
#include "util/io.hpp"
#include "util/open_beneath.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"
#include "util/users.hpp"

namespace jailbuild::run {
namespace {

// ---- the locale -------------------------------------------------------------------------------

// Where glibc's setlocale looks for a locale's files when LOCPATH is unset (kLocaleDirectory), as a
// path beneath the root: a directory per locale. (The locale-archive it reads first is not read
// here: a name found only there is reported as unverified, and the default never relies on it.)
const std::string kLocalesBeneathRoot = std::string(kLocaleDirectory).substr(1) + "/";

// glibc's normalisation of a codeset (_nl_normalize_codeset): letters lower-cased, digits kept,
// everything else dropped, "iso" put in front of an all-digit result. "UTF-8" is "utf8".
std::string normalized_codeset(std::string_view codeset) {
  std::string normal;
  bool only_digits = true;
  for (const char c : codeset) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalpha(byte) != 0) {
      normal += static_cast<char>(std::tolower(byte));
      only_digits = false;
    } else if (std::isdigit(byte) != 0) {
      normal += c;
    }
  }
  return only_digits ? "iso" + normal : normal;
}

// Whether the root holds locale `name` as the files setlocale would load: C and POSIX are built
// into libc; any other is usr/lib/locale/NAME/LC_CTYPE, under the name as given or with its
// codeset normalised (C.UTF-8 is in C.utf8/), a regular file reached without a symlink.
bool root_holds_locale(int root_fd, const std::string& name) {
  if (name == "C" || name == "POSIX") return true;
  // setlocale refuses a name holding a slash, and so does this (it would leave the directory).
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return false;
  std::vector<std::string> candidates{name};
  if (const std::size_t dot = name.find('.'); dot != std::string::npos) {
    const std::size_t at = name.find('@', dot);
    const std::string modifier = at == std::string::npos ? "" : name.substr(at);
    candidates.push_back(name.substr(0, dot + 1) + normalized_codeset(name.substr(dot + 1, at - dot - 1)) + modifier);
  }
  for (const std::string& candidate : candidates) {
    const int fd = open_beneath(root_fd, kLocalesBeneathRoot + candidate + "/LC_CTYPE", O_PATH);
    if (fd < 0) continue;
    const UniqueFd held(fd);
    struct stat status {};
    if (::fstat(held.get(), &status) == 0 && S_ISREG(status.st_mode)) return true;
  }
  return false;
}

bool root_has_locale_archive(int root_fd) {
  const int fd = open_beneath(root_fd, kLocalesBeneathRoot + "locale-archive", O_PATH);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// ---- the user and group databases -------------------------------------------------------------

// The largest passwd or group file of a root read: far above any real one, and bounded so that a
// root cannot make jailbuild read without end (a FIFO is refused as not a regular file).
constexpr off_t kMaxDatabaseSize = off_t{4} << 20;

// The root's own etc/NAME, read through its descriptor; empty if it has none. What is not a
// regular file (a symlink, which could point anywhere in the jail, a FIFO) is not read, and the
// generated file replaces it for this run: -v says so.
Result<std::string> read_root_database(int root_fd, const RunOptions& options, const char* name) {
  const std::string relative = std::string("etc/") + name;
  const std::string shown = options.root + "/" + relative;
  const int fd = open_beneath(root_fd, relative, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (fd == -ENOENT) return std::string();
  if (fd < 0) {
    spdlog::info("run: {}: not read ({}); the jail sees only the lines jailbuild makes", shown, errno_text(-fd));
    return std::string();
  }
  const UniqueFd held(fd);
  struct stat status {};
  if (::fstat(held.get(), &status) != 0) return system_error(shown + ": stat", errno);
  if (!S_ISREG(status.st_mode)) {
    spdlog::info("run: {}: not a regular file; the jail sees only the lines jailbuild makes", shown);
    return std::string();
  }
  if (status.st_size > kMaxDatabaseSize) return Error{shown + ": larger than 4 MiB; not read as a user database"};
  std::string text(static_cast<std::size_t>(status.st_size), '\0');
  const ssize_t got = read_full(held.get(), text);
  if (got < 0) return system_error(shown + ": read", static_cast<int>(-got));
  text.resize(static_cast<std::size_t>(got));
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

// The names and the ids (first and third fields) of a passwd or group file's lines.
struct Database {
  std::string text;
  std::set<std::string> names;
  std::set<std::string> ids;
};

Database parse_database(std::string text) {
  Database database;
  for (std::size_t begin = 0; begin < text.size();) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    const std::string_view line(text.data() + begin, end - begin);
    const std::size_t first = line.find(':');
    if (first != std::string_view::npos) {
      database.names.emplace(line.substr(0, first));
      const std::size_t second = line.find(':', first + 1);
      const std::size_t third = second == std::string_view::npos ? second : line.find(':', second + 1);
      if (third != std::string_view::npos) database.ids.emplace(line.substr(second + 1, third - second - 1));
    }
    begin = end + 1;
  }
  database.text = std::move(text);
  return database;
}

// Adds the host's line for `name` (made by `line` only then) unless the root's file names it or
// its id already.
template <typename MakeLine>
Result<bool> add_line(Database& database, const std::string& name, unsigned long id, MakeLine line) {
  const std::string shown_id = std::to_string(id);
  if (database.names.contains(name) || database.ids.contains(shown_id)) return false;
  database.text += TRY(line());
  database.names.insert(name);
  database.ids.insert(shown_id);
  return true;
}

}  // namespace

std::vector<std::string> environment_for_root(int root_fd, const RunOptions& options) {
  std::vector<std::string> environment = options.environment;
  const auto given = std::find_if(environment.begin(), environment.end(),
                                  [](const std::string& entry) { return entry.starts_with("LANG="); });
  if (given != environment.end()) {
    // The caller's choice (--env, --keep-env), kept as it is; a word if the root cannot honour it.
    const std::string name = given->substr(5);
    if (!name.empty() && !root_holds_locale(root_fd, name))  // an empty LANG is C
      spdlog::info("run: LANG={} kept as given, but {} has no {}{}{}", name, options.root, kLocalesBeneathRoot, name,
                   root_has_locale_archive(root_fd) ? " (it may be in its locale-archive, which is not read)"
                                                    : ": programs will fall back to C");
    return environment;
  }
  if (!options.lang_from_root) return environment;  // --keep-env, and the caller has no LANG
  std::string lang;
  if (!options.caller_lang.empty() && root_holds_locale(root_fd, options.caller_lang)) {
    lang = options.caller_lang;
    spdlog::info("run: LANG={}: the caller's, which {} holds", lang, options.root);
  } else if (root_holds_locale(root_fd, kRunLocale)) {
    lang = kRunLocale;
    spdlog::info("run: LANG={}: {} holds {}{}", lang, options.root, std::string(kRunLocaleFiles).substr(1),
                 options.caller_lang.empty() ? "" : " (not the caller's " + options.caller_lang + ")");
  } else {
    const bool caller_asked_for_it =
        options.caller_lang == kRunLocale || options.caller_lang == base_name(kRunLocaleFiles);
    // glibc 2.36 (Debian 12) has no built-in C.UTF-8: without its files setlocale fails and the
    // program runs in C anyway, only without knowing it. Saying C is saying what it gets.
    lang = "C";
    spdlog::info("run: LANG=C: {} has no {}{} (add {} for UTF-8)", options.root, std::string(kRunLocaleFiles).substr(1),
                 options.caller_lang.empty() || caller_asked_for_it ? "" : " nor the caller's " + options.caller_lang,
                 kRunLocaleFiles);
  }
  environment.push_back("LANG=" + lang);
  return environment;
}

Result<std::vector<GeneratedFile>> user_database_for_root(int root_fd, const RunOptions& options) {
  const Identity& identity = options.identity;
  if (!options.user_named) return std::vector<GeneratedFile>{};
  Database users = parse_database(TRY(read_root_database(root_fd, options, "passwd")));
  Database groups = parse_database(TRY(read_root_database(root_fd, options, "group")));
  const bool user_missing = !users.ids.contains(std::to_string(identity.uid));
  bool group_missing = !groups.ids.contains(std::to_string(identity.gid));
  for (const gid_t gid : identity.groups) group_missing = group_missing || !groups.ids.contains(std::to_string(gid));
  if (!user_missing && !group_missing) return std::vector<GeneratedFile>{};

  const auto account = account_by_uid(identity.uid);
  if (!account) {
    spdlog::info("run: uid {} has no name on the host either: the program cannot name itself", identity.uid);
  }
  bool added = false;
  // The run's user and groups, and the two every program may expect: root, and nobody/nogroup
  // (the name of every id the user namespace does not map).
  for (const auto& user : {account_by_uid(0), account, account_by_name("nobody")})
    if (user) added = TRY(add_line(users, user->name, user->uid, [&] { return passwd_line(*user); })) || added;
  std::vector<std::optional<GroupEntry>> wanted{group_by_id(0), group_by_id(identity.gid)};
  for (const gid_t gid : identity.groups) wanted.push_back(group_by_id(gid));
  wanted.push_back(group_by_name("nogroup"));
  for (const auto& group : wanted)
    if (group) added = TRY(add_line(groups, group->name, group->gid, [&] { return group_line(*group); })) || added;
  if (!added) return std::vector<GeneratedFile>{};
  struct stat etc {};
  const bool has_etc = ::fstatat(root_fd, "etc", &etc, AT_SYMLINK_NOFOLLOW) == 0;
  if (has_etc && !S_ISDIR(etc.st_mode)) {
    spdlog::info("run: {}/etc is not a directory: the run's user and groups stay without names", options.root);
    return std::vector<GeneratedFile>{};
  }
  if (!has_etc && options.writable && !options.chroot_only) {
    // Its mount point would have to be made in the root itself.
    spdlog::info(
        "run: --writable: {} has no /etc, and none is made in it: the run's user and groups stay without "
        "names",
        options.root);
    return std::vector<GeneratedFile>{};
  }
  if (options.chroot_only) {
    spdlog::info(
        "run: --chroot-only: {} lacks the names of the run's user or groups, and without a mount namespace "
        "they cannot be shown to the program",
        options.root);
    return std::vector<GeneratedFile>{};
  }
  spdlog::info(
      "run: {}/etc lacks the run's user or groups: for this run the jail's /etc/passwd and /etc/group "
      "are the root's lines plus the host's for them, root and nobody (read-only, the root unchanged)",
      options.root);
  return std::vector<GeneratedFile>{{"passwd", std::move(users.text)}, {"group", std::move(groups.text)}};
}

}  // namespace jailbuild::run
