// The rules users, hosts, dns and nss end to end: roots built by `jailbuild add PROG` alone, real
// programs run in them by `jailbuild run` naming users, groups, hosts and services, their OUTPUT
// checked, each beside its control, the same root built `--without RULE`, where the same command
// fails or prints numbers. And what the root holds: generated files with no host user not asked
// for, no password, no /etc/shadow; `add --user` and the `sync` that repeats it.
//
// The roots are under /var/tmp (JailSuite): the jail mounts a fresh tmpfs on /tmp.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/rule_suite.hpp"
#include "rules/rule_context.hpp"
#include "util/users.hpp"

namespace jailbuild {
namespace {

using namespace testing;

const std::string kId = "/usr/bin/id";
const std::string kLs = "/usr/bin/ls";
const std::string kGetent = "/usr/bin/getent";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first field of each line of a passwd or group file.
std::vector<std::string> names_in(const std::string& text) {
  std::vector<std::string> names;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) names.push_back(line.substr(0, line.find(':')));
  return names;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A host user other than root and nobody that the tests can name with `add --user`: daemon on
// Debian, else www-data; empty (the tests that need one skip) when the host has neither.
std::string host_user() {
  for (const char* name : {"daemon", "www-data"})
    if (account_by_name(name)) return name;
  return "";
}

class UsersHostsNss : public RuleSuite {
 protected:
  static void SetUpTestSuite() { make_suite_directory("users"); }

  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root: jailbuild run";
    }
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

};

// ---- nss: a module the host's nsswitch.conf names ---------------------------------------------------

// A host whose nsswitch.conf names a service libc does not hold itself: `compat` (libnss_compat.so.2,
// which Debian 12's libc6 ships beside libc). The host's conf is not changed: `add` runs in a mount
// namespace of its own where a test conf is bound over /etc/nsswitch.conf. The root gets the
// module, and `id -un` in the jail finds root through it (the conf names no other passwd service).
// The control: the same root without the module, where the name is not found.
TEST_F(UsersHostsNss, NssBringsTheModuleTheHostsConfNames) {
  const std::string module = "/usr/lib/x86_64-linux-gnu/libnss_compat.so.2";
  if (!std::filesystem::exists(module)) GTEST_SKIP() << "no " << module << " on this host";
  const std::string conf = dir_ + "/nsswitch-compat.conf";
  write_file(conf, "passwd: compat\ngroup: compat\n");
  const std::string root = dir_ + "/nss-compat";
  // unshare ... sh -c 'mount --bind CONF /etc/nsswitch.conf && exec jailbuild add ...' CONF
  std::vector<std::string> argv{"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                                "mount --bind \"$0\" /etc/nsswitch.conf && exec \"$@\"", conf, JAILBUILD_BINARY};
  for (const std::string& arg : add_args({kId}, root, state_, {"-v"})) argv.push_back(arg);
  const ProcessResult added = run_process(argv, kPlainEnv);
  ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  EXPECT_EQ(read_text("/etc/nsswitch.conf").find("passwd: compat\ngroup: compat\n"), std::string::npos)
      << "the host's conf is untouched";
  EXPECT_EQ(read_text(root + "/etc/nsswitch.conf"), "passwd: compat\ngroup: compat\n");
  ASSERT_TRUE(holds(root, "/lib/x86_64-linux-gnu/libnss_compat.so.2") ||
              holds(root, "/usr/lib/x86_64-linux-gnu/libnss_compat.so.2"))
      << list_of(root);
  EXPECT_TRUE(contains(list_of(root), "libnss_compat.so.2")) << list_of(root);
  const ProcessResult named = run_in(root, {kId, "-un"});
  EXPECT_EQ(named.exit_code, 0) << named.describe();
  EXPECT_EQ(named.output, "root\n") << named.describe();

  // The control: the module taken out of the root, the conf left naming it.
  for (const char* dir : {"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/"})
    std::filesystem::remove(root + dir + "libnss_compat.so.2");
  const ProcessResult unnamed = run_in(root, {kId, "-un"});
  EXPECT_NE(unnamed.exit_code, 0) << unnamed.describe();
  EXPECT_NE(unnamed.output, "root\n") << unnamed.describe();
}

// ---- users ----------------------------------------------------------------------------------------

TEST_F(UsersHostsNss, UsersLetIdAndLsNameRoot) {
  const std::string root = root_with("users", {kId, kLs});
  const ProcessResult user = run_in(root, {kId, "-un"});
  EXPECT_EQ(user.exit_code, 0) << user.describe();
  EXPECT_EQ(user.output, "root\n");
  const ProcessResult group = run_in(root, {kId, "-gn"});
  EXPECT_EQ(group.output, "root\n") << group.describe();
  // The jail's root owns nothing of the root (its files are the host root's, which the user
  // namespace does not map): ls names that owner nobody, nogroup, from the generated files.
  const ProcessResult listed = run_in(root, {kLs, "-ln", "/etc/passwd"});
  const ProcessResult named = run_in(root, {kLs, "-l", "/etc/passwd"});
  EXPECT_EQ(named.exit_code, 0) << named.describe();
  std::istringstream numeric(listed.output), words(named.output);
  std::string mode, links, uid, gid, owner, owner_group;
  numeric >> mode >> links >> uid >> gid;
  words >> mode >> links >> owner >> owner_group;
  const auto expected_owner = account_by_uid(static_cast<uid_t>(std::stoul(uid)));
  ASSERT_TRUE(expected_owner) << listed.describe();
  EXPECT_EQ(owner, expected_owner->name) << named.describe();
  EXPECT_EQ(owner_group, group_by_id(static_cast<gid_t>(std::stoul(gid)))->name) << named.describe();
  EXPECT_NE(owner, uid) << "a name, not the number";

  const std::string listing = list_of(root);
  EXPECT_TRUE(contains(listing, "rule users: /usr/bin/id imports ")) << listing;
}

TEST_F(UsersHostsNss, WithoutUsersIdCannotNameRootAndLsPrintsNumbers) {
  const std::string root = root_with("users-off", {kId, kLs}, {"--without", "users"});
  const ProcessResult user = run_in(root, {kId, "-un"});
  EXPECT_NE(user.exit_code, 0) << user.describe();
  EXPECT_TRUE(contains(user.output, "cannot find name for user ID 0")) << user.describe();
  EXPECT_FALSE(holds(root, "/etc/passwd"));
  EXPECT_FALSE(holds(root, "/etc/group"));
  const ProcessResult listed = run_in(root, {kLs, "-l", "/usr/bin/id"});
  const ProcessResult numeric = run_in(root, {kLs, "-ln", "/usr/bin/id"});
  EXPECT_EQ(listed.exit_code, 0) << listed.describe();
  EXPECT_EQ(listed.output, numeric.output) << "with no names, ls -l prints the numbers";
}

// `--user` with the rule off writes nothing for the user: the add that brings the two together
// says so, a later add that does neither does not say it again.
TEST_F(UsersHostsNss, AUserNamedWithTheRuleOffIsWarnedOfOnce) {
  const std::string user = host_user();
  if (user.empty()) {
    GTEST_SKIP() << "the host has neither daemon nor www-data";
  }
  const std::string root = dir_ + "/users-named-off";
  const ProcessResult added = run_jailbuild(add_args({kId}, root, state_, {"--without", "users", "--user", user}));
  EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
  EXPECT_TRUE(contains(added.output, "--user " + user + ": rule users is off")) << added.describe();
  EXPECT_FALSE(holds(root, "/etc/passwd"));
  const ProcessResult later = run_jailbuild(add_args({kLs}, root, state_));
  EXPECT_EQ(later.exit_code, kExitOk) << later.describe();
  EXPECT_FALSE(contains(later.output, "rule users is off")) << later.describe();
  // The control: the rule on again, the user is written and nothing is said.
  const ProcessResult on = run_jailbuild(add_args({kLs}, root, state_, {"--with", "users"}));
  EXPECT_EQ(on.exit_code, kExitOk) << on.describe();
  EXPECT_FALSE(contains(on.output, "rule users is off")) << on.describe();
  EXPECT_TRUE(has(names_in(read_text(root + "/etc/passwd")), user));
}

TEST_F(UsersHostsNss, TheRootsFilesHoldOnlyWhatWasAskedForAndNoPassword) {
  const std::string user = host_user();
  if (user.empty()) {
    GTEST_SKIP() << "the host has neither daemon nor www-data";
  }
  const std::string root = root_with("users-named", {kId}, {"--user", user});
  const std::string passwd = read_text(root + "/etc/passwd");
  const std::string group = read_text(root + "/etc/group");
  // Exactly root, the user asked for, nobody: no other host user leaves the host.
  EXPECT_EQ(names_in(passwd), (std::vector<std::string>{"root", user, "nobody"})) << passwd;
  // The lines are the host's NSS's, as getent gives them, the password x.
  for (const std::string& name : {std::string("root"), user, std::string("nobody")}) {
    const ProcessResult host = run_process({kGetent, "passwd", name}, kPlainEnv);
    ASSERT_EQ(host.exit_code, 0) << host.describe();
    std::string expected = host.output;
    const std::size_t first = expected.find(':');
    expected.replace(first + 1, expected.find(':', first + 1) - first - 1, "x");
    EXPECT_TRUE(contains(passwd, expected)) << passwd << " lacks " << expected;
  }
  EXPECT_FALSE(holds(root, "/etc/shadow"));
  EXPECT_FALSE(holds(root, "/etc/gshadow"));
  // Its primary group, root's, nogroup; each group line without a password.
  const auto account = account_by_name(user);
  const auto primary = group_by_id(account->gid);
  ASSERT_TRUE(primary);
  const std::vector<std::string> groups = names_in(group);
  EXPECT_TRUE(has(groups, "root")) << group;
  EXPECT_TRUE(has(groups, primary->name)) << group;
  EXPECT_TRUE(has(groups, "nogroup")) << group;
  std::istringstream lines(group);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.substr(line.find(':'), 3), ":x:") << line;
    // A member is only ever a user the file holds.
    const std::string members = line.substr(line.rfind(':') + 1);
    std::istringstream each(members);
    for (std::string member; std::getline(each, member, ',');)
      EXPECT_TRUE(has(names_in(passwd), member)) << line;
  }

  // run -u NAME names itself from the root's own file: no overlay is needed (-v would say so).
  const ProcessResult named =
      run_process({JAILBUILD_BINARY, "-v", "run", "-u", user, root, kId, "-un"}, kPlainEnv);
  EXPECT_EQ(named.exit_code, 0) << named.describe();
  EXPECT_TRUE(named.output.ends_with(user + "\n")) << named.describe();
  EXPECT_FALSE(contains(named.output, "lacks the run's user")) << named.describe();
}

TEST_F(UsersHostsNss, AUserAddedLaterIsKeptBySync) {
  const std::string user = host_user();
  if (user.empty()) {
    GTEST_SKIP() << "the host has neither daemon nor www-data";
  }
  const std::string root = root_with("users-later", {kId});
  EXPECT_FALSE(has(names_in(read_text(root + "/etc/passwd")), user));
  const ProcessResult added = run_jailbuild(add_args({kId}, root, state_, {"--user", user}));
  EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
  EXPECT_TRUE(has(names_in(read_text(root + "/etc/passwd")), user));
  const std::string before = read_text(root + "/etc/passwd") + read_text(root + "/etc/group");
  // sync plans again from the root's intent: the user is in it.
  const ProcessResult synced = run_jailbuild({"sync", root, "--state-dir", state_});
  EXPECT_EQ(synced.exit_code, kExitOk) << synced.describe();
  EXPECT_EQ(read_text(root + "/etc/passwd") + read_text(root + "/etc/group"), before);
  EXPECT_TRUE(contains(list_of(root), "users (add --user): " + user + "\n")) << "the manifest records the user";
  // A later add without --user keeps it too.
  const ProcessResult again = run_jailbuild(add_args({kLs}, root, state_));
  EXPECT_EQ(again.exit_code, kExitOk) << again.describe();
  EXPECT_TRUE(has(names_in(read_text(root + "/etc/passwd")), user));
  const ProcessResult named = run_in(root, {kId, "-un"}, {"-u", user});
  EXPECT_EQ(named.output, user + "\n") << named.describe();
}

TEST_F(UsersHostsNss, AnUnknownOrMalformedUserIsAUsageErrorNamingIt) {
  const std::string root = dir_ + "/users-unknown";
  for (const std::string& name : {std::string("jb-no-such-user"), std::string("root:x"), std::string("a\nb")}) {
    const ProcessResult refused = run_jailbuild(add_args({kId}, root, state_, {"--user", name}));
    EXPECT_EQ(refused.exit_code, kExitUsage) << refused.describe();
    EXPECT_TRUE(contains(refused.output, name)) << refused.output;
    EXPECT_FALSE(holds(root, kId)) << "nothing is added after a usage error";
  }
}

// ---- hosts and dns --------------------------------------------------------------------------------

TEST_F(UsersHostsNss, HostsResolveLocalhostWithoutANetwork) {
  const std::string root = root_with("hosts", {kGetent});
  const ProcessResult found = run_in(root, {kGetent, "hosts", "localhost"}, {"--net", "none"});
  EXPECT_EQ(found.exit_code, 0) << found.describe();
  EXPECT_TRUE(found.output.starts_with("::1 ") || found.output.starts_with("127.0.0.1 ")) << found.describe();
  EXPECT_TRUE(contains(found.output, " localhost")) << found.describe();
  // Both loopback addresses (host.conf's "multi on"), through getaddrinfo.
  const ProcessResult both = run_in(root, {kGetent, "ahosts", "localhost"}, {"--net", "none"});
  EXPECT_EQ(both.exit_code, 0) << both.describe();
  EXPECT_TRUE(contains(both.output, "127.0.0.1 ") && contains(both.output, "::1 ")) << both.describe();
  EXPECT_EQ(read_text(root + "/etc/host.conf"), "multi on\n");
  // The host's names are not the jail's: only the loopback lines.
  char hostname[256] = {};
  ASSERT_EQ(::gethostname(hostname, sizeof hostname - 1), 0);
  if (std::string(hostname) != "localhost") {
    EXPECT_FALSE(contains(read_text(root + "/etc/hosts"), hostname));
  }
  EXPECT_FALSE(holds(root, "/etc/resolv.conf")) << "dns is off by default";
}

TEST_F(UsersHostsNss, WithoutHostsLocalhostIsNotFound) {
  // glibc without /etc/hosts asks DNS at 127.0.0.1:53, which nothing answers in --net none.
  const std::string root = root_with("hosts-off", {kGetent}, {"--without", "hosts"});
  const ProcessResult missing = run_in(root, {kGetent, "hosts", "localhost"}, {"--net", "none"});
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();  // getent: key not found
  EXPECT_EQ(missing.output, "");
  EXPECT_FALSE(holds(root, "/etc/hosts"));
}

TEST_F(UsersHostsNss, DnsGivesTheHostsResolverAsARegularFile) {
  if (!holds("", "/etc/resolv.conf")) {
    GTEST_SKIP() << "the host has no /etc/resolv.conf";
  }
  const std::string root = root_with("dns", {kGetent}, {"--with", "dns"});
  ASSERT_TRUE(holds(root, "/etc/resolv.conf"));
  EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(root + "/etc/resolv.conf")));
  const std::string host = read_text("/etc/resolv.conf");
  if (!contains(host, "127.0.0.53")) {
    EXPECT_EQ(read_text(root + "/etc/resolv.conf"), host);
  }
  EXPECT_TRUE(contains(list_of(root), "rule dns: /usr/bin/getent imports "));
}

// `add --with dns` on a host whose /etc/resolv.conf is a symlink into /run, as systemd-resolved
// and resolvconf make it. The host is not changed: `add` runs in a mount namespace of its own
// where /etc is an overlay over the host's (its resolv.conf replaced by the symlink) and /run a
// fresh tmpfs holding what the symlink leads to. Returns the root's resolv.conf, "" when the root
// has none; `regular` says whether it is a regular file.
std::string resolv_conf_added_with_dns(const std::string& dir, const std::string& name, const std::string& link_target,
                                       const std::string& stub_text, const std::string& upstream_text, bool& regular) {
  const std::string scratch = dir + "/" + name + "-etc";
  std::filesystem::create_directories(scratch);
  const std::string root = dir + "/" + name;
  // sh -c SCRIPT SCRATCH TARGET STUB UPSTREAM JAILBUILD ARGS...
  const std::string script =
      "mount -t tmpfs tmpfs \"$0\" && mkdir \"$0/up\" \"$0/work\" &&"
      " mount -t overlay overlay -o lowerdir=/etc,upperdir=\"$0/up\",workdir=\"$0/work\" /etc &&"
      " mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/resolve /run/resolvconf &&"
      " printf %s \"$2\" > /run/systemd/resolve/stub-resolv.conf &&"
      " printf %s \"$2\" > /run/resolvconf/resolv.conf &&"
      " printf %s \"$3\" > /run/systemd/resolve/resolv.conf &&"
      " ln -sf \"$1\" /etc/resolv.conf && shift 3 && exec \"$@\"";
  std::vector<std::string> argv{"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                                script, scratch, link_target, stub_text, upstream_text, JAILBUILD_BINARY};
  for (const std::string& arg : add_args({kGetent}, root, dir + "/state-" + name, {"--with", "dns"}))
    argv.push_back(arg);
  const ProcessResult added = run_process(argv, kPlainEnv);
  EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
  const std::string conf = root + "/etc/resolv.conf";
  regular = std::filesystem::is_regular_file(std::filesystem::symlink_status(conf));
  return std::filesystem::exists(std::filesystem::symlink_status(conf)) ? read_text(conf) : "";
}

TEST_F(UsersHostsNss, DnsFollowsTheHostsSymlinkIntoRun) {
  const std::string host_before = read_text("/etc/resolv.conf");
  bool regular = false;
  const std::string conf = resolv_conf_added_with_dns(dir_, "dns-resolvconf", "../run/resolvconf/resolv.conf",
                                                      "nameserver 192.0.2.1\nsearch example.test\n", "", regular);
  EXPECT_TRUE(regular) << "a symlink into the host's /run would dangle in the jail";
  EXPECT_EQ(conf, "nameserver 192.0.2.1\nsearch example.test\n");
  EXPECT_EQ(read_text("/etc/resolv.conf"), host_before) << "the host's resolv.conf is untouched";
}

// systemd-resolved's stub (127.0.0.53) answers on the host's loopback only: the root gets the
// servers resolved itself uses. The control: a resolv.conf naming another server besides the stub
// is taken as it is.
TEST_F(UsersHostsNss, DnsReplacesSystemdResolvedsStubByItsUpstreamServers) {
  bool regular = false;
  const std::string upstream = "nameserver 192.0.2.53\n";
  const std::string conf =
      resolv_conf_added_with_dns(dir_, "dns-stub", "../run/systemd/resolve/stub-resolv.conf",
                                 "nameserver 127.0.0.53\noptions edns0 trust-ad\n", upstream, regular);
  EXPECT_TRUE(regular);
  EXPECT_EQ(conf, upstream);

  const std::string mixed = "nameserver 127.0.0.53\nnameserver 192.0.2.9\n";
  const std::string kept = resolv_conf_added_with_dns(dir_, "dns-mixed", "../run/systemd/resolve/stub-resolv.conf",
                                                      mixed, upstream, regular);
  EXPECT_EQ(kept, mixed);
}

// ---- nss ------------------------------------------------------------------------------------------

TEST_F(UsersHostsNss, NssGivesTheHostsConfAndServices) {
  const std::string root = root_with("nss", {kGetent});
  const ProcessResult http = run_in(root, {kGetent, "services", "http"}, {"--net", "none"});
  EXPECT_EQ(http.exit_code, 0) << http.describe();
  EXPECT_TRUE(http.output.starts_with("http ") && contains(http.output, " 80/tcp")) << http.describe();
  const ProcessResult tcp = run_in(root, {kGetent, "protocols", "tcp"}, {"--net", "none"});
  EXPECT_TRUE(tcp.output.starts_with("tcp ") && contains(tcp.output, " 6")) << tcp.describe();
  if (holds("", "/etc/nsswitch.conf")) {
    const std::string conf = read_text(root + "/etc/nsswitch.conf");
    EXPECT_TRUE(contains(conf, "passwd:")) << conf;
    // Without the services only systemd's daemons answer, and so without their modules.
    EXPECT_FALSE(contains(conf, " systemd")) << conf;
    EXPECT_FALSE(contains(list_of(root), "libnss_systemd"));
  }
}

TEST_F(UsersHostsNss, WithoutNssServicesAreNotFound) {
  const std::string root = root_with("nss-off", {kGetent}, {"--without", "nss"});
  const ProcessResult http = run_in(root, {kGetent, "services", "http"}, {"--net", "none"});
  EXPECT_EQ(http.exit_code, 2) << http.describe();
  EXPECT_FALSE(holds(root, "/etc/services"));
  EXPECT_FALSE(holds(root, "/etc/nsswitch.conf"));
}

// The root's conf from the host's: the services only systemd's daemons answer go with their actions
// (left behind, "[!UNAVAIL=return]" would apply to `files` and stop every look-up there); every
// other line stays as the host wrote it, the services it names listed for their modules.
TEST(NsswitchConfForRoot, DropsSystemdsServicesWithTheirActionsAndKeepsTheRest) {
  std::vector<std::string> services;
  const std::string conf = nsswitch_conf_for_root(
      "# systemd is named here, in a comment\n"
      "passwd:         files systemd\n"
      "hosts:          files mymachines resolve [!UNAVAIL=return] dns myhostname\n"
      "services:       db files\n"
      "netgroup:       nis # trailing\n",
      services);
  EXPECT_EQ(conf,
            "# systemd is named here, in a comment\n"
            "passwd: files\n"
            "hosts: files dns myhostname\n"
            "services:       db files\n"
            "netgroup:       nis # trailing\n");
  EXPECT_EQ(services, (std::vector<std::string>{"files", "dns", "myhostname", "db", "nis"}));
}

}  // namespace
}  // namespace jailbuild
