// The jail's file system: the mount operations plan_mounts() lists (mount_plan.hpp) carried out in
// order by one executor, then pivot_root so that nothing of the host stays reachable.
//
// Every mount is made from descriptors of the things checked: destinations are reached one
// component at a time with O_NOFOLLOW and mounted on as /proc/self/fd/N (or by name in a
// directory jailbuild made itself, which nothing else can write), sources are held from the moment
// they are looked at, and binds and the top level are copies held by their descriptors (open_tree,
// fsmount), made read-only while detached and attached with move_mount. A symlink planted in a --writable root, or swapped in by a concurrent
// run, cannot send a mount to the host.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

#include "jail_setup.hpp"
#include "mount_plan.hpp"
#include "util/dir_stream.hpp"
#include "util/io.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::run {
namespace {

// The path that reaches what descriptor `fd` holds, for calls that take a path (mount).
std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// The entries of directory `name` in `dir_fd`, read without following a symlink at `name`; errors
// say "SHOWN: reason".
Result<DirStream> open_directory_stream(int dir_fd, const char* name, const std::string& shown) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return system_error(shown, errno);
  return DirStream::adopt(std::move(fd), shown);
}

// The flags a remount must repeat: in a user namespace the kernel refuses to clear the ones the
// original mount has (they are locked), so a remount carries them over.
unsigned long locked_flags(const std::string& path) {
  struct statvfs status {};
  if (::statvfs(path.c_str(), &status) != 0) return 0;
  unsigned long flags = 0;
  if (status.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (status.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (status.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (status.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (status.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (status.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

Result<void> mount_call(const char* source, const std::string& target, const char* type, unsigned long flags,
                        const char* data, const char* what) {
  if (::mount(source, target.c_str(), type, flags, data) != 0) return failed(what);
  return {};
}

// The mount at `target` gets `flags` (MS_RDONLY, MS_NOSUID ...) and keeps those the kernel locked.
Result<void> remount(const std::string& target, unsigned long flags, const char* what) {
  return mount_call(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | flags | locked_flags(target), nullptr, what);
}

// Opens `name` in `dir_fd` to mount on, without following a symlink, making it if it is missing: a
// directory, or unless `directory` an empty file. `shown` is its path in the jail, empty for the
// destination itself (which the operation's name in the error already gives).
Result<UniqueFd> open_or_make(int dir_fd, const std::string& name, bool directory, const std::string& shown) {
  const auto at = [&shown] { return shown.empty() ? std::string() : shown + ": "; };
  const int type = directory ? O_DIRECTORY : 0;
  int fd = ::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC | type);
  if (fd < 0 && errno == ENOENT) {
    const int made = directory
                         ? ::mkdirat(dir_fd, name.c_str(), 0755)
                         : ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    // Inside one of the root's directories, bound read-only, nothing can be made (EROFS); in a
    // --writable root, a normal user cannot write to a root that root built (EACCES).
    if (made < 0 && errno != EEXIST)
      return Error{at() + "missing, and cannot be made to mount on: " + errno_text(errno) +
                   " (make it in the root once as its owner, or mount a --tmpfs on a directory above it)"};
    if (!directory && made >= 0) ::close(made);
    fd = ::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC | type);
  }
  const auto symlink_refused = [&] { return Error{at() + "a symlink in the root; refusing to mount through it"}; };
  if (fd < 0) {
    struct stat status {};
    if (::fstatat(dir_fd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(status.st_mode))
      return symlink_refused();
    return failed(at() + "cannot open the mount point in the root");
  }
  UniqueFd held(fd);
  // O_PATH | O_NOFOLLOW opens a symlink itself rather than failing, as O_DIRECTORY makes it fail
  // for directories: what is checked on the descriptor is what would be mounted on.
  struct stat status {};
  if (::fstat(held.get(), &status) != 0) return failed(at() + "cannot stat the mount point in the root");
  if (S_ISLNK(status.st_mode)) return symlink_refused();
  return held;
}

// A new tmpfs as a detached mount, held by its descriptor. `data` is tmpfs's options,
// "key=value,...", `flags` MS_NOSUID and MS_NODEV.
Result<UniqueFd> new_tmpfs(const std::string& data, unsigned long flags) {
  const UniqueFd context(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!context.valid()) return failed("fsopen tmpfs");
  for (std::size_t begin = 0; begin < data.size();) {
    const std::size_t end = std::min(data.find(',', begin), data.size());
    const std::string option = data.substr(begin, end - begin);
    const std::size_t equals = option.find('=');
    const std::string key = option.substr(0, equals), value = option.substr(equals + 1);
    if (::fsconfig(context.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
      return failed("tmpfs option " + option);
    begin = end + 1;
  }
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return failed("create a tmpfs");
  const unsigned attributes =
      ((flags & MS_NOSUID) != 0 ? MOUNT_ATTR_NOSUID : 0U) | ((flags & MS_NODEV) != 0 ? MOUNT_ATTR_NODEV : 0U);
  UniqueFd mount(::fsmount(context.get(), FSMOUNT_CLOEXEC, attributes));
  if (!mount.valid()) return failed("fsmount");
  return mount;
}

// Lays `op.files`, made in a fresh tmpfs of jailbuild's, over the directory `directory_fd` holds (O_PATH): an
// overlay of that tmpfs on the directory as the jail sees it, so its other entries stay visible.
// Both layers are given by descriptor and the overlay is made read-only, nosuid and nodev while
// detached: nothing is written to the root, nothing reached by a name.
Result<void> lay_generated_files(const MountOp& op, int directory_fd) {
  const UniqueFd scratch = TRY(new_tmpfs(op.data, op.flags));
  for (const GeneratedFile& file : op.files) {
    const UniqueFd out(
        ::openat(scratch.get(), file.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!out.valid()) return failed("make " + file.name);
    if (const int error = write_all(out.get(), file.content); error != 0) return system_error("write " + file.name, error);
  }
  // fsconfig takes no O_PATH descriptor: each layer reopened as a directory, through what is held.
  const UniqueFd upper(::openat(scratch.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const UniqueFd lower(::openat(directory_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!upper.valid() || !lower.valid()) return failed("open the overlay's layers");
  const UniqueFd context(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!context.valid()) return failed("fsopen overlay");
  if (::fsconfig(context.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, upper.get()) != 0) {
    // Layers given by descriptor came with Linux 6.8 (Debian 12's own kernel is 6.1). Without
    // them the jail shows the root's own names only, as it did before this view: a run is not
    // refused for a convenience.
    if (errno == EINVAL) {
      spdlog::warn("run: this kernel cannot stack overlay layers by descriptor (lowerdir+, Linux 6.8): {} shows "
                   "the root's own user and group names only",
                   op.destination);
      return {};
    }
    return failed("overlay layers");
  }
  if (::fsconfig(context.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, lower.get()) != 0)
    return failed("overlay layers");
  // The root's layer is the root's: no redirect it holds is followed, no metadata-only copy trusted.
  for (const auto& [key, value] : {std::pair{"redirect_dir", "nofollow"}, {"metacopy", "off"}})
    if (::fsconfig(context.get(), FSCONFIG_SET_STRING, key, value, 0) != 0)
      return failed(std::string("overlay option ") + key + "=" + value);
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return failed("create the overlay");
  const UniqueFd overlay(
      ::fsmount(context.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!overlay.valid()) return failed("fsmount the overlay");
  if (::move_mount(overlay.get(), "", directory_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return failed("attach the overlay");
  return {};
}

// Where an operation acts: the directory that holds its destination and the name there, and the
// destination itself when it was reached by a descriptor.
struct Place {
  int parent = -1;
  std::string name;
  UniqueFd held;       // the destination, reached with O_NOFOLLOW (Walk, IfPresent)
  int fd = -1;    // the destination's descriptor: held's, or one the executor keeps

  // For mount(2). By name only in a directory jailbuild made (Reach::Make).
  std::string path() const { return fd >= 0 ? proc_path(fd) : proc_path(parent) + "/" + name; }
};

// A copy of the mount holding `source_fd` (a directory or file; not the mounts below it, so that a
// writable mount below a read-only source cannot come along writable, unless `recursive`, when
// they come along with the same attributes set on each), made read-only when `read_only`, with
// MS_NOSUID/MS_NODEV of `flags`, and attached at `place`. The copy is held by its
// descriptor from open_tree to move_mount, and the destination by its own: no name is looked up
// after it was checked, where a remount would have had to find the new mount again by name.
Result<void> attach_copy(int source_fd, const Place& place, bool read_only, unsigned long flags,
                         bool recursive = false) {
  const unsigned int tree = recursive ? static_cast<unsigned int>(AT_RECURSIVE) : 0U;
  const UniqueFd copy(::open_tree(source_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | tree));
  if (!copy.valid()) return failed("bind");
  mount_attr attributes{};
  attributes.attr_set = (read_only ? MOUNT_ATTR_RDONLY : 0U) | ((flags & MS_NOSUID) != 0 ? MOUNT_ATTR_NOSUID : 0U) |
                        ((flags & MS_NODEV) != 0 ? MOUNT_ATTR_NODEV : 0U);
  // Only set, never cleared: what the kernel locked in a user namespace stays as it was.
  if (attributes.attr_set != 0 &&
      ::mount_setattr(copy.get(), "", AT_EMPTY_PATH | tree, &attributes, sizeof attributes) != 0)
    return failed(read_only ? "make it read-only" : "set nosuid, nodev");
  const int attached = place.fd >= 0 ? ::move_mount(copy.get(), "", place.fd, "",
                                                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
                                     : ::move_mount(copy.get(), "", place.parent, place.name.c_str(),
                                                    MOVE_MOUNT_F_EMPTY_PATH);
  if (attached != 0) return failed("attach it");
  return {};
}

// Carries out mount operations in order, in a new mount namespace, over the root `root_fd` holds.
// It keeps the descriptor of the directory the last operation acted in, since operations come in
// runs (the root's entries, /proc's files, /dev's nodes), and forgets it when a mount covers it.
class MountExecutor {
 public:
  explicit MountExecutor(int root_fd) : root_fd_(root_fd) {}

  Result<void> perform(const MountOp& op);
  // pivot_root into the top level and detach the host's root; `root` names it in errors.
  Result<void> enter(const std::string& root);

 private:
  Result<void> act(const MountOp& op);
  Result<void> attach_top_level(const MountOp& op);
  Result<void> bind(const MountOp& op);
  Result<void> mask(const MountOp& op, Place& place);
  // The directory `path` (absolute, "" for the top level) in the jail, reached from the top level
  // one component at a time without following a symlink, made where missing.
  Result<int> directory(std::string_view path);
  Result<Place> reach(const MountOp& op, bool directory);
  // Something was mounted on `destination`: a kept descriptor at or below it is of what it covers.
  void covered(const std::string& destination);

  int root_fd_;
  UniqueFd top_;
  std::string kept_path_;
  UniqueFd kept_;
};

Result<int> MountExecutor::directory(std::string_view path) {
  if (path.empty()) return top_.get();
  if (path == kept_path_) return kept_.get();
  UniqueFd current;
  for (std::size_t begin = 1; begin < path.size();) {
    const std::size_t end = std::min(path.find('/', begin), path.size());
    if (end > begin) {
      const std::string shown(path.substr(0, end));
      current = TRY(open_or_make(current.valid() ? current.get() : top_.get(),
                                 std::string(path.substr(begin, end - begin)), true, shown));
    }
    begin = end + 1;
  }
  if (!current.valid()) return top_.get();
  kept_ = std::move(current);
  kept_path_ = path;
  return kept_.get();
}

Result<Place> MountExecutor::reach(const MountOp& op, bool directory) {
  const std::string& destination = op.destination;
  Place place;
  if (destination == "/") {
    place.fd = top_.get();
    return place;
  }
  const std::size_t slash = destination.rfind('/');
  place.name = destination.substr(slash + 1);
  if (op.reach != Reach::Make && destination == kept_path_) {
    // The kept directory itself (a remount of /dev after its nodes): already reached.
    place.held = std::move(kept_);
    kept_path_.clear();
    place.fd = place.held.get();
    place.parent = TRY(this->directory(std::string_view(destination).substr(0, slash)));
    return place;
  }
  place.parent = TRY(this->directory(std::string_view(destination).substr(0, slash)));
  switch (op.reach) {
    case Reach::Make: break;  // by name: what makes it is the operation's own
    case Reach::Walk:
      place.held = TRY(open_or_make(place.parent, place.name, directory, ""));
      place.fd = place.held.get();
      break;
    case Reach::IfPresent:
      place.held = UniqueFd(::openat(place.parent, place.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      place.fd = place.held.get();  // -1: not in this kernel, skipped
      break;
  }
  return place;
}

void MountExecutor::covered(const std::string& destination) {
  if (kept_path_.empty()) return;
  if (destination == "/" || kept_path_ == destination ||
      (kept_path_.starts_with(destination) && kept_path_[destination.size()] == '/')) {
    kept_ = UniqueFd();
    kept_path_.clear();
  }
}

Result<void> MountExecutor::perform(const MountOp& op) {
  if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("run: mount: {}", describe(op));
  if (auto done = act(op); !done) return Error{name_of(op) + ": " + done.error().message, done.error().kind};
  return {};
}

Result<void> MountExecutor::act(const MountOp& op) {
  if (op.kind == MountKind::TopLevel) return attach_top_level(op);
  if (op.kind == MountKind::Bind || op.kind == MountKind::ReadOnlyBind) return bind(op);
  Place place = TRY(reach(op, op.point == MountPoint::Directory));
  if (op.reach == Reach::IfPresent && place.fd < 0) {
    if (spdlog::should_log(spdlog::level::trace))
      spdlog::trace("run: mount: {}: skipped, not in this kernel ({})", op.destination, errno_text(errno));
    return {};
  }
  if (op.reach == Reach::Make && (op.kind == MountKind::Tmpfs || op.kind == MountKind::Devpts) &&
      ::mkdirat(place.parent, place.name.c_str(), 0755) != 0)
    return failed("mkdir");
  const char* data = op.data.empty() ? nullptr : op.data.c_str();
  switch (op.kind) {
    case MountKind::Proc: TRY(mount_call("proc", place.path(), "proc", op.flags, data, "mount")); break;
    case MountKind::Devpts: TRY(mount_call("devpts", place.path(), "devpts", op.flags, data, "mount")); break;
    case MountKind::Tmpfs: TRY(mount_call("tmpfs", place.path(), "tmpfs", op.flags, data, "mount")); break;
    case MountKind::ReadOnly: TRY(attach_copy(place.fd, place, true, op.flags)); break;
    case MountKind::Mask: TRY(mask(op, place)); break;
    case MountKind::Device:
      if (::mknodat(place.parent, place.name.c_str(), S_IFCHR | 0666, op.device) != 0) return failed("mknod");
      // The umask took bits off.
      if (::fchmodat(place.parent, place.name.c_str(), 0666, 0) != 0) return failed("chmod 0666");
      return {};
    case MountKind::Symlink:
      if (::symlinkat(op.source.c_str(), place.parent, place.name.c_str()) != 0) return failed("symlink");
      return {};
    case MountKind::Remount: return remount(place.path(), op.flags, "remount");
    case MountKind::Generated: TRY(lay_generated_files(op, place.fd)); break;
    case MountKind::TopLevel:
    case MountKind::Bind:
    case MountKind::ReadOnlyBind: break;  // above
  }
  covered(op.destination);
  return {};
}

// The top level is made as a mount held by a descriptor and attached over the root's descriptor,
// so no name is looked up on the way.
Result<void> MountExecutor::attach_top_level(const MountOp& op) {
  UniqueFd tree;
  if (op.source_fd >= 0) {
    const unsigned int recursive = op.recursive ? static_cast<unsigned int>(AT_RECURSIVE) : 0U;
    tree = UniqueFd(::open_tree(op.source_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | recursive));
    if (!tree.valid()) return failed("bind");
  } else {
    tree = TRY(new_tmpfs(op.data, op.flags));
  }
  if (::move_mount(tree.get(), "", root_fd_, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return failed("attach it over the root");
  top_ = std::move(tree);
  covered("/");
  return {};
}

Result<void> MountExecutor::bind(const MountOp& op) {
  UniqueFd opened;
  int source_fd = op.source_fd;
  bool directory = op.point == MountPoint::Directory;
  if (source_fd < 0) {
    // The source as named (the caller's --bind, which is trusted, symlinks and all, or a host
    // node), held from here on: what is checked is what is mounted.
    opened = UniqueFd(::open(op.source.c_str(), O_PATH | O_CLOEXEC));
    struct stat status {};
    if (!opened.valid() || ::fstat(opened.get(), &status) != 0) return failed("cannot open the source");
    source_fd = opened.get();
    if (op.point == MountPoint::LikeSource) directory = S_ISDIR(status.st_mode);
  }
  Place place = TRY(reach(op, directory));
  if (op.reach == Reach::Make) {
    const int made = directory ? ::mkdirat(place.parent, place.name.c_str(), 0755)
                               : ::openat(place.parent, place.name.c_str(),
                                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (made < 0) return failed("make the mount point");
    if (!directory) ::close(made);
  }
  TRY(attach_copy(source_fd, place, op.kind == MountKind::ReadOnlyBind, op.flags, op.recursive));
  covered(op.destination);
  return {};
}

// A directory gets an empty read-only tmpfs, a file the source (the host's /dev/null), read-only.
Result<void> MountExecutor::mask(const MountOp& op, Place& place) {
  struct stat status {};
  if (::fstat(place.fd, &status) != 0) return failed("stat");
  const char* data = op.data.empty() ? nullptr : op.data.c_str();
  if (S_ISDIR(status.st_mode)) return mount_call("tmpfs", place.path(), "tmpfs", op.flags | MS_RDONLY, data, "mount");
  const UniqueFd source(::open(op.source.c_str(), O_PATH | O_CLOEXEC));
  if (!source.valid()) return failed(op.source + ": open");
  return attach_copy(source.get(), place, true, op.flags);
}

// pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the jail.
Result<void> MountExecutor::enter(const std::string& root) {
  spdlog::trace("run: pivot_root into the top level and detach the host's root");
  if (::fchdir(top_.get()) != 0) return failed(root + ": chdir");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return failed(root + ": pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return failed("detach the host's root");
  if (::chdir("/") != 0) return failed("chdir /");
  return {};
}

// The jail's /tmp is a fresh tmpfs: what the root holds there (a program added from a host /tmp
// directory, say) is out of the program's sight, which deserves a word rather than a puzzle.
void warn_if_hidden(int root_fd, const std::string& shown) {
  Result<DirStream> directory = open_directory_stream(root_fd, "tmp", shown);
  if (!directory) return;
  if (Result<const dirent*> entry = directory->next(); entry && *entry != nullptr) {
    spdlog::warn("run: {} holds files the jail's tmpfs /tmp hides ({}, ...)", shown, (*entry)->d_name);
  }
}

}  // namespace

Error failed(const std::string& what) { return system_error(what, errno); }

Result<std::vector<TopLevelEntry>> read_top_level(int root_fd, const RunOptions& options) {
  std::vector<TopLevelEntry> entries;
  if (options.writable) {
    // The jail's top level is the root itself: only its tmp, which the jail's /tmp covers, is read.
    if (!options.host_view) warn_if_hidden(root_fd, options.root + "/tmp");
    return entries;
  }
  DirStream listing = TRY(open_directory_stream(root_fd, ".", options.root + ": list"));
  while (const dirent* found = TRY(listing.next())) {
    const std::string name = found->d_name;
    if (name == "proc" || name == "dev") continue;
    const std::string shown = options.root + "/" + name;
    if (name == "tmp") {
      // The host's /tmp, when the host is the root (add --trace), is meant to be out of sight.
      if (!options.host_view) warn_if_hidden(root_fd, shown);
      continue;
    }
    TopLevelEntry entry;
    entry.name = name;
    entry.held = UniqueFd(::openat(root_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat status {};
    if (!entry.held.valid() || ::fstat(entry.held.get(), &status) != 0) return failed(shown + ": open");
    entry.directory = S_ISDIR(status.st_mode);
    entry.symlink = S_ISLNK(status.st_mode);
    if (entry.symlink) {
      std::string target(PATH_MAX, '\0');
      const ssize_t size = ::readlinkat(entry.held.get(), "", target.data(), target.size());
      if (size < 0) return failed(shown + ": readlink");
      target.resize(static_cast<std::size_t>(size));
      entry.link_target = std::move(target);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<void> enter_new_root(const RunOptions& options, int root_fd, const std::vector<TopLevelEntry>& top_level,
                            bool in_user_namespace, const std::vector<GeneratedFile>& etc_files) {
  // Nothing mounted from here on may propagate back to the host's namespace.
  spdlog::trace("run: make every mount private");
  TRY(mount_call(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr, "make the mounts private"));
  MountExecutor executor(root_fd);
  for (const MountOp& op : plan_mounts(options, root_fd, top_level, in_user_namespace, etc_files)) TRY(executor.perform(op));
  return executor.enter(options.root);
}

}  // namespace jailbuild::run
