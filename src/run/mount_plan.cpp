// The default mount operations of a jail, from its options: see mount_plan.hpp. Why each one is
// there is said once, in its `why`, which -vv prints and errors repeat.
#include "mount_plan.hpp"

#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <array>
#include <cstdio>
#include <utility>

#include "util/paths.hpp"

namespace jailbuild::run {
namespace {

// The kernel's own file systems run nothing and hold no devices.
constexpr unsigned long kKernelFsFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// The devices a jail gets: the ones every program may open, none that reaches hardware.
struct Device {
  const char* name;
  unsigned major, minor;
};
constexpr std::array<Device, 6> kDevices{
    {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}};
constexpr std::array<std::pair<const char*, const char*>, 5> kDevLinks{{{"/dev/ptmx", "pts/ptmx"},
                                                                        {"/dev/fd", "/proc/self/fd"},
                                                                        {"/dev/stdin", "/proc/self/fd/0"},
                                                                        {"/dev/stdout", "/proc/self/fd/1"},
                                                                        {"/dev/stderr", "/proc/self/fd/2"}}};

// What of /proc reaches the host's kernel rather than the jail's processes, as Docker hides it:
// read-only, the files that set kernel or device state (the jail's root, the host's with
// --host-root, could write them); masked, those that show host-wide state (the kernel's memory,
// every keyring's description, timers and scheduling of every host process, devices).
constexpr std::array<const char*, 5> kProcReadOnly{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus",
                                                   "/proc/fs"};
constexpr std::array<const char*, 9> kProcMasked{"/proc/kcore",       "/proc/keys",        "/proc/timer_list",
                                                 "/proc/timer_stats", "/proc/sched_debug", "/proc/latency_stats",
                                                 "/proc/acpi",        "/proc/scsi",        "/proc/asound"};

// A tmpfs the jail can write to (/tmp, /dev/shm, --tmpfs): bounded, so that filling it cannot take
// the host's memory (a tmpfs is half of it by default).
std::string writable_tmpfs_data(const char* mode, const RunOptions& options) {
  return std::string("mode=") + mode + ",size=" + options.tmpfs_size;
}

// A --tmpfs: scratch space for the program, so by default its own (its uid and gid, mode 0755), as
// bubblewrap's are; a root-owned one would be of no use to a program run with -u. The ids are the
// jail's: the tmpfs is mounted inside the user namespace, where the kernel reads uid= and gid= as
// that namespace's ids (and the program's are mapped, see user_namespace.cpp). Every part is a
// number or a checked size (parse_tmpfs), so the options cannot carry another.
std::string caller_tmpfs_data(const TmpfsOptions& tmpfs, const RunOptions& options) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(tmpfs.mode.value_or(0755)));
  return std::string("mode=") + mode + ",uid=" + std::to_string(tmpfs.uid.value_or(options.identity.uid)) +
         ",gid=" + std::to_string(tmpfs.gid.value_or(options.identity.gid)) +
         ",size=" + tmpfs.size.value_or(options.tmpfs_size);
}

void plan_top_level(std::vector<MountOp>& ops, const RunOptions& options, int root_fd,
                    const std::vector<TopLevelEntry>& top_level) {
  // The top level is a mount held by a descriptor and attached over the root's descriptor, so no
  // name is looked up on the way: whoever can write the root or its parent cannot swap it for a
  // symlink between the check and the mount.
  if (options.writable) {
    // To create files anywhere in the root: a bind of it, with mount points made in it (jailbuild
    // made /proc, /dev and /tmp before the jail started).
    ops.push_back({.kind = MountKind::TopLevel,
                   .destination = "/",
                   .source = options.root,
                   .source_fd = root_fd,
                   .recursive = options.host_view,
                   .why = "the root itself, --writable"});
    return;
  }
  // Read-only, a tmpfs mirroring the root, so that the root needs no mount points and is never
  // written to: a normal user can run a root that root built. Mounts the host made below the
  // root's directories are not carried (binds are not recursive): the jail shows the root's files
  // and what --bind asks for. The root's own proc, dev and tmp are not among the entries.
  ops.push_back({.kind = MountKind::TopLevel,
                 .destination = "/",
                 .flags = MS_NOSUID | MS_NODEV,
                 .data = "mode=0755,size=64k",
                 .why = "the jail's top level, showing the root's entries"});
  for (const TopLevelEntry& entry : top_level) {
    const std::string destination = "/" + entry.name;
    if (entry.symlink) {
      ops.push_back({.kind = MountKind::Symlink,
                     .destination = destination,
                     .source = entry.link_target,
                     .reach = Reach::Make,
                     .why = "a symlink of the root's top level, copied"});
      continue;
    }
    ops.push_back({.kind = MountKind::ReadOnlyBind,
                   .destination = destination,
                   .source = options.root + destination,
                   .source_fd = entry.held.get(),
                   .flags = MS_NOSUID | MS_NODEV,
                   .reach = Reach::Make,
                   .point = entry.directory ? MountPoint::Directory : MountPoint::File,
                   .recursive = options.host_view,
                   .why = "an entry of the root, held since it was read"});
  }
}

// A tmpfs just large enough for `files` (in pages, plus one for the directory), so that it is
// bounded by what jailbuild wrote into it.
std::size_t generated_size(const std::vector<GeneratedFile>& files) {
  constexpr std::size_t kPage = 4096;
  std::size_t pages = 1;
  for (const GeneratedFile& file : files) pages += file.content.size() / kPage + 1;
  return pages * kPage;
}

void plan_proc(std::vector<MountOp>& ops) {
  ops.push_back(
      {.kind = MountKind::Proc, .destination = "/proc", .flags = kKernelFsFlags, .why = "the jail's own processes"});
  for (const char* path : kProcReadOnly)
    ops.push_back({.kind = MountKind::ReadOnly,
                   .destination = path,
                   .flags = kKernelFsFlags,
                   .reach = Reach::IfPresent,
                   .why = "sets the host kernel's state"});
  for (const char* path : kProcMasked)
    ops.push_back({.kind = MountKind::Mask,
                   .destination = path,
                   .source = "/dev/null",
                   .flags = kKernelFsFlags,
                   .data = "mode=0555",
                   .reach = Reach::IfPresent,
                   .why = "shows the host's state"});
}

// /dev as a tmpfs of its own. With host privileges (no user namespace) its nodes are made fresh on
// that tmpfs, which is then made read-only: a bind of the host's /dev/null would let the jail's
// uid 0, the host's, chmod the host's node. In a user namespace nodes cannot be made, and the
// host's are bound instead: their owner, host root, is unmapped there, so nothing in the jail can
// change them.
void plan_dev(std::vector<MountOp>& ops, const RunOptions& options, bool in_user_namespace) {
  // nodev when the nodes are bound (they are mounts of their own and keep working), so that a node
  // made in /dev with --cap MKNOD cannot open a host disk. With fresh nodes /dev must allow
  // devices; it is read-only once they are made.
  const unsigned long dev_flags = MS_NOSUID | MS_NOEXEC | (in_user_namespace ? MS_NODEV : 0);
  ops.push_back({.kind = MountKind::Tmpfs,
                 .destination = "/dev",
                 .flags = dev_flags,
                 .data = "mode=0755,size=64k",
                 .why = "the jail's own devices"});
  for (const Device& device : kDevices) {
    const std::string destination = std::string("/dev/") + device.name;
    if (in_user_namespace)
      ops.push_back({.kind = MountKind::Bind,
                     .destination = destination,
                     .source = destination,
                     .reach = Reach::Make,
                     .point = MountPoint::File,
                     .why = "the host's node, whose owner the jail cannot act for"});
    else
      ops.push_back({.kind = MountKind::Device,
                     .destination = destination,
                     .reach = Reach::Make,
                     .point = MountPoint::File,
                     .device = ::makedev(device.major, device.minor),
                     .why = "a fresh node, not the host's"});
  }
  for (const auto& [destination, target] : kDevLinks)
    ops.push_back({.kind = MountKind::Symlink,
                   .destination = destination,
                   .source = target,
                   .reach = Reach::Make,
                   .why = "where programs expect it"});
  ops.push_back({.kind = MountKind::Devpts,
                 .destination = "/dev/pts",
                 .flags = MS_NOSUID | MS_NOEXEC,
                 .data = "newinstance,ptmxmode=0666,mode=0620",
                 .reach = Reach::Make,
                 .why = "terminals of the jail's own"});
  ops.push_back({.kind = MountKind::Tmpfs,
                 .destination = "/dev/shm",
                 .flags = MS_NOSUID | MS_NODEV,
                 .data = writable_tmpfs_data("1777", options),
                 .reach = Reach::Make,
                 .why = "shared memory, bounded by --tmpfs-size"});
  // After /dev/pts and /dev/shm are mounted on it: a read-only remount covers that one mount.
  if (!in_user_namespace)
    ops.push_back({.kind = MountKind::Remount,
                   .destination = "/dev",
                   .flags = MS_RDONLY | dev_flags,
                   .why = "its nodes made, nothing more may be"});
}

void plan_caller_mounts(std::vector<MountOp>& ops, const RunOptions& options) {
  for (const JailMount& given : options.mounts) {
    JailMount mount = given;
    mount.target = lexically_normal(given.target);
    switch (mount.kind) {
      case JailMount::Kind::Tmpfs:
        ops.push_back({.kind = MountKind::Tmpfs,
                       .destination = mount.target,
                       .flags = MS_NOSUID | MS_NODEV,
                       .data = caller_tmpfs_data(mount.tmpfs, options),
                       .why = "--tmpfs"});
        break;
      // Not MS_REC: a read-only remount covers one mount, and a writable mount below a --ro-bind
      // source must not come along writable.
      case JailMount::Kind::Bind:
        ops.push_back({.kind = MountKind::Bind,
                       .destination = mount.target,
                       .source = mount.source,
                       .point = MountPoint::LikeSource,
                       .why = "--bind"});
        break;
      case JailMount::Kind::ReadOnlyBind:
        ops.push_back({.kind = MountKind::ReadOnlyBind,
                       .destination = mount.target,
                       .source = mount.source,
                       .point = MountPoint::LikeSource,
                       .why = "--ro-bind"});
        break;
    }
  }
}

const char* kind_name(MountKind kind) {
  switch (kind) {
    case MountKind::TopLevel: return "top level";
    case MountKind::Bind: return "bind";
    case MountKind::ReadOnlyBind: return "ro-bind";
    case MountKind::ReadOnly: return "read-only";
    case MountKind::Mask: return "mask";
    case MountKind::Tmpfs: return "tmpfs";
    case MountKind::Proc: return "proc";
    case MountKind::Devpts: return "devpts";
    case MountKind::Device: return "device";
    case MountKind::Symlink: return "symlink";
    case MountKind::Remount: return "remount";
    case MountKind::Generated: return "generated";
  }
  return "?";
}

std::string flag_names(unsigned long flags) {
  std::string names;
  for (const auto& [flag, name] :
       {std::pair<unsigned long, const char*>{MS_RDONLY, "ro"}, {MS_NOSUID, "nosuid"}, {MS_NODEV, "nodev"},
        {MS_NOEXEC, "noexec"}})
    if (flags & flag) names += (names.empty() ? "" : ",") + std::string(name);
  return names;
}

}  // namespace

std::span<const char* const> proc_read_only_paths() { return kProcReadOnly; }
std::span<const char* const> proc_masked_paths() { return kProcMasked; }

std::vector<MountOp> plan_mounts(const RunOptions& options, int root_fd, const std::vector<TopLevelEntry>& top_level,
                                 bool in_user_namespace, const std::vector<GeneratedFile>& etc_files) {
  std::vector<MountOp> ops;
  ops.reserve(32 + top_level.size() + options.mounts.size());
  plan_top_level(ops, options, root_fd, top_level);
  plan_proc(ops);
  plan_dev(ops, options, in_user_namespace);
  // A fresh tmpfs: what the root holds there (a program added from a host /tmp directory, say) is
  // out of the program's sight, which read_top_level warns about.
  ops.push_back({.kind = MountKind::Tmpfs,
                 .destination = "/tmp",
                 .flags = MS_NOSUID | MS_NODEV,
                 .data = writable_tmpfs_data("1777", options),
                 .why = "bounded by --tmpfs-size"});
  // After /proc, /dev and /tmp, in command-line order: a mount may go inside an earlier one.
  plan_caller_mounts(ops, options);
  // After the caller's mounts, so that a --ro-bind of a host /etc still shows the run's names.
  if (!etc_files.empty())
    ops.push_back({.kind = MountKind::Generated,
                   .destination = "/etc",
                   .flags = MS_RDONLY | MS_NOSUID | MS_NODEV,
                   .data = "mode=0755,size=" + std::to_string(generated_size(etc_files)),
                   .files = etc_files,
                   .why = "the root lacks the run's user or groups: its own lines plus theirs, for this run"});
  ops.push_back({.kind = MountKind::Remount,
                 .destination = "/",
                 .flags = MS_NOSUID | MS_NODEV | (options.writable ? 0UL : static_cast<unsigned long>(MS_RDONLY)),
                 .why = options.writable ? "no setuid file of the root acts" : "the root is never written to"});
  return ops;
}

std::string name_of(const MountOp& op) {
  std::string text = std::string(kind_name(op.kind)) + " " + op.destination;
  if (op.kind == MountKind::Symlink)
    text += " -> " + op.source;
  else if (op.kind == MountKind::Device)
    text += " (" + std::to_string(major(op.device)) + "," + std::to_string(minor(op.device)) + ")";
  else if (!op.source.empty() && op.kind != MountKind::Mask)
    text += " from " + op.source;
  return text;
}

std::string describe(const MountOp& op) {
  std::string text = name_of(op);
  const std::string flags = flag_names(op.flags);
  if (!flags.empty() || !op.data.empty())
    text += " (" + flags + (flags.empty() || op.data.empty() ? "" : ",") + op.data + ")";
  for (const GeneratedFile& file : op.files)
    text += (&file == op.files.data() ? " [" : ", ") + file.name + " " + std::to_string(file.content.size()) + " bytes" +
            (&file == &op.files.back() ? "]" : "");
  if (*op.why != '\0') text += std::string(": ") + op.why;
  return text;
}

}  // namespace jailbuild::run
