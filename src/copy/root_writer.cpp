// RootWriter: places a CopyPlan in a root without writing outside it (see root_writer.hpp).
//
// Every planned path is reached in two steps. Its parent directory is opened from the root's
// descriptor with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), which
// fails on a symlink anywhere on the way instead of following it. The last component is then only
// named relative to that descriptor, by calls that do not follow a symlink there either (fstatat
// with AT_SYMLINK_NOFOLLOW, mkdirat, symlinkat, openat with O_EXCL|O_NOFOLLOW, renameat, unlinkat),
// and contents and metadata are set through descriptors of the new inode, never by path. A
// directory that a hostile process swaps for a symlink mid-run makes a lookup fail (a conflict);
// it cannot redirect a write.
//
// What to do with each planned entry (keep, create, replace, adopt, leave alone as a conflict) is
// decided apart, from lstat facts and the manifest alone, by copy::decide (entry_decision.hpp,
// which also says what "placed by jailbuild" means); this file observes, and carries the decision
// out. A dry run observes and decides, and carries nothing out.

#include "root_writer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "entry_decision.hpp"
#include "file_copy.hpp"
#include "safe_fs.hpp"
#include "util/dir_stream.hpp"
#include "util/file_type.hpp"
#include "util/io.hpp"
#include "util/open_beneath.hpp"
#include "util/root_dir.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {
namespace {

constexpr mode_t kPrivilegeBits = S_ISUID | S_ISGID;
constexpr mode_t kDefaultFileMode = 0644;
constexpr const char* kCapabilityAttribute = "security.capability";

bool running_as_root() { return ::geteuid() == 0; }

// Errors of an operation on a planned path that mean the path changed under us (a directory
// appeared where a file was renamed, a name vanished, ...): the path is then left alone as a
// conflict rather than stopping the run.
bool changed_underneath(int error_number) {
  return error_number == ENOENT || error_number == EEXIST || error_number == EISDIR || error_number == ENOTDIR ||
         error_number == ENOTEMPTY || error_number == ELOOP;
}

// The end of an operation on a planned path: the inode now there, or (left_alone non-empty) why
// the path was left as it was. Failures that stop the run are Errors instead.
struct Done {
  struct stat status {};
  std::string left_alone;
};

Done left_alone(std::string reason) {
  Done done;
  done.left_alone = std::move(reason);
  return done;
}

Done changed_while_running(int error_number) {
  return left_alone("changed while jailbuild was writing it (" + errno_text(error_number) + ")");
}

// One planned path, ready for *at() calls on its last component.
struct Target {
  const PlannedEntry* entry = nullptr;
  copy::RootPath where;
  std::string display;                      // the host path, for messages
  int dir = -1;                             // O_PATH descriptor of the parent (owned by the Applier);
                                            // -1 when the parent is still to be created (dry run only)
  std::optional<struct stat> found;         // what is at the path now, if anything
  const ManifestEntry* recorded = nullptr;  // the previous manifest's entry for the path
  std::optional<struct stat> source;        // the host source's lstat, when it has one (Applier::decide)
};

Result<struct stat> stat_at(int dir_fd, const std::string& name, const std::string& display) {
  struct stat status {};
  if (::fstatat(dir_fd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) return system_error(display, errno);
  return status;
}

// Whether the directory `name` in dir_fd has no entries. One that is no longer a directory counts
// as not empty: it changed under us, and is left alone.
Result<bool> directory_is_empty(int dir_fd, const std::string& name, const std::string& display) {
  const int fd = open_beneath(dir_fd, name, O_RDONLY | O_DIRECTORY);
  if (fd < 0 && changed_underneath(-fd)) return false;
  if (fd < 0) return system_error(display, -fd);
  DirStream stream = TRY(DirStream::adopt(UniqueFd(fd), display));
  const dirent* first = TRY(stream.next());
  return first == nullptr;
}

// The source of a planned file: its lstat, checked for a type jailbuild copies.
Result<struct stat> stat_source(const std::string& source, const WriteOptions& options) {
  struct stat status {};
  if (::lstat(source.c_str(), &status) != 0) return system_error(source, errno);
  if (S_ISREG(status.st_mode)) return status;
  if (S_ISCHR(status.st_mode) || S_ISBLK(status.st_mode)) {
    if (options.allow_devices) return status;
    return Error{source + ": is a " + file_type_name(status.st_mode) +
                 "; device nodes are copied only when asked for (--allow-devices)"};
  }
  return Error{source + ": is a " + file_type_name(status.st_mode) + ", not a regular file"};
}

// Opens a regular source file for copying. O_NOFOLLOW and O_NONBLOCK guard against the path
// having become a symlink or a FIFO since it was examined (open would follow the one and hang on
// the other); fstat then tells what was really opened.
Result<UniqueFd> open_source(const std::string& source, struct stat& status) {
  UniqueFd fd(::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return system_error(source, errno);
  if (::fstat(fd.get(), &status) != 0) return system_error(source, errno);
  if (!S_ISREG(status.st_mode)) {
    return Error{source + ": became a " + std::string(file_type_name(status.st_mode)) + " while jailbuild was running"};
  }
  return fd;
}

// The source's file capabilities (the raw security.capability attribute), if it has any.
Result<std::optional<std::string>> read_capabilities(int fd, const std::string& source) {
  std::array<char, 256> buffer{};  // a capability set is 20 or 24 bytes
  const ssize_t size = ::fgetxattr(fd, kCapabilityAttribute, buffer.data(), buffer.size());
  if (size >= 0) return std::optional<std::string>(std::string(buffer.data(), static_cast<std::size_t>(size)));
  if (errno == ENODATA || errno == ENOTSUP) return std::optional<std::string>();
  return system_error(source + ": reading its capabilities", errno);
}

// How a new regular file is made: its bytes (copied from a descriptor or given) and metadata.
struct FileRecipe {
  int source_fd = -1;
  const std::string* content = nullptr;  // used when source_fd is -1
  std::string source_display;            // for messages
  std::uint64_t size = 0;
  mode_t mode = kDefaultFileMode;  // permission bits, privileges already removed when asked
  std::optional<std::pair<uid_t, gid_t>> owner;
  std::optional<std::array<timespec, 2>> times;  // access, modification
  std::optional<std::string> capabilities;       // security.capability to set
};

// Removes the empty directory in the way of a replacement; "" when the way is clear, else why
// the path is left alone.
Result<std::string> remove_empty_directory(const Target& target) {
  if (::unlinkat(target.dir, target.where.name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return std::string();
  if (errno == ENOTEMPTY || errno == EEXIST) return std::string("a directory that is not empty is in the way");
  return system_error(target.display + ": removing the directory in the way", errno);
}

// Puts a finished temporary entry under the target's name, replacing what is there (a directory
// must be empty and is removed first: rename cannot replace a directory with a non-directory).
Result<Done> commit(const Target& target, copy::TempName& temporary) {
  if (target.found && S_ISDIR(target.found->st_mode)) {
    Result<std::string> cleared = remove_empty_directory(target);
    if (!cleared) return cleared.error();
    if (!cleared->empty()) return left_alone(*cleared);
  }
  if (const int error_number = temporary.commit(target.where.name); error_number != 0) {
    if (changed_underneath(error_number)) return changed_while_running(error_number);
    return system_error(target.display + ": renaming " + temporary.name() + " into place", error_number);
  }
  Result<struct stat> status = stat_at(target.dir, target.where.name, target.display);
  if (!status) return status.error();
  Done done;
  done.status = *status;
  return done;
}

// Writes a regular file under a temporary name next to the target, sets its metadata through its
// descriptor, and renames it into place. On any failure the temporary file is removed.
Result<Done> write_file(const Target& target, const FileRecipe& recipe, std::uint64_t& bytes_copied) {
  const std::string& display = target.display;
  Result<copy::TempFile> temporary = copy::create_temp_file(target.dir, display + ": in its directory");
  if (!temporary) return temporary.error();
  const int fd = temporary->fd.get();

  if (recipe.source_fd >= 0) {
    const copy::CopyOutcome outcome = copy::copy_contents(recipe.source_fd, fd, recipe.size);
    if (outcome.error != 0) return system_error(display + ": copying " + recipe.source_display, outcome.error);
    bytes_copied += outcome.bytes;
  } else {
    if (const int error_number = write_all(fd, *recipe.content); error_number != 0) {
      return system_error(display + ": writing", error_number);
    }
    bytes_copied += recipe.content->size();
  }
  // Metadata after the data (writing clears setuid bits and capabilities), and the owner before
  // the mode and capabilities (chown clears those too).
  if (recipe.owner && ::fchown(fd, recipe.owner->first, recipe.owner->second) != 0) {
    return system_error(display + ": setting its owner", errno);
  }
  if (::fchmod(fd, recipe.mode) != 0) return system_error(display + ": setting its mode", errno);
  if (recipe.capabilities &&
      ::fsetxattr(fd, kCapabilityAttribute, recipe.capabilities->data(), recipe.capabilities->size(), 0) != 0) {
    return system_error(display + ": setting its capabilities", errno);
  }
  if (recipe.times && ::futimens(fd, recipe.times->data()) != 0) {
    return system_error(display + ": setting its modification time", errno);
  }
  struct stat written_status {};
  if (::fstat(fd, &written_status) != 0) return system_error(display + ": fstat", errno);
  // Closed before the rename, so that a late write-back error stops the file from ever appearing.
  if (const int error_number = temporary->fd.close(); error_number != 0) {
    return system_error(display + ": writing", error_number);
  }
  Result<Done> done = commit(target, temporary->name);
  if (done && done->left_alone.empty() && done->status.st_ino != written_status.st_ino) {
    return left_alone("replaced by another file while jailbuild was writing it");
  }
  return done;
}

// Makes a device node like the source's under a temporary name, then renames it into place. The
// mode and owner are set through an O_PATH descriptor of the new node: chmod by name could follow
// a symlink swapped in under the temporary name, and opening a device for real would run its driver.
Result<Done> make_device(const Target& target, const struct stat& source, mode_t mode) {
  Result<copy::TempName> temporary = copy::create_temp_node(target.dir, source.st_mode & S_IFMT, source.st_rdev,
                                                            target.display + ": in its directory");
  if (!temporary) return temporary.error();
  const UniqueFd node(::openat(target.dir, temporary->name().c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!node.valid()) return system_error(target.display + ": opening the new device node", errno);
  struct stat status {};
  if (::fstat(node.get(), &status) != 0) return system_error(target.display + ": fstat", errno);
  if ((status.st_mode & S_IFMT) != (source.st_mode & S_IFMT) || status.st_rdev != source.st_rdev) {
    return left_alone("replaced by another file while jailbuild was writing it");
  }
  if (running_as_root() && ::fchownat(node.get(), "", source.st_uid, source.st_gid, AT_EMPTY_PATH) != 0) {
    return system_error(target.display + ": setting its owner", errno);
  }
  // /proc/self/fd/N is the inode itself (a magic link, resolved without looking at any name).
  const std::string self = "/proc/self/fd/" + std::to_string(node.get());
  if (::chmod(self.c_str(), mode) != 0) {
    return system_error(target.display + ": setting its mode (through /proc)", errno);
  }
  return commit(target, *temporary);
}

// Creates a symlink under a temporary name and renames it over the target.
Result<Done> make_symlink(const Target& target) {
  Result<copy::TempName> temporary =
      copy::create_temp_symlink(target.dir, target.entry->link_target, target.display + ": in its directory");
  if (!temporary) return temporary.error();
  return commit(target, *temporary);
}

// Opens the regular file found at the target for reading. An invalid descriptor means it is no
// longer the inode that was found there: it changed meanwhile, and is treated as different.
Result<UniqueFd> open_found(const Target& target) {
  const int opened = open_beneath(target.dir, target.where.name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (opened < 0 && changed_underneath(-opened)) return UniqueFd();
  if (opened < 0) return system_error(target.display, -opened);
  UniqueFd fd(opened);
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) return system_error(target.display, errno);
  if (status.st_dev != target.found->st_dev || status.st_ino != target.found->st_ino) return UniqueFd();
  return fd;
}

// Whether the open file `fd` holds exactly `content` from its offset on.
Result<bool> holds(int fd, const std::string& content, const std::string& display) {
  std::string found(content.size() + 1, '\0');  // one byte more, to notice a longer file
  const ssize_t got = read_full(fd, found);
  if (got < 0) return system_error(display, static_cast<int>(-got));
  return static_cast<std::size_t>(got) == content.size() && found.compare(0, content.size(), content) == 0;
}

// Whether two open files hold the same bytes from their offsets on.
Result<bool> same_bytes(int first, int second, const std::string& first_display, const std::string& second_display) {
  constexpr std::size_t kBlock = std::size_t{1} << 16;
  std::vector<char> a(kBlock), b(kBlock);
  while (true) {
    const ssize_t got_a = read_full(first, a);
    if (got_a < 0) return system_error(first_display, static_cast<int>(-got_a));
    const ssize_t got_b = read_full(second, b);
    if (got_b < 0) return system_error(second_display, static_cast<int>(-got_b));
    if (got_a != got_b || std::memcmp(a.data(), b.data(), static_cast<std::size_t>(got_a)) != 0) return false;
    if (got_a == 0) return true;
  }
}

// --checksum: whether the regular file at the target holds the bytes of its source.
Result<bool> same_contents(const Target& target) {
  struct stat opened {};
  Result<UniqueFd> source = open_source(target.entry->source, opened);
  if (!source) return source.error();
  Result<UniqueFd> copy = open_found(target);
  if (!copy) return copy.error();
  if (!copy->valid()) return false;
  return same_bytes(source->get(), copy->get(), target.entry->source, target.display);
}

// The symlink target at the target; nullopt when it is no longer a symlink.
Result<std::optional<std::string>> read_link(const Target& target) {
  std::string buffer(PATH_MAX, '\0');
  const ssize_t length = ::readlinkat(target.dir, target.where.name.c_str(), buffer.data(), buffer.size());
  if (length < 0 && (changed_underneath(errno) || errno == EINVAL)) return std::optional<std::string>();
  if (length < 0) return system_error(target.display, errno);
  buffer.resize(static_cast<std::size_t>(length));
  return std::optional<std::string>(std::move(buffer));
}

ManifestEntry manifest_entry(const PlannedEntry& entry, const FileIdentity& source, const FileIdentity& copy) {
  ManifestEntry recorded = to_manifest_entry(entry);
  recorded.source_identity = source;
  recorded.copy_identity = copy;
  return recorded;
}

// The owner (as root) and then the mode of a directory jailbuild made, set through its descriptor.
Result<void> set_owner_and_mode(int directory, const Target& target, mode_t mode,
                                const std::optional<struct stat>& source) {
  if (running_as_root() && source && ::fchown(directory, source->st_uid, source->st_gid) != 0) {
    return system_error(target.display + ": setting its owner", errno);
  }
  if (::fchmod(directory, mode) != 0) return system_error(target.display + ": setting its mode", errno);
  return {};
}

// Gives the directory at the target its mode and, when run as root, the owner of `source`,
// through a descriptor opened without following a symlink.
Result<Done> settle_directory(const Target& target, mode_t mode, const std::optional<struct stat>& source) {
  const int opened = open_beneath(target.dir, target.where.name, O_RDONLY | O_DIRECTORY);
  if (opened < 0 && changed_underneath(-opened)) return changed_while_running(-opened);
  if (opened < 0) return system_error(target.display, -opened);
  const UniqueFd directory(opened);
  TRY(set_owner_and_mode(directory.get(), target, mode, source));
  Done done;
  if (::fstat(directory.get(), &done.status) != 0) return system_error(target.display + ": fstat", errno);
  return done;
}

// Makes a directory under a temporary name, gives it its owner and mode, and renames it into
// place: like a file, a directory appears under its final name only finished. One made at its final
// name and left private (0700) by a run that was killed, or that lost a race for the name, would be
// taken by later runs for a directory someone else made, and keep that mode for good.
Result<Done> make_directory(const Target& target, mode_t mode, const std::optional<struct stat>& source) {
  copy::TempName temporary = TRY(copy::create_temp_directory(target.dir, target.display + ": in its directory"));
  const int opened = open_beneath(target.dir, temporary.name(), O_RDONLY | O_DIRECTORY);
  if (opened < 0) return system_error(target.display + ": opening the new directory", -opened);
  const UniqueFd directory(opened);
  TRY(set_owner_and_mode(directory.get(), target, mode, source));
  struct stat made {};
  if (::fstat(directory.get(), &made) != 0) return system_error(target.display + ": fstat", errno);
  Result<Done> done = commit(target, temporary);
  if (done && done->left_alone.empty() && done->status.st_ino != made.st_ino) {
    return left_alone("replaced by another directory while jailbuild was making it");
  }
  return done;
}

// The source of a planned directory: its lstat, which must be a directory; nullopt for a directory
// without a source (one the planner made up, such as a loader cache's /etc).
Result<std::optional<struct stat>> stat_directory_source(const std::string& source) {
  if (source.empty()) return std::optional<struct stat>();
  struct stat status {};
  if (::lstat(source.c_str(), &status) != 0) return system_error(source, errno);
  if (!S_ISDIR(status.st_mode)) {
    return Error{source + ": is a " + file_type_name(status.st_mode) + ", not a directory"};
  }
  return std::optional<struct stat>(status);
}

// Applies one plan; RootWriter::apply's state for one run. Each entry goes through three steps:
// what is there is observed (lstat calls on the path and its source), copy::decide says what to do
// (reading more only when it asks), and the decision is carried out, unless this is a dry run.
class Applier {
 public:
  Applier(int root_fd, const std::string& root, const Manifest* previous, const WriteOptions& options,
          WriteReport& report)
      : root_fd_(root_fd), root_(root == "/" ? "" : root), previous_(previous), options_(options), report_(report) {}

  Result<void> remove_stale_temporaries(const CopyPlan& plan);
  Result<void> place(const PlannedEntry& entry);

 private:
  enum class Action { Created, Updated, Unchanged, Shared, LeftAlone };

  Result<std::optional<Target>> open_target(const PlannedEntry& entry, copy::RootPath where);
  int parent_directory(const std::string& relative);
  Result<copy::EntryDecision> decide(Target& target, copy::Observed& seen);
  Result<bool> look(const Target& target, copy::Look fact);
  Result<bool> adoptable_copy(const Target& target);
  Result<Action> carry_out(Target& target, const copy::EntryDecision& decision, const copy::Observed& seen);
  Result<Action> write_copy(Target& target, mode_t mode);
  Result<Action> finish(Target& target, Result<Done> done, const FileIdentity& source);
  Result<void> remove_temporaries_in(const std::string& relative_dir);
  Action conflict(const Target& target, std::string reason);
  Action would_place(const Target& target, const FileIdentity& source);
  std::string display(const std::string& path) const { return root_ + path; }

  int root_fd_;
  std::string root_;  // for messages; "" for "/", so that root_ + path reads right
  const Manifest* previous_;
  const WriteOptions& options_;
  WriteReport& report_;
  std::set<std::string> left_alone_dirs_;  // planned directories that are conflicts: so is all under them
  std::set<std::string> pending_dirs_;     // dry run: planned directories that would be created
  // The last parent directory opened, kept for its siblings that follow in the plan. It is opened
  // again for every new parent, and forgotten when its own entry comes up (it may be replaced).
  std::string parent_path_;
  UniqueFd parent_fd_;
};

// A descriptor of the directory `relative` (to the root), or -errno.
int Applier::parent_directory(const std::string& relative) {
  if (parent_fd_.valid() && relative == parent_path_) return parent_fd_.get();
  parent_fd_ = UniqueFd();
  const int fd = open_beneath(root_fd_, relative, O_PATH | O_DIRECTORY);
  if (fd < 0) return fd;
  parent_fd_ = UniqueFd(fd);
  parent_path_ = relative;
  return fd;
}

Applier::Action Applier::conflict(const Target& target, std::string reason) {
  if (target.entry->type == EntryType::Directory) left_alone_dirs_.insert(target.entry->path);
  report_.conflicts.push_back(Conflict{target.entry->path, std::move(reason)});
  return Action::LeftAlone;
}

Result<void> Applier::place(const PlannedEntry& entry) {
  if (entry.path == "/") {  // the root itself, opened already
    ++report_.unchanged;
    return {};
  }
  Result<copy::RootPath> where = copy::split_root_path(entry.path);
  if (!where) return Error{"plan entry " + where.error().message};
  std::optional<Target> opened = TRY(open_target(entry, std::move(*where)));
  if (!opened) return {};  // a conflict, recorded
  Target& target = *opened;

  copy::Observed seen;
  const copy::EntryDecision decision = TRY(decide(target, seen));
  if (spdlog::default_logger_raw()->should_log(spdlog::level::trace)) {  // -vv: each entry's decision, and why
    spdlog::trace("{}: {}{}{}", target.display, options_.dry_run ? "would " : "", copy::to_string(decision.verdict),
                  decision.why.empty() ? "" : " (" + decision.why + ")");
  }
  const Action action = TRY(carry_out(target, decision, seen));
  // The cached parent may be this very directory (when the plan lists a child before it), which
  // may just have been replaced.
  if (parent_fd_.valid() && entry.path.compare(1, std::string::npos, parent_path_) == 0) parent_fd_ = UniqueFd();
  switch (action) {
    case Action::Created: report_.created.push_back(entry.path); break;
    case Action::Updated: report_.updated.push_back(entry.path); break;
    case Action::Unchanged:
    case Action::Shared: ++report_.unchanged; break;
    case Action::LeftAlone: break;
  }
  return {};
}

// Opens the parent of a planned path and looks at what is there. Returns nullopt (after recording
// a conflict) when the parent cannot be reached without crossing a symlink or a non-directory.
Result<std::optional<Target>> Applier::open_target(const PlannedEntry& entry, copy::RootPath where) {
  Target target;
  target.entry = &entry;
  target.display = display(entry.path);
  if (previous_ != nullptr) {
    const auto it = previous_->entries.find(entry.path);
    if (it != previous_->entries.end()) target.recorded = &it->second;
  }
  const std::string parent = where.parent == "." ? "/" : "/" + where.parent;
  target.where = std::move(where);

  if (left_alone_dirs_.count(parent) != 0) {
    conflict(target, "inside " + parent + ", which was left alone");
    return std::optional<Target>();
  }
  if (pending_dirs_.count(parent) != 0) {
    return std::optional<Target>(std::move(target));  // dry run: the parent would be new, so is this
  }

  const int dir = parent_directory(target.where.parent);
  if (dir < 0) {
    switch (-dir) {
      case ELOOP: conflict(target, "a symlink is on the way to it"); break;
      case ENOTDIR: conflict(target, "something other than a directory is on the way to it"); break;
      case ENOENT: conflict(target, "a directory on the way to it is missing"); break;
      case EXDEV: conflict(target, "the way to it leaves the root"); break;
      default: return system_error(display(parent), -dir);
    }
    return std::optional<Target>();
  }
  target.dir = dir;
  struct stat status {};
  if (::fstatat(dir, target.where.name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0) {
    target.found = status;
  } else if (errno != ENOENT) {
    return system_error(target.display, errno);
  }
  return std::optional<Target>(std::move(target));
}

// Observes the target's source (an unreadable source, or one of a type jailbuild does not copy,
// stops the run) and decides, reading each fact the decision asks for.
Result<copy::EntryDecision> Applier::decide(Target& target, copy::Observed& seen) {
  const PlannedEntry& entry = *target.entry;
  if (target.found) seen.found = identity_of(*target.found);
  seen.recorded = target.recorded;
  seen.euid = ::geteuid();
  switch (entry.type) {
    case EntryType::Directory: target.source = TRY(stat_directory_source(entry.source)); break;
    case EntryType::Symlink:
      // The host symlink's identity lets `sync` notice a change cheaply. The plan already holds the
      // target, so a symlink gone from the host since planning is no reason to stop: it is recorded
      // without an identity (which never matches, so the next run looks again).
      if (struct stat status{}; !entry.source.empty() && ::lstat(entry.source.c_str(), &status) == 0) {
        target.source = status;
      }
      break;
    case EntryType::File:
      if (!entry.content) target.source = TRY(stat_source(entry.source, options_));
      break;
  }
  if (target.source) seen.source = identity_of(*target.source);
  copy::EntryDecision decision = copy::decide(entry, seen, options_);
  while (decision.verdict == copy::Verdict::Look) {
    seen.facts[decision.look] = TRY(look(target, decision.look));
    decision = copy::decide(entry, seen, options_);
  }
  return decision;
}

// Reads the fact the decision asked for. What changes at the path meanwhile counts as a difference.
Result<bool> Applier::look(const Target& target, copy::Look fact) {
  switch (fact) {
    case copy::Look::LinkMatches: {
      const std::optional<std::string> link = TRY(read_link(target));
      return link == target.entry->link_target;
    }
    case copy::Look::DirectoryEmpty: return directory_is_empty(target.dir, target.where.name, target.display);
    case copy::Look::SameContents: return same_contents(target);
    case copy::Look::AdoptableCopy: return adoptable_copy(target);
    case copy::Look::HoldsContent: {
      const UniqueFd fd = TRY(open_found(target));
      if (!fd.valid()) return false;
      return holds(fd.get(), *target.entry->content, target.display);
    }
  }
  return Error{target.display + ": unknown fact asked for"};
}

// Whether the regular file at the target, whose lstat matches its source's (see Verdict::Adopt),
// also holds its bytes and capabilities, reading the source again by descriptor: same inode as
// observed, same bytes, and the capabilities a copy would get.
Result<bool> Applier::adoptable_copy(const Target& target) {
  const std::string& source_path = target.entry->source;
  struct stat opened {};
  UniqueFd source_fd = TRY(open_source(source_path, opened));
  UniqueFd copy_fd = TRY(open_found(target));
  if (!copy_fd.valid() || opened.st_ino != target.source->st_ino || opened.st_dev != target.source->st_dev) {
    return false;
  }
  const std::optional<std::string> source_capabilities = TRY(read_capabilities(source_fd.get(), source_path));
  const std::optional<std::string> copy_capabilities = TRY(read_capabilities(copy_fd.get(), target.display));
  if (copy_capabilities != (options_.keep_setuid ? source_capabilities : std::nullopt)) return false;
  return same_bytes(source_fd.get(), copy_fd.get(), source_path, target.display);
}

// Records a placed entry and says whether it was created or updated.
Result<Applier::Action> Applier::finish(Target& target, Result<Done> done, const FileIdentity& source) {
  if (!done) return done.error();
  if (!done->left_alone.empty()) return conflict(target, std::move(done->left_alone));
  report_.placed.push_back(manifest_entry(*target.entry, source, identity_of(done->status)));
  return target.found ? Action::Updated : Action::Created;
}

// Dry run: records what would be placed (the copy's identity is unknown until it exists).
Applier::Action Applier::would_place(const Target& target, const FileIdentity& source) {
  report_.placed.push_back(manifest_entry(*target.entry, source, FileIdentity{}));
  // A directory that would be made (over nothing, or over what is in the way) would be new: so
  // would everything under it.
  const bool is_directory = target.found && S_ISDIR(target.found->st_mode);
  if (target.entry->type == EntryType::Directory && !is_directory) pending_dirs_.insert(target.entry->path);
  return target.found ? Action::Updated : Action::Created;
}

// Does what the decision says; in a dry run, only records what would be done. Every write goes
// to a temporary name first and is renamed into place finished (see write_file, make_directory).
Result<Applier::Action> Applier::carry_out(Target& target, const copy::EntryDecision& decision,
                                           const copy::Observed& seen) {
  const PlannedEntry& entry = *target.entry;
  const FileIdentity source_identity = seen.source.value_or(FileIdentity{});
  switch (decision.verdict) {
    case copy::Verdict::Keep:
    case copy::Verdict::Adopt:
      report_.placed.push_back(manifest_entry(entry, source_identity, *seen.found));
      return Action::Unchanged;
    case copy::Verdict::Share: return Action::Shared;
    case copy::Verdict::Conflict: return conflict(target, decision.why);
    case copy::Verdict::Look: return Error{target.display + ": undecided"};  // decide() looks until it decides
    case copy::Verdict::Settle:
      if (options_.dry_run) return would_place(target, source_identity);
      return finish(target, settle_directory(target, decision.mode, target.source), source_identity);
    case copy::Verdict::Create:
    case copy::Verdict::Replace: break;
  }
  if (entry.type == EntryType::File) return write_copy(target, decision.mode);
  if (options_.dry_run) return would_place(target, source_identity);
  if (entry.type == EntryType::Symlink) return finish(target, make_symlink(target), source_identity);

  // What is in the way of a directory is not one (a directory there is kept or settled), so
  // unlink removes it (rename cannot put a directory over it).
  if (target.found && ::unlinkat(target.dir, target.where.name.c_str(), 0) != 0 && errno != ENOENT) {
    const int error_number = errno;
    if (changed_underneath(error_number)) return conflict(target, changed_while_running(error_number).left_alone);
    const std::string what = file_type_name(target.found->st_mode);
    return system_error(target.display + ": removing the " + what + " in the way", error_number);
  }
  return finish(target, make_directory(target, decision.mode, target.source), source_identity);
}

// Writes a file (a copy of its source, a device node like it, or generated bytes) over the target.
Result<Applier::Action> Applier::write_copy(Target& target, mode_t mode) {
  const PlannedEntry& entry = *target.entry;
  if (entry.content) {
    if (options_.dry_run) {
      report_.bytes_copied += entry.content->size();
      return would_place(target, FileIdentity{});
    }
    FileRecipe recipe;
    recipe.content = &*entry.content;
    recipe.size = entry.content->size();
    recipe.mode = mode;
    return finish(target, write_file(target, recipe, report_.bytes_copied), FileIdentity{});
  }
  struct stat& source = *target.source;
  if (!S_ISREG(source.st_mode)) {  // a device node, allowed by stat_source
    if (options_.dry_run) return would_place(target, identity_of(source));
    return finish(target, make_device(target, source, mode), identity_of(source));
  }

  // The identity recorded is the opened file's before copying: if the file changes during the
  // copy, the next run sees a difference and copies it again.
  UniqueFd fd = TRY(open_source(entry.source, source));
  std::optional<std::string> capabilities = TRY(read_capabilities(fd.get(), entry.source));

  const mode_t opened_mode = copy::copy_mode(source.st_mode, options_.keep_setuid);
  const mode_t removed = source.st_mode & kPrivilegeBits & ~opened_mode;
  if (removed & S_ISUID) report_.privileges_removed.push_back(entry.path + ": setuid bit removed");
  if (removed & S_ISGID) report_.privileges_removed.push_back(entry.path + ": setgid bit removed");
  if (capabilities && !options_.keep_setuid) {
    report_.privileges_removed.push_back(entry.path + ": capabilities removed");
  }
  if (options_.dry_run) {
    report_.bytes_copied += static_cast<std::uint64_t>(source.st_size);
    return would_place(target, identity_of(source));
  }

  FileRecipe recipe;
  recipe.source_fd = fd.get();
  recipe.source_display = entry.source;
  recipe.size = static_cast<std::uint64_t>(source.st_size);
  recipe.mode = opened_mode;
  if (running_as_root()) recipe.owner = std::make_pair(source.st_uid, source.st_gid);
  recipe.times = std::array<timespec, 2>{source.st_atim, source.st_mtim};
  if (options_.keep_setuid) recipe.capabilities = std::move(capabilities);
  return finish(target, write_file(target, recipe, report_.bytes_copied), identity_of(source));
}

// Removes what a killed run left: ".jailbuild-tmp.*" entries (never directories) in each planned
// directory that can be reached. One that cannot is either missing or a conflict that placing its
// entries will report.
Result<void> Applier::remove_temporaries_in(const std::string& relative_dir) {
  const int fd = open_beneath(root_fd_, relative_dir, O_RDONLY | O_DIRECTORY);
  const std::string shown = display(relative_dir == "." ? "/" : "/" + relative_dir);
  if (fd < 0) {
    if (-fd == ENOENT || -fd == ELOOP || -fd == ENOTDIR || -fd == EXDEV) return {};
    return system_error(shown, -fd);
  }
  DirStream stream = TRY(DirStream::adopt(UniqueFd(fd), shown));
  // Names first, then unlink: removing entries while readdir runs may skip others.
  std::vector<std::string> stale;
  for (const std::string& name : TRY(stream.names())) {
    if (copy::is_temp_name(name)) stale.push_back(name);
  }
  // A temporary directory (make_directory's) is removed only empty, as a killed run leaves it:
  // rmdir refuses one that holds anything (ENOTEMPTY), and that one is left alone.
  for (const std::string& stale_name : stale) {
    const char* name = stale_name.c_str();
    if (::unlinkat(stream.fd(), name, 0) == 0 || errno == ENOENT) continue;
    if (errno == EISDIR && (::unlinkat(stream.fd(), name, AT_REMOVEDIR) == 0 || errno == ENOENT || errno == ENOTEMPTY ||
                            errno == EEXIST)) {
      continue;
    }
    return system_error(shown + "/" + stale_name + ": removing a temporary an interrupted run left", errno);
  }
  return {};
}

Result<void> Applier::remove_stale_temporaries(const CopyPlan& plan) {
  std::set<std::string> directories;
  for (const PlannedEntry& entry : plan.entries) {
    if (Result<copy::RootPath> where = copy::split_root_path(entry.path)) directories.insert(where->parent);
  }
  for (const std::string& directory : directories) { TRY(remove_temporaries_in(directory)); }
  return {};
}

// remove(): whether `recorded` may be deleted; the reason to leave it alone otherwise.
std::optional<std::string> removal_obstacle(const ManifestEntry& recorded, const struct stat& found) {
  const FileIdentity& copy = recorded.copy_identity;
  if ((copy.mode & S_IFMT) != (found.st_mode & S_IFMT) || copy.dev != found.st_dev || copy.ino != found.st_ino) {
    return "replaced by a " + std::string(file_type_name(found.st_mode)) + " jailbuild did not place";
  }
  // A directory's times change with its contents; rmdir itself refuses one that is not empty.
  if (recorded.type != EntryType::Directory && copy != identity_of(found)) {
    return std::string("changed since jailbuild placed it");
  }
  return std::nullopt;
}

}  // namespace

Result<RootWriter> RootWriter::open(const std::string& root, bool create) {
  Result<OpenedRoot> opened = open_root(root, create);
  if (!opened) return opened.error();
  if (!opened->fd.valid()) return system_error(opened->path, ENOENT);
  return at(opened->fd.get(), opened->path);
}

Result<RootWriter> RootWriter::at(int root_fd, std::string root) {
  // A descriptor of our own for the same open directory: no path is looked up again.
  UniqueFd fd(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return system_error(root, errno);
  // Fail now, not halfway through a plan, on a kernel (or seccomp filter) without openat2.
  const int probe = open_beneath(fd.get(), ".", O_PATH | O_DIRECTORY);
  if (probe < 0) {
    return Error{root + ": openat2: " + errno_text(-probe) + " (jailbuild needs openat2, Linux 5.6 or later)"};
  }
  UniqueFd{probe}.close();
  return RootWriter(fd.release(), std::move(root));
}

RootWriter::RootWriter(RootWriter&& other) noexcept
    : root_fd_(std::exchange(other.root_fd_, -1)), root_(std::move(other.root_)), partial_(std::move(other.partial_)) {}

RootWriter::~RootWriter() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

Result<WriteReport> RootWriter::apply(const CopyPlan& plan, const Manifest* previous, const WriteOptions& options,
                                      Progress& progress) {
  partial_ = WriteReport{};
  WriteReport report;
  Applier applier(root_fd_, root_, previous, options, report);
  if (!options.dry_run) { TRY(applier.remove_stale_temporaries(plan)); }
  for (const PlannedEntry& entry : plan.entries) {
    if (Result<void> placed = applier.place(entry); !placed) {
      partial_ = std::move(report);
      return placed.error();
    }
    progress.advance(1, entry.bytes());
  }
  return report;
}

Result<std::vector<Conflict>> RootWriter::remove(const std::vector<ManifestEntry>& recorded) {
  // Reverse lexicographic order puts every path before its parent ("/a/b" > "/a").
  std::vector<const ManifestEntry*> order;
  order.reserve(recorded.size());
  for (const ManifestEntry& entry : recorded) order.push_back(&entry);
  std::sort(order.begin(), order.end(),
            [](const ManifestEntry* a, const ManifestEntry* b) { return a->path > b->path; });

  const std::string shown_root = root_ == "/" ? "" : root_;
  std::vector<Conflict> left;
  for (const ManifestEntry* entry : order) {
    const std::string display = shown_root + entry->path;
    Result<copy::RootPath> where = copy::split_root_path(entry->path);
    if (!where) return Error{"manifest entry " + where.error().message};
    const int dir = open_beneath(root_fd_, where->parent, O_PATH | O_DIRECTORY);
    if (dir < 0) {
      if (-dir == ENOENT) continue;  // gone with its directory
      if (-dir == ELOOP || -dir == ENOTDIR || -dir == EXDEV) {
        left.push_back(Conflict{entry->path, "a symlink or a file is now on the way to it"});
        continue;
      }
      return system_error(display, -dir);
    }
    const UniqueFd parent(dir);
    struct stat found {};
    if (::fstatat(dir, where->name.c_str(), &found, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return system_error(display, errno);
    }
    if (std::optional<std::string> reason = removal_obstacle(*entry, found)) {
      left.push_back(Conflict{entry->path, std::move(*reason)});
      continue;
    }
    const int flags = entry->type == EntryType::Directory ? AT_REMOVEDIR : 0;
    if (::unlinkat(dir, where->name.c_str(), flags) == 0 || errno == ENOENT) continue;
    if (errno == ENOTEMPTY || errno == EEXIST) {
      left.push_back(Conflict{entry->path, "not empty: it holds what jailbuild did not place or left alone"});
    } else if (errno == EISDIR || errno == ENOTDIR) {
      left.push_back(Conflict{entry->path, "replaced while jailbuild was removing it"});
    } else {
      return system_error(display + ": removing it", errno);
    }
  }
  return left;
}

}  // namespace jailbuild
