// The text rules' decisions on the real host's files (Debian 12): the gconv directory derived from
// libc as glibc's is, the modules a gconv configuration names, the terminfo entry ncurses reads.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "rules/text_data.hpp"
#include "support/files.hpp"

namespace jailbuild {
namespace {

bool on_host(const std::string& path) {
  struct stat status {};
  return ::lstat(path.c_str(), &status) == 0;
}

std::string real_path(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) != nullptr ? resolved : "";
}

const std::string kHostLibc = "/lib/x86_64-linux-gnu/libc.so.6";

TEST(GconvDirectory, IsTheDirectoryTheHostsLibcReads) {
  if (!on_host(kHostLibc)) GTEST_SKIP() << "not an x86-64 Debian host";
  LoadedObject libc;
  libc.path = kHostLibc;
  libc.real_path = real_path(kHostLibc);
  const std::string directory = gconv_directory(libc);
  EXPECT_EQ(directory, "/usr/lib/x86_64-linux-gnu/gconv");
  // The oracle: the directory holds the configuration and the module iconv -f LATIN1 loads.
  EXPECT_TRUE(on_host(directory + "/gconv-modules"));
  EXPECT_TRUE(on_host(directory + "/ISO8859-1.so"));
}

TEST(GconvDirectory, FollowsLibcsOwnDirectoryNotAFixedOne) {
  LoadedObject i386;
  i386.path = "/lib/i386-linux-gnu/libc.so.6";
  i386.real_path = "/usr/lib/i386-linux-gnu/libc.so.6";  // merged /usr
  EXPECT_EQ(gconv_directory(i386), "/usr/lib/i386-linux-gnu/gconv");
  LoadedObject split;  // a system without merged /usr: libc in slibdir, gconv in libdir
  split.path = split.real_path = "/lib/aarch64-linux-gnu/libc.so.6";
  EXPECT_EQ(gconv_directory(split), "/usr/lib/aarch64-linux-gnu/gconv");
  LoadedObject lib64;
  lib64.path = lib64.real_path = "/lib64/libc.so.6";
  EXPECT_EQ(gconv_directory(lib64), "/usr/lib64/gconv");
  LoadedObject libraries;  // not /lib: a directory whose name only starts with it is left alone
  libraries.path = libraries.real_path = "/libraries/libc.so.6";
  EXPECT_EQ(gconv_directory(libraries), "/libraries/gconv");
}

TEST(GconvModuleFiles, TheCoreConfigurationNamesTheCoreModules) {
  const std::string directory = "/usr/lib/x86_64-linux-gnu/gconv";
  if (!on_host(directory + "/gconv-modules")) GTEST_SKIP() << "not an x86-64 Debian host";
  const std::vector<std::string> core = gconv_module_files(testing::read_file(directory + "/gconv-modules"), directory);
  const std::vector<std::string> expected = {"ISO8859-1", "ISO8859-15", "CP1252", "ANSI_X3.110",
                                             "UTF-16",    "UNICODE",    "UTF-32", "UTF-7"};
  ASSERT_EQ(core.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(core[i], directory + "/" + expected[i] + ".so");
  for (const std::string& module : core) EXPECT_TRUE(on_host(module)) << module;

  const std::string extra = directory + "/gconv-modules.d/gconv-modules-extra.conf";
  const std::vector<std::string> more = gconv_module_files(testing::read_file(extra), directory);
  EXPECT_GT(more.size(), 200u);
  EXPECT_NE(std::find(more.begin(), more.end(), directory + "/EUC-JP.so"), more.end());
  // libJIS.so is a library EUC-JP.so links, named by no module line: the planner brings it.
  EXPECT_EQ(std::find(more.begin(), more.end(), directory + "/libJIS.so"), more.end());
  for (const std::string& module : more) EXPECT_TRUE(on_host(module)) << module;
}

TEST(GconvModuleFiles, TakesPlainNamesOnlyAndAddsSoOnce) {
  const std::string configuration =
      "# comment module A// INTERNAL COMMENTED 1\n"
      "alias LATIN1// ISO-8859-1//\n"
      "module ISO-8859-1// INTERNAL ISO8859-1 1\n"
      "module INTERNAL ISO-8859-1// ISO8859-1 1\n"
      "  module\tX//\tINTERNAL\tWITH-SO.so\t2   # trailing comment\n"
      "module Y// INTERNAL /etc/shadow 1\n"
      "module Z// INTERNAL ../../../etc/passwd 1\n"
      "module SHORT// INTERNAL\n";
  EXPECT_EQ(gconv_module_files(configuration, "/g"), (std::vector<std::string>{"/g/ISO8859-1.so", "/g/WITH-SO.so"}));
  EXPECT_TRUE(gconv_module_files("", "/g").empty());
}

TEST(TerminfoEntry, IsWhereNcursesFindsItOnTheHost) {
  if (!on_host("/lib/terminfo/x/xterm")) GTEST_SKIP() << "no Debian ncurses-base";
  // Debian's ncurses names its search list in libtinfo: the rule's list is that one.
  EXPECT_EQ(terminfo_directories(), (std::vector<std::string>{"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"}));
  EXPECT_EQ(terminfo_entry("xterm-256color", terminfo_directories(), on_host), "/lib/terminfo/x/xterm-256color");
  // Every common terminal is in Debian 12's ncurses-base.
  for (const std::string& terminal : common_terminals())
    EXPECT_TRUE(terminfo_entry(terminal, terminfo_directories(), on_host)) << terminal;
  EXPECT_FALSE(terminfo_entry("no-such-terminal", terminfo_directories(), on_host));
  EXPECT_FALSE(terminfo_entry("../x/xterm", terminfo_directories(), on_host));
  EXPECT_FALSE(terminfo_entry("", terminfo_directories(), on_host));
}

TEST(TerminfoEntry, TheFirstDirectoryHoldingItWins) {
  if (!on_host("/lib/terminfo/x/xterm")) GTEST_SKIP() << "no Debian ncurses-base";
  char pattern[] = "/var/tmp/jailbuild-terminfo-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string local = pattern;
  testing::write_file(local + "/x/xterm", "local description");
  EXPECT_EQ(terminfo_entry("xterm", {local, "/lib/terminfo"}, on_host), local + "/x/xterm");
  EXPECT_EQ(terminfo_entry("xterm", {"/lib/terminfo", local}, on_host), "/lib/terminfo/x/xterm");
  // A directory without the entry is passed over (ncurses goes on to the next).
  EXPECT_EQ(terminfo_entry("vt100", {local, "/lib/terminfo"}, on_host), "/lib/terminfo/v/vt100");
  std::filesystem::remove_all(local);
}

}  // namespace
}  // namespace jailbuild
