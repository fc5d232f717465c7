// What `jailbuild -v sync` and `-vv sync` say after a real change on the host: why the watch list
// could not prove the root unchanged (which watched path changed, and how), and at -vv what was
// decided for each entry. Beside each, the control: with nothing changed, the list proves the root
// unchanged and no entry is looked at.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::kExitOk;
using testing::ProcessResult;
using testing::run_jailbuild;

class SyncVerbose : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(data_);
    testing::write_file(data_ + "/a.txt", "first\n");
    // A watch list is written only for host files older than the run by a margin (one second):
    // a file changed within a timestamp tick of the run could change again unseen.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    const ProcessResult added = run_jailbuild({"add", data_, "--root", root_, "--state-dir", state_});
    ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
    ASSERT_TRUE(fs::exists(state_ + "/roots")) << "no state directory";
  }

  ProcessResult sync(const std::string& verbosity) {
    return run_jailbuild({verbosity, "sync", root_, "--state-dir", state_});
  }

  testing::TempDir dir_{"jailbuild-sync-verbose"};
  std::string data_ = dir_ / "data";
  std::string root_ = dir_ / "root";
  std::string state_ = dir_ / "state";
};

TEST_F(SyncVerbose, AFileRewrittenOnTheHostIsNamedWithWhatChangedAndWhatWasDone) {
  // The control: nothing changed, so the list proves it, and no entry is decided on.
  const ProcessResult unchanged = sync("-vv");
  ASSERT_EQ(unchanged.exit_code, kExitOk) << unchanged.describe();
  EXPECT_TRUE(contains(unchanged.output, "unchanged, as the watch list proves")) << unchanged.output;
  EXPECT_FALSE(contains(unchanged.output, "cannot prove")) << unchanged.output;
  EXPECT_FALSE(contains(unchanged.output, ": keep")) << unchanged.output;

  testing::write_file(data_ + "/a.txt", "second, longer\n");  // the same inode, rewritten
  const ProcessResult changed = sync("-vv");
  ASSERT_EQ(changed.exit_code, kExitOk) << changed.describe();
  EXPECT_TRUE(contains(changed.output, "the watch list cannot prove the root unchanged: the host path " + data_ +
                                           "/a.txt: changed (size, mtime, ctime)"))
      << changed.output;
  EXPECT_TRUE(contains(changed.output, root_ + data_ + "/a.txt: replace (the source changed: size, mtime, ctime)"))
      << changed.output;
  // The directory holding it is kept: decided on, and nothing to do.
  EXPECT_TRUE(contains(changed.output, root_ + data_ + ": keep")) << changed.output;
  EXPECT_EQ(testing::read_file(root_ + data_ + "/a.txt"), "second, longer\n");
}

TEST_F(SyncVerbose, AFileNewOnTheHostIsNamedAndCreated) {
  testing::write_file(data_ + "/b.txt", "new\n");
  const ProcessResult changed = sync("-vv");
  ASSERT_EQ(changed.exit_code, kExitOk) << changed.describe();
  // The added directory was read for its entries: its own identity shows the new name.
  EXPECT_TRUE(
      contains(changed.output, "cannot prove the root unchanged: the host path looked up " + data_ + ": changed ("))
      << changed.output;
  EXPECT_TRUE(contains(changed.output, root_ + data_ + "/b.txt: create (nothing is there)")) << changed.output;
}

TEST_F(SyncVerbose, AFileGoneFromTheRootIsNamedAsGone) {
  fs::remove(root_ + data_ + "/a.txt");
  const ProcessResult changed = sync("-vv");
  ASSERT_EQ(changed.exit_code, kExitOk) << changed.describe();
  EXPECT_TRUE(contains(changed.output, "the root's entry " + data_ + "/a.txt: gone (a regular file was there)"))
      << changed.output;
  EXPECT_TRUE(contains(changed.output, root_ + data_ + "/a.txt: create (nothing is there)")) << changed.output;
}

// -v says why the list could not prove it; only -vv goes through the entries.
TEST_F(SyncVerbose, OneVSaysWhyButNotEachEntry) {
  testing::write_file(data_ + "/a.txt", "second, longer\n");
  const ProcessResult changed = sync("-v");
  ASSERT_EQ(changed.exit_code, kExitOk) << changed.describe();
  EXPECT_TRUE(contains(changed.output, "the host path " + data_ + "/a.txt: changed (")) << changed.output;
  EXPECT_FALSE(contains(changed.output, ": replace (")) << changed.output;
}

}  // namespace
}  // namespace jailbuild
