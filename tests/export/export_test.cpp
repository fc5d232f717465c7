// `jailbuild export` judged by the real peers: skopeo reads the image layout and the archive,
// umoci unpacks the layout into the root's tree, crun runs the bundle with the isolation `run`
// gives; two exports are byte-identical, an export after a sync differs in the changed file only,
// and a tampered root is refused (with --force exported).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"

namespace jailbuild {
namespace {

using namespace testing;

// What the jail's default command prints: the work (a date), who it is, what the kernel says of
// its privileges, and whether its root is writable; shell built-ins and the two programs only.
const std::string kIsolationCommand =
    "date -u -d @0 +%Y; id -u; "
    "while read -r key value rest; do case $key in CapEff:|NoNewPrivs:|Seccomp:) echo $key $value;; esac; "
    "done </proc/self/status; if (: > /written-by-jail) 2>/dev/null; then echo root-writable; else echo "
    "root-read-only; fi";

class Export : public JailSuite {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || !make_suite_directory("export")) return;
    host_dir_ = dir_ + "/host";
    fs::create_directories(host_dir_);
    write_file(host_dir_ + "/data.txt", "one\n");
    std::ofstream(dir_ + "/jail.toml") << "root = \"" << root_ << "\"\nstate-dir = \"" << state_ << "\"\n"
                                       << "paths = [\"/usr/bin/date\", \"/usr/bin/id\", \"/bin/sh\", \"" << host_dir_
                                       << "/data.txt\"]\n[run]\ncommand = [\"/bin/sh\", \"-c\", \"" << kIsolationCommand
                                       << "\"]\nuser = \"nobody\"\nnet = \"none\"\nenv = { GREETING = \"hello\" }\n";
    const ProcessResult applied = run_jailbuild({"apply", dir_ + "/jail.toml"});
    if (applied.exit_code != 0) setup_error_ = "apply failed: " + applied.describe();
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: the root is root's, crun and umoci run as root";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    out_ = dir_ + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(out_);
    fs::create_directories(out_);
  }

  static ProcessResult export_to(const std::vector<std::string>& options, const Environment& env = kPlainEnv) {
    std::vector<std::string> argv{JAILBUILD_BINARY, "export", root_, "--state-dir", state_};
    argv.insert(argv.end(), options.begin(), options.end());
    return run_process(argv, env);
  }
  static ProcessResult shell(const std::string& command) { return run_process({"/bin/sh", "-c", command}, kPlainEnv); }

  // Every file of a tree, by relative path, with its bytes.
  static std::map<std::string, std::string> files_of(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file()) files[entry.path().lexically_relative(dir).string()] = read_file(entry.path());
    return files;
  }
  // Owners of every entry of a tree: "path uid:gid".
  static std::set<std::string> owners_of(const std::string& dir) {
    std::set<std::string> owners;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      struct stat status {};
      ::lstat(entry.path().c_str(), &status);
      owners.insert(entry.path().lexically_relative(dir).string() + " " + std::to_string(status.st_uid) + ":" +
                    std::to_string(status.st_gid));
    }
    return owners;
  }
  // The layer blob of the layout at `layout`: `tar -tv` of it.
  static std::string layer_listing(const std::string& layout) {
    const nlohmann::json index = nlohmann::json::parse(read_file(layout + "/index.json"));
    const std::string manifest_digest = index["manifests"][0]["digest"];
    const nlohmann::json manifest = nlohmann::json::parse(read_file(layout + "/blobs/sha256/" + manifest_digest.substr(7)));
    const std::string layer = manifest["layers"][0]["digest"];
    return shell("tar -tvzf " + layout + "/blobs/sha256/" + layer.substr(7) + " | sort -k6").output;
  }

  static inline std::string host_dir_;
  std::string out_;
};

TEST_F(Export, SkopeoReadsTheLayoutAndTheArchiveWithTheRecordedUserAndCommand) {
  ASSERT_EQ(export_to({"--oci", out_ + "/layout", "--tag", "v1"}).exit_code, 0);
  ASSERT_EQ(export_to({"--oci-archive", out_ + "/image.tar", "--tag", "v1"}).exit_code, 0);
  for (const std::string& reference : {"oci:" + out_ + "/layout:v1", "oci-archive:" + out_ + "/image.tar:v1"}) {
    const ProcessResult inspected = run_process({"/usr/bin/skopeo", "inspect", "--config", reference}, kPlainEnv);
    ASSERT_EQ(inspected.exit_code, 0) << inspected.describe();
    const nlohmann::json config = nlohmann::json::parse(inspected.output, nullptr, false);
    ASSERT_TRUE(config.is_object()) << inspected.output;
    EXPECT_EQ(config["config"]["User"], "65534:65534") << reference;
    EXPECT_EQ(config["config"]["Cmd"], (nlohmann::json{"/bin/sh", "-c", kIsolationCommand})) << reference;
    EXPECT_TRUE(contains(config["config"]["Env"].dump(), "GREETING=hello")) << config.dump();
    EXPECT_EQ(config["rootfs"]["diff_ids"].size(), 1u);
  }
  // The control: a tag the layout does not have is not found.
  EXPECT_NE(run_process({"/usr/bin/skopeo", "inspect", "oci:" + out_ + "/layout:v2"}, kPlainEnv).exit_code, 0);
}

TEST_F(Export, UmociUnpacksATreeEqualToTheRoot) {
  ASSERT_EQ(export_to({"--oci", out_ + "/layout"}).exit_code, 0);
  const ProcessResult unpacked =
      run_process({"/usr/bin/umoci", "unpack", "--image", out_ + "/layout:latest", out_ + "/bundle"}, kPlainEnv);
  ASSERT_EQ(unpacked.exit_code, 0) << unpacked.describe();
  const std::string rootfs = out_ + "/bundle/rootfs";
  const Tree unpacked_tree = snapshot(rootfs);  // types, modes, symlink targets, contents
  EXPECT_GT(unpacked_tree.size(), 20u);
  EXPECT_EQ(unpacked_tree, snapshot(root_));
  EXPECT_EQ(owners_of(rootfs), owners_of(root_));
}

TEST_F(Export, CrunRunsTheBundleWithTheIsolationRunGives) {
  const ProcessResult exported = export_to({"--bundle", out_ + "/bundle"});
  ASSERT_EQ(exported.exit_code, 0) << exported.describe();
  // crun refuses a hybrid cgroup host (this one's v1 controllers and a v2 hierarchy): it runs in a
  // mount namespace of its own seeing cgroup v2 alone, with no cgroup of its own (disabled).
  const ProcessResult crun = shell("unshare -m sh -c 'mount -t cgroup2 none /sys/fs/cgroup && "
                                   "/usr/bin/crun --cgroup-manager=disabled run --bundle " +
                                   out_ + "/bundle jailbuild-export-test'");
  ASSERT_EQ(crun.exit_code, 0) << crun.describe();
  const std::string expected = "1970\n65534\nCapEff: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2\nroot-read-only\n";
  EXPECT_EQ(crun.output, expected);
  // The same checks in `jailbuild run ROOT`, which the bundle's isolation is to equal.
  const ProcessResult jailed = run_jailbuild({"run", "--state-dir", state_, root_});
  EXPECT_EQ(jailed.output, expected) << jailed.describe();
  EXPECT_FALSE(fs::exists(out_ + "/bundle/rootfs/written-by-jail"));
}

TEST_F(Export, OutputsMayBeNamedRelativeToTheWorkingDirectory) {
  for (const std::string output : {"--oci layout", "--oci-archive image.tar", "--bundle bundle"}) {
    const ProcessResult exported = shell("cd " + out_ + " && " + JAILBUILD_BINARY + " export " + root_ +
                                         " --state-dir " + state_ + " " + output);
    EXPECT_EQ(exported.exit_code, 0) << output << ": " << exported.describe();
  }
  EXPECT_TRUE(fs::exists(out_ + "/layout/index.json"));
  EXPECT_TRUE(fs::exists(out_ + "/image.tar"));
  EXPECT_TRUE(fs::exists(out_ + "/bundle/rootfs/usr/bin/id"));
  EXPECT_TRUE(temporaries(out_).empty());
}

TEST_F(Export, NamesThatAreNotUtf8AreExportedAsTheirBytes) {
  // Its own root: a directory holding a Latin-1 name, and one of UTF-8 (a CA store's kind).
  const std::string host = out_ + "/odd-host", root = out_ + "/odd-root", state = out_ + "/odd-state";
  fs::create_directories(host);
  write_file(host + "/caf\xe9", "latin-1\n");
  write_file(host + "/F\xc5\x91tan\xc3\xbas\xc3\xadtv\xc3\xa1ny.pem", "utf-8\n");
  ASSERT_EQ(run_jailbuild(add_args({host}, root, state)).exit_code, 0);
  const ProcessResult exported =
      run_jailbuild({"export", root, "--state-dir", state, "--oci", out_ + "/layout", "--json"});
  ASSERT_EQ(exported.exit_code, 0) << exported.describe();
  const ProcessResult unpacked =
      run_process({"/usr/bin/umoci", "unpack", "--image", out_ + "/layout:latest", out_ + "/bundle"}, kPlainEnv);
  ASSERT_EQ(unpacked.exit_code, 0) << unpacked.describe();
  EXPECT_EQ(read_file(out_ + "/bundle/rootfs" + host + "/caf\xe9"), "latin-1\n");
  EXPECT_EQ(read_file(out_ + "/bundle/rootfs" + host + "/F\xc5\x91tan\xc3\xbas\xc3\xadtv\xc3\xa1ny.pem"), "utf-8\n");
}

TEST_F(Export, TwoExportsAreByteIdentical) {
  for (const char* name : {"a", "b"}) {
    ASSERT_EQ(export_to({"--oci", out_ + "/" + name}).exit_code, 0);
    ASSERT_EQ(export_to({"--oci-archive", out_ + "/" + name + ".tar"}).exit_code, 0);
  }
  const auto a = files_of(out_ + "/a");
  EXPECT_EQ(a.size(), 5u);  // oci-layout, index.json, three blobs
  EXPECT_EQ(a, files_of(out_ + "/b"));
  EXPECT_EQ(read_file(out_ + "/a.tar"), read_file(out_ + "/b.tar"));
  // The control: another SOURCE_DATE_EPOCH (every time clamped to 1970) gives another layer.
  Environment epoch = kPlainEnv;
  epoch["SOURCE_DATE_EPOCH"] = "0";
  ASSERT_EQ(export_to({"--oci", out_ + "/c"}, epoch).exit_code, 0);
  EXPECT_NE(a, files_of(out_ + "/c"));
  EXPECT_TRUE(contains(layer_listing(out_ + "/c"), "1970-01-01 00:00 usr/bin/id"));
}

TEST_F(Export, AnExportAfterASyncDiffersInTheChangedFileOnly) {
  // The suite's directory, on the way to the host file, changed as the tests made their outputs
  // in it: synced first, so that the host change below is the only one.
  ASSERT_EQ(run_jailbuild({"sync", root_, "--state-dir", state_}).exit_code, 0);
  ASSERT_EQ(export_to({"--oci", out_ + "/before"}).exit_code, 0);
  write_file(host_dir_ + "/data.txt", "one\ntwo\n");
  const ProcessResult synced = run_jailbuild({"sync", root_, "--state-dir", state_});
  ASSERT_EQ(synced.exit_code, 0) << synced.describe();
  ASSERT_EQ(export_to({"--oci", out_ + "/after"}).exit_code, 0);
  std::istringstream before(layer_listing(out_ + "/before")), after(layer_listing(out_ + "/after"));
  std::set<std::string> lines_before, lines_after, changed;
  for (std::string line; std::getline(before, line);) lines_before.insert(line);
  for (std::string line; std::getline(after, line);) lines_after.insert(line);
  for (const std::string& line : lines_after)
    if (lines_before.count(line) == 0) changed.insert(line.substr(line.rfind(' ') + 1));
  for (const std::string& line : lines_before)
    if (lines_after.count(line) == 0) changed.insert(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(changed, std::set<std::string>{host_dir_.substr(1) + "/data.txt"});
  EXPECT_GT(lines_after.size(), 20u);
}

TEST_F(Export, ATamperedRootIsRefusedUnlessForced) {
  const std::string inside = root_ + "/usr/bin/id";
  const std::string original = read_file(inside);
  std::ofstream(inside, std::ios::app) << "tampered";
  const ProcessResult refused = export_to({"--oci", out_ + "/refused"});
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_TRUE(contains(refused.output, "/usr/bin/id: changed (")) << refused.output;
  EXPECT_FALSE(fs::exists(out_ + "/refused"));
  EXPECT_TRUE(temporaries(out_).empty());
  for (const auto& entry : fs::directory_iterator(out_)) ADD_FAILURE() << "left behind: " << entry.path();
  const ProcessResult forced = export_to({"--oci", out_ + "/forced", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.describe();
  EXPECT_TRUE(contains(forced.output, "/usr/bin/id")) << forced.output;
  // Put back as sync would: the next tests export an untampered root.
  ASSERT_EQ(run_jailbuild({"sync", root_, "--state-dir", state_}).exit_code, 0);
  EXPECT_EQ(read_file(inside), original);
  // An existing output is never overwritten.
  const ProcessResult existing = export_to({"--oci", out_ + "/forced"});
  EXPECT_EQ(existing.exit_code, 2) << existing.describe();
}

}  // namespace
}  // namespace jailbuild
