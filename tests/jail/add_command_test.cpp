// `jailbuild add`, `list` and `remove` as a user runs them: exit codes, dry runs, JSON, repeated
// runs, conflicts, privileges, and roots that fight back (planted symlinks, a directory swapped
// for a symlink while add runs, SIGKILL at every rename, a full disk, sources that vanish or are
// FIFOs, concurrent runs). Fixtures are built with gcc at test time in a temporary directory; each
// test has its own root and state directory there.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jailbuild/manifest.hpp"
#include "support/command_test_support.hpp"
#include "support/loader_oracle.hpp"
#include "support/non_utf8_names.hpp"
#include "support/path_swapper.hpp"
#include "support/root_test.hpp"

namespace jailbuild {
namespace {

using namespace testing;  // the shared command-test helpers: run_jailbuild, snapshot, ...

class AddCommand : public RootTest {
 protected:
  AddCommand() : RootTest("jailbuild-add") {}

  void SetUp() override {
    write_app_sources("shared.c");
    write_file(dir_ / "hello.c", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n");
    fs::create_directories(dir_ / "lib");
    gcc("-shared -fPIC -Wl,-soname,libshared.so.1 -o lib/libshared.so.1 shared.c");
    gcc("-shared -fPIC -Wl,-soname,libonly.so.1 -o lib/libonly.so.1 only.c");
    gcc("-shared -fPIC -Wl,-soname,libgone.so.1 -o lib/libgone.so.1 only.c");
    const std::string rpath = " -Wl,-rpath," + path("lib");
    gcc("-o app_a a.c -Wl,--no-as-needed -Llib -l:libshared.so.1 -l:libonly.so.1" + rpath);
    gcc("-o app_b b.c -Wl,--no-as-needed -Llib -l:libshared.so.1" + rpath);
    gcc("-o broken hello.c -Wl,--no-as-needed -Llib -l:libgone.so.1" + rpath);
    gcc("-o hello hello.c");
    fs::remove(dir_ / "lib/libgone.so.1");
  }

  static ProcessResult jailbuild(std::vector<std::string> args) { return run_jailbuild(std::move(args)); }
  // `add PATHS... --root ROOT --state-dir STATE OPTIONS...` on the test's root unless told otherwise.
  std::vector<std::string> add_args(const std::vector<std::string>& paths, const std::vector<std::string>& options = {},
                                    const std::string& root = "", const std::string& state = "") const {
    return testing::add_args(paths, root.empty() ? root_ : root, state.empty() ? state_ : state, options);
  }
  ProcessResult add(const std::vector<std::string>& paths, const std::vector<std::string>& options = {},
                    const std::string& root = "", const std::string& state = "") const {
    return jailbuild(add_args(paths, options, root, state));
  }
  nlohmann::json add_json(const std::vector<std::string>& paths, const std::vector<std::string>& options = {}) const {
    std::vector<std::string> with_json = options;
    with_json.push_back("--json");
    return json_in(add(paths, with_json).output);
  }
  ProcessResult list() const { return jailbuild({"list", root_, "--state-dir", state_}); }
  ProcessResult remove(const std::string& added) const {
    return jailbuild({"remove", added, "--root", root_, "--state-dir", state_});
  }
  ProcessResult add_under_strace(const std::vector<std::string>& strace_options, const std::vector<std::string>& paths,
                                 const std::vector<std::string>& options = {}, const std::string& root = "") const {
    return run_jailbuild_under_strace(strace_options, add_args(paths, options, root));
  }

  // A root the same add builds without interruption, in a directory of its own.
  std::string reference_root(const std::vector<std::string>& paths) const {
    const std::string root = path("reference");
    const ProcessResult built = add(paths, {}, root, path("reference-state"));
    EXPECT_EQ(built.exit_code, kExitOk) << built.describe();
    return root;
  }

  // A directory outside the root laid out like the root's /usr, with decoys where add writes.
  std::string make_outside() const {
    const fs::path outside = dir_ / "outside";
    write_file(outside / "lib/x86_64-linux-gnu/libc.so.6", "not a libc: must never change\n");
    write_file(outside / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "not a loader: must never change\n");
    fs::create_directories(outside / "lib64");
    fs::create_directories(outside / "bin");
    return outside.string();
  }

  std::vector<std::string> after_kill(const std::vector<std::string>& programs, const std::string& complete);
};

// ---- exit codes, dry runs, JSON, repeated runs ------------------------------------------------

TEST_F(AddCommand, ExitCodesTellSuccessMissingLibrariesAndUsage) {
  const ProcessResult ok = add({path("hello")});
  EXPECT_EQ(ok.exit_code, kExitOk) << ok.describe();

  const ProcessResult missing = add({path("broken")}, {}, path("root-broken"));
  EXPECT_EQ(missing.exit_code, kExitIncomplete) << missing.describe();
  EXPECT_TRUE(contains(missing.output, "libgone.so.1: not found")) << missing.output;

  EXPECT_EQ(jailbuild({"add", path("hello")}).exit_code, kExitUsage);                           // no --root
  EXPECT_EQ(jailbuild({"add", "--root", root_, "--state-dir", state_}).exit_code, kExitUsage);  // no PATH
  EXPECT_EQ(add({path("hello")}, {"--no-such-option"}).exit_code, kExitUsage);
  EXPECT_EQ(jailbuild({"list"}).exit_code, kExitUsage);
  EXPECT_EQ(jailbuild({"remove", "--root", root_, "--state-dir", state_}).exit_code, kExitUsage);
  EXPECT_EQ(jailbuild({"list", path("never-built"), "--state-dir", state_}).exit_code, kExitUsage);
}

TEST_F(AddCommand, AMissingPathIsAnErrorThatLaterAddsDoNotRepeat) {
  const ProcessResult missing = add({path("nonexistent")});
  EXPECT_NE(missing.exit_code, kExitOk) << missing.describe();
  EXPECT_TRUE(contains(missing.output, path("nonexistent") + ": No such file or directory")) << missing.output;
  // The path that failed is not recorded as added: the next add of something else succeeds.
  const ProcessResult next = add({path("hello")});
  EXPECT_EQ(next.exit_code, kExitOk) << next.describe();
  EXPECT_FALSE(contains(list().output, path("nonexistent"))) << list().output;
}

TEST_F(AddCommand, DryRunOnANewRootCreatesNothing) {
  const ProcessResult dry = add({path("app_a")}, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, kExitOk) << dry.describe();
  EXPECT_TRUE(contains(dry.output, "file " + path("app_a"))) << dry.output;
  EXPECT_TRUE(contains(dry.output, "file " + path("lib/libshared.so.1"))) << dry.output;
  EXPECT_FALSE(fs::exists(root_)) << "the root was created";
  EXPECT_FALSE(fs::exists(manifest_path(state_, root_))) << "a manifest was written";

  const nlohmann::json json = add_json({path("app_a")}, {"--dry-run"});
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json["dry_run"], true);
  EXPECT_NE(entry_named(json["entries"], path("app_a")), nullptr) << json.dump(2);
  EXPECT_FALSE(fs::exists(root_));
}

TEST_F(AddCommand, DryRunOnAnExistingRootChangesNothing) {
  ASSERT_EQ(add({path("hello")}).exit_code, kExitOk);
  const Tree root_before = snapshot(root_, true);
  const Tree state_before = snapshot(state_, true);
  const ProcessResult dry = add({path("app_a")}, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, kExitOk) << dry.describe();
  EXPECT_EQ(snapshot(root_, true), root_before);
  EXPECT_EQ(snapshot(state_, true), state_before);
  EXPECT_FALSE(contains(list().output, path("app_a")));
}

TEST_F(AddCommand, JsonListsEveryEntryWithItsReasons) {
  const nlohmann::json json = add_json({path("app_a")});
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json["dry_run"], false);
  EXPECT_EQ(json["root"], root_);
  EXPECT_TRUE(json["conflicts"].empty());
  const auto& entries = json["entries"];
  EXPECT_EQ(json["created"].size(), entries.size());
  EXPECT_GE(json["bytes_copied"].get<std::uint64_t>(), fs::file_size(path("app_a")));

  const nlohmann::json* app = entry_named(entries, path("app_a"));
  ASSERT_NE(app, nullptr) << entries.dump(2);
  EXPECT_EQ((*app)["type"], "file");
  EXPECT_EQ((*app)["reasons"][0]["rule"], "added");
  const nlohmann::json* library = entry_named(entries, path("lib/libshared.so.1"));
  ASSERT_NE(library, nullptr) << entries.dump(2);
  EXPECT_EQ((*library)["reasons"][0]["needed_by"], path("app_a"));
  EXPECT_TRUE(contains((*library)["reasons"][0]["rule"].get<std::string>(), "runpath"));
  const nlohmann::json* lib = entry_named(entries, "/lib");
  ASSERT_NE(lib, nullptr) << entries.dump(2);
  EXPECT_EQ((*lib)["type"], "symlink");
  EXPECT_EQ((*lib)["link_target"], fs::read_symlink("/lib").string());
  // Everything listed is in the root, as the type it is listed as.
  for (const auto& entry : entries) {
    const mode_t mode = mode_of(root_ + entry["path"].get<std::string>());
    const std::string type = entry["type"];
    EXPECT_TRUE((type == "file" && S_ISREG(mode)) || (type == "directory" && S_ISDIR(mode)) ||
                (type == "symlink" && S_ISLNK(mode)))
        << entry.dump();
  }
}

TEST_F(AddCommand, CreatesTheRootAndItsParentsIfMissing) {
  root_ = path("a/b/root");
  const ProcessResult result = add({path("hello")});
  ASSERT_EQ(result.exit_code, kExitOk) << result.describe();
  EXPECT_TRUE(S_ISDIR(mode_of(root_)));
  EXPECT_EQ(mode_of(root_) & 07777, 0755u);
  EXPECT_TRUE(same_contents(root_ + path("hello"), path("hello")));
  expect_loads_in_root(path("hello"));
}

TEST_F(AddCommand, ARepeatedAddCopiesNothing) {
  const nlohmann::json first = add_json({path("app_a"), path("app_b")});
  ASSERT_TRUE(first.is_object());
  EXPECT_GT(first["bytes_copied"].get<std::uint64_t>(), 0u);
  const Tree before = snapshot(root_, true);
  const nlohmann::json again = add_json({path("app_a"), path("app_b")});
  ASSERT_TRUE(again.is_object());
  EXPECT_EQ(again["bytes_copied"], 0u);
  EXPECT_EQ(again["created"].size(), 0u);
  EXPECT_EQ(again["updated"].size(), 0u);
  EXPECT_EQ(again["unchanged"], first["created"].size());
  EXPECT_EQ(snapshot(root_, true), before);
}

TEST_F(AddCommand, ARepeatedAddOfNothingNewReadsNoFileAndStillNoticesChanges) {
  // The watch list is written only when nothing the plan read changed in the second before the
  // run: the fixtures were just built.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::vector<std::string> programs{path("app_a"), path("app_b")};
  ASSERT_EQ(add(programs).exit_code, kExitOk);
  const Tree before = snapshot(root_, true);

  const std::string log = state_ + "/strace.log";
  const ProcessResult again =
      add_under_strace({"-y", "-e", "trace=open,openat,openat2,read,pread64", "-o", log}, programs);
  ASSERT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_TRUE(contains(again.output, "0 created, 0 updated, 0 removed")) << again.output;
  const std::vector<std::string> used = files_used_after_lock(log);
  EXPECT_FALSE(used.empty()) << "the trace shows not even the watch list being read";
  for (const std::string& file : used) {
    EXPECT_FALSE(file.starts_with(dir_.string()) && !file.starts_with(state_)) << "opened " << file;
    EXPECT_FALSE(file.starts_with("/usr/lib") || file.starts_with("/lib")) << "opened " << file;
  }
  EXPECT_EQ(snapshot(root_, true), before);

  // A library rewritten in place (same inode): the next add must see it, watch list or not.
  { std::ofstream(path("lib/libonly.so.1"), std::ios::binary | std::ios::in | std::ios::out) << '\x7f'; }
  const timespec later[2] = {{0, UTIME_OMIT}, {2'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path("lib/libonly.so.1").c_str(), later, 0), 0);
  const ProcessResult changed = add(programs);
  ASSERT_EQ(changed.exit_code, kExitOk) << changed.describe();
  EXPECT_TRUE(contains(changed.output, "1 updated")) << changed.output;
  EXPECT_TRUE(same_contents(root_ + path("lib/libonly.so.1"), path("lib/libonly.so.1")));
}

TEST_F(AddCommand, TemporariesOfAKilledManifestSaveAreRemovedByTheNextRun) {
  ASSERT_EQ(add({path("hello")}).exit_code, kExitOk);
  const fs::path roots = fs::path(state_) / "roots";
  const std::string manifest = fs::path(manifest_path(state_, root_)).filename().string();
  ASSERT_TRUE(fs::exists(roots / manifest)) << roots / manifest;
  const std::string stem = manifest.substr(0, manifest.size() - 5);
  // What a run killed between mkstemp and rename leaves, and a file of another root's.
  write_file(roots / ("." + manifest + ".a1B2c3"), "{\"half\": ");
  write_file(roots / ("." + stem + ".watch.Zz9y8X"), "jailbuild-watch 1\n");
  write_file(roots / ".other-root.json.a1B2c3", "{}");

  ASSERT_EQ(add({path("hello")}).exit_code, kExitOk);
  EXPECT_FALSE(fs::exists(roots / ("." + manifest + ".a1B2c3")));
  EXPECT_FALSE(fs::exists(roots / ("." + stem + ".watch.Zz9y8X")));
  EXPECT_TRUE(fs::exists(roots / ".other-root.json.a1B2c3")) << "another root's file is not this run's";
}

TEST_F(AddCommand, AProgramAddedThroughADirectorySymlinkKeepsItsName) {
  // "bin" is a symlink to "usr/bin" here, as /bin is on Debian 12: the program must be in the root
  // by the name it was added by, through the same symlink, or `run ROOT .../bin/hello` fails.
  fs::create_directories(dir_ / "usr/bin");
  fs::create_directory_symlink("usr/bin", dir_ / "bin");
  gcc("-o usr/bin/hello hello.c");
  ASSERT_EQ(add({path("bin/hello")}).exit_code, kExitOk);
  EXPECT_EQ(fs::read_symlink(root_ + path("bin")), "usr/bin");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(root_ + path("usr/bin/hello"))));
  expect_loads_in_root(path("bin/hello"));
  const ProcessResult listed = list();
  EXPECT_TRUE(contains(listed.output, "added:\n  " + path("bin/hello") + "\n")) << listed.output;
  EXPECT_EQ(remove(path("bin/hello")).exit_code, kExitOk) << "removed by the name it was added by";
  EXPECT_FALSE(fs::exists(root_ + path("usr/bin/hello")));
}

TEST_F(AddCommand, PathsWithDotDotAreRecordedSoThatTheManifestStaysReadable) {
  // A library found through $ORIGIN/../lib that needs a library of its own: the loader's path for
  // it, recorded as what needed the next one, holds "..". And a relative added path with "..".
  fs::create_directories(dir_ / "app/bin");
  fs::create_directories(dir_ / "app/lib");
  gcc("-shared -fPIC -Wl,-soname,libgreet.so.1 -o app/lib/libgreet.so.1 only.c -Wl,--no-as-needed -lm");
  gcc("-o app/bin/hello hello.c -Wl,--no-as-needed app/lib/libgreet.so.1 -Wl,-rpath,'$ORIGIN/../lib'");
  const std::vector<std::string> relative{"app/bin/../bin/hello"};
  testing::ProcessOptions in_dir;
  in_dir.cwd = dir_.string();
  const ProcessResult added = testing::run_process(
      {JAILBUILD_BINARY, "add", relative[0], "--root", root_, "--state-dir", state_}, kPlainEnv, in_dir);
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();

  const ProcessResult listed = list();
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.describe();
  EXPECT_TRUE(contains(listed.output, "needed by " + path("app/bin/../lib/libgreet.so.1"))) << listed.output;
  EXPECT_TRUE(contains(listed.output, "added:\n  " + path("app/bin/hello") + "\n")) << listed.output;
  EXPECT_EQ(remove(path("app/bin/hello")).exit_code, kExitOk);
}

// Names that are not UTF-8 (Linux paths are bytes): `add --json` used to die on them with
// nlohmann's type_error 316 and exit 2 after the root and manifest had changed. Now every path,
// symlink target and reason that holds such bytes is {"hex": ...} and every UTF-8 one a string.
TEST_F(AddCommand, JsonWritesNamesThatAreNotUtf8AsHexAfterARealAdd) {
  const std::string program = build_program_with_non_utf8_paths(dir_);
  const std::string latin1_library = path(kLatin1Directory + "/" + kLatin1Library);
  const std::string utf8_library = path(kUtf8Directory + "/" + kUtf8Library);
  const std::string link = path("link\xfe");
  const std::string link_target = kLatin1Directory + "/app";
  fs::create_symlink(link_target, link);
  const std::string root = path("root-" + kLatin1Directory);
  // The control: these names really are not UTF-8, and the UTF-8 one really is.
  for (const std::string& name : {program, latin1_library, link, link_target, root})
    ASSERT_TRUE(plain_dump_refuses(name)) << name;
  ASSERT_FALSE(plain_dump_refuses(utf8_library));

  const ProcessResult added = add({program, link}, {"--json"}, root);
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  const nlohmann::json json = json_in(added.output);
  ASSERT_TRUE(json.is_object()) << added.output;
  EXPECT_TRUE(json["root"].is_object()) << json["root"];
  EXPECT_EQ(bytes_in(json["root"]), root);
  std::map<std::string, nlohmann::json> entries;  // by decoded path
  for (const auto& entry : json["entries"]) {
    const std::optional<std::string> entry_path = bytes_in(entry["path"]);
    ASSERT_TRUE(entry_path) << entry;
    entries[*entry_path] = entry;
  }
  std::set<std::string> created;
  for (const auto& created_path : json["created"]) {
    ASSERT_TRUE(bytes_in(created_path)) << created_path;
    created.insert(*bytes_in(created_path));
  }
  for (const std::string& file : {program, latin1_library, utf8_library, link})
    EXPECT_TRUE(entries.count(file) && created.count(file)) << file << " missing in " << json.dump(2);

  const nlohmann::json& app = entries[program];
  EXPECT_TRUE(app["path"].is_object()) << app;
  EXPECT_EQ(bytes_in(app["source"]), program);
  std::set<std::string> added_for;  // the program is there for itself and as the symlink's target
  for (const auto& reason : app["reasons"]) added_for.insert(bytes_in(reason["added"]).value_or("?"));
  EXPECT_EQ(added_for, (std::set<std::string>{program, link})) << app;
  const nlohmann::json& library = entries[latin1_library];
  ASSERT_EQ(library["reasons"].size(), 1u) << library;
  EXPECT_EQ(bytes_in(library["reasons"][0]["needed_by"]), program);
  const std::optional<std::string> rule = bytes_in(library["reasons"][0]["rule"]);
  EXPECT_TRUE(rule == "rpath of " + program || rule == "runpath of " + program) << library;
  const nlohmann::json& symlink = entries[link];
  EXPECT_EQ(symlink["type"], "symlink");
  EXPECT_TRUE(symlink["link_target"].is_object()) << symlink;
  EXPECT_EQ(bytes_in(symlink["link_target"]), link_target);
  // UTF-8 names stay plain strings.
  EXPECT_EQ(entries[utf8_library]["path"], utf8_library);
  EXPECT_EQ(entries[utf8_library]["source"], utf8_library);

  // The add itself is whole: the program runs in the root, found through those very bytes.
  EXPECT_TRUE(fs::is_symlink(root + link));
  if (::geteuid() == 0) {
    ProcessOptions in_root;
    in_root.root = root;
    const ProcessResult ran = run_process({program}, kPlainEnv, in_root);
    EXPECT_EQ(ran.exit_code, 0) << ran.describe();
    EXPECT_EQ(ran.output, "latin 1 caf\xc3\xa9 2\n") << ran.describe();
  }
  // One encoding: the manifest (`list --json`) writes each of these values as add did.
  const ProcessResult listed = jailbuild({"list", root, "--state-dir", state_, "--json"});
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.describe();
  const nlohmann::json manifest = json_in(listed.output);
  ASSERT_TRUE(manifest.is_object()) << listed.output;
  EXPECT_EQ(manifest["root"], json["root"]);
  for (const auto& entry : manifest["entries"]) {
    const nlohmann::json& from_add = entries[bytes_in(entry["path"]).value_or("")];
    for (const char* key : {"path", "source", "link_target", "reasons"})
      EXPECT_EQ(entry[key], from_add[key]) << key << " of " << entry;
  }
}

// ---- list and remove --------------------------------------------------------------------------

TEST_F(AddCommand, ListShowsWhyEachFileIsThere) {
  ASSERT_EQ(add({path("app_a"), path("app_b")}).exit_code, kExitOk);
  const ProcessResult listed = list();
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.describe();
  const std::string& text = listed.output;
  EXPECT_TRUE(contains(text, "added:\n  " + path("app_a") + "\n  " + path("app_b") + "\n")) << text;
  const std::string library = "file " + path("lib/libshared.so.1") + "\n";
  ASSERT_TRUE(contains(text, library)) << text;
  const std::string reasons = text.substr(text.find(library) + library.size());
  for (const char* app : {"app_a", "app_b"}) {
    EXPECT_TRUE(contains(reasons.substr(0, reasons.find("  file ")),
                         "runpath of " + path(app) + ", needed by " + path(app) + " (for " + path(app) + ")"))
        << text;
  }
  EXPECT_TRUE(contains(text, "file " + path("app_a") + "\n      added (for " + path("app_a") + ")")) << text;

  const ProcessResult as_json = jailbuild({"list", root_, "--state-dir", state_, "--json"});
  const nlohmann::json manifest = json_in(as_json.output);
  ASSERT_TRUE(manifest.is_object()) << as_json.output;
  EXPECT_EQ(manifest["intent"]["requirements"],
            (nlohmann::json{{{"kind", "path"}, {"path", path("app_a")}}, {{"kind", "path"}, {"path", path("app_b")}}}));
}

TEST_F(AddCommand, RemoveTakesWhatNothingElseNeeds) {
  ASSERT_EQ(add({path("app_a"), path("app_b")}).exit_code, kExitOk);
  const ProcessResult removed = remove(path("app_a"));
  ASSERT_EQ(removed.exit_code, kExitOk) << removed.describe();
  EXPECT_TRUE(contains(removed.output, "removed " + path("app_a") + "\n")) << removed.output;
  EXPECT_FALSE(fs::exists(root_ + path("app_a")));
  EXPECT_FALSE(fs::exists(root_ + path("lib/libonly.so.1")));
  EXPECT_TRUE(same_contents(root_ + path("lib/libshared.so.1"), path("lib/libshared.so.1")))
      << "a library app_b still needs was removed";
  EXPECT_TRUE(fs::exists(root_ + "/lib/x86_64-linux-gnu/libc.so.6"));
  expect_loads_in_root(path("app_b"));
  EXPECT_FALSE(contains(list().output, path("app_a")));

  const ProcessResult never_added = remove(path("hello"));
  EXPECT_NE(never_added.exit_code, kExitOk);
  EXPECT_TRUE(contains(never_added.output, path("hello") + ": was not added")) << never_added.output;

  ASSERT_EQ(remove(path("app_b")).exit_code, kExitOk);
  EXPECT_EQ(snapshot(root_), (Tree{{".", ""}})) << "the last remove leaves an empty root";
}

// ---- conflicts and privileges -----------------------------------------------------------------

TEST_F(AddCommand, AFileInTheWayIsAConflictLeftAloneUnlessForced) {
  const std::string planted = root_ + path("lib/libshared.so.1");
  write_file(planted, "placed by hand\n");
  const ProcessResult refused = add({path("app_a")});
  EXPECT_EQ(refused.exit_code, kExitIncomplete) << refused.describe();
  EXPECT_TRUE(contains(refused.output, "conflict: " + path("lib/libshared.so.1"))) << refused.output;
  EXPECT_EQ(read_file(planted), "placed by hand\n");
  EXPECT_TRUE(same_contents(root_ + path("app_a"), path("app_a"))) << "the rest was not placed";

  const ProcessResult forced = add({path("app_a")}, {"--force"});
  EXPECT_EQ(forced.exit_code, kExitOk) << forced.describe();
  EXPECT_TRUE(same_contents(planted, path("lib/libshared.so.1")));
  expect_loads_in_root(path("app_a"));
}

TEST_F(AddCommand, SetuidAndSetgidBitsAreRemovedAndReportedUnlessKept) {
  fs::create_directories(dir_ / "privileged");
  fs::copy_file(path("hello"), path("privileged/setuid"));
  fs::copy_file(path("hello"), path("privileged/setgid"));
  ASSERT_EQ(::chmod(path("privileged/setuid").c_str(), 04755), 0);
  ASSERT_EQ(::chmod(path("privileged/setgid").c_str(), 02755), 0);
  const std::vector<std::string> programs{path("privileged/setuid"), path("privileged/setgid")};

  const ProcessResult removed = add(programs);
  EXPECT_EQ(removed.exit_code, kExitOk) << removed.describe();
  EXPECT_TRUE(contains(removed.output, path("privileged/setuid") + ": setuid bit removed")) << removed.output;
  EXPECT_TRUE(contains(removed.output, path("privileged/setgid") + ": setgid bit removed")) << removed.output;
  EXPECT_EQ(mode_of(root_ + path("privileged/setuid")) & 07777, 0755u);
  EXPECT_EQ(mode_of(root_ + path("privileged/setgid")) & 07777, 0755u);

  const ProcessResult kept = add(programs, {"--keep-setuid"}, path("root-kept"), path("state-kept"));
  EXPECT_EQ(kept.exit_code, kExitOk) << kept.describe();
  EXPECT_FALSE(contains(kept.output, "bit removed")) << kept.output;
  EXPECT_EQ(mode_of(path("root-kept") + path("privileged/setuid")) & 07777, 04755u);
  EXPECT_EQ(mode_of(path("root-kept") + path("privileged/setgid")) & 07777, 02755u);
}

// ---- hostile roots ----------------------------------------------------------------------------

TEST_F(AddCommand, ARootWhoseUsrIsASymlinkOutsideNeverWritesThere) {
  const std::string outside = make_outside();
  const Tree before = snapshot(outside, true);
  fs::create_directories(root_);
  fs::create_directory_symlink(outside, root_ + "/usr");

  const ProcessResult refused = add({path("app_a")});
  EXPECT_EQ(refused.exit_code, kExitIncomplete) << refused.describe();
  EXPECT_TRUE(contains(refused.output, "conflict: /usr")) << refused.output;
  EXPECT_EQ(fs::read_symlink(root_ + "/usr"), outside) << "the planted symlink was not left alone";
  EXPECT_EQ(snapshot(outside, true), before);

  const ProcessResult forced = add({path("app_a")}, {"--force"});
  EXPECT_EQ(forced.exit_code, kExitOk) << forced.describe();
  EXPECT_TRUE(S_ISDIR(mode_of(root_ + "/usr")));
  EXPECT_EQ(snapshot(outside, true), before);
  expect_loads_in_root(path("app_a"));
}

TEST_F(AddCommand, APlantedLibcSymlinkNeverRedirectsTheCopy) {
  const std::string outside = make_outside();
  const Tree before = snapshot(outside, true);
  const std::string libc = root_ + "/usr/lib/x86_64-linux-gnu/libc.so.6";
  fs::create_directories(fs::path(libc).parent_path());
  fs::create_symlink(outside + "/lib/x86_64-linux-gnu/libc.so.6", libc);

  const ProcessResult refused = add({path("app_a")});
  EXPECT_EQ(refused.exit_code, kExitIncomplete) << refused.describe();
  EXPECT_TRUE(contains(refused.output, "conflict: /usr/lib/x86_64-linux-gnu/libc.so.6")) << refused.output;
  EXPECT_TRUE(S_ISLNK(mode_of(libc)));
  EXPECT_EQ(snapshot(outside, true), before);

  const ProcessResult forced = add({path("app_a")}, {"--force"});
  EXPECT_EQ(forced.exit_code, kExitOk) << forced.describe();
  EXPECT_TRUE(S_ISREG(mode_of(libc)));
  EXPECT_TRUE(same_contents(libc, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_EQ(snapshot(outside, true), before);
}

TEST_F(AddCommand, UsrSwappedWithASymlinkOutsideWhileAddRunsNeverWritesOutside) {
  constexpr int kRuns = 50;
  const std::string outside = make_outside();
  const std::vector<std::string> programs{path("app_a"), path("app_b")};
  const std::string complete = reference_root(programs);
  ASSERT_EQ(add(programs).exit_code, kExitOk);
  const Tree before = snapshot(outside, true);
  // The root's real /usr, reachable without ever looking a name up in the root again.
  const int usr = ::open((root_ + "/usr").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(usr, 0);
  const std::string real = root_ + "/usr";
  const std::string swapped = root_ + "/usr.swapped";
  fs::create_directory_symlink(outside, swapped);

  std::atomic<long> swaps{0};
  int writes = 0;  // runs that did recreate libc.so.6 in the real /usr
  std::map<int, int> exit_codes;
  {
    // Random pauses of up to 2 ms between swaps: add meets the symlink on some lookups and gets
    // through on others, so that it writes under the real /usr while the swapping goes on.
    std::jthread swapper([&](std::stop_token stop) {
      std::minstd_rand random(12345);
      while (!stop.stop_requested()) {
        if (::renameat2(AT_FDCWD, real.c_str(), AT_FDCWD, swapped.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
      }
    });
    for (int run = 0; run < kRuns; ++run) {
      // Make add write under /usr each time: what it must recreate is what the outside has decoys for.
      ::unlinkat(usr, "lib/x86_64-linux-gnu/libc.so.6", 0);
      ::unlinkat(usr, "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0);
      const ProcessResult result = add(programs);
      EXPECT_TRUE(result.exited() && (result.exit_code == kExitOk || result.exit_code == kExitIncomplete))
          << result.describe();
      ++exit_codes[result.exit_code];
      struct stat recreated {};
      if (::fstatat(usr, "lib/x86_64-linux-gnu/libc.so.6", &recreated, AT_SYMLINK_NOFOLLOW) == 0) ++writes;
    }
  }
  if (S_ISLNK(mode_of(real))) ::renameat2(AT_FDCWD, real.c_str(), AT_FDCWD, swapped.c_str(), RENAME_EXCHANGE);
  ::close(usr);
  std::cout << "swaps: " << swaps << "; runs that wrote libc.so.6 into the real /usr: " << writes << "; exit codes:";
  for (const auto& [code, count] : exit_codes) std::cout << " " << count << " x " << code;
  std::cout << "\n";
  EXPECT_GT(swaps.load(), kRuns) << "the swapper hardly ran: the race was not tested";
  EXPECT_GT(writes, 0) << "add never got to write under /usr: the race was not tested";
  EXPECT_EQ(snapshot(outside, true), before) << "something was written outside the root";

  // The swap may have ended with the real /usr here: add recreates a /usr it finds replaced by a
  // symlink, as the path is jailbuild's.
  fs::remove_all(swapped);
  const ProcessResult settled = add(programs);
  EXPECT_EQ(settled.exit_code, kExitOk) << settled.describe();
  EXPECT_EQ(snapshot(root_), snapshot(complete));
}

// ---- how ROOT itself is opened -------------------------------------------------------------------

// Issue 10, case 8: `add` creating a new root in a directory another user owns, who swaps the new
// name for a symlink to a decoy the moment it exists (and back, again and again). Each add must
// either refuse (it met the symlink) or build the root in the directory it made; the decoy (root's,
// mode 0700) must keep its mode and contents. Control: mkdir, chmod and a file written by path, as
// `mkdir -p` and add once did, reach the decoy under the same swapper. The window between making
// the root and opening it is a few microseconds, which a loaded machine stretches and an idle one
// seldom does: strace holds each mkdir's return for 20 ms, so that every add meets the swapping.
TEST_F(AddCommand, ANewRootSwappedForASymlinkByTheOwnerOfItsParentIsNeverFollowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the parent is given to nobody, who swaps the new root";
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to widen the race window";
  constexpr int kRuns = 20;
  const std::string parent = path("parent");
  fs::create_directory(parent);
  ASSERT_EQ(::chown(parent.c_str(), kNobody, kNobody), 0);
  const std::string decoy = path("decoy");
  write_file(fs::path(decoy) / "etc/passwd", "a decoy: must never change\n");
  fs::permissions(decoy, static_cast<fs::perms>(0700));

  bool reached = false;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  for (int attempt = 0; !reached && Clock::now() < deadline; ++attempt) {
    const std::string name = "control-" + std::to_string(attempt);
    const std::string made = parent + "/" + name;
    PathSwapper swapper(parent, name, decoy, kNobody, 0);
    ::mkdir(made.c_str(), 0700);
    ::chmod(made.c_str(), 0755);
    const int fd = ::open((made + "/probe").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
    swapper.stop();
    reached = (mode_of(decoy) & 07777) != 0700 || fs::exists(decoy + "/probe");
  }
  ASSERT_TRUE(reached) << "mkdir, chmod and open by path never reached the decoy: the swapper redirects nothing";
  fs::remove(decoy + "/probe");
  fs::permissions(decoy, static_cast<fs::perms>(0700));
  const Tree before = snapshot(decoy, true);

  int refused = 0;         // adds that met the symlink
  int built = 0;           // adds that built the root in the directory they made
  int swapped_during = 0;  // adds during which the swapper got the new root's name at least once
  for (int run = 0; run < kRuns; ++run) {
    const std::string root = parent + "/root-" + std::to_string(run);
    PathSwapper swapper(parent, "root-" + std::to_string(run), decoy, kNobody, 0);
    const ProcessResult result =
        add_under_strace({"-e", "inject=mkdir,mkdirat:delay_exit=20000"}, {path("hello")}, {}, root);
    if (swapper.stop() > 0) ++swapped_during;
    if (result.exit_code == kExitUsage && contains(result.output, root + ": is a symlink")) {
      ++refused;
    } else {
      EXPECT_EQ(result.exit_code, kExitOk) << result.describe();
      ++built;
    }
  }
  std::cout << "adds refused: " << refused << "; built: " << built << "; swapped during the add: " << swapped_during
            << "\n";
  EXPECT_GT(swapped_during, 0) << "the swapper never got the new root: the race was not tested";
  EXPECT_GT(refused, 0) << "no add met the symlink: the race window was never open";
  EXPECT_EQ(snapshot(decoy, true), before) << "add changed the decoy";
}

// The deterministic half of case 8: the new root's path is a symlink to a decoy already. add
// refuses, naming it and its real path, and creates nothing: not in the decoy, not beside the
// symlink, not even the state directory. Control: a root beside it, by a path without symlinks, is
// built, mode 0755.
TEST_F(AddCommand, ANewRootThatIsASymlinkIsRefusedAndNothingIsCreated) {
  const std::string decoy = path("decoy");
  write_file(fs::path(decoy) / "etc/passwd", "a decoy: must never change\n");
  fs::permissions(decoy, static_cast<fs::perms>(0700));
  const Tree decoy_before = snapshot(decoy, true);
  fs::create_directory(path("parent"));
  root_ = path("parent/new");
  fs::create_directory_symlink(decoy, root_);
  const Tree parent_before = snapshot(path("parent"), true);

  const ProcessResult refused = add({path("hello")});
  EXPECT_EQ(refused.exit_code, kExitUsage) << refused.describe();
  EXPECT_TRUE(contains(refused.output, root_ + ": is a symlink")) << refused.output;
  EXPECT_TRUE(contains(refused.output, "give its real path, " + decoy)) << refused.output;
  EXPECT_EQ(snapshot(decoy, true), decoy_before) << "add wrote through the symlink";
  EXPECT_EQ(snapshot(path("parent"), true), parent_before);
  EXPECT_FALSE(fs::exists(state_)) << "a refused root left state behind";

  root_ = path("parent/real");
  const ProcessResult built = add({path("hello")});
  EXPECT_EQ(built.exit_code, kExitOk) << built.describe();
  EXPECT_EQ(mode_of(root_) & 07777, 0755u);
}

// A symlink anywhere in ROOT's path is refused by every command with exit 2 (bad input, as an
// unknown root is), naming the symlink and where it leads. Control: the real path works.
TEST_F(AddCommand, ARootPathThroughASymlinkIsRefusedByEveryCommand) {
  const std::string real = path("real");
  fs::create_directory(real);
  const std::string link = path("link");
  fs::create_directory_symlink(real, link);
  const std::string through = link + "/root";

  const ProcessResult new_root = add({path("hello")}, {}, through);
  EXPECT_EQ(new_root.exit_code, kExitUsage) << new_root.describe();
  EXPECT_TRUE(contains(new_root.output, through + ": " + link + " is a symlink")) << new_root.output;
  EXPECT_TRUE(contains(new_root.output, link + " resolves to " + real)) << new_root.output;
  EXPECT_FALSE(fs::exists(real + "/root"));

  root_ = real + "/root";
  ASSERT_EQ(add({path("hello")}).exit_code, kExitOk);
  const std::vector<std::vector<std::string>> commands{
      add_args({path("hello")}, {}, through),
      {"sync", through, "--state-dir", state_},
      {"list", through, "--state-dir", state_},
      {"remove", path("hello"), "--root", through, "--state-dir", state_},
  };
  for (const std::vector<std::string>& command : commands) {
    const ProcessResult refused = jailbuild(command);
    EXPECT_EQ(refused.exit_code, kExitUsage) << command[0] << ": " << refused.describe();
    EXPECT_TRUE(contains(refused.output, link + " is a symlink")) << command[0] << ": " << refused.output;
    EXPECT_TRUE(contains(refused.output, "give its real path, " + root_)) << command[0] << ": " << refused.output;
  }
  EXPECT_EQ(jailbuild({"sync", root_, "--state-dir", state_}).exit_code, kExitOk);
  EXPECT_EQ(jailbuild({"list", root_, "--state-dir", state_}).exit_code, kExitOk);
  EXPECT_TRUE(same_contents(root_ + path("hello"), path("hello")));
}

// A directory on the way to ROOT that someone other than root and the caller can change is warned
// about (jk_init refuses such roots): writable by its group or everyone without the sticky bit, or
// another user's. A sticky one (as /tmp) is fine while the next component is root's; the control
// is the same sticky directory holding another user's root, which that user may rename.
TEST_F(AddCommand, AnAncestorOthersCanChangeIsWarnedAbout) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give directories to nobody";
  struct Case {
    std::string parent;
    mode_t mode;
    uid_t owner;
    bool root_is_nobodys;
    std::string warning;  // "" for none
  };
  const std::vector<Case> cases{
      {"everyone", 0777, 0, false, path("everyone") + " is writable by everyone (mode 0777)"},
      {"group", 0775, 0, false, path("group") + " is writable by its group (mode 0775)"},
      {"nobodys", 0755, kNobody, false, path("nobodys") + " belongs to uid 65534"},
      {"sticky", 01777, 0, false, ""},
      {"sticky-other", 01777, 0, true,
       path("sticky-other/root") + " belongs to uid 65534, who may rename it in " + path("sticky-other")},
  };
  for (const Case& c : cases) {
    const std::string parent = path(c.parent);
    fs::create_directory(parent);
    ASSERT_EQ(::chmod(parent.c_str(), c.mode), 0);
    ASSERT_EQ(::chown(parent.c_str(), c.owner, c.owner), 0);
    root_ = parent + "/root";
    if (c.root_is_nobodys) {
      fs::create_directory(root_);
      ASSERT_EQ(::chown(root_.c_str(), kNobody, kNobody), 0);
    }
    const ProcessResult added = add({path("hello")});
    EXPECT_EQ(added.exit_code, kExitOk) << c.parent << ": " << added.describe();
    const ProcessResult synced = jailbuild({"sync", root_, "--state-dir", state_});
    EXPECT_EQ(synced.exit_code, kExitOk) << c.parent << ": " << synced.describe();
    for (const ProcessResult* result : {&added, &synced}) {
      if (c.warning.empty()) {
        EXPECT_FALSE(contains(result->output, "warning")) << c.parent << ": " << result->output;
      } else {
        EXPECT_TRUE(contains(result->output, "warning: " + root_ + ": " + c.warning))
            << c.parent << ": " << result->output;
      }
    }
  }
}

// ---- interrupted runs and failures --------------------------------------------------------------

// What is wrong after an add killed at one point and the add run after it: each "PROBLEM".
std::vector<std::string> AddCommand::after_kill(const std::vector<std::string>& programs, const std::string& complete) {
  std::vector<std::string> problems;
  for (const std::string& file : incomplete_files(root_, complete))
    problems.push_back("incomplete file under its final name after the kill: " + file);
  const ProcessResult next = add(programs);
  if (next.exit_code != kExitOk) problems.push_back("the next add failed: " + next.describe());
  for (const std::string& file : temporaries(root_)) problems.push_back("left after the next add: " + file);
  if (snapshot(root_) != snapshot(complete)) problems.push_back("the root differs from an uninterrupted add's");
  const nlohmann::json settled = add_json(programs);
  if (settled.value("bytes_copied", -1) != 0) problems.push_back("a third add still copies: " + settled.dump());
  return problems;
}

TEST_F(AddCommand, AKilledAddLeavesNoTruncatedFileAndTheNextAddConverges) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to kill add at chosen points";
  const std::vector<std::string> programs{path("app_a")};
  const std::string complete = reference_root(programs);
  // Each commit of an entry (renameat), the saves in the state directory (rename: the pending
  // manifest before the files, the final one after, and the watch list once the fixtures are a
  // second old), each chunk of a copy, and each mode set on a new file or directory (fchmod: a
  // directory must not be left private under its final name, where later runs would take it for
  // someone else's);
  // the n-th such call of a run gets SIGKILL, for every n until a run has fewer such calls.
  std::map<std::string, int> kill_points;
  std::vector<std::string> failures;
  for (const std::string syscall : {"renameat", "rename", "copy_file_range", "fchmod"}) {
    for (int n = 1; n < 200; ++n) {
      fs::remove_all(root_);
      fs::remove_all(state_);
      const ProcessResult killed =
          add_under_strace({"-e", "inject=" + syscall + ":signal=SIGKILL:when=" + std::to_string(n)}, programs);
      if (killed.term_signal != SIGKILL) {
        EXPECT_EQ(killed.exit_code, kExitOk) << killed.describe();
        break;
      }
      ++kill_points[syscall];
      for (const std::string& problem : after_kill(programs, complete))
        failures.push_back("killed at " + syscall + " #" + std::to_string(n) + ": " + problem);
    }
  }
  for (const auto& [syscall, count] : kill_points) std::cout << "killed at " << count << " " << syscall << " calls\n";
  EXPECT_GE(kill_points["renameat"], 10);
  EXPECT_GE(kill_points["rename"], 2);
  EXPECT_LE(kill_points["rename"], 3);
  EXPECT_GE(kill_points["copy_file_range"], 4);
  EXPECT_GE(kill_points["fchmod"], 10);
  EXPECT_TRUE(failures.empty()) << failures.size() << " problems:\n" << joined(failures);
}

// A tmpfs mounted over the root, unmounted (lazily) when the fixture ends.
TEST_F(AddCommand, AFullDiskIsAClearErrorAndTheRootStaysConsistent) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs as the root";
  const std::vector<std::string> programs{path("app_a")};
  const std::string complete = reference_root(programs);
  fs::create_directories(root_);
  ASSERT_EQ(::mount("jailbuild-test", root_.c_str(), "tmpfs", 0, "size=1m,mode=0755"), 0) << std::strerror(errno);
  mounted_ = true;

  const ProcessResult full = add(programs);
  EXPECT_EQ(full.exit_code, kExitIncomplete) << full.describe();
  EXPECT_TRUE(contains(full.output, root_ + "/")) << "the message names no path in the root: " << full.output;
  EXPECT_TRUE(contains(full.output, "No space left on device")) << full.output;
  EXPECT_EQ(temporaries(root_), std::vector<std::string>{});
  EXPECT_EQ(incomplete_files(root_, complete), std::vector<std::string>{});

  ASSERT_EQ(::mount(nullptr, root_.c_str(), nullptr, MS_REMOUNT, "size=64m"), 0) << std::strerror(errno);
  const ProcessResult roomy = add(programs);
  EXPECT_EQ(roomy.exit_code, kExitOk) << roomy.describe();
  EXPECT_EQ(snapshot(root_), snapshot(complete));
}

TEST_F(AddCommand, AFifoIsRefusedWithAClearError) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  const ProcessResult refused = add({path("fifo")});
  EXPECT_FALSE(refused.timed_out) << "add blocked on the FIFO";
  EXPECT_EQ(refused.exit_code, kExitIncomplete) << refused.describe();
  EXPECT_TRUE(contains(refused.output, path("fifo") + ": is a FIFO")) << refused.output;
  EXPECT_FALSE(fs::exists(root_ + path("fifo")));
  EXPECT_EQ(temporaries(root_), std::vector<std::string>{});
}

TEST_F(AddCommand, AFifoThatFailedOnceDoesNotBlockLaterAdds) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  ASSERT_EQ(add({path("fifo")}).exit_code, kExitIncomplete);
  const ProcessResult next = add({path("hello")});
  EXPECT_EQ(next.exit_code, kExitOk) << next.describe();
  EXPECT_TRUE(same_contents(root_ + path("hello"), path("hello")));
}

TEST_F(AddCommand, AFileThatVanishesBeforeItIsCopiedIsAClearError) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to hold add at the right moment";
  const std::string file = path("data/vanishing");
  write_file(file, "here while planned, gone when copied\n");
  // The planner opens the file once; the second open (the copy) is held for two seconds, and the
  // file is deleted meanwhile, once add has started writing the root.
  auto running = std::async(std::launch::async, [&] {
    return add_under_strace({"-P", file, "-e", "trace=openat", "-e", "inject=openat:delay_enter=2000000:when=2"},
                            {file});
  });
  EXPECT_TRUE(wait_for([&] { return fs::exists(root_ + path("data")); }, std::chrono::seconds(20)));
  fs::remove(file);
  const ProcessResult vanished = running.get();
  EXPECT_EQ(vanished.exit_code, kExitIncomplete) << vanished.describe();
  EXPECT_TRUE(contains(vanished.output, file + ": No such file or directory")) << vanished.output;
  EXPECT_FALSE(fs::exists(root_ + file));
  EXPECT_EQ(temporaries(root_), std::vector<std::string>{});
}

// ---- concurrent runs ----------------------------------------------------------------------------

TEST_F(AddCommand, ConcurrentAddsOnOneRootAreSerializedByTheLock) {
  if (!fs::exists(kStrace)) GTEST_SKIP() << "needs strace (Debian package strace) to hold the lock";
  // The first add holds the lock for at least two seconds: its first commit is delayed.
  const auto first_start = Clock::now();
  auto first = std::async(std::launch::async, [&] {
    return add_under_strace({"-e", "inject=renameat:delay_enter=2000000:when=1"}, {path("app_a")});
  });
  ASSERT_TRUE(wait_for([&] { return fs::exists(root_) && !temporaries(root_).empty(); }, std::chrono::seconds(20)))
      << "the first add never started writing";

  const auto refused_start = Clock::now();
  const ProcessResult refused = add({path("app_b")}, {"--no-wait"});
  EXPECT_EQ(refused.exit_code, kExitIncomplete) << refused.describe();
  EXPECT_TRUE(contains(refused.output, "another jailbuild is working on " + root_)) << refused.output;
  EXPECT_LT(Clock::now() - refused_start, std::chrono::seconds(1)) << "--no-wait waited";

  const ProcessResult waited = add({path("app_b")});
  EXPECT_GE(Clock::now() - first_start, std::chrono::seconds(2)) << "the waiting add did not wait for the lock";
  EXPECT_EQ(waited.exit_code, kExitOk) << waited.describe();
  EXPECT_TRUE(contains(waited.output, "waiting for another jailbuild working on " + root_)) << waited.output;
  const ProcessResult first_result = first.get();
  EXPECT_EQ(first_result.exit_code, kExitOk) << first_result.describe();

  // Neither run lost the other's work: both programs are recorded and in place.
  const nlohmann::json manifest = json_in(jailbuild({"list", root_, "--state-dir", state_, "--json"}).output);
  ASSERT_TRUE(manifest.is_object());
  EXPECT_EQ(manifest["intent"]["requirements"],
            (nlohmann::json{{{"kind", "path"}, {"path", path("app_a")}}, {{"kind", "path"}, {"path", path("app_b")}}}));
  expect_loads_in_root(path("app_a"));
  expect_loads_in_root(path("app_b"));
}

TEST_F(AddCommand, ConcurrentAddsOfDifferentProgramsKeepBoth) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    fs::remove_all(root_);
    fs::remove_all(state_);
    auto a = std::async(std::launch::async, [&] { return add({path("app_a")}); });
    auto b = std::async(std::launch::async, [&] { return add({path("app_b")}); });
    EXPECT_EQ(a.get().exit_code, kExitOk);
    EXPECT_EQ(b.get().exit_code, kExitOk);
    const nlohmann::json manifest = json_in(jailbuild({"list", root_, "--state-dir", state_, "--json"}).output);
    ASSERT_TRUE(manifest.is_object());
    EXPECT_EQ(manifest["intent"]["requirements"].size(), 2u) << manifest["intent"].dump();
    EXPECT_TRUE(fs::exists(root_ + path("app_a")) && fs::exists(root_ + path("app_b")));
  }
}

}  // namespace
}  // namespace jailbuild
