// The jail's mounts as data: what plan_mounts() lists for given options, compared operation by
// operation with what the jail must see, without a kernel. That the list, carried out, confines a
// program is for the run tests (run_command_test.cpp, the escape tests) to show with real jails.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jailbuild/run.hpp"
#include "run/jail_setup.hpp"
#include "run/mount_plan.hpp"
#include "util/users.hpp"

namespace jailbuild::run {

// For gtest's messages: the line -vv prints.
void PrintTo(const MountOp& op, std::ostream* out) {
  *out << describe(op) << " [source_fd " << op.source_fd << ", reach " << static_cast<int>(op.reach) << ", point "
       << static_cast<int>(op.point) << "]";
}

namespace {

constexpr unsigned long kKernelFs = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// The fields that decide what an operation does (`why` is for people).
struct Expected {
  MountKind kind;
  std::string destination{};
  std::string source = "";
  int source_fd = -1;
  unsigned long flags = 0;
  std::string data = "";
  Reach reach = Reach::Walk;
  MountPoint point = MountPoint::Directory;
  dev_t device = 0;
};

bool matches(const MountOp& op, const Expected& expected) {
  return op.kind == expected.kind && op.destination == expected.destination && op.source == expected.source &&
         op.source_fd == expected.source_fd && op.flags == expected.flags && op.data == expected.data &&
         op.reach == expected.reach && op.point == expected.point && op.device == expected.device;
}

void expect_ops(const std::vector<MountOp>& ops, const std::vector<Expected>& expected) {
  ASSERT_EQ(ops.size(), expected.size()) << ::testing::PrintToString(ops);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    EXPECT_TRUE(matches(ops[i], expected[i]))
        << "operation " << i << ": " << ::testing::PrintToString(ops[i]) << "\nexpected " << expected[i].destination;
    EXPECT_NE(*ops[i].why, '\0') << "operation " << i << " says not why: " << describe(ops[i]);
  }
}

// The operations on `destination`, in order.
std::vector<MountOp> on(const std::vector<MountOp>& ops, const std::string& destination) {
  std::vector<MountOp> found;
  std::copy_if(ops.begin(), ops.end(), std::back_inserter(found),
               [&](const MountOp& op) { return op.destination == destination; });
  return found;
}

// A real descriptor for an entry, so that the plan's source_fd can be told from "none" (-1).
TopLevelEntry entry(const std::string& name, bool directory, const std::string& link_target = "") {
  TopLevelEntry made;
  made.name = name;
  made.held = UniqueFd(::open("/", O_PATH | O_CLOEXEC));
  made.directory = directory;
  made.symlink = !link_target.empty();
  made.link_target = link_target;
  return made;
}

RunOptions options_for(const std::string& root) {
  RunOptions options;
  options.root = root;
  options.tmpfs_size = "64m";
  return options;
}

// What every jail gets after its top level, the same for every option but the user namespace.
std::vector<Expected> proc_dev_tmp(bool in_user_namespace) {
  std::vector<Expected> expected{{.kind = MountKind::Proc, .destination = "/proc", .flags = kKernelFs}};
  for (const char* path : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"})
    expected.push_back(
        {.kind = MountKind::ReadOnly, .destination = path, .flags = kKernelFs, .reach = Reach::IfPresent});
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                           "/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/proc/asound"})
    expected.push_back({.kind = MountKind::Mask,
                        .destination = path,
                        .source = "/dev/null",
                        .flags = kKernelFs,
                        .data = "mode=0555",
                        .reach = Reach::IfPresent});
  const unsigned long dev_flags = MS_NOSUID | MS_NOEXEC | (in_user_namespace ? MS_NODEV : 0);
  expected.push_back(
      {.kind = MountKind::Tmpfs, .destination = "/dev", .flags = dev_flags, .data = "mode=0755,size=64k"});
  const std::vector<std::pair<std::string, dev_t>> devices{{"null", ::makedev(1, 3)},    {"zero", ::makedev(1, 5)},
                                                           {"full", ::makedev(1, 7)},    {"random", ::makedev(1, 8)},
                                                           {"urandom", ::makedev(1, 9)}, {"tty", ::makedev(5, 0)}};
  for (const auto& [name, number] : devices) {
    if (in_user_namespace)
      expected.push_back({.kind = MountKind::Bind,
                          .destination = "/dev/" + name,
                          .source = "/dev/" + name,
                          .reach = Reach::Make,
                          .point = MountPoint::File});
    else
      expected.push_back({.kind = MountKind::Device,
                          .destination = "/dev/" + name,
                          .reach = Reach::Make,
                          .point = MountPoint::File,
                          .device = number});
  }
  for (const auto& [link, target] : {std::pair{"/dev/ptmx", "pts/ptmx"},
                                     {"/dev/fd", "/proc/self/fd"},
                                     {"/dev/stdin", "/proc/self/fd/0"},
                                     {"/dev/stdout", "/proc/self/fd/1"},
                                     {"/dev/stderr", "/proc/self/fd/2"}})
    expected.push_back({.kind = MountKind::Symlink, .destination = link, .source = target, .reach = Reach::Make});
  expected.push_back({.kind = MountKind::Devpts,
                      .destination = "/dev/pts",
                      .flags = MS_NOSUID | MS_NOEXEC,
                      .data = "newinstance,ptmxmode=0666,mode=0620",
                      .reach = Reach::Make});
  expected.push_back({.kind = MountKind::Tmpfs,
                      .destination = "/dev/shm",
                      .flags = MS_NOSUID | MS_NODEV,
                      .data = "mode=1777,size=64m",
                      .reach = Reach::Make});
  if (!in_user_namespace)
    expected.push_back({.kind = MountKind::Remount, .destination = "/dev", .flags = MS_RDONLY | dev_flags});
  expected.push_back(
      {.kind = MountKind::Tmpfs, .destination = "/tmp", .flags = MS_NOSUID | MS_NODEV, .data = "mode=1777,size=64m"});
  return expected;
}

TEST(MountPlan, AReadOnlyJailIsATmpfsShowingTheRootsEntriesThenProcDevTmpAndARemountReadOnly) {
  const RunOptions options = options_for("/srv/jail");
  std::vector<TopLevelEntry> top_level;
  top_level.push_back(entry("usr", true));
  top_level.push_back(entry("lib64", false, "usr/lib64"));
  top_level.push_back(entry("hello.txt", false));
  const int usr = top_level[0].held.get(), hello = top_level[2].held.get();

  std::vector<Expected> expected{
      {.kind = MountKind::TopLevel, .destination = "/", .flags = MS_NOSUID | MS_NODEV, .data = "mode=0755,size=64k"},
      {.kind = MountKind::ReadOnlyBind,
       .destination = "/usr",
       .source = "/srv/jail/usr",
       .source_fd = usr,
       .flags = MS_NOSUID | MS_NODEV,
       .reach = Reach::Make},
      {.kind = MountKind::Symlink, .destination = "/lib64", .source = "usr/lib64", .reach = Reach::Make},
      {.kind = MountKind::ReadOnlyBind,
       .destination = "/hello.txt",
       .source = "/srv/jail/hello.txt",
       .source_fd = hello,
       .flags = MS_NOSUID | MS_NODEV,
       .reach = Reach::Make,
       .point = MountPoint::File},
  };
  for (Expected& op : proc_dev_tmp(true)) expected.push_back(op);
  expected.push_back({.kind = MountKind::Remount, .destination = "/", .flags = MS_RDONLY | MS_NOSUID | MS_NODEV});

  expect_ops(plan_mounts(options, 7, top_level, true), expected);
}

TEST(MountPlan, WithHostPrivilegesDevGetsFreshNodesAndIsThenMadeReadOnly) {
  const RunOptions options = options_for("/srv/jail");
  std::vector<Expected> expected{
      {.kind = MountKind::TopLevel, .destination = "/", .flags = MS_NOSUID | MS_NODEV, .data = "mode=0755,size=64k"}};
  for (Expected& op : proc_dev_tmp(false)) expected.push_back(op);
  expected.push_back({.kind = MountKind::Remount, .destination = "/", .flags = MS_RDONLY | MS_NOSUID | MS_NODEV});

  const std::vector<MountOp> ops = plan_mounts(options, 7, {}, false);
  expect_ops(ops, expected);
  // Against the user namespace's plan: no host node is bound, and /dev allows devices (its own).
  for (const MountOp& op : ops)
    EXPECT_FALSE(op.kind == MountKind::Bind && op.source.starts_with("/dev/")) << describe(op);
  EXPECT_EQ(on(plan_mounts(options, 7, {}, true), "/dev").size(), 1U) << "no read-only remount in a user namespace";
}

TEST(MountPlan, AWritableJailIsTheRootItselfRemountedNosuidButNotReadOnly) {
  RunOptions options = options_for("/srv/jail");
  options.writable = true;
  std::vector<TopLevelEntry> top_level;  // --writable reads none
  std::vector<Expected> expected{
      {.kind = MountKind::TopLevel, .destination = "/", .source = "/srv/jail", .source_fd = 7}};
  for (Expected& op : proc_dev_tmp(true)) expected.push_back(op);
  expected.push_back({.kind = MountKind::Remount, .destination = "/", .flags = MS_NOSUID | MS_NODEV});

  expect_ops(plan_mounts(options, 7, top_level, true), expected);
}

TEST(MountPlan, TheCallersMountsComeAfterTmpInCommandLineOrderWithCleanTargets) {
  RunOptions options = options_for("/srv/jail");
  options.mounts = {{JailMount::Kind::Tmpfs, "", "/srv/", {}},
                    {JailMount::Kind::ReadOnlyBind, "/var/www", "/srv//site/.", {}},
                    {JailMount::Kind::Bind, "/var/cache/app", "/var/cache", {}}};
  const std::vector<MountOp> ops = plan_mounts(options, 7, {}, true);

  const auto tmp = std::find_if(ops.begin(), ops.end(), [](const MountOp& op) { return op.destination == "/tmp"; });
  ASSERT_NE(tmp, ops.end());
  const std::vector<MountOp> callers(tmp + 1, ops.end() - 1);
  expect_ops(
      callers,
      {{.kind = MountKind::Tmpfs,
        .destination = "/srv",
        .flags = MS_NOSUID | MS_NODEV,
        .data = "mode=0755,uid=0,gid=0,size=64m"},
       {.kind = MountKind::ReadOnlyBind,
        .destination = "/srv/site",
        .source = "/var/www",
        .point = MountPoint::LikeSource},
       {.kind = MountKind::Bind,
        .destination = "/var/cache",
        .source = "/var/cache/app",
        .point = MountPoint::LikeSource}});
  EXPECT_EQ(ops.back().kind, MountKind::Remount) << "the top level is made read-only after every mount point is made";
  EXPECT_EQ(ops.back().destination, "/");
}

TEST(MountPlan, EveryWritableTmpfsIsBoundedByTmpfsSize) {
  RunOptions options = options_for("/srv/jail");
  options.tmpfs_size = "10%";
  options.mounts = {{JailMount::Kind::Tmpfs, "", "/scratch", {}}};
  int bounded = 0;
  for (const MountOp& op : plan_mounts(options, 7, {}, true)) {
    if (op.kind != MountKind::Tmpfs || op.destination == "/dev") continue;  // /dev: 64k, read-only nodes
    EXPECT_TRUE(op.data.ends_with(",size=10%")) << describe(op);
    ++bounded;
  }
  EXPECT_EQ(bounded, 3) << "/tmp, /dev/shm and --tmpfs";
}

TEST(MountPlan, ACallersTmpfsIsTheProgramsUnlessItsOptionsSayOtherwise) {
  RunOptions options = options_for("/srv/jail");
  options.identity.uid = 33;
  options.identity.gid = 34;
  JailMount given{JailMount::Kind::Tmpfs, "", "/srv/given", {}};
  given.tmpfs = {.mode = 01770, .uid = 0, .gid = 50, .size = "1m"};
  options.mounts = {{JailMount::Kind::Tmpfs, "", "/srv/cache", {}}, given};
  const std::vector<MountOp> ops = plan_mounts(options, 7, {}, true);
  const std::vector<MountOp> cache = on(ops, "/srv/cache");
  ASSERT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache[0].data, "mode=0755,uid=33,gid=34,size=64m");
  const std::vector<MountOp> set = on(ops, "/srv/given");
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].data, "mode=1770,uid=0,gid=50,size=1m");
}

TEST(MountPlan, GeneratedEtcFilesAreLaidOverEtcReadOnlyAfterTheCallersMountsAndBeforeTheLastRemount) {
  RunOptions options;
  options.mounts.push_back({.kind = JailMount::Kind::Tmpfs, .source = "", .target = "/srv", .tmpfs = {}});
  EXPECT_TRUE(on(plan_mounts(options, 7, {}, true), "/etc").empty()) << "nothing over /etc unless asked";
  const std::vector<GeneratedFile> files{{"passwd", "root:x:0:0::/:/bin/sh\n"}, {"group", "root:x:0:\n"}};
  const std::vector<MountOp> ops = plan_mounts(options, 7, {}, true, files);
  const std::vector<MountOp> etc = on(ops, "/etc");
  ASSERT_EQ(etc.size(), 1U);
  EXPECT_EQ(etc[0].kind, MountKind::Generated);
  EXPECT_EQ(etc[0].flags, static_cast<unsigned long>(MS_RDONLY | MS_NOSUID | MS_NODEV));
  EXPECT_EQ(etc[0].reach, Reach::Walk);  // through the root's /etc without following a symlink
  EXPECT_EQ(etc[0].data, "mode=0755,size=12288");  // bounded: a page per file and one for the directory
  ASSERT_EQ(etc[0].files.size(), 2U);
  EXPECT_EQ(etc[0].files[0].name, "passwd");
  ASSERT_GE(ops.size(), 3U);
  EXPECT_EQ(ops[ops.size() - 3].destination, "/srv");
  EXPECT_EQ(ops[ops.size() - 2].kind, MountKind::Generated);
  EXPECT_EQ(ops.back().kind, MountKind::Remount);
  EXPECT_TRUE(describe(etc[0]).starts_with("generated /etc (ro,nosuid,nodev,mode=0755,size=12288) [passwd 22 bytes, "
                                            "group 10 bytes]: "))
      << describe(etc[0]);
}

TEST(GeneratedUserDatabase, LinesCarryNoPasswordNoMembersAndRefuseColonsAndNewlines) {
  Account www{.name = "www-data", .uid = 33, .gid = 33, .home = "/var/www", .gecos = "www", .shell = "/bin/false"};
  auto line = passwd_line(www);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "www-data:x:33:33:www:/var/www:/bin/false\n");
  for (std::string Account::*field : {&Account::name, &Account::gecos, &Account::home, &Account::shell}) {
    for (const char* bad : {"a:0:0::/:/bin/sh", "a\nroot2:x:0:0::/:/bin/sh"}) {
      Account forged = www;
      forged.*field = bad;
      const auto refused = passwd_line(forged);
      ASSERT_FALSE(refused) << *refused;
      EXPECT_NE(refused.error().message.find("holds ':' or a newline"), std::string::npos) << refused.error().message;
    }
  }
  EXPECT_EQ(*group_line({.name = "www-data", .gid = 33}), "www-data:x:33:\n");
  EXPECT_FALSE(group_line({.name = "adm:x:4:root", .gid = 4}));
  EXPECT_FALSE(group_line({.name = "adm\nwheel", .gid = 4}));
}

TEST(MountPlan, DescribeNamesTheOperationItsPathsFlagsAndWhy) {
  const MountOp op{.kind = MountKind::ReadOnlyBind,
                   .destination = "/srv/site",
                   .source = "/var/www",
                   .flags = MS_NOSUID | MS_NODEV,
                   .why = "--ro-bind"};
  EXPECT_EQ(name_of(op), "ro-bind /srv/site from /var/www");
  EXPECT_EQ(describe(op), "ro-bind /srv/site from /var/www (nosuid,nodev): --ro-bind");
  const MountOp device{.kind = MountKind::Device, .destination = "/dev/null", .device = ::makedev(1, 3), .why = "x"};
  EXPECT_EQ(describe(device), "device /dev/null (1,3): x");
}

}  // namespace
}  // namespace jailbuild::run
