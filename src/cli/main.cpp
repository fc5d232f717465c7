#include <cstdio>
#include <exception>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "jailbuild/run.hpp"

int main(int argc, char** argv) {
  using namespace jailbuild::cli;
  CLI::App app{"jailbuild: build and run chroot jails holding exactly what a program needs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "jailbuild 0.1.0");
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More detail on stderr (repeat for more)");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  app.fallthrough();  // -v and -q after the subcommand too: `jailbuild sync --all -q`

  int exit_code = kExitOk;
  add_deps_command(app, exit_code);
  add_jail_commands(app, exit_code);
  add_run_command(app, exit_code);

  app.parse_complete_callback([&] {
    auto logger = spdlog::stderr_color_st("jailbuild");
    logger->set_pattern("jailbuild: %l: %v");
    logger->set_level(quiet ? spdlog::level::err
                      : verbosity >= 2 ? spdlog::level::trace
                      : verbosity == 1 ? spdlog::level::debug
                                       : spdlog::level::warn);
    spdlog::set_default_logger(logger);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return app.get_subcommand("run")->parsed() ? jailbuild::kRunFailed : kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jailbuild: error: %s\n", e.what());
    return kExitUsage;
  }
  return exit_code;
}
