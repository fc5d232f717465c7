// The jail's file system: a tmpfs top level showing the root's entries, the kernel file systems
// programs expect, the caller's extra mounts, then pivot_root so that nothing of the host stays
// reachable.
//
// Every mount target is reached from a descriptor, one component at a time with O_NOFOLLOW, and
// mounted on as /proc/self/fd/N: a symlink planted in a --writable root cannot send a mount to
// the host.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "../copy/safe_fs.hpp"
#include "jail_setup.hpp"

namespace jailbuild::run {
namespace {

using copy::UniqueFd;

// The path that reaches what descriptor `fd` holds, for calls that take a path (mount).
std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }
std::string proc_path(const UniqueFd& fd) { return proc_path(fd.get()); }

using DirectoryStream = std::unique_ptr<DIR, int (*)(DIR*)>;

// The entries of directory `name` in `dir_fd`, read without following a symlink at `name`; null
// if it cannot be opened.
DirectoryStream open_directory_stream(int dir_fd, const char* name) {
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR* stream = fd < 0 ? nullptr : ::fdopendir(fd);
  if (stream == nullptr && fd >= 0) ::close(fd);
  return DirectoryStream(stream, ::closedir);
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
        return Error{shown + ": missing, and cannot be made to mount on: " + copy::errno_text(errno) +
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

Step make_dev(int root_fd) {
  auto dev = mount_point(root_fd, "/dev", true);
  if (!dev) return dev.error();
  // nodev: a node made in /dev (with --cap MKNOD) must not open a host disk; the devices bound
  // below are mounts of their own and keep working.
  if (auto error = mount_call("tmpfs", proc_path(*dev), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k",
                              "mount a tmpfs on /dev"))
    return error;
  // The tmpfs now covers the directory: reopen to reach it.
  auto fresh = mount_point(root_fd, "/dev", true);
  if (!fresh) return fresh.error();
  const int dev_fd = fresh->get();
  for (const char* device : {"null", "zero", "full", "random", "urandom", "tty"}) {
    auto node = mount_point(dev_fd, device, false);
    if (!node) return node.error();
    const std::string host = std::string("/dev/") + device;
    if (auto error = mount_call(host.c_str(), proc_path(*node), nullptr, MS_BIND, nullptr, "bind " + host))
      return error;
  }
  for (const char* directory : {"pts", "shm"})
    if (::mkdirat(dev_fd, directory, 0755) != 0) return failed(std::string("/dev/") + directory + ": mkdir");
  auto pts = mount_point(dev_fd, "pts", true);
  if (!pts) return pts.error();
  if (auto error = mount_call("devpts", proc_path(*pts), "devpts", MS_NOSUID | MS_NOEXEC,
                              "newinstance,ptmxmode=0666,mode=0620", "mount devpts on /dev/pts"))
    return error;
  auto shm = mount_point(dev_fd, "shm", true);
  if (!shm) return shm.error();
  if (auto error = mount_call("tmpfs", proc_path(*shm), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777",
                              "mount a tmpfs on /dev/shm"))
    return error;
  const std::array<std::array<const char*, 2>, 5> links{{{"pts/ptmx", "ptmx"},
                                                          {"/proc/self/fd", "fd"},
                                                          {"/proc/self/fd/0", "stdin"},
                                                          {"/proc/self/fd/1", "stdout"},
                                                          {"/proc/self/fd/2", "stderr"}}};
  for (const auto& [target, name] : links)
    if (::symlinkat(target, dev_fd, name) != 0) return failed(std::string("/dev/") + name + ": symlink");
  return std::nullopt;
}

Step make_proc(int root_fd) {
  auto proc = mount_point(root_fd, "/proc", true);
  if (!proc) return proc.error();
  if (auto error = mount_call("proc", proc_path(*proc), "proc", kKernelFsFlags, nullptr, "mount /proc"))
    return error;
  // Root inside keeps uid 0 (without capabilities), and /proc/sys and /proc/sysrq-trigger check
  // only the uid: they stay read-only, as in Docker and bubblewrap.
  auto fresh = mount_point(root_fd, "/proc", true);
  if (!fresh) return fresh.error();
  for (const char* name : {"sys", "sysrq-trigger"}) {
    const std::string path = proc_path(*fresh) + "/" + name;
    if (::access(path.c_str(), F_OK) != 0) continue;
    if (auto error = mount_call(path.c_str(), path, nullptr, MS_BIND, nullptr, std::string("bind /proc/") + name))
      return error;
    if (auto error = remount_read_only(path, kKernelFsFlags, std::string("make /proc/") + name + " read-only"))
      return error;
  }
  return std::nullopt;
}

Step make_mount(int root_fd, const JailMount& mount) {
  if (mount.kind == JailMount::Kind::Tmpfs) {
    auto target = mount_point(root_fd, mount.target, true);
    if (!target) return target.error();
    return mount_call("tmpfs", proc_path(*target), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755",
                      "mount a tmpfs on " + mount.target);
  }
  struct stat source {};
  if (::stat(mount.source.c_str(), &source) != 0) return failed(mount.source + ": cannot bind it");
  auto target = mount_point(root_fd, mount.target, S_ISDIR(source.st_mode));
  if (!target) return target.error();
  // Not MS_REC: a read-only remount covers one mount, and a writable mount below a --ro-bind
  // source must not come along writable.
  const std::string what = "bind " + mount.source + " on " + mount.target;
  if (auto error = mount_call(mount.source.c_str(), proc_path(*target), nullptr, MS_BIND, nullptr, what))
    return error;
  if (mount.kind != JailMount::Kind::ReadOnlyBind) return std::nullopt;
  // The path now leads to the mounted source, not to the mount point the descriptor holds.
  auto mounted = mount_point(root_fd, mount.target, S_ISDIR(source.st_mode));
  if (!mounted) return mounted.error();
  return remount_read_only(proc_path(*mounted), 0, "make " + mount.target + " read-only");
}

// The jail's /tmp is a fresh tmpfs: what the root holds there (a program added from a host /tmp
// directory, say) is out of the program's sight, which deserves a word rather than a puzzle.
void warn_if_hidden(int root_fd, const std::string& shown) {
  const DirectoryStream directory = open_directory_stream(root_fd, "tmp");
  if (!directory) return;
  while (const dirent* entry = ::readdir(directory.get())) {
    if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
    std::fprintf(stderr, "jailbuild: run: warning: %s holds files the jail's tmpfs /tmp hides (%s, ...)\n",
                 shown.c_str(), entry->d_name);
    break;
  }
}

// The jail's top level is a tmpfs showing the root's entries: each directory and file bound from
// the root read-only, nosuid and nodev, each symlink copied. So /proc, /dev and
// /tmp need no directories in the root, and running a root never writes to it: a normal user
// can run a root that root built. The root's own proc, dev and tmp are left out (a warning says
// so if its tmp holds something). Mounts the host made below the root's directories are not
// carried (no MS_REC): the jail shows the root's files and what --bind asks for.
Step mirror_top_level(int root_fd, int top_fd, const RunOptions& options) {
  const DirectoryStream listing = open_directory_stream(root_fd, ".");
  if (!listing) return failed(options.root + ": list");
  const std::string from = proc_path(root_fd) + "/";
  const std::string to = proc_path(top_fd) + "/";
  errno = 0;
  while (const dirent* entry = ::readdir(listing.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || name == "proc" || name == "dev") continue;
    const std::string shown = options.root + "/" + name;
    if (name == "tmp") {
      warn_if_hidden(root_fd, shown);
      continue;
    }
    struct stat status {};
    if (::fstatat(root_fd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) return failed(shown + ": stat");
    if (S_ISLNK(status.st_mode)) {
      std::string target(PATH_MAX, '\0');
      const ssize_t size = ::readlinkat(root_fd, name.c_str(), target.data(), target.size());
      if (size < 0) return failed(shown + ": readlink");
      target.resize(static_cast<std::size_t>(size));
      if (::symlinkat(target.c_str(), top_fd, name.c_str()) != 0) return failed("/" + name + ": symlink");
      continue;
    }
    const bool directory = S_ISDIR(status.st_mode);
    const int made = directory ? ::mkdirat(top_fd, name.c_str(), 0755)
                               : ::openat(top_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (made < 0) return failed("/" + name + ": make the mount point");
    if (!directory) ::close(made);
    if (auto error = mount_call((from + name).c_str(), to + name, nullptr, MS_BIND, nullptr, shown + ": bind"))
      return error;
    if (auto error = remount_read_only(to + name, MS_NOSUID | MS_NODEV, shown + ": remount read-only")) return error;
  }
  if (errno != 0) return failed(options.root + ": list");
  return std::nullopt;
}

}  // namespace

Error failed(const std::string& what) { return copy::system_error(what, errno); }

Step enter_new_root(const RunOptions& options) {
  // Nothing mounted from here on may propagate back to the host's namespace.
  if (auto error = mount_call(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr, "make the mounts private"))
    return error;
  const UniqueFd root(::open(options.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return failed(options.root + ": open");
  // Read-only, the jail's top level is a tmpfs mirroring the root (see mirror_top_level), so that
  // the root needs no mount points and is never written to. --writable asks for the root itself,
  // to create files anywhere in it: it is bound as the top level, with mount points made in it.
  if (options.writable) {
    if (auto error = mount_call(options.root.c_str(), options.root, nullptr, MS_BIND, nullptr, options.root + ": bind"))
      return error;
  } else if (auto error = mount_call("tmpfs", options.root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k",
                                     options.root + ": mount the jail's top level")) {
    return error;
  }
  const UniqueFd top(::open(options.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (top.get() < 0) return failed(options.root + ": open the jail's top level");
  if (!options.writable)
    if (auto error = mirror_top_level(root.get(), top.get(), options)) return error;
  if (auto error = make_proc(top.get())) return error;
  if (auto error = make_dev(top.get())) return error;
  auto tmp = mount_point(top.get(), "/tmp", true);
  if (!tmp) return tmp.error();
  if (options.writable) warn_if_hidden(top.get(), options.root + "/tmp");
  if (auto error = mount_call("tmpfs", proc_path(*tmp), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", "mount /tmp"))
    return error;
  for (const JailMount& mount : options.mounts)
    if (auto error = make_mount(top.get(), mount)) return error;
  const std::string top_level = proc_path(top);
  const unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (options.writable ? 0 : MS_RDONLY);
  if (auto error = mount_call(nullptr, top_level, nullptr, flags | locked_flags(top_level), nullptr,
                              options.root + (options.writable ? ": remount nosuid" : ": remount read-only")))
    return error;
  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the jail.
  if (::fchdir(top.get()) != 0) return failed(options.root + ": chdir");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return failed(options.root + ": pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return failed("detach the host's root");
  if (::chdir("/") != 0) return failed("chdir /");
  return std::nullopt;
}

Step enter_chroot(const std::string& root) {
  if (::chroot(root.c_str()) != 0) return failed(root + ": chroot");
  if (::chdir("/") != 0) return failed(root + ": chdir / after chroot");
  return std::nullopt;
}

}  // namespace jailbuild::run
