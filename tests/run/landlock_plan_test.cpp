// What Landlock is asked to enforce, by ABI: each right degrading cleanly on older kernels, and an
// option no ABI of the kernel can enforce refused rather than ignored.
#include <linux/landlock.h>

#include <gtest/gtest.h>

#include "run/landlock.hpp"

namespace jailbuild::run {
namespace {

const LandlockPathRule* rule_for(const LandlockPlan& plan, const std::string& path) {
  for (const LandlockPathRule& rule : plan.paths)
    if (rule.path == path) return &rule;
  return nullptr;
}

TEST(LandlockPlan, ReadsEverywhereWritesWhereTheJailMay) {
  RunOptions options;
  options.mounts = {{JailMount::Kind::Bind, "/srv/data", "/data", {}},
                    {JailMount::Kind::ReadOnlyBind, "/srv/site", "/site", {}},
                    {JailMount::Kind::Tmpfs, "", "/cache", {}}};
  const Result<LandlockPlan> plan = plan_landlock(options, 7);
  ASSERT_TRUE(plan) << plan.error().message;
  const LandlockPathRule* top = rule_for(*plan, "/");
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->allowed & LANDLOCK_ACCESS_FS_WRITE_FILE, 0u);
  EXPECT_NE(top->allowed & LANDLOCK_ACCESS_FS_EXECUTE, 0u);
  for (const char* writable : {"/tmp", "/dev/shm", "/data", "/cache"}) {
    const LandlockPathRule* rule = rule_for(*plan, writable);
    ASSERT_NE(rule, nullptr) << writable;
    EXPECT_EQ(rule->allowed, plan->handled_fs) << writable;
  }
  EXPECT_EQ(rule_for(*plan, "/site"), nullptr);  // read-only: "/" covers it
  EXPECT_EQ(plan->handled_net, 0u);              // no port option: the network as it is
  EXPECT_NE(plan->scoped, 0u);
}

TEST(LandlockPlan, DegradesByAbi) {
  RunOptions options;
  const LandlockPlan abi1 = *plan_landlock(options, 1);
  EXPECT_EQ(abi1.handled_fs & LANDLOCK_ACCESS_FS_REFER, 0u);  // unknown to ABI 1: never handled
  const LandlockPlan abi2 = *plan_landlock(options, 2);
  EXPECT_NE(abi2.handled_fs & LANDLOCK_ACCESS_FS_REFER, 0u);
  EXPECT_EQ(abi2.handled_fs >> 14, 0u);  // no truncate, no device ioctl
  EXPECT_EQ(abi2.scoped, 0u);
  const LandlockPlan abi5 = *plan_landlock(options, 5);
  EXPECT_EQ(abi5.handled_fs >> 14, 3u);  // truncate and device ioctl
  EXPECT_EQ(abi5.scoped, 0u);            // scoping is ABI 6
  const LandlockPlan none = *plan_landlock(options, 0);
  EXPECT_EQ(none.abi, 0);
  EXPECT_TRUE(none.paths.empty());
}

TEST(LandlockPlan, PortsAreAListOrAnError) {
  RunOptions options;
  options.allow_connect = std::vector<std::uint16_t>{443};
  const LandlockPlan plan = *plan_landlock(options, 4);
  EXPECT_EQ(plan.handled_net, 2u);  // connect only: binding stays as it is
  ASSERT_EQ(plan.ports.size(), 1u);
  EXPECT_EQ(plan.ports[0].port, 443);
  EXPECT_FALSE(plan_landlock(options, 3));  // no TCP rules before ABI 4: refused, not ignored
  options.landlock = false;
  EXPECT_FALSE(plan_landlock(options, 7));
}

TEST(LandlockPlan, WritableRootAndChrootOnly) {
  RunOptions options;
  options.writable = true;
  const LandlockPlan writable = *plan_landlock(options, 7);
  ASSERT_NE(rule_for(writable, "/"), nullptr);
  EXPECT_EQ(rule_for(writable, "/")->allowed, writable.handled_fs);
  options.writable = false;
  options.chroot_only = true;
  const LandlockPlan chrooted = *plan_landlock(options, 7);
  EXPECT_NE(rule_for(chrooted, "/tmp"), nullptr);
  EXPECT_EQ(rule_for(chrooted, "/dev/shm"), nullptr);
}

}  // namespace
}  // namespace jailbuild::run
