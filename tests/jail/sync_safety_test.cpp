// `jailbuild sync` when things go wrong: SIGKILL at every step, a manifest behind the root, a full
// disk, an unreadable source, roots that fight back (symlinks planted in place of what jailbuild
// placed, a directory swapped for a symlink while sync runs, copies edited inside the jail, a
// symlink re-pointed under its directory's listing), a second run waiting for the lock, and a run
// with nothing to do, which must read nothing.
//
// Every test makes a real update happen between add and sync. The fixtures are built with gcc at
// test time in two versions: version 1 has app_a (needing libshared and libonly) and app_b (needing
// libshared); version 2 rebuilds libshared (bigger, other contents) and relinks app_a against a
// new libnew instead of libonly. Going from 1 to 2, sync must update two files, create one and
// remove one, and leave app_b and the system libraries alone.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jailbuild/manifest.hpp"
#include "support/command_test_support.hpp"
#include "support/loader_oracle.hpp"
#include "support/path_swapper.hpp"
#include "support/root_test.hpp"

namespace jailbuild {
namespace {

using namespace testing;  // the shared command-test helpers: run_jailbuild, snapshot, ...

class SyncSafety : public RootTest {
 protected:
  SyncSafety() : RootTest("jailbuild-sync") {}

  void SetUp() override {
    old_ = path("reference-old");
    new_ = path("reference-new");
    build_versions();
    install(1);
  }

  // v1/ and v2/ hold each version's files at their paths relative to the test directory; the
  // programs find their libraries in the test directory's lib/, where install() puts them.
  void build_versions() {
    write_app_sources("shared1.c");
    // Version 2 is a quarter megabyte bigger: on a disk with little room left, its copy cannot fit.
    write_file(dir_ / "shared2.c", "int shared(void) { return 41; }\nconst char shared_padding[256 * 1024] = {1};\n");
    write_file(dir_ / "new.c", "int only(void) { return 3; }\n");
    fs::create_directories(dir_ / "v1/lib");
    fs::create_directories(dir_ / "v2/lib");
    const std::string rpath = " -Wl,-rpath," + path("lib");
    gcc("-shared -fPIC -Wl,-soname,libshared.so.1 -o v1/lib/libshared.so.1 shared1.c");
    gcc("-shared -fPIC -Wl,-soname,libonly.so.1 -o v1/lib/libonly.so.1 only.c");
    gcc("-o v1/app_a a.c -Wl,--no-as-needed -Lv1/lib -l:libshared.so.1 -l:libonly.so.1" + rpath);
    gcc("-o v1/app_b b.c -Wl,--no-as-needed -Lv1/lib -l:libshared.so.1" + rpath);
    gcc("-shared -fPIC -Wl,-soname,libshared.so.1 -o v2/lib/libshared.so.1 shared2.c");
    gcc("-shared -fPIC -Wl,-soname,libnew.so.1 -o v2/lib/libnew.so.1 new.c");
    gcc("-o v2/app_a a.c -Wl,--no-as-needed -Lv2/lib -l:libshared.so.1 -l:libnew.so.1" + rpath);
  }

  // Puts a version's files in place on the host as a package manager does: each written under a
  // temporary name and renamed over the old one, so every file of the version is a new inode. Files
  // the version does not have (app_b and libonly in version 2) stay as they are.
  void install(int version) const {
    const fs::path from = dir_ / ("v" + std::to_string(version));
    for (const auto& entry : fs::recursive_directory_iterator(from)) {
      if (!entry.is_regular_file()) continue;
      const fs::path to = dir_ / entry.path().lexically_relative(from);
      fs::create_directories(to.parent_path());
      const fs::path temporary = to.string() + ".installing";
      fs::copy_file(entry.path(), temporary, fs::copy_options::overwrite_existing);
      fs::rename(temporary, to);
    }
  }

  std::vector<std::string> programs() const { return {path("app_a"), path("app_b")}; }

  ProcessResult add(const std::string& root, const std::string& state) const {
    return run_jailbuild(add_args(programs(), root, state));
  }
  std::vector<std::string> sync_args(const std::vector<std::string>& options, const std::string& root = "",
                                     const std::string& state = "") const {
    std::vector<std::string> args{"sync", root.empty() ? root_ : root, "--state-dir", state.empty() ? state_ : state};
    args.insert(args.end(), options.begin(), options.end());
    return args;
  }
  ProcessResult sync(const std::vector<std::string>& options = {}) const { return run_jailbuild(sync_args(options)); }
  ProcessResult sync_under_strace(const std::vector<std::string>& strace_options,
                                  const std::vector<std::string>& options = {}) const {
    return run_jailbuild_under_strace(strace_options, sync_args(options));
  }

  // The state every test starts from: the references built, the test's root added with version 1
  // installed, and version 2 installed since. `root_` may exist already (a mount point).
  void prepare() {
    ASSERT_EQ(add(old_, path("reference-old-state")).exit_code, kExitOk);
    ASSERT_EQ(add(new_, path("reference-new-state")).exit_code, kExitOk);
    const ProcessResult added = add(root_, state_);
    ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
    install(2);
    const ProcessResult synced = run_jailbuild(sync_args({}, new_, path("reference-new-state")));
    ASSERT_EQ(synced.exit_code, kExitOk) << synced.describe();
    ASSERT_NE(snapshot(old_), snapshot(new_)) << "the update changes nothing in a root: nothing is tested";
  }

  // The test's root and state directory back to where prepare() leaves them: a fresh add with
  // version 1 installed, then version 2 installed.
  void reset_root() const {
    install(1);
    fs::remove_all(root_);
    fs::remove_all(state_);
    const ProcessResult added = add(root_, state_);
    ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
    install(2);
  }

  // Files in the root that are neither as before the update nor as after it.
  std::vector<std::string> neither_old_nor_new() const {
    return incomplete_files(root_, {fs::path(old_), fs::path(new_)});
  }

  // Leftovers of interrupted saves in the state directory: hidden files (".NAME.XXXXXX").
  std::vector<std::string> state_temporaries() const {
    std::vector<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(state_))
      if (entry.path().filename().string().starts_with(".")) found.push_back(entry.path().string());
    return found;
  }

  // The root is exactly what an uninterrupted sync gives, nothing is left over, and a further
  // sync finds nothing to do. Each "PROBLEM" found.
  std::vector<std::string> convergence_problems() const {
    std::vector<std::string> problems;
    for (const std::string& file : temporaries(root_)) problems.push_back("temporary file left in the root: " + file);
    for (const std::string& file : state_temporaries()) problems.push_back("temporary file left in the state: " + file);
    if (snapshot(root_) != snapshot(new_)) problems.push_back("the root differs from an uninterrupted sync's");
    const ProcessResult again = sync({"--json"});
    const nlohmann::json settled = json_in(again.output);
    auto lists = [&](const char* key) { return !settled.contains(key) || !settled.at(key).empty(); };
    if (again.exit_code != kExitOk || !settled.is_object() || settled.value("bytes_copied", -1) != 0 ||
        lists("created") || lists("updated") || lists("removed")) {
      problems.push_back("a further sync still has work: " + again.describe());
    }
    return problems;
  }

  std::vector<std::string> manifest_problems() const;
  std::vector<std::string> after_kill() const;

  // A directory outside every root with a decoy at each relative path in `decoys`, named like
  // what sync writes, so that a write, rename or unlink through a planted symlink shows.
  std::string make_outside(const std::string& name, const std::vector<std::string>& decoys) const {
    const fs::path outside = dir_ / name;
    fs::create_directories(outside);
    for (const std::string& decoy : decoys) write_file(outside / decoy, "a decoy: must never change\n");
    return outside.string();
  }

  std::string old_;  // a root as add builds it with version 1
  std::string new_;  // the same root after an uninterrupted sync to version 2
};

// What is wrong with the manifest a killed sync left. It is only ever replaced whole, so it must
// load. It must list every file and symlink in the root, or the next run would take what the
// killed one placed for a stranger's. And it must describe no copy that is not in place yet: an
// entry recording a copy of the host file as it is now must record the inode the root holds
// (unless the update removes the file: a manifest behind the root still lists what is gone).
std::vector<std::string> SyncSafety::manifest_problems() const {
  const auto loaded = load_manifest(manifest_path(state_, root_));
  if (!loaded) return {"the manifest does not load: " + loaded.error().message};
  if (!*loaded) return {"the manifest is gone"};
  const Manifest& manifest = **loaded;
  std::vector<std::string> problems;
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    const std::string inside = "/" + entry.path().lexically_relative(root_).string();
    if (is_temporary(entry.path()) || fs::is_directory(fs::symlink_status(entry.path()))) continue;
    if (!manifest.entries.count(inside)) problems.push_back("in the root but not in the manifest: " + inside);
  }
  for (const auto& [inside, entry] : manifest.entries) {
    if (entry.type != EntryType::File || entry.source.empty() || entry.copy_identity == FileIdentity{}) continue;
    const struct stat source = lstat_of(entry.source);
    const bool source_now = source.st_ino == entry.source_identity.ino && source.st_dev == entry.source_identity.dev;
    const struct stat copy = lstat_of(root_ + inside);
    const bool removed_by_update = copy.st_ino == 0 && !fs::exists(fs::symlink_status(new_ + inside));
    if (source_now && !removed_by_update &&
        (copy.st_ino != entry.copy_identity.ino || copy.st_dev != entry.copy_identity.dev)) {
      problems.push_back("the manifest records a copy of today's " + entry.source + " that is not in the root");
    }
  }
  return problems;
}

// What is wrong after a sync killed at one point (looked at at once) and the sync run after it.
std::vector<std::string> SyncSafety::after_kill() const {
  std::vector<std::string> problems;
  for (const std::string& file : neither_old_nor_new())
    problems.push_back("a file neither old nor new under its final name after the kill: " + file);
  for (const std::string& problem : manifest_problems()) problems.push_back("after the kill: " + problem);
  // --no-wait: the killed run's lock must have gone with it.
  const ProcessResult next = sync({"--no-wait"});
  if (next.exit_code != kExitOk) problems.push_back("the next sync failed: " + next.describe());
  for (const std::string& problem : convergence_problems()) problems.push_back(problem);
  return problems;
}

// ---- interrupted runs ---------------------------------------------------------------------------

TEST_F(SyncSafety, AKilledSyncLeavesEveryFileOldOrNewAndTheNextSyncConverges) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to kill sync at chosen points";
  ASSERT_NO_FATAL_FAILURE(prepare());
  // The steps of the update: the watch list's discard (unlink), the manifest's saves (rename: the
  // pending manifest before the files, the final one after), each commit of a file (renameat),
  // the removal of libonly (unlinkat), and each chunk of a copy (copy_file_range). The n-th such
  // call of a run gets SIGKILL, for every n until a run has fewer such calls.
  std::map<std::string, int> kill_points;
  std::vector<std::string> failures;
  for (const std::string syscall : {"unlink", "rename", "renameat", "unlinkat", "copy_file_range"}) {
    for (int n = 1; n < 100; ++n) {
      ASSERT_NO_FATAL_FAILURE(reset_root());
      const ProcessResult killed =
          sync_under_strace({"-e", "inject=" + syscall + ":signal=SIGKILL:when=" + std::to_string(n)});
      if (killed.term_signal != SIGKILL) {
        EXPECT_EQ(killed.exit_code, kExitOk) << killed.describe();
        break;
      }
      ++kill_points[syscall];
      for (const std::string& problem : after_kill())
        failures.push_back("killed at " + syscall + " #" + std::to_string(n) + ": " + problem);
    }
  }
  for (const auto& [syscall, count] : kill_points) std::cout << "killed at " << count << " " << syscall << " calls\n";
  // Every step of the update was among the kill points: the loop above did cover them.
  EXPECT_GE(kill_points["rename"], 2);
  EXPECT_GE(kill_points["renameat"], 3);  // app_a, libshared, libnew
  EXPECT_GE(kill_points["unlinkat"], 1);  // libonly
  EXPECT_GE(kill_points["copy_file_range"], 3);
  EXPECT_TRUE(failures.empty()) << failures.size() << " problems:\n" << joined(failures);
}

TEST_F(SyncSafety, ASyncFromAManifestBehindTheRootConverges) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to kill sync at its last save";
  ASSERT_NO_FATAL_FAILURE(prepare());
  // Killed at its second save of the manifest (rename: files in the root are committed with
  // renameat), the final one: the update is in place in the root, but the manifest is the pending
  // one, written before any file (libonly still listed, libnew listed without a copy).
  const std::string manifest = manifest_path(state_, root_);
  const ProcessResult killed = sync_under_strace({"-e", "inject=rename:signal=SIGKILL:when=2"});
  ASSERT_EQ(killed.term_signal, SIGKILL) << killed.describe();
  EXPECT_TRUE(same_contents(root_ + path("lib/libshared.so.1"), path("lib/libshared.so.1")))
      << "the final manifest save came before the files it describes";
  EXPECT_FALSE(fs::exists(root_ + path("lib/libonly.so.1")));
  const auto behind = load_manifest(manifest);
  ASSERT_TRUE(behind && *behind) << "the manifest was lost";
  EXPECT_TRUE((*behind)->entries.count(path("lib/libonly.so.1"))) << "the manifest is not behind the root";

  const ProcessResult next = sync({"--json"});
  EXPECT_EQ(next.exit_code, kExitOk) << next.describe();
  const nlohmann::json change = json_in(next.output);
  ASSERT_TRUE(change.is_object()) << next.output;
  EXPECT_TRUE(change["conflicts"].empty())
      << "what the killed run placed is taken for a stranger's: " << change.dump(2);
  // Those copies are exactly what this run would make: adopted, not copied again.
  EXPECT_EQ(change["bytes_copied"], 0u) << change.dump(2);
  EXPECT_EQ(change["removed"], nlohmann::json::array({path("lib/libonly.so.1")})) << change.dump(2);
  const std::vector<std::string> problems = convergence_problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
  const auto settled = load_manifest(manifest);
  ASSERT_TRUE(settled && *settled);
  EXPECT_FALSE((*settled)->entries.count(path("lib/libonly.so.1")));
  ASSERT_TRUE((*settled)->entries.count(path("lib/libnew.so.1")));
  EXPECT_NE((*settled)->entries.at(path("lib/libnew.so.1")).copy_identity, FileIdentity{}) << "libnew still pending";
}

// ---- failures -----------------------------------------------------------------------------------

// A tmpfs mounted over the root, unmounted (lazily) when the fixture ends.
TEST_F(SyncSafety, AFullDiskStopsWithAClearErrorAndTheNextSyncFinishes) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs as the root";
  fs::create_directories(root_);
  ASSERT_EQ(::mount("jailbuild-test", root_.c_str(), "tmpfs", 0, "size=64m,mode=0755"), 0) << std::strerror(errno);
  mounted_ = true;
  ASSERT_NO_FATAL_FAILURE(prepare());
  // Room for the small files of the update, not for the new libshared.
  struct statvfs disk {};
  ASSERT_EQ(::statvfs(root_.c_str(), &disk), 0);
  const unsigned long long used = (disk.f_blocks - disk.f_bfree) * disk.f_frsize;
  const std::string size = "size=" + std::to_string(used + 64 * 1024);
  ASSERT_EQ(::mount(nullptr, root_.c_str(), nullptr, MS_REMOUNT, size.c_str()), 0) << std::strerror(errno);

  const ProcessResult full = sync();
  EXPECT_EQ(full.exit_code, kExitIncomplete) << full.describe();
  EXPECT_TRUE(contains(full.output, root_ + path("lib/libshared.so.1")))
      << "the message names not the file: " << full.output;
  EXPECT_TRUE(contains(full.output, "No space left on device")) << full.output;
  EXPECT_EQ(temporaries(root_), std::vector<std::string>{});
  EXPECT_EQ(neither_old_nor_new(), std::vector<std::string>{});

  ASSERT_EQ(::mount(nullptr, root_.c_str(), nullptr, MS_REMOUNT, "size=64m"), 0) << std::strerror(errno);
  const ProcessResult roomy = sync();
  EXPECT_EQ(roomy.exit_code, kExitOk) << roomy.describe();
  const std::vector<std::string> problems = convergence_problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
  expect_loads_in_root(path("app_a"));
}

TEST_F(SyncSafety, AnUnreadableSourceStopsWithAClearErrorAndTheNextSyncFinishes) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to make a read fail";
  ASSERT_NO_FATAL_FAILURE(prepare());
  // Root reads any file whatever its permissions, so reading it fails by fault injection instead:
  // every copy_file_range from the new libshared gets EIO, as from a failing disk.
  const std::string library = path("lib/libshared.so.1");
  const ProcessResult failed = sync_under_strace({"-P", library, "-e", "inject=copy_file_range:error=EIO"});
  EXPECT_EQ(failed.exit_code, kExitIncomplete) << failed.describe();
  EXPECT_TRUE(contains(failed.output, library)) << "the message names not the file: " << failed.output;
  EXPECT_TRUE(contains(failed.output, "Input/output error")) << failed.output;
  EXPECT_EQ(temporaries(root_), std::vector<std::string>{});
  EXPECT_EQ(neither_old_nor_new(), std::vector<std::string>{});

  const ProcessResult next = sync();
  EXPECT_EQ(next.exit_code, kExitOk) << next.describe();
  const std::vector<std::string> problems = convergence_problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

// ---- roots that fight back ----------------------------------------------------------------------

TEST_F(SyncSafety, SymlinksPlantedInPlaceOfDirectoriesAreNeverWrittenThrough) {
  ASSERT_NO_FATAL_FAILURE(prepare());
  // The directory the update writes to, and the one holding libc, both made by jailbuild, each
  // replaced by a symlink to a directory outside with decoys where sync writes.
  const std::string lib = root_ + path("lib");
  const std::string usr_lib = root_ + "/usr/lib";
  const std::string outside_lib = make_outside("outside-lib", {"libshared.so.1", "libonly.so.1", "libnew.so.1"});
  const std::string outside_usr_lib =
      make_outside("outside-usr-lib", {"x86_64-linux-gnu/libc.so.6", "x86_64-linux-gnu/ld-linux-x86-64.so.2"});
  ASSERT_TRUE(fs::is_directory(fs::symlink_status(usr_lib))) << "this host's /lib is not merged into /usr/lib";
  const Tree before_lib = snapshot(outside_lib, true);
  const Tree before_usr_lib = snapshot(outside_usr_lib, true);
  fs::remove_all(lib);
  fs::create_directory_symlink(outside_lib, lib);
  fs::remove_all(usr_lib);
  fs::create_directory_symlink(outside_usr_lib, usr_lib);

  const ProcessResult result = sync({"--json"});
  EXPECT_EQ(snapshot(outside_lib, true), before_lib) << "sync wrote through " << lib << ": " << result.output;
  EXPECT_EQ(snapshot(outside_usr_lib, true), before_usr_lib)
      << "sync wrote through " << usr_lib << ": " << result.output;
  // Either answer is safe: the symlink left alone and reported, or the directory restored.
  const nlohmann::json change = json_in(result.output);
  ASSERT_TRUE(change.is_object()) << result.describe();
  bool restored = true;
  for (const auto& [planted, outside] : {std::pair{lib, outside_lib}, std::pair{usr_lib, outside_usr_lib}}) {
    const std::string inside = planted.substr(root_.size());
    if (S_ISLNK(mode_of(planted))) {
      restored = false;
      EXPECT_EQ(fs::read_symlink(planted), outside) << "the planted symlink was changed";
      EXPECT_NE(entry_named(change["conflicts"], inside), nullptr) << "not reported: " << change.dump(2);
    } else {
      EXPECT_TRUE(S_ISDIR(mode_of(planted))) << planted;
    }
  }
  std::cout << "planted directory symlinks " << (restored ? "replaced by directories" : "left alone") << "\n";
  if (restored) {
    EXPECT_EQ(result.exit_code, kExitOk) << result.describe();
    EXPECT_EQ(snapshot(root_), snapshot(new_));
    expect_loads_in_root(path("app_a"));
  } else {
    EXPECT_EQ(result.exit_code, kExitIncomplete) << result.describe();
  }
}

TEST_F(SyncSafety, SymlinksPlantedInPlaceOfFilesAreReplacedNeverWrittenThrough) {
  ASSERT_NO_FATAL_FAILURE(prepare());
  // libshared, which the update changes, and app_b, which it does not: each replaced by a symlink
  // to a decoy outside. sync must put the files back, never write to the decoys.
  const std::string outside = make_outside("outside", {"libshared.so.1", "app_b"});
  const Tree before = snapshot(outside, true);
  for (const std::string name : {"lib/libshared.so.1", "app_b"}) {
    const std::string planted = root_ + path(name);
    ASSERT_TRUE(fs::remove(planted)) << planted;
    fs::create_symlink(outside + "/" + fs::path(name).filename().string(), planted);
  }

  const ProcessResult result = sync({"--json"});
  EXPECT_EQ(snapshot(outside, true), before) << "sync wrote through a planted symlink: " << result.output;
  EXPECT_EQ(result.exit_code, kExitOk) << result.describe();
  for (const std::string name : {"lib/libshared.so.1", "app_b"}) {
    EXPECT_TRUE(S_ISREG(mode_of(root_ + path(name)))) << name << " was not restored";
    EXPECT_TRUE(same_contents(root_ + path(name), path(name))) << name;
  }
  EXPECT_EQ(snapshot(root_), snapshot(new_));
}

TEST_F(SyncSafety, ADirectorySwappedWithASymlinkOutsideWhileSyncRunsIsNeverWrittenThrough) {
  constexpr int kRuns = 40;
  ASSERT_NO_FATAL_FAILURE(prepare());
  const std::string outside = make_outside("outside", {"libshared.so.1", "libonly.so.1", "libnew.so.1", "app_a"});
  const Tree before = snapshot(outside, true);
  // The directory every run writes to, swapped back and forth with a symlink to the outside.
  const std::string real = root_ + path("lib");
  const std::string swapped = real + ".swapped";
  fs::create_directory_symlink(outside, swapped);
  // After a run: the real directory (or the one sync made in place of the symlink) back at its
  // name, and the symlink back at the other, for the next run to meet.
  auto settle = [&] {
    if (S_ISLNK(mode_of(real))) ::renameat2(AT_FDCWD, real.c_str(), AT_FDCWD, swapped.c_str(), RENAME_EXCHANGE);
    if (!S_ISLNK(mode_of(swapped))) {
      fs::remove_all(swapped);
      fs::create_directory_symlink(outside, swapped);
    }
  };

  std::atomic<long> swaps{0};
  int writes = 0;  // runs after which the root's directory held the host's current libshared
  std::map<int, int> exit_codes;
  for (int run = 0; run < kRuns; ++run) {
    // The host switches versions each run, so that each run has files to write and one to remove.
    if (run > 0) install(run % 2 == 0 ? 2 : 1);
    {
      // Random pauses of up to 2 ms between swaps: sync meets the symlink on some lookups and gets
      // through on others, so that it writes in the real directory while the swapping goes on.
      std::jthread swapper([&](std::stop_token stop) {
        std::minstd_rand random(12345 + run);
        while (!stop.stop_requested()) {
          if (::renameat2(AT_FDCWD, real.c_str(), AT_FDCWD, swapped.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
          std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
        }
      });
      const ProcessResult result = sync();
      EXPECT_TRUE(result.exited() && (result.exit_code == kExitOk || result.exit_code == kExitIncomplete))
          << result.describe();
      ++exit_codes[result.exit_code];
    }
    settle();
    if (same_contents(real + "/libshared.so.1", path("lib/libshared.so.1"))) ++writes;
  }
  std::cout << "swaps: " << swaps << "; runs that left the current libshared in the root: " << writes
            << "; exit codes:";
  for (const auto& [code, count] : exit_codes) std::cout << " " << count << " x " << code;
  std::cout << "\n";
  EXPECT_GT(swaps.load(), kRuns) << "the swapper hardly ran: the race was not tested";
  EXPECT_GT(writes, 0) << "sync never got to write in the directory: the race was not tested";
  EXPECT_EQ(snapshot(outside, true), before) << "something was written outside the root";

  fs::remove(swapped);
  install(2);
  // settle() deletes the directory a run made in place of the symlink if the swapper had moved it
  // aside, and with it the copies the manifest records; the directory left holds earlier runs'
  // copies, which sync rightly keeps as files it did not place. So the directory goes, and the
  // next sync must rebuild it from a manifest the racing runs left whole.
  fs::remove_all(real);
  const ProcessResult settled = sync();
  EXPECT_EQ(settled.exit_code, kExitOk) << settled.describe();
  EXPECT_EQ(snapshot(root_), snapshot(new_));
}

// Issue 10, case 7: the owner of the directory holding ROOT swaps ROOT for a symlink to a decoy,
// a root-owned directory elsewhere, again and again while syncs run. A sync that meets the symlink
// must refuse; one that opened the real root must finish there (the root renamed away meanwhile
// changes nothing: it works through its descriptor). The decoy must never change. Control: under
// the same swapper, a write by path (what sync did after canonicalising ROOT) lands in the decoy.
TEST_F(SyncSafety, ARootSwappedForASymlinkByTheOwnerOfItsParentIsNeverFollowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the root's parent is given to nobody, who swaps the root";
  constexpr int kRuns = 30;
  const std::string parent = path("parent");
  fs::create_directory(parent);
  root_ = parent + "/root";
  ASSERT_NO_FATAL_FAILURE(prepare());
  ASSERT_EQ(::chown(parent.c_str(), kNobody, kNobody), 0);
  // Like the review's decoy: root's, with a loader cache for a sync to replace.
  const std::string decoy = make_outside("decoy", {"etc/ld.so.cache", "usr/lib/x86_64-linux-gnu/libc.so.6"});

  {
    PathSwapper swapper(parent, "root", decoy, kNobody, 2000);
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    bool reached = false;
    while (!reached && Clock::now() < deadline) {
      const int fd = ::open((root_ + "/control-probe").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) ::close(fd);
      reached = fs::exists(decoy + "/control-probe");
    }
    swapper.stop();
    ASSERT_TRUE(reached) << "a write by path never reached the decoy: the swapper redirects nothing";
    fs::remove(decoy + "/control-probe");
    fs::remove(root_ + "/control-probe");
  }
  const Tree before = snapshot(decoy, true);

  PathSwapper swapper(parent, "root", decoy, kNobody, 2000);
  int refused = 0;  // runs that met the symlink
  int synced = 0;   // runs that opened the real root
  for (int run = 0; run < kRuns; ++run) {
    // The host switches versions each run, so that a run that gets through has files to write.
    if (run > 0) install(run % 2 == 0 ? 2 : 1);
    const ProcessResult result = sync();
    if (result.exit_code == kExitUsage && contains(result.output, root_ + ": is a symlink")) {
      ++refused;
    } else {
      EXPECT_TRUE(result.exit_code == kExitOk || result.exit_code == kExitIncomplete) << result.describe();
      ++synced;
    }
  }
  const long swaps = swapper.stop();
  std::cout << "swaps: " << swaps << "; runs refused: " << refused << "; runs through: " << synced << "\n";
  EXPECT_GT(swaps, kRuns) << "the swapper hardly ran: the race was not tested";
  EXPECT_GT(refused, 0) << "no run met the symlink: the race window was never open";
  EXPECT_GT(synced, 0) << "no run got through to the real root while it was being swapped";
  EXPECT_EQ(snapshot(decoy, true), before) << "sync wrote in the decoy";

  install(2);
  const ProcessResult settled = sync();
  EXPECT_EQ(settled.exit_code, kExitOk) << settled.describe();
  EXPECT_EQ(snapshot(root_), snapshot(new_));
}

// The deterministic half of case 7: ROOT is a symlink already when sync starts, to another root
// jailbuild manages (which has work to do: a sync following the symlink would change it). sync
// refuses, naming the symlink; neither root changes. Control: with the real directory back at
// ROOT, the same command syncs it.
TEST_F(SyncSafety, ARootThatIsASymlinkIsRefusedNamingItAndNothingChanges) {
  ASSERT_NO_FATAL_FAILURE(prepare());
  const std::string other = path("other-root");
  ASSERT_EQ(add(other, state_).exit_code, kExitOk);
  install(1);  // the other root (version 2) now has work; the test's root (version 1) has none
  const std::string aside = root_ + ".aside";
  fs::rename(root_, aside);
  fs::create_directory_symlink(other, root_);
  const Tree other_before = snapshot(other, true);
  const Tree aside_before = snapshot(aside, true);

  const ProcessResult refused = sync();
  EXPECT_EQ(refused.exit_code, kExitUsage) << refused.describe();
  EXPECT_TRUE(contains(refused.output, root_ + ": is a symlink")) << refused.output;
  EXPECT_TRUE(contains(refused.output, "real path, " + other)) << refused.output;
  EXPECT_EQ(snapshot(other, true), other_before) << "sync followed the symlink into another root";
  EXPECT_EQ(snapshot(aside, true), aside_before);

  fs::remove(root_);
  fs::rename(aside, root_);
  const ProcessResult control = sync();
  EXPECT_EQ(control.exit_code, kExitOk) << control.describe();
}

// A setuid or setgid file that jailbuild did not place is reported by a sync that has work (on
// stderr and in --json), whatever its way in (here: a copy made and chmod-ed behind jailbuild's
// back). Control: the same copy without the bits is not reported.
TEST_F(SyncSafety, SetuidFilesJailbuildDidNotPlaceAreReported) {
  ASSERT_NO_FATAL_FAILURE(prepare());
  const std::string placed = root_ + path("app_b");
  const std::string setuid_copy = path("planted-setuid");
  const std::string setgid_copy = path("planted-setgid");
  const std::string plain_copy = path("planted-plain");
  for (const std::string& copy : {setuid_copy, setgid_copy, plain_copy}) fs::copy_file(placed, root_ + copy);
  fs::permissions(root_ + setuid_copy, static_cast<fs::perms>(04755));
  fs::permissions(root_ + setgid_copy, static_cast<fs::perms>(02755));
  fs::permissions(root_ + plain_copy, static_cast<fs::perms>(0755));

  const ProcessResult result = sync({"--json"});
  EXPECT_EQ(result.exit_code, kExitOk) << result.describe();
  const nlohmann::json reported = json_in(result.output);
  ASSERT_TRUE(reported.is_object() && reported.contains("unplaced_setuid")) << result.output;
  EXPECT_EQ(reported.at("unplaced_setuid"), nlohmann::json({setgid_copy, setuid_copy})) << result.output;
  EXPECT_TRUE(contains(result.output, "warning: " + root_ + setuid_copy + ": setuid file that jailbuild did not place"))
      << result.output;
  EXPECT_TRUE(contains(result.output, "warning: " + root_ + setgid_copy + ": setgid file")) << result.output;
  EXPECT_FALSE(contains(result.output, plain_copy)) << result.output;
  EXPECT_FALSE(contains(result.output, path("app_b") + ": set")) << "a file jailbuild placed is reported";
}

TEST_F(SyncSafety, CopiesEditedReplacedOrTouchedInsideTheRootAreRestored) {
  ASSERT_NO_FATAL_FAILURE(prepare());
  // Three copies the update does not change, each tampered with as a jailed root process could:
  // app_b edited in place (same size, modification time set back), libc replaced by another file,
  // the loader made setuid and its modification time changed.
  const std::string app_b = root_ + path("app_b");
  const std::string libc = root_ + fs::canonical("/lib/x86_64-linux-gnu/libc.so.6").string();
  const std::string loader = root_ + fs::canonical(kLoader).string();
  ASSERT_TRUE(S_ISREG(mode_of(libc)) && S_ISREG(mode_of(loader)));
  const struct stat app_b_before = lstat_of(app_b);
  {
    std::fstream edit(app_b, std::ios::binary | std::ios::in | std::ios::out);
    edit.seekp(app_b_before.st_size / 2);
    edit << "jailed";
  }
  const timespec old_times[2] = {app_b_before.st_atim, app_b_before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, app_b.c_str(), old_times, AT_SYMLINK_NOFOLLOW), 0);
  write_file(libc + ".new", "not a libc\n");
  fs::rename(libc + ".new", libc);
  ASSERT_EQ(::chmod(loader.c_str(), 04755), 0);
  const timespec later[2] = {{0, UTIME_OMIT}, {2'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, loader.c_str(), later, AT_SYMLINK_NOFOLLOW), 0);

  const ProcessResult result = sync({"--json"});
  EXPECT_EQ(result.exit_code, kExitOk) << result.describe();
  const nlohmann::json change = json_in(result.output);
  ASSERT_TRUE(change.is_object()) << result.output;
  for (const std::string& tampered : {app_b, libc, loader}) {
    const std::string inside = tampered.substr(root_.size());
    EXPECT_NE(std::find(change["updated"].begin(), change["updated"].end(), inside), change["updated"].end())
        << inside << " not restored: " << change.dump(2);
  }
  EXPECT_EQ(snapshot(root_), snapshot(new_)) << "contents or modes not restored";
  EXPECT_EQ(lstat_of(loader).st_mtim.tv_sec, lstat_of(fs::canonical(kLoader).string()).st_mtim.tv_sec);
  expect_loads_in_root(path("app_b"));
}

// ---- concurrent runs and runs with nothing to do ------------------------------------------------

TEST_F(SyncSafety, ASecondSyncWaitsForTheLockOrFailsAtOnceWithNoWait) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to hold the lock";
  ASSERT_NO_FATAL_FAILURE(prepare());
  // The first sync holds the lock for at least two seconds: its first commit is delayed.
  const auto first_start = Clock::now();
  auto first = std::async(std::launch::async, [&] {
    return sync_under_strace({"-e", "inject=renameat:delay_enter=2000000:when=1"});
  });
  ASSERT_TRUE(wait_for([&] { return !temporaries(root_).empty(); }, std::chrono::seconds(20)))
      << "the first sync never started writing";

  const auto refused_start = Clock::now();
  const ProcessResult refused = sync({"--no-wait"});
  EXPECT_EQ(refused.exit_code, kExitIncomplete) << refused.describe();
  EXPECT_TRUE(contains(refused.output, "another jailbuild is working on " + root_)) << refused.output;
  EXPECT_LT(Clock::now() - refused_start, std::chrono::seconds(1)) << "--no-wait waited";
  EXPECT_NE(snapshot(root_), snapshot(new_)) << "the first sync finished too early: nothing was tested";

  const ProcessResult waited = sync();
  EXPECT_GE(Clock::now() - first_start, std::chrono::seconds(2)) << "the waiting sync did not wait for the lock";
  EXPECT_EQ(waited.exit_code, kExitOk) << waited.describe();
  EXPECT_TRUE(contains(waited.output, "waiting for another jailbuild working on " + root_)) << waited.output;
  const ProcessResult first_result = first.get();
  EXPECT_EQ(first_result.exit_code, kExitOk) << first_result.describe();
  const std::vector<std::string> problems = convergence_problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

TEST_F(SyncSafety, ASyncWithNothingToDoReadsNoFileAndStillNoticesChanges) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to see which files sync opens";
  ASSERT_NO_FATAL_FAILURE(prepare());
  // The watch list is written only when nothing the plan read changed in the second before the
  // run: version 2 was just installed.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const nlohmann::json first = json_in(sync({"--json"}).output);
  ASSERT_TRUE(first.is_object());
  EXPECT_FALSE(first["updated"].empty()) << "the update was not synced: " << first.dump(2);
  const Tree before = snapshot(root_, true);

  const std::string log = path("strace.log");
  const ProcessResult again = sync_under_strace({"-y", "-e", "trace=open,openat,openat2,read,pread64", "-o", log});
  ASSERT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_TRUE(contains(again.output, "0 created, 0 updated, 0 removed")) << again.output;
  const std::vector<std::string> used = files_used_after_lock(log);
  // The state directory (the watch list, the manifest's identity) and /proc (the boot id) only.
  for (const std::string& file : used)
    EXPECT_TRUE(file.starts_with(state_ + "/") || file.starts_with("/proc/")) << "opened or read " << file;
  EXPECT_TRUE(std::any_of(used.begin(), used.end(), [&](const std::string& file) { return file.starts_with(state_); }))
      << "the trace shows nothing after the lock: the check above checked nothing";
  EXPECT_EQ(snapshot(root_, true), before);

  // A library rewritten in place (same inode): the next sync must see it, watch list or not.
  { std::ofstream(path("lib/libshared.so.1"), std::ios::binary | std::ios::in | std::ios::out) << '\x7f'; }
  const timespec later[2] = {{0, UTIME_OMIT}, {2'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path("lib/libshared.so.1").c_str(), later, 0), 0);
  const ProcessResult changed = sync();
  ASSERT_EQ(changed.exit_code, kExitOk) << changed.describe();
  EXPECT_TRUE(contains(changed.output, "1 updated")) << changed.output;
  EXPECT_TRUE(same_contents(root_ + path("lib/libshared.so.1"), path("lib/libshared.so.1")));
}

TEST_F(SyncSafety, ASymlinkRepointedInTheRootIsRestoredAndItsDirectoryListedOnceSettled) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to count sync's stat calls";
  ASSERT_NO_FATAL_FAILURE(prepare());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(sync().exit_code, kExitOk);
  // A symlink jailbuild placed (the root's /lib64 or a library's link, as the host has them).
  std::string link;
  for (const auto& entry : fs::recursive_directory_iterator(root_))
    if (entry.is_symlink()) link = entry.path().string();
  if (link.empty()) GTEST_SKIP() << "the root holds no symlink (the host's loader path has none)";
  const fs::path target = fs::read_symlink(link);
  const std::string directory = "/" + fs::path(link).parent_path().lexically_relative(root_).string();
  const std::string listed_directory = directory == "/." ? "/" : directory;
  std::string watch_file;
  for (const auto& entry : fs::directory_iterator(fs::path(state_) / "roots"))
    if (entry.path().extension() == ".watch") watch_file = entry.path().string();
  ASSERT_FALSE(watch_file.empty()) << "no watch list written";
  auto listed = [&] {
    std::istringstream lines(read_file(watch_file));
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with("R ") && line.ends_with(" " + listed_directory)) return true;
    return false;
  };
  // Re-pointed by a rename over it, which changes its directory.
  auto repoint = [&] {
    fs::create_symlink("/nonexistent", link + ".swap");
    fs::rename(link + ".swap", link);
  };
  auto restore = [&] {
    const ProcessResult restored = sync();
    ASSERT_EQ(restored.exit_code, kExitOk) << restored.describe();
    EXPECT_TRUE(contains(restored.output, "1 updated")) << restored.output;
    EXPECT_EQ(fs::read_symlink(link), target);
  };
  auto stat_calls = [&] {
    const std::string log = path("stat-calls.log");
    const ProcessResult result = sync_under_strace({"-e", "trace=newfstatat,statx,fstat", "-o", log});
    EXPECT_EQ(result.exit_code, kExitOk) << result.describe();
    EXPECT_TRUE(contains(result.output, "0 created, 0 updated, 0 removed")) << result.output;
    std::istringstream lines(read_file(log));
    std::size_t count = 0;
    for (std::string line; std::getline(lines, line);) count += contains(line, "stat");
    return count;
  };

  repoint();
  ASSERT_NO_FATAL_FAILURE(restore());
  EXPECT_FALSE(listed()) << listed_directory << " is listed although the run had just written to it";
  // A second later the first run with nothing to do proves it all with stat calls and lists the
  // directory; the next one spares the stat of each symlink in it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::size_t unlisted_stats = stat_calls();
  EXPECT_TRUE(listed()) << listed_directory;
  const std::size_t listed_stats = stat_calls();
  EXPECT_LT(listed_stats, unlisted_stats) << "the listing spared no stat call";

  // Under a listing as well, the rename changes the directory: sync sees it and restores the link.
  repoint();
  ASSERT_NO_FATAL_FAILURE(restore());
  const std::vector<std::string> problems = convergence_problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

}  // namespace
}  // namespace jailbuild
