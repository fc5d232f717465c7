// The fixture the `add` and `sync` command tests share: a directory of the test's own holding the
// programs it builds with gcc, the root they are added to and its state directory, removed with
// everything in them when the test ends.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/loader_oracle.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild::testing {

class RootTest : public ::testing::Test {
 protected:
  explicit RootTest(const std::string& prefix) : temp_(prefix) {}

  // Before temp_ goes: a file system mounted over the root must not be emptied with the directory.
  void TearDown() override {
    if (mounted_) ::umount2(root_.c_str(), MNT_DETACH);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The fixture programs' sources in the test's directory, libshared's named SHARED_FILE: app_a
  // (a.c) needs libshared and libonly (only.c), app_b (b.c) needs libshared only.
  void write_app_sources(const std::string& shared_file) const {
    write_file(dir_ / shared_file, "int shared(void) { return 40; }\n");
    write_file(dir_ / "only.c", "int only(void) { return 2; }\n");
    write_file(dir_ / "a.c",
               "#include <stdio.h>\nint shared(void); int only(void);\n"
               "int main(void) { printf(\"a %d\\n\", shared() + only()); return 0; }\n");
    write_file(dir_ / "b.c",
               "#include <stdio.h>\nint shared(void);\nint main(void) { printf(\"b %d\\n\", shared()); return 0; }\n");
  }

  void gcc(const std::string& args) const {
    const std::string command = "cd " + dir_.string() + " && gcc " + args;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  // The loader inside the root lists `program` with nothing missing.
  void expect_loads_in_root(const std::string& program) const {
    if (::geteuid() != 0) return;  // chroot needs root; the file checks stand alone
    ProcessOptions in_root;
    in_root.root = root_;
    const auto trace = trace_explicit(kLoader, program, {}, "/", in_root);
    EXPECT_TRUE(trace.ran() && trace.not_found.empty() && !trace.fatal_error) << trace.describe();
  }

  const TempDir temp_;
  const fs::path dir_ = temp_.path();
  std::string root_ = path("root");
  std::string state_ = path("state");
  bool mounted_ = false;  // whether the test mounted a file system over root_
};

}  // namespace jailbuild::testing
