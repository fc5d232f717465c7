// The text rules end to end (gconv, gconv-all, locale, terminfo): roots built by `jailbuild add
// PROG` alone, then real work run in them by `jailbuild run` with its OUTPUT checked (against the
// host's own answer where there is one), each beside its control, the same root built with
// `--without RULE`, where the work fails or answers wrong.
//
// The programs read their input from files the test puts in the root (the jail's stdin is
// /dev/null). Roots are under /var/tmp (JailSuite): the jail mounts a fresh tmpfs on /tmp.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/rule_suite.hpp"
#include "support/loader_oracle.hpp"

namespace jailbuild {
namespace {

using namespace testing;

const std::string kIconv = "/usr/bin/iconv";
const std::string kWc = "/usr/bin/wc";
const std::string kSort = "/usr/bin/sort";
const std::string kTput = "/usr/bin/tput";
const std::string kGconv = "/usr/lib/x86_64-linux-gnu/gconv";  // where Debian 12's x86-64 libc reads them

// "café über" in Latin-1 (é is 0xE9, ü 0xFC), and what it is in UTF-8.
const std::string kLatin1Text = "caf\xe9 \xfc" "ber\n";
const std::string kUtf8Text = "caf\xc3\xa9 \xc3\xbc" "ber\n";
// "日本語" in UTF-8: EUC-JP, a module outside glibc's core set (it needs libJIS.so besides).
const std::string kJapaneseUtf8 = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n";

class TextRules : public RuleSuite {
 protected:
  static void SetUpTestSuite() { make_suite_directory("text-rules"); }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: jailbuild run";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  // A fresh root of this suite named NAME, with `add PATHS --root ROOT OPTIONS...` done in it, and
  // the files DATA (name -> contents) put in its /data for the programs to read.
  static std::string root_with(const std::string& name, const std::vector<std::string>& paths,
                               const std::vector<std::string>& options = {},
                               const std::map<std::string, std::string>& data = {}) {
    const std::string root = dir_ + "/" + name;
    const ProcessResult added = run_jailbuild(add_args(paths, root, state_, options));
    EXPECT_EQ(added.exit_code, kExitOk) << added.describe();
    for (const auto& [file, contents] : data) write_file(root + "/data/" + file, contents);
    return root;
  }

};

// The host's own answer, the oracle: `argv` run on the host with exactly `env`.
std::string on_host(const std::vector<std::string>& argv, const Environment& env = kPlainEnv) {
  const ProcessResult host = run_process(argv, env);
  EXPECT_EQ(host.exit_code, 0) << host.describe();
  return host.output;
}

// ---- gconv ----------------------------------------------------------------------------------------

TEST_F(TextRules, GconvLetsIconvConvertLatin1) {
  const std::string root = root_with("gconv", {kIconv}, {}, {{"latin1", kLatin1Text}, {"japanese", kJapaneseUtf8}});
  const ProcessResult converted = run_in(root, {kIconv, "-f", "LATIN1", "-t", "UTF-8", "/data/latin1"});
  EXPECT_EQ(converted.exit_code, 0) << converted.describe();
  EXPECT_EQ(converted.output, kUtf8Text) << converted.describe();
  // The other way, and through an alias the configuration defines (CP1252 is WINDOWS-1252's module).
  write_file(root + "/data/utf8", kUtf8Text);
  EXPECT_EQ(run_in(root, {kIconv, "-f", "UTF-8", "-t", "WINDOWS-1252", "/data/utf8"}).output, kLatin1Text);

  // The core set: glibc's gconv-modules and the modules it names, without the cache (which
  // describes every module) and without the rest.
  EXPECT_TRUE(holds(root, kGconv + "/gconv-modules"));
  EXPECT_TRUE(holds(root, kGconv + "/ISO8859-1.so"));
  EXPECT_TRUE(holds(root, kGconv + "/UTF-16.so"));
  EXPECT_FALSE(holds(root, kGconv + "/gconv-modules.cache"));
  EXPECT_FALSE(holds(root, kGconv + "/EUC-JP.so"));
  // So a conversion outside it fails (the boundary `--with gconv-all` lifts). iconv(1) words it
  // as glibc's iconv_open leaves errno when no module is found: ENOENT, not EINVAL.
  const ProcessResult japanese = run_in(root, {kIconv, "-f", "UTF-8", "-t", "EUC-JP", "/data/japanese"});
  EXPECT_NE(japanese.exit_code, 0) << japanese.describe();
  EXPECT_TRUE(contains(japanese.output, "failed to start conversion processing")) << japanese.describe();

  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed, "rule gconv: /usr/bin/iconv imports iconv_open")) << listed;
}

TEST_F(TextRules, WithoutGconvIconvHasOnlyWhatLibcBuildsIn) {
  const std::string root = root_with("gconv-off", {kIconv}, {"--without", "gconv"}, {{"latin1", kLatin1Text}});
  const ProcessResult converted = run_in(root, {kIconv, "-f", "LATIN1", "-t", "UTF-8", "/data/latin1"});
  EXPECT_NE(converted.exit_code, 0) << converted.describe();
  EXPECT_TRUE(contains(converted.output, "failed to start conversion processing")) << converted.describe();
  EXPECT_FALSE(contains(converted.output, kUtf8Text));
  EXPECT_FALSE(holds(root, kGconv));
}

TEST_F(TextRules, GconvAllConvertsWhatTheHostConverts) {
  const std::string root =
      root_with("gconv-all", {kIconv}, {"--with", "gconv-all"}, {{"latin1", kLatin1Text}, {"japanese", kJapaneseUtf8}});
  const ProcessResult japanese = run_in(root, {kIconv, "-f", "UTF-8", "-t", "EUC-JP", "/data/japanese"});
  EXPECT_EQ(japanese.exit_code, 0) << japanese.describe();
  write_file(dir_ + "/japanese", kJapaneseUtf8);
  EXPECT_EQ(japanese.output, on_host({kIconv, "-f", "UTF-8", "-t", "EUC-JP", dir_ + "/japanese"}));
  EXPECT_EQ(japanese.output, "\xc6\xfc\xcb\xdc\xb8\xec\n");  // 日本語 in EUC-JP
  EXPECT_EQ(run_in(root, {kIconv, "-f", "LATIN1", "-t", "UTF-8", "/data/latin1"}).output, kUtf8Text);
  // The whole directory: the cache, the extra configuration, the helper libraries modules link.
  for (const char* file : {"/gconv-modules.cache", "/gconv-modules.d/gconv-modules-extra.conf", "/libJIS.so"})
    EXPECT_TRUE(holds(root, kGconv + file)) << file;
  EXPECT_TRUE(contains(list_of(root), "rule gconv-all: /usr/bin/iconv imports iconv_open"));
}

// ---- locale ---------------------------------------------------------------------------------------

// "héllo wörld": 12 characters in 14 bytes of UTF-8.
const std::string kAccented = "h\xc3\xa9llo w\xc3\xb6rld\n";

TEST_F(TextRules, LocaleLetsWcCountCharacters) {
  const std::string root = root_with("locale", {kWc}, {}, {{"text", kAccented}});
  // `run` sets LANG=C.UTF-8, a locale the root now holds.
  const ProcessResult counted = run_in(root, {kWc, "-m", "/data/text"});
  EXPECT_EQ(counted.exit_code, 0) << counted.describe();
  EXPECT_EQ(counted.output, "12 /data/text\n") << counted.describe();
  write_file(dir_ + "/text", kAccented);
  EXPECT_EQ(on_host({kWc, "-m", dir_ + "/text"}, {{"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}}),
            "12 " + dir_ + "/text\n");
  EXPECT_TRUE(holds(root, "/usr/lib/locale/C.utf8/LC_CTYPE"));
  EXPECT_EQ(holds(root, "/usr/lib/locale/locale-archive"), holds("", "/usr/lib/locale/locale-archive"));
  EXPECT_TRUE(contains(list_of(root), "rule locale: /usr/bin/wc imports setlocale"));
}

TEST_F(TextRules, WithoutLocaleWcCountsBytes) {
  const std::string root = root_with("locale-off", {kWc}, {"--without", "locale"}, {{"text", kAccented}});
  const ProcessResult counted = run_in(root, {kWc, "-m", "/data/text"});
  EXPECT_EQ(counted.exit_code, 0) << counted.describe();
  EXPECT_EQ(counted.output, "14 /data/text\n") << counted.describe();  // wrong, silently
  // Even asked for by name, the locale is not there: setlocale fails and wc runs in C.
  EXPECT_EQ(run_in(root, {kWc, "-m", "/data/text"}, env({"LANG=C.UTF-8"})).output, "14 /data/text\n");
  EXPECT_FALSE(holds(root, "/usr/lib/locale"));
}

// Whether the host has `locale` generated (in its locale-archive or as a directory).
bool host_has_locale(const std::string& name) {
  const ProcessResult listed = run_process({"/usr/bin/locale", "-a"}, kPlainEnv);
  std::istringstream lines(listed.output);
  for (std::string line; std::getline(lines, line);)
    if (line == name) return true;
  return false;
}

TEST_F(TextRules, LocaleLetsSortCollateUnderTheHostsNamedLocale) {
  if (!host_has_locale("en_US.utf8")) GTEST_SKIP() << "the host has no en_US.UTF-8 (locale -a)";
  const std::string words = "b\nB\na\nA\n";
  const std::string root = root_with("locale-sort", {kSort}, {}, {{"words", words}});
  const std::string off = root_with("locale-sort-off", {kSort}, {"--without", "locale"}, {{"words", words}});
  write_file(dir_ + "/words", words);
  const std::string host_order =
      on_host({kSort, dir_ + "/words"}, {{"PATH", "/usr/bin:/bin"}, {"LC_ALL", "en_US.UTF-8"}});
  const std::string c_order = on_host({kSort, dir_ + "/words"}, {{"PATH", "/usr/bin:/bin"}, {"LC_ALL", "C"}});
  ASSERT_NE(host_order, c_order) << "en_US.UTF-8 collates as C on this host: the test would prove nothing";
  EXPECT_EQ(run_in(root, {kSort, "/data/words"}, env({"LC_ALL=en_US.UTF-8"})).output, host_order);
  EXPECT_EQ(run_in(off, {kSort, "/data/words"}, env({"LC_ALL=en_US.UTF-8"})).output, c_order);
}

// ---- terminfo -------------------------------------------------------------------------------------

TEST_F(TextRules, TerminfoLetsTputDescribeTheTerminal) {
  const std::string root = root_with("terminfo", {kTput});
  const ProcessResult cols = run_in(root, {kTput, "cols"}, env({"TERM=xterm-256color"}));
  EXPECT_EQ(cols.exit_code, 0) << cols.describe();
  EXPECT_TRUE(std::regex_match(cols.output, std::regex("[0-9]+\n"))) << cols.describe();
  const ProcessResult colors = run_in(root, {kTput, "-T", "xterm-256color", "colors"});
  EXPECT_EQ(colors.exit_code, 0) << colors.describe();
  EXPECT_EQ(colors.output, on_host({kTput, "-T", "xterm-256color", "colors"}));
  EXPECT_EQ(colors.output, "256\n");
  EXPECT_EQ(run_in(root, {kTput, "-T", "screen", "colors"}).output, "8\n");
  // Where ncurses finds it on Debian 12, by the name it opens (through /lib -> usr/lib).
  EXPECT_TRUE(holds(root, "/lib/terminfo/x/xterm-256color"));
  EXPECT_TRUE(contains(list_of(root), "rule terminfo: /usr/bin/tput needs libtinfo.so.6"));
}

TEST_F(TextRules, WithoutTerminfoTputKnowsNoTerminal) {
  const std::string root = root_with("terminfo-off", {kTput}, {"--without", "terminfo"});
  const ProcessResult cols = run_in(root, {kTput, "cols"}, env({"TERM=xterm-256color"}));
  EXPECT_NE(cols.exit_code, 0) << cols.describe();
  EXPECT_TRUE(contains(cols.output, "unknown terminal \"xterm-256color\"")) << cols.describe();
  const ProcessResult colors = run_in(root, {kTput, "-T", "xterm-256color", "colors"});
  EXPECT_NE(colors.exit_code, 0) << colors.describe();
  EXPECT_EQ(colors.output, "tput: unknown terminal \"xterm-256color\"\n") << colors.describe();
  EXPECT_FALSE(holds(root, "/lib/terminfo"));
}

}  // namespace
}  // namespace jailbuild
