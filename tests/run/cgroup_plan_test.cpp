// --memory, --pids and --cpus as words, and where the run's cgroup goes, decided from the text of
// /proc/self/mountinfo, /proc/self/cgroup and cgroup.controllers. The v2 cases can only be tested
// here, from fixture text: the machine the suite was written on is hybrid, its memory, pids and
// cpu controllers all in v1 hierarchies (tests/run/cgroup_test.cpp runs them for real).
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jailbuild/run.hpp"
#include "jailbuild/run_settings.hpp"
#include "run/jail_setup.hpp"

namespace jailbuild::run {
namespace {

using Controller = CgroupController;

// ---- the words ----------------------------------------------------------------------------------

TEST(CgroupLimitWords, MemoryTakesBytesOrKMG) {
  EXPECT_EQ(*parse_memory_limit("32M"), 32U << 20);
  EXPECT_EQ(*parse_memory_limit("64m"), 64U << 20);
  EXPECT_EQ(*parse_memory_limit("1G"), 1U << 30);
  EXPECT_EQ(*parse_memory_limit("2048k"), 2U << 20);
  EXPECT_EQ(*parse_memory_limit("1048576"), 1U << 20);
  for (const char* bad : {"", "M", "32MB", "32 M", "-1M", "1.5G", "0x100000", "32T", "1000", "0", "99999999999G"}) {
    const auto parsed = parse_memory_limit(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_TRUE(parsed.error().is_usage()) << bad;
    EXPECT_NE(parsed.error().message.find("--memory"), std::string::npos) << parsed.error().message;
  }
}

TEST(CgroupLimitWords, PidsTakesAWholeNumberOfAtLeastTwo) {
  EXPECT_EQ(*parse_pids_limit("2"), 2U);
  EXPECT_EQ(*parse_pids_limit("512"), 512U);
  for (const char* bad : {"", "0", "1", "-5", "20.5", "1e3", "ten", "99999999999"})
    EXPECT_FALSE(parse_pids_limit(bad)) << bad;
}

TEST(CgroupLimitWords, CpusTakesADecimalFraction) {
  EXPECT_DOUBLE_EQ(*parse_cpus("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_cpus("2"), 2.0);
  EXPECT_DOUBLE_EQ(*parse_cpus("0.01"), 0.01);
  EXPECT_DOUBLE_EQ(*parse_cpus(".25"), 0.25);
  for (const char* bad : {"", ".", "0", "0.001", "-1", "1e3", "inf", "nan", "0.5.5", "1/2", "2000", "0,5"})
    EXPECT_FALSE(parse_cpus(bad)) << bad;
}

TEST(CgroupLimitWords, RunSettingsCarryThemIntoRunOptionsAndJson) {
  RunSettings settings;
  settings.memory = "32M";
  settings.pids = "20";
  settings.cpus = "0.5";
  const auto options = run_options_of(settings, "/r", {"/bin/true"}, {}, "", "");
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->cgroup_limits.memory, 32U << 20);
  EXPECT_EQ(options->cgroup_limits.pids, 20U);
  EXPECT_EQ(options->cgroup_limits.cpus, 0.5);
  const auto back = run_settings_from_json(run_settings_json(settings));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, settings);
  settings.memory = "lots";
  EXPECT_FALSE(run_options_of(settings, "/r", {"/bin/true"}, {}, "", ""));
  // None given: no cgroup at all.
  EXPECT_FALSE(run_options_of(RunSettings{}, "/r", {"/bin/true"}, {}, "", "")->cgroup_limits.any());
}

// ---- where the cgroup goes ----------------------------------------------------------------------

// This machine (Firecracker VM, Linux 6.18): v1 for everything, cgroup2 with hugetlb alone.
constexpr const char* kHybridMountinfo =
    "23 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr const char* kHybridCgroup =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/096ec465\n2:cpuacct:/\n1:cpu:/\n0::/\n";

// A systemd machine with only the unified hierarchy.
constexpr const char* kUnifiedMountinfo =
    "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
constexpr const char* kUnifiedCgroup = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope\n";
constexpr const char* kAppSlice = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice";

// A reader of fixture files: path -> text; any other path does not exist.
CgroupFileReader files(std::map<std::string, std::string> texts) {
  return [texts = std::move(texts)](const std::string& path) -> std::optional<std::string> {
    const auto found = texts.find(path);
    if (found == texts.end()) return std::nullopt;
    return found->second;
  };
}

CgroupLimits all_three() { return {.memory = 32U << 20, .pids = 20, .cpus = 0.5}; }

TEST(CgroupPlan, HybridMachinePutsEachControllerInItsV1HierarchyUnderJailbuildsOwnCgroup) {
  const auto plan = plan_cgroups(all_three(), kHybridMountinfo, kHybridCgroup,
                                 files({{"/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n"}}));
  ASSERT_TRUE(plan) << plan.error().message;
  const std::vector<CgroupDirectory> expected{
      {1, "/sys/fs/cgroup/memory/process_api/096ec465", {Controller::Memory}},
      {1, "/sys/fs/cgroup/pids", {Controller::Pids}},
      {1, "/sys/fs/cgroup/cpu", {Controller::Cpu}},
  };
  EXPECT_EQ(*plan, expected);
}

TEST(CgroupPlan, OnlyTheControllersAskedForGetADirectory) {
  const auto plan = plan_cgroups({.memory = std::nullopt, .pids = 64, .cpus = std::nullopt}, kHybridMountinfo,
                                 kHybridCgroup, files({}));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->size(), 1U);
  EXPECT_EQ((*plan)[0], (CgroupDirectory{1, "/sys/fs/cgroup/pids", {Controller::Pids}}));
}

TEST(CgroupPlan, UnifiedMachinePutsTheRunBesideJailbuildsCgroupInOneDirectory) {
  const auto plan = plan_cgroups(all_three(), kUnifiedMountinfo, kUnifiedCgroup,
                                 files({{std::string(kAppSlice) + "/cgroup.controllers", "cpu io memory pids\n"}}));
  ASSERT_TRUE(plan) << plan.error().message;
  const std::vector<CgroupDirectory> expected{
      {2, kAppSlice, {Controller::Memory, Controller::Pids, Controller::Cpu}},
  };
  EXPECT_EQ(*plan, expected);
}

TEST(CgroupPlan, V2IsPreferredPerControllerAndV1TakesWhatItLacks) {
  // A hybrid machine whose unified hierarchy was given pids (and cpu) but not memory.
  const auto plan = plan_cgroups(all_three(), kHybridMountinfo, kHybridCgroup,
                                 files({{"/sys/fs/cgroup/unified/cgroup.controllers", "cpu pids hugetlb\n"}}));
  ASSERT_TRUE(plan) << plan.error().message;
  const std::vector<CgroupDirectory> expected{
      {1, "/sys/fs/cgroup/memory/process_api/096ec465", {Controller::Memory}},
      {2, "/sys/fs/cgroup/unified", {Controller::Pids, Controller::Cpu}},
  };
  EXPECT_EQ(*plan, expected);
}

TEST(CgroupPlan, AJailbuildInTheRootCgroupPutsTheRunUnderTheRoot) {
  const auto plan = plan_cgroups({.memory = 1U << 30, .pids = std::nullopt, .cpus = std::nullopt}, kUnifiedMountinfo,
                                 "0::/\n", files({{"/sys/fs/cgroup/cgroup.controllers", "memory pids\n"}}));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->size(), 1U);
  EXPECT_EQ((*plan)[0], (CgroupDirectory{2, "/sys/fs/cgroup", {Controller::Memory}}));
}

TEST(CgroupPlan, CoMountedV1ControllersShareTheirDirectory) {
  const std::string mountinfo =
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory\\040x rw,relatime - cgroup cgroup rw,memory,pids\n";
  const auto plan = plan_cgroups(all_three(), mountinfo, "4:memory,pids:/a\n2:cpu,cpuacct:/b/c\n", files({}));
  ASSERT_TRUE(plan) << plan.error().message;
  const std::vector<CgroupDirectory> expected{
      {1, "/sys/fs/cgroup/memory x/a", {Controller::Memory, Controller::Pids}},
      {1, "/sys/fs/cgroup/cpu,cpuacct/b/c", {Controller::Cpu}},
  };
  EXPECT_EQ(*plan, expected);
}

TEST(CgroupPlan, AMountOfPartOfTheHierarchyIsFollowedFromItsRoot) {
  // In a container: the hierarchy's /docker/abc mounted at /sys/fs/cgroup.
  const std::string mountinfo = "500 400 0:40 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  const auto plan = plan_cgroups({.memory = std::nullopt, .pids = 10, .cpus = std::nullopt}, mountinfo,
                                 "0::/docker/abc/svc\n", files({{"/sys/fs/cgroup/cgroup.controllers", "pids\n"}}));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->size(), 1U);
  EXPECT_EQ((*plan)[0], (CgroupDirectory{2, "/sys/fs/cgroup", {Controller::Pids}}));
  // jailbuild at the mount's root: nothing above it is visible, the run goes under it.
  const auto top = plan_cgroups({.memory = std::nullopt, .pids = 10, .cpus = std::nullopt}, mountinfo,
                                "0::/docker/abc\n", files({{"/sys/fs/cgroup/cgroup.controllers", "pids\n"}}));
  ASSERT_TRUE(top) << top.error().message;
  EXPECT_EQ((*top)[0], (CgroupDirectory{2, "/sys/fs/cgroup", {Controller::Pids}}));
}

TEST(CgroupPlan, AControllerNoHierarchyOffersIsAnErrorNamingTheOptionAndTheFile) {
  // Unified only, memory not handed down to jailbuild's parent.
  const auto plan = plan_cgroups(all_three(), kUnifiedMountinfo, kUnifiedCgroup,
                                 files({{std::string(kAppSlice) + "/cgroup.controllers", "cpu pids\n"}}));
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("--memory"), std::string::npos) << plan.error().message;
  EXPECT_NE(plan.error().message.find(std::string(kAppSlice) + "/cgroup.controllers"), std::string::npos)
      << plan.error().message;
  // The control: with memory offered, the same plan is made.
  EXPECT_TRUE(plan_cgroups(all_three(), kUnifiedMountinfo, kUnifiedCgroup,
                           files({{std::string(kAppSlice) + "/cgroup.controllers", "cpu memory pids\n"}})));
  // No cgroup file system at all.
  const auto none = plan_cgroups(all_three(), "24 1 8:1 / / rw - ext4 /dev/sda1 rw\n", "", files({}));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no cgroup v2 hierarchy"), std::string::npos) << none.error().message;
}

}  // namespace
}  // namespace jailbuild::run
