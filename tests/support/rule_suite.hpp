// What the runtime rules' end-to-end suites share (tests/rules/*_test.cpp): roots built by
// `jailbuild add PATHS` in the suite's directory, programs run in them by `jailbuild run`, and what
// `list` says of them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"

namespace jailbuild::testing {

class RuleSuite : public JailSuite {
 protected:
  // A fresh root of this suite's named NAME, with `add PATHS --root ROOT OPTIONS...` done in it.
  static std::string root_with(const std::string& name, const std::vector<std::string>& paths,
                               const std::vector<std::string>& options = {}) {
    const std::string root = dir_ + "/" + name;
    const ProcessResult added = run_jailbuild(add_args(paths, root, state_, options));
    EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
    return root;
  }

  // `jailbuild run OPTIONS... ROOT COMMAND...`, its output (stdout and stderr).
  static ProcessResult run_in(const std::string& root, const std::vector<std::string>& command,
                              const std::vector<std::string>& options = {}) {
    return run_process(run_argv(options, command, root), kPlainEnv);
  }

  // run's options that set each NAME=VALUE of `settings` in the program's environment.
  static std::vector<std::string> env(const std::vector<std::string>& settings) {
    std::vector<std::string> options;
    for (const std::string& setting : settings) options.insert(options.end(), {"--env", setting});
    return options;
  }

  static std::string list_of(const std::string& root) {
    const ProcessResult listed = run_jailbuild({"list", root, "--state-dir", state_});
    EXPECT_EQ(listed.exit_code, kExitOk) << listed.describe();
    return listed.output;
  }

  // Whether the root holds `path` (a symlink counts, wherever it leads).
  static bool holds(const std::string& root, const std::string& path) {
    return std::filesystem::exists(std::filesystem::symlink_status(root + path));
  }
};

}  // namespace jailbuild::testing
