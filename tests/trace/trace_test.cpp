// `add --trace` and `run --report-missing` end to end. Each workload is traced once on the host
// (`add --trace -- WORKLOAD`), then run in the root it built with `jailbuild run`, doing the same
// work, its OUTPUT checked; each beside its control, the same workload in a root built without the
// trace, which fails. Then what the trace must not do (write the host), what `run --report-missing`
// names, and what `sync` and `list` make of traced paths.
//
// The roots are under /var/tmp (JailSuite). The workloads' input lives elsewhere: a traced workload
// sees fresh, empty tmpfs on /tmp, /var/tmp and /run, so its input is in a directory of its own
// under /srv (made and removed by the suite), which the jails get with --ro-bind.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/rule_suite.hpp"

namespace jailbuild {
namespace {

using namespace testing;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class Trace : public RuleSuite {
 protected:
  static void SetUpTestSuite() {
    if (!make_suite_directory("trace")) return;
    std::string pattern = "/srv/jailbuild-trace-XXXXXX";
    std::filesystem::create_directories("/srv");
    if (::mkdtemp(pattern.data()) == nullptr) {
      setup_error_ = "mkdtemp under /srv failed";
      return;
    }
    input_ = pattern;
    std::filesystem::permissions(input_, std::filesystem::perms(0755));
  }

  static void TearDownTestSuite() {
    if (!input_.empty()) std::filesystem::remove_all(input_);
    RuleSuite::TearDownTestSuite();
  }

  void SetUp() override {
    if (::geteuid() != 0) { GTEST_SKIP() << "needs root: jailbuild run as root, the suite's input under /srv"; }
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  // `add PATHS --root ROOT OPTIONS --trace -- WORKLOAD` into a fresh root NAME; add's output.
  static ProcessResult traced_root(const std::string& name, const std::vector<std::string>& workload,
                                   const std::vector<std::string>& paths = {},
                                   const std::vector<std::string>& options = {}) {
    std::vector<std::string> args = add_args(paths, dir_ + "/" + name, state_, options);
    args.insert(args.end(), {"--trace", "--"});
    args.insert(args.end(), workload.begin(), workload.end());
    const ProcessResult added = run_jailbuild(args);
    EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
    return added;
  }

  // The check every workload gets: in the root `add --trace -- WORKLOAD` built (NAME), the same
  // workload exits 0 printing `expected`; in the control, a root of `untraced_paths` added without
  // the trace (NAME-untraced), it does not print it. The control's result, for more checks.
  static ProcessResult expect_only_the_traced_root_works(const std::string& name,
                                                         const std::vector<std::string>& workload,
                                                         const std::vector<std::string>& untraced_paths,
                                                         const std::string& expected) {
    traced_root(name, workload);
    const ProcessResult ran = run_in(dir_ + "/" + name, workload);
    EXPECT_EQ(ran.exit_code, 0) << ran.describe();
    EXPECT_EQ(ran.output, expected);
    const ProcessResult failed = run_in(root_with(name + "-untraced", untraced_paths), workload);
    EXPECT_NE(failed.output, expected) << failed.describe();
    return failed;
  }

  // A C program built from `source` into the input directory; "" (the test skips) without gcc.
  static std::string built(const std::string& name, const std::string& source, const std::string& flags = "") {
    const std::string c = input_ + "/" + name + ".c";
    const std::string program = input_ + "/" + name;
    write_text(c, source);
    const std::string command = "gcc -O1 -o " + program + " " + c + " " + flags + " >/dev/null 2>&1";
    return std::system(command.c_str()) == 0 ? program : "";
  }

  static inline std::string input_;
};

// ---- workloads: traced, then run in the jail; the control is the root without the trace ---------

// tar -J runs xz through /bin/sh: neither is named by tar's imports or closure.
TEST_F(Trace, TarXzCompressesAndExtractsInTheTracedRoot) {
  const std::string data = input_ + "/tar";
  std::filesystem::create_directories(data);
  write_text(data + "/file.txt", "compressed and back\n");
  const std::vector<std::string> work = {
      "/bin/sh", "-c",
      "tar -cJf /tmp/t.tar.xz -C " + data +
          " file.txt && mkdir /tmp/out && tar --no-same-owner -xJf /tmp/t.tar.xz -C /tmp/out && "
          "cat /tmp/out/file.txt"};
  const ProcessResult traced = traced_root("tar", work, {}, {"--trace-exclude", data});
  EXPECT_TRUE(contains(traced.output, "compressed and back")) << "the workload's output passes through";
  const ProcessResult ran = run_in(dir_ + "/tar", work, {"--ro-bind", data});
  EXPECT_EQ(ran.exit_code, 0) << ran.describe();
  EXPECT_EQ(ran.output, "compressed and back\n");
  EXPECT_FALSE(holds(dir_ + "/tar", data + "/file.txt")) << "--trace-exclude: the input stays out";
  EXPECT_TRUE(holds(dir_ + "/tar", "/usr/bin/xz"));

  const std::string untraced = root_with("tar-untraced", {"/bin/sh", "/usr/bin/tar", "/usr/bin/mkdir", "/usr/bin/cat"});
  const ProcessResult failed = run_in(untraced, work, {"--ro-bind", data});
  EXPECT_NE(failed.exit_code, 0) << failed.describe();
  EXPECT_FALSE(contains(failed.output, "compressed and back")) << failed.describe();
}

// git clone runs git-upload-pack through /bin/sh; git log then reads the clone.
TEST_F(Trace, GitClonesALocalRepositoryAndLogsIt) {
  const std::string repository = input_ + "/repository";
  const std::string make = "git init -q " + repository + " && cd " + repository +
                           " && echo x > f && git add f && git -c user.name=t -c user.email=t@t commit -qm "
                           "'traced commit' >/dev/null";
  ASSERT_EQ(std::system(make.c_str()), 0);
  const std::vector<std::string> work = {"/bin/sh", "-c",
                                         "git clone -q " + repository + " /tmp/c && git -C /tmp/c log --format=%s"};
  traced_root("git", work, {}, {"--trace-exclude", repository});
  const ProcessResult ran = run_in(dir_ + "/git", work, {"--ro-bind", repository, "--host-root"});
  EXPECT_EQ(ran.exit_code, 0) << ran.describe();
  EXPECT_TRUE(ran.output.ends_with("traced commit\n")) << ran.describe();
  EXPECT_TRUE(contains(list_of(dir_ + "/git"), "opened by `/bin/sh -c 'git clone -q ")) << list_of(dir_ + "/git");

  const std::string untraced = root_with("git-untraced", {"/bin/sh", "/usr/bin/git"});
  const ProcessResult failed = run_in(untraced, work, {"--ro-bind", repository, "--host-root"});
  EXPECT_NE(failed.exit_code, 0) << failed.describe();
  EXPECT_FALSE(contains(failed.output, "traced commit")) << failed.describe();

  // run --report-missing on the untraced root names what the clone lacked, and the add that
  // fixes it; the exit status is the program's.
  const std::vector<std::string> clone = {"/usr/bin/git", "clone", "-q", repository, "/tmp/c"};
  const ProcessResult plain = run_in(untraced, clone, {"--ro-bind", repository, "--host-root"});
  const ProcessResult reported = run_in(untraced, clone, {"--report-missing", "--ro-bind", repository, "--host-root"});
  EXPECT_EQ(reported.exit_code, plain.exit_code) << reported.describe();
  EXPECT_NE(reported.exit_code, 0);
  EXPECT_TRUE(contains(reported.output, "/usr/lib/git-core/git-upload-pack")) << reported.describe();
  EXPECT_TRUE(contains(reported.output, "to add the files: jailbuild add ")) << reported.describe();
  EXPECT_TRUE(contains(reported.output, "/usr/lib/git-core/git-upload-pack --root " + untraced) ||
              contains(reported.output, " --root " + untraced))
      << reported.describe();
  // As JSON, for scripts.
  const ProcessResult json =
      run_in(untraced, clone, {"--report-missing", "--report-json", "--ro-bind", repository, "--host-root"});
  const nlohmann::json report = json_in(json.output.substr(json.output.find("{\n")));
  bool named = false;
  for (const auto& missing : report.at("missing"))
    named = named || missing.at("path") == "/usr/lib/git-core/git-upload-pack";
  EXPECT_TRUE(named) << json.output;
  // The traced root lacks nothing the clone looks for.
  const ProcessResult complete =
      run_in(dir_ + "/git", clone, {"--report-missing", "--ro-bind", repository, "--host-root"});
  EXPECT_EQ(complete.exit_code, 0) << complete.describe();
  EXPECT_FALSE(contains(complete.output, "the jail looked for")) << complete.describe();
}

// Python: a program subprocess runs, and ctypes.util.find_library, which runs /sbin/ldconfig -p.
TEST_F(Trace, PythonRunsASubprocessAndFindsLibc) {
  const std::vector<std::string> work = {
      "/usr/bin/python3", "-c",
      "import subprocess, ctypes.util; subprocess.run(['ls', '-d', '/usr']); print(ctypes.util.find_library('c'))"};
  expect_only_the_traced_root_works("python", work, {"/usr/bin/python3"}, "/usr\nlibc.so.6\n");
}

// A static program: no loader, no closure, only its own opens, which the trace sees all the same.
TEST_F(Trace, AStaticProgramGetsTheDataFileItOpens) {
  const std::string data = input_ + "/static-data.txt";
  write_text(data, "static read\n");
  const std::string program = built("static-reader",
                                    "#include <stdio.h>\n"
                                    "int main(int argc, char** argv) {\n"
                                    "  FILE* f = fopen(argv[1], \"r\"); char line[64];\n"
                                    "  if (!f || !fgets(line, sizeof line, f)) return 3;\n"
                                    "  fputs(line, stdout); return 0;\n"
                                    "}\n",
                                    "-static");
  if (program.empty()) GTEST_SKIP() << "gcc -static does not build here (no static libc)";
  const ProcessResult failed = expect_only_the_traced_root_works("static", {program, data}, {program}, "static read\n");
  EXPECT_EQ(failed.exit_code, 3) << failed.describe();
}

// dlopen of a library named only on the command line: no rule or note can know it.
TEST_F(Trace, ALibraryDlopenedByARunTimeNameIsAdded) {
  const std::string plugin = input_ + "/libjbplugin.so";
  const std::string plugin_c = input_ + "/plugin.c";
  write_text(plugin_c, "#include <stdio.h>\nvoid plugged(void) { puts(\"plugged in\"); }\n");
  const std::string make = "gcc -shared -fPIC -o " + plugin + " " + plugin_c + " >/dev/null 2>&1";
  if (std::system(make.c_str()) != 0) GTEST_SKIP() << "no gcc";
  const std::string program = built("dlopener",
                                    "#include <dlfcn.h>\n#include <stdio.h>\n"
                                    "int main(int argc, char** argv) {\n"
                                    "  void* h = dlopen(argv[1], RTLD_NOW); if (!h) { puts(dlerror()); return 3; }\n"
                                    "  void (*f)(void) = (void (*)(void))dlsym(h, \"plugged\"); f(); return 0;\n"
                                    "}\n",
                                    "-ldl");
  ASSERT_FALSE(program.empty());
  const ProcessResult failed =
      expect_only_the_traced_root_works("dlopen", {program, plugin}, {program}, "plugged in\n");
  EXPECT_EQ(failed.exit_code, 3) << failed.describe();
}

// A child process (fork, then exec) opens the file: the trace follows it.
TEST_F(Trace, AChildProcessesOpensAreTracedToo) {
  const std::string data = input_ + "/child-data.txt";
  write_text(data, "read by the child\n");
  const std::vector<std::string> work = {"/bin/sh", "-c", "cat " + data + "; echo parent done"};
  expect_only_the_traced_root_works("child", work, {"/bin/sh"}, "read by the child\nparent done\n");
}

// ---- what a trace must not do, and what it says --------------------------------------------------

TEST_F(Trace, TheHostIsReadOnlyToTheWorkloadAndItsWritesAreReported) {
  const std::string name = "jailbuild-trace-probe-" + std::to_string(::getpid());
  const std::string home = std::getenv("HOME") != nullptr ? std::getenv("HOME") : "/root";
  const std::vector<std::string> targets = {"/etc/" + name, "/var/lib/" + name, "/root/" + name};
  const std::vector<std::string> work = {
      "/bin/sh", "-c", "echo x > /etc/" + name + "; mkdir /var/lib/" + name + "; echo x > $HOME/" + name + "; exit 0"};
  const ProcessResult traced = traced_root("readonly", work);
  for (const std::string& target : targets) {
    EXPECT_FALSE(std::filesystem::exists(target)) << target << " was written on the host";
    std::filesystem::remove_all(target);
  }
  EXPECT_TRUE(contains(traced.output, "could not write /etc/" + name + ": in a jail it needs /etc writable"))
      << traced.output;
  EXPECT_TRUE(contains(traced.output, "could not write /var/lib/" + name + ": in a jail it needs /var/lib writable"))
      << traced.output;
  EXPECT_TRUE(contains(traced.output, "could not write /root/" + name)) << traced.output;
  // The control: with --trace-writable the same workload writes the host.
  traced_root("writable", {"/bin/sh", "-c", "echo x > /etc/" + name}, {}, {"--trace-writable"});
  EXPECT_TRUE(std::filesystem::exists("/etc/" + name)) << "--trace-writable lets it write";
  std::filesystem::remove("/etc/" + name);
}

// --trace-user: the workload runs as that user (its output passes through), and what that user
// cannot read is not added. The control: as root, the same file is read and added.
TEST_F(Trace, TraceUserRunsTheWorkloadAsThatUser) {
  const std::string secret = input_ + "/root-only.txt";
  write_text(secret, "root only\n");
  std::filesystem::permissions(secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const ProcessResult as_nobody =
      traced_root("as-nobody", {"/bin/sh", "-c", "id -un; cat " + secret}, {}, {"--trace-user", "nobody"});
  EXPECT_TRUE(contains(as_nobody.output, "nobody\n")) << as_nobody.output;
  EXPECT_FALSE(contains(as_nobody.output, "root only")) << as_nobody.output;
  EXPECT_FALSE(holds(dir_ + "/as-nobody", secret));
  const ProcessResult as_root = traced_root("as-root", {"/bin/sh", "-c", "cat " + secret});
  EXPECT_TRUE(contains(as_root.output, "root only")) << as_root.output;
  EXPECT_TRUE(holds(dir_ + "/as-root", secret));
}

// ---- traced paths in list and sync --------------------------------------------------------------

TEST_F(Trace, SyncKeepsATracedFileCurrentAndReportsItGoneAndTracesAccumulate) {
  const std::string data = input_ + "/synced.txt";
  const std::string other = input_ + "/second.txt";
  write_text(data, "first\n");
  write_text(other, "second\n");
  const std::string root = dir_ + "/synced";
  traced_root("synced", {"/usr/bin/cat", data});
  traced_root("synced", {"/usr/bin/cat", other});
  EXPECT_EQ(read_text(root + data), "first\n");
  EXPECT_EQ(read_text(root + other), "second\n") << "a second trace adds to the first";
  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed, "opened by `/usr/bin/cat " + data + "`")) << listed;
  EXPECT_TRUE(contains(listed, "opened by `/usr/bin/cat " + other + "`")) << listed;

  write_text(data, "changed on the host\n");
  const ProcessResult synced = run_jailbuild({"sync", root, "--state-dir", state_});
  EXPECT_EQ(synced.exit_code, kExitOk) << synced.describe();
  EXPECT_EQ(read_text(root + data), "changed on the host\n");
  EXPECT_EQ(run_in(root, {"/usr/bin/cat", data}).output, "changed on the host\n");

  std::filesystem::remove(data);
  const ProcessResult gone = run_jailbuild({"sync", root, "--state-dir", state_});
  EXPECT_EQ(gone.exit_code, kExitIncomplete) << gone.describe();
  EXPECT_TRUE(contains(gone.output, data + ": gone from the host")) << gone.describe();
}

}  // namespace
}  // namespace jailbuild
