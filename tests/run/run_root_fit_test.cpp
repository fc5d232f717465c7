// What `jailbuild run` fits to the root it runs, checked end to end with real programs in roots
// built by the real `jailbuild add`:
//  * LANG names a locale the root holds: C.UTF-8 where the root has /usr/lib/locale/C.utf8, else C
//    (glibc 2.36 has no C.UTF-8 without those files: the probe's own setlocale shows it); a LANG
//    the caller gives is kept. The oracles are glibc's setlocale and mbstowcs in the jail, and
//    `wc -m` counting the characters of a UTF-8 word.
//  * `run -u www-data` on a root without www-data in its /etc/passwd: `whoami`, `id -un`, `id -gn`
//    and `ls -l` name the user, through a read-only view of /etc/passwd and /etc/group made for
//    that run; the root's files are unchanged (contents and times); the root's own lines stay and
//    no other host user appears. The control: the same run with --chroot-only (no mount
//    namespace, so no view) fails as it did before, "cannot find name for user ID 33".
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"
#include "support/spawned.hpp"

namespace jailbuild {
namespace {

using namespace testing;

// Prints LANG as the program got it, what setlocale(LC_ALL, "") chose, how many characters
// mbstowcs counts in "héllo" (5 in a UTF-8 locale, -1 in C), and whether C.UTF-8 can be asked for
// by name at all in this root.
constexpr const char* kLocaleProbeSource = R"C(
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  const char* lang = getenv("LANG");
  const char* chosen = setlocale(LC_ALL, "");
  printf("LANG=%s\n", lang ? lang : "(unset)");
  printf("setlocale=%s\n", chosen ? chosen : "(null)");
  printf("characters=%ld\n", (long)mbstowcs(NULL, "h\xc3\xa9llo", 0));
  const char* named = setlocale(LC_ALL, "C.UTF-8");
  printf("named C.UTF-8=%s\n", named ? named : "(null)");
  return 0;
}
)C";

const std::string kShell = "/usr/bin/sh";
const std::string kWwwData = "www-data";
constexpr uid_t kWwwDataId = 33;

class RunRootFit : public JailSuite {
 protected:
  static void SetUpTestSuite() {
    if (!make_suite_directory("run-root-fit")) return;
    probe_ = dir_ + "/stage/locale-probe";
    write_file(dir_ + "/src/locale-probe.c", kLocaleProbeSource);
    std::filesystem::create_directories(dir_ + "/stage");
    const std::string compile = "gcc -O1 -o " + probe_ + " " + dir_ + "/src/locale-probe.c";
    if (std::system(compile.c_str()) != 0) {
      setup_error_ = "failed: " + compile;
      return;
    }
    const std::vector<std::string> programs{kShell,          "/usr/bin/wc", "/usr/bin/whoami", "/usr/bin/id",
                                            "/usr/bin/ls",   "/usr/bin/cat", "/usr/bin/grep",  probe_};
    // Roots without the runtime rule `users`: what this suite tests is how a run fits a root that
    // lacks the names (the rule gives a root its own passwd with root, which `-u root` then uses).
    // root_ is also the root without the locale's files: the locale rule, which would add them for
    // these programs (they call setlocale), is turned off there.
    for (const std::string& root : {root_, with_locale()}) {
      const ProcessResult added = run_jailbuild(add_args(
          programs, root, state_,
          root == root_ ? std::vector<std::string>{"--without", "users,locale"} : std::vector<std::string>{"--without", "users"}));
      if (added.exit_code != kExitOk) {
        setup_error_ = "add: " + added.describe();
        return;
      }
    }
    const ProcessResult locale = run_jailbuild(add_args({"/usr/lib/locale/C.utf8"}, with_locale(), state_));
    if (locale.exit_code != kExitOk) setup_error_ = "add C.utf8: " + locale.describe();
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static std::string with_locale() { return dir_ + "/with-locale"; }

  static Outcome run(const std::vector<std::string>& options, const std::vector<std::string>& command,
                     const std::string& root = "", const Environment& env = kPlainEnv) {
    return Spawned(run_argv(options, command, root), env, {}).finish();
  }

  static inline std::string probe_;
};

#define REQUIRE_ROOT(why) \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << why

// ---- the locale -----------------------------------------------------------------------------

TEST_F(RunRootFit, WithoutTheLocaleFilesLangIsCAndSaysWhy) {
  const Environment caller{{"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}};
  const Outcome probe = run({}, {probe_}, "", caller);
  ASSERT_EQ(probe.exit_code, 0) << probe.describe();
  EXPECT_TRUE(contains(probe.out, "LANG=C\n")) << probe.out;
  EXPECT_TRUE(contains(probe.out, "setlocale=C\n")) << probe.out;
  // The fact the choice rests on: glibc 2.36 has no built-in C.UTF-8. Were it built in, asking
  // for it by name would work here, and LANG=C would be the wrong choice.
  EXPECT_TRUE(contains(probe.out, "named C.UTF-8=(null)")) << probe.out;

  const Outcome counted = run({}, {kShell, "-c", "printf 'h\\303\\251llo' | wc -m"}, "", caller);
  ASSERT_EQ(counted.exit_code, 0) << counted.describe();
  EXPECT_EQ(counted.out, "6\n");  // bytes: in C each byte is a character

  const Outcome verbose = Spawned({JAILBUILD_BINARY, "-v", "run", root_, probe_}, caller, {}).finish();
  EXPECT_TRUE(contains(verbose.err, "LANG=C: ")) << verbose.err;
  EXPECT_TRUE(contains(verbose.err, "has no usr/lib/locale/C.utf8")) << verbose.err;
}

TEST_F(RunRootFit, WithTheLocaleFilesLangIsCUtf8AndTextIsCountedInCharacters) {
  const Outcome probe = run({}, {probe_}, with_locale());  // the caller has no LANG
  ASSERT_EQ(probe.exit_code, 0) << probe.describe();
  EXPECT_TRUE(contains(probe.out, "LANG=C.UTF-8\n")) << probe.out;
  EXPECT_TRUE(contains(probe.out, "setlocale=C.UTF-8\n")) << probe.out;
  EXPECT_TRUE(contains(probe.out, "characters=5\n")) << probe.out;

  const Outcome counted = run({}, {kShell, "-c", "printf 'h\\303\\251llo' | wc -m"}, with_locale());
  ASSERT_EQ(counted.exit_code, 0) << counted.describe();
  EXPECT_EQ(counted.out, "5\n");
}

TEST_F(RunRootFit, ACallersLangIsKeptWhenTheRootHoldsIt) {
  const Environment caller{{"PATH", "/usr/bin:/bin"}, {"LANG", "POSIX"}};
  const Outcome probe = run({}, {probe_}, with_locale(), caller);
  ASSERT_EQ(probe.exit_code, 0) << probe.describe();
  EXPECT_TRUE(contains(probe.out, "LANG=POSIX\n")) << probe.out;
}

TEST_F(RunRootFit, ALangGivenWithEnvIsKeptAndVerboseWarnsWhenTheRootLacksIt) {
  const Outcome given =
      Spawned({JAILBUILD_BINARY, "-v", "run", "--env", "LANG=C.UTF-8", root_, probe_}, kPlainEnv, {}).finish();
  ASSERT_EQ(given.exit_code, 0) << given.describe();
  EXPECT_TRUE(contains(given.out, "LANG=C.UTF-8\n")) << given.out;
  EXPECT_TRUE(contains(given.out, "setlocale=(null)\n")) << given.out;  // what the warning is about
  EXPECT_TRUE(contains(given.err, "LANG=C.UTF-8 kept as given")) << given.err;

  const Environment caller{{"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}};
  const Outcome kept = run({"--keep-env"}, {probe_}, "", caller);
  ASSERT_EQ(kept.exit_code, 0) << kept.describe();
  EXPECT_TRUE(contains(kept.out, "LANG=C.UTF-8\n")) << kept.out;
}

// ---- the run's user and group ---------------------------------------------------------------

TEST_F(RunRootFit, ARunAsAUserTheRootLacksCanNameItselfAndTheRootIsUnchanged) {
  REQUIRE_ROOT("runs as www-data");
  const passwd* host = ::getpwnam(kWwwData.c_str());
  ASSERT_NE(host, nullptr) << "the host has no www-data";
  ASSERT_EQ(host->pw_uid, kWwwDataId);
  const std::string owned = root_ + "/etc/owned-by-www-data";
  write_file(owned, "x\n");
  ASSERT_EQ(::chown(owned.c_str(), kWwwDataId, kWwwDataId), 0);
  const Tree before = snapshot(root_, true);

  const Outcome whoami = run({"-u", kWwwData}, {"whoami"});
  ASSERT_EQ(whoami.exit_code, 0) << whoami.describe();
  EXPECT_EQ(whoami.out, "www-data\n");
  const Outcome user = run({"-u", kWwwData}, {"id", "-un"});
  EXPECT_EQ(user.out, "www-data\n") << user.describe();
  const Outcome group = run({"-u", kWwwData}, {"id", "-gn"});
  EXPECT_EQ(group.out, "www-data\n") << group.describe();
  const Outcome listed = run({"-u", kWwwData}, {"ls", "-l", "/etc/owned-by-www-data"});
  ASSERT_EQ(listed.exit_code, 0) << listed.describe();
  EXPECT_TRUE(contains(listed.out, " www-data www-data ")) << listed.out;

  // The view: root, nobody and the run's user; no other host user, no shadow; read-only, nosuid,
  // nodev; and no password hash, whatever the host's NSS holds.
  const Outcome passwd = run({"-u", kWwwData}, {"cat", "/etc/passwd"});
  ASSERT_EQ(passwd.exit_code, 0) << passwd.describe();
  EXPECT_TRUE(contains(passwd.out, "www-data:x:33:33:")) << passwd.out;
  EXPECT_TRUE(contains(passwd.out, "root:x:0:0:")) << passwd.out;
  EXPECT_TRUE(contains(passwd.out, "nobody:x:65534:")) << passwd.out;
  EXPECT_FALSE(contains(passwd.out, "daemon:")) << passwd.out;
  EXPECT_EQ(lines_of(passwd.out).size(), 3U) << passwd.out;
  const Outcome group_file = run({"-u", kWwwData}, {"cat", "/etc/group"});
  EXPECT_TRUE(contains(group_file.out, "www-data:x:33:\n")) << group_file.out;
  EXPECT_TRUE(contains(group_file.out, "nogroup:x:65534:\n")) << group_file.out;
  EXPECT_EQ(run({"-u", kWwwData}, {"cat", "/etc/shadow"}).exit_code, 1);
  const Outcome mounts = run({"-u", kWwwData}, {"grep", " /etc ", "/proc/self/mountinfo"});
  ASSERT_EQ(mounts.exit_code, 0) << mounts.describe();
  const std::string etc_mount = lines_of(mounts.out).back();  // the uppermost
  EXPECT_TRUE(contains(etc_mount, " ro,nosuid,nodev")) << mounts.out;
  EXPECT_TRUE(contains(etc_mount, " - overlay ")) << mounts.out;
  // Not even the jail's root can change the view: it is read-only, whoever writes. (The control,
  // the same write where the file is writable: the tmpfs /tmp.)
  const Outcome append = run({"-u", "root"}, {kShell, "-c", "echo evil:x:0:0::/:/bin/sh >> /etc/passwd"});
  EXPECT_NE(append.exit_code, 0) << append.describe();
  EXPECT_TRUE(contains(append.err, "Read-only file system")) << append.err;
  EXPECT_EQ(run({"-u", "root"}, {kShell, "-c", "echo evil >> /tmp/passwd"}).exit_code, 0);
  // The root's other /etc entries still show through the view.
  EXPECT_EQ(run({"-u", kWwwData}, {"cat", "/etc/owned-by-www-data"}).out, "x\n");

  EXPECT_EQ(snapshot(root_, true), before) << "the run changed the root";
  ASSERT_EQ(::unlink(owned.c_str()), 0);
}

TEST_F(RunRootFit, ControlWithoutAMountNamespaceTheNameIsMissing) {
  REQUIRE_ROOT("--chroot-only");
  const Outcome whoami =
      Spawned({JAILBUILD_BINARY, "-v", "run", "--chroot-only", "-u", kWwwData, root_, "whoami"}, kPlainEnv, {})
          .finish();
  EXPECT_EQ(whoami.exit_code, 1) << whoami.describe();
  EXPECT_TRUE(contains(whoami.err, "cannot find name for user ID 33")) << whoami.err;
  EXPECT_TRUE(contains(whoami.err, "--chroot-only: ")) << whoami.err;
  EXPECT_TRUE(contains(whoami.err, "cannot be shown to the program")) << whoami.err;
}

TEST_F(RunRootFit, WithoutDashUNothingIsLaidOverEtc) {
  const Outcome mounts = run({}, {"grep", "-c", " /etc .* - overlay ", "/proc/self/mountinfo"});
  EXPECT_EQ(mounts.out, "0\n") << mounts.describe();
}

TEST_F(RunRootFit, TheRootsOwnLinesStayAndItsKnownUsersGetNoView) {
  REQUIRE_ROOT("runs as www-data");
  const std::string root = with_locale();
  write_file(root + "/etc/passwd", "alice:x:1234:1234:Alice:/home/alice:/bin/sh\n");
  write_file(root + "/etc/group", "alice:x:1234:\n");
  const Outcome passwd = run({"-u", kWwwData}, {"cat", "/etc/passwd"}, root);
  ASSERT_EQ(passwd.exit_code, 0) << passwd.describe();
  EXPECT_TRUE(passwd.out.starts_with("alice:x:1234:1234:Alice:/home/alice:/bin/sh\nroot:x:0:0:")) << passwd.out;
  EXPECT_TRUE(contains(passwd.out, "\nwww-data:x:33:33:")) << passwd.out;
  EXPECT_EQ(run({"-u", kWwwData}, {"whoami"}, root).out, "www-data\n");

  // A root that names the user already is shown as it is.
  write_file(root + "/etc/passwd", "web:x:33:33::/:/bin/sh\n");
  write_file(root + "/etc/group", "web:x:33:\n");
  EXPECT_EQ(run({"-u", kWwwData}, {"whoami"}, root).out, "web\n");
  EXPECT_EQ(run({"-u", kWwwData}, {"grep", "-c", " /etc .* - overlay ", "/proc/self/mountinfo"}, root).out, "0\n");
  std::filesystem::remove(root + "/etc/passwd");
  std::filesystem::remove(root + "/etc/group");
}

}  // namespace
}  // namespace jailbuild
