// `jailbuild apply SPEC` and `jailbuild run ROOT` end to end: a spec builds the root the same
// `add` commands build, follows the spec when paths and traces leave it, changes nothing for a bad
// spec, does nothing the second time, and records the [run] settings `run ROOT` uses; each beside
// its control.
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"

namespace jailbuild {
namespace {

using namespace testing;

class Apply : public JailSuite {
 protected:
  static void SetUpTestSuite() { make_suite_directory("apply"); }

  void SetUp() override {
    if (::geteuid() != 0) { GTEST_SKIP() << "needs root: jailbuild run as root (the suite's roots are root's)"; }
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    base_ = dir_ + "/" + name;
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
    jail_root_ = base_ + "/root";
    jail_state_ = base_ + "/state";
    spec_ = base_ + "/jail.toml";
  }

  // Writes the spec: `root` and `state-dir` (the test's), then `body`.
  void write_spec(const std::string& body) const {
    std::ofstream(spec_) << "root = \"" << jail_root_ << "\"\nstate-dir = \"" << jail_state_ << "\"\n" << body;
  }
  ProcessResult apply(const std::vector<std::string>& options = {}) const {
    std::vector<std::string> args{"apply", spec_};
    args.insert(args.end(), options.begin(), options.end());
    return run_jailbuild(args);
  }
  // `jailbuild run --state-dir STATE OPTIONS... ROOT COMMAND...`
  ProcessResult run(const std::vector<std::string>& options, const std::vector<std::string>& command = {}) const {
    std::vector<std::string> args{"run", "--state-dir", jail_state_};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(jail_root_);
    args.insert(args.end(), command.begin(), command.end());
    return run_jailbuild(args);
  }
  // The paths the root's manifest lists.
  std::vector<std::string> manifest_paths() const {
    const ProcessResult list = run_jailbuild({"list", "--json", "--state-dir", jail_state_, jail_root_});
    std::vector<std::string> paths;
    const nlohmann::json manifest = json_in(list.output);
    if (!manifest.is_object()) return paths;
    for (const auto& [path, entry] : manifest.at("entries").items()) paths.push_back(path);
    return paths;
  }

  std::string base_, jail_root_, jail_state_, spec_;
};

TEST_F(Apply, BuildsTheRootTheSameAddCommandsBuild) {
  write_spec("paths = [\"/usr/bin/date\", \"/usr/bin/ls\", \"/bin/sh\"]\nwithout = [\"terminfo\"]\n");
  const ProcessResult applied = apply();
  ASSERT_EQ(applied.exit_code, kExitOk) << applied.describe();
  const std::string by_add = base_ + "/by-add";
  const ProcessResult added =
      run_jailbuild(add_args({"/usr/bin/date", "/usr/bin/ls", "/bin/sh"}, by_add, base_ + "/add-state",
                             {"--without", "terminfo"}));
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  const Tree tree = snapshot(jail_root_);
  EXPECT_GT(tree.size(), 20u);
  EXPECT_EQ(tree, snapshot(by_add));
  // And what it built works: the loader finds everything, date runs.
  const ProcessResult date = run({}, {"date", "-u", "-d", "@0", "+%Y"});
  EXPECT_EQ(date.output, "1970\n") << date.describe();
}

TEST_F(Apply, APathTheSpecNoLongerNamesIsRemovedWithWhatOnlyItNeeded) {
  write_spec("paths = [\"/usr/bin/date\", \"/usr/bin/sort\"]\n");
  ASSERT_EQ(apply().exit_code, kExitOk);
  ASSERT_TRUE(std::filesystem::exists(jail_root_ + "/usr/bin/sort"));
  const std::vector<std::string> before = manifest_paths();
  write_spec("paths = [\"/usr/bin/date\"]\n");
  const ProcessResult applied = apply({"--json"});
  ASSERT_EQ(applied.exit_code, kExitOk) << applied.describe();
  EXPECT_FALSE(std::filesystem::exists(jail_root_ + "/usr/bin/sort"));
  const std::vector<std::string> after = manifest_paths();
  EXPECT_LT(after.size(), before.size());
  EXPECT_EQ(std::count(after.begin(), after.end(), "/usr/bin/sort"), 0);
  const nlohmann::json change = json_in(applied.output);
  ASSERT_TRUE(change.is_object()) << applied.output;
  EXPECT_TRUE(contains(change.at("removed").dump(), "/usr/bin/sort")) << change.dump();
  // The control: what the spec still names stays, and runs.
  EXPECT_EQ(run({}, {"date", "-u", "-d", "@0", "+%Y"}).output, "1970\n");
}

TEST_F(Apply, ABadSpecChangesNothing) {
  write_spec("paths = [\"/usr/bin/date\"]\n[run]\ncommand = [\"date\"]\n");
  ASSERT_EQ(apply().exit_code, kExitOk);
  const Tree root_before = snapshot(jail_root_, true);
  const Tree state_before = snapshot(jail_state_, true);
  for (const auto& [body, line] :
       std::vector<std::pair<std::string, std::string>>{
           {"paths = [\"/usr/bin/date\", \"/usr/bin/ls\"]\npath = [\"/usr/bin/id\"]\n", ":4: unknown key \"path\""},
           {"paths = [\"/usr/bin/date\", \"/usr/bin/ls\"]\n[run]\ncommand = \"ls\"\n", ":5: command must be a list"},
           {"paths = [\"/usr/bin/ls\"]\nwith = [\"no-such-rule\"]\n", ":4: "}}) {
    write_spec(body);
    const ProcessResult applied = apply();
    EXPECT_EQ(applied.exit_code, kExitUsage) << applied.describe();
    EXPECT_TRUE(contains(applied.output, spec_ + line)) << applied.output;
  }
  // No root at all: said, and nothing is made.
  std::ofstream(spec_) << "state-dir = \"" << jail_state_ << "\"\npaths = [\"/usr/bin/ls\"]\n";
  const ProcessResult rootless = apply();
  EXPECT_EQ(rootless.exit_code, kExitUsage);
  EXPECT_TRUE(contains(rootless.output, "no root")) << rootless.output;
  EXPECT_EQ(snapshot(jail_root_, true), root_before);
  EXPECT_EQ(snapshot(jail_state_, true), state_before);
  // The control: the same change in a good spec does change the root.
  write_spec("paths = [\"/usr/bin/date\", \"/usr/bin/ls\"]\n");
  EXPECT_EQ(apply().exit_code, kExitOk);
  EXPECT_NE(snapshot(jail_root_, true), root_before);
}

TEST_F(Apply, ASecondApplyIsProvenUnchangedAndRunsNoTrace) {
  write_spec(
      "paths = [\"/usr/bin/date\"]\n[[trace]]\ncommand = [\"/bin/sh\", \"-c\", \"ls / >/dev/null\"]\n"
      "[run]\ncommand = [\"ls\", \"/usr\"]\n");
  const ProcessResult first = apply({"--json"});
  ASSERT_EQ(first.exit_code, kExitOk) << first.describe();
  EXPECT_EQ(json_in(first.output).at("traced").size(), 1u) << first.output;
  EXPECT_TRUE(std::filesystem::exists(jail_root_ + "/usr/bin/ls"));  // found by the trace alone
  const ProcessResult second = run_jailbuild({"-v", "apply", spec_});
  EXPECT_EQ(second.exit_code, kExitOk) << second.describe();
  EXPECT_TRUE(contains(second.output, "as the watch list proves")) << second.output;
  EXPECT_FALSE(contains(second.output, "trace `")) << second.output;
  // The root's default command, found by the trace, works.
  const ProcessResult listed = run({});
  EXPECT_EQ(listed.exit_code, kExitOk) << listed.describe();
  EXPECT_TRUE(contains(listed.output, "bin\n")) << listed.output;
  // The trace leaves the spec: what only it brought leaves the root.
  write_spec("paths = [\"/usr/bin/date\"]\n");
  const ProcessResult untraced = apply({"--json"});
  EXPECT_EQ(untraced.exit_code, kExitOk) << untraced.describe();
  EXPECT_EQ(json_in(untraced.output).at("untraced").size(), 1u) << untraced.output;
  EXPECT_FALSE(std::filesystem::exists(jail_root_ + "/usr/bin/ls"));
}

TEST_F(Apply, RunRootRunsTheSpecsCommandWithItsSettings) {
  write_spec(
      "paths = [\"/usr/bin/date\", \"/usr/bin/id\"]\n"
      "[run]\ncommand = [\"date\", \"-d\", \"@0\", \"+%Z %H\"]\nenv = { TZ = \"Asia/Tokyo\" }\nuser = \"nobody\"\n");
  ASSERT_EQ(apply().exit_code, kExitOk);
  const ProcessResult recorded = run({});
  EXPECT_EQ(recorded.output, "JST 09\n") << recorded.describe();
  // Each option given replaces the recorded one, the rest stay: --env, then the user.
  const ProcessResult utc = run({"--env", "TZ=UTC"});
  EXPECT_EQ(utc.output, "UTC 00\n") << utc.describe();
  const ProcessResult user = run({"--env", "TZ=UTC"}, {"id", "-u"});
  EXPECT_EQ(user.exit_code, kExitOk) << user.describe();
  EXPECT_NE(user.output, "65534\n");  // with PROGRAM, nothing recorded applies: run's own defaults
  // The control for the recorded user: the spec's nobody, when the recorded command is `id -u`.
  write_spec("paths = [\"/usr/bin/date\", \"/usr/bin/id\"]\n[run]\ncommand = [\"id\", \"-u\"]\nuser = \"nobody\"\n");
  ASSERT_EQ(apply().exit_code, kExitOk);
  EXPECT_EQ(run({}).output, "65534\n");
  EXPECT_EQ(run({"-u", "0"}).output, "0\n");
}

TEST_F(Apply, RunRootWithoutRecordedSettingsSaysSo) {
  ASSERT_EQ(run_jailbuild(add_args({"/usr/bin/date"}, jail_root_, jail_state_)).exit_code, kExitOk);
  const ProcessResult bare = run({});
  EXPECT_EQ(bare.exit_code, 125) << bare.describe();
  EXPECT_TRUE(contains(bare.output, "no default command recorded")) << bare.output;
}

}  // namespace
}  // namespace jailbuild
