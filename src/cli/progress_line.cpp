#include "progress_line.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include <spdlog/spdlog.h>

#include "jailbuild/log.hpp"
#include "output.hpp"
#include "util/json_bytes.hpp"

namespace jailbuild::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Often enough to look alive, rarely enough that drawing costs nothing next to the work.
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

const char* stage_name(ProgressStage stage) {
  switch (stage) {
    case ProgressStage::Planning: return "planning";
    case ProgressStage::Copying: return "copying";
    case ProgressStage::Checking: return "checking";
    case ProgressStage::Exporting: return "exporting";
    case ProgressStage::Unpacking: return "unpacking";
  }
  return "working";
}

// 0:07, 12:34, 1:02:03.
std::string elapsed_text(Clock::duration elapsed) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
  char text[32];
  if (seconds >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  return text;
}

// The terminal's width in columns; 0 when stderr is none (no limit then).
std::size_t terminal_columns() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 0;
  return size.ws_col;
}

}  // namespace

void add_progress_option(CLI::App& command, ProgressMode& mode) {
  command
      .add_option_function<std::string>(
          "--progress",
          [&mode](const std::string& when) {
            mode = when == "always" ? ProgressMode::always : when == "never" ? ProgressMode::never : ProgressMode::automatic;
          },
          "One updating line on stderr of the files and bytes done: auto (when stderr is a terminal, without -q), "
          "always or never")
      // The values are named in the description; the validator's own text would follow WHEN.
      ->check(CLI::IsMember({"never", "auto", "always"}).description(""))
      ->type_name("WHEN")
      ->default_str("auto");
}

std::string progress_counts(const ProgressCount& done, const std::optional<ProgressCount>& total,
                            Clock::duration elapsed) {
  std::string text;
  if (total) {
    text = with_commas(done.files) + "/" + with_commas(total->files) + " files, " + size_text(done.bytes) + "/" +
           size_text(total->bytes);
  } else {
    text = with_commas(done.files) + " files, " + size_text(done.bytes);
  }
  const double seconds = std::chrono::duration<double>(elapsed).count();
  // A rate over less than a tenth of a second says nothing.
  if (total && seconds >= 0.1) text += ", " + size_text(static_cast<std::uint64_t>(static_cast<double>(done.bytes) / seconds)) + "/s";
  return text + ", " + elapsed_text(elapsed);
}

ProgressLine::ProgressLine(ProgressMode mode) {
  const bool quiet = !spdlog::default_logger_raw()->should_log(spdlog::level::warn);
  shown_ = !quiet && (mode == ProgressMode::always || (mode == ProgressMode::automatic && ::isatty(STDERR_FILENO)));
}

ProgressLine::~ProgressLine() { end(); }

void ProgressLine::begin(ProgressStage stage, const std::string& subject, std::optional<ProgressCount> total) {
  if (!shown_) return;
  label_ = std::string(stage_name(stage)) + " " + for_terminal(subject);
  total_ = total;
  done_ = {};
  running_ = true;
  started_ = Clock::now();
  draw(started_);
}

void ProgressLine::advance(std::uint64_t files, std::uint64_t bytes) {
  if (!running_) return;
  done_.files += files;
  done_.bytes += bytes;
  const Clock::time_point now = Clock::now();
  if (now - drawn_ >= kRedrawEvery) draw(now);
}

void ProgressLine::end() {
  if (!running_) return;
  running_ = false;
  clear_status_line();
}

void ProgressLine::draw(Clock::time_point now) {
  drawn_ = now;
  const std::string prefix = "jailbuild: ";
  const std::string counts = ": " + progress_counts(done_, total_, now - started_);
  std::string line = prefix + label_ + counts;
  // Wider than the terminal, the line would wrap and every redraw leave a line behind: the label
  // (the root's path) loses its start first, then the line its end.
  const std::size_t columns = terminal_columns();
  if (columns != 0 && line.size() >= columns) {
    const std::size_t room = columns - 1;
    const std::size_t fixed = prefix.size() + counts.size() + 3;  // "..." where the label is cut
    if (room > fixed + 8) {
      line = prefix + "..." + label_.substr(label_.size() - (room - fixed)) + counts;
    } else {
      line.resize(room);
    }
  }
  show_status_line(line);
}

}  // namespace jailbuild::cli
