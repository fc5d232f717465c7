// The jail's file system: a tmpfs top level showing the root's entries, the kernel file systems
// programs expect, the caller's extra mounts, then pivot_root so that nothing of the host stays
// reachable.
//
// Every mount is made from descriptors of the things checked: targets are reached one component
// at a time with O_NOFOLLOW and mounted on as /proc/self/fd/N, sources are held from the moment
// they are looked at, and the top level is a mount held by its descriptor (fsmount, open_tree)
// attached with move_mount. A symlink planted in a --writable root, or swapped in by a concurrent
// run, cannot send a mount to the host.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "jail_setup.hpp"
#include "util/dir_stream.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::run {
namespace {


// The path that reaches what descriptor `fd` holds, for calls that take a path (mount).
std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }
std::string proc_path(const UniqueFd& fd) { return proc_path(fd.get()); }

// The entries of directory `name` in `dir_fd`, read without following a symlink at `name`; errors
// say "SHOWN: reason".
Result<DirStream> open_directory_stream(int dir_fd, const char* name, const std::string& shown) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return system_error(shown, errno);
  return DirStream::adopt(std::move(fd), shown);
}

constexpr unsigned long kKernelFsFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// The flags a remount must repeat: in a user namespace the kernel refuses to clear the ones the
// original mount has (they are locked), so a read-only remount carries them over.
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

Step mount_call(const char* source, const std::string& target, const char* type, unsigned long flags,
                const char* data, const std::string& what) {
  if (::mount(source, target.c_str(), type, flags, data) != 0) return failed(what);
  return std::nullopt;
}

Step remount_read_only(const std::string& target, unsigned long flags, const std::string& what) {
  return mount_call(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | flags | locked_flags(target),
                    nullptr, what);
}

// A tmpfs the jail can write to (/tmp, /dev/shm, --tmpfs): bounded, so that filling it cannot take
// the host's memory (a tmpfs is half of it by default).
std::string tmpfs_data(const char* mode, const RunOptions& options) {
  return std::string("mode=") + mode + ",size=" + options.tmpfs_size;
}

// Opens `target` (absolute, inside the root) for mounting on, making what is missing: directories
// along the way and, unless `directory`, an empty file at the end. A symlink anywhere is refused.
Result<UniqueFd> mount_point(int root_fd, const std::string& target, bool directory) {
  UniqueFd current(::dup(root_fd));
  std::size_t begin = 0;
  while (true) {
    begin = target.find_first_not_of('/', begin);
    if (begin == std::string::npos) return current;
    const std::size_t end = std::min(target.find('/', begin), target.size());
    const std::string name = target.substr(begin, end - begin);
    const bool last = target.find_first_not_of('/', end) == std::string::npos;
    const std::string shown = target.substr(0, end);
    const bool want_directory = !last || directory;
    int fd = ::openat(current.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC | (want_directory ? O_DIRECTORY : 0));
    if (fd < 0 && errno == ENOENT) {
      const int made = want_directory ? ::mkdirat(current.get(), name.c_str(), 0755)
                                      : ::openat(current.get(), name.c_str(),
                                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      // Inside one of the root's directories, bound read-only, nothing can be made (EROFS); in a
      // --writable root, a normal user cannot write to a root that root built (EACCES).
      if (made < 0 && errno != EEXIST)
        return Error{shown + ": missing, and cannot be made to mount on: " + errno_text(errno) +
                     " (make it in the root once as its owner, or mount a --tmpfs on a directory above it)"};
      if (!want_directory && made >= 0) ::close(made);
      fd = ::openat(current.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC | (want_directory ? O_DIRECTORY : 0));
    }
    if (fd < 0) {
      struct stat status {};
      if (::fstatat(current.get(), name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(status.st_mode))
        return Error{shown + ": a symlink in the root; refusing to mount through it"};
      return failed(shown + ": cannot open the mount point in the root");
    }
    current = UniqueFd(fd);
    begin = end;
  }
}

// The devices a jail gets: the ones every program may open, none that reaches hardware.
struct Device {
  const char* name;
  unsigned major, minor;
};
constexpr std::array<Device, 6> kDevices{{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8},
                                         {"urandom", 1, 9}, {"tty", 5, 0}}};

// /dev as a tmpfs of its own. With host privileges (no user namespace) its nodes are made fresh on
// that tmpfs, which is then made read-only: a bind of the host's /dev/null would let the jail's
// uid 0, the host's, chmod the host's node. In a user namespace nodes cannot be made, and the
// host's are bound instead: their owner, host root, is unmapped there, so nothing in the jail can
// change them.
Step make_dev(int root_fd, const RunOptions& options, bool in_user_namespace) {
  auto dev = mount_point(root_fd, "/dev", true);
  if (!dev) return dev.error();
  // nodev when the nodes are bound (they are mounts of their own and keep working), so that a node
  // made in /dev with --cap MKNOD cannot open a host disk. With fresh nodes /dev must allow
  // devices; it is read-only once they are made.
  const unsigned long dev_flags = MS_NOSUID | MS_NOEXEC | (in_user_namespace ? MS_NODEV : 0);
  if (auto error = mount_call("tmpfs", proc_path(*dev), "tmpfs", dev_flags, "mode=0755,size=64k", "mount a tmpfs on /dev"))
    return error;
  // The tmpfs now covers the directory: reopen to reach it.
  auto fresh = mount_point(root_fd, "/dev", true);
  if (!fresh) return fresh.error();
  const int dev_fd = fresh->get();
  for (const Device& device : kDevices) {
    const std::string shown = std::string("/dev/") + device.name;
    if (!in_user_namespace) {
      if (::mknodat(dev_fd, device.name, S_IFCHR | 0666, ::makedev(device.major, device.minor)) != 0 ||
          ::fchmodat(dev_fd, device.name, 0666, 0) != 0)  // the umask took bits off
        return failed(shown + ": mknod");
      continue;
    }
    auto node = mount_point(dev_fd, device.name, false);
    if (!node) return node.error();
    if (auto error = mount_call(shown.c_str(), proc_path(*node), nullptr, MS_BIND, nullptr, "bind " + shown))
      return error;
  }
  for (const char* directory : {"pts", "shm"})
    if (::mkdirat(dev_fd, directory, 0755) != 0) return failed(std::string("/dev/") + directory + ": mkdir");
  const std::array<std::array<const char*, 2>, 5> links{{{"pts/ptmx", "ptmx"},
                                                          {"/proc/self/fd", "fd"},
                                                          {"/proc/self/fd/0", "stdin"},
                                                          {"/proc/self/fd/1", "stdout"},
                                                          {"/proc/self/fd/2", "stderr"}}};
  for (const auto& [target, name] : links)
    if (::symlinkat(target, dev_fd, name) != 0) return failed(std::string("/dev/") + name + ": symlink");
  if (!in_user_namespace)
    if (auto error = remount_read_only(proc_path(*fresh), dev_flags, "make /dev read-only")) return error;
  auto pts = mount_point(dev_fd, "pts", true);
  if (!pts) return pts.error();
  if (auto error = mount_call("devpts", proc_path(*pts), "devpts", MS_NOSUID | MS_NOEXEC,
                              "newinstance,ptmxmode=0666,mode=0620", "mount devpts on /dev/pts"))
    return error;
  auto shm = mount_point(dev_fd, "shm", true);
  if (!shm) return shm.error();
  return mount_call("tmpfs", proc_path(*shm), "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_data("1777", options).c_str(),
                    "mount a tmpfs on /dev/shm");
}

// What of /proc reaches the host's kernel rather than the jail's processes, as Docker hides it:
// read-only, the files that set kernel or device state (the jail's root, the host's with
// --host-root, could write them); masked, those that show host-wide state (the kernel's memory,
// every keyring's description, timers and scheduling of every host process, devices).
constexpr std::array kProcReadOnly{"sys", "sysrq-trigger", "irq", "bus", "fs"};
constexpr std::array kProcMasked{"kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats",
                                 "acpi", "scsi", "asound"};

Step make_proc(int root_fd) {
  auto proc = mount_point(root_fd, "/proc", true);
  if (!proc) return proc.error();
  if (auto error = mount_call("proc", proc_path(*proc), "proc", kKernelFsFlags, nullptr, "mount /proc"))
    return error;
  auto fresh = mount_point(root_fd, "/proc", true);
  if (!fresh) return fresh.error();
  for (const char* name : kProcReadOnly) {
    const UniqueFd entry(::openat(fresh->get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!entry.valid()) continue;  // not in this kernel
    const std::string shown = std::string("/proc/") + name;
    if (auto error = mount_call(proc_path(entry).c_str(), proc_path(entry), nullptr, MS_BIND, nullptr, "bind " + shown))
      return error;
    const UniqueFd bound(::openat(fresh->get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!bound.valid()) return failed(shown + ": reopen");
    if (auto error = remount_read_only(proc_path(bound), kKernelFsFlags, "make " + shown + " read-only")) return error;
  }
  for (const char* name : kProcMasked) {
    const UniqueFd entry(::openat(fresh->get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!entry.valid()) continue;
    struct stat status {};
    if (::fstat(entry.get(), &status) != 0) return failed(std::string("/proc/") + name + ": stat");
    const std::string shown = "mask /proc/" + std::string(name);
    // A directory gets an empty read-only tmpfs, a file the host's /dev/null (read-only too).
    if (auto error = S_ISDIR(status.st_mode)
                         ? mount_call("tmpfs", proc_path(entry), "tmpfs", kKernelFsFlags | MS_RDONLY, "mode=0555", shown)
                         : mount_call("/dev/null", proc_path(entry), nullptr, MS_BIND, nullptr, shown))
      return error;
    if (!S_ISDIR(status.st_mode)) {
      const UniqueFd bound(::openat(fresh->get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!bound.valid()) return failed(shown + ": reopen");
      if (auto error = remount_read_only(proc_path(bound), kKernelFsFlags, shown + " read-only")) return error;
    }
  }
  return std::nullopt;
}

Step make_mount(int root_fd, const JailMount& mount, const RunOptions& options) {
  if (mount.kind == JailMount::Kind::Tmpfs) {
    auto target = mount_point(root_fd, mount.target, true);
    if (!target) return target.error();
    return mount_call("tmpfs", proc_path(*target), "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_data("0755", options).c_str(),
                      "mount a tmpfs on " + mount.target);
  }
  // The source as the caller named it (the caller is trusted, symlinks and all), held from here on:
  // what is checked is what is mounted.
  const UniqueFd source(::open(mount.source.c_str(), O_PATH | O_CLOEXEC));
  struct stat status {};
  if (!source.valid() || ::fstat(source.get(), &status) != 0) return failed(mount.source + ": cannot bind it");
  auto target = mount_point(root_fd, mount.target, S_ISDIR(status.st_mode));
  if (!target) return target.error();
  // Not MS_REC: a read-only remount covers one mount, and a writable mount below a --ro-bind
  // source must not come along writable.
  const std::string what = "bind " + mount.source + " on " + mount.target;
  if (auto error = mount_call(proc_path(source).c_str(), proc_path(*target), nullptr, MS_BIND, nullptr, what))
    return error;
  if (mount.kind != JailMount::Kind::ReadOnlyBind) return std::nullopt;
  // The path now leads to the mounted source, not to the mount point the descriptor holds.
  auto mounted = mount_point(root_fd, mount.target, S_ISDIR(status.st_mode));
  if (!mounted) return mounted.error();
  return remount_read_only(proc_path(*mounted), 0, "make " + mount.target + " read-only");
}

// A new tmpfs (nosuid, nodev) as a detached mount, held by its descriptor. `data` is tmpfs's
// options, "key=value,...".
Result<UniqueFd> new_tmpfs(const std::string& data, const std::string& shown) {
  const UniqueFd context(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!context.valid()) return failed(shown + ": fsopen tmpfs");
  for (std::size_t begin = 0; begin < data.size();) {
    const std::size_t end = std::min(data.find(',', begin), data.size());
    const std::string option = data.substr(begin, end - begin);
    const std::size_t equals = option.find('=');
    const std::string key = option.substr(0, equals), value = option.substr(equals + 1);
    if (::fsconfig(context.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
      return failed(shown + ": tmpfs option " + option);
    begin = end + 1;
  }
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return failed(shown + ": create a tmpfs");
  UniqueFd mount(::fsmount(context.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!mount.valid()) return failed(shown + ": fsmount");
  return mount;
}

// A detached bind mount of the directory `dir_fd` holds.
Result<UniqueFd> bind_tree(int dir_fd, const std::string& shown) {
  UniqueFd tree(::open_tree(dir_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (!tree.valid()) return failed(shown + ": bind");
  return tree;
}

// The jail's /tmp is a fresh tmpfs: what the root holds there (a program added from a host /tmp
// directory, say) is out of the program's sight, which deserves a word rather than a puzzle.
void warn_if_hidden(int root_fd, const std::string& shown) {
  Result<DirStream> directory = open_directory_stream(root_fd, "tmp", shown);
  if (!directory) return;
  if (Result<const dirent*> entry = directory->next(); entry && *entry != nullptr) {
    std::fprintf(stderr, "jailbuild: run: warning: %s holds files the jail's tmpfs /tmp hides (%s, ...)\n",
                 shown.c_str(), (*entry)->d_name);
  }
}

// The jail's top level is a tmpfs showing the root's entries: each directory and file bound from
// the root read-only, nosuid and nodev, each symlink copied. So /proc, /dev and
// /tmp need no directories in the root, and running a root never writes to it: a normal user
// can run a root that root built. The root's own proc, dev and tmp are left out (a warning says
// so if its tmp holds something). Mounts the host made below the root's directories are not
// carried (no MS_REC): the jail shows the root's files and what --bind asks for.
Step mirror_top_level(const std::vector<TopLevelEntry>& entries, int top_fd, const RunOptions& options) {
  const std::string to = proc_path(top_fd) + "/";
  for (const TopLevelEntry& entry : entries) {
    const std::string& name = entry.name;
    const std::string shown = options.root + "/" + name;
    if (entry.symlink) {
      if (::symlinkat(entry.link_target.c_str(), top_fd, name.c_str()) != 0) return failed("/" + name + ": symlink");
      continue;
    }
    const int made = entry.directory ? ::mkdirat(top_fd, name.c_str(), 0755)
                                     : ::openat(top_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (made < 0) return failed("/" + name + ": make the mount point");
    if (!entry.directory) ::close(made);
    if (auto error = mount_call(proc_path(entry.held).c_str(), to + name, nullptr, MS_BIND, nullptr, shown + ": bind"))
      return error;
    if (auto error = remount_read_only(to + name, MS_NOSUID | MS_NODEV, shown + ": remount read-only")) return error;
  }
  return std::nullopt;
}

}  // namespace

Error failed(const std::string& what) { return system_error(what, errno); }

Result<std::vector<TopLevelEntry>> read_top_level(int root_fd, const RunOptions& options) {
  std::vector<TopLevelEntry> entries;
  DirStream listing = TRY(open_directory_stream(root_fd, ".", options.root + ": list"));
  while (const dirent* found = TRY(listing.next())) {
    const std::string name = found->d_name;
    if (name == "proc" || name == "dev") continue;
    const std::string shown = options.root + "/" + name;
    if (name == "tmp") {
      warn_if_hidden(root_fd, shown);
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

Step enter_new_root(const RunOptions& options, int root_fd, const std::vector<TopLevelEntry>& top_level,
                    bool in_user_namespace) {
  // Nothing mounted from here on may propagate back to the host's namespace.
  if (auto error = mount_call(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr, "make the mounts private"))
    return error;
  // The jail's top level is made as a mount held by a descriptor and attached over the root's
  // descriptor, so no name is looked up on the way: whoever can write the root or its parent
  // cannot swap it for a symlink between the check and the mount. Read-only, it is a tmpfs
  // mirroring the root (see mirror_top_level), so that the root needs no mount points and is never
  // written to. --writable asks for the root itself, to create files anywhere in it: a bind of it
  // becomes the top level, with mount points made in it.
  auto top = options.writable ? bind_tree(root_fd, options.root) : new_tmpfs("mode=0755,size=64k", options.root);
  if (!top) return top.error();
  if (::move_mount(top->get(), "", root_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return failed(options.root + ": attach the jail's top level");
  if (!options.writable)
    if (auto error = mirror_top_level(top_level, top->get(), options)) return error;
  if (auto error = make_proc(top->get())) return error;
  if (auto error = make_dev(top->get(), options, in_user_namespace)) return error;
  auto tmp = mount_point(top->get(), "/tmp", true);
  if (!tmp) return tmp.error();
  if (options.writable) warn_if_hidden(top->get(), options.root + "/tmp");
  if (auto error = mount_call("tmpfs", proc_path(*tmp), "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_data("1777", options).c_str(),
                              "mount /tmp"))
    return error;
  for (const JailMount& mount : options.mounts)
    if (auto error = make_mount(top->get(), mount, options)) return error;
  const std::string top_path = proc_path(*top);
  const unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (options.writable ? 0 : MS_RDONLY);
  if (auto error = mount_call(nullptr, top_path, nullptr, flags | locked_flags(top_path), nullptr,
                              options.root + (options.writable ? ": remount nosuid" : ": remount read-only")))
    return error;
  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the jail.
  if (::fchdir(top->get()) != 0) return failed(options.root + ": chdir");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return failed(options.root + ": pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return failed("detach the host's root");
  if (::chdir("/") != 0) return failed("chdir /");
  return std::nullopt;
}

}  // namespace jailbuild::run
