// The watch list: its text form (round trip, damage refused) and still_current, which must notice
// every change that could alter a plan or a root: a host file rewritten in place or replaced, a
// file appearing where the resolver found none, a copy in the root touched, replaced or swapped
// for a symlink, another manifest, another boot.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "../../src/jail/watch_list.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

FileIdentity identity(const std::string& path, bool follow = false) {
  const auto found = identity_at(path, follow);
  EXPECT_TRUE(found) << path;
  return found.value_or(FileIdentity{});
}

WatchList sample_list() {
  WatchList list;
  list.root = "/srv/jail with space";
  list.manifest = {1, 2, 3, 4, 5, 0100600, 0, 0};
  list.boot_id = "0b6e3c1e-0000-4000-8000-000000000001";
  list.added = {"/usr/bin/ls", "/odd\nname\\x"};
  list.options = {{"keep_setuid", "true"}};
  list.paths = {
      {WatchedPath::Side::Host, "/usr/bin/ls", FileIdentity{66306, 1234, 151344, -5, 1700000000000000000, 0100755, 0, 0}},
      {WatchedPath::Side::HostFollow, "/usr/lib/glibc-hwcaps", std::nullopt},
      {WatchedPath::Side::Root, "/usr/bin/ls", FileIdentity{66306, 99, 151344, 1, 2, 0100755, 0, 0}},
  };
  return list;
}

TEST(WatchListText, RoundTripsEveryField) {
  const WatchList list = sample_list();
  const auto parsed = parse_watch_list(serialize_watch_list(list));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, list);
}

TEST(WatchListText, DamageIsRefused) {
  const std::string good = serialize_watch_list(sample_list());
  EXPECT_FALSE(parse_watch_list(""));
  EXPECT_FALSE(parse_watch_list("jailbuild-watch 2\n" + good.substr(good.find('\n') + 1)));
  EXPECT_FALSE(parse_watch_list(good.substr(0, good.size() - 1))) << "a list cut short";
  EXPECT_FALSE(parse_watch_list(good + "r 1 2 3\n")) << "an identity cut short";
  EXPECT_FALSE(parse_watch_list(good + "x - /path\n")) << "an unknown keyword";
  EXPECT_FALSE(parse_watch_list(good + "h - relative\n")) << "a relative path";
  EXPECT_FALSE(parse_watch_list(good + "h - /bad\\escape\n"));
  EXPECT_FALSE(parse_watch_list("jailbuild-watch 1\nroot /r\n")) << "no manifest identity";
}

class StillCurrent : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(host("/lib/libx.so.1"), "library");
    // An old modification time, so that a rewrite now changes it whatever the clock's granularity.
    const timespec old[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, host("/lib/libx.so.1").c_str(), old, 0), 0);
    fs::create_directories(host("/searched"));
    write_file(root("/lib/libx.so.1"), "library");
    write_file(manifest_, "{}");
    list_.root = dir_.path() + "/root";
    list_.boot_id = current_boot_id();
    list_.paths = {
        make_watched(WatchedPath::Side::Host, host("/lib/libx.so.1"), identity(host("/lib/libx.so.1"))),
        // A miss: the resolver looked for /searched/libx.so.1 and found nothing there.
        make_watched(WatchedPath::Side::HostFollow, host("/searched/libx.so.1"), std::nullopt),
        make_watched(WatchedPath::Side::Root, "/lib", identity(root("/lib"))),
        make_watched(WatchedPath::Side::Root, "/lib/libx.so.1", identity(root("/lib/libx.so.1"))),
    };
  }

  std::string host(const std::string& path) const { return dir_.path() + "/host" + path; }
  std::string root(const std::string& path) const { return dir_.path() + "/root" + path; }
  bool current() const { return still_current(list_, list_.root, identity(manifest_)); }
  void set_manifest_identity() { list_.manifest = identity(manifest_); }

  testing::TempDir dir_;
  std::string manifest_ = dir_.path() + "/manifest.json";
  WatchList list_;
};

TEST_F(StillCurrent, HoldsWhenNothingChanged) {
  set_manifest_identity();
  EXPECT_TRUE(current());
}

TEST_F(StillCurrent, AnotherManifestOrBootProvesNothing) {
  set_manifest_identity();
  write_file(manifest_ + ".new", "{\"other\": 1}");
  fs::rename(manifest_ + ".new", manifest_);
  EXPECT_FALSE(current());
  set_manifest_identity();
  list_.boot_id = "another boot";
  EXPECT_FALSE(current());
}

TEST_F(StillCurrent, AHostFileRewrittenInPlaceOrReplacedIsNoticed) {
  set_manifest_identity();
  { std::ofstream(host("/lib/libx.so.1"), std::ios::binary | std::ios::in | std::ios::out) << "L"; }
  EXPECT_FALSE(current()) << "rewritten in place (same inode)";
  list_.paths[0].identity = identity(host("/lib/libx.so.1"));
  ASSERT_TRUE(current());
  write_file(host("/lib/libx.so.1.new"), "library");
  fs::rename(host("/lib/libx.so.1.new"), host("/lib/libx.so.1"));
  EXPECT_FALSE(current()) << "replaced by rename";
}

TEST_F(StillCurrent, AFileAppearingWhereNoneWasFoundIsNoticedButNotItsNeighbours) {
  set_manifest_identity();
  write_file(host("/searched/libother.so.1"), "another library");
  EXPECT_TRUE(current());
  write_file(host("/searched/libx.so.1"), "a new library earlier in the search path");
  EXPECT_FALSE(current());
}

TEST_F(StillCurrent, AMissThroughASymlinkRepointedToAFileIsNoticed) {
  fs::create_directories(host("/other"));
  write_file(host("/other/libx.so.1"), "found through the new link");
  fs::remove_all(host("/searched"));
  fs::create_directory_symlink(host("/empty"), host("/searched"));
  list_.paths[1] = make_watched(WatchedPath::Side::HostFollow, host("/searched/libx.so.1"), std::nullopt);
  set_manifest_identity();
  EXPECT_TRUE(current());
  fs::remove(host("/searched"));
  fs::create_directory_symlink(host("/other"), host("/searched"));
  EXPECT_FALSE(current());
}

TEST_F(StillCurrent, ACopyTouchedReplacedOrSwappedForASymlinkIsNoticed) {
  set_manifest_identity();
  const std::string copy = root("/lib/libx.so.1");
  const timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, copy.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_FALSE(current()) << "touched";
  list_.paths[3].identity = identity(copy);
  ASSERT_TRUE(current()) << "a root directory's times do not matter";

  // The directory swapped for a symlink to a directory holding the very same inode: the lookup
  // through the symlink is refused, so the copy counts as gone.
  fs::create_directories(root("/elsewhere"));
  ASSERT_EQ(::link(copy.c_str(), root("/elsewhere/libx.so.1").c_str()), 0);
  fs::rename(root("/lib"), root("/lib.real"));
  fs::create_directory_symlink("elsewhere", root("/lib"));
  EXPECT_FALSE(current());
}

TEST_F(StillCurrent, AHostDirectoryPassedThroughMayGainEntriesButNotChangeMode) {
  list_.paths.insert(list_.paths.begin(),
                     make_watched(WatchedPath::Side::HostDirectory, host("/lib"), identity(host("/lib"))));
  set_manifest_identity();
  write_file(host("/lib/unrelated"), "another package's file");
  EXPECT_TRUE(current());
  ASSERT_EQ(::chmod(host("/lib").c_str(), 0700), 0);
  EXPECT_FALSE(current());
}

}  // namespace
}  // namespace jailbuild
