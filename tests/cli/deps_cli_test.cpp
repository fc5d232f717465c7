// `jailbuild deps` as a user runs it: output forms, exit codes, messages. Fixtures are built with
// gcc at test time; where a loader answer exists, the real loader is the oracle.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/loader_oracle.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;
using testing::Environment;
using testing::ProcessResult;

const Environment kPlainEnv{{"PATH", "/usr/bin:/bin"}};

ProcessResult jailbuild_run(std::vector<std::string> args, const Environment& env = kPlainEnv,
                            const std::string& cwd = "/") {
  args.insert(args.begin(), JAILBUILD_BINARY);
  testing::ProcessOptions options;
  options.cwd = cwd;
  return testing::run_process(args, env, options);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class DepsCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/jailbuild-cli-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    write("dep.c", "int dep(void) { return 1; }\n");
    write("gone.c", "int gone(void) { return 2; }\n");
    write("main.c", "int main(void) { return 0; }\n");
    fs::create_directories(dir_ / "lib");
    fs::create_directories(dir_ / "other");
    gcc("-shared -fPIC -Wl,-soname,libdep.so.1 -o lib/libdep.so.1 dep.c");
    gcc("-shared -fPIC -Wl,-soname,libdep.so.1 -o other/libdep.so.1 dep.c");
    gcc("-shared -fPIC -Wl,-soname,libgone.so -o lib/libgone.so gone.c");
    gcc("-shared -fPIC -Wl,-soname,libgone2.so -o lib/libgone2.so gone.c");
    gcc("-o app main.c -Wl,--no-as-needed -Llib -l:libdep.so.1 -Wl,-rpath," + (dir_ / "lib").string());
    gcc("-o broken main.c -Wl,--no-as-needed -Llib -l:libdep.so.1 -l:libgone.so -l:libgone2.so -Wl,-rpath," +
        (dir_ / "lib").string());
    gcc("-o plain main.c -Wl,--no-as-needed -Llib -l:libdep.so.1");
    fs::remove(dir_ / "lib/libgone.so");
    fs::remove(dir_ / "lib/libgone2.so");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  void gcc(const std::string& args) {
    const std::string command = "cd " + dir_.string() + " && gcc " + args;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(DepsCommand, HelpDescribesTheOptionsAndSucceeds) {
  const ProcessResult result = jailbuild_run({"deps", "--help"});
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  for (const char* option : {"--tree", "--list", "--json", "--root", "--library-path"})
    EXPECT_NE(result.output.find(option), std::string::npos) << option;
}

TEST_F(DepsCommand, UsageErrorsExitWithTwo) {
  EXPECT_EQ(jailbuild_run({"deps"}).exit_code, 2);
  EXPECT_EQ(jailbuild_run({"deps", "--list", "--json", path("app")}).exit_code, 2);
  EXPECT_EQ(jailbuild_run({"nosuchcommand"}).exit_code, 2);
}

TEST_F(DepsCommand, UnreadableInputExitsWithTwoAndNamesThePath) {
  const ProcessResult missing = jailbuild_run({"deps", path("nonexistent")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find(path("nonexistent") + ": No such file or directory"), std::string::npos)
      << missing.output;
  const ProcessResult text = jailbuild_run({"deps", path("main.c")});
  EXPECT_EQ(text.exit_code, 2);
  EXPECT_NE(text.output.find(path("main.c") + ": not an ELF file or a script"), std::string::npos) << text.output;
}

TEST_F(DepsCommand, ListMatchesTheLoaderAndIncludesProgramAndInterpreter) {
  const ProcessResult result = jailbuild_run({"deps", "--list", path("app")});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const auto lines = lines_of(result.output);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), path("app"));
  EXPECT_NE(std::find(lines.begin(), lines.end(), "/lib64/ld-linux-x86-64.so.2"), lines.end());

  std::set<std::string> listed;
  for (const auto& line : lines) {
    EXPECT_EQ(line.front(), '/') << "not absolute: " << line;
    if (line != path("app")) listed.insert(*testing::real_path(line));
  }
  const auto trace = testing::trace_exec(path("app"), {}, "/");
  ASSERT_TRUE(trace.ran()) << trace.describe();
  EXPECT_EQ(listed, testing::loaded_file_set(trace));
}

TEST_F(DepsCommand, ListPrintsEachFileOnceAcrossFiles) {
  const ProcessResult result = jailbuild_run({"deps", "--list", path("app"), path("app"), path("plain")});
  const auto lines = lines_of(result.output);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), lines.size()) << result.output;
  EXPECT_NE(std::find(lines.begin(), lines.end(), path("plain")), lines.end());
}

TEST_F(DepsCommand, EveryMissingLibraryIsReportedAndTheWalkGoesOn) {
  const ProcessResult result = jailbuild_run({"deps", "--list", path("broken")});
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_NE(result.output.find("libgone.so: not found (needed by " + path("broken") + ")"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("libgone2.so: not found (needed by " + path("broken") + ")"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find(path("lib/libdep.so.1")), std::string::npos) << result.output;
  // The loader agrees on what is missing.
  const auto trace = testing::trace_exec(path("broken"), {}, "/");
  EXPECT_EQ(trace.not_found, (std::vector<std::string>{"libgone.so", "libgone2.so"})) << trace.describe();
}

TEST_F(DepsCommand, TreeSaysHowEachObjectWasFound) {
  const ProcessResult result = jailbuild_run({"deps", path("app")});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_NE(result.output.find("libdep.so.1 => " + path("lib/libdep.so.1") + " [runpath of " + path("app") + "]"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("libc.so.6 => "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("[ld.so.cache]"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("[interpreter]"), std::string::npos) << result.output;
}

TEST_F(DepsCommand, JsonGivesPerFileClosuresWithReasons) {
  const ProcessResult result = jailbuild_run({"deps", "--json", path("app"), path("broken")});
  ASSERT_EQ(result.exit_code, 1) << result.describe();
  const std::string json_text = result.output.substr(0, result.output.rfind(']') + 1);
  const auto json = nlohmann::json::parse(json_text.substr(json_text.find('[')));
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["file"], path("app"));
  EXPECT_TRUE(json[0]["complete"]);
  EXPECT_FALSE(json[1]["complete"]);
  const auto& objects = json[0]["programs"][0]["objects"];
  auto dep = std::find_if(objects.begin(), objects.end(), [](const auto& o) { return o["names"].size() == 1 && o["names"][0] == "libdep.so.1"; });
  ASSERT_NE(dep, objects.end()) << objects.dump(2);
  EXPECT_EQ((*dep)["found_by"], "runpath");
  EXPECT_EQ((*dep)["path"], path("lib/libdep.so.1"));
  const auto& problems = json[1]["programs"][0]["problems"];
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0]["kind"], "not_found");
  EXPECT_EQ(problems[0]["needed_by"], path("broken"));
}

TEST_F(DepsCommand, LdLibraryPathIsAnOptionNotTheCallersEnvironment) {
  Environment env = kPlainEnv;
  env["LD_LIBRARY_PATH"] = path("other");
  // `plain` has no RUNPATH: libdep.so.1 is in no standard place.
  const ProcessResult ignored = jailbuild_run({"deps", "--list", path("plain")}, env);
  EXPECT_EQ(ignored.exit_code, 1) << ignored.describe();
  const ProcessResult from_env = jailbuild_run({"deps", "--list", "--environment", path("plain")}, env);
  EXPECT_EQ(from_env.exit_code, 0) << from_env.describe();
  EXPECT_NE(from_env.output.find(path("other/libdep.so.1")), std::string::npos) << from_env.output;
  const ProcessResult from_option = jailbuild_run({"deps", "--list", "--library-path", path("lib"), path("plain")});
  EXPECT_NE(from_option.output.find(path("lib/libdep.so.1")), std::string::npos) << from_option.output;
}

TEST_F(DepsCommand, RootResolvesInsideAnotherTree) {
  // A root holding the program and its library at other absolute paths than on the host; no libc.
  const fs::path root = dir_ / "root";
  fs::create_directories(root / "opt/lib");
  fs::create_directories(root / "bin");
  gcc("-o root/bin/app main.c -Wl,--no-as-needed -Llib -l:libdep.so.1 -Wl,-rpath,/opt/lib");
  fs::copy_file(dir_ / "lib/libdep.so.1", root / "opt/lib/libdep.so.1");
  const ProcessResult result = jailbuild_run({"deps", "--list", "--root", root.string(), "/bin/app"});
  EXPECT_EQ(result.exit_code, 1) << result.describe();  // no libc.so.6 and no interpreter in the root
  const auto lines = lines_of(result.output);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "/opt/lib/libdep.so.1"), lines.end()) << result.output;
  EXPECT_NE(result.output.find("libc.so.6: not found (needed by /bin/app)"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace jailbuild
