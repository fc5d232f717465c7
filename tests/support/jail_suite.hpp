// What the `jailbuild run` suites share: a directory of their own, made once per suite and removed
// after it, holding the root they run in and its state directory.
#pragma once

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace jailbuild::testing {

class JailSuite : public ::testing::Test {
 protected:
  // Under /var/tmp, not /tmp: `add` places each file at its host path inside the root, and the
  // jail mounts a fresh tmpfs on /tmp, which would hide anything placed under it. False, with
  // setup_error_ saying why, if it could not be made.
  static bool make_suite_directory(const std::string& name) {
    std::string pattern = "/var/tmp/jailbuild-" + name + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      setup_error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
    dir_ = pattern;
    ::chmod(dir_.c_str(), 0755);  // a run as another user (nobody) must reach the root
    root_ = dir_ + "/root";
    state_ = dir_ + "/state";
    return true;
  }

  static void TearDownTestSuite() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // `jailbuild run OPTIONS... ROOT COMMAND...`, as argv; ROOT is the suite's unless given.
  static std::vector<std::string> run_argv(const std::vector<std::string>& options,
                                           const std::vector<std::string>& command, const std::string& root = "") {
    std::vector<std::string> argv{JAILBUILD_BINARY, "run"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(root.empty() ? root_ : root);
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
  }

  // The host id the jails' uid 0 (or, from /etc/subgid, gid 0) is when root runs them: the first
  // of jailbuild's range, which `jailbuild run` reserves on its first run as root (made here if
  // this is the machine's first: a run of a program the root lacks).
  static std::optional<unsigned> jail_root_id(const std::string& file = "/etc/subuid") {
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::ifstream lines(file);
      for (std::string line; std::getline(lines, line);)
        if (line.starts_with("jailbuild:")) return static_cast<unsigned>(std::stoul(line.substr(10)));
      if (attempt == 0) {
        const std::string first_run = std::string(JAILBUILD_BINARY) + " run " + root_ + " /jb-none >/dev/null 2>&1";
        [[maybe_unused]] const int status = std::system(first_run.c_str());
      }
    }
    return std::nullopt;
  }

  static inline std::string setup_error_;
  static inline std::string dir_;
  static inline std::string root_;
  static inline std::string state_;
};

}  // namespace jailbuild::testing
