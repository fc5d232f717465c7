// The copier's system-call layer: validated root paths, and temporary names in a directory of the
// root that vanish unless renamed over their final name. Nothing here follows a symlink inside the
// root. (Opening the root and looking beneath it: util/root_dir.hpp and util/open_beneath.hpp.)
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailbuild/result.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::copy {

// A path inside the root as the plan gives it ("/usr/lib/x"), split for *at() calls: the parent
// relative to the root ("usr/lib", or "." for the root itself) and the last component ("x").
struct RootPath {
  std::string parent;
  std::string name;
};

// Splits an absolute, normalised path ("/a/b", no "." or ".." component, no empty component, no
// trailing slash). The root itself, "/", has no last component and is refused like any other
// malformed path.
Result<RootPath> split_root_path(const std::string& path);

// Where the copier writes a file before renaming it: ".jailbuild-tmp.XXXXXX".
inline constexpr std::string_view kTempPrefix = ".jailbuild-tmp.";
bool is_temp_name(std::string_view name);

// A temporary name in a directory of the root, unlinked on destruction unless committed (renamed
// over its final name). The entry behind it is created by the caller; `directory` says it is an
// (empty) directory, removed with AT_REMOVEDIR.
class TempName {
 public:
  TempName(int dir_fd, std::string name, bool directory = false)
      : dir_fd_(dir_fd), name_(std::move(name)), directory_(directory) {}
  TempName(TempName&& other) noexcept
      : dir_fd_(other.dir_fd_),
        name_(std::move(other.name_)),
        directory_(other.directory_),
        armed_(std::exchange(other.armed_, false)) {}
  TempName& operator=(TempName&&) = delete;
  TempName(const TempName&) = delete;
  TempName& operator=(const TempName&) = delete;
  ~TempName();

  const std::string& name() const { return name_; }
  // renameat over `final_name` in the same directory; returns 0 or errno (the name stays armed).
  int commit(const std::string& final_name);

 private:
  int dir_fd_;
  std::string name_;
  bool directory_ = false;
  bool armed_ = true;
};

// Creates an empty regular file (mode 0600 until the caller sets the final mode) under a fresh
// temporary name in dir_fd, opened for writing. `dir_display` names the directory in errors.
struct TempFile {
  TempName name;
  UniqueFd fd;
};
Result<TempFile> create_temp_file(int dir_fd, const std::string& dir_display);

// Creates `target` as a symlink under a fresh temporary name in dir_fd.
Result<TempName> create_temp_symlink(int dir_fd, const std::string& target, const std::string& dir_display);

// Creates an empty directory (mode 0700 until the caller sets its mode) under a fresh temporary name.
Result<TempName> create_temp_directory(int dir_fd, const std::string& dir_display);

// Creates a device node (mode bits 0600 until the caller sets them) under a fresh temporary name.
Result<TempName> create_temp_node(int dir_fd, mode_t type, dev_t device, const std::string& dir_display);

}  // namespace jailbuild::copy
