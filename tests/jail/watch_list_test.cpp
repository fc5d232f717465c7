// The watch list: its text form (round trip, damage refused) and its check, which must notice
// every change that could alter a plan or a root: a host file rewritten in place or replaced, a
// file appearing where the resolver found none, a copy in the root touched, replaced or swapped
// for a symlink, a symlink re-pointed, another manifest, another boot. Directories' listings
// (complete_watch_list) must spare stat calls without hiding any of these.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "jail/watch_list.hpp"
#include "jailbuild/jail.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "util/root_dir.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::write_file;

// complete_watch_list's threshold with which every directory counts as settled.
constexpr std::int64_t kEverythingSettled = std::numeric_limits<std::int64_t>::max();

bool is_listing(const WatchedPath& watched) {
  return watched.side == WatchedPath::Side::HostListing || watched.side == WatchedPath::Side::RootListing;
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
  list.intent.requirements = {PathRequirement{"/usr/bin/ls"}, PathRequirement{"/odd\nname\\x"},
                              TracedRequirement{"/etc/caf\xe9", "ls \\ -l\n"}};
  list.intent.options.keep_setuid = true;
  list.intent.options.rules_without = {"nss"};
  list.intent.options.users = {"www-data"};
  list.paths = {
      {WatchedPath::Side::Host, "/usr/bin/ls",
       FileIdentity{66306, 1234, 151344, -5, 1700000000000000000, 0100755, 0, 0}},
      {WatchedPath::Side::HostFollow, "/usr/lib/glibc-hwcaps", std::nullopt},
      {WatchedPath::Side::HostListing, "/usr/lib", FileIdentity{66306, 7, 4096, 3, 4, 040755, 0, 0}},
      {WatchedPath::Side::Root, "/usr/bin/ls", FileIdentity{66306, 99, 151344, 1, 2, 0100755, 0, 0}},
      {WatchedPath::Side::RootListing, "/usr/bin", FileIdentity{66306, 98, 4096, 5, 6, 040755, 0, 0}},
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
  EXPECT_FALSE(parse_watch_list("jailbuild-watch 1\n" + good.substr(good.find('\n') + 1)));
  EXPECT_FALSE(parse_watch_list(good.substr(0, good.size() - 1))) << "a list cut short";
  EXPECT_FALSE(parse_watch_list(good + "r 1 2 3\n")) << "an identity cut short";
  EXPECT_FALSE(parse_watch_list(good + "x - /path\n")) << "an unknown keyword";
  EXPECT_FALSE(parse_watch_list(good + "h - relative\n")) << "a relative path";
  EXPECT_FALSE(parse_watch_list(good + "h - /bad\\escape\n"));
  EXPECT_FALSE(parse_watch_list("jailbuild-watch 3\nroot /r\nintent " + intent_json_line(Intent{}) + "\n"))
      << "no manifest identity";
  EXPECT_FALSE(parse_watch_list(good + "intent {}\n")) << "the header after the paths";
  EXPECT_FALSE(parse_watch_list("jailbuild-watch 2\n" + good.substr(good.find('\n') + 1))) << "the previous version";
  const std::size_t intent = good.find("\nintent ") + 1;
  const std::size_t intent_end = good.find('\n', intent) + 1;
  EXPECT_FALSE(parse_watch_list(good.substr(0, intent) + good.substr(intent_end))) << "no intent";
  EXPECT_FALSE(parse_watch_list(good.substr(0, intent) + "intent {\"options\": 1}\n" + good.substr(intent_end)))
      << "an intent that is not one";
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
  // The root opened as a run opens it: once, through open_root (invalid if missing).
  UniqueFd open_root() const {
    auto opened = jailbuild::open_root(list_.root, false);
    EXPECT_TRUE(opened) << opened.error().message;
    return opened ? std::move(opened->fd) : UniqueFd();
  }
  WatchCheck check() const {
    auto read = read_watch_list(serialize_watch_list(list_));
    EXPECT_TRUE(read) << read.error().message;
    return read ? check_watch_list(*read, open_root().get(), identity(manifest_)) : WatchCheck{};
  }
  bool current() const { return check().current; }
  void set_manifest_identity() { list_.manifest = identity(manifest_); }

  testing::TempDir dir_;
  std::string manifest_ = dir_.path() + "/manifest.json";
  WatchList list_;
};

TEST_F(StillCurrent, HoldsWhenNothingChanged) {
  set_manifest_identity();
  EXPECT_TRUE(current());
}

// A run proves itself unchanged only if the intent the list was written with already holds all
// it asks for: every part of the intent counts, not only the added paths.
TEST_F(StillCurrent, ProvesOnlyARequestTheRecordedIntentHolds) {
  set_manifest_identity();
  list_.intent.requirements = {PathRequirement{"/usr/bin/ls"}, DlopenRequirement{"/usr/bin/ls", "libm.so.6"}};
  list_.intent.options.keep_setuid = true;
  list_.intent.options.rules_with = {"dns"};
  list_.intent.options.rules_without = {"nss"};
  list_.intent.options.users = {"www-data"};
  const std::string watch_path = dir_.path() + "/root.watch";
  ASSERT_TRUE(save_watch_list(watch_path, list_));
  const UniqueFd root_fd = open_root();
  const WatchedRoot watched{list_.root, root_fd.get(), manifest_, watch_path, false};
  const auto why_not = [&](const Intent& request) {
    const Proof proof = prove_unchanged(watched, request);
    EXPECT_EQ(proof.unchanged, proof.why_not.empty()) << proof.why_not;
    return proof.why_not;
  };

  EXPECT_EQ(why_not(Intent{}), "") << "a sync asks for nothing";
  Intent held;
  held.requirements = {DlopenRequirement{"/usr/bin/ls", "libm.so.6"}, PathRequirement{"/usr/bin/ls"}};
  held.options.keep_setuid = true;
  held.options.rules_with = {"dns"};
  held.options.rules_without = {"nss"};
  held.options.users = {"www-data"};
  EXPECT_EQ(why_not(held), "") << "everything asked for is recorded";

  Intent request;
  request.requirements = {PathRequirement{"/usr/bin/cat"}};
  EXPECT_EQ(why_not(request), "the list was written for an intent without requirement /usr/bin/cat");
  request = {};
  request.options.allow_devices = true;
  EXPECT_EQ(why_not(request), "the list was written for an intent without option allow_devices");
  request = {};
  request.options.rules_with = {"nss"};  // recorded as turned off
  EXPECT_EQ(why_not(request), "the list was written for an intent without rule nss on");
  request = {};
  request.options.rules_without = {"dns"};  // recorded as turned on
  EXPECT_EQ(why_not(request), "the list was written for an intent without rule dns off");
  request = {};
  request.options.users = {"nobody"};
  EXPECT_EQ(why_not(request), "the list was written for an intent without user nobody");

  // The same list with the manifest changed (as by a new intent written to it) proves nothing.
  write_file(manifest_ + ".new", "{\"other\": 1}");
  fs::rename(manifest_ + ".new", manifest_);
  EXPECT_TRUE(why_not(Intent{}).starts_with("the manifest changed since the list was written")) << why_not(Intent{});
}

TEST(ExtendIntent, AddsWhatIsNewOnceAndTurnsRulesOnOrOff) {
  Intent intent;
  intent.requirements = {PathRequirement{"/bin/sh"}};
  intent.options.rules_without = {"nss"};
  Intent request;
  request.requirements = {PathRequirement{"/bin/ls"}, PathRequirement{"/bin/sh"}, PathRequirement{"/bin/ls"},
                          RuleRequirement{"nss"}};
  request.options.keep_setuid = true;
  request.options.rules_with = {"nss"};
  request.options.rules_without = {"dns"};
  request.options.users = {"www-data", "www-data"};
  EXPECT_EQ(extend_intent(intent, request),
            (std::vector<std::string>{"option keep_setuid", "rule nss on", "rule dns off", "user www-data",
                                      "requirement /bin/ls", "requirement rule nss"}));
  Intent expected;
  expected.requirements = {PathRequirement{"/bin/sh"}, PathRequirement{"/bin/ls"}, RuleRequirement{"nss"}};
  expected.options.keep_setuid = true;
  expected.options.rules_with = {"nss"};
  expected.options.rules_without = {"dns"};
  expected.options.users = {"www-data"};
  EXPECT_EQ(intent, expected);
  EXPECT_EQ(extend_intent(intent, request), std::vector<std::string>{}) << "asked again, nothing is new";
  Intent none;
  EXPECT_EQ(extend_intent(intent, none), std::vector<std::string>{});
  EXPECT_EQ(intent, expected) << "an option not asked for is not turned off";
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

TEST_F(StillCurrent, AFileAppearingDeepInAMissingTreeOrBesideItIsNoticed) {
  // The resolver's misses come in trees of hardware-capability directories, none of them there.
  for (const char* miss : {"/searched/tls/libx.so.1", "/searched/tls/x86_64/libx.so.1", "/searched/tlsx/libx.so.1"})
    list_.paths.push_back(make_watched(WatchedPath::Side::Host, host(miss), std::nullopt));
  set_manifest_identity();
  ASSERT_TRUE(current());
  write_file(host("/searched/tlsx/libx.so.1"), "beside the missing tree, named with its prefix");
  EXPECT_FALSE(current());
  fs::remove_all(host("/searched/tlsx"));
  ASSERT_TRUE(current());
  write_file(host("/searched/tls/x86_64/libx.so.1"), "deep in the tree");
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

// The fixture with a symlink on each side and a miss with nothing at its name, completed with
// every directory counted as settled: the host's and the root's lib/ get listings.
class Listings : public StillCurrent {
 protected:
  void SetUp() override {
    StillCurrent::SetUp();
    fs::create_symlink("libx.so.1", host("/lib/libx.so"));
    fs::create_symlink("libx.so.1", root("/lib/libx.so"));
    list_.paths.push_back(make_watched(WatchedPath::Side::Host, host("/lib/libx.so"), identity(host("/lib/libx.so"))));
    list_.paths.push_back(make_watched(WatchedPath::Side::Root, "/lib/libx.so", identity(root("/lib/libx.so"))));
    list_.paths.push_back(make_watched(WatchedPath::Side::Host, host("/lib/libmissing.so.1"), std::nullopt));
    set_manifest_identity();
    complete();
  }

  // Timestamps move in ticks of milliseconds, so a change in the tick a listing was taken in could
  // leave its directory's times as they were. Runs guard against that with a settle margin (no
  // listing of a directory changed less than a second before); the tests wait the tick out.
  void complete(std::int64_t settled_before_ns = kEverythingSettled) {
    complete_watch_list(list_, open_root().get(), settled_before_ns);
    std::this_thread::sleep_for(20ms);
  }

  std::vector<WatchedPath> listings() const {
    std::vector<WatchedPath> found;
    std::copy_if(list_.paths.begin(), list_.paths.end(), std::back_inserter(found), is_listing);
    return found;
  }

  // The watched entry at `path` on `side`.
  WatchedPath& entry(WatchedPath::Side side, const std::string& path) {
    auto it = std::find_if(list_.paths.begin(), list_.paths.end(),
                           [&](const WatchedPath& watched) { return watched.side == side && watched.path == path; });
    EXPECT_NE(it, list_.paths.end()) << path;
    return *it;
  }
};

TEST_F(Listings, AreTakenOfDirectoriesHoldingSymlinksOrMissesAndReadBeforeTheirEntries) {
  const std::vector<WatchedPath> found = listings();
  ASSERT_EQ(found.size(), 2u) << "the host's and the root's lib/; /searched holds only a HostFollow miss";
  EXPECT_EQ(found[0].side, WatchedPath::Side::HostListing);
  EXPECT_EQ(found[0].path, host("/lib"));
  EXPECT_EQ(found[0].identity, identity(host("/lib")));
  EXPECT_EQ(found[1].side, WatchedPath::Side::RootListing);
  EXPECT_EQ(found[1].path, "/lib");
  EXPECT_EQ(found[1].identity, identity(root("/lib")));
  // The check reads a directory's listing before the entries it proves.
  for (const WatchedPath& listing : found) {
    const auto at = std::find(list_.paths.begin(), list_.paths.end(), listing);
    EXPECT_TRUE(std::none_of(list_.paths.begin(), at, [&](const WatchedPath& watched) {
      return !is_listing(watched) &&
             (watched.side == WatchedPath::Side::Root) == (listing.side == WatchedPath::Side::RootListing) &&
             fs::path(watched.path).parent_path() == listing.path;
    })) << listing.path;
  }
  const WatchCheck checked = check();
  EXPECT_TRUE(checked.current);
  EXPECT_EQ(checked.unlisted, 0u);
  EXPECT_EQ(checked.root_entries, 3u) << "/lib, /lib/libx.so.1 and /lib/libx.so";
}

TEST_F(Listings, ProveSymlinksAndMissesWithoutAStatButNeverFiles) {
  // Recorded identities no stat could match: only the listings can prove these entries.
  entry(WatchedPath::Side::Host, host("/lib/libx.so")).identity->ino += 1000;
  entry(WatchedPath::Side::Root, "/lib/libx.so").identity->ino += 1000;
  EXPECT_TRUE(current()) << "the symlinks were stat'ed although their directories' listings prove them";
  // A file can be rewritten in place without its directory changing: a listing never proves one.
  entry(WatchedPath::Side::Root, "/lib/libx.so.1").identity->ino += 1000;
  EXPECT_FALSE(current());
}

TEST_F(Listings, ASymlinkRepointedOrANameAppearingInAListedDirectoryIsNoticed) {
  ASSERT_TRUE(current());
  fs::create_symlink("libother.so.1", host("/lib/libx.so.new"));
  fs::rename(host("/lib/libx.so.new"), host("/lib/libx.so"));
  EXPECT_FALSE(current()) << "a host symlink re-pointed";
  entry(WatchedPath::Side::Host, host("/lib/libx.so")).identity = identity(host("/lib/libx.so"));
  complete();
  ASSERT_TRUE(current());

  fs::remove(root("/lib/libx.so"));
  fs::create_symlink("/elsewhere/libx.so.1", root("/lib/libx.so"));
  EXPECT_FALSE(current()) << "a symlink in the root re-pointed";
  entry(WatchedPath::Side::Root, "/lib/libx.so").identity = identity(root("/lib/libx.so"));
  complete();
  ASSERT_TRUE(current());

  write_file(host("/lib/libmissing.so.1"), "a library where the resolver found none");
  EXPECT_FALSE(current()) << "a miss that now finds something";
}

TEST_F(Listings, AMissThroughADanglingSymlinkIsStatedEvenInAListedDirectory) {
  // The name exists, as a symlink to a file that does not: its directory may never change while
  // the target appears elsewhere.
  fs::create_directories(host("/other"));
  fs::create_symlink("../other/libdangling.so.1", host("/lib/libdangling.so.1"));
  list_.paths.push_back(make_watched(WatchedPath::Side::HostFollow, host("/lib/libdangling.so.1"), std::nullopt));
  complete();
  ASSERT_TRUE(current());
  write_file(host("/other/libdangling.so.1"), "the target appears");
  EXPECT_FALSE(current());
}

TEST_F(Listings, AnUnsettledDirectoryGetsNoneAndAStaleOneOnlyCostsStatCalls) {
  complete(0);  // nothing settled before the epoch
  EXPECT_TRUE(listings().empty());
  WatchCheck checked = check();
  EXPECT_TRUE(checked.current);
  EXPECT_EQ(checked.unlisted, 2u) << "the host's and the root's lib/ would spare stat calls";

  complete();
  ASSERT_EQ(listings().size(), 2u);
  write_file(host("/lib/unrelated"), "another package's file, which changes lib/'s times");
  checked = check();
  EXPECT_TRUE(checked.current) << "the listing no longer matches, so the entries were stat'ed, and they did";
  EXPECT_EQ(checked.unlisted, 1u);
  complete();
  EXPECT_EQ(check().unlisted, 0u) << "completing again replaces the stale listing";
}

TEST_F(Listings, ALongListIsCheckedSideBySideTheHostsSideAndTheRoots) {
  // Long enough a list to be checked on two CPUs (where there are two), the host's lines on one
  // and the root's on the other. The root's /many is empty but the list records 4,000 symlinks in
  // it, which only /many's listing can prove: the list is only current if that listing is read
  // before all of them. /zzz's 50 files come after.
  fs::create_directories(root("/many"));
  fs::create_directories(root("/zzz"));
  const FileIdentity link{1, 2, 6, 3, 4, S_IFLNK | 0777, 0, 0};
  for (int i = 0; i < 4000; ++i)
    list_.paths.push_back(make_watched(WatchedPath::Side::Root, "/many/link" + std::to_string(i), link));
  for (int i = 0; i < 50; ++i) {
    const std::string name = "/zzz/file" + std::to_string(i);
    write_file(root(name), "copy");
    list_.paths.push_back(make_watched(WatchedPath::Side::Root, name, identity(root(name))));
  }
  complete();
  ASSERT_GT(serialize_watch_list(list_).size(), 128u * 1024) << "too short a list to be cut in two";
  WatchCheck checked = check();
  EXPECT_TRUE(checked.current);
  EXPECT_EQ(checked.root_entries, 4053u);

  const timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, root("/zzz/file49").c_str(), times, 0), 0);
  EXPECT_FALSE(current()) << "a change on the root's side";
  entry(WatchedPath::Side::Root, "/zzz/file49").identity = identity(root("/zzz/file49"));
  ASSERT_TRUE(current());
  ASSERT_EQ(::utimensat(AT_FDCWD, host("/lib/libx.so.1").c_str(), times, 0), 0);
  EXPECT_FALSE(current()) << "a change on the host's side";
}

// That the side-by-side check happens at all: nothing in its answer but root_side_on_second_thread
// shows which thread checked the root's side. The creator takes that side over when the thread
// has not started by the time the host's side is done, which a busy machine makes happen now and
// then, so the check is repeated until the thread has done it; with the host's side 3,000 files
// long, that is nearly always the first time.
TEST_F(Listings, TheRootsSideIsCheckedOnASecondThreadWhenThereIsASecondCpu) {
  cpu_set_t allowed;
  ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
  if (CPU_COUNT(&allowed) < 2) GTEST_SKIP() << "one CPU: the check never starts a second thread";
  EXPECT_FALSE(check().root_side_on_second_thread) << "the control: too short a list is checked on one thread";

  fs::create_directories(host("/bulk"));
  for (int i = 0; i < 3000; ++i) {
    const std::string name = host("/bulk/file" + std::to_string(i));
    write_file(name, "host file");
    list_.paths.push_back(make_watched(WatchedPath::Side::Host, name, identity(name)));
  }
  fs::create_directories(root("/zzz"));
  for (int i = 0; i < 50; ++i) {
    const std::string name = "/zzz/file" + std::to_string(i);
    write_file(root(name), "copy");
    list_.paths.push_back(make_watched(WatchedPath::Side::Root, name, identity(root(name))));
  }
  complete();
  auto checked_on_second_thread = [&]() -> std::optional<WatchCheck> {
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (WatchCheck checked = check(); checked.root_side_on_second_thread) return checked;
    }
    return std::nullopt;
  };
  std::optional<WatchCheck> checked = checked_on_second_thread();
  ASSERT_TRUE(checked) << "200 checks, none of which had the second thread check the root's side";
  EXPECT_TRUE(checked->current);
  EXPECT_EQ(checked->root_entries, 53u) << "the root's 50 files, /lib, /lib/libx.so.1 and /lib/libx.so";

  // The second thread's answer is the one that counts.
  const timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, root("/zzz/file49").c_str(), times, 0), 0);
  checked = checked_on_second_thread();
  ASSERT_TRUE(checked);
  EXPECT_FALSE(checked->current) << "a change on the root's side, checked by the second thread";
}

}  // namespace
}  // namespace jailbuild
