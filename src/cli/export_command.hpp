// The options of `export`, shared by jailbuild (which checks them and executes jailbuild-export)
// and jailbuild-export (which exports): see export_command.cpp.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "jailbuild/result.hpp"
#include "progress_line.hpp"

namespace jailbuild::cli {

struct ExportCommand {
  std::string root, state_dir;
  std::string layout, archive, bundle;
  std::string tag = "latest";
  bool force = false;
  bool no_wait = false;
  bool json = false;
  ProgressMode progress = ProgressMode::automatic;
};

void define_export_options(CLI::App& command, ExportCommand& export_command);

// Exactly one output.
Result<void> check_export_command(const ExportCommand& command);

}  // namespace jailbuild::cli
