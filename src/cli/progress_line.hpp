// The progress line: how far add, sync, apply and export have come, as one line on stderr that
// updates in place (files and bytes done of the total, the rate, the time elapsed). Shown when
// stderr is a terminal, never in a pipe or a file, and never with -q; --progress=never|auto|always
// decides otherwise. The library tells it through jailbuild::Progress; it words and draws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "jailbuild/progress.hpp"

namespace jailbuild::cli {

enum class ProgressMode {
  never,
  automatic,  // "auto": when stderr is a terminal
  always,     // even in a pipe or a file: \r-separated updates, for whoever reads them
};

// --progress=never|auto|always, on `command`.
void add_progress_option(CLI::App& command, ProgressMode& mode);

// Counts, rate and elapsed time of one stage, as the line shows them ("1,406/4,694 files, 27.5 MB/68.3
// MB, 274.4 MB/s, 0:01"); `total` nullopt: no total known (planning). What ProgressLine draws.
std::string progress_counts(const ProgressCount& done, const std::optional<ProgressCount>& total,
                            std::chrono::steady_clock::duration elapsed);

class ProgressLine final : public Progress {
 public:
  // Decides once whether the line is shown: `mode`, whether stderr is a terminal, and -q (the
  // logger at errors only), which wins over --progress=always as it wins over -v.
  explicit ProgressLine(ProgressMode mode);
  ~ProgressLine() override;

  // What to give the library: this line, or nullptr when it is not shown (then no clock is read).
  Progress* if_shown() { return shown_ ? this : nullptr; }

  void begin(ProgressStage stage, const std::string& subject, std::optional<ProgressCount> total) override;
  void advance(std::uint64_t files, std::uint64_t bytes) override;
  void end() override;

 private:
  void draw(std::chrono::steady_clock::time_point now);

  bool shown_ = false;
  std::size_t width_ = 0;  // the terminal's columns; 0: no limit (not a terminal)
  bool running_ = false;
  std::string label_;      // "copying /srv/jail"
  std::optional<ProgressCount> total_;
  ProgressCount done_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point drawn_;
};

}  // namespace jailbuild::cli
