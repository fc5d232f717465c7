// RootWriter's decision per entry (copy::decide), as a table: each row a planned entry, the
// manifest's record of its path and what lstat found there and at its source, and the verdict the
// rules give. No disk: the facts are written out, which is what lets every case be listed, the
// ones a real root hardly ever shows (a run killed between rename and manifest, a jail that put its
// own inode at a recorded path) included. root_writer_test.cpp checks the same rules end to end.

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

// White-box: the decision is private to src/copy.
#include "copy/entry_decision.hpp"

namespace jailbuild::copy {
namespace {

FileIdentity inode(std::uint64_t ino, mode_t mode, std::uint64_t size = 10, std::int64_t mtime = 100) {
  FileIdentity identity;
  identity.dev = 1;
  identity.ino = ino;
  identity.size = size;
  identity.mtime_ns = mtime;
  identity.ctime_ns = mtime;
  identity.mode = mode;
  return identity;
}

const FileIdentity kSource = inode(1, S_IFREG | 0755);
const FileIdentity kCopy = inode(2, S_IFREG | 0755);
const FileIdentity kOtherFile = inode(3, S_IFREG | 0755);
const FileIdentity kDirectory = inode(4, S_IFDIR | 0755);
const FileIdentity kOurDirectory = inode(5, S_IFDIR | 0755);
const FileIdentity kLink = inode(6, S_IFLNK | 0777);
const FileIdentity kOtherLink = inode(7, S_IFLNK | 0777);
const FileIdentity kHostDirectory = inode(8, S_IFDIR | 0750);

PlannedEntry file_entry() { return PlannedEntry{"/bin/x", EntryType::File, "/host/x", "", std::nullopt, 0, {}}; }
PlannedEntry link_entry() { return PlannedEntry{"/lib", EntryType::Symlink, "/lib", "usr/lib", std::nullopt, 0, {}}; }
PlannedEntry dir_entry() { return PlannedEntry{"/etc", EntryType::Directory, "/etc", "", std::nullopt, 0, {}}; }
PlannedEntry generated_entry() {
  return PlannedEntry{"/etc/ld.so.cache", EntryType::File, "", "", std::string(10, 'c'), 0644, {}};
}

ManifestEntry record(const PlannedEntry& entry, FileIdentity source, FileIdentity copy) {
  ManifestEntry recorded;
  recorded.path = entry.path;
  recorded.type = entry.type;
  recorded.source = entry.source;
  recorded.link_target = entry.link_target;
  recorded.source_identity = source;
  recorded.copy_identity = copy;
  return recorded;
}

struct Row {
  std::string name;
  PlannedEntry entry;
  std::optional<ManifestEntry> recorded;
  std::optional<FileIdentity> found;
  std::optional<FileIdentity> source;
  WriteOptions options;
  Facts facts;                     // answers given when asked for
  std::vector<Look> expect_looks;  // the facts the decision must ask for, in order
  Verdict expected;
  std::string why_contains;
  mode_t mode = 0;  // the expected mode, when not 0
};

Facts with(std::initializer_list<std::pair<Look, bool>> answers) {
  Facts facts;
  for (const auto& [look, answer] : answers) facts[look] = answer;
  return facts;
}

WriteOptions forced() {
  WriteOptions options;
  options.force = true;
  return options;
}
WriteOptions checksum() {
  WriteOptions options;
  options.checksum = true;
  return options;
}
WriteOptions keep_setuid() {
  WriteOptions options;
  options.keep_setuid = true;
  return options;
}

FileIdentity changed(FileIdentity identity, std::int64_t mtime, std::uint64_t size) {
  identity.mtime_ns = mtime;
  identity.size = size;
  return identity;
}
FileIdentity with_mode(FileIdentity identity, mode_t mode) {
  identity.mode = (identity.mode & S_IFMT) | mode;
  return identity;
}
ManifestEntry pending(const PlannedEntry& entry) { return record(entry, {}, {}); }

constexpr std::uint32_t kUser = 1000;  // who the rows run as
// A file owned by kUser, as the generated files jailbuild writes are.
FileIdentity mine(FileIdentity identity) {
  identity.uid = kUser;
  return identity;
}

std::vector<Row> rows() {
  const PlannedEntry file = file_entry();
  const PlannedEntry link = link_entry();
  const PlannedEntry dir = dir_entry();
  const PlannedEntry generated = generated_entry();
  const FileIdentity copy_like_source = inode(9, S_IFREG | 0755);  // another inode, same size and mtime
  const FileIdentity setuid_source = inode(1, S_IFREG | 04755);
  return {
      // Files copied from a source.
      {"file: nothing there", file, std::nullopt, std::nullopt, kSource, {}, {}, {}, Verdict::Create, "nothing"},
      {"file: nothing there, manifest has it",
       file,
       record(file, kSource, kCopy),
       std::nullopt,
       kSource,
       {},
       {},
       {},
       Verdict::Create,
       "nothing"},
      {"file: our copy, both unchanged",
       file,
       record(file, kSource, kCopy),
       kCopy,
       kSource,
       {},
       {},
       {},
       Verdict::Keep,
       "unchanged"},
      {"file: our copy, source changed",
       file,
       record(file, kSource, kCopy),
       kCopy,
       changed(kSource, 200, 20),
       {},
       {},
       {},
       Verdict::Replace,
       "the source changed: size, mtime"},
      {"file: our copy, edited in the root",
       file,
       record(file, kSource, kCopy),
       changed(kCopy, 300, 10),
       kSource,
       {},
       {},
       {},
       Verdict::Replace,
       "the copy changed: mtime"},
      {"file: our copy, mode changed",
       file,
       record(file, kSource, kCopy),
       with_mode(kCopy, 0700),
       kSource,
       {},
       {},
       {},
       Verdict::Replace,
       "the copy changed: mode"},
      {"file: recorded from another source",
       file,
       [&] {
         ManifestEntry r = record(file, kSource, kCopy);
         r.source = "/host/old";
         return r;
       }(),
       kCopy,
       kSource,
       {},
       {},
       {},
       Verdict::Replace,
       "its source was /host/old"},
      {"file: checksum, same bytes",
       file,
       record(file, kSource, kCopy),
       kCopy,
       kSource,
       checksum(),
       with({{Look::SameContents, true}}),
       {Look::SameContents},
       Verdict::Keep,
       "bytes compared"},
      {"file: checksum, bytes differ",
       file,
       record(file, kSource, kCopy),
       kCopy,
       kSource,
       checksum(),
       with({{Look::SameContents, false}}),
       {Look::SameContents},
       Verdict::Replace,
       "bytes differ"},
      {"file: a stranger there",
       file,
       std::nullopt,
       kOtherFile,
       kSource,
       {},
       {},
       {},
       Verdict::Conflict,
       "a regular file that jailbuild did not place is there (--force replaces it)"},
      {"file: a stranger there, forced",
       file,
       std::nullopt,
       kOtherFile,
       kSource,
       forced(),
       {},
       {},
       Verdict::Replace,
       "another regular file"},
      {"file: another inode at our path",
       file,
       record(file, kSource, kCopy),
       kOtherFile,
       changed(kSource, 5, 10),
       {},
       {},
       {},
       Verdict::Replace,
       "another regular file"},
      {"file: a pending entry's path holds a stranger",
       file,
       pending(file),
       changed(kOtherFile, 50, 10),
       kSource,
       {},
       {},
       {},
       Verdict::Conflict,
       "did not place"},
      {"file: killed run's copy, same bytes: adopted",
       file,
       pending(file),
       copy_like_source,
       kSource,
       {},
       with({{Look::AdoptableCopy, true}}),
       {Look::AdoptableCopy},
       Verdict::Adopt,
       "another inode"},
      {"file: killed run's copy, bytes differ: still a stranger",
       file,
       pending(file),
       copy_like_source,
       kSource,
       {},
       with({{Look::AdoptableCopy, false}}),
       {Look::AdoptableCopy},
       Verdict::Conflict,
       "did not place"},
      {"file: adoptable copy over a recorded copy",
       file,
       record(file, kSource, kCopy),
       copy_like_source,
       kSource,
       {},
       with({{Look::AdoptableCopy, true}}),
       {Look::AdoptableCopy},
       Verdict::Adopt,
       ""},
      {"file: same bytes but never recorded: a conflict, not adopted",
       file,
       std::nullopt,
       copy_like_source,
       kSource,
       {},
       {},
       {},
       Verdict::Conflict,
       "did not place"},
      {"file: an empty directory in the way, forced",
       file,
       std::nullopt,
       kDirectory,
       kSource,
       forced(),
       with({{Look::DirectoryEmpty, true}}),
       {Look::DirectoryEmpty},
       Verdict::Replace,
       ""},
      {"file: a full directory in the way, forced",
       file,
       std::nullopt,
       kDirectory,
       kSource,
       forced(),
       with({{Look::DirectoryEmpty, false}}),
       {Look::DirectoryEmpty},
       Verdict::Conflict,
       "not empty is there (jailbuild removes only empty directories, even with --force)"},
      {"file: setuid dropped from the mode",
       file,
       std::nullopt,
       std::nullopt,
       setuid_source,
       {},
       {},
       {},
       Verdict::Create,
       "",
       0755},
      {"file: setuid kept when asked",
       file,
       std::nullopt,
       std::nullopt,
       setuid_source,
       keep_setuid(),
       {},
       {},
       Verdict::Create,
       "",
       04755},
      {"file: a copy with the setuid bit still there is replaced",
       file,
       record(file, setuid_source, with_mode(kCopy, 04755)),
       with_mode(kCopy, 04755),
       setuid_source,
       {},
       {},
       {},
       Verdict::Replace,
       "its mode differs",
       0755},

      // Symlinks.
      {"symlink: nothing there", link, std::nullopt, std::nullopt, kLink, {}, {}, {}, Verdict::Create, ""},
      {"symlink: ours, as recorded",
       link,
       record(link, kLink, kOtherLink),
       kOtherLink,
       kLink,
       {},
       {},
       {},
       Verdict::Keep,
       "unchanged"},
      {"symlink: ours, repointed on the host",
       link,
       [&] {
         ManifestEntry r = record(link, kLink, kOtherLink);
         r.link_target = "lib64";
         return r;
       }(),
       kOtherLink,
       kLink,
       {},
       with({{Look::LinkMatches, false}}),
       {Look::LinkMatches},
       Verdict::Replace,
       "now to usr/lib"},
      {"symlink: a killed run's, right target: kept",
       link,
       pending(link),
       kOtherLink,
       kLink,
       {},
       with({{Look::LinkMatches, true}}),
       {Look::LinkMatches},
       Verdict::Keep,
       ""},
      {"symlink: a stranger's symlink",
       link,
       std::nullopt,
       kOtherLink,
       kLink,
       {},
       {},
       {},
       Verdict::Conflict,
       "a symlink that jailbuild did not place"},
      {"symlink: a file where our symlink was",
       link,
       record(link, kLink, kOtherLink),
       kOtherFile,
       kLink,
       {},
       {},
       {},
       Verdict::Replace,
       "another regular file"},

      // Directories.
      {"directory: nothing there",
       dir,
       std::nullopt,
       std::nullopt,
       kHostDirectory,
       {},
       {},
       {},
       Verdict::Create,
       "",
       0750},
      {"directory: one jailbuild did not create is shared",
       dir,
       std::nullopt,
       kDirectory,
       kHostDirectory,
       {},
       {},
       {},
       Verdict::Share,
       ""},
      {"directory: ours, as the host's",
       dir,
       record(dir, kHostDirectory, with_mode(kOurDirectory, 0750)),
       with_mode(kOurDirectory, 0750),
       kHostDirectory,
       {},
       {},
       {},
       Verdict::Keep,
       ""},
      {"directory: ours, host mode changed",
       dir,
       record(dir, kHostDirectory, kOurDirectory),
       kOurDirectory,
       kHostDirectory,
       {},
       {},
       {},
       Verdict::Settle,
       "mode",
       0750},
      {"directory: a stranger's file in the way",
       dir,
       std::nullopt,
       kOtherFile,
       kHostDirectory,
       {},
       {},
       {},
       Verdict::Conflict,
       "a regular file that jailbuild did not place is there (--force replaces it)"},
      {"directory: a file in the way, forced",
       dir,
       std::nullopt,
       kOtherFile,
       kHostDirectory,
       forced(),
       {},
       {},
       Verdict::Replace,
       ""},
      {"directory: without a source, planned mode",
       [] {
         PlannedEntry d = dir_entry();
         d.source = "";
         d.mode = 0711;
         return d;
       }(),
       std::nullopt,
       std::nullopt,
       std::nullopt,
       {},
       {},
       {},
       Verdict::Create,
       "",
       0711},

      // Generated files.
      {"generated: nothing there",
       generated,
       std::nullopt,
       std::nullopt,
       std::nullopt,
       {},
       {},
       {},
       Verdict::Create,
       "",
       0644},
      {"generated: ours, same bytes",
       generated,
       record(generated, {}, mine(inode(2, S_IFREG | 0644))),
       mine(inode(2, S_IFREG | 0644)),
       std::nullopt,
       {},
       with({{Look::HoldsContent, true}}),
       {Look::HoldsContent},
       Verdict::Keep,
       ""},
      {"generated: ours, other bytes",
       generated,
       record(generated, {}, mine(inode(2, S_IFREG | 0644))),
       mine(inode(2, S_IFREG | 0644)),
       std::nullopt,
       {},
       with({{Look::HoldsContent, false}}),
       {Look::HoldsContent},
       Verdict::Replace,
       "bytes differ"},
      {"generated: ours, another size: no read",
       generated,
       record(generated, {}, mine(inode(2, S_IFREG | 0644))),
       mine(inode(2, S_IFREG | 0644, 11)),
       std::nullopt,
       {},
       {},
       {},
       Verdict::Replace,
       ""},
      {"generated: a stranger's file",
       generated,
       std::nullopt,
       mine(inode(2, S_IFREG | 0644)),
       std::nullopt,
       {},
       {},
       {},
       Verdict::Conflict,
       "did not place"},
  };
}

TEST(EntryDecision, EachRowGivesItsVerdict) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.name);
    Observed seen;
    seen.found = row.found;
    seen.recorded = row.recorded ? &*row.recorded : nullptr;
    seen.source = row.source;
    seen.euid = kUser;
    // Decide as RootWriter does: each fact asked for is given, then the decision is asked again.
    std::vector<Look> asked;
    EntryDecision decision = decide(row.entry, seen, row.options);
    while (decision.verdict == Verdict::Look && asked.size() < kLookCount) {
      asked.push_back(decision.look);
      ASSERT_TRUE(row.facts[decision.look].has_value()) << "asked for a fact the row does not give";
      seen.facts[decision.look] = row.facts[decision.look];
      decision = decide(row.entry, seen, row.options);
    }
    EXPECT_EQ(asked, row.expect_looks);
    EXPECT_STREQ(to_string(decision.verdict), to_string(row.expected));
    EXPECT_NE(decision.why.find(row.why_contains), std::string::npos) << decision.why;
    if (row.mode != 0) { EXPECT_EQ(decision.mode, row.mode); }
  }
}

// The same facts, the dry-run option aside, give the same decision: a dry run is the decision.
TEST(EntryDecision, DryRunDecidesTheSame) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.name);
    Observed seen;
    seen.found = row.found;
    seen.recorded = row.recorded ? &*row.recorded : nullptr;
    seen.source = row.source;
    seen.euid = kUser;
    seen.facts = row.facts;
    WriteOptions dry = row.options;
    dry.dry_run = true;
    EXPECT_EQ(decide(row.entry, seen, row.options).verdict, decide(row.entry, seen, dry).verdict);
  }
}

// As root, a copy must also have its source's owner: an owner that differs keeps a file that
// looks like a killed run's copy from being adopted, and settles a directory jailbuild made.
TEST(EntryDecision, AsRootTheOwnerCounts) {
  const PlannedEntry file = file_entry();
  const ManifestEntry recorded = pending(file);
  FileIdentity found = inode(9, S_IFREG | 0755);
  found.uid = 1000;
  Observed seen;
  seen.found = found;
  seen.recorded = &recorded;
  seen.source = kSource;  // owned by uid 0
  seen.euid = 0;
  EXPECT_EQ(decide(file, seen, {}).verdict, Verdict::Conflict);
  seen.euid = kUser;
  EXPECT_EQ(decide(file, seen, {}).verdict, Verdict::Look);

  const PlannedEntry dir = dir_entry();
  FileIdentity our_dir = with_mode(kOurDirectory, 0750);
  our_dir.uid = 1000;
  const ManifestEntry dir_record = record(dir, kHostDirectory, our_dir);
  Observed dir_seen;
  dir_seen.found = our_dir;
  dir_seen.recorded = &dir_record;
  dir_seen.source = kHostDirectory;
  dir_seen.euid = 0;
  const EntryDecision settle = decide(dir, dir_seen, {});
  EXPECT_EQ(settle.verdict, Verdict::Settle);
  EXPECT_EQ(settle.why, "its owner differs from its source's");
  dir_seen.euid = kUser;
  EXPECT_EQ(decide(dir, dir_seen, {}).verdict, Verdict::Keep);
}

}  // namespace
}  // namespace jailbuild::copy
