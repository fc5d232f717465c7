#include "jailbuild/log.hpp"

#include <memory>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace jailbuild {

Verbosity verbosity_from(int verbose_flags, bool quiet) {
  if (quiet) return Verbosity::quiet;
  if (verbose_flags >= 2) return Verbosity::very_verbose;
  return verbose_flags == 1 ? Verbosity::verbose : Verbosity::normal;
}

void set_up_logging(Verbosity verbosity) {
  // Thread-safe: the watch list checks the host and the root on two threads, and either may log.
  // No colours: the messages are read by people and by scripts alike.
  auto logger = std::make_shared<spdlog::logger>("jailbuild", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("jailbuild: %l: %v");
  switch (verbosity) {
    case Verbosity::quiet: logger->set_level(spdlog::level::err); break;
    case Verbosity::normal: logger->set_level(spdlog::level::warn); break;
    case Verbosity::verbose: logger->set_level(spdlog::level::debug); break;
    case Verbosity::very_verbose: logger->set_level(spdlog::level::trace); break;
  }
  // Every message at once: stderr is unbuffered, and a message must not wait behind a jail's output.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace jailbuild
