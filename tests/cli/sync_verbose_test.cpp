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
#include <nlohmann/json.hpp>

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

  // The root's manifest and watch list: the only files of their kind in the state directory.
  std::string state_file(const std::string& extension) const {
    std::string found;
    for (const auto& entry : fs::directory_iterator(state_ + "/roots")) {
      if (entry.path().extension() != extension || entry.path().filename().string().starts_with(".")) continue;
      EXPECT_TRUE(found.empty()) << "two " << extension << " files: " << found << ", " << entry.path();
      found = entry.path();
    }
    EXPECT_FALSE(found.empty()) << "no " << extension << " file in " << state_ << "/roots";
    return found;
  }
  std::string manifest_file() const { return state_file(".json"); }
  nlohmann::json manifest() const { return nlohmann::json::parse(testing::read_file(manifest_file())); }

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

// The watch list proves a run unchanged only for the manifest, and so the intent, it was written
// with: a manifest whose intent changed in a part other than the added paths (here, a runtime rule
// turned off, as a later `add --without` will record it) is planned again, kept, and the next
// list records the new intent.
TEST_F(SyncVerbose, AnIntentChangedInAnyPartIsPlannedAgainAndTheNewListRecordsIt) {
  const ProcessResult unchanged = sync("-vv");  // the control
  ASSERT_EQ(unchanged.exit_code, kExitOk) << unchanged.describe();
  EXPECT_TRUE(contains(unchanged.output, "unchanged, as the watch list proves")) << unchanged.output;
  EXPECT_FALSE(contains(unchanged.output, root_ + ": plan\n")) << unchanged.output;

  nlohmann::json changed_intent = manifest();
  ASSERT_EQ(changed_intent["intent"]["options"]["rules_without"], nlohmann::json::array());
  changed_intent["intent"]["options"]["rules_without"] = {"nss"};
  testing::write_file(manifest_file(), changed_intent.dump(2));

  const ProcessResult replanned = sync("-vv");
  ASSERT_EQ(replanned.exit_code, kExitOk) << replanned.describe();
  EXPECT_TRUE(contains(replanned.output, "cannot prove the root unchanged: the manifest changed since the list was "
                                         "written"))
      << replanned.output;
  EXPECT_TRUE(contains(replanned.output, root_ + ": plan\n")) << replanned.output;
  EXPECT_EQ(manifest()["intent"], changed_intent["intent"]) << "the sync kept the intent it was given";
  EXPECT_TRUE(contains(testing::read_file(state_file(".watch")), "\"rules_without\":[\"nss\"]"))
      << testing::read_file(state_file(".watch"));

  const ProcessResult again = sync("-vv");
  ASSERT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_TRUE(contains(again.output, "unchanged, as the watch list proves")) << again.output;
}

// Every requirement of the intent is planned, not only paths: a dlopen recorded in the manifest
// brings the library in, and the manifest saved with the entries' reasons naming it loads back.
TEST_F(SyncVerbose, ADlopenInTheIntentIsPlannedAndItsManifestLoadsBack) {
  nlohmann::json with_dlopen = manifest();
  with_dlopen["intent"]["requirements"].push_back(
      {{"kind", "dlopen"}, {"from", "/usr/bin/true"}, {"name", "libm.so.6"}});
  testing::write_file(manifest_file(), with_dlopen.dump(2));
  ASSERT_FALSE(fs::exists(root_ + "/usr/bin/true"));

  const ProcessResult synced = sync("-v");
  ASSERT_EQ(synced.exit_code, kExitOk) << synced.describe();
  EXPECT_TRUE(fs::is_regular_file(root_ + "/usr/bin/true"));
  EXPECT_TRUE(testing::same_contents(root_ + "/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6"))
      << "libm, which only the dlopen asks for, is not in the root";

  const ProcessResult listed = run_jailbuild({"list", root_, "--state-dir", state_});
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.describe();
  // What was added, in full: the next section (the rules' sizes: true triggers the locale rule)
  // starts a line of its own.
  EXPECT_TRUE(contains(listed.output, "added:\n  " + data_ + "\n  dlopen(libm.so.6) from /usr/bin/true\n" +
                                          "rules:\n"))
      << listed.output;
  EXPECT_TRUE(contains(listed.output, "(for dlopen(libm.so.6) from /usr/bin/true)")) << listed.output;
  EXPECT_EQ(manifest()["intent"], with_dlopen["intent"]);
}

// A manifest as jailbuild wrote it before the intent (version 1: "added" and string "options")
// still describes its root: `list` shows it, `sync` checks the root against it and rewrites it as
// version 2 with the same entries, and the next sync is proven unchanged.
TEST_F(SyncVerbose, AVersion1ManifestIsSyncedAndRewrittenAsVersion2WithTheSameEntries) {
  const nlohmann::json current = manifest();
  ASSERT_EQ(current["version"], 2);
  ASSERT_GT(current["entries"].size(), 1u);
  // Written as text, with the keys in the order an older jailbuild's nlohmann wrote them.
  std::string version1 = "{\n  \"added\": [\n    " + nlohmann::json(data_).dump() + "\n  ],\n  \"entries\": " +
                         current["entries"].dump(2) + ",\n  \"options\": {\n    \"keep_setuid\": \"true\"\n  },\n" +
                         "  \"root\": " + nlohmann::json(root_).dump() + ",\n  \"version\": 1\n}\n";
  ASSERT_EQ(nlohmann::json::parse(version1)["entries"], current["entries"]);
  testing::write_file(manifest_file(), version1);

  const ProcessResult listed = run_jailbuild({"list", root_, "--state-dir", state_});
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.describe();
  EXPECT_TRUE(contains(listed.output, "added:\n  " + data_ + "\nentries:\n")) << listed.output;

  const ProcessResult synced = sync("-v");
  ASSERT_EQ(synced.exit_code, kExitOk) << synced.describe();
  EXPECT_TRUE(contains(synced.output, "the manifest changed since the list was written")) << synced.output;
  const nlohmann::json rewritten = manifest();
  EXPECT_EQ(rewritten["version"], 2) << rewritten.dump(2);
  EXPECT_FALSE(rewritten.contains("added"));
  EXPECT_EQ(rewritten["intent"]["requirements"], (nlohmann::json{{{"kind", "path"}, {"path", data_}}}));
  EXPECT_EQ(rewritten["intent"]["options"]["keep_setuid"], true) << "the version 1 option, typed";
  // The same entries: paths, types, sources, reasons, and the file's identities on both sides. A
  // directory's times are not compared: /tmp is busy, and the add recorded the root's directories
  // before their last child was placed.
  const auto without_directory_times = [](nlohmann::json entries) {
    for (nlohmann::json& entry : entries) {
      if (entry["type"] != "directory") continue;
      for (const char* side : {"source_identity", "copy_identity"})
        for (const char* time : {"mtime_ns", "ctime_ns", "size"}) entry[side].erase(time);
    }
    return entries;
  };
  EXPECT_EQ(without_directory_times(rewritten["entries"]), without_directory_times(current["entries"]));
  ASSERT_EQ(rewritten["entries"].back()["path"], data_ + "/a.txt");
  EXPECT_EQ(rewritten["entries"].back(), current["entries"].back());
  EXPECT_EQ(testing::read_file(root_ + data_ + "/a.txt"), "first\n");

  const ProcessResult again = sync("-v");
  ASSERT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_TRUE(contains(again.output, "unchanged, as the watch list proves")) << again.output;
}

}  // namespace
}  // namespace jailbuild
