#include <exception>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "jailbuild/log.hpp"
#include "jailbuild/run.hpp"

int main(int argc, char** argv) {
  using namespace jailbuild::cli;
  CLI::App app{"jailbuild: build and run chroot jails holding exactly what a program needs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "jailbuild 0.1.0");
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More detail on stderr: -v why, -vv each step");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  app.fallthrough();  // -v and -q after the subcommand too: `jailbuild sync --all -q`

  int exit_code = kExitOk;
  add_deps_command(app, exit_code);
  add_jail_commands(app, exit_code);
  add_run_command(app, exit_code);

  // The logger before parsing (what fails there is said in its format), then at the level asked
  // for once the options are known, before any command runs.
  jailbuild::set_up_logging(jailbuild::Verbosity::normal);
  app.parse_complete_callback([&] { jailbuild::set_up_logging(jailbuild::verbosity_from(verbosity, quiet)); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) { return app.exit(e); } catch (const CLI::ParseError& e) {
    app.exit(e);
    return app.get_subcommand("run")->parsed() ? jailbuild::kRunFailed : kExitUsage;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitUsage;
  }
  return exit_code;
}
