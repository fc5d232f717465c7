#include "jailbuild/log.hpp"

#include <memory>
#include <mutex>
#include <string>

#include <unistd.h>

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "util/io.hpp"

namespace jailbuild {
namespace {

// The status line as shown on stderr, and the one lock every write to stderr takes, so that a
// message from one thread never lands in the middle of the line drawn by another.
struct StatusLine {
  std::mutex mutex;
  std::string shown;  // empty: none

  // What takes the line off the screen: back to its start, spaces over it, back again.
  std::string eraser() const { return shown.empty() ? "" : "\r" + std::string(shown.size(), ' ') + "\r"; }
};

// Never destroyed: a message logged while the program exits still finds it.
StatusLine& status_line() {
  static StatusLine* const line = new StatusLine;
  return *line;
}

// stderr, one write(2) per message (no stdio buffer: a message must not wait behind a jail's
// output), with the status line erased before the message and drawn again after it. The status
// line's lock guards the formatter too, so the sink's own mutex is a null one.
class StderrSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    StatusLine& line = status_line();
    const std::lock_guard lock(line.mutex);
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    std::string out = line.eraser();
    out.append(formatted.data(), formatted.size());
    out += line.shown;
    (void)write_all(STDERR_FILENO, out);  // nowhere left to say that stderr failed
  }
  void flush_() override {}
};

}  // namespace

Verbosity verbosity_from(int verbose_flags, bool quiet) {
  if (quiet) return Verbosity::quiet;
  if (verbose_flags >= 2) return Verbosity::very_verbose;
  return verbose_flags == 1 ? Verbosity::verbose : Verbosity::normal;
}

void set_up_logging(Verbosity verbosity) {
  // Thread-safe: the watch list checks the host and the root on two threads, and either may log.
  // No colours: the messages are read by people and by scripts alike.
  auto logger = std::make_shared<spdlog::logger>("jailbuild", std::make_shared<StderrSink>());
  logger->set_pattern("jailbuild: %l: %v");
  switch (verbosity) {
    case Verbosity::quiet: logger->set_level(spdlog::level::err); break;
    case Verbosity::normal: logger->set_level(spdlog::level::warn); break;
    case Verbosity::verbose: logger->set_level(spdlog::level::debug); break;
    case Verbosity::very_verbose: logger->set_level(spdlog::level::trace); break;
  }
  spdlog::set_default_logger(std::move(logger));
}

void show_status_line(std::string_view text) {
  StatusLine& line = status_line();
  const std::lock_guard lock(line.mutex);
  std::string out = line.eraser();
  line.shown.assign(text);
  out += line.shown;
  (void)write_all(STDERR_FILENO, out);
}

void clear_status_line() {
  StatusLine& line = status_line();
  const std::lock_guard lock(line.mutex);
  const std::string out = line.eraser();
  line.shown.clear();
  (void)write_all(STDERR_FILENO, out);
}

}  // namespace jailbuild
