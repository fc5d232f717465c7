// What `run`'s command line turns into: bind specs, resource limits, capability names, host
// identities and the program's environment. Pure functions, checked against the host's own
// databases (getent) where they look things up.
#include <sys/capability.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jailbuild/run.hpp"

namespace jailbuild {
namespace {

std::string getent(const std::string& database, const std::string& key, int field) {
  const std::string command = "getent " + database + " " + key + " | cut -d: -f" + std::to_string(field);
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
    ::pclose(pipe);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST(RunOptions, BindSpecsTakeSourceAndTargetOrOnePathForBoth) {
  auto both = parse_bind(JailMount::Kind::ReadOnlyBind, "/srv/data:/data");
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->kind, JailMount::Kind::ReadOnlyBind);
  EXPECT_EQ(both->source, "/srv/data");
  EXPECT_EQ(both->target, "/data");
  auto same = parse_bind(JailMount::Kind::Bind, "/var/log");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->source, "/var/log");
  EXPECT_EQ(same->target, "/var/log");
}

TEST(RunOptions, BindSpecsThatCouldLeaveTheRootOrCoverItAreRefused) {
  for (const std::string spec :
       {"relative:/x", "/srv:relative", "/srv:/a/../../etc", "/srv:/..", "/srv:/", "/srv://", ":/x", "/srv:"}) {
    auto mount = parse_bind(JailMount::Kind::Bind, spec);
    if (mount) {
      ADD_FAILURE() << spec << " was accepted as " << mount->source << " -> " << mount->target;
      continue;
    }
    EXPECT_TRUE(mount.error().is_usage()) << spec;
  }
  EXPECT_TRUE(parse_bind(JailMount::Kind::Bind, "/srv:/a/..b/c"));  // "..b" is a name like any other
  EXPECT_FALSE(parse_tmpfs("cache"));
  EXPECT_FALSE(parse_tmpfs("/var/../.."));
  auto tmpfs = parse_tmpfs("/var/cache");
  ASSERT_TRUE(tmpfs);
  EXPECT_EQ(tmpfs->kind, JailMount::Kind::Tmpfs);
  EXPECT_EQ(tmpfs->target, "/var/cache");
}

TEST(RunOptions, ResourceLimitsTakeSetrlimitNamesAndNumbersOrUnlimited) {
  auto nofile = parse_resource_limit("nofile=64");
  ASSERT_TRUE(nofile) << nofile.error().message;
  EXPECT_EQ(nofile->resource, RLIMIT_NOFILE);
  EXPECT_EQ(nofile->soft, 64u);
  EXPECT_EQ(nofile->hard, 64u);
  auto core = parse_resource_limit("RLIMIT_CORE=0:unlimited");
  ASSERT_TRUE(core) << core.error().message;
  EXPECT_EQ(core->resource, RLIMIT_CORE);
  EXPECT_EQ(core->soft, 0u);
  EXPECT_EQ(core->hard, RLIM_INFINITY);
  auto stack = parse_resource_limit("STACK=unlimited");
  ASSERT_TRUE(stack);
  EXPECT_EQ(stack->soft, RLIM_INFINITY);
}

TEST(RunOptions, MalformedResourceLimitsAreRefusedWithTheReason) {
  auto unknown = parse_resource_limit("files=10");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown limit 'files'"), std::string::npos) << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("nofile"), std::string::npos) << "the known names are not listed";
  for (const std::string spec :
       {"nofile", "nofile=", "nofile=-1", "nofile=12k", "nofile=10:5", "nofile=unlimited:5", "nofile=1:2:3"})
    EXPECT_FALSE(parse_resource_limit(spec)) << spec;
}

TEST(RunOptions, CapabilitiesAreNamedWithOrWithoutTheCapPrefix) {
  for (const std::string name : {"NET_BIND_SERVICE", "net_bind_service", "CAP_NET_BIND_SERVICE"}) {
    auto capability = parse_capability(name);
    ASSERT_TRUE(capability) << name;
    EXPECT_EQ(*capability, CAP_NET_BIND_SERVICE) << name;
  }
  EXPECT_FALSE(parse_capability("NET_BIND"));
  EXPECT_FALSE(parse_capability("10")) << "a number is not a name";
  // libcap reads a name up to the first character that cannot be in one: a list is not a name.
  for (const std::string list : {"SETUID,SETGID", "setuid;setgid", "SETUID SETGID", "SETUID="})
    EXPECT_FALSE(parse_capability(list)) << list;
}

TEST(RunOptions, TmpfsOptionsAreModeUidGidAndSizeEachChecked) {
  auto plain = parse_tmpfs("/srv/cache");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_FALSE(plain->tmpfs.mode || plain->tmpfs.uid || plain->tmpfs.gid || plain->tmpfs.size);
  auto set = parse_tmpfs("/srv/cache:mode=1777,uid=0,gid=50,size=10M");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->target, "/srv/cache");
  EXPECT_EQ(set->tmpfs.mode, mode_t{01777});
  EXPECT_EQ(set->tmpfs.uid, uid_t{0});
  EXPECT_EQ(set->tmpfs.gid, gid_t{50});
  EXPECT_EQ(set->tmpfs.size, "10m");
  const std::string nobody_uid = getent("passwd", "nobody", 3);
  if (!nobody_uid.empty()) {
    auto named = parse_tmpfs("/srv/cache:uid=nobody");
    ASSERT_TRUE(named) << named.error().message;
    EXPECT_EQ(std::to_string(named->tmpfs.uid.value_or(0)), nobody_uid);
  }
  for (const std::string spec :
       {"/x:", "/x:mode", "/x:mode=", "/x:mode=8", "/x:mode=01777x", "/x:mode=07777,mode=0700", "/x:uid=-1",
        "/x:uid=no-such-user-jailbuild", "/x:gid=no-such-group-jailbuild", "/x:size=0", "/x:size=1t",
        "/x:nr_inodes=1", "/x:mode=0700,,uid=0", "/x:uid=0,nr_inodes=1", "/x:size=1m,mode=0700,", "x:mode=0700"}) {
    auto mount = parse_tmpfs(spec);
    if (mount) {
      ADD_FAILURE() << spec << " was accepted";
      continue;
    }
    EXPECT_TRUE(mount.error().is_usage()) << spec;
    EXPECT_TRUE(mount.error().message.starts_with("--tmpfs " + spec + ": ")) << mount.error().message;
  }
}

TEST(RunOptions, IdentitiesAreLookedUpOnTheHost) {
  const std::string nobody_uid = getent("passwd", "nobody", 3);
  const std::string nobody_gid = getent("passwd", "nobody", 4);
  const std::string nobody_home = getent("passwd", "nobody", 6);
  if (nobody_uid.empty()) GTEST_SKIP() << "no user 'nobody' on this host";
  auto nobody = resolve_identity(std::string("nobody"), std::nullopt, std::nullopt);
  ASSERT_TRUE(nobody) << nobody.error().message;
  EXPECT_EQ(std::to_string(nobody->uid), nobody_uid);
  EXPECT_EQ(std::to_string(nobody->gid), nobody_gid) << "not the user's primary group";
  EXPECT_TRUE(nobody->groups.empty()) << "supplementary groups were given unasked";
  EXPECT_EQ(nobody->home, nobody_home);

  auto chosen = resolve_identity(std::string("nobody"), std::string("0"), std::vector<std::string>{"root", "12345"});
  ASSERT_TRUE(chosen) << chosen.error().message;
  EXPECT_EQ(chosen->gid, 0u);
  EXPECT_EQ(chosen->groups, (std::vector<gid_t>{0, 12345}));

  auto numeric = resolve_identity(std::string("54321"), std::nullopt, std::nullopt);
  ASSERT_TRUE(numeric) << "a uid no account has is still a valid identity";
  EXPECT_EQ(numeric->uid, 54321u);
  EXPECT_EQ(numeric->gid, 54321u);
  EXPECT_EQ(numeric->home, "/");

  auto caller = resolve_identity(std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->uid, ::getuid());
  EXPECT_EQ(caller->gid, ::getgid());
}

TEST(RunOptions, UnknownUsersAndGroupsAreBadRequests) {
  auto user = resolve_identity(std::string("no-such-user-jailbuild"), std::nullopt, std::nullopt);
  ASSERT_FALSE(user);
  EXPECT_TRUE(user.error().is_usage());
  EXPECT_NE(user.error().message.find("no-such-user-jailbuild"), std::string::npos);
  EXPECT_FALSE(resolve_identity(std::nullopt, std::string("no-such-group-jailbuild"), std::nullopt));
  EXPECT_FALSE(
      resolve_identity(std::nullopt, std::nullopt, std::vector<std::string>{"root", "no-such-group-jailbuild"}));
}

// LANG is not the caller's to pass: run_in_jail sets it to a locale the root holds (run_root_fit_test).
TEST(RunOptions, TheDefaultEnvironmentHoldsOnlyPathHomeAndTerm) {
  const std::vector<std::string> caller{"PATH=/home/me/bin:/usr/bin", "HOME=/home/me",
                                        "TERM=xterm-256color",        "LANG=de_DE.UTF-8",
                                        "LD_PRELOAD=/tmp/evil.so",    "AWS_SECRET_ACCESS_KEY=x"};
  Identity identity;
  identity.home = "/var/www";
  auto environment = jail_environment(caller, false, identity, {});
  ASSERT_TRUE(environment);
  EXPECT_EQ(*environment, (std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                    "HOME=/var/www", "TERM=xterm-256color"}));
}

TEST(RunOptions, EnvAssignmentsOverrideAndKeepEnvStartsFromTheCaller) {
  const std::vector<std::string> caller{"PATH=/usr/bin", "USER=me", "LANGUAGE=fr"};
  auto kept = jail_environment(caller, true, Identity{}, {"USER=www", "APP_MODE=prod"});
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, (std::vector<std::string>{"PATH=/usr/bin", "USER=www", "LANGUAGE=fr", "APP_MODE=prod"}));
  auto clean = jail_environment(caller, false, Identity{}, {"PATH=/app/bin", "EMPTY="});
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->front(), "PATH=/app/bin");
  EXPECT_EQ(clean->back(), "EMPTY=");
  EXPECT_EQ(clean->size(), 3u) << "LANGUAGE must not pass for LANG: " << ::testing::PrintToString(*clean);
  for (const std::string bad : {"NOVALUE", "=x"})
    EXPECT_FALSE(jail_environment(caller, false, Identity{}, {bad})) << bad;
}

}  // namespace
}  // namespace jailbuild
