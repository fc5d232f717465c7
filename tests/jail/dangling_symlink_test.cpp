// Dangling symlinks inside an added directory (fonts-lato's links under /usr/lib/ruby on Debian):
// data to copy as it is. `add` copies each as the symlink, target text exactly as on the host,
// never following it, says so once with a warning and exits 0; later runs that find it placed do
// not repeat the warning; a target that appears later is noticed by `sync`, watch list and all.
// The roots are judged by real programs run in them with `jailbuild run`. A dangling symlink given
// as the PATH itself stays an error.
//
// The fixture directory is under /var/tmp, not /tmp: `add` places each file at its host path
// inside the root, and `run` mounts a fresh tmpfs on the jail's /tmp.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"

namespace jailbuild {
namespace {

using namespace testing;
using namespace std::chrono_literals;

class DanglingSymlink : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/var/tmp/jailbuild-dangling-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ::chmod(dir_.c_str(), 0755);  // copied to the root as it is: the jail's root must pass through it
    data_ = dir_ + "/data";
    root_ = dir_ + "/root";
    state_ = dir_ + "/state";
    write_file(data_ + "/a.txt", "plain data\n");
    fs::create_directories(data_ + "/sub");
    fs::create_symlink("../../nowhere/x.ttf", data_ + "/sub/font.ttf");  // relative, its directory missing too
    fs::create_symlink(dir_ + "/outside", data_ + "/sub/absolute");      // absolute, outside the added directory
    fs::create_symlink("loop", data_ + "/sub/loop");                     // itself
    fs::create_symlink("a.txt", data_ + "/alive");                       // the control: it leads somewhere
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  ProcessResult add(const std::vector<std::string>& paths) const {
    return run_jailbuild(add_args(paths, root_, state_));
  }
  ProcessResult sync(const std::vector<std::string>& before = {}) const {
    std::vector<std::string> args = before;
    args.insert(args.end(), {"sync", root_, "--state-dir", state_});
    return run_jailbuild(args);
  }
  // `jailbuild run ROOT COMMAND...`.
  ProcessResult run(const std::vector<std::string>& command) const {
    std::vector<std::string> args{"run", root_};
    args.insert(args.end(), command.begin(), command.end());
    return run_jailbuild(args);
  }

  static std::size_t count(const std::string& text, const std::string& part) {
    std::size_t found = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++found;
    return found;
  }

  std::string dir_, data_, root_, state_;
};

TEST_F(DanglingSymlink, InsideAnAddedDirectoryItIsCopiedAsItIsWithOneWarningAndExit0) {
  const ProcessResult added = add({data_, "/usr/bin/readlink", "/usr/bin/cat"});
  EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
  EXPECT_FALSE(contains(added.output, "error")) << added.describe();
  for (const auto& [link, target] : {std::pair{"/sub/font.ttf", std::string("../../nowhere/x.ttf")},
                                     {"/sub/absolute", dir_ + "/outside"},
                                     {"/sub/loop", std::string("loop")}}) {
    const std::string path = data_ + link;
    EXPECT_EQ(count(added.output, "warning: " + path + " -> " + target + ": dangling symlink, its target is missing ("),
              1u)
        << path << "\n" << added.describe();
    // In the root: the symlink itself, its text exactly the host's.
    ASSERT_TRUE(fs::is_symlink(fs::symlink_status(root_ + path))) << path;
    EXPECT_EQ(fs::read_symlink(root_ + path).string(), target) << path;
    // What a program in the jail reads.
    const ProcessResult read = run({"readlink", path});
    EXPECT_EQ(read.exit_code, 0) << read.describe();
    EXPECT_EQ(read.output, target + "\n") << read.describe();
  }
  EXPECT_EQ(count(added.output, "dangling symlink"), 3u) << added.describe();
  EXPECT_TRUE(contains(added.output, "No such file or directory")) << added.describe();
  EXPECT_TRUE(contains(added.output, "Too many levels of symbolic links")) << added.describe();

  // Nothing was followed: no target made in the root, none on the host.
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ + dir_ + "/nowhere")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ + dir_ + "/outside")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir_ + "/outside")));

  // The rest of the directory is there as ever, the live symlink with what it leads to.
  const ProcessResult through_live = run({"cat", data_ + "/alive"});
  EXPECT_EQ(through_live.exit_code, 0) << through_live.describe();
  EXPECT_EQ(through_live.output, "plain data\n") << through_live.describe();
  const ProcessResult through_dangling = run({"cat", data_ + "/sub/font.ttf"});
  EXPECT_NE(through_dangling.exit_code, 0) << through_dangling.describe();
  EXPECT_TRUE(contains(through_dangling.output, "No such file or directory")) << through_dangling.describe();
}

TEST_F(DanglingSymlink, TheWarningIsSaidByTheRunThatPlacesTheLinkNotByLaterOnes) {
  const ProcessResult first = add({data_, "/usr/bin/cat"});
  ASSERT_EQ(first.exit_code, kExitOk) << first.describe();
  ASSERT_EQ(count(first.output, "dangling symlink"), 3u) << first.describe();

  // Another add re-plans the whole root: the links are found placed, and not warned about again.
  const ProcessResult again = add({"/usr/bin/readlink"});
  EXPECT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_FALSE(contains(again.output, "dangling symlink")) << again.describe();
  EXPECT_FALSE(contains(again.output, "warning")) << again.describe();
  // ... which -v still shows.
  write_file(data_ + "/b.txt", "a change, so that sync plans again\n");
  const ProcessResult verbose = sync({"-v"});
  EXPECT_EQ(verbose.exit_code, kExitOk) << verbose.describe();
  EXPECT_FALSE(contains(verbose.output, "warning")) << verbose.describe();
  EXPECT_EQ(count(verbose.output, "dangling symlink, its target is missing"), 3u) << verbose.describe();
  EXPECT_EQ(count(verbose.output, "(said when it was placed)"), 3u) << verbose.describe();

  // A link that changes is placed again, and said again.
  fs::remove(data_ + "/sub/font.ttf");
  fs::create_symlink("../../elsewhere/y.ttf", data_ + "/sub/font.ttf");
  const ProcessResult changed = sync();
  EXPECT_EQ(changed.exit_code, kExitOk) << changed.describe();
  EXPECT_EQ(count(changed.output, "warning: "), 1u) << changed.describe();
  EXPECT_TRUE(contains(changed.output, "font.ttf -> ../../elsewhere/y.ttf: dangling symlink")) << changed.describe();
  EXPECT_EQ(fs::read_symlink(root_ + data_ + "/sub/font.ttf").string(), "../../elsewhere/y.ttf");
}

// The same for a script in an added directory whose interpreter is missing (perl's privlib holds
// `#!./perl` scripts): copied, warned about once by the run that places it, naming the script; not
// by later runs. The control is the first run's warning.
TEST_F(DanglingSymlink, AScriptWithoutItsInterpreterIsWarnedAboutOnceNamingTheScript) {
  const std::string script = data_ + "/tool.sh";
  write_file(script, "#!./no-such-interpreter\necho hi\n");
  ::chmod(script.c_str(), 0755);
  const ProcessResult first = add({data_, "/usr/bin/cat"});
  ASSERT_EQ(first.exit_code, kExitOk) << first.describe();
  EXPECT_EQ(count(first.output, "(interpreter of " + script + ") (in " + data_ + "; copied without its interpreter)"), 1u)
      << first.describe();
  EXPECT_TRUE(fs::is_regular_file(root_ + script));

  const ProcessResult again = add({"/usr/bin/readlink"});
  EXPECT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_FALSE(contains(again.output, "warning")) << again.describe();
}

TEST_F(DanglingSymlink, ATargetThatAppearsLaterIsCopiedBySyncThoughNothingElseChanged) {
  // A loop is never proven unchanged (following it fails, which proves nothing): left out here.
  fs::remove(data_ + "/sub/loop");
  // Sources a second old, so that the add can write a watch list (it lists only settled sources).
  std::this_thread::sleep_for(1100ms);
  const ProcessResult added = add({data_, "/usr/bin/cat"});
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  std::this_thread::sleep_for(1100ms);
  // The control: with nothing changed, the watch list proves the root unchanged, so what follows
  // is noticed through what the list watches, not by a full check.
  const ProcessResult unchanged = sync({"-v"});
  ASSERT_EQ(unchanged.exit_code, kExitOk) << unchanged.describe();
  ASSERT_TRUE(contains(unchanged.output, "unchanged, as the watch list proves")) << unchanged.describe();

  write_file(dir_ + "/nowhere/x.ttf", "the font, installed at last\n");
  const ProcessResult synced = sync();
  EXPECT_EQ(synced.exit_code, kExitOk) << synced.describe();
  const ProcessResult read = run({"cat", data_ + "/sub/font.ttf"});
  EXPECT_EQ(read.exit_code, 0) << read.describe();
  EXPECT_EQ(read.output, "the font, installed at last\n") << read.describe();
}

TEST_F(DanglingSymlink, GivenAsThePathItselfItIsStillAnError) {
  // An added path is a request for what it names; a link that names nothing cannot be provided.
  const ProcessResult added = add({data_ + "/sub/font.ttf"});
  EXPECT_EQ(added.exit_code, kExitIncomplete) << added.describe();
  EXPECT_TRUE(contains(added.output, "error: " + data_ + "/sub/font.ttf: ")) << added.describe();
  EXPECT_TRUE(contains(added.output, "No such file or directory")) << added.describe();
}

}  // namespace
}  // namespace jailbuild
