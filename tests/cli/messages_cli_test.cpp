// What jailbuild says on stderr and how -q, -v and -vv change it (docs/commands/messages.md): one
// format, "jailbuild: LEVEL: MESSAGE"; warnings by default, errors only with -q, debug with -v,
// trace with -vv. Each level is checked both where it must show and where it must not.
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/root_test.hpp"

namespace jailbuild::testing {
namespace {

class Messages : public RootTest {
 protected:
  Messages() : RootTest("jailbuild-messages") {}

  std::string data() const { return path("data"); }

  ProcessResult add_data(const std::vector<std::string>& global_options) {
    write_file(dir_ / "data", "data\n");
    std::vector<std::string> args = global_options;
    const std::vector<std::string> add = add_args({data()}, root_, state_);
    args.insert(args.end(), add.begin(), add.end());
    return run_jailbuild(args);
  }

  // The lines of `output` that start with "jailbuild: LEVEL: ".
  static std::vector<std::string> lines_at(const std::string& output, const std::string& level) {
    std::vector<std::string> found;
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("jailbuild: " + level + ": ")) found.push_back(line);
    return found;
  }
};

TEST_F(Messages, VerboseSaysWhatChangedAndVeryVerboseEachPlannedEntry) {
  const ProcessResult quiet_by_default = add_data({});
  ASSERT_EQ(quiet_by_default.exit_code, kExitOk) << quiet_by_default.describe();
  EXPECT_TRUE(lines_at(quiet_by_default.output, "debug").empty()) << quiet_by_default.output;
  EXPECT_TRUE(lines_at(quiet_by_default.output, "trace").empty()) << quiet_by_default.output;
  fs::remove_all(root_);
  fs::remove_all(state_);

  const ProcessResult verbose = add_data({"-v"});
  ASSERT_EQ(verbose.exit_code, kExitOk) << verbose.describe();
  EXPECT_TRUE(contains(verbose.output, "jailbuild: debug: " + root_ + data() + ": created\n")) << verbose.output;
  EXPECT_TRUE(lines_at(verbose.output, "trace").empty()) << verbose.output;
  fs::remove_all(root_);
  fs::remove_all(state_);

  const ProcessResult very_verbose = add_data({"-vv"});
  ASSERT_EQ(very_verbose.exit_code, kExitOk) << very_verbose.describe();
  EXPECT_TRUE(contains(very_verbose.output, "jailbuild: debug: " + root_ + data() + ": created\n"))
      << very_verbose.output;
  const std::string planned = "jailbuild: trace: planned file " + data() + "  [added (for " + data() + ")]\n";
  EXPECT_TRUE(contains(very_verbose.output, planned)) << very_verbose.output;
}

TEST_F(Messages, DepsVerboseSaysHowEachObjectWasFound) {
  const ProcessResult plain = run_jailbuild({"deps", "--list", "/bin/true"});
  ASSERT_EQ(plain.exit_code, kExitOk) << plain.describe();
  EXPECT_TRUE(lines_at(plain.output, "debug").empty() && lines_at(plain.output, "trace").empty()) << plain.output;
  const ProcessResult traced = run_jailbuild({"-vv", "deps", "--list", "/bin/true"});
  ASSERT_EQ(traced.exit_code, kExitOk) << traced.describe();
  EXPECT_TRUE(contains(traced.output, "jailbuild: debug: /bin/true: 0 script(s), 1 program(s) exec'd"))
      << traced.output;
  // libc's path is the cache's (/lib/... or /usr/lib/... by distribution), its reason is not.
  EXPECT_TRUE(contains(traced.output, "jailbuild: trace: /bin/true: /")) << traced.output;
  EXPECT_TRUE(contains(traced.output, "/libc.so.6 [ld.so.cache], needed by /bin/true\n")) << traced.output;
}

TEST_F(Messages, WarningsShowUnlessQuietAndErrorsAlways) {
  ASSERT_EQ(add_data({}).exit_code, kExitOk);
  fs::remove(data());
  // Gone from the host: an error for sync, a warning for what --prune would forget.
  const ProcessResult said = run_jailbuild({"sync", root_, "--state-dir", state_, "--prune", "--dry-run"});
  EXPECT_EQ(said.exit_code, kExitOk) << said.describe();
  EXPECT_EQ(lines_at(said.output, "warning"), std::vector<std::string>{"jailbuild: warning: would prune " + data()})
      << said.output;
  EXPECT_TRUE(contains(said.output, "dry run: " + root_ + ": ")) << "the summary: " << said.output;
  const ProcessResult quiet = run_jailbuild({"sync", root_, "--state-dir", state_, "--prune", "--dry-run", "-q"});
  EXPECT_EQ(quiet.exit_code, kExitOk) << quiet.describe();
  EXPECT_TRUE(lines_at(quiet.output, "warning").empty()) << "-q: errors only: " << quiet.output;
  EXPECT_FALSE(contains(quiet.output, "dry run: ")) << "-q: no summary: " << quiet.output;
  EXPECT_TRUE(contains(quiet.output, "remove " + data() + "\n")) << "-q: the plan, on stdout, stays: " << quiet.output;

  const ProcessResult failed = run_jailbuild({"-q", "sync", root_, "--state-dir", state_});
  EXPECT_EQ(failed.exit_code, kExitIncomplete) << failed.describe();
  EXPECT_EQ(failed.output, "jailbuild: error: " + data() +
                               ": gone from the host; its files stay in the root (sync --prune removes them)\n");
}

}  // namespace
}  // namespace jailbuild::testing
