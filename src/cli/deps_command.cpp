#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "jailbuild/resolver.hpp"
#include "output.hpp"

namespace jailbuild::cli {
namespace {

struct DepsOptions {
  std::vector<std::string> files;
  bool tree = false;
  bool list = false;
  bool json = false;
  std::string root = "/";
  std::string library_path;
  std::string preload;
  bool from_environment = false;
  bool no_preload_file = false;
};

// The exit code the closure's problems call for: an input that cannot be read or run is a usage
// error; a library not found or a fatal one leaves the answer incomplete.
int exit_code_of(const Closure& closure) {
  int code = kExitOk;
  auto count = [&](const Problem& problem) {
    switch (problem.kind) {
      case ProblemKind::Skipped: return;
      case ProblemKind::Unreadable: code = kExitUsage; return;
      case ProblemKind::NotFound:
      case ProblemKind::Fatal: code = std::max(code, kExitIncomplete); return;
    }
  };
  for (const Problem& problem : closure.problems) count(problem);
  for (const LinkMap& map : closure.programs)
    for (const Problem& problem : map.problems) count(problem);
  return code;
}

void log_problems(const Closure& closure) {
  for (const Problem& problem : closure.problems) log_problem(problem);
  for (const LinkMap& map : closure.programs)
    for (const Problem& problem : map.problems) log_problem(problem);
}

int run_deps(const DepsOptions& options) {
  ResolverOptions resolver_options;
  resolver_options.root = options.root;
  if (options.from_environment) {
    if (const char* value = std::getenv("LD_LIBRARY_PATH"); value && *value) resolver_options.ld_library_path = value;
    if (const char* value = std::getenv("LD_PRELOAD"); value && *value) resolver_options.preload = value;
  }
  if (!options.library_path.empty()) resolver_options.ld_library_path = options.library_path;
  if (!options.preload.empty()) resolver_options.preload = options.preload;
  resolver_options.read_preload_file = !options.no_preload_file;

  auto opened = Resolver::open(resolver_options);
  if (!opened) {
    log_error(opened.error());
    return kExitUsage;
  }
  Resolver& resolver = *opened;
  std::vector<Closure> closures;
  int code = kExitOk;
  for (const std::string& file : options.files) {
    closures.push_back(resolver.resolve(file));
    log_details(closures.back());
    log_problems(closures.back());
    code = std::max(code, exit_code_of(closures.back()));
  }

  if (options.json) {
    print(deps_json(closures));
  } else if (options.list) {
    // The cwd the resolver used for relative names is that of this process (or "/" in a root).
    std::string cwd = "/";
    if (options.root == "/") {
      if (char* here = ::getcwd(nullptr, 0)) {
        cwd = here;
        std::free(here);
      }
    }
    print(deps_list(closures, cwd));
  } else {
    for (const Closure& closure : closures) print(deps_tree(closure));
  }
  return code;
}

}  // namespace

void add_deps_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<DepsOptions>();
  CLI::App* deps =
      app.add_subcommand("deps", "Show the files the dynamic loader opens for each FILE, and how it finds each one");
  deps->add_option("FILE", options->files, "Programs, libraries or scripts")->required();
  auto* tree = deps->add_flag("--tree", options->tree, "Show how each object was found (default)");
  auto* list = deps->add_flag("--list", options->list, "Print the closure of all FILEs, one absolute path per line");
  auto* json = deps->add_flag("--json", options->json, "Per-file closures with reasons, as JSON");
  tree->excludes(list, json);
  list->excludes(json);
  deps->add_option("--root", options->root, "Resolve inside this directory (a sysroot or a jail) instead of /")
      ->check(CLI::ExistingDirectory);
  deps->add_option("--library-path", options->library_path, "Search these directories as LD_LIBRARY_PATH would");
  deps->add_option("--preload", options->preload, "Preload these objects as LD_PRELOAD would");
  deps->add_flag("--environment", options->from_environment,
                 "Take LD_LIBRARY_PATH and LD_PRELOAD from this process's environment");
  deps->add_flag("--no-preload-file", options->no_preload_file, "Ignore ROOT/etc/ld.so.preload");
  deps->callback([options, &exit_code] { exit_code = run_deps(*options); });
}

}  // namespace jailbuild::cli
