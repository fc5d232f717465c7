// The runtime rules end to end: roots built by `jailbuild add PROG` alone, then real work run in
// them by `jailbuild run` with its OUTPUT checked against the host's answer, each beside its
// control, the same root built with `--without RULE`, where the work fails or answers wrong.
// And what the user sees of the rules: the reason `list` gives, `rules`, a choice `sync` repeats,
// and a root of /usr/bin/true that no rule touches.
//
// The roots and the fixture programs are under /var/tmp (JailSuite): the jail mounts a fresh tmpfs
// on /tmp, which would hide a program placed under it.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/rule_suite.hpp"
#include "support/loader_oracle.hpp"

namespace jailbuild {
namespace {

using namespace testing;

const std::string kDate = "/usr/bin/date";
const std::string kTrue = "/usr/bin/true";

// Starts a thread and cancels it: glibc's pthread_cancel dlopens libgcc_s.so.1 (to unwind the
// cancelled thread) and aborts without it.
constexpr const char* kCancelSource = R"(#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void* wait_forever(void* unused) { (void)unused; for (;;) pause(); return NULL; }
int main(void) {
  pthread_t thread;
  if (pthread_create(&thread, NULL, wait_forever, NULL) != 0) return 3;
  pthread_cancel(thread);
  void* result = NULL;
  pthread_join(thread, &result);
  if (result != PTHREAD_CANCELED) return 4;
  puts("cancelled");
  return 0;
}
)";

// Runs a command through system(3), that is /bin/sh -c, and says how it ended.
constexpr const char* kSystemSource = R"(#include <stdio.h>
#include <stdlib.h>
int main(void) {
  fflush(stdout);
  int status = system("echo from-shell");
  printf("status %d\n", status);
  return status == 0 ? 0 : 5;
}
)";

// ---- the .note.dlopen fixture: a program whose library says, in a note, what it dlopens.

// The note as the spec lays it out (namesz, descsz, type, "FDO", the JSON padded with NULs to 4),
// in a section .note.dlopen (SHT_NOTE by its name) that the linker puts in a PT_NOTE segment.
std::string note_source(const std::string& json) {
  return "#include <stdint.h>\n#define JSON " + json + "\n" + R"(#define PADDED ((sizeof(JSON) + 3) & ~3u)
__attribute__((used, section(".note.dlopen"), aligned(4))) static const struct {
  uint32_t namesz, descsz, type;
  char name[4];
  char desc[PADDED];
} dlopen_note = {4, PADDED, 0x407c0c0a, "FDO", JSON};
)";
}

// libask.so: dlopens libanswer.so.1 (its note: required, preferring a libabsent.so.7 that does not
// exist) and says what it answers, or dlerror(). The note also names libextra.so.1, suggested.
const std::string kAskNoteJson =
    R"("[{\"soname\":[\"libabsent.so.7\",\"libanswer.so.1\"],\"feature\":\"answer\",\"priority\":\"required\"},)"
    R"({\"soname\":[\"libextra.so.1\"],\"priority\":\"suggested\"}]")";
constexpr const char* kAskSource = R"(#include <dlfcn.h>
const char* ask(void) {
  void* handle = dlopen("libanswer.so.1", RTLD_NOW);
  if (!handle) return dlerror();
  const char* (*answer)(void) = (const char* (*)(void))dlsym(handle, "answer");
  return answer ? answer() : dlerror();
}
)";
constexpr const char* kAnswerSource = R"(const char* answer(void) { return "the answer is 42"; }
)";
constexpr const char* kAskMainSource = R"(#include <stdio.h>
#include <string.h>
const char* ask(void);
int main(void) {
  const char* said = ask();
  puts(said);
  return strcmp(said, "the answer is 42") == 0 ? 0 : 6;
}
)";

class RuntimeRules : public RuleSuite {
 protected:
  static void SetUpTestSuite() {
    if (!make_suite_directory("rules")) return;
    cancel_ = dir_ + "/stage/bin/cancel";
    system_ = dir_ + "/stage/bin/run-shell";
    write_file(dir_ + "/src/cancel.c", kCancelSource);
    write_file(dir_ + "/src/system.c", kSystemSource);
    std::filesystem::create_directories(dir_ + "/stage/bin");
    ask_ = dir_ + "/stage/notes/bin/ask";
    write_file(dir_ + "/src/ask.c", std::string(kAskSource) + note_source(kAskNoteJson));
    // A library whose note is not JSON: said at -v, ignored.
    write_file(dir_ + "/src/bad_note.c", "int bad_note(void) { return 0; }\n" + note_source(R"("[{\"soname\": [")"));
    write_file(dir_ + "/src/answer.c", kAnswerSource);
    write_file(dir_ + "/src/extra.c", "int extra(void) { return 1; }\n");
    write_file(dir_ + "/src/ask_main.c", kAskMainSource);
    std::filesystem::create_directories(dir_ + "/stage/notes/bin");
    std::filesystem::create_directories(dir_ + "/stage/notes/lib");
    const std::string lib = "stage/notes/lib/";
    const std::vector<std::string> builds = {
        "-pthread -o " + cancel_ + " src/cancel.c",
        "-o " + system_ + " src/system.c",
        "-shared -fPIC -Wl,-soname,libanswer.so.1 -o " + lib + "libanswer.so.1 src/answer.c",
        "-shared -fPIC -Wl,-soname,libextra.so.1 -o " + lib + "libextra.so.1 src/extra.c",
        "-shared -fPIC -Wl,-soname,libbadnote.so -o " + lib + "libbadnote.so src/bad_note.c",
        "-shared -fPIC -Wl,-soname,libask.so -Wl,-rpath,'$ORIGIN' -o " + lib + "libask.so src/ask.c -ldl",
        "-o " + ask_ + " src/ask_main.c -L" + lib + " -Wl,--no-as-needed -lask -lbadnote -Wl,-rpath," + dir_ +
            "/stage/notes/lib"};
    for (const std::string& args : builds) {
      const std::string command = "cd " + dir_ + " && gcc " + args;
      if (std::system(command.c_str()) != 0) {
        setup_error_ = "failed: " + command;
        return;
      }
    }
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: jailbuild run";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  static inline std::string cancel_;
  static inline std::string system_;
  static inline std::string ask_;
};

// The host's own answer, the oracle: `date +%Z` with exactly `env`.
std::string host_date_zone(const Environment& env) {
  const ProcessResult host = run_process({kDate, "+%Z"}, env);
  EXPECT_EQ(host.exit_code, 0) << host.describe();
  return host.output;
}

// ---- tz -------------------------------------------------------------------------------------------

TEST_F(RuntimeRules, TzGivesDateTheZonesTheHostHas) {
  const std::string root = root_with("tz", {kDate});
  const ProcessResult paris = run_in(root, {kDate, "+%Z"}, env({"TZ=Europe/Paris"}));
  EXPECT_EQ(paris.exit_code, 0) << paris.describe();
  const std::string host_paris = host_date_zone({{"TZ", "Europe/Paris"}});
  EXPECT_TRUE(host_paris == "CET\n" || host_paris == "CEST\n") << host_paris;
  EXPECT_EQ(paris.output, host_paris);
  // Without TZ: /etc/localtime, the host's zone.
  const ProcessResult local = run_in(root, {kDate, "+%Z"});
  EXPECT_EQ(local.output, host_date_zone({})) << local.describe();
  EXPECT_TRUE(holds(root, "/usr/share/zoneinfo/Europe/Paris"));
  if (holds("", "/etc/localtime")) {
    EXPECT_TRUE(holds(root, "/etc/localtime"));
    EXPECT_EQ(std::filesystem::read_symlink(root + "/etc/localtime"), std::filesystem::read_symlink("/etc/localtime"));
  }
  // Why it is there, as `list` says it: the rule and its trigger.
  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed, "rule tz: /usr/bin/date imports ")) << listed;
  // And how much it brought: the regular files under the root's zoneinfo, which nothing else needs.
  std::uint64_t zoneinfo_bytes = 0;
  std::size_t zoneinfo_entries = 1;  // the directory itself
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root + "/usr/share/zoneinfo")) {
    ++zoneinfo_entries;
    if (entry.is_regular_file() && !entry.is_symlink()) zoneinfo_bytes += entry.file_size();
  }
  EXPECT_TRUE(contains(listed, "\n  rule tz: ")) << listed;
  const ProcessResult json = run_jailbuild({"list", root, "--state-dir", state_, "--json"});
  EXPECT_EQ(json.exit_code, kExitOk) << json.describe();
  const nlohmann::json sizes = json_in(json.output).at("rule_sizes");
  const auto tz =
      std::find_if(sizes.begin(), sizes.end(), [](const nlohmann::json& size) { return size.at("rule") == "tz"; });
  ASSERT_NE(tz, sizes.end()) << sizes.dump();
  EXPECT_GT(tz->at("bytes").get<std::uint64_t>(), 1000000u);
  // /etc/localtime (a symlink: an entry, no bytes) and the directories on the way are the rule's too.
  EXPECT_GE(tz->at("entries").get<std::size_t>(), zoneinfo_entries);
  EXPECT_EQ(tz->at("own_bytes").get<std::uint64_t>(), zoneinfo_bytes);
}

TEST_F(RuntimeRules, WithoutTzDatePrintsTheZonesNameNotTheZone) {
  const std::string root = root_with("tz-off", {kDate}, {"--without", "tz"});
  const ProcessResult paris = run_in(root, {kDate, "+%Z"}, env({"TZ=Europe/Paris"}));
  // glibc finds no file for the zone and takes the name's letters as its abbreviation: wrong,
  // silently, with exit 0.
  EXPECT_EQ(paris.output, "Europe\n") << paris.describe();
  EXPECT_NE(paris.output, host_date_zone({{"TZ", "Europe/Paris"}}));
  EXPECT_FALSE(holds(root, "/usr/share/zoneinfo"));
  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed, "rules turned off: tz"));
  EXPECT_FALSE(contains(listed, "rule tz:")) << listed;
  const ProcessResult json = run_jailbuild({"list", root, "--state-dir", state_, "--json"});
  for (const nlohmann::json& size : json_in(json.output).at("rule_sizes")) EXPECT_NE(size.at("rule"), "tz");

  // The choice is the root's: a sync, and a later add without the option, repeat it.
  const ProcessResult synced = run_jailbuild({"sync", root, "--state-dir", state_});
  EXPECT_EQ(synced.exit_code, kExitOk) << synced.describe();
  EXPECT_FALSE(holds(root, "/usr/share/zoneinfo"));
  const ProcessResult added = run_jailbuild(add_args({"/usr/bin/ls"}, root, state_));
  EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
  EXPECT_FALSE(holds(root, "/usr/share/zoneinfo"));
  // Turned on again, it adds them.
  const ProcessResult with = run_jailbuild(add_args({kDate}, root, state_, {"--with", "tz"}));
  EXPECT_EQ(with.exit_code, kExitOk) << with.describe();
  EXPECT_TRUE(holds(root, "/usr/share/zoneinfo/Europe/Paris"));
  EXPECT_EQ(run_in(root, {kDate, "+%Z"}, env({"TZ=Europe/Paris"})).output, host_date_zone({{"TZ", "Europe/Paris"}}));
}

// ---- libgcc ---------------------------------------------------------------------------------------

TEST_F(RuntimeRules, LibgccLetsPthreadCancelUnwind) {
  const std::string root = root_with("libgcc", {cancel_});
  const ProcessResult cancelled = run_in(root, {cancel_});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.describe();
  EXPECT_EQ(cancelled.output, "cancelled\n");
  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed, "libgcc_s.so.1")) << listed;
  EXPECT_TRUE(contains(listed, "rule libgcc: " + cancel_ + " imports pthread_cancel")) << listed;
}

TEST_F(RuntimeRules, WithoutLibgccPthreadCancelAborts) {
  const std::string root = root_with("libgcc-off", {cancel_}, {"--without", "libgcc"});
  const ProcessResult aborted = run_in(root, {cancel_});
  EXPECT_NE(aborted.exit_code, 0) << aborted.describe();
  EXPECT_TRUE(contains(aborted.output, "libgcc_s.so.1 must be installed")) << aborted.describe();
  EXPECT_FALSE(contains(aborted.output, "cancelled"));
}

// ---- shell ----------------------------------------------------------------------------------------

TEST_F(RuntimeRules, ShellLetsSystemRunTheCommand) {
  const std::string root = root_with("shell", {system_});
  const ProcessResult ran = run_in(root, {system_});
  EXPECT_EQ(ran.exit_code, 0) << ran.describe();
  EXPECT_EQ(ran.output, "from-shell\nstatus 0\n");
  // glibc runs "/bin/sh" by that name: the symlinks on the way come with the shell.
  EXPECT_TRUE(holds(root, "/bin/sh"));
  EXPECT_TRUE(contains(list_of(root), "rule shell: " + system_ + " imports system"));
}

TEST_F(RuntimeRules, WithoutShellSystemFindsNoShell) {
  const std::string root = root_with("shell-off", {system_}, {"--without", "shell"});
  const ProcessResult ran = run_in(root, {system_});
  EXPECT_EQ(ran.exit_code, 5) << ran.describe();
  // The shell could not be run: system's status is that of a shell that exited 127.
  EXPECT_EQ(ran.output, "status 32512\n") << ran.describe();
  EXPECT_FALSE(holds(root, "/bin/sh"));
}

// GNU tar runs -J's compressor through execv("/bin/sh", ...): tar imports no system or popen, but
// names /bin/sh, and its root gets the shell; xz, which tar runs by name, is added beside it. The
// archive is written to a host directory bound into the jail and listed by the host's tar.
TEST_F(RuntimeRules, ShellLetsTarRunItsCompressor) {
  for (const bool with_shell : {true, false}) {
    SCOPED_TRACE(with_shell ? "with shell" : "without shell (the control)");
    const std::string name = with_shell ? "tar" : "tar-off";
    const std::string root = root_with(name, {"/usr/bin/tar", "/usr/bin/xz"},
                                       with_shell ? std::vector<std::string>{} : std::vector<std::string>{"--without", "shell"});
    const std::string out = dir_ + "/" + name + "-out";
    std::filesystem::create_directories(out);
    // Writable by the jail's root, which is not the host's.
    std::filesystem::permissions(out, std::filesystem::perms::all);
    const ProcessResult packed = run_process(
        run_argv({"--bind", out + ":/out"}, {"/usr/bin/tar", "-cJf", "/out/tools.tar.xz", "-C", "/usr/bin", "xz"}, root),
        kPlainEnv);
    const ProcessResult listed = run_process({"/usr/bin/tar", "-tJf", out + "/tools.tar.xz"}, kPlainEnv);
    if (with_shell) {
      EXPECT_EQ(packed.exit_code, 0) << packed.describe();
      EXPECT_EQ(listed.output, "xz\n") << listed.describe();
      EXPECT_TRUE(contains(list_of(root), "rule shell: /usr/bin/tar imports exec")) << list_of(root);
    } else {
      EXPECT_NE(packed.exit_code, 0) << packed.describe();
      EXPECT_NE(listed.output, "xz\n") << listed.describe();
      EXPECT_FALSE(holds(root, "/bin/sh"));
    }
  }
}

// ---- dlopen-notes ---------------------------------------------------------------------------------

TEST_F(RuntimeRules, DlopenNotesBringTheLibraryTheNoteRequires) {
  const std::string lib = std::filesystem::path(ask_).parent_path().parent_path().string() + "/lib";
  // The oracle: the note is in a PT_NOTE segment, and on the host the program gets its answer.
  const ProcessResult headers = run_process({"/usr/bin/readelf", "-lW", lib + "/libask.so"}, kPlainEnv);
  EXPECT_TRUE(contains(headers.output, "NOTE")) << headers.output;
  const ProcessResult on_host = run_process({ask_}, kPlainEnv);
  ASSERT_EQ(on_host.output, "the answer is 42\n") << on_host.describe();

  const std::string root = dir_ + "/notes";
  const ProcessResult added = run_jailbuild(add_args({ask_}, root, state_, {"-v"}));
  EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
  // The note that is not JSON is said, and nothing fails for it.
  EXPECT_TRUE(contains(added.output, "libbadnote.so: .note.dlopen is not valid JSON")) << added.output;
  const ProcessResult ran = run_in(root, {ask_});
  EXPECT_EQ(ran.exit_code, 0) << ran.describe();
  EXPECT_EQ(ran.output, "the answer is 42\n");
  EXPECT_TRUE(holds(root, lib + "/libanswer.so.1"));
  // The suggested library is not there by default.
  EXPECT_FALSE(holds(root, lib + "/libextra.so.1"));
  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed, "rule dlopen-notes: " + lib +
                                   "/libask.so notes dlopen(libabsent.so.7) for answer, "
                                   "found as libanswer.so.1 (required)"))
      << listed;
  // Its size: the library's bytes, which nothing else needs (the directories on the way are the
  // program's too).
  EXPECT_TRUE(contains(listed, "\n  rule dlopen-notes: ")) << listed;
  const ProcessResult json = run_jailbuild({"list", root, "--state-dir", state_, "--json"});
  const nlohmann::json sizes = json_in(json.output).at("rule_sizes");
  ASSERT_FALSE(sizes.empty()) << sizes.dump();
  EXPECT_EQ(sizes[0].at("rule"), "dlopen-notes");
  EXPECT_EQ(sizes[0].at("own_bytes").get<std::uint64_t>(), std::filesystem::file_size(lib + "/libanswer.so.1"));
  EXPECT_EQ(sizes[0].at("bytes"), sizes[0].at("own_bytes"));

  // Suggested ones when asked for.
  const ProcessResult with = run_jailbuild(add_args({ask_}, root, state_, {"--with", "dlopen-suggested"}));
  EXPECT_EQ(with.exit_code, kExitOk) << with.describe();
  EXPECT_TRUE(holds(root, lib + "/libextra.so.1"));
}

TEST_F(RuntimeRules, WithoutDlopenNotesTheDlopenFails) {
  const std::string lib = std::filesystem::path(ask_).parent_path().parent_path().string() + "/lib";
  const std::string root = root_with("notes-off", {ask_}, {"--without", "dlopen-notes"});
  const ProcessResult ran = run_in(root, {ask_});
  EXPECT_EQ(ran.exit_code, 6) << ran.describe();
  EXPECT_TRUE(contains(ran.output, "libanswer.so.1: cannot open shared object file")) << ran.describe();
  EXPECT_FALSE(holds(root, lib + "/libanswer.so.1"));
}

// ---- what no rule touches, and the command line ----------------------------------------------------

TEST_F(RuntimeRules, TrueTriggersNoRuleButLocale) {
  // true calls setlocale (its --help is translated): the locale rule adds C.utf8 (its own test is
  // tests/rules/text_rules_test.cpp); no other rule's trigger holds.
  const std::string with_rules = root_with("true", {kTrue}, {"--without", "locale"});
  const std::string without_rules =
      root_with("true-off", {kTrue}, {"--without", "shell,libgcc", "--without", "tz,gconv,locale,terminfo"});
  EXPECT_EQ(snapshot(with_rules), snapshot(without_rules));
  EXPECT_FALSE(contains(list_of(with_rules), "rule "));
  const std::string listed = list_of(root_with("true-locale", {kTrue}));
  EXPECT_TRUE(contains(listed, "rule locale: /usr/bin/true imports setlocale")) << listed;
}

TEST_F(RuntimeRules, RulesListsEveryRule) {
  const ProcessResult text = run_jailbuild({"rules"});
  EXPECT_EQ(text.exit_code, kExitOk) << text.describe();
  for (const char* rule : {"shell (on by default)", "libgcc (on by default)", "tz (on by default)"})
    EXPECT_TRUE(contains(text.output, rule)) << text.output;
  EXPECT_TRUE(contains(text.output, "tzset")) << text.output;
  const ProcessResult json = run_jailbuild({"rules", "--json"});
  EXPECT_EQ(json.exit_code, kExitOk) << json.describe();
  const nlohmann::json listed = json_in(json.output);
  std::vector<std::string> names;
  for (const nlohmann::json& rule : listed.at("rules")) {
    names.push_back(rule.at("name"));
    const bool opt_in = names.back() == "dlopen-recommended" || names.back() == "dlopen-suggested" ||
                        names.back() == "gconv-all" || names.back() == "dns";
    EXPECT_EQ(rule.at("on_by_default").get<bool>(), !opt_in) << names.back();
    EXPECT_FALSE(rule.at("trigger").get<std::string>().empty());
    EXPECT_FALSE(rule.at("adds").get<std::string>().empty());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"dlopen-notes", "dlopen-recommended", "dlopen-suggested", "interpreter",
                                             "shell", "libgcc", "tz", "gconv", "gconv-all", "locale", "terminfo",
                                             "tls", "users", "hosts", "dns", "nss"}));
}

TEST_F(RuntimeRules, AnUnknownRuleIsAUsageErrorNamingIt) {
  const std::string root = dir_ + "/unknown-rule";
  for (const char* option : {"--with", "--without"}) {
    const ProcessResult refused = run_jailbuild(add_args({kTrue}, root, state_, {option, "tz,nosuch"}));
    EXPECT_EQ(refused.exit_code, kExitUsage) << refused.describe();
    EXPECT_TRUE(contains(refused.output, "'nosuch'")) << refused.output;
    // Every rule is named, as `rules` lists them.
    const nlohmann::json catalogue = json_in(run_jailbuild({"rules", "--json"}).output);
    std::string known;
    for (const nlohmann::json& rule : catalogue.at("rules"))
      known += (known.empty() ? "" : ", ") + rule.at("name").get<std::string>();
    ASSERT_FALSE(known.empty());
    EXPECT_TRUE(contains(refused.output, "(the rules: " + known + ")")) << refused.output;
    EXPECT_FALSE(holds(root, "/usr/bin/true")) << "nothing is added after a usage error";
  }
  const ProcessResult both = run_jailbuild(add_args({kTrue}, root, state_, {"--with", "tz", "--without", "tz"}));
  EXPECT_EQ(both.exit_code, kExitUsage) << both.describe();
}

// --with and --without take one word each (a list is comma-separated): the word after it is a path
// again, as for run's --cap. Written before the path, as a user types it.
TEST_F(RuntimeRules, AWordAfterWithoutIsAPathNotAnotherRule) {
  const std::string root = dir_ + "/without-first";
  const ProcessResult added =
      run_jailbuild({"add", "--without", "tz", kDate, "--root", root, "--state-dir", state_});
  EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
  EXPECT_TRUE(holds(root, kDate));
  EXPECT_FALSE(holds(root, "/usr/share/zoneinfo"));
}

}  // namespace
}  // namespace jailbuild
