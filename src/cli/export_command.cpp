// `export`: a root as an OCI image layout, an OCI archive or a runtime bundle. The options are
// defined here once, for `jailbuild export` (whose --help, man page and completion show them) and
// for jailbuild-export, the program that does the work (export_main.cpp): jailbuild checks the
// command line, then executes jailbuild-export with the same words (see CMakeLists.txt for why).
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "export_command.hpp"
#include "util/paths.hpp"

namespace jailbuild::cli {
namespace {

// jailbuild-export beside jailbuild (a build tree), or in ../libexec/jailbuild/ (an installation);
// found from jailbuild's own executable, never from PATH or the environment: root runs it.
std::string export_program() {
  char self[PATH_MAX];
  const ssize_t size = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (size <= 0) return "";
  const std::string directory = parent_directory(std::string(self, static_cast<std::size_t>(size)));
  for (const std::string& candidate :
       {join_path(directory, "jailbuild-export"), join_path(directory, "../libexec/jailbuild/jailbuild-export")})
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  return "";
}

}  // namespace

void define_export_options(CLI::App& command, ExportCommand& export_command) {
  command.footer(
      "Usage: jailbuild export ROOT (--oci DIR [--tag NAME] | --oci-archive FILE [--tag NAME] | --bundle DIR)\n"
      "The image holds the manifest's entries as one layer and the settings `apply` recorded\n"
      "(User, Env, Cmd, WorkingDir). Reproducible: the same root and SOURCE_DATE_EPOCH (default: the\n"
      "manifest's last change) give the same bytes. A root that differs from its manifest is refused.\n"
      "Exit status: 0 exported, 1 failed (the root differs, a write failed), 2 bad usage.");
  command.add_option("ROOT", export_command.root, "The jail's root directory")->required();
  command.add_option("--oci", export_command.layout, "Write an OCI image layout to DIR (must not exist, or be empty)")
      ->type_name("DIR");
  command.add_option("--oci-archive", export_command.archive, "Write the OCI image layout as one tar FILE")
      ->type_name("FILE");
  command.add_option("--bundle", export_command.bundle,
                     "Write an OCI runtime bundle (config.json, rootfs/) to DIR, for runc or crun")
      ->type_name("DIR");
  command.add_option("--tag", export_command.tag, "The image's reference name in the layout (default latest)");
  command.add_flag("--force", export_command.force, "Export a root that differs from its manifest, as it is");
  command.add_option("--state-dir", export_command.state_dir,
                     "Where manifests are kept (default /var/lib/jailbuild for root)");
  command.add_flag("--no-wait", export_command.no_wait, "Fail at once if another jailbuild works on this root");
  command.add_flag("--json", export_command.json, "Print the digests and what was exported as JSON");
  add_progress_option(command, export_command.progress);
}

Result<void> check_export_command(const ExportCommand& command) {
  const int given = !command.layout.empty() + !command.archive.empty() + !command.bundle.empty();
  if (given != 1) return Error::usage("export: give exactly one of --oci DIR, --oci-archive FILE, --bundle DIR");
  return {};
}

void add_export_command(CLI::App& app, int& exit_code, const std::vector<std::string>& arguments) {
  auto command = std::make_shared<ExportCommand>();
  CLI::App* export_command = app.add_subcommand(
      "export", "Export a root as an OCI image layout or archive (podman, skopeo) or a runtime bundle (runc, crun)");
  define_export_options(*export_command, *command);
  export_command->callback([command, &exit_code, arguments] {
    if (auto checked = check_export_command(*command); !checked) {
      exit_code = failed(checked.error());
      return;
    }
    const std::string program = export_program();
    if (program.empty()) {
      exit_code = failed(Error{"export: jailbuild-export is not installed beside jailbuild"});
      return;
    }
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    spdlog::default_logger_raw()->flush();
    ::execv(program.c_str(), argv.data());
    exit_code = failed(Error{"export: execute " + program + ": " + std::strerror(errno)});
  });
}

}  // namespace jailbuild::cli
