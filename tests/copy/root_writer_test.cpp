// The copier: plans built by hand from files in a temporary directory, applied to a root next to
// them, and checked against the files (contents, metadata, identities) and against a listing of a
// directory outside the root that a hostile root tries to make jailbuild write to.
//
// Tests that need root (ownership, capabilities, device nodes, a small tmpfs) skip otherwise.

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
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
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "copy/root_writer.hpp"
#include "support/temp_dir.hpp"

// White-box: the copy mechanisms are private to src/copy, and each fallback must be exercised.
#include "copy/file_copy.hpp"
#include "copy/safe_fs.hpp"
#include "util/root_dir.hpp"

namespace jailbuild {
namespace {

using jailbuild::testing::TempDir;

namespace fs = std::filesystem;

bool is_root() { return ::geteuid() == 0; }

#define SKIP_UNLESS_ROOT()                            \
  do {                                                \
    if (!is_root()) { GTEST_SKIP() << "needs root"; } \
  } while (false)

// ---------------------------------------------------------------------------------------------
// Files

void write_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t step = ::write(fd, content.data() + done, content.size() - done);
    ASSERT_GT(step, 0) << path << ": " << std::strerror(errno);
    done += static_cast<std::size_t>(step);
  }
  ASSERT_EQ(::fchmod(fd, mode), 0);  // not narrowed by the umask
  ASSERT_EQ(::close(fd), 0);
}

// Writes `megabytes` MiB of non-zero bytes (no holes).
void write_large_file(const std::string& path, std::size_t megabytes) {
  std::string chunk(std::size_t{1} << 20, 'x');
  for (std::size_t i = 0; i < chunk.size(); i += 4096) chunk[i] = static_cast<char>('a' + (i / 4096) % 26);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (std::size_t i = 0; i < megabytes; ++i) out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

struct stat lstat_of(const std::string& path) {
  struct stat status {};
  EXPECT_EQ(::lstat(path.c_str(), &status), 0) << path << ": " << std::strerror(errno);
  return status;
}

bool exists(const std::string& path) {
  struct stat status {};
  return ::lstat(path.c_str(), &status) == 0;
}

void set_mtime(const std::string& path, time_t seconds, long nanoseconds) {
  const timespec times[2] = {{seconds - 100, 0}, {seconds, nanoseconds}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << std::strerror(errno);
}

// Every entry under `dir` with its type, mode, owner, size, modification time and contents (or
// link target): two equal listings mean nothing under dir was written, renamed, chmodded or
// deleted. Symlinks are listed, never followed.
std::string tree_listing(const std::string& dir) {
  std::vector<std::string> lines;
  for (const fs::directory_entry& item : fs::recursive_directory_iterator(dir)) {
    const std::string path = item.path().string();
    const struct stat status = lstat_of(path);
    std::ostringstream line;
    line << path.substr(dir.size()) << " mode=" << std::oct << status.st_mode << std::dec << " uid=" << status.st_uid
         << " gid=" << status.st_gid << " ino=" << status.st_ino << " mtime=" << status.st_mtim.tv_sec << "."
         << status.st_mtim.tv_nsec << " ctime=" << status.st_ctim.tv_sec << "." << status.st_ctim.tv_nsec;
    if (S_ISREG(status.st_mode)) {
      line << " size=" << status.st_size << " hash=" << std::hash<std::string>{}(read_file(path));
    }
    if (S_ISLNK(status.st_mode)) line << " -> " << fs::read_symlink(item.path()).string();
    lines.push_back(line.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string listing;
  for (const std::string& line : lines) listing += line + "\n";
  return listing;
}

// Names under `dir` (recursively) that look like the copier's temporary files.
std::vector<std::string> temporaries_under(const std::string& dir) {
  std::vector<std::string> found;
  for (const fs::directory_entry& item : fs::recursive_directory_iterator(dir)) {
    if (item.path().filename().string().rfind(".jailbuild-tmp.", 0) == 0) found.push_back(item.path().string());
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Plans and manifests

Reason added_by(const std::string& path) { return Reason{path, "", "added"}; }

struct PlanBuilder {
  CopyPlan plan;

  PlanBuilder& dir(const std::string& path, const std::string& source = "", std::uint32_t mode = 0755) {
    PlannedEntry entry;
    entry.path = path;
    entry.type = EntryType::Directory;
    entry.source = source;
    entry.mode = mode;
    entry.reasons = {added_by(path)};
    plan.entries.push_back(entry);
    return *this;
  }
  PlanBuilder& file(const std::string& path, const std::string& source) {
    PlannedEntry entry;
    entry.path = path;
    entry.type = EntryType::File;
    entry.source = source;
    entry.reasons = {added_by(path)};
    plan.entries.push_back(entry);
    return *this;
  }
  PlanBuilder& symlink(const std::string& path, const std::string& target, const std::string& source = "") {
    PlannedEntry entry;
    entry.path = path;
    entry.type = EntryType::Symlink;
    entry.source = source;
    entry.link_target = target;
    entry.reasons = {added_by(path)};
    plan.entries.push_back(entry);
    return *this;
  }
  PlanBuilder& generated(const std::string& path, const std::string& content, std::uint32_t mode) {
    PlannedEntry entry;
    entry.path = path;
    entry.type = EntryType::File;
    entry.content = content;
    entry.mode = mode;
    entry.reasons = {Reason{"", "", "generated"}};
    plan.entries.push_back(entry);
    return *this;
  }
};

// The manifest a caller keeps after a run: the previous one with the placed entries updated.
Manifest manifest_after(const WriteReport& report, const Manifest* previous = nullptr) {
  Manifest manifest;
  if (previous != nullptr) manifest = *previous;
  for (const ManifestEntry& entry : report.placed) manifest.entries[entry.path] = entry;
  return manifest;
}

const ManifestEntry* placed_entry(const WriteReport& report, const std::string& path) {
  for (const ManifestEntry& entry : report.placed) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

const Conflict* conflict_at(const WriteReport& report, const std::string& path) {
  for (const Conflict& conflict : report.conflicts) {
    if (conflict.path == path) return &conflict;
  }
  return nullptr;
}

std::string conflicts_text(const std::vector<Conflict>& conflicts) {
  std::string text;
  for (const Conflict& conflict : conflicts) text += conflict.path + ": " + conflict.reason + "\n";
  return text;
}

bool contains(const std::vector<std::string>& items, const std::string& wanted) {
  return std::find(items.begin(), items.end(), wanted) != items.end();
}

// ---------------------------------------------------------------------------------------------
// Fixture: HOST (the sources), ROOT (the jail) and OUTSIDE (what a hostile root points at).

class RootWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = dir_.path() + "/host";
    root_ = dir_.path() + "/root";
    outside_ = dir_.path() + "/outside";
    ASSERT_EQ(::mkdir(host_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((outside_ + "/bin").c_str(), 0755), 0);
    write_file(outside_ + "/bin/tool", "the host's own tool\n", 0755);
    write_file(outside_ + "/secret", "outside the root\n", 0600);
  }

  void TearDown() override {
    if (mounted_) ::umount2(root_.c_str(), MNT_DETACH);
  }

  std::string host(const std::string& relative) const { return host_ + relative; }
  std::string in_root(const std::string& path) const { return root_ + path; }

  Result<WriteReport> apply(const CopyPlan& plan, const Manifest* previous = nullptr, WriteOptions options = {}) {
    Result<RootWriter> writer = RootWriter::open(root_, true);
    if (!writer) return writer.error();
    return writer->apply(plan, previous, options);
  }

  // A plan of a small program tree: directories, files, and symlinks between them.
  CopyPlan sample_plan() {
    fs::create_directories(host("/usr/bin"));
    fs::create_directories(host("/usr/lib"));
    write_file(host("/usr/bin/tool"), "#!/bin/sh\necho tool\n", 0755);
    write_file(host("/usr/lib/libx.so.1.2"), std::string(10000, 'L'), 0644);
    return PlanBuilder()
        .dir("/usr", host("/usr"))
        .dir("/usr/bin", host("/usr/bin"))
        .file("/usr/bin/tool", host("/usr/bin/tool"))
        .dir("/usr/lib", host("/usr/lib"))
        .file("/usr/lib/libx.so.1.2", host("/usr/lib/libx.so.1.2"))
        .symlink("/usr/lib/libx.so.1", "libx.so.1.2")
        .plan;
  }

  // Mounts a tmpfs of `size` on the root (root only); false (with the test skipped) if impossible.
  bool mount_small_root(const std::string& size) {
    if (::mount("tmpfs", root_.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0755").c_str()) != 0) return false;
    mounted_ = true;
    return true;
  }

  TempDir dir_;
  std::string host_, root_, outside_;
  bool mounted_ = false;
};

// ---------------------------------------------------------------------------------------------
// Placing files, symlinks and directories

TEST_F(RootWriterTest, OpenCreatesAMissingRootOnlyWhenAsked) {
  const std::string missing = dir_.path() + "/new/jail/";
  Result<RootWriter> refused = RootWriter::open(missing, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, dir_.path() + "/new/jail: No such file or directory");

  const mode_t old_umask = ::umask(077);
  Result<RootWriter> created = RootWriter::open(missing, true);
  ::umask(old_umask);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->root(), dir_.path() + "/new/jail");
  EXPECT_EQ(lstat_of(dir_.path() + "/new/jail").st_mode, S_IFDIR | 0755u);
}

TEST_F(RootWriterTest, CopiesContentModeAndModificationTime) {
  write_file(host("/data"), "some bytes\n", 0640);
  set_mtime(host("/data"), 1'500'000'000, 123'456'789);
  const CopyPlan plan = PlanBuilder().file("/data", host("/data")).plan;

  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->created.size(), 1u);
  EXPECT_EQ(report->bytes_copied, 11u);
  EXPECT_TRUE(report->conflicts.empty());

  EXPECT_EQ(read_file(in_root("/data")), "some bytes\n");
  const struct stat copy = lstat_of(in_root("/data"));
  EXPECT_TRUE(S_ISREG(copy.st_mode));
  EXPECT_EQ(copy.st_mode & 07777, 0640u);
  EXPECT_EQ(copy.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(copy.st_mtim.tv_nsec, 123'456'789);

  // The manifest entry describes both inodes as they are now.
  const ManifestEntry* entry = placed_entry(*report, "/data");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->type, EntryType::File);
  EXPECT_EQ(entry->source, host("/data"));
  EXPECT_EQ(entry->reasons, std::vector<Reason>{added_by("/data")});
  const struct stat source = lstat_of(host("/data"));
  EXPECT_EQ(entry->source_identity.ino, source.st_ino);
  EXPECT_EQ(entry->source_identity.size, 11u);
  EXPECT_EQ(entry->copy_identity.ino, copy.st_ino);
  EXPECT_EQ(entry->copy_identity.ctime_ns, copy.st_ctim.tv_sec * 1'000'000'000LL + copy.st_ctim.tv_nsec);
  EXPECT_EQ(entry->copy_identity.mode, copy.st_mode);
  EXPECT_TRUE(temporaries_under(root_).empty());
}

TEST_F(RootWriterTest, KeepsOwnershipWhenRunAsRoot) {
  SKIP_UNLESS_ROOT();
  fs::create_directories(host("/srv"));
  write_file(host("/srv/owned"), "x", 0644);
  ASSERT_EQ(::chown(host("/srv/owned").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chown(host("/srv").c_str(), 4321, 8765), 0);
  const CopyPlan plan = PlanBuilder().dir("/srv", host("/srv")).file("/srv/owned", host("/srv/owned")).plan;

  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(lstat_of(in_root("/srv/owned")).st_uid, 1234u);
  EXPECT_EQ(lstat_of(in_root("/srv/owned")).st_gid, 5678u);
  EXPECT_EQ(lstat_of(in_root("/srv")).st_uid, 4321u);
  EXPECT_EQ(lstat_of(in_root("/srv")).st_gid, 8765u);
}

TEST_F(RootWriterTest, NeverHardLinksToTheHost) {
  write_file(host("/lib"), "library", 0644);
  Result<WriteReport> report = apply(PlanBuilder().file("/lib", host("/lib")).plan);
  ASSERT_TRUE(report) << report.error().message;

  const struct stat source = lstat_of(host("/lib"));
  const struct stat copy = lstat_of(in_root("/lib"));
  EXPECT_NE(copy.st_ino, source.st_ino);
  EXPECT_EQ(copy.st_nlink, 1u);
  EXPECT_EQ(source.st_nlink, 1u);
  // A jailed process writing to its copy leaves the host's file alone.
  write_file(in_root("/lib"), "changed by the jail", 0644);
  EXPECT_EQ(read_file(host("/lib")), "library");
}

TEST_F(RootWriterTest, RecreatesSymlinksWithTheirExactTargets) {
  const CopyPlan plan = PlanBuilder()
                            .dir("/lib")
                            .symlink("/lib/relative", "../usr/lib/x.so.1")
                            .symlink("/lib/absolute", "/usr/lib/x.so.1")
                            .symlink("/lib/dangling", "nowhere//odd/./path/")
                            .plan;
  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->created.size(), 4u);
  for (const auto& [path, target] : std::map<std::string, std::string>{{"/lib/relative", "../usr/lib/x.so.1"},
                                                                       {"/lib/absolute", "/usr/lib/x.so.1"},
                                                                       {"/lib/dangling", "nowhere//odd/./path/"}}) {
    EXPECT_TRUE(S_ISLNK(lstat_of(in_root(path)).st_mode)) << path;
    EXPECT_EQ(fs::read_symlink(in_root(path)).string(), target) << path;
    const ManifestEntry* entry = placed_entry(*report, path);
    ASSERT_NE(entry, nullptr) << path;
    EXPECT_EQ(entry->link_target, target);
    EXPECT_EQ(entry->copy_identity.ino, lstat_of(in_root(path)).st_ino);
  }
}

TEST_F(RootWriterTest, CreatesDirectoriesWithTheSourcesModes) {
  fs::create_directories(host("/opt/app"));
  ASSERT_EQ(::chmod(host("/opt").c_str(), 0711), 0);
  ASSERT_EQ(::chmod(host("/opt/app").c_str(), 0750), 0);
  const CopyPlan plan = PlanBuilder()
                            .dir("/opt", host("/opt"))
                            .dir("/opt/app", host("/opt/app"))
                            .dir("/opt/app/generated", "", 0700)
                            .plan;
  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->created.size(), 3u);
  EXPECT_EQ(lstat_of(in_root("/opt")).st_mode, S_IFDIR | 0711u);
  EXPECT_EQ(lstat_of(in_root("/opt/app")).st_mode, S_IFDIR | 0750u);
  EXPECT_EQ(lstat_of(in_root("/opt/app/generated")).st_mode, S_IFDIR | 0700u);
  // Directories jailbuild created are recorded, so that `remove` may delete them.
  EXPECT_NE(placed_entry(*report, "/opt/app/generated"), nullptr);

  // They follow the host directory's mode.
  const Manifest manifest = manifest_after(*report);
  ASSERT_EQ(::chmod(host("/opt/app").c_str(), 0755), 0);
  Result<WriteReport> again = apply(plan, &manifest);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->updated.size(), 1u);
  EXPECT_EQ(again->unchanged, 2u);
  EXPECT_EQ(lstat_of(in_root("/opt/app")).st_mode, S_IFDIR | 0755u);
}

TEST_F(RootWriterTest, ExistingDirectoriesAreSharedAndNotRecorded) {
  ASSERT_EQ(::mkdir(in_root("/usr").c_str(), 0700), 0);
  const CopyPlan plan = sample_plan();
  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->conflicts.empty()) << conflicts_text(report->conflicts);
  EXPECT_EQ(placed_entry(*report, "/usr"), nullptr);  // not ours: `remove` must never delete it
  EXPECT_NE(placed_entry(*report, "/usr/bin"), nullptr);
  EXPECT_EQ(lstat_of(in_root("/usr")).st_mode & 07777, 0700u);  // left as it was
  EXPECT_EQ(report->created.size(), 5u);
  EXPECT_EQ(report->unchanged, 1u);
}

TEST_F(RootWriterTest, GeneratedFilesGetTheirContentAndMode) {
  const CopyPlan plan = PlanBuilder().dir("/etc").generated("/etc/ld.so.cache", "cache bytes", 0640).plan;
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(read_file(in_root("/etc/ld.so.cache")), "cache bytes");
  EXPECT_EQ(lstat_of(in_root("/etc/ld.so.cache")).st_mode & 07777, 0640u);

  const Manifest manifest = manifest_after(*first);
  Result<WriteReport> again = apply(plan, &manifest);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->unchanged, 2u);
  EXPECT_EQ(again->bytes_copied, 0u);

  // Same size, other bytes: recognised by content, not by stat.
  const CopyPlan changed = PlanBuilder().dir("/etc").generated("/etc/ld.so.cache", "CACHE BYTES", 0640).plan;
  Result<WriteReport> third = apply(changed, &manifest);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(third->updated.size(), 1u);
  EXPECT_EQ(read_file(in_root("/etc/ld.so.cache")), "CACHE BYTES");
}

// ---------------------------------------------------------------------------------------------
// Privileges and special files

TEST_F(RootWriterTest, RemovesSetuidAndSetgidBitsAndSaysSo) {
  write_file(host("/su"), "su", 04755);
  write_file(host("/wall"), "wall", 02755);
  if (!is_root()) {
    ASSERT_EQ(::chmod(host("/wall").c_str(), 0755), 0);  // setgid needs the file's group
  }
  const CopyPlan plan = PlanBuilder().file("/su", host("/su")).file("/wall", host("/wall")).plan;
  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;

  EXPECT_EQ(lstat_of(in_root("/su")).st_mode & 07777, 0755u);
  EXPECT_TRUE(contains(report->privileges_removed, "/su: setuid bit removed"));
  if (is_root()) {
    EXPECT_EQ(lstat_of(in_root("/wall")).st_mode & 07777, 0755u);
    EXPECT_TRUE(contains(report->privileges_removed, "/wall: setgid bit removed"));
  }
  EXPECT_EQ(lstat_of(host("/su")).st_mode & 07777, 04755u);  // the host's file is untouched
}

TEST_F(RootWriterTest, KeepsSetuidBitsWhenAsked) {
  write_file(host("/su"), "su", 04755);
  WriteOptions options;
  options.keep_setuid = true;
  Result<WriteReport> report = apply(PlanBuilder().file("/su", host("/su")).plan, nullptr, options);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(lstat_of(in_root("/su")).st_mode & 07777, 04755u);
  EXPECT_TRUE(report->privileges_removed.empty());
}

TEST_F(RootWriterTest, AskingForSetuidBitsLaterCopiesTheFileAgain) {
  write_file(host("/su"), "su", 04755);
  const CopyPlan plan = PlanBuilder().file("/su", host("/su")).plan;
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);
  WriteOptions keep;
  keep.keep_setuid = true;
  Result<WriteReport> second = apply(plan, &manifest, keep);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->updated.size(), 1u);
  EXPECT_EQ(lstat_of(in_root("/su")).st_mode & 07777, 04755u);
}

// A file capability set: cap_net_raw+ep, as `setcap cap_net_raw+ep` writes it.
std::string net_raw_capability() {
  vfs_cap_data data{};
  data.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  data.data[0].permitted = 1u << CAP_NET_RAW;
  return std::string(reinterpret_cast<const char*>(&data), XATTR_CAPS_SZ_2);
}

std::string capability_of(const std::string& path) {
  char buffer[64];
  const ssize_t size = ::getxattr(path.c_str(), "security.capability", buffer, sizeof buffer);
  return size < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(size));
}

TEST_F(RootWriterTest, RemovesFileCapabilitiesUnlessAsked) {
  SKIP_UNLESS_ROOT();
  write_file(host("/ping"), "ping", 0755);
  const std::string capability = net_raw_capability();
  if (::setxattr(host("/ping").c_str(), "security.capability", capability.data(), capability.size(), 0) != 0) {
    GTEST_SKIP() << "the filesystem refuses file capabilities: " << std::strerror(errno);
  }
  ASSERT_EQ(capability_of(host("/ping")), capability);
  const CopyPlan plan = PlanBuilder().file("/ping", host("/ping")).plan;

  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(capability_of(in_root("/ping")), "");
  EXPECT_TRUE(contains(report->privileges_removed, "/ping: capabilities removed"));

  ASSERT_EQ(::unlink(in_root("/ping").c_str()), 0);
  WriteOptions keep;
  keep.keep_setuid = true;
  Result<WriteReport> kept = apply(plan, nullptr, keep);
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_EQ(capability_of(in_root("/ping")), capability);
  EXPECT_TRUE(kept->privileges_removed.empty());
}

TEST_F(RootWriterTest, CopiesDeviceNodesOnlyWhenAsked) {
  SKIP_UNLESS_ROOT();
  ASSERT_EQ(::mknod(host("/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
  ASSERT_EQ(::chmod(host("/null").c_str(), 0666), 0);  // past the umask
  const CopyPlan plan = PlanBuilder().file("/null", host("/null")).plan;

  Result<WriteReport> refused = apply(plan);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find(host("/null")), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("--allow-devices"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(exists(in_root("/null")));

  WriteOptions options;
  options.allow_devices = true;
  Result<WriteReport> allowed = apply(plan, nullptr, options);
  ASSERT_TRUE(allowed) << allowed.error().message;
  const struct stat node = lstat_of(in_root("/null"));
  EXPECT_TRUE(S_ISCHR(node.st_mode));
  EXPECT_EQ(node.st_rdev, makedev(1, 3));
  EXPECT_EQ(node.st_mode & 07777, 0666u);
  EXPECT_TRUE(temporaries_under(root_).empty());

  // And it is recognised as placed next time.
  const Manifest manifest = manifest_after(*allowed);
  Result<WriteReport> again = apply(plan, &manifest, options);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->unchanged, 1u);
}

// ---------------------------------------------------------------------------------------------
// Repeated runs

TEST_F(RootWriterTest, RepeatedApplyWithTheManifestChangesNothing) {
  const CopyPlan plan = sample_plan();
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->created.size(), 6u);
  const std::string before = tree_listing(root_);  // inode numbers and ctimes included

  const Manifest manifest = manifest_after(*first);
  Result<WriteReport> second = apply(plan, &manifest);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->created.size(), 0u);
  EXPECT_EQ(second->updated.size(), 0u);
  EXPECT_EQ(second->unchanged, 6u);
  EXPECT_EQ(second->bytes_copied, 0u);
  EXPECT_EQ(second->placed.size(), 6u);
  EXPECT_EQ(tree_listing(root_), before);
  EXPECT_EQ(manifest_after(*second).entries.size(), manifest.entries.size());
}

TEST_F(RootWriterTest, ARewrittenSourceIsCopiedAgain) {
  const CopyPlan plan = sample_plan();
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);

  // Same size, new bytes: only the identity (mtime, ctime) tells.
  write_file(host("/usr/bin/tool"), "#!/bin/sh\necho TOOL\n", 0755);
  Result<WriteReport> second = apply(plan, &manifest);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->updated.size(), 1u);
  EXPECT_EQ(second->unchanged, 5u);
  EXPECT_EQ(read_file(in_root("/usr/bin/tool")), "#!/bin/sh\necho TOOL\n");
}

TEST_F(RootWriterTest, ACopyEditedInTheRootIsRestored) {
  const CopyPlan plan = sample_plan();
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);

  // Edited in place (same inode), as a jailed process with write access would.
  {
    std::ofstream edit(in_root("/usr/lib/libx.so.1.2"), std::ios::binary | std::ios::in | std::ios::out);
    edit.seekp(10);
    edit << "patched";
  }
  Result<WriteReport> second = apply(plan, &manifest);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->conflicts.empty()) << conflicts_text(second->conflicts);
  EXPECT_EQ(second->updated.size(), 1u);
  EXPECT_EQ(read_file(in_root("/usr/lib/libx.so.1.2")), std::string(10000, 'L'));
}

TEST_F(RootWriterTest, ACopyReplacedInTheRootIsRestored) {
  const CopyPlan plan = sample_plan();
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);

  // A new inode under a name jailbuild placed, as a jailed process with write access could make:
  // the path is jailbuild's, so the copy comes back.
  write_file(in_root("/usr/bin/tool.new"), "replaced", 0755);
  ASSERT_EQ(::rename(in_root("/usr/bin/tool.new").c_str(), in_root("/usr/bin/tool").c_str()), 0);
  Result<WriteReport> second = apply(plan, &manifest);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->conflicts.empty()) << conflicts_text(second->conflicts);
  EXPECT_EQ(second->updated, std::vector<std::string>{"/usr/bin/tool"});
  EXPECT_EQ(read_file(in_root("/usr/bin/tool")), "#!/bin/sh\necho tool\n");
}

TEST_F(RootWriterTest, ChecksumFindsACopyChangedBehindItsIdentity) {
  const CopyPlan plan = PlanBuilder().file("/lib.so", host("/lib.so")).plan;
  write_file(host("/lib.so"), "original", 0644);
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  Manifest manifest = manifest_after(*first);
  // The manifest records a copy identity that matches what is there, but other bytes: what a
  // change that restored size and times would look like, had ctime not told.
  write_file(in_root("/lib.so"), "tampered", 0644);
  manifest.entries["/lib.so"].copy_identity = identity_of(lstat_of(in_root("/lib.so")));

  Result<WriteReport> by_identity = apply(plan, &manifest);
  ASSERT_TRUE(by_identity) << by_identity.error().message;
  EXPECT_TRUE(by_identity->updated.empty());
  EXPECT_EQ(read_file(in_root("/lib.so")), "tampered");

  WriteOptions checksum;
  checksum.checksum = true;
  Result<WriteReport> by_contents = apply(plan, &manifest, checksum);
  ASSERT_TRUE(by_contents) << by_contents.error().message;
  EXPECT_EQ(by_contents->updated, std::vector<std::string>{"/lib.so"});
  EXPECT_EQ(read_file(in_root("/lib.so")), "original");
}

TEST_F(RootWriterTest, AChangedSymlinkTargetIsUpdated) {
  Result<WriteReport> first = apply(PlanBuilder().symlink("/link", "old-target").plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);
  Result<WriteReport> second = apply(PlanBuilder().symlink("/link", "new-target").plan, &manifest);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->updated.size(), 1u);
  EXPECT_EQ(fs::read_symlink(in_root("/link")).string(), "new-target");
}

TEST_F(RootWriterTest, WhatJailbuildPlacedMayChangeType) {
  // The host's /lib/x was a symlink and is now a file: the symlink jailbuild placed is replaced.
  Result<WriteReport> first = apply(PlanBuilder().symlink("/x", "x.1").plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);
  write_file(host("/x"), "now a file", 0644);
  Result<WriteReport> second = apply(PlanBuilder().file("/x", host("/x")).plan, &manifest);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->conflicts.empty()) << conflicts_text(second->conflicts);
  EXPECT_EQ(read_file(in_root("/x")), "now a file");
}

// ---------------------------------------------------------------------------------------------
// Conflicts

TEST_F(RootWriterTest, AFileJailbuildDidNotPlaceIsAConflictLeftAlone) {
  fs::create_directories(in_root("/etc"));
  write_file(in_root("/etc/passwd"), "the jail's own\n", 0644);
  write_file(host("/passwd"), "the host's\n", 0644);
  const CopyPlan plan = PlanBuilder().dir("/etc").file("/etc/passwd", host("/passwd")).plan;

  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  const Conflict* conflict = conflict_at(*report, "/etc/passwd");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->reason, "a regular file that jailbuild did not place is there (--force replaces it)");
  EXPECT_EQ(read_file(in_root("/etc/passwd")), "the jail's own\n");
  EXPECT_EQ(placed_entry(*report, "/etc/passwd"), nullptr);

  WriteOptions force;
  force.force = true;
  Result<WriteReport> forced = apply(plan, nullptr, force);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_TRUE(forced->conflicts.empty());
  EXPECT_EQ(forced->updated.size(), 1u);
  EXPECT_EQ(read_file(in_root("/etc/passwd")), "the host's\n");
}

TEST_F(RootWriterTest, AnIdenticalCopyIsAdoptedOnlyWhereJailbuildPlacedOne) {
  write_file(host("/conf"), "same bytes", 0644);
  set_mtime(host("/conf"), 1'600'000'000, 5);
  const CopyPlan plan = PlanBuilder().file("/conf", host("/conf")).plan;
  // Exactly what jailbuild would write, but jailbuild did not write it.
  const auto plant_identical_copy = [&] {
    write_file(in_root("/conf.new"), "same bytes", 0644);
    set_mtime(in_root("/conf.new"), 1'600'000'000, 5);
    ASSERT_EQ(::rename(in_root("/conf.new").c_str(), in_root("/conf").c_str()), 0);
  };
  plant_identical_copy();
  Result<WriteReport> unknown = apply(plan);
  ASSERT_TRUE(unknown) << unknown.error().message;
  EXPECT_NE(conflict_at(*unknown, "/conf"), nullptr);

  // Where the manifest says jailbuild placed a copy, another inode with the same bytes and
  // metadata is what an interrupted run leaves: adopted. One byte different: copied again, as the
  // path is jailbuild's.
  ASSERT_EQ(::unlink(in_root("/conf").c_str()), 0);
  Result<WriteReport> placed = apply(plan);
  ASSERT_TRUE(placed) << placed.error().message;
  const Manifest manifest = manifest_after(*placed);
  plant_identical_copy();
  Result<WriteReport> adopted = apply(plan, &manifest);
  ASSERT_TRUE(adopted) << adopted.error().message;
  EXPECT_TRUE(adopted->conflicts.empty()) << conflicts_text(adopted->conflicts);
  EXPECT_EQ(adopted->unchanged, 1u);

  write_file(in_root("/conf.new"), "same bytez", 0644);
  set_mtime(in_root("/conf.new"), 1'600'000'000, 5);
  ASSERT_EQ(::rename(in_root("/conf.new").c_str(), in_root("/conf").c_str()), 0);
  const Manifest after_adoption = manifest_after(*adopted);
  Result<WriteReport> different = apply(plan, &after_adoption);
  ASSERT_TRUE(different) << different.error().message;
  EXPECT_TRUE(different->conflicts.empty()) << conflicts_text(different->conflicts);
  EXPECT_EQ(different->updated, std::vector<std::string>{"/conf"});
  EXPECT_EQ(read_file(in_root("/conf")), "same bytes");
}

TEST_F(RootWriterTest, SomethingOfAnotherTypeIsAConflict) {
  write_file(host("/file"), "file", 0644);
  fs::create_directories(in_root("/file-where-empty-dir/"));
  fs::create_directories(in_root("/file-where-full-dir/child"));
  write_file(in_root("/dir-where-file"), "a file", 0644);
  ASSERT_EQ(::symlink("elsewhere", in_root("/symlink-where-file").c_str()), 0);
  ASSERT_EQ(::mkfifo(in_root("/file-where-fifo").c_str(), 0644), 0);
  const CopyPlan plan = PlanBuilder()
                            .file("/file-where-empty-dir", host("/file"))
                            .file("/file-where-full-dir", host("/file"))
                            .dir("/dir-where-file")
                            .file("/dir-where-file/inside", host("/file"))
                            .symlink("/symlink-where-file", "target")
                            .file("/file-where-fifo", host("/file"))
                            .plan;
  const std::string before = tree_listing(root_);
  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->conflicts.size(), 6u) << conflicts_text(report->conflicts);
  ASSERT_NE(conflict_at(*report, "/dir-where-file/inside"), nullptr);
  EXPECT_EQ(conflict_at(*report, "/dir-where-file/inside")->reason, "inside /dir-where-file, which was left alone");
  ASSERT_NE(conflict_at(*report, "/file-where-fifo"), nullptr);
  EXPECT_NE(conflict_at(*report, "/file-where-fifo")->reason.find("FIFO"), std::string::npos);
  EXPECT_EQ(tree_listing(root_), before);

  // --force replaces all but a directory that is not empty.
  WriteOptions force;
  force.force = true;
  Result<WriteReport> forced = apply(plan, nullptr, force);
  ASSERT_TRUE(forced) << forced.error().message;
  ASSERT_EQ(forced->conflicts.size(), 1u) << conflicts_text(forced->conflicts);
  EXPECT_EQ(forced->conflicts[0].path, "/file-where-full-dir");
  EXPECT_NE(forced->conflicts[0].reason.find("not empty"), std::string::npos) << forced->conflicts[0].reason;
  EXPECT_TRUE(fs::is_directory(in_root("/file-where-full-dir/child")));
  EXPECT_EQ(read_file(in_root("/file-where-empty-dir")), "file");
  EXPECT_EQ(read_file(in_root("/dir-where-file/inside")), "file");
  EXPECT_EQ(fs::read_symlink(in_root("/symlink-where-file")).string(), "target");
  EXPECT_TRUE(S_ISREG(lstat_of(in_root("/file-where-fifo")).st_mode));
}

// ---------------------------------------------------------------------------------------------
// A hostile root

TEST_F(RootWriterTest, ADirectorySymlinkToOutsideIsNeverFollowed) {
  const CopyPlan plan = sample_plan();
  ASSERT_EQ(::symlink(outside_.c_str(), in_root("/usr").c_str()), 0);
  const std::string outside_before = tree_listing(outside_);

  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_NE(conflict_at(*report, "/usr"), nullptr);
  EXPECT_NE(conflict_at(*report, "/usr")->reason.find("symlink that jailbuild did not place"), std::string::npos);
  EXPECT_EQ(report->conflicts.size(), 6u) << conflicts_text(report->conflicts);  // /usr and all under it
  EXPECT_TRUE(report->placed.empty());
  EXPECT_EQ(tree_listing(outside_), outside_before);

  WriteOptions force;
  force.force = true;
  Result<WriteReport> forced = apply(plan, nullptr, force);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_TRUE(forced->conflicts.empty()) << conflicts_text(forced->conflicts);
  EXPECT_TRUE(S_ISDIR(lstat_of(in_root("/usr")).st_mode));
  EXPECT_EQ(read_file(in_root("/usr/bin/tool")), "#!/bin/sh\necho tool\n");
  EXPECT_EQ(tree_listing(outside_), outside_before);
}

TEST_F(RootWriterTest, ASymlinkOnTheWayIsNeverFollowedEvenIfThePlanOmitsTheDirectory) {
  write_file(host("/tool"), "jail's tool", 0755);
  ASSERT_EQ(::symlink(outside_.c_str(), in_root("/usr").c_str()), 0);
  const std::string outside_before = tree_listing(outside_);
  // No entry for /usr or /usr/bin: only the lookup of the parent stands between the write and
  // OUTSIDE/bin/tool.
  WriteOptions force;
  force.force = true;
  Result<WriteReport> report = apply(PlanBuilder().file("/usr/bin/tool", host("/tool")).plan, nullptr, force);
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_NE(conflict_at(*report, "/usr/bin/tool"), nullptr);
  EXPECT_EQ(conflict_at(*report, "/usr/bin/tool")->reason, "a symlink is on the way to it");
  EXPECT_EQ(tree_listing(outside_), outside_before);
}

TEST_F(RootWriterTest, AFileSymlinkToOutsideIsReplacedNotFollowed) {
  const CopyPlan plan = sample_plan();
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);

  // The jail swaps the file jailbuild placed for a symlink to a host file.
  ASSERT_EQ(::unlink(in_root("/usr/bin/tool").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/bin/tool").c_str(), in_root("/usr/bin/tool").c_str()), 0);
  const std::string outside_before = tree_listing(outside_);

  // The path is jailbuild's: the symlink itself is replaced by the copy, its target untouched.
  Result<WriteReport> report = apply(plan, &manifest);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->conflicts.empty()) << conflicts_text(report->conflicts);
  EXPECT_TRUE(S_ISREG(lstat_of(in_root("/usr/bin/tool")).st_mode));
  EXPECT_EQ(read_file(in_root("/usr/bin/tool")), "#!/bin/sh\necho tool\n");
  EXPECT_EQ(tree_listing(outside_), outside_before);
}

TEST_F(RootWriterTest, PlantedTemporaryNamesAreRemovedNotFollowed) {
  const CopyPlan plan = sample_plan();
  fs::create_directories(in_root("/usr/bin"));
  // What a killed run leaves, and what a hostile jail might plant under such names.
  write_file(in_root("/usr/bin/.jailbuild-tmp.AbC123"), "half a file", 0600);
  ASSERT_EQ(::symlink((outside_ + "/secret").c_str(), in_root("/usr/bin/.jailbuild-tmp.xyz789").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/bin").c_str(), in_root("/.jailbuild-tmp.dirlnk").c_str()), 0);
  // A killed run leaves its new directory empty under a temporary name: removed. One that holds
  // something was never ours: left alone, contents and all.
  fs::create_directories(in_root("/usr/.jailbuild-tmp.EmPtY1"));
  fs::create_directories(in_root("/usr/.jailbuild-tmp.a-directory"));
  write_file(in_root("/usr/.jailbuild-tmp.a-directory/kept"), "not jailbuild's", 0644);
  const std::string outside_before = tree_listing(outside_);

  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(temporaries_under(root_), std::vector<std::string>{in_root("/usr/.jailbuild-tmp.a-directory")});
  EXPECT_TRUE(fs::exists(in_root("/usr/.jailbuild-tmp.a-directory/kept")));
  EXPECT_EQ(tree_listing(outside_), outside_before);
}

// A thread that keeps exchanging two names in a directory (renameat2 RENAME_EXCHANGE: atomic, so
// at every instant one is the real entry and the other the symlink), recreating the symlink if
// the copier removed it.
class Swapper {
 public:
  Swapper(std::string dir, std::string name, std::string other, std::string symlink_target)
      : dir_(std::move(dir)), name_(std::move(name)), other_(std::move(other)), target_(std::move(symlink_target)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Swapper() { stop(); }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long swaps() const { return swaps_; }

 private:
  void run() {
    const int dir = ::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    while (!stopping_) {
      if (::renameat2(dir, name_.c_str(), dir, other_.c_str(), RENAME_EXCHANGE) == 0) {
        ++swaps_;
      } else {
        // One of the names is gone (the copier removed a symlink under --force): put one back.
        ::symlinkat(target_.c_str(), dir, name_.c_str());
        ::symlinkat(target_.c_str(), dir, other_.c_str());
      }
    }
    ::close(dir);
  }

  std::string dir_, name_, other_, target_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<long> swaps_{0};
};

TEST_F(RootWriterTest, ADirectorySwappedWithASymlinkMidRunNeverLetsAWriteOut) {
  const CopyPlan plan = sample_plan();
  fs::create_directories(outside_ + "/lib");
  write_file(outside_ + "/lib/libx.so.1.2", "host library", 0644);
  const std::string outside_before = tree_listing(outside_);

  ASSERT_EQ(::mkdir(in_root("/usr").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), in_root("/usr-swap").c_str()), 0);
  int succeeded = 0, with_conflicts = 0, failed = 0;
  {
    Swapper swapper(root_, "usr", "usr-swap", outside_);
    std::optional<Manifest> manifest;
    for (int run = 0; run < 300; ++run) {
      WriteOptions options;
      options.force = run % 2 == 1;
      Result<WriteReport> report = apply(plan, manifest ? &*manifest : nullptr, options);
      if (report) {
        ++succeeded;
        with_conflicts += report->conflicts.empty() ? 0 : 1;
        manifest = manifest_after(*report, manifest ? &*manifest : nullptr);
      } else {
        ++failed;  // an error is an acceptable answer to a root changing under us; a write outside is not
      }
    }
    swapper.stop();
    EXPECT_GT(swapper.swaps(), 1000);
  }
  EXPECT_EQ(tree_listing(outside_), outside_before);
  EXPECT_GT(succeeded, 0);
  std::cout << "[          ] " << succeeded << " runs succeeded (" << with_conflicts << " with conflicts), " << failed
            << " failed\n";
}

TEST_F(RootWriterTest, AFileSwappedWithASymlinkMidRunNeverLetsAWriteOut) {
  const CopyPlan plan = sample_plan();
  const std::string outside_before = tree_listing(outside_);
  WriteOptions force;
  force.force = true;
  Result<WriteReport> first = apply(plan, nullptr, force);
  ASSERT_TRUE(first) << first.error().message;
  Manifest manifest = manifest_after(*first);

  ASSERT_EQ(::symlink((outside_ + "/bin/tool").c_str(), in_root("/usr/bin/tool-swap").c_str()), 0);
  {
    Swapper swapper(in_root("/usr/bin"), "tool", "tool-swap", outside_ + "/bin/tool");
    for (int run = 0; run < 300; ++run) {
      WriteOptions options;
      options.force = run % 2 == 1;
      if (Result<WriteReport> report = apply(plan, &manifest, options)) manifest = manifest_after(*report, &manifest);
    }
  }
  EXPECT_EQ(tree_listing(outside_), outside_before);
}

// ---------------------------------------------------------------------------------------------
// Failures midway

TEST_F(RootWriterTest, AFullDiskNamesThePathAndLeavesEveryFileOldOrNew) {
  SKIP_UNLESS_ROOT();
  if (!mount_small_root("64k")) GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  write_file(host("/small"), std::string(1000, 's'), 0644);
  write_file(host("/big"), "old version\n", 0644);
  write_file(host("/after"), "after", 0644);
  const CopyPlan plan = PlanBuilder()
                            .dir("/a")
                            .file("/a/small", host("/small"))
                            .file("/a/big", host("/big"))
                            .file("/a/after", host("/after"))
                            .plan;
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);

  write_file(host("/small"), std::string(2000, 'S'), 0644);
  write_large_file(host("/big"), 1);  // 1 MiB into 64 KiB
  Result<RootWriter> writer = RootWriter::open(root_, false);
  ASSERT_TRUE(writer);
  Result<WriteReport> full = writer->apply(plan, &manifest, {});
  ASSERT_FALSE(full);
  const std::string& message = full.error().message;
  EXPECT_NE(message.find(in_root("/a/big")), std::string::npos) << message;
  EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;

  EXPECT_TRUE(temporaries_under(root_).empty());
  EXPECT_EQ(read_file(in_root("/a/small")), std::string(2000, 'S'));  // new, complete
  EXPECT_EQ(read_file(in_root("/a/big")), "old version\n");           // old, intact
  EXPECT_EQ(read_file(in_root("/a/after")), "after");

  // What was done before the error is there to be recorded, so that the next run knows it.
  const WriteReport& partial = writer->partial_report();
  EXPECT_NE(placed_entry(partial, "/a/small"), nullptr);
  EXPECT_EQ(placed_entry(partial, "/a/big"), nullptr);
  const Manifest recorded = manifest_after(partial, &manifest);
  write_file(host("/big"), std::string(20000, 'B'), 0644);
  Result<WriteReport> next = writer->apply(plan, &recorded, {});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_TRUE(next->conflicts.empty()) << conflicts_text(next->conflicts);
  EXPECT_EQ(next->updated.size(), 1u);
  EXPECT_EQ(read_file(in_root("/a/big")), std::string(20000, 'B'));
}

TEST_F(RootWriterTest, AnUnusableSourceIsAClearError) {
  write_file(host("/first"), "first", 0644);
  fs::create_directories(host("/a-directory"));
  ASSERT_EQ(::mkfifo(host("/a-fifo").c_str(), 0644), 0);
  ASSERT_EQ(::symlink("first", host("/a-symlink").c_str()), 0);
  struct Case {
    std::string source;
    std::string cause;
  };
  const std::vector<Case> cases = {
      {host("/a-directory"), "is a directory, not a regular file"},
      {host("/a-fifo"), "is a FIFO, not a regular file"},  // and opening it must not hang
      {host("/a-symlink"), "is a symlink, not a regular file"},
      {host("/vanished"), "No such file or directory"},
  };
  for (const Case& c : cases) {
    const CopyPlan plan = PlanBuilder().file("/first", host("/first")).file("/planned", c.source).plan;
    Result<RootWriter> writer = RootWriter::open(root_, false);
    ASSERT_TRUE(writer);
    Result<WriteReport> report = writer->apply(plan, nullptr, {});
    ASSERT_FALSE(report) << c.source;
    EXPECT_EQ(report.error().message, c.source + ": " + c.cause);
    EXPECT_FALSE(exists(in_root("/planned")));
    EXPECT_TRUE(temporaries_under(root_).empty());
    EXPECT_EQ(writer->partial_report().placed.size(), 1u);
    ASSERT_EQ(::unlink(in_root("/first").c_str()), 0);
  }
}

TEST_F(RootWriterTest, MalformedPlanPathsAreRefused) {
  for (const std::string path : {"relative", "/a/../b", "/a//b", "/a/", "/./a"}) {
    Result<WriteReport> report = apply(PlanBuilder().dir(path).plan);
    ASSERT_FALSE(report) << path;
    EXPECT_NE(report.error().message.find("not a normalised absolute path"), std::string::npos);
  }
}

// Forks a child that applies `plan` and SIGKILLs it once a temporary file in `dir` holds more than
// `threshold` bytes. Returns false if the child finished first.
bool kill_midway(const std::string& root, const std::string& dir, const CopyPlan& plan, const Manifest* manifest,
                 off_t threshold) {
  const pid_t child = ::fork();
  if (child < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return false;
  }
  if (child == 0) {
    Result<RootWriter> writer = RootWriter::open(root, false);
    ::_exit(writer && writer->apply(plan, manifest, {}) ? 0 : 1);
  }
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) return false;
    for (const std::string& temporary : temporaries_under(dir)) {
      struct stat file {};
      if (::lstat(temporary.c_str(), &file) == 0 && file.st_size > threshold) {
        ::kill(child, SIGKILL);
        killed = true;
        break;
      }
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

TEST_F(RootWriterTest, AKilledRunLeavesOldOrNewAndTheNextRunCleansUp) {
  write_file(host("/small"), "small", 0644);
  write_file(host("/big"), "old big\n", 0644);
  const CopyPlan plan = PlanBuilder().dir("/d").file("/d/small", host("/small")).file("/d/big", host("/big")).plan;
  Result<WriteReport> first = apply(plan);
  ASSERT_TRUE(first) << first.error().message;
  const Manifest manifest = manifest_after(*first);

  write_file(host("/small"), "small, new", 0644);
  write_large_file(host("/big"), 200);
  if (!kill_midway(root_, in_root("/d"), plan, &manifest, 4 << 20)) {
    GTEST_SKIP() << "the copy finished before it could be killed";
  }
  // Killed while copying /d/big: the old one is intact, the small file before it complete.
  EXPECT_EQ(read_file(in_root("/d/big")), "old big\n");
  EXPECT_EQ(read_file(in_root("/d/small")), "small, new");
  EXPECT_EQ(temporaries_under(root_).size(), 1u);

  // The killed run had replaced /d/small without recording it: it is recognised as jailbuild's
  // copy by its contents and metadata, and adopted.
  Result<WriteReport> next = apply(plan, &manifest);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_TRUE(next->conflicts.empty()) << conflicts_text(next->conflicts);
  EXPECT_EQ(next->unchanged, 2u);
  EXPECT_EQ(next->updated.size(), 1u);
  const ManifestEntry* adopted = placed_entry(*next, "/d/small");
  ASSERT_NE(adopted, nullptr);
  EXPECT_EQ(adopted->copy_identity.ino, lstat_of(in_root("/d/small")).st_ino);
  EXPECT_TRUE(temporaries_under(root_).empty());
  EXPECT_EQ(lstat_of(in_root("/d/big")).st_size, 200 << 20);
  EXPECT_EQ(read_file(in_root("/d/big")), read_file(host("/big")));
}

// ---------------------------------------------------------------------------------------------
// remove() and dry runs

TEST_F(RootWriterTest, RemoveDeletesWhatJailbuildPlacedAndKeepsWhatChanged) {
  ASSERT_EQ(::mkdir(in_root("/usr").c_str(), 0755), 0);  // shared: never removed
  CopyPlan plan = sample_plan();
  write_file(host("/conf"), "conf", 0644);
  PlanBuilder extra;
  extra.dir("/etc").file("/etc/conf", host("/conf")).dir("/var").dir("/var/lib");
  plan.entries.insert(plan.entries.end(), extra.plan.entries.begin(), extra.plan.entries.end());
  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;

  write_file(in_root("/usr/bin/tool"), "edited by the jail", 0755);  // changed: kept
  write_file(in_root("/var/lib/state"), "the jail's", 0644);         // keeps /var/lib and /var
  Result<RootWriter> writer = RootWriter::open(root_, false);
  ASSERT_TRUE(writer);
  Result<std::vector<Conflict>> left = writer->remove(report->placed);
  ASSERT_TRUE(left) << left.error().message;

  std::map<std::string, std::string> reasons;
  for (const Conflict& conflict : *left) reasons[conflict.path] = conflict.reason;
  EXPECT_EQ(reasons.size(), 4u) << conflicts_text(*left);
  EXPECT_EQ(reasons["/usr/bin/tool"], "changed since jailbuild placed it");
  EXPECT_NE(reasons["/usr/bin"].find("not empty"), std::string::npos);
  EXPECT_NE(reasons["/var/lib"].find("not empty"), std::string::npos);
  EXPECT_NE(reasons["/var"].find("not empty"), std::string::npos);

  EXPECT_FALSE(exists(in_root("/usr/lib")));
  EXPECT_FALSE(exists(in_root("/etc")));
  EXPECT_TRUE(exists(in_root("/usr")));
  EXPECT_EQ(read_file(in_root("/usr/bin/tool")), "edited by the jail");
  EXPECT_EQ(read_file(in_root("/var/lib/state")), "the jail's");

  // Again: what is gone is no conflict.
  Result<std::vector<Conflict>> again = writer->remove(report->placed);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->size(), 4u) << conflicts_text(*again);
}

TEST_F(RootWriterTest, RemoveNeverFollowsASymlinkPlantedOnTheWay) {
  const CopyPlan plan = sample_plan();
  Result<WriteReport> report = apply(plan);
  ASSERT_TRUE(report) << report.error().message;
  // The jail moves jailbuild's /usr aside and points /usr at a copy of it outside.
  fs::copy(in_root("/usr"), outside_ + "/usr", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  ASSERT_EQ(::rename(in_root("/usr").c_str(), in_root("/usr.old").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/usr").c_str(), in_root("/usr").c_str()), 0);
  const std::string outside_before = tree_listing(outside_);

  Result<RootWriter> writer = RootWriter::open(root_, false);
  ASSERT_TRUE(writer);
  Result<std::vector<Conflict>> left = writer->remove(report->placed);
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(left->size(), 6u) << conflicts_text(*left);
  EXPECT_EQ(tree_listing(outside_), outside_before);
}

TEST_F(RootWriterTest, ADryRunChangesNothingAndReportsTheSame) {
  CopyPlan plan = sample_plan();
  write_file(host("/su"), "su", 04755);
  fs::create_directories(in_root("/etc"));
  write_file(in_root("/etc/conflicting"), "mine", 0644);
  PlanBuilder extra;
  extra.file("/su", host("/su"))
      .dir("/etc")
      .file("/etc/conflicting", host("/su"))
      .dir("/etc/new")
      .symlink("/etc/new/l", "x");
  plan.entries.insert(plan.entries.end(), extra.plan.entries.begin(), extra.plan.entries.end());

  const std::string before = tree_listing(root_);
  WriteOptions dry;
  dry.dry_run = true;
  Result<WriteReport> predicted = apply(plan, nullptr, dry);
  ASSERT_TRUE(predicted) << predicted.error().message;
  EXPECT_EQ(tree_listing(root_), before);

  Result<WriteReport> real = apply(plan);
  ASSERT_TRUE(real) << real.error().message;
  EXPECT_EQ(predicted->created, real->created);
  EXPECT_EQ(predicted->updated, real->updated);
  EXPECT_EQ(predicted->unchanged, real->unchanged);
  EXPECT_EQ(predicted->bytes_copied, real->bytes_copied);
  EXPECT_EQ(predicted->privileges_removed, real->privileges_removed);
  EXPECT_EQ(conflicts_text(predicted->conflicts), conflicts_text(real->conflicts));
  EXPECT_EQ(predicted->placed.size(), real->placed.size());
  EXPECT_EQ(real->created.size(), 9u);
  EXPECT_EQ(real->unchanged, 1u);  // /etc, shared
  EXPECT_EQ(real->conflicts.size(), 1u);
}

std::size_t open_descriptors() {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

TEST_F(RootWriterTest, LeavesNoDescriptorOpen) {
  const CopyPlan plan = sample_plan();
  const std::size_t before = open_descriptors();
  {
    Result<RootWriter> writer = RootWriter::open(root_, true);
    ASSERT_TRUE(writer);
    Result<WriteReport> first = writer->apply(plan, nullptr, {});
    ASSERT_TRUE(first) << first.error().message;
    const Manifest manifest = manifest_after(*first);
    ASSERT_TRUE(writer->apply(plan, &manifest, {}));
    ASSERT_TRUE(writer->apply(plan, nullptr, {}));  // all conflicts
    const CopyPlan failing = PlanBuilder().file("/usr/bin/missing", host("/missing")).plan;
    ASSERT_FALSE(writer->apply(failing, nullptr, {}));
    ASSERT_TRUE(writer->remove(first->placed));
  }
  EXPECT_EQ(open_descriptors(), before);
}

// ---------------------------------------------------------------------------------------------
// Copy mechanisms and cost

TEST(CopyContents, EveryMechanismCopiesTheSameBytes) {
  TempDir dir;
  const std::string source = dir.path() + "/source";
  std::string bytes(3 * (1 << 20) + 12345, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(source, bytes, 0644);
  for (const copy::CopyMethod method : {copy::CopyMethod::Reflink, copy::CopyMethod::CopyFileRange,
                                        copy::CopyMethod::Sendfile, copy::CopyMethod::ReadWrite}) {
    const std::string target = dir.path() + "/copy" + std::to_string(static_cast<int>(method));
    const int from = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    const int to = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(from, 0);
    ASSERT_GE(to, 0);
    const copy::CopyOutcome outcome = copy::copy_contents(from, to, bytes.size(), method);
    ::close(from);
    ::close(to);
    EXPECT_EQ(outcome.error, 0);
    EXPECT_EQ(outcome.bytes, bytes.size());
    EXPECT_GE(outcome.used, method);
    EXPECT_EQ(read_file(target), bytes) << static_cast<int>(method);
  }
}

TEST(CopyContents, ReportsTheErrorOfAFailedWrite) {
  TempDir dir;
  const std::string source = dir.path() + "/source";
  write_file(source, "data", 0644);
  const int from = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (full < 0) GTEST_SKIP() << "no /dev/full";
  const copy::CopyOutcome outcome = copy::copy_contents(from, full, 4);
  ::close(from);
  ::close(full);
  EXPECT_EQ(outcome.error, ENOSPC);
}

TEST_F(RootWriterTest, ARepeatedApplyCostsAboutAStatPerFile) {
  constexpr int kFiles = 1000;
  PlanBuilder builder;
  builder.dir("/lib");
  fs::create_directories(host("/lib"));
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "/lib/lib" + std::to_string(i) + ".so";
    write_file(host(name), std::string(4096 + i, 'x'), 0644);
    builder.file(name, host(name));
  }
  using Clock = std::chrono::steady_clock;
  const auto micros = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  };

  const auto fresh_start = Clock::now();
  Result<WriteReport> fresh = apply(builder.plan);
  const auto fresh_time = Clock::now() - fresh_start;
  ASSERT_TRUE(fresh) << fresh.error().message;
  ASSERT_EQ(fresh->created.size(), kFiles + 1u);
  const Manifest manifest = manifest_after(*fresh);

  const auto repeat_start = Clock::now();
  Result<WriteReport> repeat = apply(builder.plan, &manifest);
  const auto repeat_time = Clock::now() - repeat_start;
  ASSERT_TRUE(repeat) << repeat.error().message;
  ASSERT_EQ(repeat->unchanged, kFiles + 1u);

  // The floor: lstat of every source and of every copy.
  const auto stat_start = Clock::now();
  for (const PlannedEntry& entry : builder.plan.entries) {
    struct stat status {};
    if (!entry.source.empty()) ::lstat(entry.source.c_str(), &status);
    ::lstat(in_root(entry.path).c_str(), &status);
  }
  const auto stat_time = Clock::now() - stat_start;
  std::cout << "[          ] " << kFiles << " files: fresh " << micros(fresh_time) << " us, repeated "
            << micros(repeat_time) << " us, lstat of sources and copies " << micros(stat_time) << " us\n";
  EXPECT_LT(repeat_time * 3, fresh_time);
}

// ---------------------------------------------------------------------------------------------
// open_root: the one way a root is opened (add, sync, remove, list, and run)

// The directory a descriptor is open on, as (device, inode).
std::pair<dev_t, ino_t> inode_of_fd(int fd) {
  struct stat status {};
  EXPECT_EQ(::fstat(fd, &status), 0);
  return {status.st_dev, status.st_ino};
}
std::pair<dev_t, ino_t> inode_at(const std::string& path) {
  struct stat status {};
  EXPECT_EQ(::lstat(path.c_str(), &status), 0) << path;
  return {status.st_dev, status.st_ino};
}

TEST(OpenRoot, OpensTheDirectoryItNamesWithThePathNormalised) {
  TempDir dir;
  fs::create_directories(dir.path() + "/a/b");
  fs::create_directories(dir.path() + "/a/x");
  auto opened = open_root(dir.path() + "//a/./x/../b/", false);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->path, dir.path() + "/a/b");
  ASSERT_TRUE(opened->fd.valid());
  EXPECT_EQ(inode_of_fd(opened->fd.get()), inode_at(dir.path() + "/a/b"));

  // Missing, not created: a name without a descriptor, and nothing made.
  auto missing = open_root(dir.path() + "/a/missing/../c/root", false);
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_EQ(missing->path, dir.path() + "/a/c/root");
  EXPECT_FALSE(missing->fd.valid());
  EXPECT_FALSE(fs::exists(dir.path() + "/a/missing"));
}

TEST(OpenRoot, CreatesAMissingRootAndItsParentsWithMode0755WhateverTheUmask) {
  TempDir dir;
  const mode_t umask_before = ::umask(077);
  auto created = open_root(dir.path() + "/new/parent/root", true);
  ::umask(umask_before);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(created->fd.valid());
  EXPECT_EQ(inode_of_fd(created->fd.get()), inode_at(dir.path() + "/new/parent/root"));
  struct stat status {};
  ASSERT_EQ(::stat((dir.path() + "/new/parent/root").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0755u);
}

TEST(OpenRoot, ASymlinkAnywhereOnTheWayIsABadRequestNamingIt) {
  TempDir dir;
  fs::create_directories(dir.path() + "/real/root");
  fs::create_directory_symlink("real", dir.path() + "/link");
  fs::create_directory_symlink("root", dir.path() + "/real/last");
  write_file(dir.path() + "/file", "");
  struct Case {
    std::string path;
    std::string message;
  };
  const std::vector<Case> cases{
      {dir.path() + "/link/root", dir.path() + "/link is a symlink"},
      {dir.path() + "/link/new", dir.path() + "/link is a symlink"},
      {dir.path() + "/real/last", dir.path() + "/real/last: is a symlink"},
      {dir.path() + "/link/../real/root", dir.path() + "/link is a symlink"},
      {dir.path() + "/file/root", dir.path() + "/file is a regular file, not a directory"},
  };
  for (const Case& c : cases) {
    for (const bool create : {false, true}) {
      auto refused = open_root(c.path, create);
      ASSERT_FALSE(refused) << c.path;
      EXPECT_TRUE(refused.error().is_usage()) << c.path;
      EXPECT_NE(refused.error().message.find(c.message), std::string::npos) << refused.error().message;
    }
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/real/new")) << "a root was created through the symlink";
  // Control: the same directory by its real path opens.
  auto real = open_root(dir.path() + "/real/root", false);
  ASSERT_TRUE(real) << real.error().message;
  EXPECT_EQ(inode_of_fd(real->fd.get()), inode_at(dir.path() + "/real/root"));
}

}  // namespace
}  // namespace jailbuild
