// `add --json` and `sync --json` with names that are not UTF-8 in the fields the tests in
// tests/jail do not reach: problems, dry runs, vanished paths and `sync --all`'s array. Every
// such name must come out losslessly ({"hex": ...}, README.md "Paths in JSON") and the document
// must parse, whatever the exit status. (`deps --json`: tests/cli/deps_cli_test.cpp.)
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/non_utf8_names.hpp"
#include "support/root_test.hpp"

namespace jailbuild::testing {
namespace {

class JsonNames : public RootTest {
 protected:
  JsonNames() : RootTest("jailbuild-json-names") {}

  // DIR/déjà(Latin-1)/needs-gone, a program whose DT_NEEDED is the path of DIR/déjà/lib\xfe.so,
  // which is gone: a problem whose name and message hold bytes that are not UTF-8.
  std::string program_missing_a_latin1_library() {
    fs::create_directories(dir_ / kLatin1Directory);
    write_file(dir_ / "gone.c", "int gone(void) { return 2; }\n");
    write_file(dir_ / "main.c", "int main(void) { return 0; }\n");
    const std::string library = path(kLatin1Directory + "/lib\xfe.so");
    const std::string program = path(kLatin1Directory + "/needs-gone");
    ProcessOptions in_dir;
    in_dir.cwd = dir_.string();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"/usr/bin/gcc", "-shared", "-fPIC", "-o", library, "gone.c"},
          std::vector<std::string>{"/usr/bin/gcc", "-o", program, "main.c", "-Wl,--no-as-needed", library}}) {
      const ProcessResult built = run_process(args, kPlainEnv, in_dir);
      EXPECT_EQ(built.exit_code, 0) << built.describe();
    }
    fs::remove(library);
    return program;
  }

  // The bytes of each element of a JSON array of byte strings; "?" for one that is neither form.
  static std::set<std::string> decoded(const nlohmann::json& array) {
    std::set<std::string> out;
    for (const auto& value : array) out.insert(bytes_in(value).value_or("?"));
    return out;
  }
};

TEST_F(JsonNames, AddJsonWritesAProblemsNamesAsHexAndStillExits1) {
  const std::string program = program_missing_a_latin1_library();
  const std::string gone = path(kLatin1Directory + "/lib\xfe.so");
  ASSERT_TRUE(plain_dump_refuses(gone));  // the control: this name really is not UTF-8

  const ProcessResult added = run_jailbuild(add_args({program}, root_, state_, {"--json"}));
  EXPECT_EQ(added.exit_code, kExitIncomplete) << added.describe();
  const nlohmann::json json = json_in(added.output);
  ASSERT_TRUE(json.is_object()) << added.output;
  ASSERT_EQ(json["problems"].size(), 1u) << json.dump(2);
  EXPECT_TRUE(json["problems"][0].is_object()) << json["problems"][0];
  const std::optional<std::string> message = bytes_in(json["problems"][0]);
  ASSERT_TRUE(message) << json["problems"][0];
  EXPECT_TRUE(contains(*message, gone)) << *message;
  EXPECT_TRUE(decoded(json["created"]).count(program)) << json["created"];
}

TEST_F(JsonNames, AddDryRunJsonWritesThePlannedEntriesAsHexAndCreatesNothing) {
  const std::string program = build_program_with_non_utf8_paths(dir_);
  const std::string latin1_library = path(kLatin1Directory + "/" + kLatin1Library);
  root_ = path("root-" + kLatin1Directory);

  const ProcessResult planned = run_jailbuild(add_args({program}, root_, state_, {"--dry-run", "--json"}));
  ASSERT_EQ(planned.exit_code, kExitOk) << planned.describe();
  const nlohmann::json json = json_in(planned.output);
  ASSERT_TRUE(json.is_object()) << planned.output;
  EXPECT_EQ(json["dry_run"], true);
  EXPECT_EQ(bytes_in(json["root"]), root_);
  std::set<std::string> entries;
  for (const auto& entry : json["entries"]) entries.insert(bytes_in(entry["path"]).value_or("?"));
  for (const std::string& file : {program, latin1_library})
    EXPECT_TRUE(entries.count(file) && decoded(json["created"]).count(file)) << file << " in " << json.dump(2);
  EXPECT_FALSE(fs::exists(root_)) << "a dry run created the root";
}

TEST_F(JsonNames, SyncAllJsonWritesEachRootAndItsPathsAsHex) {
  const std::string program = build_program_with_non_utf8_paths(dir_);
  const std::string latin1_library = path(kLatin1Directory + "/" + kLatin1Library);
  const std::string latin1_root = path("root-" + kLatin1Directory);
  ASSERT_TRUE(plain_dump_refuses(latin1_root));
  for (const std::string& root : {root_, latin1_root}) {
    const ProcessResult added = run_jailbuild(add_args({program}, root, state_));
    ASSERT_EQ(added.exit_code, kExitOk) << added.describe();
  }
  // The host's library is rebuilt (and renamed into place, as a package manager does): a dry run
  // of both roots would update it in each.
  ASSERT_TRUE(rebuild_latin1_library(dir_, 3));

  const ProcessResult planned = run_jailbuild({"sync", "--all", "--dry-run", "--json", "--state-dir", state_});
  ASSERT_EQ(planned.exit_code, kExitOk) << planned.describe();
  const nlohmann::json roots = json_in(planned.output);
  ASSERT_TRUE(roots.is_array()) << planned.output;
  ASSERT_EQ(roots.size(), 2u) << roots.dump(2);
  std::set<std::string> synced;
  for (const auto& report : roots) {
    synced.insert(bytes_in(report["root"]).value_or("?"));
    EXPECT_EQ(report["dry_run"], true);
    EXPECT_EQ(decoded(report["updated"]), std::set<std::string>{latin1_library}) << report.dump(2);
  }
  EXPECT_EQ(synced, (std::set<std::string>{root_, latin1_root}));

  // The program goes from the host: each root's "vanished" names it, and the status is 1.
  fs::remove(program);
  const ProcessResult gone = run_jailbuild({"sync", latin1_root, "--json", "--state-dir", state_});
  EXPECT_EQ(gone.exit_code, kExitIncomplete) << gone.describe();
  const nlohmann::json report = json_in(gone.output);
  ASSERT_TRUE(report.is_object()) << gone.output;
  EXPECT_TRUE(report["root"].is_object()) << report["root"];
  EXPECT_EQ(decoded(report["vanished"]), std::set<std::string>{program}) << report.dump(2);
}

}  // namespace
}  // namespace jailbuild::testing
