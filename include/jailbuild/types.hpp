// The vocabulary the stages share: what a root is asked to hold (its intent), what an entry of a
// root is, why it is there, the inode facts kept about it, and what went wrong finding or placing
// it. The planner produces these, the writer and the manifest consume them, the CLI prints them;
// no stage owns them.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jailbuild/requirement.hpp"

namespace jailbuild {

// How a root is built, as the commands that shaped it asked: what every later run repeats.
struct IntentOptions {
  bool keep_setuid = false;    // setuid and setgid bits kept on copies (add --keep-setuid)
  bool allow_devices = false;  // device nodes copied (add --allow-devices)
  // Runtime rules turned on and off by name (--with RULE, --without RULE): never both for one name.
  std::vector<std::string> rules_with;
  std::vector<std::string> rules_without;
  std::vector<std::string> users;  // users the root's passwd and group files are to hold (add --user)

  bool operator==(const IntentOptions&) const = default;
};

// What a root is asked to hold, apart from what it holds (a manifest's entries, which are state):
// the typed requirements given to `add`, in order, each once, and the options every run repeats.
// `sync` plans it again; the watch list proves a run unchanged only for the intent it records.
struct Intent {
  IntentOptions options;
  std::vector<Requirement> requirements;

  bool operator==(const Intent&) const = default;
};

enum class EntryType { Directory, Symlink, File };

// "directory", "symlink", "file": the manifest's spelling, and the CLI's.
inline const char* to_string(EntryType type) {
  switch (type) {
    case EntryType::Directory: return "directory";
    case EntryType::Symlink: return "symlink";
    case EntryType::File: return "file";
  }
  return "unknown";
}

// Enough of a file's inode to tell, without reading contents, whether it changed.
struct FileIdentity {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint32_t mode = 0;  // st_mode, type bits included
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;

  bool operator==(const FileIdentity&) const = default;
};

// What differs between two identities of a path, for messages: "inode, size, mtime" (of inode,
// type, mode, owner, size, mtime and ctime, those that differ). "" when they are equal.
inline std::string identity_difference(const FileIdentity& was, const FileIdentity& now) {
  std::string text;
  const auto differs = [&text](bool differ, const char* field) {
    if (differ) text += (text.empty() ? "" : ", ") + std::string(field);
  };
  differs(was.dev != now.dev || was.ino != now.ino, "inode");
  differs((was.mode & S_IFMT) != (now.mode & S_IFMT), "type");
  differs((was.mode & ~std::uint32_t{S_IFMT}) != (now.mode & ~std::uint32_t{S_IFMT}), "mode");
  differs(was.uid != now.uid || was.gid != now.gid, "owner");
  differs(was.size != now.size, "size");
  differs(was.mtime_ns != now.mtime_ns, "mtime");
  differs(was.ctime_ns != now.ctime_ns, "ctime");
  return text;
}

// The FileIdentity of an lstat or fstat result.
inline FileIdentity identity_of(const struct stat& status) {
  constexpr std::int64_t kNanosecondsPerSecond = 1'000'000'000;
  FileIdentity identity;
  identity.dev = status.st_dev;
  identity.ino = status.st_ino;
  identity.size = static_cast<std::uint64_t>(status.st_size);
  identity.mtime_ns = static_cast<std::int64_t>(status.st_mtim.tv_sec) * kNanosecondsPerSecond + status.st_mtim.tv_nsec;
  identity.ctime_ns = static_cast<std::int64_t>(status.st_ctim.tv_sec) * kNanosecondsPerSecond + status.st_ctim.tv_nsec;
  identity.mode = status.st_mode;
  identity.uid = status.st_uid;
  identity.gid = status.st_gid;
  return identity;
}

// Why an entry is in the root.
struct Reason {
  std::string added;      // the PATH given to `add` that brought it in
  std::string needed_by;  // the object whose request (DT_NEEDED, PT_INTERP, #!) found it; "" for added paths
  std::string rule;       // how: "ld.so.cache", "rpath of X", "interpreter", "symlink on the way to X", ...

  bool operator==(const Reason&) const = default;
};

enum class ProblemKind {
  NotFound,    // a needed library was not found: the loader stops with "cannot open shared object file"
  Fatal,       // the loader would abort the load (invalid ELF header, bad OS ABI, file too short, ...)
  Skipped,     // the loader silently ignores the entry (a DST it cannot expand)
  Unreadable,  // the FILE itself cannot be read or is not a program the loader can run
};

// What the resolver could not find or the planner could not read.
struct Problem {
  ProblemKind kind = ProblemKind::NotFound;
  std::string name;                      // the needed name or path concerned
  std::optional<std::size_t> needed_by;  // object index in the link map, if any
  std::string message;                   // human-readable, names the path and the reason
};

// Something at a planned path that jailbuild did not place, or of another type: left alone.
struct Conflict {
  std::string path;
  std::string reason;
};

// The PATH a program gets when nobody gave one: Debian's default for a login shell (/etc/login.defs
// ENV_SUPATH). What `deps` and the resolver search for `#!/usr/bin/env NAME`, and what `run` gives
// the jailed program, so that both find the same program.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The locale `run` gives a program (LANG) when the caller's is not in the root, and where its files
// are: glibc's C locale with UTF-8, in the locale directory glibc reads when LOCPATH is unset, under
// the name with its codeset normalised (as setlocale looks for it). The `locale` rule adds these
// files, so that `add` and `run` agree on the locale by this one definition.
inline constexpr const char* kRunLocale = "C.UTF-8";
inline constexpr const char* kLocaleDirectory = "/usr/lib/locale";
inline constexpr const char* kRunLocaleFiles = "/usr/lib/locale/C.utf8";

}  // namespace jailbuild
