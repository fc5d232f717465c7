// `jailbuild run` options as a user writes them, in a root built by the real `jailbuild add` and
// judged by real programs run in it: --cap and --groups take one word (a comma list, or the option
// repeated), and a second word meant for them, which the command line takes as ROOT, is named as
// such; --tmpfs DIR:mode=,uid=,gid=,size= makes a tmpfs the program (run with -u) can write, with
// the owner the program sees, in the default user namespace and with --host-root, and nothing of
// a spec reaches tmpfs's options but the four checked values.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"
#include "support/proc_status.hpp"
#include "support/spawned.hpp"

namespace jailbuild {
namespace {

using namespace testing;

constexpr int kRunFailed = 125;  // run's usage errors and setup failures
const std::string kShell = "/usr/bin/sh";

#define REQUIRE_ROOT(why) \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << why

class RunOptionWords : public JailSuite {
 protected:
  static void SetUpTestSuite() {
    if (!make_suite_directory("words")) return;
    const ProcessResult added =
        run_jailbuild(add_args({kShell, "/usr/bin/cat", "/usr/bin/ls", "/usr/bin/id"}, root_, state_));
    if (added.exit_code != kExitOk) setup_error_ = "add: " + added.describe();
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static Outcome run(const std::vector<std::string>& options, const std::vector<std::string>& command) {
    return Spawned(run_argv(options, command), kPlainEnv).finish();
  }
  static Outcome shell(const std::vector<std::string>& options, const std::string& script) {
    return run(options, {kShell, "-c", script});
  }

  // The mountinfo line of the mount at `where` in the jail, as the jail's /proc shows it.
  static std::string mountinfo_line(const Outcome& outcome, const std::string& where) {
    std::istringstream lines(outcome.out);
    for (std::string line; std::getline(lines, line);)
      if (contains(line, " " + where + " ")) return line;
    return "(no mount at " + where + ")";
  }

  // "www-data"'s uid and gid on this host, as text; nullopt when it has none.
  static std::optional<std::pair<std::string, std::string>> www_data() {
    const passwd* entry = ::getpwnam("www-data");
    if (entry == nullptr) return std::nullopt;
    return std::pair{std::to_string(entry->pw_uid), std::to_string(entry->pw_gid)};
  }
};

// ---- --cap and --groups: one word each ------------------------------------------------------

TEST_F(RunOptionWords, CapTakesACommaListOrOneNamePerOccurrence) {
  REQUIRE_ROOT("keeps capabilities for another user");
  const std::string expected = "0000000000000420";  // CAP_NET_BIND_SERVICE (10) | CAP_KILL (5)
  for (const std::vector<std::string>& options :
       {std::vector<std::string>{"-u", "nobody", "--cap", "NET_BIND_SERVICE,KILL"},
        {"-u", "nobody", "--cap", "NET_BIND_SERVICE", "--cap", "kill"}}) {
    const Outcome outcome = run(options, {"cat", "/proc/self/status"});
    EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
    for (const char* set : {"CapEff", "CapPrm", "CapBnd", "CapAmb"})
      EXPECT_EQ(status_field(outcome.out, set), expected) << set << "\n" << outcome.describe();
  }
  // The control: one name keeps one capability, so the list above kept both.
  const Outcome one = run({"-u", "nobody", "--cap", "NET_BIND_SERVICE"}, {"cat", "/proc/self/status"});
  EXPECT_EQ(status_field(one.out, "CapEff"), "0000000000000400") << one.describe();
}

TEST_F(RunOptionWords, AnUnknownCapabilityInAListIsAUsageErrorNamingIt) {
  for (const std::string list : {"NET_BIND_SERVICE,NO_SUCH_CAP", "NO_SUCH_CAP", "SETUID;KILL", "SETUID KILL"}) {
    const Outcome outcome = shell({"--cap", list}, "echo ran");
    EXPECT_EQ(outcome.exit_code, kRunFailed) << list << "\n" << outcome.describe();
    EXPECT_FALSE(contains(outcome.out, "ran")) << outcome.describe();
    EXPECT_TRUE(contains(outcome.err, "--cap")) << outcome.describe();
  }
  const Outcome named = shell({"--cap", "NET_BIND_SERVICE,NO_SUCH_CAP"}, "echo ran");
  EXPECT_TRUE(contains(named.err, "--cap NO_SUCH_CAP: no such capability")) << named.describe();
}

TEST_F(RunOptionWords, ASecondWordAfterCapOrGroupsIsNamedAsTheMistakeItIs) {
  // `--cap SETUID SETGID ROOT ...`: SETGID is where ROOT goes. No root of that name exists, so the
  // error names the word, the option it follows and the two ways to write a list.
  const std::vector<std::string> cap{JAILBUILD_BINARY, "run", "--cap", "SETUID", "SETGID", root_, "id"};
  const Outcome by_cap = Spawned(cap, kPlainEnv).finish();
  EXPECT_EQ(by_cap.exit_code, kRunFailed) << by_cap.describe();
  EXPECT_TRUE(contains(by_cap.err, "SETGID: no such root; it follows `--cap SETUID`")) << by_cap.describe();
  EXPECT_TRUE(contains(by_cap.err, "--cap SETUID,SETGID or --cap SETUID --cap SETGID")) << by_cap.describe();
  EXPECT_EQ(by_cap.out, "") << by_cap.describe();

  const std::vector<std::string> groups{JAILBUILD_BINARY, "run", "--groups", "adm", "50", root_, "id"};
  const Outcome by_groups = Spawned(groups, kPlainEnv).finish();
  EXPECT_EQ(by_groups.exit_code, kRunFailed) << by_groups.describe();
  EXPECT_TRUE(contains(by_groups.err, "50: no such root; it follows `--groups adm`")) << by_groups.describe();
  EXPECT_TRUE(contains(by_groups.err, "--groups adm,50")) << by_groups.describe();

  // A single-valued option says it takes one.
  const std::vector<std::string> user{JAILBUILD_BINARY, "run", "-u", "nobody", "extra", root_, "id"};
  const Outcome by_user = Spawned(user, kPlainEnv).finish();
  EXPECT_EQ(by_user.exit_code, kRunFailed) << by_user.describe();
  EXPECT_TRUE(contains(by_user.err, "extra: no such root; it follows `--user nobody`, and --user takes one value"))
      << by_user.describe();

  // The control: a missing root after a flag, or after a whole option, is just a missing root.
  const std::vector<std::string> plain{JAILBUILD_BINARY, "run", "--writable", "/no/such/root", "id"};
  const Outcome missing = Spawned(plain, kPlainEnv).finish();
  EXPECT_EQ(missing.exit_code, kRunFailed) << missing.describe();
  EXPECT_TRUE(contains(missing.err, "/no/such/root")) << missing.describe();
  EXPECT_FALSE(contains(missing.err, "it follows")) << missing.describe();
}

// ---- --tmpfs DIR:mode=,uid=,gid=,size= --------------------------------------------------------

// The brief's server: run as www-data, it writes to its own tmpfs, and sees itself as the owner of
// it and of what it wrote, in the default user namespace and with --host-root.
TEST_F(RunOptionWords, TmpfsOwnedByTheUserItNamesIsWritableByAServerRunAsThatUser) {
  REQUIRE_ROOT("runs as www-data");
  const auto ids = www_data();
  if (!ids) GTEST_SKIP() << "no www-data on this host";
  const auto& [uid, gid] = *ids;
  const std::string script = "echo cached > /srv/cache/x && ls -lnd /srv/cache && ls -ln /srv/cache";
  for (const std::vector<std::string>& mode : {std::vector<std::string>{}, {"--host-root"}}) {
    std::vector<std::string> options = mode;
    for (const char* word : {"-u", "www-data", "--tmpfs", "/srv/cache:uid=www-data,mode=0700"})
      options.push_back(word);
    const Outcome outcome = shell(options, script);
    const std::string which = mode.empty() ? "user namespace" : "--host-root";
    EXPECT_EQ(outcome.exit_code, 0) << which << "\n" << outcome.describe();
    const std::vector<std::string> lines = lines_of(outcome.out);
    ASSERT_EQ(lines.size(), 3u) << which << "\n" << outcome.describe();
    std::istringstream directory(lines[0]), file(lines[2]);
    std::string permissions, links, owner, group;
    directory >> permissions >> links >> owner >> group;
    EXPECT_EQ(permissions, "drwx------") << which << "\n" << outcome.describe();
    EXPECT_EQ(owner, uid) << which << "\n" << outcome.describe();
    EXPECT_EQ(group, gid) << which << ": the gid defaults to the program's\n" << outcome.describe();
    file >> permissions >> links >> owner >> group;
    EXPECT_EQ(owner, uid) << which << "\n" << outcome.describe();
    EXPECT_TRUE(lines[2].ends_with(" x")) << which << "\n" << outcome.describe();
  }
  // The control: a tmpfs given to root (uid=0, as every --tmpfs was) is not www-data's to write.
  const Outcome root_owned = shell({"-u", "www-data", "--tmpfs", "/srv/cache:uid=0"}, script);
  EXPECT_NE(root_owned.exit_code, 0) << root_owned.describe();
  EXPECT_TRUE(contains(root_owned.err, "Permission denied")) << root_owned.describe();
}

TEST_F(RunOptionWords, APlainTmpfsBelongsToTheProgramsUserAndGroup) {
  REQUIRE_ROOT("runs as www-data");
  const auto ids = www_data();
  if (!ids) GTEST_SKIP() << "no www-data on this host";
  const Outcome outcome = shell({"-u", "www-data", "--tmpfs", "/srv/cache"},
                                "echo cached > /srv/cache/x && cat /srv/cache/x && ls -lnd /srv/cache");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.describe();
  const std::vector<std::string> lines = lines_of(outcome.out);
  ASSERT_EQ(lines.size(), 2u) << outcome.describe();
  EXPECT_EQ(lines[0], "cached") << outcome.describe();
  std::istringstream directory(lines[1]);
  std::string permissions, links, owner, group;
  directory >> permissions >> links >> owner >> group;
  EXPECT_EQ(permissions, "drwxr-xr-x") << outcome.describe();
  EXPECT_EQ(owner + ":" + group, ids->first + ":" + ids->second) << outcome.describe();

  // As root, the default stays root's (the jail's root: the jail's uid 0).
  const Outcome as_root = shell({"--tmpfs", "/srv/cache"}, "ls -lnd /srv/cache");
  std::istringstream root_line(as_root.out);
  root_line >> permissions >> links >> owner >> group;
  EXPECT_EQ(owner + ":" + group, "0:0") << as_root.describe();
}

// uid= and gid= are the jail's ids: uid=0 is the jail's root, which the host knows as the first id
// of jailbuild's range in the user namespace, and as its own root with --host-root. The kernel's
// mountinfo shows the host's view, ls inside the jail's.
TEST_F(RunOptionWords, TmpfsIdsAreTheJailsIdsInEitherMode) {
  REQUIRE_ROOT("a user namespace with jailbuild's range");
  const std::optional<unsigned> range_start = jail_root_id();
  ASSERT_TRUE(range_start);
  const std::string script = "ls -lnd /srv/cache; cat /proc/self/mountinfo";
  const Outcome namespaced = shell({"--tmpfs", "/srv/cache:uid=0,gid=0,size=1m,mode=1777"}, script);
  ASSERT_EQ(namespaced.exit_code, 0) << namespaced.describe();
  EXPECT_TRUE(namespaced.out.starts_with("drwxrwxrwt 2 0 0 ")) << namespaced.describe();
  const std::string line = mountinfo_line(namespaced, "/srv/cache");
  EXPECT_TRUE(contains(line, "size=1024k")) << line;
  EXPECT_TRUE(contains(line, "uid=" + std::to_string(*range_start))) << line;

  const Outcome host = shell({"--host-root", "-u", "65534", "--tmpfs", "/srv/cache:uid=12345,gid=54321"}, script);
  ASSERT_EQ(host.exit_code, 0) << host.describe();
  EXPECT_TRUE(host.out.starts_with("drwxr-xr-x 2 12345 54321 ")) << host.describe();
  EXPECT_TRUE(contains(mountinfo_line(host, "/srv/cache"), "uid=12345,gid=54321")) << host.describe();

  // An id the namespace does not map cannot own anything in it: a usage error, before the jail.
  const Outcome unmapped = shell({"--tmpfs", "/srv/cache:uid=12345"}, "echo ran");
  EXPECT_EQ(unmapped.exit_code, kRunFailed) << unmapped.describe();
  EXPECT_TRUE(contains(unmapped.err, "--tmpfs /srv/cache: uid 12345 is not an id of the jail")) << unmapped.describe();
  EXPECT_FALSE(contains(unmapped.out, "ran")) << unmapped.describe();
}

TEST_F(RunOptionWords, TmpfsSpecsAreCheckedStrictlyAndCannotAddOptions) {
  const std::vector<std::pair<std::string, std::string>> mistakes{
      {"/srv/cache:mode=0700,nr_inodes=1", "unknown option 'nr_inodes'"},
      {"/srv/cache:uid=0,size=1m,huge=always", "unknown option 'huge'"},
      {"/srv/cache:mode=0700x", "mode=0700x"},
      {"/srv/cache:mode=99", "mode=99"},
      {"/srv/cache:mode=017777", "mode=017777"},
      {"/srv/cache:size=0", "size=0"},
      {"/srv/cache:size=1m,nr_inodes=1", "nr_inodes"},
      {"/srv/cache:size=1m=2", "size=1m=2"},
      {"/srv/cache:uid=", "'uid='"},
      {"/srv/cache:uid=no-such-user-jailbuild", "no user named 'no-such-user-jailbuild'"},
      {"/srv/cache:gid=no-such-group-jailbuild", "no group named 'no-such-group-jailbuild'"},
      {"/srv/cache:mode=0700,mode=0755", "mode is given twice"},
      {"/srv/cache:", "expected KEY=VALUE"},
      {"/srv/cache:mode=0700,", "expected KEY=VALUE"},
      {"relative:mode=0700", "must be absolute"},
  };
  for (const auto& [spec, named] : mistakes) {
    const Outcome outcome = shell({"--tmpfs", spec}, "echo ran");
    EXPECT_EQ(outcome.exit_code, kRunFailed) << spec << "\n" << outcome.describe();
    EXPECT_TRUE(contains(outcome.err, "--tmpfs " + spec + ": ")) << spec << "\n" << outcome.describe();
    EXPECT_TRUE(contains(outcome.err, named)) << spec << "\n" << outcome.describe();
    EXPECT_FALSE(contains(outcome.out, "ran")) << spec << "\n" << outcome.describe();
  }
}

}  // namespace
}  // namespace jailbuild
