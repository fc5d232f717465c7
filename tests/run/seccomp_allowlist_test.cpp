// run --seccomp traced and allowlist:FILE end to end: a workload traced with `add --trace` does
// its work under the allowlist of the calls it made, and calls it never made are refused; each
// beside its control, the same run with the denylist alone, where they get through. The probe is
// tests/run/escape_probe.c (modes "work FILE" and "calls FILE").
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/escape_suite.hpp"

namespace jailbuild {
namespace {

using namespace testing;

// The calls of the probe's "calls" mode that its traced "work" never makes.
const std::vector<std::string> kUntracedCalls = {"socket", "personality", "memfd_create"};

class SeccompAllowlist : public EscapeSuite {
 protected:
  static void SetUpTestSuite() {
    set_up_probe_suite("seccomp-allowlist");
    if (!setup_error_.empty() || ::geteuid() != 0) return;
    // A traced workload sees fresh, empty tmpfs on /tmp, /var/tmp and /run, where the suite's
    // directory is: the traced probe is a copy under /srv, which the trace adds at that path.
    std::filesystem::create_directories("/srv");
    std::string pattern = "/srv/jailbuild-seccomp-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      setup_error_ = "mkdtemp under /srv failed";
      return;
    }
    srv_dir_ = pattern;
    ::chmod(srv_dir_.c_str(), 0755);
    traced_probe_ = srv_dir_ + "/probe";
    std::filesystem::copy_file(probe_, traced_probe_);
    const ProcessResult traced = run_jailbuild(
        {"add", "--root", root_, "--state-dir", state_, "--trace", "--", traced_probe_, "work", traced_probe_});
    if (traced.exit_code != kExitOk) setup_error_ = "add --trace failed: " + traced.describe();
  }
  static void TearDownTestSuite() {
    if (!srv_dir_.empty()) std::filesystem::remove_all(srv_dir_);
    EscapeSuite::TearDownTestSuite();
  }

  // The traced probe in the jail, with the run options given.
  static ProcessResult jail_traced_probe(const std::vector<std::string>& options, const std::string& mode) {
    return run_process(run_argv(options, {mode, traced_probe_}, traced_probe_), kPlainEnv);
  }

  static inline std::string srv_dir_, traced_probe_;

  static void expect_work_done(const ProcessResult& result) {
    expect_ran(result);
    for (const char* step : {"work read", "work pipe", "work child", "work wait"})
      EXPECT_EQ(answer(result, step), "OK") << step << ": " << result.describe();
  }
};

TEST_F(SeccompAllowlist, ATracedWorkloadDoesItsWorkAndCallsItNeverMadeAreRefused) {
  const ProcessResult allowlisted = jail_traced_probe({"--state-dir", state_, "--seccomp", "traced"}, "calls");
  expect_work_done(allowlisted);
  for (const std::string& call : kUntracedCalls) EXPECT_EQ(answer(allowlisted, call), "EPERM") << call;

  // The control: the denylist alone lets each of them through.
  const ProcessResult denylisted = jail_traced_probe({"--state-dir", state_}, "calls");
  expect_work_done(denylisted);
  for (const std::string& call : kUntracedCalls) EXPECT_EQ(answer(denylisted, call), "OK") << call;
}

TEST_F(SeccompAllowlist, TheDenylistStaysUnderneath) {
  // A list that names what the denylist refuses does not get it.
  const ProcessResult profile = run_jailbuild({"profile", root_, "--state-dir", state_});
  ASSERT_EQ(profile.exit_code, kExitOk) << profile.describe();
  const std::string list = dir_ + "/with-mount.list";
  write_file(list, profile.output + "fsopen\npivot_root\nclone\nmount\n");
  const ProcessResult jailed = jail({"--seccomp", "allowlist:" + list}, {"mount"});
  EXPECT_EQ(answer(jailed, "fsopen"), "EPERM") << jailed.describe();
  EXPECT_EQ(answer(jailed, "pivot_root"), "EPERM") << jailed.describe();
  EXPECT_EQ(answer(jailed, "clone newuser"), "EPERM") << jailed.describe();
  // The control, that a listed call is allowed, is ProfilePrintsTheListAndAllowlistFileTakesItBack's
  // widened list (socket); the probe's mount mode is never run outside a jail here, where it would
  // mount on the host.
}

TEST_F(SeccompAllowlist, ProfilePrintsTheListAndAllowlistFileTakesItBack) {
  const ProcessResult profile = run_jailbuild({"profile", root_, "--state-dir", state_});
  ASSERT_EQ(profile.exit_code, kExitOk) << profile.describe();
  EXPECT_TRUE(contains(profile.output, "\nopenat\n")) << profile.output;
  for (const std::string& call : kUntracedCalls) EXPECT_FALSE(contains(profile.output, "\n" + call + "\n")) << call;

  // The printed list, given back by hand, is the same allowlist.
  const std::string list = dir_ + "/profile.list";
  write_file(list, profile.output);
  const ProcessResult from_file = jail_traced_probe({"--seccomp", "allowlist:" + list}, "calls");
  expect_work_done(from_file);
  for (const std::string& call : kUntracedCalls) EXPECT_EQ(answer(from_file, call), "EPERM") << call;

  // Its control: the same list with socket added lets socket through, and only it.
  write_file(list, profile.output + "socket\n");
  const ProcessResult widened = jail_traced_probe({"--seccomp", "allowlist:" + list}, "calls");
  expect_work_done(widened);
  EXPECT_EQ(answer(widened, "socket"), "OK") << widened.describe();
  EXPECT_EQ(answer(widened, "personality"), "EPERM") << widened.describe();
}

TEST_F(SeccompAllowlist, VerboseSaysEachRefusedCallOnceByNameAndTheProgramSeesTheSameRefusal) {
  const auto said = [](const ProcessResult& result, const std::string& call) {
    std::vector<std::string> lines;
    for (const std::string& line : lines_starting(result, "jailbuild: info: seccomp: the allowlist ("))
      if (contains(line, ") refused " + call + " (EPERM)")) lines.push_back(line);
    return lines;
  };
  std::vector<std::string> verbose_run = run_argv({"--state-dir", state_, "--seccomp", "traced"}, {"calls", traced_probe_},
                                                  traced_probe_);
  verbose_run.insert(verbose_run.begin() + 1, "-v");  // jailbuild -v run ...
  const ProcessResult verbose = run_process(verbose_run, kPlainEnv);
  expect_work_done(verbose);
  for (const std::string& call : kUntracedCalls) {
    EXPECT_EQ(answer(verbose, call), "EPERM") << call << ": " << verbose.describe();
    EXPECT_EQ(said(verbose, call).size(), 1U) << call << ": " << verbose.describe();  // socket is made twice
  }
  EXPECT_EQ(answer(verbose, "socket again"), "EPERM") << verbose.describe();
  EXPECT_TRUE(said(verbose, "read").empty()) << verbose.describe();  // allowed calls are not said
  // The control: without -v the same refusals, and not a word of them.
  const ProcessResult quiet = jail_traced_probe({"--state-dir", state_, "--seccomp", "traced"}, "calls");
  for (const std::string& call : kUntracedCalls) {
    EXPECT_EQ(answer(quiet, call), "EPERM") << call << ": " << quiet.describe();
    EXPECT_TRUE(said(quiet, call).empty()) << call << ": " << quiet.describe();
  }
}

TEST_F(SeccompAllowlist, ARealPipelineRunsUnderItsOwnTrace) {
  // sh forks, pipes and waits; glibc's posix_spawn and fork try clone3 first, which must get ENOSYS
  // (not EPERM) for the fallback to clone to happen.
  const std::vector<std::string> pipeline{"/bin/sh", "-c", "ls -d /usr /tmp | wc -l"};
  std::vector<std::string> add{"add", "--root", root_, "--state-dir", state_, "--trace", "--"};
  add.insert(add.end(), pipeline.begin(), pipeline.end());
  const ProcessResult traced = run_jailbuild(add);
  ASSERT_EQ(traced.exit_code, kExitOk) << traced.describe();
  const std::vector<std::string> command = JailSuite::run_argv({"--state-dir", state_, "--seccomp", "traced"}, pipeline);
  const ProcessResult ran = run_process(command, kPlainEnv);
  EXPECT_EQ(ran.exit_code, 0) << ran.describe();
  EXPECT_EQ(lines_starting(ran, "2"), std::vector<std::string>{"2"}) << ran.describe();
  EXPECT_TRUE(lines_starting(ran, "jailbuild: error").empty()) << ran.describe();
}

TEST_F(SeccompAllowlist, AnExportedBundleCarriesTheAllowlistAndCrunEnforcesIt) {
  // A spec traces the probe's work (apply records the calls as add --trace does) and names its
  // "calls" as the command; export writes the recorded allowlist as the bundle's linux.seccomp, and
  // crun (libseccomp's own reading of the OCI form) runs the probe under it. The control: the same
  // bundle without linux.seccomp, where the calls get through.
  const std::string spec_root = dir_ + "/spec-root", spec_state = dir_ + "/spec-state", bundle = dir_ + "/bundle";
  const std::string probe = "\"" + traced_probe_ + "\"";
  write_file(dir_ + "/jail.toml", "root = \"" + spec_root + "\"\nstate-dir = \"" + spec_state + "\"\n[[trace]]\ncommand = [" +
                                      probe + ", \"work\", " + probe + "]\n[run]\ncommand = [" + probe +
                                      ", \"calls\", " + probe + "]\n");
  const ProcessResult applied = run_jailbuild({"apply", dir_ + "/jail.toml"});
  ASSERT_EQ(applied.exit_code, kExitOk) << applied.describe();
  const ProcessResult exported = run_jailbuild({"export", spec_root, "--state-dir", spec_state, "--bundle", bundle});
  ASSERT_EQ(exported.exit_code, kExitOk) << exported.describe();
  nlohmann::json config = nlohmann::json::parse(read_file(bundle + "/config.json"));
  ASSERT_TRUE(config["linux"].contains("seccomp")) << config["linux"].dump();
  EXPECT_EQ(config["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
  for (const bool filtered : {true, false}) {
    SCOPED_TRACE(filtered ? "the exported filter" : "the control, no filter");
    if (!filtered) config["linux"].erase("seccomp");
    write_file(bundle + "/config.json", config.dump());
    // As in tests/export: crun sees cgroup v2 alone, in a mount namespace of its own.
    const ProcessResult crun = run_process(
        {"/usr/bin/unshare", "-m", "/bin/sh", "-c",
         "mount -t cgroup2 none /sys/fs/cgroup && /usr/bin/crun --cgroup-manager=disabled run --bundle " + bundle +
             " jailbuild-allowlist-test"},
        kPlainEnv);
    expect_work_done(crun);
    for (const std::string& call : kUntracedCalls)
      EXPECT_EQ(answer(crun, call), filtered ? "EPERM" : "OK") << call << ": " << crun.describe();
  }
}

TEST_F(SeccompAllowlist, MistakesAreClearErrors) {
  // No trace recorded for this state directory.
  const std::string empty_state = dir_ + "/empty-state";
  const ProcessResult untraced = jail({"--state-dir", empty_state, "--seccomp", "traced"}, {"hello"});
  EXPECT_EQ(untraced.exit_code, 125) << untraced.describe();
  EXPECT_TRUE(contains(untraced.output, "no system calls are recorded")) << untraced.describe();
  // A name that is no system call, with the file and the line.
  const std::string list = dir_ + "/bad.list";
  write_file(list, "# comment\nread\nnot_a_call\n");
  const ProcessResult bad = jail({"--seccomp", "allowlist:" + list}, {"hello"});
  EXPECT_EQ(bad.exit_code, 125) << bad.describe();
  EXPECT_TRUE(contains(bad.output, list + ":3: not_a_call: not a system call")) << bad.describe();
  // profile of a root without a record.
  const ProcessResult profile = run_jailbuild({"profile", root_, "--state-dir", empty_state});
  EXPECT_EQ(profile.exit_code, kExitUsage) << profile.describe();
}

}  // namespace
}  // namespace jailbuild
