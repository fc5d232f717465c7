// The manifest: what was added to a root, with which options, and every directory, symlink and
// file placed there, with its source and why it is there. It lives outside the root, in the state
// directory, so that a jailed process cannot edit what `sync` will copy in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "jailbuild/result.hpp"

namespace jailbuild {

inline constexpr int kManifestVersion = 1;

enum class EntryType { Directory, Symlink, File };

const char* to_string(EntryType type);

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
std::string identity_difference(const FileIdentity& was, const FileIdentity& now);

// Why an entry is in the root.
struct Reason {
  std::string added;      // the PATH given to `add` that brought it in
  std::string needed_by;  // the object whose request (DT_NEEDED, PT_INTERP, #!) found it; "" for added paths
  std::string rule;       // how: "ld.so.cache", "rpath of X", "interpreter", "symlink on the way to X", ...

  bool operator==(const Reason&) const = default;
};

// One directory, symlink or file jailbuild placed in the root.
struct ManifestEntry {
  std::string path;  // absolute inside the root, no symlink on the way
  EntryType type = EntryType::File;
  std::string source;       // the host path it mirrors ("" for generated files such as the root's ld.so.cache)
  std::string link_target;  // for symlinks, exactly as on the host
  std::vector<Reason> reasons;
  FileIdentity source_identity;  // the host file when it was copied
  FileIdentity copy_identity;    // the file in the root after it was placed

  bool operator==(const ManifestEntry&) const = default;
};

struct Manifest {
  int version = kManifestVersion;
  std::string root;                                // absolute path of the root on the host
  std::map<std::string, std::string> options;      // add options that sync must repeat (e.g. keep_setuid)
  std::vector<std::string> added;                  // the PATHs given to `add`, in order, each once
  std::map<std::string, ManifestEntry> entries;    // by path

  nlohmann::json to_json() const;
  static Result<Manifest> from_json(const nlohmann::json& json);
};

// Where manifests live: $JAILBUILD_STATE_DIR if set, /var/lib/jailbuild for root, else
// $XDG_STATE_HOME/jailbuild (default ~/.local/state/jailbuild).
std::string default_state_dir();

// The manifest file of `root` (an absolute, canonical path) under `state_dir`: StateDir's
// files_of(root).manifest (state_dir.hpp, which owns the state directory's layout).
std::string manifest_path(const std::string& state_dir, const std::string& root);

// Loads a manifest. A missing file gives nullopt (a root jailbuild has not seen); a corrupt file or
// an unknown version is an error naming the file and the problem, never an empty manifest.
Result<std::optional<Manifest>> load_manifest(const std::string& path);

// Writes the manifest atomically (temporary file in the same directory, fsync, rename, fsync of
// the directory), creating the state directory if needed.
Result<bool> save_manifest(const std::string& path, const Manifest& manifest);

// An exclusive lock on one root, held in the state directory (not in the root, where a jailed
// process could hold it forever). Released when destroyed.
class RootLock {
 public:
  // Blocks until the lock is free when `wait`, after telling the user on stderr who holds it;
  // otherwise fails at once with a message naming the root. `root` is the root's path without
  // symlinks (copy::open_root's); it is never looked up, only compared with the state directory's.
  static Result<RootLock> acquire(const std::string& state_dir, const std::string& root, bool wait);

  RootLock(RootLock&& other) noexcept;
  RootLock& operator=(RootLock&&) = delete;
  ~RootLock();

 private:
  explicit RootLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace jailbuild
