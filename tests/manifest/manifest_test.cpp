// The manifest: its JSON layout and validation, the names of manifest files, loading and atomic
// saving (a full disk included), the default state directory, and the per-root lock.
#include "jailbuild/log.hpp"
#include "jailbuild/manifest.hpp"
#include "manifest/manifest_json.hpp"
#include "manifest/root_lock.hpp"
#include "support/temp_dir.hpp"
#include "util/files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using jailbuild::testing::TempDir;

namespace fs = std::filesystem;
using jailbuild::default_state_dir;
using jailbuild::DlopenRequirement;
using jailbuild::EntryType;
using jailbuild::FileIdentity;
using jailbuild::GeneratedRequirement;
using jailbuild::Intent;
using jailbuild::intent_from_json_line;
using jailbuild::intent_json_line;
using jailbuild::load_manifest;
using jailbuild::Manifest;
using jailbuild::manifest_from_json;
using jailbuild::manifest_path;
using jailbuild::manifest_to_json;
using jailbuild::ManifestEntry;
using jailbuild::PathRequirement;
using jailbuild::Reason;
using jailbuild::RuleRequirement;
using jailbuild::RootLock;
using jailbuild::save_manifest;
using jailbuild::TracedRequirement;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Helpers

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> directory_listing(const std::string& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

FileIdentity identity(std::uint64_t seed) {
  return FileIdentity{.dev = 2049 + seed,
                      .ino = 131 * seed,
                      .size = 1000 + seed,
                      .mtime_ns = 1'700'000'000'123'456'789 + static_cast<std::int64_t>(seed),
                      .ctime_ns = 1'700'000'100'000'000'000 + static_cast<std::int64_t>(seed),
                      .mode = 0100755,
                      .uid = 0,
                      .gid = 0};
}

ManifestEntry entry(const std::string& path, EntryType type, const std::string& source, std::uint64_t seed) {
  ManifestEntry result;
  result.path = path;
  result.type = type;
  result.source = source;
  result.reasons = {Reason{.added = "/usr/bin/tool", .needed_by = "", .rule = "added"}};
  result.source_identity = identity(seed);
  result.copy_identity = identity(seed + 1000);
  return result;
}

// A small manifest whose entries, sorted, are: [0] /lib64 symlink, [1] /usr directory,
// [2] /usr/bin/tool file. The validation cases below refer to these indexes.
Manifest small_manifest() {
  Manifest manifest;
  manifest.root = "/srv/jail";
  manifest.intent.requirements = {PathRequirement{"/usr/bin/tool"}};
  ManifestEntry lib64 = entry("/lib64", EntryType::Symlink, "/lib64", 1);
  lib64.link_target = "usr/lib64";
  manifest.entries.emplace("/lib64", lib64);
  manifest.entries.emplace("/usr", entry("/usr", EntryType::Directory, "/usr", 2));
  manifest.entries.emplace("/usr/bin/tool", entry("/usr/bin/tool", EntryType::File, "/usr/bin/tool", 3));
  return manifest;
}

// Everything a manifest can hold, with extreme numbers and paths that are not UTF-8.
Manifest rich_manifest() {
  Manifest manifest = small_manifest();
  manifest.root = "/srv/jail caf\xc3\xa9";
  manifest.intent.options.keep_setuid = true;
  manifest.intent.options.allow_devices = true;
  manifest.intent.options.rules_with = {"nss", "rule-caf\xe9"};
  manifest.intent.options.rules_without = {"locale"};
  manifest.intent.options.users = {"www-data", "caf\xe9"};
  // Every kind of requirement, with byte strings that are not UTF-8 (and a NUL in generated content).
  manifest.intent.requirements = {
      PathRequirement{"/usr/bin/tool"},
      PathRequirement{"/srv/latin1-caf\xe9"},
      PathRequirement{"/etc/ssl"},
      DlopenRequirement{"/usr/bin/tool", "libplugin-\xff.so"},
      RuleRequirement{"nss"},
      TracedRequirement{"/etc/hosts\xfe", "tool --fetch 'caf\xe9'"},
      GeneratedRequirement{"/etc/motd", std::string("hello\0\xff\n", 8), 0600, "generated for caf\xe9"},
  };

  ManifestEntry generated = entry("/etc/ld.so.cache", EntryType::File, "", 4);
  generated.reasons = {Reason{.added = "", .needed_by = "", .rule = "generated loader cache"}};
  generated.source_identity = FileIdentity{};
  manifest.entries.emplace(generated.path, generated);

  ManifestEntry libc =
      entry("/usr/lib/x86_64-linux-gnu/libc.so.6", EntryType::File, "/usr/lib/x86_64-linux-gnu/libc.so.6", 5);
  libc.reasons = {Reason{.added = "/usr/bin/tool", .needed_by = "/usr/bin/tool", .rule = "ld.so.cache"},
                  Reason{.added = "/etc/ssl", .needed_by = "/usr/lib/libssl.so.3", .rule = "rpath of X"}};
  libc.source_identity.dev = std::numeric_limits<std::uint64_t>::max();
  libc.source_identity.ino = std::numeric_limits<std::uint64_t>::max() - 1;
  libc.source_identity.mtime_ns = std::numeric_limits<std::int64_t>::min();  // before 1970
  libc.source_identity.ctime_ns = std::numeric_limits<std::int64_t>::max();
  libc.copy_identity.uid = std::numeric_limits<std::uint32_t>::max();
  libc.copy_identity.mode = 0104755;
  manifest.entries.emplace(libc.path, libc);

  ManifestEntry latin1 = entry("/srv/latin1-caf\xe9", EntryType::File, "/srv/latin1-caf\xe9", 6);
  latin1.reasons = {Reason{.added = "/srv/latin1-caf\xe9", .needed_by = "", .rule = "added \xff"}};
  manifest.entries.emplace(latin1.path, latin1);

  ManifestEntry odd_link = entry("/etc/ssl/certs", EntryType::Symlink, "/etc/ssl/certs", 7);
  odd_link.link_target = "../../\xfe\xff/../x y";
  manifest.entries.emplace(odd_link.path, odd_link);
  return manifest;
}

void expect_same(const Manifest& actual, const Manifest& expected) {
  EXPECT_EQ(actual.version, expected.version);
  EXPECT_EQ(actual.root, expected.root);
  EXPECT_EQ(actual.intent.options, expected.intent.options);
  EXPECT_EQ(actual.intent.requirements, expected.intent.requirements);
  ASSERT_EQ(actual.entries.size(), expected.entries.size());
  for (const auto& [path, want] : expected.entries) {
    SCOPED_TRACE(path);
    const auto found = actual.entries.find(path);
    ASSERT_NE(found, actual.entries.end());
    const ManifestEntry& got = found->second;
    EXPECT_EQ(got.path, want.path);
    EXPECT_EQ(got.type, want.type);
    EXPECT_EQ(got.source, want.source);
    EXPECT_EQ(got.link_target, want.link_target);
    EXPECT_EQ(got.reasons, want.reasons);
    EXPECT_EQ(got.source_identity, want.source_identity);
    EXPECT_EQ(got.copy_identity, want.copy_identity);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON layout

TEST(ManifestJson, RoundTripKeepsEverything) {
  const Manifest original = rich_manifest();
  const json document = manifest_to_json(original);
  const auto parsed = manifest_from_json(document);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  expect_same(*parsed, original);

  // Through text too, as a file holds it.
  const auto reparsed = manifest_from_json(json::parse(document.dump(2)));
  ASSERT_TRUE(reparsed.ok()) << reparsed.error().message;
  expect_same(*reparsed, original);
}

TEST(ManifestJson, LayoutIsStableVersionedAndSortedByPath) {
  Manifest manifest;
  manifest.root = "/srv/jail";
  manifest.intent.options.allow_devices = true;
  manifest.intent.options.rules_without = {"nss"};
  manifest.intent.requirements = {PathRequirement{"/bin/sh"}, DlopenRequirement{"/bin/sh", "libm.so.6"},
                                  RuleRequirement{"nss2"}, TracedRequirement{"/etc/passwd", "sh -c id"},
                                  GeneratedRequirement{"/etc/motd", "hi\n", 0640, "asked for"}};
  ManifestEntry sh = entry("/bin/sh", EntryType::Symlink, "/bin/sh", 1);
  sh.link_target = "dash";
  sh.reasons = {Reason{.added = "/bin/sh", .needed_by = "", .rule = "added"}};
  sh.source_identity =
      FileIdentity{.dev = 1, .ino = 2, .size = 4, .mtime_ns = 5, .ctime_ns = 6, .mode = 0120777, .uid = 7, .gid = 8};
  sh.copy_identity = FileIdentity{};
  manifest.entries.emplace("/bin/sh", sh);
  manifest.entries.emplace("/bin", entry("/bin", EntryType::Directory, "/bin", 2));
  manifest.entries.at("/bin").reasons = {};
  manifest.entries.at("/bin").source_identity = FileIdentity{};
  manifest.entries.at("/bin").copy_identity = FileIdentity{};

  const json expected = R"({
    "version": 2,
    "root": "/srv/jail",
    "intent": {
      "options": {"keep_setuid": false, "allow_devices": true, "rules_with": [], "rules_without": ["nss"],
                  "users": []},
      "requirements": [
        {"kind": "path", "path": "/bin/sh"},
        {"kind": "dlopen", "from": "/bin/sh", "name": "libm.so.6"},
        {"kind": "rule", "name": "nss2"},
        {"kind": "traced", "path": "/etc/passwd", "command": "sh -c id"},
        {"kind": "generated", "path": "/etc/motd", "content": "hi\n", "mode": 416, "why": "asked for"}
      ]
    },
    "entries": [
      {"path": "/bin", "type": "directory", "source": "/bin", "link_target": "", "reasons": [],
       "source_identity": {"dev": 0, "ino": 0, "size": 0, "mtime_ns": 0, "ctime_ns": 0, "mode": 0, "uid": 0, "gid": 0},
       "copy_identity": {"dev": 0, "ino": 0, "size": 0, "mtime_ns": 0, "ctime_ns": 0, "mode": 0, "uid": 0, "gid": 0}},
      {"path": "/bin/sh", "type": "symlink", "source": "/bin/sh", "link_target": "dash",
       "reasons": [{"added": "/bin/sh", "needed_by": "", "rule": "added"}],
       "source_identity": {"dev": 1, "ino": 2, "size": 4, "mtime_ns": 5, "ctime_ns": 6, "mode": 41471, "uid": 7, "gid": 8},
       "copy_identity": {"dev": 0, "ino": 0, "size": 0, "mtime_ns": 0, "ctime_ns": 0, "mode": 0, "uid": 0, "gid": 0}}
    ]
  })"_json;
  EXPECT_EQ(manifest_to_json(manifest), expected) << manifest_to_json(manifest).dump(2);
}

TEST(ManifestJson, IntentOnOneLineRoundTripsAndIsCheckedAsInAManifest) {
  const Intent intent = rich_manifest().intent;
  const std::string line = intent_json_line(intent);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_EQ(json::parse(line), manifest_to_json(rich_manifest())["intent"]);
  const auto parsed = intent_from_json_line(line);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, intent);

  const auto unknown = intent_from_json_line(R"({"options": {}, "requirements": [{"kind": "spec"}]})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "intent.options: missing key 'keep_setuid'");
  const auto cut = intent_from_json_line(line.substr(0, line.size() / 2));
  ASSERT_FALSE(cut.ok());
  EXPECT_TRUE(contains(cut.error().message, "not valid JSON: ")) << cut.error().message;
}

TEST(ManifestJson, StringsThatAreNotUtf8AreWrittenAsHex) {
  Manifest manifest = small_manifest();
  manifest.intent.requirements = {PathRequirement{"/caf\xe9"}};
  manifest.intent.options.users = {"caf\xe9"};
  const json document = manifest_to_json(manifest);
  EXPECT_EQ(document["intent"]["requirements"][0], json({{"kind", "path"}, {"path", {{"hex", "2f636166e9"}}}}));
  EXPECT_EQ(document["intent"]["options"]["users"][0], json({{"hex", "636166e9"}}));
  EXPECT_EQ(document["root"], "/srv/jail");  // UTF-8 stays a plain string
  EXPECT_NO_THROW((void)document.dump());
}

TEST(ManifestJson, EntryTypeNames) {
  EXPECT_STREQ(jailbuild::to_string(EntryType::Directory), "directory");
  EXPECT_STREQ(jailbuild::to_string(EntryType::Symlink), "symlink");
  EXPECT_STREQ(jailbuild::to_string(EntryType::File), "file");
}

// ---------------------------------------------------------------------------------------------
// Validation: each problem, reported where it is

struct BadManifest {
  std::string name;
  std::function<void(json&)> spoil;
  std::string message;
};

void PrintTo(const BadManifest& bad, std::ostream* out) { *out << bad.name; }

// Sets the value at a JSON pointer.
std::function<void(json&)> set(const std::string& pointer, json value) {
  return [pointer, value](json& document) { document[json::json_pointer(pointer)] = value; };
}

std::function<void(json&)> erase(const std::string& pointer) {
  return [pointer](json& document) {
    const json::json_pointer where(pointer);
    document[where.parent_pointer()].erase(where.back());
  };
}

class ManifestValidation : public ::testing::TestWithParam<BadManifest> {};

TEST_P(ManifestValidation, ReportsTheFirstProblemAndWhereItIs) {
  json document = manifest_to_json(small_manifest());
  ASSERT_TRUE(manifest_from_json(document).ok()) << "the unspoiled manifest must be valid";
  GetParam().spoil(document);
  const auto parsed = manifest_from_json(document);
  ASSERT_FALSE(parsed.ok()) << document.dump(2);
  EXPECT_EQ(parsed.error().message, GetParam().message);
}

const json kZeroIdentity = {{"dev", 0},      {"ino", 0},  {"size", 0}, {"mtime_ns", 0},
                            {"ctime_ns", 0}, {"mode", 0}, {"uid", 0},  {"gid", 0}};

INSTANTIATE_TEST_SUITE_P(
    Problems, ManifestValidation,
    ::testing::Values(
        BadManifest{"TopLevelArray", [](json& d) { d = json::array({d}); },
                    "expected a JSON object at the top level, got array"},
        BadManifest{"MissingVersion", erase("/version"), "missing key 'version'"},
        BadManifest{"VersionString", set("/version", "1"), "version: expected an integer, got string"},
        BadManifest{"VersionFloat", set("/version", 1.0), "version: expected an integer, got float"},
        BadManifest{"NewerVersion", set("/version", 3), "version 3 is newer than this jailbuild understands (2)"},
        BadManifest{"NewerVersionWithAnotherLayout",
                    [](json& d) {
                      d = {{"version", 7}, {"roots", json::array()}};
                    },
                    "version 7 is newer than this jailbuild understands (2)"},
        BadManifest{"VersionZero", set("/version", 0), "version: 0 is not a manifest version"},
        BadManifest{"UnknownTopLevelKey", set("/extra", true), "unknown key 'extra'"},
        BadManifest{"MissingRoot", erase("/root"), "missing key 'root'"},
        BadManifest{"RootNumber", set("/root", 3), "root: expected a string, got number"},
        BadManifest{"RelativeRoot", set("/root", "srv/jail"), "root: 'srv/jail' is not an absolute path"},
        BadManifest{"EmptyRoot", set("/root", ""), "root: empty path"},
        BadManifest{"RootWithDotDot", set("/root", "/srv/../jail"), "root: '/srv/../jail' has a '..' component"},
        BadManifest{"RootWithDot", set("/root", "/srv/./jail"), "root: '/srv/./jail' has a '.' component"},
        BadManifest{"RootWithDoubleSlash", set("/root", "/srv//jail"), "root: '/srv//jail' has an empty component"},
        BadManifest{"RootWithTrailingSlash", set("/root", "/srv/jail/"), "root: '/srv/jail/' has an empty component"},
        BadManifest{"RootWithNul", set("/root", std::string("/srv\0jail", 9)), "root: path contains a NUL byte"},
        BadManifest{"RootHexOddLength", set("/root", {{"hex", "2f6"}}),
                    "root.hex: expected an even number of lowercase hex digits"},
        BadManifest{"RootHexNotHex", set("/root", {{"hex", "2fzz"}}),
                    "root.hex: expected an even number of lowercase hex digits"},
        BadManifest{"RootHexUnknownKey", set("/root", {{"hex", "2f61"}, {"base64", "x"}}),
                    "root: unknown key 'base64'"},
        BadManifest{"RootHexRelative", set("/root", {{"hex", "61"}}), "root: 'a' is not an absolute path"},
        BadManifest{"MissingIntent", erase("/intent"), "missing key 'intent'"},
        BadManifest{"IntentArray", set("/intent", json::array()), "intent: expected an object, got array"},
        BadManifest{"IntentUnknownKey", set("/intent/spec", "jail.toml"), "intent: unknown key 'spec'"},
        BadManifest{"VersionOneKeyInVersionTwo", set("/added", json::array()), "unknown key 'added'"},
        BadManifest{"OptionsArray", set("/intent/options", json::array()),
                    "intent.options: expected an object, got array"},
        BadManifest{"OptionString", set("/intent/options/keep_setuid", "true"),
                    "intent.options.keep_setuid: expected a boolean, got string"},
        BadManifest{"OptionNumber", set("/intent/options/allow_devices", 1),
                    "intent.options.allow_devices: expected a boolean, got number"},
        BadManifest{"UnknownOption", set("/intent/options/loader_cache", true),
                    "intent.options: unknown key 'loader_cache'"},
        BadManifest{"EmptyOptionName", set("/intent/options/", true), "intent.options: unknown key ''"},
        BadManifest{"MissingOption", erase("/intent/options/users"), "intent.options: missing key 'users'"},
        BadManifest{"RulesNotArray", set("/intent/options/rules_with", "nss"),
                    "intent.options.rules_with: expected an array, got string"},
        BadManifest{"RuleNumber", set("/intent/options/rules_without", json::array({1})),
                    "intent.options.rules_without[0]: expected a string, got number"},
        BadManifest{"RuleEmpty", set("/intent/options/rules_with", json::array({""})),
                    "intent.options.rules_with[0]: empty name"},
        BadManifest{"RuleWithNul", set("/intent/options/rules_with", json::array({std::string("a\0b", 3)})),
                    "intent.options.rules_with[0]: name contains a NUL byte"},
        BadManifest{"RuleTwice", set("/intent/options/rules_with", json::array({"nss", "nss"})),
                    "intent.options.rules_with[1]: 'nss' is listed twice"},
        BadManifest{"RuleOnAndOff",
                    [](json& d) {
                      d["intent"]["options"]["rules_with"] = json::array({"nss", "dns"});
                      d["intent"]["options"]["rules_without"] = json::array({"dns"});
                    },
                    "intent.options.rules_without: 'dns' is in rules_with too"},
        BadManifest{"UserWithColon", set("/intent/options/users", json::array({"www-data", "root:x:0"})),
                    "intent.options.users[1]: 'root:x:0' holds ':' or a newline"},
        BadManifest{"UserWithNewline", set("/intent/options/users", json::array({"a\nroot"})),
                    "intent.options.users[0]: 'a\nroot' holds ':' or a newline"},
        BadManifest{"UsersObject", set("/intent/options/users", json::object()),
                    "intent.options.users: expected an array, got object"},
        BadManifest{"MissingRequirements", erase("/intent/requirements"), "intent: missing key 'requirements'"},
        BadManifest{"RequirementsObject", set("/intent/requirements", json::object()),
                    "intent.requirements: expected an array, got object"},
        BadManifest{"RequirementString", set("/intent/requirements/0", "/usr/bin/tool"),
                    "intent.requirements[0]: expected an object, got string"},
        BadManifest{"RequirementWithoutKind", erase("/intent/requirements/0/kind"),
                    "intent.requirements[0]: missing key 'kind'"},
        BadManifest{"RequirementKindNumber", set("/intent/requirements/0/kind", 1),
                    "intent.requirements[0].kind: expected a string, got number"},
        BadManifest{"UnknownRequirementKind", set("/intent/requirements/0/kind", "socket"),
                    "intent.requirements[0].kind: unknown requirement kind 'socket'"},
        BadManifest{"RequirementKeyOfAnotherKind", set("/intent/requirements/0/command", "x"),
                    "intent.requirements[0]: unknown key 'command'"},
        BadManifest{"PathRequirementRelative", set("/intent/requirements/0/path", "tool"),
                    "intent.requirements[0].path: 'tool' is not an absolute path"},
        BadManifest{"PathRequirementDotDot", set("/intent/requirements/0/path", "/usr/../etc/shadow"),
                    "intent.requirements[0].path: '/usr/../etc/shadow' has a '..' component"},
        BadManifest{"PathRequirementBadHex", set("/intent/requirements/0/path", {{"hex", "2F"}}),
                    "intent.requirements[0].path.hex: expected an even number of lowercase hex digits"},
        BadManifest{"RequirementTwice", set("/intent/requirements/1", {{"kind", "path"}, {"path", "/usr/bin/tool"}}),
                    "intent.requirements[1]: the same requirement as intent.requirements[0]"},
        BadManifest{"RequirementTwiceOnceInHex",
                    set("/intent/requirements/1",
                        {{"kind", "path"}, {"path", {{"hex", "2f7573722f62696e2f746f6f6c"}}}}),
                    "intent.requirements[1]: the same requirement as intent.requirements[0]"},
        BadManifest{"DlopenWithoutName", set("/intent/requirements/1", {{"kind", "dlopen"}, {"from", "/usr/bin/tool"}}),
                    "intent.requirements[1]: missing key 'name'"},
        BadManifest{"DlopenFromRelative",
                    set("/intent/requirements/1", {{"kind", "dlopen"}, {"from", "tool"}, {"name", "libm.so.6"}}),
                    "intent.requirements[1].from: 'tool' is not an absolute path"},
        BadManifest{"RuleNameEmpty", set("/intent/requirements/1", {{"kind", "rule"}, {"name", ""}}),
                    "intent.requirements[1].name: empty name"},
        BadManifest{"TracedCommandNumber",
                    set("/intent/requirements/1", {{"kind", "traced"}, {"path", "/etc/hosts"}, {"command", 7}}),
                    "intent.requirements[1].command: expected a string, got number"},
        BadManifest{"GeneratedModeWithFileType",
                    set("/intent/requirements/1",
                        {{"kind", "generated"}, {"path", "/etc/x"}, {"content", ""}, {"mode", 0100644}, {"why", ""}}),
                    "intent.requirements[1].mode: 33188 is not a permission mode (at most 07777)"},
        BadManifest{"GeneratedModeNegative",
                    set("/intent/requirements/1",
                        {{"kind", "generated"}, {"path", "/etc/x"}, {"content", ""}, {"mode", -1}, {"why", ""}}),
                    "intent.requirements[1].mode: -1 is out of range"},
        BadManifest{"GeneratedPathRelative",
                    set("/intent/requirements/1",
                        {{"kind", "generated"}, {"path", "etc/x"}, {"content", ""}, {"mode", 0644}, {"why", ""}}),
                    "intent.requirements[1].path: 'etc/x' is not an absolute path"},
        BadManifest{"MissingEntries", erase("/entries"), "missing key 'entries'"},
        BadManifest{"EntriesObject", set("/entries", json::object()), "entries: expected an array, got object"},
        BadManifest{"EntryNotObject", set("/entries/1", "/usr"), "entries[1]: expected an object, got string"},
        BadManifest{"UnknownEntryType", set("/entries/2/type", "socket"),
                    "entries[2].type: unknown entry type 'socket'"},
        BadManifest{"FirstOfTwoProblems",
                    [](json& d) {
                      d["entries"][2]["type"] = "fifo";
                      d["entries"][1]["type"] = "socket";
                    },
                    "entries[1].type: unknown entry type 'socket'"},
        BadManifest{"EntryMissingSource", erase("/entries/2/source"), "entries[2]: missing key 'source'"},
        BadManifest{"EntryUnknownKey", set("/entries/2/owner", "root"), "entries[2]: unknown key 'owner'"},
        BadManifest{"EntryEmptyPath", set("/entries/2/path", ""), "entries[2].path: empty path"},
        BadManifest{"EntryPathDotDot", set("/entries/2/path", "/usr/../etc/passwd"),
                    "entries[2].path: '/usr/../etc/passwd' has a '..' component"},
        BadManifest{"EntryPathRelative", set("/entries/2/path", "usr/bin/tool"),
                    "entries[2].path: 'usr/bin/tool' is not an absolute path"},
        BadManifest{"DuplicateEntry", set("/entries/2/path", "/usr"), "entries[2].path: duplicate entry '/usr'"},
        BadManifest{"SourceRelative", set("/entries/2/source", "bin/tool"),
                    "entries[2].source: 'bin/tool' is not an absolute path"},
        BadManifest{"SymlinkWithoutTarget", set("/entries/0/link_target", ""),
                    "entries[0].link_target: a symlink needs a target: empty path"},
        BadManifest{"FileWithTarget", set("/entries/2/link_target", "elsewhere"),
                    "entries[2].link_target: a file has no link target"},
        BadManifest{"DirectoryWithTarget", set("/entries/1/link_target", "elsewhere"),
                    "entries[1].link_target: a directory has no link target"},
        BadManifest{"ReasonsNotArray", set("/entries/2/reasons", json::object()),
                    "entries[2].reasons: expected an array, got object"},
        BadManifest{"ReasonMissingRule", erase("/entries/2/reasons/0/rule"),
                    "entries[2].reasons[0]: missing key 'rule'"},
        BadManifest{"ReasonNeededByRelative", set("/entries/2/reasons/0/needed_by", "libc.so.6"),
                    "entries[2].reasons[0].needed_by: 'libc.so.6' is not an absolute path"},
        BadManifest{"ReasonAddedRelative", set("/entries/2/reasons/0/added", "usr/bin/tool"),
                    "entries[2].reasons[0].added: 'usr/bin/tool' is not an absolute path"},
        BadManifest{"ReasonAddedDotDot", set("/entries/2/reasons/0/added", "/usr/../tool"),
                    "entries[2].reasons[0].added: '/usr/../tool' has a '..' component"},
        BadManifest{"ReasonUnknownKey", set("/entries/2/reasons/0/why", "x"),
                    "entries[2].reasons[0]: unknown key 'why'"},
        BadManifest{"MissingSourceIdentity", erase("/entries/2/source_identity"),
                    "entries[2]: missing key 'source_identity'"},
        BadManifest{"IdentityNotObject", set("/entries/2/copy_identity", json::array()),
                    "entries[2].copy_identity: expected an object, got array"},
        BadManifest{"IdentityMissingIno", erase("/entries/2/copy_identity/ino"),
                    "entries[2].copy_identity: missing key 'ino'"},
        BadManifest{"IdentityUnknownKey", set("/entries/2/copy_identity/nlink", 1),
                    "entries[2].copy_identity: unknown key 'nlink'"},
        BadManifest{"NegativeDevice", set("/entries/2/source_identity/dev", -1),
                    "entries[2].source_identity.dev: -1 is out of range"},
        BadManifest{"ModeAbove32Bits", set("/entries/2/copy_identity/mode", 4294967296),
                    "entries[2].copy_identity.mode: 4294967296 is out of range"},
        BadManifest{"MtimeAbove63Bits", set("/entries/2/source_identity/mtime_ns", 9223372036854775808u),
                    "entries[2].source_identity.mtime_ns: 9223372036854775808 is out of range"},
        BadManifest{"SizeString", set("/entries/2/source_identity/size", "12"),
                    "entries[2].source_identity.size: expected an integer, got string"},
        BadManifest{"CtimeBoolean", set("/entries/2/source_identity/ctime_ns", true),
                    "entries[2].source_identity.ctime_ns: expected an integer, got boolean"},
        BadManifest{"UidFloat",
                    set("/entries/1/copy_identity",
                        [] {
                          json identity = kZeroIdentity;
                          identity["uid"] = 0.5;
                          return identity;
                        }()),
                    "entries[1].copy_identity.uid: expected an integer, got float"}),
    [](const ::testing::TestParamInfo<BadManifest>& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------------------------------------
// Version 1 (as jailbuild wrote it before the intent): read, migrated, never written

// A version 1 manifest as an older jailbuild wrote it (keys in its order, indented by two).
const char* const kVersion1Manifest = R"({
  "added": [
    "/bin/sh",
    "/usr/bin/caf\u00e9"
  ],
  "entries": [
    {
      "copy_identity": {"ctime_ns": 6, "dev": 1, "gid": 8, "ino": 2, "mode": 41471, "mtime_ns": 5,
                      "size": 4, "uid": 7},
      "link_target": "dash",
      "path": "/bin/sh",
      "reasons": [{"added": "/bin/sh", "needed_by": "", "rule": "added"}],
      "source": "/bin/sh",
      "source_identity": {"ctime_ns": 6, "dev": 1, "gid": 8, "ino": 2, "mode": 41471, "mtime_ns": 5,
                      "size": 4, "uid": 7},
      "type": "symlink"
    }
  ],
  "options": {
    "keep_setuid": "true"
  },
  "root": "/srv/jail",
  "version": 1
}
)";

TEST(ManifestVersion1, IsReadWithItsAddedPathsAsPathRequirementsInOrderAndTypedOptions) {
  const auto parsed = manifest_from_json(json::parse(kVersion1Manifest));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->version, 1);
  EXPECT_EQ(parsed->root, "/srv/jail");
  Intent expected;
  expected.options.keep_setuid = true;
  expected.requirements = {PathRequirement{"/bin/sh"}, PathRequirement{"/usr/bin/caf\xc3\xa9"}};
  EXPECT_EQ(parsed->intent, expected);
  ASSERT_EQ(parsed->entries.size(), 1u);
  const ManifestEntry& sh = parsed->entries.at("/bin/sh");
  EXPECT_EQ(sh.link_target, "dash");
  EXPECT_EQ(sh.reasons, (std::vector<Reason>{{"/bin/sh", "", "added"}}));
  EXPECT_EQ(sh.copy_identity, (FileIdentity{1, 2, 4, 5, 6, 0120777, 7, 8}));

  // Written back, it is version 2 with the same intent and entries.
  const json written = manifest_to_json(*parsed);
  EXPECT_EQ(written["version"], 2);
  EXPECT_FALSE(written.contains("added"));
  EXPECT_FALSE(written.contains("options"));
  const auto reread = manifest_from_json(written);
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  EXPECT_EQ(reread->version, 2);
  EXPECT_EQ(reread->intent, parsed->intent);
  EXPECT_EQ(reread->entries, parsed->entries);
}

TEST(ManifestVersion1, WithoutOptionsSetEverythingIsOff) {
  json document = json::parse(kVersion1Manifest);
  document["options"] = json::object();
  const auto parsed = manifest_from_json(document);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->intent.options, jailbuild::IntentOptions{});
}

class ManifestVersion1Validation : public ::testing::TestWithParam<BadManifest> {};

TEST_P(ManifestVersion1Validation, ReportsTheFirstProblemAndWhereItIs) {
  json document = json::parse(kVersion1Manifest);
  ASSERT_TRUE(manifest_from_json(document).ok()) << "the unspoiled manifest must be valid";
  GetParam().spoil(document);
  const auto parsed = manifest_from_json(document);
  ASSERT_FALSE(parsed.ok()) << document.dump(2);
  EXPECT_EQ(parsed.error().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Problems, ManifestVersion1Validation,
    ::testing::Values(
        BadManifest{"IntentInVersion1", set("/intent", json::object()), "unknown key 'intent'"},
        BadManifest{"MissingOptions", erase("/options"), "missing key 'options'"},
        BadManifest{"OptionsArray", set("/options", json::array()), "options: expected an object, got array"},
        BadManifest{"OptionValueNumber", set("/options/keep_setuid", 1),
                    "options.keep_setuid: expected a string, got number"},
        BadManifest{"OptionValueBoolean", set("/options/keep_setuid", true),
                    "options.keep_setuid: expected a string, got boolean"},
        BadManifest{"OptionValueYes", set("/options/allow_devices", "yes"),
                    "options.allow_devices: expected \"true\" or \"false\", got 'yes'"},
        BadManifest{"UnknownOption", set("/options/loader_cache", "generated"), "options: unknown key 'loader_cache'"},
        BadManifest{"EmptyOptionName", set("/options/", "x"), "options: unknown key ''"},
        BadManifest{"MissingAdded", erase("/added"), "missing key 'added'"},
        BadManifest{"AddedNotArray", set("/added", "/bin/sh"), "added: expected an array, got string"},
        BadManifest{"AddedRelative", set("/added/0", "sh"), "added[0]: 'sh' is not an absolute path"},
        BadManifest{"AddedNumber", set("/added/1", 1), "added[1]: expected a string, got number"},
        BadManifest{"AddedTwice", set("/added/1", "/bin/sh"), "added[1]: '/bin/sh' is listed twice"},
        BadManifest{"EntryProblemsStillFound", set("/entries/0/type", "socket"),
                    "entries[0].type: unknown entry type 'socket'"}),
    [](const ::testing::TestParamInfo<BadManifest>& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------------------------------------
// Loading and saving

TEST(LoadManifest, MissingFileIsNullopt) {
  TempDir dir;
  const auto loaded = load_manifest(dir / "roots/srv-jail.json");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_FALSE(loaded->has_value());
}

TEST(LoadManifest, SavedManifestLoadsBack) {
  TempDir dir;
  const std::string path = manifest_path(dir.path(), "/srv/jail");
  const Manifest original = rich_manifest();
  const auto saved = save_manifest(path, original);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  const auto loaded = load_manifest(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same(**loaded, original);
}

TEST(LoadManifest, TruncatedFileNamesTheFileAndThePosition) {
  TempDir dir;
  const std::string path = dir / "truncated.json";
  write_file(path, "{\n  \"version\": 1,\n  \"root\": \"/srv");
  const auto loaded = load_manifest(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(contains(loaded.error().message, path + ": not valid JSON: parse error at line 3, column 16:"));
  EXPECT_TRUE(contains(loaded.error().message, "missing closing quote"));
}

TEST(LoadManifest, HalfOfASavedManifestIsAnError) {
  TempDir dir;
  const std::string path = manifest_path(dir.path(), "/srv/jail");
  ASSERT_TRUE(save_manifest(path, rich_manifest()).ok());
  const std::string text = read_file(path);
  write_file(path, text.substr(0, text.size() / 2));
  const auto loaded = load_manifest(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(contains(loaded.error().message, path + ": not valid JSON: parse error at line "));
}

TEST(LoadManifest, EmptyFileIsAnErrorNotAnEmptyManifest) {
  TempDir dir;
  const std::string path = dir / "empty.json";
  write_file(path, "");
  const auto loaded = load_manifest(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(contains(loaded.error().message, path + ": not valid JSON: "));
}

TEST(LoadManifest, InvalidManifestNamesTheFileAndTheProblem) {
  TempDir dir;
  const std::string path = dir / "bad.json";
  json document = manifest_to_json(small_manifest());
  document["entries"][0]["type"] = "socket";
  write_file(path, document.dump());
  const auto loaded = load_manifest(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message, path + ": entries[0].type: unknown entry type 'socket'");
}

TEST(LoadManifest, NewerVersionIsAnErrorNotAReset) {
  TempDir dir;
  const std::string path = dir / "newer.json";
  write_file(path, R"({"version": 3, "root": "/srv/jail", "anything": "else"})");
  const auto loaded = load_manifest(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message, path + ": version 3 is newer than this jailbuild understands (2)");
}

TEST(LoadManifest, Version1FileIsMigrated) {
  TempDir dir;
  const std::string path = dir / "old.json";
  write_file(path, kVersion1Manifest);
  const auto loaded = load_manifest(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->version, 1);
  EXPECT_TRUE((*loaded)->intent.options.keep_setuid);
  EXPECT_EQ((*loaded)->intent.requirements.size(), 2u);
}

TEST(LoadManifest, HostileIntentNamesTheFileAndTheProblem) {
  TempDir dir;
  const std::string path = dir / "hostile.json";
  const std::string good = manifest_to_json(small_manifest()).dump();
  const auto load_error = [&](const std::string& text) {
    write_file(path, text);
    const auto loaded = load_manifest(path);
    EXPECT_FALSE(loaded.ok()) << text;
    return loaded.ok() ? std::string() : loaded.error().message;
  };
  // A path that is not UTF-8 written raw instead of as {"hex": ...}: not JSON.
  std::string raw = good;
  raw.replace(raw.find("\"/usr/bin/tool\"}"), 16, "\"/usr/bin/caf\xe9\"}");
  EXPECT_TRUE(contains(load_error(raw), path + ": not valid JSON: ")) << raw;
  EXPECT_TRUE(contains(load_error(raw), "ill-formed UTF-8"));

  json document = json::parse(good);
  document["intent"]["requirements"][0]["kind"] = "exec";
  EXPECT_EQ(load_error(document.dump()), path + ": intent.requirements[0].kind: unknown requirement kind 'exec'");
  document = json::parse(good);
  document["intent"]["options"]["keep_setuid"] = "true";
  EXPECT_EQ(load_error(document.dump()), path + ": intent.options.keep_setuid: expected a boolean, got string");
  document = json::parse(good);
  document["intent"]["options"]["net"] = false;
  EXPECT_EQ(load_error(document.dump()), path + ": intent.options: unknown key 'net'");
  document = json::parse(good);
  document["intent"]["requirements"] = json::array({{{"kind", "path"}, {"path", {{"hex", "2f00"}}}}});
  EXPECT_EQ(load_error(document.dump()), path + ": intent.requirements[0].path: path contains a NUL byte");
}

TEST(LoadManifest, DirectoryIsAnError) {
  TempDir dir;
  const auto loaded = load_manifest(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message, dir.path() + ": not a regular file");
}

TEST(LoadManifest, PathThroughAFileIsAnError) {
  TempDir dir;
  write_file(dir / "file", "x");
  const auto loaded = load_manifest(dir / "file/manifest.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message, dir / "file/manifest.json" + ": open: Not a directory");
}

TEST(LoadManifest, AbsurdlyLargeFileIsRefused) {
  TempDir dir;
  const std::string path = dir / "huge.json";
  write_file(path, "");
  fs::resize_file(path, (std::uintmax_t{256} << 20) + 1);  // sparse
  const auto loaded = load_manifest(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message, path + ": larger than 256 MiB, too large for a manifest");
}

TEST(ReadStateFile, AFileLongerThanItsStatSizeIsReadWholeButNeverPastTheLimit) {
  // /proc/self/cmdline says size 0 and holds this test's arguments: the text read after fstat is
  // all there is to go by, as for a file that grew in between.
  const std::string path = "/proc/self/cmdline";
  ASSERT_EQ(fs::file_size(path), 0u);
  std::ifstream in(path, std::ios::binary);
  const std::string expected{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  ASSERT_GT(expected.size(), 8u);
  const auto read = jailbuild::read_file(path, 1 << 20, "a test file");
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ(**read, expected);
  const auto too_long = jailbuild::read_file(path, expected.size() - 1, "a test file");
  ASSERT_FALSE(too_long.ok());
  EXPECT_TRUE(too_long.error().message.starts_with(path + ": larger than ")) << too_long.error().message;
  const auto exact = jailbuild::read_file(path, expected.size(), "a test file");
  ASSERT_TRUE(exact.ok()) << exact.error().message;
  EXPECT_EQ(**exact, expected);
}

TEST(SaveManifest, CreatesAPrivateStateDirectoryAndFile) {
  TempDir dir;
  const std::string state = dir / "state/jailbuild";
  const std::string path = manifest_path(state, "/srv/jail");
  const auto saved = save_manifest(path, small_manifest());
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  EXPECT_EQ(fs::status(state + "/roots").permissions(), fs::perms::owner_all);
  EXPECT_EQ(fs::status(state).permissions(), fs::perms::owner_all);
  EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(directory_listing(state + "/roots"), std::vector<std::string>{"srv-jail.json"});
  EXPECT_TRUE(contains(read_file(path), "\n  \"version\": 2\n"));  // indented, readable
}

TEST(SaveManifest, ReplacesThePreviousManifest) {
  TempDir dir;
  const std::string path = manifest_path(dir.path(), "/srv/jail");
  ASSERT_TRUE(save_manifest(path, small_manifest()).ok());
  const Manifest second = rich_manifest();
  ASSERT_TRUE(save_manifest(path, second).ok());
  const auto loaded = load_manifest(path);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  expect_same(**loaded, second);
  EXPECT_EQ(directory_listing(dir / "roots").size(), 1u);  // no temporary file left
}

TEST(SaveManifest, StateDirectoryThatIsAFileIsAnError) {
  TempDir dir;
  write_file(dir / "state", "not a directory");
  const std::string path = manifest_path(dir / "state", "/srv/jail");
  const auto saved = save_manifest(path, small_manifest());
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().message, dir / "state/roots" + ": mkdir: Not a directory");
}

TEST(SaveManifest, IntentStringsThatAreNotUtf8AreWrittenAsHexAndLoadBack) {
  TempDir dir;
  const std::string path = manifest_path(dir.path(), "/srv/jail");
  Manifest manifest = small_manifest();
  manifest.intent.options.rules_with = {"caf\xe9"};
  manifest.intent.requirements.push_back(TracedRequirement{"/caf\xe9", "cat \xff"});
  const auto saved = save_manifest(path, manifest);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  const json document = json::parse(read_file(path));
  EXPECT_EQ(document["intent"]["options"]["rules_with"][0], json({{"hex", "636166e9"}}));
  EXPECT_EQ(document["intent"]["requirements"][1]["command"], json({{"hex", "63617420ff"}}));
  const auto loaded = load_manifest(path);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  expect_same(**loaded, manifest);
}

// A tmpfs of 16 KiB: the manifest that fills it must fail with ENOSPC and change nothing.
class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    mount_point_ = dir_ / "state";
    ASSERT_EQ(::mkdir(mount_point_.c_str(), 0700), 0) << std::strerror(errno);
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=16k") != 0) {
      GTEST_SKIP() << "mount tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_ && ::umount2(mount_point_.c_str(), MNT_DETACH) != 0) {
      ADD_FAILURE() << "umount " << mount_point_ << ": " << std::strerror(errno);
    }
  }

  TempDir dir_;
  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(FullDisk, LeavesTheOldManifestIntactAndNoTemporaryFile) {
  const std::string path = manifest_path(mount_point_, "/srv/jail");
  const Manifest old = small_manifest();
  const auto first = save_manifest(path, old);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string before = read_file(path);

  Manifest big = small_manifest();
  for (int i = 0; i < 200; ++i) {
    const std::string entry_path = "/usr/lib/lib" + std::to_string(i) + ".so";
    big.entries.emplace(entry_path, entry(entry_path, EntryType::File, entry_path, 10 + i));
  }
  ASSERT_GT(manifest_to_json(big).dump(2).size(), 64u * 1024) << "the manifest must not fit";
  const auto saved = save_manifest(path, big);
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().message, path + ": write: No space left on device");

  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(directory_listing(mount_point_ + "/roots"), std::vector<std::string>{"srv-jail.json"});
  const auto loaded = load_manifest(path);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  expect_same(**loaded, old);
}

// ---------------------------------------------------------------------------------------------
// Manifest file names

std::string name_of(const std::string& root) { return fs::path(manifest_path("/state", root)).filename(); }

// Inverts the escaping manifest_path documents: "-" separates components, "\xNN" is byte NN.
std::string unescape(std::string name) {
  EXPECT_TRUE(name.ends_with(".json")) << name;
  name.resize(name.size() - 5);
  if (name == "-") return "/";
  std::string root = "/";
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '-') {
      root += '/';
    } else if (name.compare(i, 2, "\\x") == 0 && i + 4 <= name.size()) {
      root += static_cast<char>(std::stoi(name.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      root += name[i];
    }
  }
  return root;
}

TEST(ManifestPath, IsReadableAndUnderRoots) {
  EXPECT_EQ(manifest_path("/var/lib/jailbuild", "/home/program"), "/var/lib/jailbuild/roots/home-program.json");
  EXPECT_EQ(manifest_path("/var/lib/jailbuild/", "/srv/jail"), "/var/lib/jailbuild/roots/srv-jail.json");
  EXPECT_EQ(name_of("/a-b"), "a\\x2db.json");
  EXPECT_EQ(name_of("/srv/my jail"), "srv-my\\x20jail.json");
  EXPECT_EQ(name_of("/.hidden/.x"), "\\x2ehidden-.x.json");
  EXPECT_EQ(name_of("/"), "-.json");
}

TEST(ManifestPath, TrickyRootsGetDistinctReversibleNames) {
  const std::vector<std::string> roots = {"/",
                                          "/a",
                                          "/a-b",
                                          "/a/b",
                                          "/a\\x2db",
                                          "/a b",
                                          "/a_b",
                                          "/a.b",
                                          "/a:b",
                                          "/a~b",
                                          "/-",
                                          "/--",
                                          "/a--b",
                                          "/a/-/b",
                                          "/.hidden",
                                          "/x/.hidden",
                                          "/srv/caf\xc3\xa9",
                                          "/srv/caf\xe9",
                                          "/srv/\xe2\x80\xae",
                                          "/a\\b",
                                          "/a/../b",
                                          "/A",
                                          "/ab",
                                          "/a/b/c",
                                          "/a/b-c",
                                          "/a-b/c",
                                          "/a\nb"};
  std::set<std::string> names;
  for (const std::string& root : roots) {
    const std::string name = name_of(root);
    EXPECT_TRUE(names.insert(name).second) << root << " shares the name " << name;
    EXPECT_EQ(unescape(name), root) << name;
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    EXPECT_FALSE(name.starts_with('.')) << name;  // never hidden, never "." or ".."
  }
}

TEST(ManifestPath, SpellingsOfOneDirectoryShareOneName) {
  const std::string name = name_of("/srv/jail");
  EXPECT_EQ(name_of("/srv/jail/"), name);
  EXPECT_EQ(name_of("//srv///jail//"), name);
  EXPECT_EQ(name_of("/srv/./jail/."), name);
  EXPECT_NE(name_of("/srv/../jail"), name);  // ".." depends on symlinks: not normalized
}

TEST(ManifestPath, LongRootsAreShortenedDistinctAndUsable) {
  const std::string long_root = "/" + std::string(300, 'x');
  std::string accented = "/";
  for (int i = 0; i < 60; ++i) accented += "\xc3\xa9";  // each byte escaped: 8 characters per letter
  const std::vector<std::string> roots = {long_root,
                                          long_root + "y",
                                          long_root + "/y",
                                          accented,
                                          accented + "x",
                                          "/" + std::string(199, 'x'),
                                          "/" + std::string(200, 'x')};
  std::set<std::string> names;
  TempDir dir;
  for (const std::string& root : roots) {
    const std::string path = manifest_path(dir.path(), root);
    const std::string name = fs::path(path).filename();
    EXPECT_LE(name.size(), 205u) << name;
    EXPECT_TRUE(names.insert(name).second) << root.size() << "-byte root shares the name " << name;
    const auto saved = save_manifest(path, small_manifest());
    EXPECT_TRUE(saved.ok()) << saved.error().message;
  }
  EXPECT_EQ(name_of("/" + std::string(200, 'x')), std::string(200, 'x') + ".json");  // at the limit: kept
  const std::string shortened = name_of(long_root);
  EXPECT_TRUE(shortened.starts_with(std::string(150, 'x'))) << shortened;
  EXPECT_EQ(shortened.substr(shortened.size() - 22, 1), "~") << shortened;
  // An escape is never cut in half.
  const std::string accented_name = name_of(accented);
  const std::string prefix = accented_name.substr(0, accented_name.find('~'));
  EXPECT_EQ(prefix.size() % 4, 0u) << accented_name;
}

// ---------------------------------------------------------------------------------------------
// The default state directory

// Sets environment variables for one test and restores them after.
class EnvironmentGuard {
 public:
  EnvironmentGuard() {
    for (const char* name : {"JAILBUILD_STATE_DIR", "XDG_STATE_HOME", "HOME"}) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value == nullptr ? std::nullopt : std::optional<std::string>(value));
    }
  }
  ~EnvironmentGuard() {
    for (const auto& [name, value] : saved_) set(name.c_str(), value);
  }
  EnvironmentGuard(const EnvironmentGuard&) = delete;
  EnvironmentGuard& operator=(const EnvironmentGuard&) = delete;

  static void set(const char* name, const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// Runs as user `uid` (effective uid only) until destroyed.
class EffectiveUser {
 public:
  explicit EffectiveUser(uid_t uid) : ok_(::seteuid(uid) == 0) {}
  ~EffectiveUser() {
    if (ok_ && ::seteuid(0) != 0) std::abort();  // the other tests need root back
  }
  EffectiveUser(const EffectiveUser&) = delete;
  EffectiveUser& operator=(const EffectiveUser&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

constexpr uid_t kNobody = 65534;

TEST(DefaultStateDir, EnvironmentVariableWins) {
  EnvironmentGuard guard;
  EnvironmentGuard::set("JAILBUILD_STATE_DIR", "/custom/state");
  EnvironmentGuard::set("XDG_STATE_HOME", "/xdg");
  EXPECT_EQ(default_state_dir(), "/custom/state");
}

TEST(DefaultStateDir, RootUsesVarLib) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  EnvironmentGuard guard;
  EnvironmentGuard::set("JAILBUILD_STATE_DIR", std::nullopt);
  EnvironmentGuard::set("XDG_STATE_HOME", "/xdg");
  EXPECT_EQ(default_state_dir(), "/var/lib/jailbuild");
  EnvironmentGuard::set("JAILBUILD_STATE_DIR", "");  // empty is unset
  EXPECT_EQ(default_state_dir(), "/var/lib/jailbuild");
}

// As a user other than root: the tests' own user, or nobody when they run as root.
class DefaultStateDirAsUser : public ::testing::Test {
 protected:
  void SetUp() override {
    EnvironmentGuard::set("JAILBUILD_STATE_DIR", std::nullopt);
    if (::geteuid() != 0) return;
    user_.emplace(kNobody);
    ASSERT_TRUE(user_->ok()) << "seteuid: " << std::strerror(errno);
  }

  EnvironmentGuard guard_;
  std::optional<EffectiveUser> user_;
};

TEST_F(DefaultStateDirAsUser, UsesXdgStateHome) {
  EnvironmentGuard::set("XDG_STATE_HOME", "/home/u/.state");
  EXPECT_EQ(default_state_dir(), "/home/u/.state/jailbuild");
}

TEST_F(DefaultStateDirAsUser, IgnoresARelativeXdgStateHome) {
  EnvironmentGuard::set("XDG_STATE_HOME", "relative/state");
  EnvironmentGuard::set("HOME", "/home/u");
  EXPECT_EQ(default_state_dir(), "/home/u/.local/state/jailbuild");
}

TEST_F(DefaultStateDirAsUser, FallsBackToHome) {
  EnvironmentGuard::set("XDG_STATE_HOME", std::nullopt);
  EnvironmentGuard::set("HOME", "/home/u/");
  EXPECT_EQ(default_state_dir(), "/home/u/.local/state/jailbuild");
}

TEST_F(DefaultStateDirAsUser, WithoutHomeAsksThePasswordDatabase) {
  const passwd* user = ::getpwuid(::geteuid());
  if (user == nullptr) GTEST_SKIP() << "uid " << ::geteuid() << " has no password entry";
  const std::string expected = std::string(user->pw_dir) + "/.local/state/jailbuild";
  EnvironmentGuard::set("XDG_STATE_HOME", "");
  EnvironmentGuard::set("HOME", std::nullopt);
  EXPECT_EQ(default_state_dir(), expected);
}

// ---------------------------------------------------------------------------------------------
// The root lock

std::optional<char> read_byte(int fd, int timeout_ms) {
  pollfd poll_fd{.fd = fd, .events = POLLIN, .revents = 0};
  if (::poll(&poll_fd, 1, timeout_ms) != 1) return std::nullopt;
  char byte = 0;
  if (::read(fd, &byte, 1) != 1) return std::nullopt;
  return byte;
}

// A child process that takes the lock of a root, says 'L' (or 'E' if it could not), holds it
// until the test writes to it or `hold_ms` pass, then says 'R' and lets go by exiting.
class LockHolder {
 public:
  LockHolder(const std::string& state_dir, const std::string& root, int hold_ms) {
    int to_parent[2];
    int to_child[2];
    if (::pipe2(to_parent, O_CLOEXEC) != 0 || ::pipe2(to_child, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to_parent[0]);
      ::close(to_child[1]);
      run_child(state_dir, root, hold_ms, to_child[0], to_parent[1]);
    }
    ::close(to_parent[1]);
    ::close(to_child[0]);
    from_child_ = to_parent[0];
    to_child_ = to_child[1];
    if (pid_ < 0) ADD_FAILURE() << "fork: " << std::strerror(errno);
  }

  ~LockHolder() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(from_child_);
    ::close(to_child_);
  }
  LockHolder(const LockHolder&) = delete;
  LockHolder& operator=(const LockHolder&) = delete;

  pid_t pid() const { return pid_; }

  std::optional<char> next_message(int timeout_ms = 10'000) const { return read_byte(from_child_, timeout_ms); }

  // Tells the child to let go; safe to call from another thread.
  bool let_go() const { return ::write(to_child_, "r", 1) == 1; }

  // Tells the child to let go and waits until it has; true if it exited cleanly.
  bool release() {
    if (!let_go()) return false;
    int status = 0;
    const bool waited = ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return waited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  [[noreturn]] static void run_child(const std::string& state_dir, const std::string& root, int hold_ms, int commands,
                                     int messages) {
    int status = 0;
    {
      auto lock = RootLock::acquire(state_dir, root, /*wait=*/false);
      const char said = lock.ok() ? 'L' : 'E';
      status = ::write(messages, &said, 1) == 1 && lock.ok() ? 0 : 1;
      if (status == 0) {
        (void)read_byte(commands, hold_ms);
        status = ::write(messages, "R", 1) == 1 ? 0 : 1;
      }
    }  // the lock goes here
    ::_exit(status);
  }

  pid_t pid_ = -1;
  int from_child_ = -1;
  int to_child_ = -1;
};

class RootLockTest : public ::testing::Test {
 protected:
  std::string state() const { return dir_ / "state"; }
  std::string lock_file() const { return dir_ / "state/locks/srv-jail.lock"; }

  TempDir dir_;
  const std::string root_ = "/srv/jail";
};

// The lock file's text while `pid` holds the lock: the pid padded to a fixed width, which the next
// holder overwrites whole without truncating the file.
std::string holder_record(pid_t pid) {
  std::string text = std::to_string(pid);
  text.resize(14, ' ');
  return text + "\n";
}

TEST_F(RootLockTest, IsAFileInTheStateDirectoryNamedAsTheManifest) {
  const auto lock = RootLock::acquire(state(), root_, false);
  ASSERT_TRUE(lock.ok()) << lock.error().message;
  EXPECT_EQ(directory_listing(state() + "/locks"), std::vector<std::string>{"srv-jail.lock"});
  EXPECT_EQ(fs::path(manifest_path(state(), root_)).stem(), fs::path(lock_file()).stem());
  EXPECT_EQ(read_file(lock_file()), holder_record(::getpid()));
  EXPECT_EQ(fs::status(state() + "/locks").permissions(), fs::perms::owner_all);
}

TEST_F(RootLockTest, AnotherProcessCannotTakeItUntilItIsReleased) {
  LockHolder holder(state(), root_, 30'000);
  ASSERT_EQ(holder.next_message(), 'L');

  const auto refused = RootLock::acquire(state(), root_, /*wait=*/false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "another jailbuild is working on /srv/jail (lock " + lock_file() + ", pid " +
                                         std::to_string(holder.pid()) + ")");

  ASSERT_TRUE(holder.release());
  const auto taken = RootLock::acquire(state(), root_, /*wait=*/false);
  EXPECT_TRUE(taken.ok()) << taken.error().message;
}

TEST_F(RootLockTest, ASecondDescriptorInTheSameProcessConflicts) {
  {
    const auto first = RootLock::acquire(state(), root_, false);
    ASSERT_TRUE(first.ok()) << first.error().message;
    const auto second = RootLock::acquire(state(), root_, false);
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(contains(second.error().message, "another jailbuild is working on /srv/jail (lock " + lock_file()));
  }
  const auto after_release = RootLock::acquire(state(), root_, false);
  EXPECT_TRUE(after_release.ok()) << after_release.error().message;
}

TEST_F(RootLockTest, AMovedLockIsHeldUntilItsLastOwnerGoes) {
  auto first = RootLock::acquire(state(), root_, false);
  ASSERT_TRUE(first.ok()) << first.error().message;
  {
    const RootLock moved(std::move(*first));
    EXPECT_FALSE(RootLock::acquire(state(), root_, false).ok());
  }
  EXPECT_TRUE(RootLock::acquire(state(), root_, false).ok());
}

// The system call thread `tid` of this process is in, -1 if none or unknown.
long current_syscall(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long number = -1;
  return in >> number ? number : -1;
}

TEST_F(RootLockTest, WaitingBlocksUntilTheHolderLetsGo) {
  LockHolder holder(state(), root_, 30'000);
  ASSERT_EQ(holder.next_message(), 'L');

  // Let the holder go only once this thread is blocked in flock(2), so that the test neither
  // depends on timing nor passes if acquire does not wait.
  const pid_t waiter = ::gettid();
  std::atomic<bool> acquired = false;
  std::atomic<bool> saw_waiter_blocked = false;
  std::thread releaser([&] {
    for (int tries = 0; tries < 1000 && !acquired; ++tries) {
      if (current_syscall(waiter) == SYS_flock) {
        saw_waiter_blocked = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    (void)holder.let_go();
  });

  ::testing::internal::CaptureStderr();
  jailbuild::set_up_logging(jailbuild::Verbosity::normal);  // the command's logger: stderr, its one format
  const auto lock = RootLock::acquire(state(), root_, /*wait=*/true);
  const std::string said = ::testing::internal::GetCapturedStderr();
  acquired = true;
  releaser.join();

  ASSERT_TRUE(lock.ok()) << lock.error().message;
  EXPECT_TRUE(saw_waiter_blocked);
  EXPECT_EQ(said, "jailbuild: warning: waiting for another jailbuild working on /srv/jail (lock " + lock_file() +
                      ", pid " + std::to_string(holder.pid()) + ")\n");
  // The holder said 'R' just before letting go: had acquire not waited, it would not have yet.
  EXPECT_EQ(holder.next_message(0), 'R');
  EXPECT_EQ(read_file(lock_file()), holder_record(::getpid()));
}

TEST_F(RootLockTest, DifferentRootsDoNotConflict) {
  const auto first = RootLock::acquire(state(), "/srv/jail", false);
  const auto second = RootLock::acquire(state(), "/srv/jail-2", false);
  const auto same_spelled_otherwise = RootLock::acquire(state(), "/srv/jail/", false);
  EXPECT_TRUE(first.ok());
  EXPECT_TRUE(second.ok());
  EXPECT_FALSE(same_spelled_otherwise.ok());
}

TEST_F(RootLockTest, StateDirectoryInsideTheRootIsRefused) {
  const std::string root = dir_ / "jail";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  const auto lock = RootLock::acquire(root + "/var/lib/jailbuild", root + "/", false);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().message, "the state directory " + root + "/var/lib/jailbuild is inside the root " + root +
                                      "/, where a jailed process could change it; choose another with --state-dir");
  EXPECT_TRUE(fs::is_empty(root)) << "nothing may be created in the root";

  // Also through a symlink to the root.
  ASSERT_EQ(::symlink(root.c_str(), (dir_ / "link").c_str()), 0);
  const auto through_link = RootLock::acquire(dir_ / "link/state", root, false);
  ASSERT_FALSE(through_link.ok());
  EXPECT_TRUE(contains(through_link.error().message, "is inside the root " + root));

  const auto beside = RootLock::acquire(dir_ / "jail-state", root, false);
  EXPECT_TRUE(beside.ok()) << beside.error().message;
}

}  // namespace
