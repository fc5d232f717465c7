// The state directory: where jailbuild keeps what it knows of each root, outside every root (a
// jailed process must neither edit what `sync` will copy in nor hold a root's lock forever). This
// type alone knows its layout:
//
//   roots/NAME.json   a root's manifest (manifest.hpp)
//   roots/NAME.watch  its watch list: only a cache (src/jail/watch_list.hpp)
//   roots/NAME.run    how it runs, as `apply` recorded it from a spec (run_settings.hpp)
//   roots/NAME.syscalls  the system calls its traces made, and their allowlist compiled
//                        (src/run/seccomp_allowlist.hpp)
//   locks/NAME.lock   its lock (RootLock)
//
// NAME is the root's path escaped (see root_file_name in state_dir.cpp), so the files of a root
// are found from its path alone, and the roots jailbuild knows by listing roots/.
#pragma once

#include <string>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild {

class StateDir {
 public:
  // The state directory at `path`; default_state_dir() when `path` is empty.
  explicit StateDir(const std::string& path);

  const std::string& path() const { return path_; }
  std::string roots_directory() const;
  std::string locks_directory() const;

  // The files of the root at `root` (absolute and canonical, as open_root gives it).
  struct RootFiles {
    std::string manifest;
    std::string watch_list;
    std::string run_settings;
    std::string system_calls;
    std::string lock;
  };
  RootFiles files_of(const std::string& root) const;

  // The manifests in roots/ (not their temporaries), by path; none when there is no roots/ yet.
  Result<std::vector<std::string>> manifests() const;

  // Removes what a run killed while replacing the root's manifest or watch list left (their
  // temporaries). Only for a caller that holds the root's lock, under which they are written.
  static void remove_temporaries(const RootFiles& files);

  // The watch list that goes with the manifest at `manifest_path` (NAME.watch next to NAME.json).
  static std::string watch_list_of(const std::string& manifest_path);

 private:
  std::string path_;
};

}  // namespace jailbuild
