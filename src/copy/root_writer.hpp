// The copier: applies a CopyPlan to a root without ever writing outside it, whatever symlinks the
// root holds or gains while it runs. Every path in the root is reached from a descriptor of the
// root with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS); files appear
// under their final name only complete (temporary name in the same directory, then rename).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jailbuild/copy_plan.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/progress.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/types.hpp"
#include "jailbuild/write_report.hpp"

namespace jailbuild {

// The manifest's record of a planned entry, before anything about its copy is known.
ManifestEntry to_manifest_entry(const PlannedEntry& entry);

class RootWriter {
 public:
  // Opens ROOT with open_root (no symlink followed on the way), creating it (mode 0755) if
  // missing and `create`.
  static Result<RootWriter> open(const std::string& root, bool create);
  // Writes to the root directory already open as `root_fd` (which the writer duplicates; `root` is
  // its path, for messages): what a caller that opened the root itself uses, so that the root is
  // looked up by path only once.
  static Result<RootWriter> at(int root_fd, std::string root);

  RootWriter(RootWriter&& other) noexcept;
  RootWriter& operator=(RootWriter&&) = delete;
  ~RootWriter();

  // Places every entry of `plan`. `previous` is the root's manifest (nullptr for a new root): an
  // entry it records whose source and copy are both unchanged is left as it is. Temporary files an
  // interrupted run left in the planned directories are removed. Errors that stop
  // the run (disk full, unreadable source) name the path and the cause; what was placed before
  // stays consistent (every file old or new). `progress` is told of each entry done, with the
  // bytes it holds, within a Copying stage the caller began.
  Result<WriteReport> apply(const CopyPlan& plan, const Manifest* previous, const WriteOptions& options,
                            Progress& progress = Progress::none());

  // Removes entries jailbuild placed (children before parents), each only if it is still what
  // `recorded` says; returns the paths it left alone because they changed, with why.
  Result<std::vector<Conflict>> remove(const std::vector<ManifestEntry>& recorded);

  const std::string& root() const { return root_; }

  // After apply returned an error: what it had done before it stopped, so that the caller can
  // record the entries it placed (a later run would otherwise take them for files jailbuild did
  // not place). Empty after a successful apply.
  const WriteReport& partial_report() const { return partial_; }

 private:
  RootWriter(int fd, std::string root) : root_fd_(fd), root_(std::move(root)) {}
  int root_fd_ = -1;
  std::string root_;
  WriteReport partial_;
};

}  // namespace jailbuild
