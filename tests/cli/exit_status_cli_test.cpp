// The exit statuses scripts rely on, command by command, from the jailbuild binary: a usage error
// (an unknown root, a path never added, an option or value that makes no sense) exits 2, a failure
// met while carrying out a sound request exits 1 (docs/commands/*.md, "Exit status"). `run` has
// statuses of its own, since 1 and 2 are its program's: its usage errors exit 125.
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "jailbuild/manifest.hpp"
#include "jailbuild/run.hpp"
#include "support/root_test.hpp"

namespace jailbuild::testing {
namespace {

class ExitStatus : public RootTest {
 protected:
  ExitStatus() : RootTest("jailbuild-exit-status") {}

  // A plain file added to the root, and the root's manifest: a root jailbuild knows.
  void add_data_file() {
    write_file(dir_ / "data", "data\n");
    const ProcessResult added = run_jailbuild(add_args({data()}, root_, state_));
    ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  }
  std::string data() const { return path("data"); }

  // `program` needs a library that is gone: what the resolver cannot find is a failure, not a usage error.
  std::string program_missing_a_library() {
    write_file(dir_ / "gone.c", "int gone(void) { return 2; }\n");
    write_file(dir_ / "main.c", "int gone(void);\nint main(void) { return gone(); }\n");
    gcc("-shared -fPIC -Wl,-soname,libgone.so.1 -o libgone.so.1 gone.c");
    gcc("-o app main.c -L. -l:libgone.so.1 -Wl,-rpath," + dir_.string());
    fs::remove(dir_ / "libgone.so.1");
    return path("app");
  }

  // Runs jailbuild ARGS and expects `status`, with a message on stderr naming `named` (if given).
  void expect_status(const std::vector<std::string>& args, int status, const std::string& named = "") {
    const ProcessResult result = run_jailbuild(args);
    std::string shown;
    for (const std::string& arg : args) shown += " " + arg;
    EXPECT_EQ(result.exit_code, status) << "jailbuild" << shown << "\n" << result.describe();
    if (!named.empty()) {
      EXPECT_TRUE(contains(result.output, named)) << "jailbuild" << shown << "\n" << result.output;
    }
  }
};

TEST_F(ExitStatus, NoCommandOrAnUnknownOneIsAUsageError) {
  expect_status({}, kExitUsage);
  expect_status({"frobnicate"}, kExitUsage);
  expect_status({"--verbose=many", "list", root_}, kExitUsage);
}

TEST_F(ExitStatus, DepsUsageErrorsExit2AndAMissingLibrary1) {
  expect_status({"deps"}, kExitUsage);                                               // no FILE
  expect_status({"deps", "--frobnicate", "/bin/true"}, kExitUsage);                  // unknown option
  expect_status({"deps", "--root", path("no-such-root"), "/bin/true"}, kExitUsage);  // unknown root
  expect_status({"deps", "--tree", "--json", "/bin/true"}, kExitUsage);              // exclusive forms
  expect_status({"deps", path("no-such-file")}, kExitUsage, path("no-such-file"));   // nothing to resolve
  // The control: a sound request exits 0, one that meets a missing library 1.
  expect_status({"deps", "/bin/true"}, kExitOk);
  expect_status({"deps", program_missing_a_library()}, kExitIncomplete, "libgone.so.1");
}

TEST_F(ExitStatus, AddUsageErrorsExit2AndAMissingLibrary1) {
  expect_status({"add", "/bin/true"}, kExitUsage);                                      // no --root
  expect_status({"add", "/bin/true", "--root"}, kExitUsage);                            // --root without a value
  expect_status(add_args({"/bin/true"}, root_, state_, {"--frobnicate"}), kExitUsage);  // unknown option
  fs::create_directories(path("real"));
  fs::create_symlink(path("real"), path("link"));
  expect_status(add_args({"/bin/true"}, path("link"), state_), kExitUsage, "give its real path");
  write_file(dir_ / "file", "not a directory\n");
  expect_status(add_args({"/bin/true"}, path("file/root"), state_), kExitUsage, "not a directory");
  EXPECT_FALSE(fs::exists(root_)) << "a usage error changed nothing, and created no root";
  // The control: the same add with a sound root succeeds; a missing library exits 1.
  expect_status(add_args({"/bin/true"}, root_, state_), kExitOk);
  expect_status(add_args({program_missing_a_library()}, root_, state_), kExitIncomplete, "libgone.so.1");
}

TEST_F(ExitStatus, AddTraceUsageErrorsExit2AndChangeNothing) {
  std::vector<std::string> no_command = add_args({}, root_, state_, {"--trace"});
  expect_status(no_command, kExitUsage, "give the command to trace after --");
  std::vector<std::string> empty_command = no_command;
  empty_command.push_back("--");
  expect_status(empty_command, kExitUsage, "give the command to trace after --");
  std::vector<std::string> untraced = add_args({"/bin/true"}, root_, state_);
  untraced.insert(untraced.end(), {"--", "/bin/true"});
  expect_status(untraced, kExitUsage, "run only with --trace");
  std::vector<std::string> relative = add_args({}, root_, state_, {"--trace", "--trace-exclude", "data"});
  relative.insert(relative.end(), {"--", "/bin/true"});
  expect_status(relative, kExitUsage, "--trace-exclude data: must be absolute");
  expect_status(add_args({}, root_, state_), kExitUsage, "give a PATH to add, or --trace");
  // A rule name add would refuse is refused before the workload runs (it would print its word).
  std::vector<std::string> bad_rule = add_args({}, root_, state_, {"--without", "nosuchrule", "--trace"});
  bad_rule.insert(bad_rule.end(), {"--", "/bin/echo", "the workload ran"});
  expect_status(bad_rule, kExitUsage, "no rule named 'nosuchrule'");
  EXPECT_FALSE(contains(run_jailbuild(bad_rule).output, "the workload ran"));
  EXPECT_FALSE(fs::exists(root_)) << "a usage error changed nothing, and created no root";
  // The control: the same trace with a command adds what it ran.
  std::vector<std::string> traced = add_args({}, root_, state_, {"--trace"});
  traced.insert(traced.end(), {"--", "/bin/true"});
  if (::geteuid() == 0) {
    // A command the host does not have never ran: a failure, and still no root.
    std::vector<std::string> missing = add_args({}, root_, state_, {"--trace"});
    missing.insert(missing.end(), {"--", path("no-such-command")});
    expect_status(missing, kExitIncomplete, "could not be run on the host");
    EXPECT_FALSE(fs::exists(root_));
    expect_status(traced, kExitOk);
    EXPECT_TRUE(fs::exists(root_ + "/bin/true") || fs::exists(root_ + "/usr/bin/true"));
  }
}

TEST_F(ExitStatus, ApplyAndExportUsageErrorsExit2) {
  expect_status({"apply", path("no-such-spec.toml")}, kExitUsage, "no-such-spec.toml: no such spec file");
  expect_status({"export", root_, "--state-dir", state_}, kExitUsage, "exactly one of --oci DIR");
  expect_status({"export", root_, "--state-dir", state_, "--oci", path("a"), "--bundle", path("b")}, kExitUsage,
                "exactly one of --oci DIR");
  expect_status({"export", root_, "--state-dir", state_, "--oci", path("a")}, kExitUsage,
                "jailbuild has no manifest for this root");
  EXPECT_FALSE(fs::exists(path("a")));
  // Help comes from jailbuild itself, as for every command (and lists the options it passes on).
  const ProcessResult help = run_jailbuild({"export", "--help"});
  EXPECT_EQ(help.exit_code, kExitOk) << help.describe();
  EXPECT_TRUE(contains(help.output, "--oci-archive")) << help.output;
  // The control: a root jailbuild knows exports.
  ASSERT_EQ(run_jailbuild(add_args({"/bin/true"}, root_, state_)).exit_code, kExitOk);
  expect_status({"export", root_, "--state-dir", state_, "--oci", path("a")}, kExitOk, "");
  EXPECT_TRUE(fs::exists(path("a") + "/index.json"));
}

TEST_F(ExitStatus, SyncUsageErrorsExit2AndAVanishedPath1) {
  expect_status({"sync", "--state-dir", state_}, kExitUsage);                  // neither ROOT nor --all
  expect_status({"sync", root_, "--all", "--state-dir", state_}, kExitUsage);  // both
  fs::create_directories(root_);
  expect_status({"sync", root_, "--state-dir", state_}, kExitUsage, "no manifest for this root");
  ASSERT_NO_FATAL_FAILURE(add_data_file());
  expect_status({"sync", root_, "--state-dir", state_, "--frobnicate"}, kExitUsage);
  // The control: the known root syncs; once its added file is gone from the host, it exits 1.
  expect_status({"sync", root_, "--state-dir", state_}, kExitOk);
  fs::remove(data());
  expect_status({"sync", root_, "--state-dir", state_}, kExitIncomplete, "gone from the host");
  expect_status({"sync", "--all", "--state-dir", state_}, kExitIncomplete, "gone from the host");
}

TEST_F(ExitStatus, RemoveUsageErrorsExit2AndAnEntryItMustKeep1) {
  fs::create_directories(root_);
  expect_status({"remove", data(), "--root", root_, "--state-dir", state_}, kExitUsage, "no manifest for this root");
  ASSERT_NO_FATAL_FAILURE(add_data_file());
  expect_status({"remove", path("never-added"), "--root", root_, "--state-dir", state_}, kExitUsage,
                path("never-added") + ": was not added");
  expect_status({"remove", data(), "--state-dir", state_}, kExitUsage);  // no --root
  expect_status({"remove", data(), "--root", root_, "--state-dir", state_, "--frobnicate"}, kExitUsage);
  // A failure: the copy in the root changed since it was placed, so remove keeps it (and says so).
  write_file(root_ + data(), "changed in the root\n");
  expect_status({"remove", data(), "--root", root_, "--state-dir", state_}, kExitIncomplete,
                "kept " + data() + ": changed since jailbuild placed it");
}

TEST_F(ExitStatus, ListUsageErrorsExit2AndAnUnreadableManifest1) {
  fs::create_directories(root_);
  expect_status({"list", root_, "--state-dir", state_}, kExitUsage, "no manifest for this root");
  expect_status({"list", "--state-dir", state_}, kExitUsage);  // no ROOT
  ASSERT_NO_FATAL_FAILURE(add_data_file());
  expect_status({"list", root_, "--state-dir", state_, "--frobnicate"}, kExitUsage);
  expect_status({"list", root_, "--state-dir", state_}, kExitOk);  // the control
  // A failure: the manifest is there but not JSON (a disk error, a hand edit gone wrong).
  const std::string manifest = manifest_path(state_, root_);
  ASSERT_TRUE(fs::exists(manifest)) << manifest;
  write_file(manifest, "{not json");
  expect_status({"list", root_, "--state-dir", state_}, kExitIncomplete, "not valid JSON");
  expect_status({"sync", root_, "--state-dir", state_}, kExitIncomplete, "not valid JSON");
}

// `run` keeps 1 and 2 for its program: its own usage errors exit 125 (kRunFailed).
TEST_F(ExitStatus, RunUsageErrorsExit125NotTheProgramsStatuses) {
  expect_status({"run"}, kRunFailed);
  expect_status({"run", "--frobnicate", root_, "/bin/true"}, kRunFailed);
  expect_status({"run", "--seccomp", "maybe", root_, "/bin/true"}, kRunFailed, "--seccomp");
  expect_status({"run", "--rlimit", "nofile=lots", root_, "/bin/true"}, kRunFailed, "nofile");
  expect_status({"run", path("no-such-root"), "/bin/true"}, kRunFailed, path("no-such-root"));
}

}  // namespace
}  // namespace jailbuild::testing
