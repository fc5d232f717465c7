// How far long work has come: what add, sync, apply and export tell as they go, for the command
// line's progress line (src/cli/progress_line.hpp). The library counts and never draws: it says
// which stage began, with its totals when they are known, and each file done.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace jailbuild {

enum class ProgressStage {
  Planning,   // finding what a root must hold: the files met so far, no total known before the end
  Copying,    // writing the plan into the root (or, in a sync, checking each entry and copying what changed)
  Checking,   // a dry run's Copying: each entry looked at, nothing written
  Exporting,  // writing a root's entries into an image layer
  Unpacking,  // writing the layer into a bundle's rootfs/
};

// A count of files and their bytes.
struct ProgressCount {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

class Progress {
 public:
  virtual ~Progress() = default;
  // `stage` of the work on `subject` (a root, an output) begins; `total` when it is known beforehand.
  virtual void begin(ProgressStage stage, const std::string& subject, std::optional<ProgressCount> total) = 0;
  // `files` more files are done (or, planning, found), holding `bytes` more bytes.
  virtual void advance(std::uint64_t files, std::uint64_t bytes) = 0;
  // The stage is over, done or failed.
  virtual void end() = 0;

  // A Progress that tells nobody: what the library uses when its caller passed none.
  static Progress& none();
  // `progress`, or none() for nullptr: what an options struct's pointer means.
  static Progress& or_none(Progress* progress) { return progress != nullptr ? *progress : none(); }
};

namespace detail {
class NoProgress final : public Progress {
 public:
  void begin(ProgressStage, const std::string&, std::optional<ProgressCount>) override {}
  void advance(std::uint64_t, std::uint64_t) override {}
  void end() override {}
};
}  // namespace detail

inline Progress& Progress::none() {
  static detail::NoProgress nobody;
  return nobody;
}

// begin() now, end() when it goes out of scope: a stage that fails half-way ends too.
class ProgressStageScope {
 public:
  ProgressStageScope(Progress& progress, ProgressStage stage, const std::string& subject,
                     std::optional<ProgressCount> total)
      : progress_(progress) {
    progress_.begin(stage, subject, total);
  }
  ~ProgressStageScope() { progress_.end(); }
  ProgressStageScope(const ProgressStageScope&) = delete;
  ProgressStageScope& operator=(const ProgressStageScope&) = delete;

 private:
  Progress& progress_;
};

}  // namespace jailbuild
