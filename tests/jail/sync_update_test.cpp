// `jailbuild sync` after real package updates: the fixture programs and libraries are built with
// gcc at test time and installed into a fake package directory on the host (PKG/usr/bin,
// PKG/usr/lib, found through the programs' rpath) the way a package manager does it. Each test
// adds programs to a root, updates the host (a library replaced by rename or rewritten in place,
// a soname bump, a dependency added or dropped, a symlink re-pointed, a program uninstalled),
// syncs, and then checks the result three ways: sync's report, the root against a fresh `add` of
// the same paths into an empty root (files, symlinks, contents, and the generated ld.so.cache),
// and the real loader inside the root (it finds every library, and the program runs and prints
// what the new version prints).
//
// Version 1, installed by SetUp:
//   usr/lib/libfoo.so.1                               foo() = 1
//   usr/lib/libbar.so.1                               bar() = 1
//   usr/lib/libzz.so.1.2.13, libzz.so.1 -> it         zz() = 1213 (soname libzz.so.1)
//   usr/bin/app    needs libfoo, libbar, libzz        prints "app foo 1 bar 1 zz 1213"
//   usr/bin/other  needs libfoo                       prints "other foo 1"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <source_location>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/command_test_support.hpp"
#include "support/loader_oracle.hpp"
#include "support/non_utf8_names.hpp"
#include "support/root_test.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild {
namespace {

using namespace testing;  // the shared command-test helpers: run_jailbuild, snapshot, ...

// The paths a sync report lists under `key` ("created", "updated", ...), as a set. The fixture
// libraries are found through rpath, not through a loader cache, so no update here changes the
// root's /etc/ld.so.cache: reports list exactly the fixture files the update touched (and the
// cache's contents are compared with a fresh add's by expect_current).
std::set<std::string> listed(const nlohmann::json& report, const char* key) {
  std::set<std::string> paths;
  if (report.is_object() && report.contains(key))
    for (const auto& path : report.at(key)) paths.insert(path.get<std::string>());
  return paths;
}

// The report lists exactly CREATED, UPDATED and REMOVED; a failure names the line that called.
void expect_changes(const nlohmann::json& report, const std::set<std::string>& created,
                    const std::set<std::string>& updated, const std::set<std::string>& removed,
                    const std::source_location caller = std::source_location::current()) {
  const ::testing::ScopedTrace trace(caller.file_name(), static_cast<int>(caller.line()), "expect_changes called here");
  EXPECT_EQ(listed(report, "created"), created) << report.dump(2);
  EXPECT_EQ(listed(report, "updated"), updated) << report.dump(2);
  EXPECT_EQ(listed(report, "removed"), removed) << report.dump(2);
}

class SyncUpdate : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: every test runs the program inside the root (chroot)";
    root_ = path("root");
    state_ = path("state");
    fs::create_directories(dir_ / "build");
    fs::create_directories(dir_ / "usr/bin");
    fs::create_directories(dir_ / "usr/lib");

    ASSERT_NO_FATAL_FAILURE(build_lib("libfoo.so.1", "libfoo.so.1", returning("foo", 1)));
    ASSERT_NO_FATAL_FAILURE(build_lib("libbar.so.1", "libbar.so.1", returning("bar", 1)));
    ASSERT_NO_FATAL_FAILURE(build_lib("libzz.so.1.2.13", "libzz.so.1", returning("zz", 1213)));
    ASSERT_NO_FATAL_FAILURE(
        build_program("app", {"foo", "bar", "zz"}, {"libfoo.so.1", "libbar.so.1", "libzz.so.1.2.13"}));
    ASSERT_NO_FATAL_FAILURE(build_program("other", {"foo"}, {"libfoo.so.1"}));
    install("libfoo.so.1", "lib/libfoo.so.1");
    install("libbar.so.1", "lib/libbar.so.1");
    install("libzz.so.1.2.13", "lib/libzz.so.1.2.13");
    install_symlink("libzz.so.1.2.13", "lib/libzz.so.1");
    install("app", "bin/app");
    install("other", "bin/other");
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Where the fake package installs NAME ("bin/app", "lib/libfoo.so.1").
  std::string installed(const std::string& name) const { return path("usr/" + name); }
  std::string app() const { return installed("bin/app"); }
  std::string other() const { return installed("bin/other"); }

  void gcc(const std::string& args) const {
    const std::string command = "cd " + path("build") + " && gcc " + args;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  static std::string returning(const std::string& function, int value) {
    return "int " + function + "(void) { return " + std::to_string(value) + "; }\n";
  }

  // build/FILE: a shared library with soname SONAME made of SOURCE. FILE may name a
  // subdirectory, for a second build of the same file name.
  void build_lib(const std::string& file, const std::string& soname, const std::string& source) const {
    const fs::path output = dir_ / "build" / file;
    fs::create_directories(output.parent_path());
    write_file(output.string() + ".c", source);
    gcc("-shared -fPIC -Wl,-soname," + soname + " -o " + file + " " + file + ".c");
  }

  // build/NAME: a program printing "NAME F1 N1 F2 N2 ..." for the results of FUNCTIONS, linked
  // against the files LIBS in build/ (their sonames become its DT_NEEDED entries), and finding
  // them at run time in PKG/usr/lib.
  void build_program(const std::string& name, const std::vector<std::string>& functions,
                     const std::vector<std::string>& libs) const {
    std::string source = "#include <stdio.h>\n";
    std::string format = name;
    std::string arguments;
    for (const std::string& function : functions) {
      source += "int " + function + "(void);\n";
      format += " " + function + " %d";
      arguments += ", " + function + "()";
    }
    source += "int main(void) { printf(\"" + format + "\\n\"" + arguments + "); return 0; }\n";
    write_file(dir_ / "build" / (name + ".c"), source);
    std::string link = "-o " + name + " " + name + ".c -Wl,--no-as-needed -L.";
    for (const std::string& lib : libs) link += " -l:" + lib;
    gcc(link + " -Wl,-rpath," + path("usr/lib"));
  }

  // Installs build/FILE as PKG/usr/NAME the way a package manager does: written under a temporary
  // name and renamed over the old file, so the installed file is a new inode.
  void install(const std::string& file, const std::string& name) const {
    const std::string to = installed(name);
    const std::string temporary = to + ".dpkg-new";
    fs::copy_file(dir_ / "build" / file, temporary, fs::copy_options::overwrite_existing);
    fs::permissions(temporary, fs::status(dir_ / "build" / file).permissions());
    fs::rename(temporary, to);
  }

  // A soname bump: libfoo2 installed beside libfoo1 (whose package stays, as with Debian's libfoo1
  // and libfoo2) and app relinked against it, so that the root no longer needs libfoo.so.1.
  void install_soname_bump() const {
    ASSERT_NO_FATAL_FAILURE(build_lib("libfoo.so.2", "libfoo.so.2", returning("foo", 2)));
    ASSERT_NO_FATAL_FAILURE(
        build_program("app", {"foo", "bar", "zz"}, {"libfoo.so.2", "libbar.so.1", "libzz.so.1.2.13"}));
    install("libfoo.so.2", "lib/libfoo.so.2");
    install("app", "bin/app");
  }

  // PKG/usr/NAME -> TARGET, made under a temporary name and renamed over the old symlink.
  void install_symlink(const std::string& target, const std::string& name) const {
    const std::string to = installed(name);
    const std::string temporary = to + ".dpkg-new";
    fs::create_symlink(target, temporary);
    fs::rename(temporary, to);
  }

  // Rewrites PKG/usr/NAME with the bytes of build/FILE through the same inode (O_TRUNC), as
  // `cp` or an installer that does not rename would.
  void rewrite_in_place(const std::string& file, const std::string& name) const {
    const std::string bytes = read_file(dir_ / "build" / file);
    const int fd = ::open(installed(name).c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0) << installed(name);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ASSERT_EQ(::close(fd), 0);
  }

  ProcessResult add(const std::vector<std::string>& paths, const std::string& root, const std::string& state) const {
    return run_jailbuild(add_args(paths, root, state));
  }
  // Adds PATHS to the test's root (or ROOT), which must succeed.
  void add_to_root(const std::vector<std::string>& paths, const std::string& root = "") const {
    const ProcessResult added = add(paths, root.empty() ? root_ : root, state_);
    ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  }

  ProcessResult sync(const std::vector<std::string>& options = {}, const std::string& root = "") const {
    std::vector<std::string> args{"sync", root.empty() ? root_ : root, "--state-dir", state_};
    args.insert(args.end(), options.begin(), options.end());
    return run_jailbuild(args);
  }
  // `sync --json` (plus OPTIONS) on the test's root, which must print one report and exit with
  // EXIT_CODE; the report.
  nlohmann::json sync_json(const std::vector<std::string>& options = {}, int exit_code = kExitOk) const {
    std::vector<std::string> with_json = options;
    with_json.push_back("--json");
    const ProcessResult result = sync(with_json);
    EXPECT_EQ(result.exit_code, exit_code) << result.describe();
    const nlohmann::json report = json_in(result.output);
    EXPECT_TRUE(report.is_object()) << result.describe();
    return report.is_object() ? report : nlohmann::json::object();
  }

  // The manifest's added paths (its path requirements), from `jailbuild list --json`.
  std::vector<std::string> added_paths(const std::string& root = "") const {
    const ProcessResult listing = run_jailbuild({"list", root.empty() ? root_ : root, "--state-dir", state_, "--json"});
    EXPECT_EQ(listing.exit_code, kExitOk) << listing.describe();
    const nlohmann::json manifest = json_in(listing.output);
    if (!manifest.is_object() || !manifest.contains("intent")) {
      ADD_FAILURE() << "no manifest listed: " << listing.describe();
      return {};
    }
    std::vector<std::string> paths;
    for (const nlohmann::json& requirement : manifest["intent"]["requirements"]) {
      EXPECT_EQ(requirement["kind"], "path") << requirement.dump();
      paths.push_back(requirement["path"].get<std::string>());
    }
    return paths;
  }

  // A root a fresh add of PATHS into an empty directory builds today, with a state directory of
  // its own.
  std::string fresh_root(const std::vector<std::string>& paths) {
    const std::string name = "fresh-" + std::to_string(++fresh_roots_);
    const std::string root = path(name);
    const ProcessResult built = add(paths, root, path(name + "-state"));
    EXPECT_EQ(built.exit_code, kExitOk) << built.describe();
    return root;
  }

  // What must hold of ROOT after a sync, whose manifest adds exactly the programs in `expected`
  // (program -> what it prints): the root is what a fresh add of those programs builds, the real
  // loader inside it finds every library each needs, and each runs there printing its output.
  void expect_current(const std::map<std::string, std::string>& expected, const std::string& root = "") {
    const std::string checked = root.empty() ? root_ : root;
    std::vector<std::string> programs;
    for (const auto& [program, output] : expected) programs.push_back(program);
    std::vector<std::string> added = added_paths(checked);
    std::sort(added.begin(), added.end());
    EXPECT_EQ(added, programs) << "the manifest adds other paths";
    EXPECT_EQ(snapshot(checked), snapshot(fresh_root(programs))) << checked << " differs from a fresh add";
    for (const auto& [program, output] : expected) expect_runs_in_root(program, output, checked);
  }

  // The loader inside ROOT lists PROGRAM with nothing missing, and PROGRAM runs there printing
  // OUTPUT (plus a newline).
  static void expect_runs_in_root(const std::string& program, const std::string& output, const std::string& root) {
    ProcessOptions in_root;
    in_root.root = root;
    const LoaderTrace trace = trace_explicit(kLoader, program, {}, "/", in_root);
    EXPECT_TRUE(trace.ran() && trace.not_found.empty() && !trace.fatal_error && trace.version_problems.empty())
        << program << " in " << root << ": " << trace.describe();
    const ProcessResult run = run_process({program}, {}, in_root);
    EXPECT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.output, output + "\n") << program << " in " << root;
  }

  // The root as add left it, checked once: the starting point of every update.
  void add_and_check(const std::vector<std::string>& programs, const std::map<std::string, std::string>& expected) {
    ASSERT_NO_FATAL_FAILURE(add_to_root(programs));
    expect_runs_in_root(programs.front(), expected.at(programs.front()), root_);
  }

  const TempDir temp_{"jailbuild-sync"};
  const fs::path dir_ = temp_.path();
  std::string root_;
  std::string state_;
  int fresh_roots_ = 0;
};

const char kAppV1[] = "app foo 1 bar 1 zz 1213";
const char kOtherV1[] = "other foo 1";

// ---- updates ------------------------------------------------------------------------------------

TEST_F(SyncUpdate, ALibraryReplacedByRenameIsCopiedAgain) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  const std::string library = installed("lib/libfoo.so.1");
  const ino_t old_inode = lstat_of(library).st_ino;
  ASSERT_NO_FATAL_FAILURE(build_lib("v2/libfoo.so.1", "libfoo.so.1", returning("foo", 2)));
  install("v2/libfoo.so.1", "lib/libfoo.so.1");
  ASSERT_NE(lstat_of(library).st_ino, old_inode) << "the update did not make a new inode";

  const nlohmann::json report = sync_json();
  expect_changes(report, {}, {library}, {});
  EXPECT_GE(report.value("bytes_copied", 0u), fs::file_size(library)) << report.dump(2);
  EXPECT_TRUE(same_contents(root_ + library, library));
  expect_current({{app(), "app foo 2 bar 1 zz 1213"}});
}

TEST_F(SyncUpdate, ALibraryRewrittenInPlaceIsCopiedAgain) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  const std::string library = installed("lib/libfoo.so.1");
  const ino_t old_inode = lstat_of(library).st_ino;
  ASSERT_NO_FATAL_FAILURE(build_lib("v2/libfoo.so.1", "libfoo.so.1", returning("foo", 2)));
  ASSERT_NO_FATAL_FAILURE(rewrite_in_place("v2/libfoo.so.1", "lib/libfoo.so.1"));
  ASSERT_EQ(lstat_of(library).st_ino, old_inode) << "the rewrite made a new inode: not what this test is about";
  ASSERT_FALSE(same_contents(root_ + library, library)) << "the rewrite changed nothing";

  const nlohmann::json report = sync_json();
  expect_changes(report, {}, {library}, {});
  EXPECT_TRUE(same_contents(root_ + library, library));
  expect_current({{app(), "app foo 2 bar 1 zz 1213"}});
}

TEST_F(SyncUpdate, ALibraryRewrittenInPlaceWithItsSizeAndMtimeKeptIsCopiedAgain) {
  // As `cp -p` or tar over an existing file can leave it: same inode, same size, the old
  // modification time; only the change time (and the contents) tell.
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  const std::string library = installed("lib/libfoo.so.1");
  const struct stat before = lstat_of(library);
  ASSERT_NO_FATAL_FAILURE(build_lib("v2/libfoo.so.1", "libfoo.so.1", returning("foo", 2)));
  ASSERT_EQ(fs::file_size(path("build/v2/libfoo.so.1")), static_cast<std::uintmax_t>(before.st_size))
      << "the rebuilt library has another size: this test needs the same";
  ASSERT_NO_FATAL_FAILURE(rewrite_in_place("v2/libfoo.so.1", "lib/libfoo.so.1"));
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, library.c_str(), times, 0), 0);
  const struct stat after = lstat_of(library);
  ASSERT_EQ(after.st_ino, before.st_ino);
  ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  ASSERT_FALSE(same_contents(root_ + library, library)) << "the rewrite changed nothing";

  const nlohmann::json report = sync_json();
  EXPECT_EQ(listed(report, "updated"), std::set<std::string>{library}) << report.dump(2);
  EXPECT_TRUE(same_contents(root_ + library, library));
  expect_current({{app(), "app foo 2 bar 1 zz 1213"}});
}

TEST_F(SyncUpdate, ASonameBumpAddsTheNewLibraryAndRemovesTheOld) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  ASSERT_NO_FATAL_FAILURE(install_soname_bump());

  const nlohmann::json report = sync_json();
  expect_changes(report, {installed("lib/libfoo.so.2")}, {app()}, {installed("lib/libfoo.so.1")});
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ + installed("lib/libfoo.so.1"))));
  EXPECT_TRUE(fs::exists(installed("lib/libfoo.so.1"))) << "the host's old library must stay: only the root changes";
  expect_current({{app(), "app foo 2 bar 1 zz 1213"}});
}

TEST_F(SyncUpdate, ANewDependencyIsAdded) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  ASSERT_NO_FATAL_FAILURE(build_lib("libextra.so.1", "libextra.so.1", returning("extra", 7)));
  ASSERT_NO_FATAL_FAILURE(build_program("app", {"foo", "bar", "zz", "extra"},
                                        {"libfoo.so.1", "libbar.so.1", "libzz.so.1.2.13", "libextra.so.1"}));
  install("libextra.so.1", "lib/libextra.so.1");
  install("app", "bin/app");

  const nlohmann::json report = sync_json();
  expect_changes(report, {installed("lib/libextra.so.1")}, {app()}, {});
  expect_current({{app(), "app foo 1 bar 1 zz 1213 extra 7"}});
}

TEST_F(SyncUpdate, ADroppedDependencyIsRemoved) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  // app no longer needs libbar; libbar stays installed on the host.
  ASSERT_NO_FATAL_FAILURE(build_program("app", {"foo", "zz"}, {"libfoo.so.1", "libzz.so.1.2.13"}));
  install("app", "bin/app");

  const nlohmann::json report = sync_json();
  expect_changes(report, {}, {app()}, {installed("lib/libbar.so.1")});
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ + installed("lib/libbar.so.1"))));
  EXPECT_TRUE(fs::exists(installed("lib/libbar.so.1")));
  expect_current({{app(), "app foo 1 zz 1213"}});
}

TEST_F(SyncUpdate, ARepointedSonameSymlinkIsRepointed) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  const std::string link = installed("lib/libzz.so.1");
  ASSERT_EQ(fs::read_symlink(root_ + link), "libzz.so.1.2.13");
  // The upgrade as a package manager does it: the new version-named file unpacked, the soname
  // symlink re-pointed at it (renamed over the old one), the old file deleted. app is untouched.
  ASSERT_NO_FATAL_FAILURE(build_lib("libzz.so.1.3", "libzz.so.1", returning("zz", 13)));
  install("libzz.so.1.3", "lib/libzz.so.1.3");
  install_symlink("libzz.so.1.3", "lib/libzz.so.1");
  fs::remove(installed("lib/libzz.so.1.2.13"));

  const nlohmann::json report = sync_json();
  expect_changes(report, {installed("lib/libzz.so.1.3")}, {link}, {installed("lib/libzz.so.1.2.13")});
  EXPECT_TRUE(S_ISLNK(mode_of(root_ + link)));
  EXPECT_EQ(fs::read_symlink(root_ + link), "libzz.so.1.3");
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ + installed("lib/libzz.so.1.2.13"))));
  expect_current({{app(), "app foo 1 bar 1 zz 13"}});
}

TEST_F(SyncUpdate, AnUninstalledProgramIsReportedAndKeptUntilPrune) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app(), other()}, {{app(), kAppV1}, {other(), kOtherV1}}));
  fs::remove(app());
  const Tree before = snapshot(root_);

  // Without --prune: reported, exit 1, nothing removed (app's own files included).
  const ProcessResult plain = sync();
  EXPECT_EQ(plain.exit_code, kExitIncomplete) << plain.describe();
  EXPECT_TRUE(contains(plain.output, app())) << "the message names not the program: " << plain.output;
  const nlohmann::json report = sync_json({}, kExitIncomplete);
  EXPECT_EQ(report["vanished"], nlohmann::json::array({app()})) << report.dump(2);
  EXPECT_EQ(listed(report, "removed"), std::set<std::string>{}) << report.dump(2);
  EXPECT_EQ(listed(report, "pruned"), std::set<std::string>{}) << report.dump(2);
  EXPECT_EQ(snapshot(root_), before) << "files of the vanished program were touched without --prune";
  std::vector<std::string> still_added = added_paths();
  std::sort(still_added.begin(), still_added.end());
  EXPECT_EQ(still_added, (std::vector<std::string>{app(), other()}));
  expect_runs_in_root(app(), kAppV1, root_);  // the jailed copy still works until pruned

  // With --prune: forgotten, and everything only app needed removed (libfoo stays for other).
  const nlohmann::json pruned = sync_json({"--prune"});
  EXPECT_EQ(pruned["pruned"], nlohmann::json::array({app()})) << pruned.dump(2);
  EXPECT_EQ(listed(pruned, "vanished"), std::set<std::string>{}) << pruned.dump(2);
  EXPECT_EQ(listed(pruned, "removed"),
            (std::set<std::string>{app(), installed("lib/libbar.so.1"), installed("lib/libzz.so.1"),
                                   installed("lib/libzz.so.1.2.13")}))
      << pruned.dump(2);
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ + app())));
  EXPECT_TRUE(fs::exists(root_ + installed("lib/libfoo.so.1")));
  expect_current({{other(), kOtherV1}});

  // Settled: the next sync has nothing to report.
  const nlohmann::json settled = sync_json();
  EXPECT_EQ(listed(settled, "vanished"), std::set<std::string>{}) << settled.dump(2);
  EXPECT_EQ(listed(settled, "removed"), std::set<std::string>{}) << settled.dump(2);
}

TEST_F(SyncUpdate, SeveralUpdatesInARowEachConverge) {
  // One root through a package's life: each sync starts from the manifest the previous one wrote.
  ASSERT_NO_FATAL_FAILURE(add_and_check({app(), other()}, {{app(), kAppV1}, {other(), kOtherV1}}));

  ASSERT_NO_FATAL_FAILURE(build_lib("v2/libfoo.so.1", "libfoo.so.1", returning("foo", 2)));
  install("v2/libfoo.so.1", "lib/libfoo.so.1");
  sync_json();
  expect_current({{app(), "app foo 2 bar 1 zz 1213"}, {other(), "other foo 2"}});

  ASSERT_NO_FATAL_FAILURE(build_lib("v3/libfoo.so.1", "libfoo.so.1", returning("foo", 3)));
  ASSERT_NO_FATAL_FAILURE(rewrite_in_place("v3/libfoo.so.1", "lib/libfoo.so.1"));
  sync_json();
  expect_current({{app(), "app foo 3 bar 1 zz 1213"}, {other(), "other foo 3"}});

  ASSERT_NO_FATAL_FAILURE(build_lib("libzz.so.1.3", "libzz.so.1", returning("zz", 13)));
  install("libzz.so.1.3", "lib/libzz.so.1.3");
  install_symlink("libzz.so.1.3", "lib/libzz.so.1");
  fs::remove(installed("lib/libzz.so.1.2.13"));
  ASSERT_NO_FATAL_FAILURE(build_lib("libextra.so.1", "libextra.so.1", returning("extra", 7)));
  ASSERT_NO_FATAL_FAILURE(
      build_program("app", {"foo", "zz", "extra"}, {"libfoo.so.1", "libzz.so.1.3", "libextra.so.1"}));
  install("libextra.so.1", "lib/libextra.so.1");
  install("app", "bin/app");
  const nlohmann::json report = sync_json();
  EXPECT_EQ(listed(report, "removed"),
            (std::set<std::string>{installed("lib/libbar.so.1"), installed("lib/libzz.so.1.2.13")}))
      << report.dump(2);
  expect_current({{app(), "app foo 3 zz 13 extra 7"}, {other(), "other foo 3"}});
}

// ---- runs with nothing to do, dry runs, --checksum ----------------------------------------------

TEST_F(SyncUpdate, ASyncRightAfterAddChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app(), other()}, {{app(), kAppV1}, {other(), kOtherV1}}));
  const Tree root_before = snapshot(root_, true);

  const nlohmann::json report = sync_json();
  expect_changes(report, {}, {}, {});
  EXPECT_EQ(report.value("bytes_copied", -1), 0) << report.dump(2);
  EXPECT_TRUE(report["conflicts"].empty() && report["problems"].empty() && report["vanished"].empty())
      << report.dump(2);
  EXPECT_EQ(report.value("dry_run", true), false);
  EXPECT_EQ(report.value("root", ""), root_);
  EXPECT_EQ(snapshot(root_, true), root_before) << "a sync with nothing to do wrote to the root";

  // The summary line says the same, and a second run still changes nothing.
  const ProcessResult again = sync();
  EXPECT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_TRUE(contains(again.output, root_ + ": 0 created, 0 updated, 0 removed")) << again.output;
  EXPECT_TRUE(contains(again.output, " unchanged, 0 bytes copied")) << again.output;
  EXPECT_EQ(snapshot(root_, true), root_before);
  // A second later nothing the fixtures installed is recent any more, so a run may record (and
  // the next one trust) its watch list instead of checking every file: that path changes nothing
  // either.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  for (int run = 0; run < 2; ++run) {
    const nlohmann::json quiet = sync_json();
    EXPECT_EQ(listed(quiet, "created").size() + listed(quiet, "updated").size() + listed(quiet, "removed").size(), 0u)
        << quiet.dump(2);
  }
  EXPECT_EQ(snapshot(root_, true), root_before);
  expect_current({{app(), kAppV1}, {other(), kOtherV1}});
}

TEST_F(SyncUpdate, ADryRunListsTheUpdateAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  // The soname bump: one file of each kind of change.
  ASSERT_NO_FATAL_FAILURE(install_soname_bump());
  const Tree root_before = snapshot(root_, true);
  const Tree state_before = snapshot(state_, true);

  const ProcessResult dry = sync({"--dry-run"});
  EXPECT_EQ(dry.exit_code, kExitOk) << dry.describe();
  EXPECT_TRUE(contains(dry.output, "create " + installed("lib/libfoo.so.2") + "\n")) << dry.output;
  EXPECT_TRUE(contains(dry.output, "update " + app() + "\n")) << dry.output;
  EXPECT_TRUE(contains(dry.output, "remove " + installed("lib/libfoo.so.1") + "\n")) << dry.output;
  EXPECT_FALSE(contains(dry.output, installed("lib/libbar.so.1"))) << "lists what does not change: " << dry.output;
  EXPECT_EQ(snapshot(root_, true), root_before) << "the dry run changed the root";
  EXPECT_EQ(snapshot(state_, true), state_before) << "the dry run changed the state directory";

  const nlohmann::json planned = sync_json({"--dry-run"});
  EXPECT_EQ(planned.value("dry_run", false), true) << planned.dump(2);
  expect_changes(planned, {installed("lib/libfoo.so.2")}, {app()}, {installed("lib/libfoo.so.1")});
  EXPECT_EQ(snapshot(root_, true), root_before);
  EXPECT_EQ(snapshot(state_, true), state_before);
  expect_runs_in_root(app(), kAppV1, root_);  // still the old version, whole

  // The real sync then does what the dry run listed, and says so on stderr.
  const ProcessResult real = sync();
  EXPECT_EQ(real.exit_code, kExitOk) << real.describe();
  EXPECT_TRUE(contains(real.output, root_ + ": 1 created, ")) << real.output;
  EXPECT_TRUE(contains(real.output, " 1 removed, ")) << real.output;
  expect_current({{app(), "app foo 2 bar 1 zz 1213"}});
}

class SyncUpdateEditedCopy : public SyncUpdate {
 protected:
  // Changes one byte in the middle of the root's copy of libfoo, then restores its size and
  // modification time (its change time cannot be restored): the copy looks unchanged by size and
  // mtime only. Returns the library's path inside the root.
  std::string edit_copy_behind_size_and_mtime() {
    const std::string copy = root_ + installed("lib/libfoo.so.1");
    const struct stat before = lstat_of(copy);
    std::string bytes = read_file(copy);
    bytes[bytes.size() / 2] = static_cast<char>(~bytes[bytes.size() / 2]);
    const int fd = ::open(copy.c_str(), O_WRONLY);
    EXPECT_GE(fd, 0) << copy;
    EXPECT_EQ(::pwrite(fd, bytes.data() + bytes.size() / 2, 1, static_cast<off_t>(bytes.size() / 2)), 1);
    ::close(fd);
    const timespec times[2] = {before.st_atim, before.st_mtim};
    EXPECT_EQ(::utimensat(AT_FDCWD, copy.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
    const struct stat after = lstat_of(copy);
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_size, before.st_size);
    EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    EXPECT_FALSE(same_contents(copy, installed("lib/libfoo.so.1"))) << "the edit changed nothing";
    return installed("lib/libfoo.so.1");
  }
};

TEST_F(SyncUpdateEditedCopy, ChecksumRestoresACopyEditedBehindItsSizeAndMtime) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  const std::string library = edit_copy_behind_size_and_mtime();
  const nlohmann::json report = sync_json({"--checksum"});
  EXPECT_EQ(listed(report, "updated"), std::set<std::string>{library}) << report.dump(2);
  EXPECT_TRUE(same_contents(root_ + library, library));
  expect_current({{app(), kAppV1}});
  // Once restored, a checksum run has nothing left to do.
  const nlohmann::json again = sync_json({"--checksum"});
  EXPECT_EQ(listed(again, "updated"), std::set<std::string>{}) << again.dump(2);
  EXPECT_EQ(again.value("bytes_copied", -1), 0) << again.dump(2);
}

TEST_F(SyncUpdateEditedCopy, APlainSyncAlsoRestoresItByItsChangeTime) {
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  const std::string library = edit_copy_behind_size_and_mtime();
  const nlohmann::json report = sync_json();
  EXPECT_EQ(listed(report, "updated"), std::set<std::string>{library}) << report.dump(2);
  EXPECT_TRUE(same_contents(root_ + library, library));
  expect_current({{app(), kAppV1}});
}

// ---- several roots, and roots without a manifest ------------------------------------------------

TEST_F(SyncUpdate, AllSyncsEveryRootInTheStateDirectory) {
  const std::string second = path("second-root");
  ASSERT_NO_FATAL_FAILURE(add_and_check({app()}, {{app(), kAppV1}}));
  ASSERT_NO_FATAL_FAILURE(add_to_root({other()}, second));
  ASSERT_NO_FATAL_FAILURE(build_lib("v2/libfoo.so.1", "libfoo.so.1", returning("foo", 2)));
  install("v2/libfoo.so.1", "lib/libfoo.so.1");

  const ProcessResult result = run_jailbuild({"sync", "--all", "--state-dir", state_, "--json"});
  EXPECT_EQ(result.exit_code, kExitOk) << result.describe();
  const nlohmann::json reports = json_in(result.output);
  ASSERT_TRUE(reports.is_array()) << result.output;
  std::set<std::string> roots;
  for (const auto& report : reports) {
    roots.insert(report.value("root", ""));
    EXPECT_EQ(listed(report, "updated"), std::set<std::string>{installed("lib/libfoo.so.1")}) << report.dump(2);
  }
  EXPECT_EQ(roots, (std::set<std::string>{root_, second})) << reports.dump(2);
  expect_current({{app(), "app foo 2 bar 1 zz 1213"}});
  expect_current({{other(), "other foo 2"}}, second);

  // Without --json: one summary line per root.
  const ProcessResult plain = run_jailbuild({"sync", "--all", "--state-dir", state_});
  EXPECT_EQ(plain.exit_code, kExitOk) << plain.describe();
  EXPECT_TRUE(contains(plain.output, root_ + ": 0 created, 0 updated, 0 removed")) << plain.output;
  EXPECT_TRUE(contains(plain.output, second + ": 0 created, 0 updated, 0 removed")) << plain.output;
}

TEST_F(SyncUpdate, ARootWithoutAManifestIsAUsageError) {
  // The state directory knows another root; this one was never added to.
  ASSERT_NO_FATAL_FAILURE(add_to_root({other()}));
  const std::string unknown = path("never-added");
  fs::create_directories(unknown);
  const ProcessResult result = sync({}, unknown);
  EXPECT_EQ(result.exit_code, kExitUsage) << result.describe();
  EXPECT_TRUE(contains(result.output, unknown)) << "the message names not the root: " << result.output;
  EXPECT_TRUE(fs::is_empty(unknown)) << "sync wrote into a root it knows nothing about";

  const ProcessResult missing = sync({"--json"}, path("does-not-exist"));
  EXPECT_EQ(missing.exit_code, kExitUsage) << missing.describe();
  EXPECT_TRUE(contains(missing.output, path("does-not-exist"))) << missing.output;
  EXPECT_FALSE(fs::exists(path("does-not-exist"))) << "sync created a root it knows nothing about";
}

// Names that are not UTF-8 (Linux paths are bytes): `sync --json` used to die on them with
// nlohmann's type_error 316 and exit 2 after the root and manifest had changed. Now a root, a path
// or an error message holding such bytes is {"hex": ...} and every UTF-8 one a string.
class SyncNonUtf8Names : public RootTest {
 protected:
  SyncNonUtf8Names() : RootTest("jailbuild-sync-names") { root_ = path("root-" + kLatin1Directory); }
};

TEST_F(SyncNonUtf8Names, JsonWritesThemAsHexAfterARealUpdate) {
  const std::string program = build_program_with_non_utf8_paths(dir_);
  const std::string latin1_library = path(kLatin1Directory + "/" + kLatin1Library);
  // The control: these names really are not UTF-8.
  ASSERT_TRUE(plain_dump_refuses(root_));
  ASSERT_TRUE(plain_dump_refuses(latin1_library));
  const ProcessResult added = run_jailbuild(add_args({program}, root_, state_));
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();

  // The host's library is updated (by rename, as a package manager does): latin() now returns 3.
  ASSERT_TRUE(rebuild_latin1_library(dir_, 3));

  const ProcessResult synced = run_jailbuild({"sync", root_, "--state-dir", state_, "--json"});
  ASSERT_EQ(synced.exit_code, kExitOk) << synced.describe();
  const nlohmann::json report = json_in(synced.output);
  ASSERT_TRUE(report.is_object()) << synced.output;
  EXPECT_TRUE(report["root"].is_object()) << report["root"];
  EXPECT_EQ(bytes_in(report["root"]), root_);
  ASSERT_EQ(report["updated"].size(), 1u) << report.dump(2);
  EXPECT_TRUE(report["updated"][0].is_object()) << report["updated"][0];
  EXPECT_EQ(bytes_in(report["updated"][0]), latin1_library);
  EXPECT_EQ(report["created"], nlohmann::json::array()) << report.dump(2);
  // The sync itself is whole: the program runs in the root with the new library.
  if (::geteuid() == 0) {
    ProcessOptions in_root;
    in_root.root = root_;
    const ProcessResult ran = run_process({program}, kPlainEnv, in_root);
    EXPECT_EQ(ran.output, "latin 3 caf\xc3\xa9 2\n") << ran.describe();
  }

  // A failure's message names the root, bytes and all, in the JSON too.
  const std::string unknown = path("unknown-" + kLatin1Directory);
  fs::create_directories(unknown);
  const ProcessResult failed = run_jailbuild({"sync", unknown, "--state-dir", state_, "--json"});
  EXPECT_EQ(failed.exit_code, kExitUsage) << failed.describe();
  const nlohmann::json error = json_in(failed.output);
  ASSERT_TRUE(error.is_object()) << failed.output;
  EXPECT_EQ(bytes_in(error["root"]), unknown);
  const std::optional<std::string> message = bytes_in(error["error"]);
  ASSERT_TRUE(message) << error;
  EXPECT_TRUE(contains(*message, unknown)) << *message;
}

}  // namespace
}  // namespace jailbuild
