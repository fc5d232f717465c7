#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "command_docs.hpp"
#include "commands.hpp"
#include "jailbuild/log.hpp"
#include "jailbuild/run.hpp"

namespace {

// `jailbuild [-v|-q]... add ... -- CMD [ARGS...]`: the command `add --trace` runs, everything after
// the first `--` of an `add`, taken out of the arguments before CLI11 parses them (it would take
// CMD and ARGS for more PATHs). nullopt when the arguments are no such `add`.
std::optional<std::vector<std::string>> take_traced_command(std::vector<char*>& args) {
  std::size_t word = 1;
  while (word < args.size() && args[word][0] == '-') ++word;  // the global options are flags
  if (word == args.size() || std::strcmp(args[word], "add") != 0) return std::nullopt;
  for (std::size_t i = word + 1; i < args.size(); ++i) {
    if (std::strcmp(args[i], "--") != 0) continue;
    std::vector<std::string> command(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
    args.resize(i);
    return command;
  }
  return std::nullopt;
}

// `jailbuild [-v|-q]... export ARGS...`: the words jailbuild-export is given, the global flags
// first. Empty when the arguments are no export.
std::vector<std::string> export_arguments(const std::vector<char*>& args) {
  std::size_t word = 1;
  while (word < args.size() && args[word][0] == '-') ++word;
  if (word == args.size() || std::strcmp(args[word], "export") != 0) return {};
  std::vector<std::string> arguments(args.begin() + 1, args.begin() + static_cast<std::ptrdiff_t>(word));
  arguments.insert(arguments.end(), args.begin() + static_cast<std::ptrdiff_t>(word) + 1, args.end());
  return arguments;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace jailbuild::cli;
  std::vector<char*> args(argv, argv + argc);
  const std::optional<std::vector<std::string>> traced_command = take_traced_command(args);
  CLI::App app{"jailbuild: build and run chroot jails holding exactly what a program needs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "jailbuild " JAILBUILD_VERSION);
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More detail on stderr: -v why, -vv each step");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  app.fallthrough();  // -v and -q after the subcommand too: `jailbuild sync --all -q`

  int exit_code = kExitOk;
  add_deps_command(app, exit_code);
  add_jail_commands(app, exit_code, traced_command);
  add_spec_commands(app, exit_code);
  add_export_command(app, exit_code, export_arguments(args));
  add_run_command(app, exit_code);
  add_doc_commands(app, exit_code);

  // The logger before parsing (what fails there is said in its format), then at the level asked
  // for once the options are known, before any command runs.
  jailbuild::set_up_logging(jailbuild::Verbosity::normal);
  app.parse_complete_callback([&] { jailbuild::set_up_logging(jailbuild::verbosity_from(verbosity, quiet)); });

  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::Success& e) { return app.exit(e); } catch (const CLI::ParseError& e) {
    app.exit(e);
    return app.get_subcommand("run")->parsed() ? jailbuild::kRunFailed : kExitUsage;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitUsage;
  }
  return exit_code;
}
