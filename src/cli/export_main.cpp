// jailbuild-export: what `jailbuild export` executes, with the same words (see export_command.cpp):
// [-v|-q]... ROOT --oci DIR ... It links libarchive and libcrypto, which jailbuild does not.
#include <clocale>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "export_command.hpp"
#include "jailbuild/export.hpp"
#include "jailbuild/log.hpp"
#include "output.hpp"
#include "util/json_bytes.hpp"

namespace {

using namespace jailbuild;
using namespace jailbuild::cli;

int export_as_asked(const ExportCommand& command) {
  if (auto checked = check_export_command(command); !checked) return failed(checked.error());
  ExportOptions options;
  ProgressLine progress(command.progress);
  options.jail = {command.root, command.state_dir, !command.no_wait, true, progress.if_shown()};
  options.tag = command.tag;
  options.force = command.force;
  options.format = !command.layout.empty() ? ExportFormat::Layout
                   : !command.archive.empty() ? ExportFormat::Archive
                                              : ExportFormat::Bundle;
  options.output = !command.layout.empty() ? command.layout : !command.archive.empty() ? command.archive : command.bundle;
  auto exported = export_root(options);
  if (!exported) return failed(exported.error());
  if (command.json) {
    print(nlohmann::json{{"output", bytes_json(exported->output)},
                         {"manifest", exported->manifest_digest},
                         {"config", exported->config_digest},
                         {"layer", exported->layer_digest},
                         {"diff_id", exported->diff_id},
                         {"layer_size", exported->layer_size},
                         {"entries", exported->entries},
                         {"differences", bytes_json(exported->differences)}});
  } else {
    spdlog::info("{}: {} entries, layer {} ({} bytes)", exported->output, exported->entries, exported->layer_digest,
                 exported->layer_size);
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // libarchive writes names in UTF-8 translated from the locale's charset: one fixed locale, so
  // that an export does not depend on the caller's LANG (reproducible), and UTF-8 names pass.
  std::setlocale(LC_ALL, "C.UTF-8");
  CLI::App app{"jailbuild-export: what `jailbuild export` runs"};
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More detail on stderr");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  ExportCommand command;
  define_export_options(app, command);
  set_up_logging(Verbosity::normal);
  app.parse_complete_callback([&] { set_up_logging(verbosity_from(verbosity, quiet)); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) { return app.exit(e); } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  try {
    return export_as_asked(command);
  } catch (const std::exception& e) {
    spdlog::error("export: {}", e.what());
    return kExitIncomplete;
  }
}
