// The manifest: a root's intent (what it was asked to hold: requirements and options) apart from
// its state (every directory, symlink and file placed there, with its source and why it is there).
// It lives outside the root, in the state directory, so that a jailed process cannot edit what
// `sync` will copy in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/result.hpp"
#include "jailbuild/types.hpp"

namespace jailbuild {

// 2: the intent as typed requirements and options ("intent"); 1 had "added" paths and string
// "options", and is still read (and rewritten as 2 by the next save).
inline constexpr int kManifestVersion = 2;

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
  int version = kManifestVersion;  // the layout it was read from; a save always writes kManifestVersion
  std::string root;                              // absolute path of the root on the host
  Intent intent;                                 // what the root is asked to hold, which every run plans
  std::map<std::string, ManifestEntry> entries;  // what it holds, by path
};

// The manifest as JSON text indented by two, as `list --json` prints it. Never fails: every byte
// string in it is encoded losslessly (util/json_bytes.hpp).
std::string manifest_json_text(const Manifest& manifest);

// An intent as the manifest writes it, on one line (the watch list's header holds it), and back,
// checked as strictly as in a manifest: an error says where and what is wrong.
std::string intent_json_line(const Intent& intent);
Result<Intent> intent_from_json_line(std::string_view text);

// Where manifests live: $JAILBUILD_STATE_DIR if set, /var/lib/jailbuild for root, else
// $XDG_STATE_HOME/jailbuild (default ~/.local/state/jailbuild).
std::string default_state_dir();

// The manifest file of `root` (an absolute, canonical path) under `state_dir`: StateDir's
// files_of(root).manifest (state_dir.hpp, which owns the state directory's layout).
std::string manifest_path(const std::string& state_dir, const std::string& root);

// Loads a manifest, of this version or an older one (migrated: a version 1 manifest's added paths
// become path requirements, in order, and its options typed). A missing file gives nullopt (a root
// jailbuild has not seen); a corrupt file or an unknown version is an error naming the file and
// the problem, never an empty manifest.
Result<std::optional<Manifest>> load_manifest(const std::string& path);

// Writes the manifest atomically (temporary file in the same directory, fsync, rename, fsync of
// the directory), creating the state directory if needed.
Result<void> save_manifest(const std::string& path, const Manifest& manifest);

}  // namespace jailbuild
