// --memory, --pids and --cpus end to end: a probe (tests/run/cgroup_probe.c) that allocates, forks
// or spins in a jail bounded by the run's cgroup, each beside its control (the same probe without
// the limit, which gets through); and the cgroup's directories, which jailbuild names at -v, gone
// after every run: ended, killed by the limit or by a signal, failed during setup. Root only: the
// probe's root is built with `jailbuild add`, and on cgroup v1 (this suite's machine) only root
// makes cgroups.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jailbuild/run.hpp"
#include "support/escape_suite.hpp"

namespace jailbuild {
namespace {

using namespace testing;

class Cgroup : public EscapeSuite {
 protected:
  static void SetUpTestSuite() { set_up_probe_suite("cgroup"); }

  // `jailbuild -v run OPTIONS ROOT PROBE ARGS`: -v names each directory of the run's cgroup.
  static std::vector<std::string> verbose_argv(const std::vector<std::string>& options,
                                               const std::vector<std::string>& args) {
    std::vector<std::string> argv = run_argv(options, args);
    argv.insert(argv.begin() + 1, "-v");
    return argv;
  }
  static ProcessResult verbose_jail(const std::vector<std::string>& options, const std::vector<std::string>& args) {
    return run_process(verbose_argv(options, args), kPlainEnv);
  }

  // The directories the run made, as its -v lines name them ("run: cgroup v1 (memory): PATH").
  static std::vector<std::string> made_cgroups(const std::string& output) {
    std::vector<std::string> paths;
    for (const std::string& line : lines_of(output, CarriageReturn::kDropped)) {
      const std::size_t at = line.find("run: cgroup v");
      const std::size_t path = line.find("): ", at);
      if (at != std::string::npos && path != std::string::npos) paths.push_back(line.substr(path + 3));
    }
    return paths;
  }

  // Each was made (the run names at least one) and is gone now.
  static void expect_removed(const ProcessResult& result, std::size_t expected_count) {
    const std::vector<std::string> made = made_cgroups(result.output);
    EXPECT_EQ(made.size(), expected_count) << result.describe();
    for (const std::string& path : made) {
      EXPECT_NE(path.find("/jailbuild-"), std::string::npos) << path;
      EXPECT_FALSE(fs::exists(path)) << path << " is left behind";
    }
  }

  // The probe's "forked K" or "cpu-share X": the number, or -1 if it printed none.
  static double measured(const ProcessResult& result, const std::string& what) {
    for (const std::string& line : lines_of(result.output, CarriageReturn::kDropped))
      if (line.starts_with(what + " ")) return std::stod(line.substr(what.size() + 1));
    return -1;
  }
};

TEST_F(Cgroup, TheJailRunsInACgroupOfItsOwnThatIsGoneAfterIt) {
  const ProcessResult jailed = verbose_jail({"--memory", "64M", "--pids", "64", "--cpus", "1"}, {"cgroup"});
  expect_ran(jailed);
  // Inside, each controller's cgroup is the run's: the path -v named ends with what the jail sees.
  const std::vector<std::string> made = made_cgroups(jailed.output);
  ASSERT_FALSE(made.empty()) << jailed.output;
  const std::vector<std::string> inside = lines_starting(jailed, "CGROUP ");
  for (const std::string& path : made) {
    const std::string name = path.substr(path.rfind('/'));
    bool seen = false;
    for (const std::string& line : inside)
      seen = seen || (line.ends_with(name) && path.ends_with(line.substr(line.rfind(':') + 1)));
    EXPECT_TRUE(seen) << path << " is not the jail's cgroup:\n" << jailed.output;
  }
  expect_removed(jailed, made.size());
  // The control: without limits no cgroup is made, and the jail stays in jailbuild's.
  const ProcessResult control = verbose_jail({}, {"cgroup"});
  expect_ran(control);
  EXPECT_TRUE(made_cgroups(control.output).empty()) << control.output;
  for (const std::string& line : lines_starting(control, "CGROUP "))
    EXPECT_FALSE(contains(line, "/jailbuild-")) << control.output;
}

TEST_F(Cgroup, MemoryLimitKillsAProgramBeyondItAndSaysSo) {
  const ProcessResult jailed = verbose_jail({"--memory", "32M"}, {"alloc", "64"});
  EXPECT_EQ(jailed.exit_code, 137) << jailed.describe();
  EXPECT_FALSE(contains(jailed.output, "allocated 64 MiB")) << jailed.output;
  EXPECT_TRUE(contains(jailed.output, "the memory limit (--memory 32 MiB) killed the program")) << jailed.output;
  expect_removed(jailed, 1);
  // The controls: below the limit the probe completes, and without it 64 MiB is no problem.
  const ProcessResult below = verbose_jail({"--memory", "32M"}, {"alloc", "16"});
  expect_ran(below);
  EXPECT_TRUE(contains(below.output, "allocated 16 MiB")) << below.output;
  EXPECT_FALSE(contains(below.output, "memory limit")) << below.output;
  expect_removed(below, 1);
  const ProcessResult unbounded = jail({}, {"alloc", "64"});
  expect_ran(unbounded);
  EXPECT_TRUE(contains(unbounded.output, "allocated 64 MiB")) << unbounded.output;
}

TEST_F(Cgroup, PidsLimitStopsAForkLoopInsideTheJail) {
  const ProcessResult jailed = verbose_jail({"--pids", "20"}, {"fork", "100"});
  expect_ran(jailed);
  const double forked = measured(jailed, "forked");
  // 20 processes: the jail's init and the probe, and at most 18 children.
  EXPECT_GE(forked, 1) << jailed.output;
  EXPECT_LE(forked, 18) << jailed.output;
  expect_removed(jailed, 1);
  // The control: without the limit all 100 are forked; and the host still forks (it was never bounded).
  const ProcessResult control = jail({}, {"fork", "100"});
  expect_ran(control);
  EXPECT_EQ(measured(control, "forked"), 100) << control.output;
  EXPECT_EQ(run_process({"/bin/true"}, kPlainEnv).exit_code, 0);
}

TEST_F(Cgroup, CpusLimitsTheJailsShareOfACpu) {
  // Two seconds of a busy loop: about 20% of it on the CPU with --cpus 0.2 (the quota is 20 ms per
  // 100 ms), nearly all without. Generous bounds: the machine is shared.
  const ProcessResult jailed = verbose_jail({"--cpus", "0.2"}, {"spin", "2"});
  expect_ran(jailed);
  const double share = measured(jailed, "cpu-share");
  EXPECT_GE(share, 0.05) << jailed.output;
  EXPECT_LE(share, 0.35) << jailed.output;
  expect_removed(jailed, 1);
  const ProcessResult control = jail({}, {"spin", "2"});
  expect_ran(control);
  EXPECT_GE(measured(control, "cpu-share"), 0.45) << control.output;
}

TEST_F(Cgroup, TheCgroupIsRemovedWhenSetupFailsAfterItWasMade) {
  // The child fails at --cwd, after the cgroup was made and joined.
  const ProcessResult failed = verbose_jail({"--memory", "64M", "--pids", "64", "--cwd", "/no-such-dir"}, {"hello"});
  EXPECT_EQ(failed.exit_code, kRunFailed) << failed.describe();
  EXPECT_TRUE(contains(failed.output, "--cwd /no-such-dir")) << failed.output;
  expect_removed(failed, 2);
  // A bad value is a usage error before anything is made.
  const ProcessResult bad = verbose_jail({"--memory", "12X"}, {"hello"});
  EXPECT_EQ(bad.exit_code, kRunFailed) << bad.describe();
  EXPECT_TRUE(contains(bad.output, "--memory 12X")) << bad.output;
  EXPECT_TRUE(made_cgroups(bad.output).empty()) << bad.output;
}

TEST_F(Cgroup, TheCgroupIsRemovedWhenASignalEndsTheJail) {
  SpawnOptions merged;
  merged.merged = true;
  Spawned running(verbose_argv({"--memory", "64M", "--pids", "64"}, {"wait"}), kPlainEnv, merged);
  ASSERT_TRUE(running.wait_for_output("waiting", std::chrono::seconds(30)));
  running.signal(SIGTERM);  // passed on to the program
  const Outcome outcome = running.finish(std::chrono::seconds(30));
  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM) << outcome.describe();
  ProcessResult result;
  result.exit_code = outcome.exit_code;
  result.output = outcome.out;
  expect_removed(result, 2);
}

TEST_F(Cgroup, ChrootOnlyLeavesNoProcessOrDirectoryBehind) {
  // --chroot-only has no PID namespace to end the jail's processes with the program: an orphan
  // would outlive the run, and its cgroup could not be removed; jailbuild kills it first.
  const ProcessResult jailed = verbose_jail({"--chroot-only", "--pids", "16"}, {"orphan"});
  expect_ran(jailed);
  const double orphan = measured(jailed, "orphan");
  ASSERT_GT(orphan, 0) << jailed.output;
  const std::string proc = "/proc/" + std::to_string(static_cast<pid_t>(orphan)) + "/cmdline";
  EXPECT_TRUE(wait_for([&] { return !fs::exists(proc) || read_file(proc).empty(); }, std::chrono::seconds(5)))
      << "the orphan survived the run";
  expect_removed(jailed, 1);
  // The control: without a cgroup the orphan outlives the run (killed here).
  const ProcessResult control = jail({"--chroot-only"}, {"orphan"});
  expect_ran(control);
  const auto survivor = static_cast<pid_t>(measured(control, "orphan"));
  ASSERT_GT(survivor, 0) << control.output;
  EXPECT_TRUE(fs::exists("/proc/" + std::to_string(survivor) + "/cmdline"));
  ::kill(survivor, SIGKILL);
}

TEST_F(Cgroup, WithoutRootAV1CgroupIsAClearError) {
  // As nobody: the jail itself runs in a user namespace of nobody's (the control); a limit needs a
  // cgroup, which cgroup v1 (this machine's) keeps for root.
  const std::vector<std::string> as_nobody{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  std::vector<std::string> control_argv = as_nobody;
  for (const std::string& word : run_argv({}, {"hello"})) control_argv.push_back(word);
  const ProcessResult control = run_process(control_argv, kPlainEnv);
  if (control.exit_code != 0)
    GTEST_SKIP() << "nobody cannot run a jail here (user namespaces?): " << control.describe();
  std::vector<std::string> argv = as_nobody;
  for (const std::string& word : run_argv({"--memory", "32M"}, {"hello"})) argv.push_back(word);
  const ProcessResult refused = run_process(argv, kPlainEnv);
  EXPECT_EQ(refused.exit_code, kRunFailed) << refused.describe();
  EXPECT_FALSE(contains(refused.output, "hello from the jail")) << refused.output;
  // It names the hierarchy's directory and why.
  EXPECT_TRUE(contains(refused.output, "/sys/fs/cgroup/")) << refused.output;
  EXPECT_TRUE(contains(refused.output, "without root")) << refused.output;
}

}  // namespace
}  // namespace jailbuild
