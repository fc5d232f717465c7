// `jailbuild deps` as a user runs it: output forms, exit codes, messages. Fixtures are built with
// gcc at test time; where a loader answer exists, the real loader is the oracle.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/loader_oracle.hpp"
#include "support/non_utf8_names.hpp"

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

// The kernel ends a #! line at the newline and trims spaces and tabs only: a script saved with
// CRLF line ends asks env for "true\r", which no PATH holds, and does not run. jailbuild must not
// name /usr/bin/true for it. The oracle is the kernel running both scripts.
TEST_F(DepsCommand, ACrlfScriptsEnvCommandKeepsItsCarriageReturnAsTheKernelDoes) {
  write("crlf.sh", "#!/usr/bin/env true\r\necho\r\n");
  write("lf.sh", "#!/usr/bin/env true\necho\n");
  fs::permissions(dir_ / "crlf.sh", fs::perms::owner_all);
  fs::permissions(dir_ / "lf.sh", fs::perms::owner_all);
  const ProcessResult crlf_ran = testing::run_process({path("crlf.sh")}, kPlainEnv);
  ASSERT_EQ(crlf_ran.exit_code, 127) << "env found \"true\\r\": " << crlf_ran.describe();
  const ProcessResult lf_ran = testing::run_process({path("lf.sh")}, kPlainEnv);
  ASSERT_EQ(lf_ran.exit_code, 0) << lf_ran.describe();

  const ProcessResult lf = jailbuild_run({"deps", "--list", path("lf.sh")});
  EXPECT_EQ(lf.exit_code, 0) << lf.describe();
  EXPECT_NE(lf.output.find("/usr/bin/true\n"), std::string::npos) << lf.output;
  const ProcessResult crlf = jailbuild_run({"deps", "--list", path("crlf.sh")});
  EXPECT_EQ(crlf.exit_code, 1) << crlf.describe();
  EXPECT_EQ(crlf.output.find("/usr/bin/true\n"), std::string::npos) << crlf.output;
}

// Every jailbuild command pays at start for each shared library it loads and the symbols it binds
// there: libstdc++, libgcc, libseccomp, libcap, spdlog and fmt are linked in (fmt through spdlog
// once made the binary load libfmt.so and libstdc++.so again). The loader is the oracle.
TEST_F(DepsCommand, JailbuildItselfLoadsOnlyTheCLibrary) {
  const auto trace = testing::trace_exec(JAILBUILD_BINARY, {}, "/");
  ASSERT_TRUE(trace.ran()) << trace.describe();
  std::set<std::string> loaded;
  for (const auto& object : trace.objects) {
    const std::string name = fs::path(object.path).filename().string();
    if (!name.starts_with("ld-linux")) loaded.insert(name);  // the loader itself, whatever the architecture
  }
  EXPECT_EQ(loaded, std::set<std::string>{"libc.so.6"}) << trace.describe();
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
  auto dep = std::find_if(objects.begin(), objects.end(),
                          [](const auto& o) { return o["names"].size() == 1 && o["names"][0] == "libdep.so.1"; });
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

TEST_F(DepsCommand, DoubleVerboseLogsEachCandidatePassedOverAndWhy) {
  fs::create_directories(dir_ / "empty");
  const std::string library_path = path("empty") + ":" + path("lib");
  const ProcessResult traced = jailbuild_run({"-vv", "deps", "--list", "--library-path", library_path, path("plain")});
  EXPECT_EQ(traced.exit_code, 0) << traced.describe();
  EXPECT_NE(traced.output.find(path("empty/libdep.so.1") + " (LD_LIBRARY_PATH): skipped: No such file or directory"),
            std::string::npos)
      << traced.output;
  // The control: without -vv, only the answer.
  const ProcessResult quiet = jailbuild_run({"deps", "--list", "--library-path", library_path, path("plain")});
  EXPECT_EQ(quiet.output.find("skipped"), std::string::npos) << quiet.output;
  EXPECT_NE(quiet.output.find(path("lib/libdep.so.1")), std::string::npos) << quiet.output;
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

// Names that are not UTF-8 (Linux paths are bytes) come out losslessly: a JSON string when they
// are UTF-8, {"hex": ...} otherwise, in every field that holds a path or embeds one. `--json` used
// to die on them with nlohmann's type_error 316 and exit 2.
TEST_F(DepsCommand, JsonWritesNamesThatAreNotUtf8AsHexAndTheRestAsStrings) {
  using testing::bytes_in;
  const std::string program = testing::build_program_with_non_utf8_paths(dir_);
  const std::string latin1_library = path(testing::kLatin1Directory + "/" + testing::kLatin1Library);
  const std::string utf8_library = path(testing::kUtf8Directory + "/" + testing::kUtf8Library);
  // A second program whose library is gone: the problem's name, needer and message hold such bytes.
  const std::string gone_library = testing::kLatin1Directory + "/lib\xfe.so";
  const std::string broken = path(testing::kLatin1Directory + "/broken");
  gcc("-shared -fPIC -o gone.so gone.c");
  fs::rename(dir_ / "gone.so", dir_ / gone_library);
  {
    testing::ProcessOptions in_dir;
    in_dir.cwd = dir_.string();
    const ProcessResult linked = testing::run_process(
        {"/usr/bin/gcc", "-o", broken, "main.c", "-Wl,--no-as-needed", path(gone_library)}, kPlainEnv, in_dir);
    ASSERT_EQ(linked.exit_code, 0) << linked.describe();
  }
  fs::remove(dir_ / gone_library);
  // The control: these names really are not UTF-8, and the UTF-8 one really is.
  ASSERT_TRUE(testing::plain_dump_refuses(program));
  ASSERT_TRUE(testing::plain_dump_refuses(latin1_library));
  ASSERT_TRUE(testing::plain_dump_refuses(testing::kLatin1Library));
  ASSERT_FALSE(testing::plain_dump_refuses(utf8_library));
  // The oracle: the loader finds both libraries where the JSON must say.
  const testing::LoaderTrace trace = testing::trace_exec(program, kPlainEnv, "/");
  ASSERT_TRUE(trace.ran()) << trace.describe();
  ASSERT_EQ(trace.path_of(testing::kLatin1Library), latin1_library) << trace.describe();
  ASSERT_EQ(trace.path_of(testing::kUtf8Library), utf8_library) << trace.describe();

  const ProcessResult result = jailbuild_run({"deps", "--json", program, broken});
  ASSERT_EQ(result.exit_code, 1) << result.describe();  // broken's library is missing; nothing else failed
  const std::string text = result.output.substr(result.output.find('['));
  const auto json = nlohmann::json::parse(text.substr(0, text.rfind(']') + 1), nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << result.output;
  ASSERT_EQ(json.size(), 2u) << json.dump(2);
  EXPECT_EQ(bytes_in(json[0]["file"]), program) << json[0]["file"];
  EXPECT_TRUE(json[0]["file"].is_object()) << "a name that is not UTF-8 is a {\"hex\": ...} object";
  EXPECT_TRUE(json[0]["complete"]);
  const auto& map = json[0]["programs"][0];
  EXPECT_EQ(bytes_in(map["program"]), program);
  const nlohmann::json* latin1 = nullptr;
  const nlohmann::json* utf8 = nullptr;
  for (const auto& object : map["objects"]) {
    if (bytes_in(object["path"]) == latin1_library) latin1 = &object;
    if (bytes_in(object["path"]) == utf8_library) utf8 = &object;
  }
  ASSERT_NE(latin1, nullptr) << map["objects"].dump(2);
  ASSERT_NE(utf8, nullptr) << map["objects"].dump(2);
  EXPECT_TRUE((*latin1)["path"].is_object());
  EXPECT_EQ(bytes_in((*latin1)["real_path"]), latin1_library);
  EXPECT_EQ((*latin1)["names"].size(), 1u);
  EXPECT_EQ(bytes_in((*latin1)["names"][0]), testing::kLatin1Library);
  const std::string how = (*latin1)["found_by"].get<std::string>();  // rpath or runpath, as the linker chose
  EXPECT_EQ(bytes_in((*latin1)["reason"]), how + " of " + program);
  EXPECT_EQ(bytes_in((*latin1)["loader"]), program);
  // UTF-8 names stay plain strings, byte for byte.
  EXPECT_EQ((*utf8)["path"], utf8_library);
  EXPECT_EQ((*utf8)["names"], nlohmann::json::array({testing::kUtf8Library}));
  bool latin1_dependency = false;
  for (const auto& dependency : map["dependencies"]) {
    if (bytes_in(dependency["name"]) != testing::kLatin1Library) continue;
    latin1_dependency = true;
    EXPECT_EQ(bytes_in(dependency["from"]), program);
    EXPECT_EQ(bytes_in(dependency["to"]), latin1_library);
  }
  EXPECT_TRUE(latin1_dependency) << map["dependencies"].dump(2);

  const auto& problems = json[1]["programs"][0]["problems"];
  ASSERT_EQ(problems.size(), 1u) << json[1].dump(2);
  EXPECT_EQ(problems[0]["kind"], "not_found");
  EXPECT_EQ(bytes_in(problems[0]["name"]), path(gone_library));
  EXPECT_EQ(bytes_in(problems[0]["needed_by"]), broken);
  const std::optional<std::string> message = bytes_in(problems[0]["message"]);
  ASSERT_TRUE(message) << problems[0];
  EXPECT_NE(message->find(path(gone_library)), std::string::npos) << *message;
  EXPECT_NE(message->find(broken), std::string::npos) << *message;
}

}  // namespace
}  // namespace jailbuild
