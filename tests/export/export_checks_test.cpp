// What export_test.cpp's peers cannot see: an export of a root `apply` never configured (run's
// defaults, no Cmd, no bundle), the bundle's config.json against run's own tables (the seccomp
// rules, the /proc lists, namespaces by `net`), a symlink planted in a root never followed out of
// it, and what the root holds beyond its manifest named at -v and left out.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "run/mount_plan.hpp"
#include "run/seccomp_rules.hpp"
#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"

namespace jailbuild {
namespace {

using namespace testing;
using nlohmann::json;

class ExportChecks : public JailSuite {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() == 0) make_suite_directory("export-checks");
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: the roots are root's, skopeo reads them as root";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    out_ = dir_ + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(out_);
  }

  // A root of its own for the test, by `add PATHS`; with `run_table` (a spec's [run] lines), by
  // `apply` of a spec holding them.
  std::string make_root(const std::vector<std::string>& paths, const std::string& run_table = "") {
    const std::string root = out_ + "/root", state = out_ + "/state";
    if (run_table.empty()) {
      const ProcessResult added = run_jailbuild(add_args(paths, root, state));
      EXPECT_EQ(added.exit_code, 0) << added.describe();
      return root;
    }
    std::ofstream spec(out_ + "/jail.toml");
    spec << "root = \"" << root << "\"\nstate-dir = \"" << state << "\"\npaths = [";
    for (std::size_t i = 0; i < paths.size(); ++i) spec << (i == 0 ? "\"" : ", \"") << paths[i] << "\"";
    spec << "]\n[run]\n" << run_table;
    spec.close();
    const ProcessResult applied = run_jailbuild({"apply", out_ + "/jail.toml"});
    EXPECT_EQ(applied.exit_code, 0) << applied.describe();
    return root;
  }
  ProcessResult export_root(const std::vector<std::string>& options, const std::vector<std::string>& global = {}) {
    std::vector<std::string> args = global;
    args.insert(args.end(), {"export", out_ + "/root", "--state-dir", out_ + "/state"});
    args.insert(args.end(), options.begin(), options.end());
    return run_jailbuild(args);
  }
  static ProcessResult shell(const std::string& command) { return run_process({"/bin/sh", "-c", command}, kPlainEnv); }
  // The path of the layer blob of the image layout `layout`.
  static std::string layer_blob(const std::string& layout) {
    const json index = json::parse(read_file(layout + "/index.json"));
    const std::string manifest = index["manifests"][0]["digest"];
    const std::string layer =
        json::parse(read_file(layout + "/blobs/sha256/" + manifest.substr(7)))["layers"][0]["digest"];
    return layout + "/blobs/sha256/" + layer.substr(7);
  }
  // The names the layer of `layout` holds, as `tar -t` lists them.
  static std::set<std::string> layer_names(const std::string& layout) {
    std::set<std::string> names;
    std::istringstream listing(shell("tar -tzf " + layer_blob(layout)).output);
    for (std::string line; std::getline(listing, line);) names.insert(line);
    return names;
  }

  std::string out_;
};

TEST_F(ExportChecks, ARootApplyNeverConfiguredExportsRunsDefaultsWithoutACommand) {
  const std::string root = make_root({"/usr/bin/id", "/bin/sh"});
  ASSERT_EQ(export_root({"--oci", out_ + "/layout"}).exit_code, 0);
  const ProcessResult inspected =
      run_process({"/usr/bin/skopeo", "inspect", "--config", "oci:" + out_ + "/layout:latest"}, kPlainEnv);
  ASSERT_EQ(inspected.exit_code, 0) << inspected.describe();
  const json config = json::parse(inspected.output, nullptr, false);
  ASSERT_TRUE(config.is_object()) << inspected.output;
  // The user `run` gives by default, as the jailed `id` says.
  const ProcessResult uid = run_jailbuild({"run", "--state-dir", out_ + "/state", root, "/usr/bin/id", "-u"});
  const ProcessResult gid = run_jailbuild({"run", "--state-dir", out_ + "/state", root, "/usr/bin/id", "-g"});
  ASSERT_EQ(uid.exit_code, 0) << uid.describe();
  ASSERT_EQ(gid.exit_code, 0) << gid.describe();
  const auto line = [](std::string text) { return text.substr(0, text.find('\n')); };
  EXPECT_EQ(config["config"]["User"], line(uid.output) + ":" + line(gid.output)) << config.dump();
  EXPECT_FALSE(config["config"].contains("Cmd")) << config.dump();
  EXPECT_EQ(config["config"]["WorkingDir"], "/");
  EXPECT_TRUE(contains(config["config"]["Env"].dump(), "PATH=")) << config.dump();
  // A bundle is a process to run: without a recorded command there is none, so it is refused.
  const ProcessResult bundle = export_root({"--bundle", out_ + "/bundle"});
  EXPECT_EQ(bundle.exit_code, 2) << bundle.describe();
  EXPECT_TRUE(contains(bundle.output, "none is recorded")) << bundle.output;
  EXPECT_FALSE(fs::exists(out_ + "/bundle"));
  EXPECT_TRUE(temporaries(out_).empty());
}

// The seccomp section of a bundle's config.json, by system call: its errno and conditions.
std::map<std::string, json> calls_of(const json& seccomp) {
  std::map<std::string, json> calls;
  for (const json& rule : seccomp["syscalls"])
    for (const json& name : rule["names"])
      calls[name] = {{"errno", rule["errnoRet"]}, {"args", rule.value("args", json::array())}};
  return calls;
}

TEST_F(ExportChecks, TheBundleAsksTheRuntimeForRunsFilterAndProcListsAndNoNetworkWithNetNone) {
  make_root({"/usr/bin/id"}, "command = [\"/usr/bin/id\"]\nuser = \"nobody\"\nnet = \"none\"\n");
  const ProcessResult exported = export_root({"--bundle", out_ + "/bundle"});
  ASSERT_EQ(exported.exit_code, 0) << exported.describe();
  const json config = json::parse(read_file(out_ + "/bundle/config.json"));
  // The filter: every rule of run's one table, with its errno and argument conditions, no other.
  const json& seccomp = config["linux"]["seccomp"];
  EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ALLOW");
  std::map<std::string, json> expected;
  for (const run::SeccompRule& rule : run::default_policy_rules()) {
    json args = json::array();
    for (const run::SeccompCondition& condition : rule.conditions)
      args.push_back({{"index", condition.arg},
                      {"value", condition.mask},
                      {"valueTwo", condition.value},
                      {"op", "SCMP_CMP_MASKED_EQ"}});
    expected[rule.name] = {{"errno", rule.error}, {"args", args}};
  }
  EXPECT_GT(expected.size(), 10u);
  EXPECT_EQ(calls_of(seccomp), expected);
  for (const json& rule : seccomp["syscalls"]) EXPECT_EQ(rule["action"], "SCMP_ACT_ERRNO") << rule.dump();
  // /proc as run shows it: mount_plan's lists.
  EXPECT_EQ(config["linux"]["maskedPaths"].get<std::vector<std::string>>(),
            std::vector<std::string>(run::proc_masked_paths().begin(), run::proc_masked_paths().end()));
  EXPECT_EQ(config["linux"]["readonlyPaths"].get<std::vector<std::string>>(),
            std::vector<std::string>(run::proc_read_only_paths().begin(), run::proc_read_only_paths().end()));
  std::set<std::string> namespaces;
  for (const json& ns : config["linux"]["namespaces"]) namespaces.insert(ns["type"]);
  EXPECT_EQ(namespaces, (std::set<std::string>{"pid", "ipc", "uts", "mount", "network"}));
  // The process: nobody, no capability in any set, no new privileges, a read-only root.
  EXPECT_EQ(config["process"]["user"]["uid"], 65534);
  EXPECT_EQ(config["process"]["args"], json::array({"/usr/bin/id"}));
  EXPECT_TRUE(config["process"]["noNewPrivileges"].get<bool>());
  for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"})
    EXPECT_TRUE(config["process"]["capabilities"][set].empty()) << set;
  EXPECT_TRUE(config["root"]["readonly"].get<bool>());
  std::set<std::string> mounts;
  for (const json& mount : config["mounts"]) mounts.insert(mount["destination"]);
  for (const char* needed : {"/proc", "/dev", "/dev/pts", "/dev/shm", "/tmp"})
    EXPECT_EQ(mounts.count(needed), 1u) << needed;
}

TEST_F(ExportChecks, InCrunTheBundlesDevAndMountsAreRuns) {
  // What the jail sees of /dev and of its own mounts, sorted: printed by crun running the bundle
  // and by `jailbuild run ROOT`, which the bundle is to equal.
  const std::string command =
      "echo /dev/*; while read -r device point type rest; do case $point in "
      "/proc|/dev|/dev/pts|/dev/shm|/dev/mqueue|/tmp) echo $point $type;; esac; "
      "done </proc/self/mounts | sort";
  make_root({"/bin/sh", "/usr/bin/sort"}, "command = [\"/bin/sh\", \"-c\", \"" + command + "\"]\nnet = \"none\"\n");
  const ProcessResult exported = export_root({"--bundle", out_ + "/bundle"});
  ASSERT_EQ(exported.exit_code, 0) << exported.describe();
  // As in export_test.cpp: crun sees cgroup v2 alone, in a mount namespace of its own.
  const ProcessResult crun = shell(
      "unshare -m sh -c 'mount -t cgroup2 none /sys/fs/cgroup && "
      "/usr/bin/crun --cgroup-manager=disabled run --bundle " +
      out_ + "/bundle jailbuild-export-checks'");
  ASSERT_EQ(crun.exit_code, 0) << crun.describe();
  const ProcessResult jailed = run_jailbuild({"run", "--state-dir", out_ + "/state", out_ + "/root"});
  ASSERT_EQ(jailed.exit_code, 0) << jailed.describe();
  // crun's one addition, which no config.json field turns off: /dev/core, a symlink to
  // /proc/kcore, which the bundle masks (maskedPaths) as run does, so it reads nothing.
  std::string crun_view = crun.output;
  const std::size_t core = crun_view.find("/dev/core ");
  EXPECT_NE(core, std::string::npos) << "crun no longer adds /dev/core: drop this exception";
  if (core != std::string::npos) crun_view.erase(core, std::string("/dev/core ").size());
  EXPECT_EQ(crun_view, jailed.output);
  EXPECT_TRUE(contains(jailed.output, "/dev/null")) << jailed.output;
  EXPECT_TRUE(contains(jailed.output, "/tmp tmpfs")) << jailed.output;
}

TEST_F(ExportChecks, InCrunTheBundlesFilterRefusesWhatRunsRefusesAndOffAllowsIt) {
  // unshare(2) is in the default filter's table (EPERM); a new user namespace needs no privilege,
  // so without the filter it succeeds: the control that the refusal is the filter's.
  for (const std::string mode : {"on", "off"}) {
    SCOPED_TRACE("seccomp = " + mode);
    out_ = dir_ + "/filter-" + mode;
    fs::create_directories(out_);
    make_root({"/bin/sh", "/usr/bin/unshare", "/bin/true"},
              "command = [\"/bin/sh\", \"-c\", \"if unshare -U /bin/true 2>/dev/null; then echo allowed; else echo "
              "refused; fi\"]\nseccomp = \"" +
                  mode + "\"\n");
    const ProcessResult exported = export_root({"--bundle", out_ + "/bundle"});
    ASSERT_EQ(exported.exit_code, 0) << exported.describe();
    const ProcessResult crun = shell(
        "unshare -m sh -c 'mount -t cgroup2 none /sys/fs/cgroup && "
        "/usr/bin/crun --cgroup-manager=disabled run --bundle " +
        out_ + "/bundle jailbuild-export-filter-" + mode + "'");
    ASSERT_EQ(crun.exit_code, 0) << crun.describe();
    EXPECT_EQ(crun.output, mode == "on" ? "refused\n" : "allowed\n");
    const ProcessResult jailed = run_jailbuild({"run", "--state-dir", out_ + "/state", out_ + "/root"});
    EXPECT_EQ(jailed.output, crun.output) << jailed.describe();
  }
}

TEST_F(ExportChecks, TheControlWithHostNetworkSeccompOffAndACapabilityAsksForNeither) {
  make_root({"/usr/bin/id"}, "command = [\"/usr/bin/id\"]\nseccomp = \"off\"\ncap = [\"NET_BIND_SERVICE\"]\n");
  const ProcessResult exported = export_root({"--bundle", out_ + "/bundle"});
  ASSERT_EQ(exported.exit_code, 0) << exported.describe();
  const json config = json::parse(read_file(out_ + "/bundle/config.json"));
  EXPECT_FALSE(config["linux"].contains("seccomp")) << config["linux"].dump();
  for (const json& ns : config["linux"]["namespaces"]) EXPECT_NE(ns["type"], "network");
  for (const char* set : {"bounding", "effective", "permitted", "ambient"})
    EXPECT_EQ(config["process"]["capabilities"][set], json::array({"CAP_NET_BIND_SERVICE"})) << set;
}

TEST_F(ExportChecks, TheBundleAsksTheRuntimeForRunsCgroupLimits) {
  // What run writes to the cgroup files (tests/run/cgroup_test.cpp checks them in action), in OCI's
  // words: memory and swap together, pids, a CFS quota of the kernel's default period.
  make_root({"/usr/bin/id"}, "command = [\"/usr/bin/id\"]\nmemory = \"32M\"\npids = 20\ncpus = 0.5\n");
  ASSERT_EQ(export_root({"--bundle", out_ + "/bundle"}).exit_code, 0);
  const json config = json::parse(read_file(out_ + "/bundle/config.json"));
  const json expected = {{"memory", {{"limit", 32U << 20}, {"swap", 32U << 20}}},
                         {"pids", {{"limit", 20}}},
                         {"cpu", {{"quota", 50000}, {"period", 100000}}}};
  EXPECT_EQ(config["linux"]["resources"], expected) << config["linux"].dump();
  // The control: without the limits, no resources for the runtime to set.
  out_ = dir_ + "/no-limits";
  fs::create_directories(out_);
  make_root({"/usr/bin/id"}, "command = [\"/usr/bin/id\"]\n");
  ASSERT_EQ(export_root({"--bundle", out_ + "/bundle"}).exit_code, 0);
  EXPECT_FALSE(json::parse(read_file(out_ + "/bundle/config.json"))["linux"].contains("resources"));
}

TEST_F(ExportChecks, ADirectoryReplacedByASymlinkOutOfTheRootIsNeverFollowed) {
  // A host directory added to the root, and a host directory elsewhere holding a file of the same
  // name that the root must never give away.
  const std::string host = out_ + "/host", elsewhere = out_ + "/elsewhere";
  fs::create_directories(host);
  fs::create_directories(elsewhere);
  write_file(host + "/data.txt", "the root's data\n");
  write_file(elsewhere + "/data.txt", "HOST-ONLY-SECRET\n");
  const std::string root = make_root({"/usr/bin/id", host + "/data.txt"});
  // The root's copy of the directory swapped for a symlink to the other directory.
  fs::remove_all(root + host);
  fs::create_directory_symlink(elsewhere, root + host);
  const ProcessResult refused = export_root({"--oci", out_ + "/refused"});
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_TRUE(contains(refused.output, host + ": no longer a directory")) << refused.output;
  EXPECT_TRUE(contains(refused.output, host + "/data.txt")) << refused.output;
  EXPECT_FALSE(fs::exists(out_ + "/refused"));
  // Forced, the layer holds the symlink as a symlink and nothing read through it.
  const ProcessResult forced = export_root({"--oci", out_ + "/forced", "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.describe();
  const std::set<std::string> names = layer_names(out_ + "/forced");
  EXPECT_EQ(names.count(host.substr(1)), 1u);
  EXPECT_EQ(names.count(host.substr(1) + "/data.txt"), 0u);
  EXPECT_GT(names.count("usr/bin/id"), 0u);
  EXPECT_FALSE(contains(shell("gzip -dc " + layer_blob(out_ + "/forced")).output, "HOST-ONLY-SECRET"));
  // The control: the secret is readable through the planted link, so following it would have shown.
  EXPECT_EQ(read_file(root + host + "/data.txt"), "HOST-ONLY-SECRET\n");
}

TEST_F(ExportChecks, WhatTheRootHoldsBeyondItsManifestIsNamedWithVerboseAndLeftOut) {
  const std::string root = make_root({"/usr/bin/id"});
  write_file(root + "/left-by-hand.txt", "not jailbuild's\n");
  fs::create_directories(root + "/usr/local-by-hand/sub");
  const ProcessResult verbose = export_root({"--oci", out_ + "/verbose"}, {"-v"});
  ASSERT_EQ(verbose.exit_code, 0) << verbose.describe();
  EXPECT_TRUE(contains(verbose.output, "/left-by-hand.txt: not in the manifest")) << verbose.output;
  EXPECT_TRUE(contains(verbose.output, "/usr/local-by-hand: not in the manifest")) << verbose.output;
  EXPECT_FALSE(contains(verbose.output, "/usr/local-by-hand/sub")) << "an unrecorded directory is named, not entered";
  EXPECT_FALSE(contains(verbose.output, "/usr/bin/id: not in the manifest")) << verbose.output;
  const std::set<std::string> names = layer_names(out_ + "/verbose");
  EXPECT_EQ(names.count("left-by-hand.txt"), 0u);
  EXPECT_EQ(names.count("usr/local-by-hand/"), 0u);
  EXPECT_GT(names.count("usr/bin/id"), 0u);
  // Without -v the export says nothing of them (and still succeeds: they are not differences).
  const ProcessResult quiet = export_root({"--oci", out_ + "/quiet"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.describe();
  EXPECT_FALSE(contains(quiet.output, "left-by-hand")) << quiet.output;
}

TEST_F(ExportChecks, AnEmptyDirectoryIsReplacedByALayoutOrABundleAndNothingElseIs) {
  make_root({"/usr/bin/id"}, "command = [\"/usr/bin/id\"]\n");
  for (const char* made : {"empty-layout", "empty-bundle", "empty-for-archive", "not-empty", "link-target"})
    fs::create_directories(out_ + "/" + made);
  write_file(out_ + "/not-empty/keep.txt", "mine\n");
  fs::create_directory_symlink(out_ + "/link-target", out_ + "/link");
  // What `mktemp -d` gives: taken.
  EXPECT_EQ(export_root({"--oci", out_ + "/empty-layout"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(out_ + "/empty-layout/index.json"));
  EXPECT_EQ(export_root({"--bundle", out_ + "/empty-bundle"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(out_ + "/empty-bundle/config.json"));
  // Anything else: refused, and left as it was.
  const ProcessResult not_empty = export_root({"--oci", out_ + "/not-empty"});
  EXPECT_EQ(not_empty.exit_code, 2) << not_empty.describe();
  EXPECT_TRUE(contains(not_empty.output, "exists")) << not_empty.output;
  EXPECT_EQ(read_file(out_ + "/not-empty/keep.txt"), "mine\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(out_ + "/not-empty"), fs::directory_iterator{}), 1);
  EXPECT_EQ(export_root({"--oci-archive", out_ + "/empty-for-archive"}).exit_code, 2);
  EXPECT_TRUE(fs::is_directory(out_ + "/empty-for-archive"));
  EXPECT_EQ(export_root({"--oci", out_ + "/link"}).exit_code, 2);
  EXPECT_TRUE(fs::is_symlink(out_ + "/link"));
  EXPECT_TRUE(fs::is_empty(out_ + "/link-target"));
  EXPECT_TRUE(temporaries(out_).empty());
}

}  // namespace
}  // namespace jailbuild
