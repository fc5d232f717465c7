// `jailbuild run` against a program that tries to get out: the classic chroot escapes (a double
// chroot, an inherited directory descriptor, a device node of the host's disk, a new mount), and
// the ways a jailed program reaches the host without leaving the root (tracing or signalling a
// host process, pushing keystrokes into the caller's terminal, opening a host file by its handle,
// writing to the root, reading jailbuild's own state, the caller's environment, a setuid binary,
// the 32-bit system call ABI).
//
// The probe (tests/run/escape_probe.c, built with gcc at test time and added to the root with
// `jailbuild add`) makes the attempts and prints what the kernel answered ("WHAT: EPERM") and
// "ESCAPED: ..." when it reached the host. Each test also checks the host itself where something
// could show there (a file created, a snapshot changed, a process traced, a byte injected).
//
// A check that cannot fail proves nothing, so each test also runs a control: the same probe under
// plain chroot(8), or in the jail with the one protection under test switched off (--seccomp off,
// --writable, a capability kept, a bind mount), and asserts that the control DOES get out. Where a
// protection has two layers (seccomp and the missing capability, seccomp and pivot_root), each
// layer is tested without the other.
//
// Everything here needs root: jailbuild run sets namespaces up, and the controls need chroot(2).
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jailbuild/manifest.hpp"
#include "support/command_test_support.hpp"
#include "support/jail_suite.hpp"
#include "support/loader_oracle.hpp"
#include "support/escape_suite.hpp"
#include "support/proc_status.hpp"
#include "support/spawned.hpp"

namespace jailbuild {
namespace {

using namespace testing;  // the shared command-test helpers: run_jailbuild, snapshot, ...

class RunEscape : public EscapeSuite {
 protected:
  static void SetUpTestSuite() { set_up_probe_suite("escape"); }
};

// ---- leaving the root --------------------------------------------------------------------------

// Root with CAP_SYS_CHROOT chroots into a subdirectory, keeping its working directory outside the
// new root; ".." from there climbs to the real "/". In the jail it fails three times over: no
// capability, seccomp refusing chroot, and above all no host root to climb to after pivot_root.
TEST_F(RunEscape, ADoubleChrootDoesNotLeaveTheJail) {
  const std::string created = host_dir_ + "/created-by-double-chroot";
  const std::vector<std::string> probe{"chroot-escape", "/tmp", marker_, created};

  const ProcessResult control = chrooted(probe);
  EXPECT_FALSE(escapes(control).empty()) << "the control did not escape: " << control.describe();
  EXPECT_TRUE(fs::exists(created)) << control.describe();
  fs::remove(created);
  fs::remove_all(root_ + "/tmp/jb-escape-x");

  const ProcessResult jailed = jail({}, probe);
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "chroot x"), "EPERM") << jailed.output;
  EXPECT_EQ(answer(jailed, "open host marker"), "ENOENT") << jailed.output;
  EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << jailed.output;

  // The capability kept: seccomp alone refuses chroot.
  const ProcessResult capable = jail({"--cap", "SYS_CHROOT"}, probe);
  expect_ran(capable);
  EXPECT_EQ(answer(capable, "chroot x"), "EPERM") << "seccomp lets chroot through: " << capable.output;
  EXPECT_EQ(escapes(capable), std::vector<std::string>{}) << capable.output;

  // The capability kept and seccomp off: chroot works, and ".." still ends at the jail's "/",
  // since pivot_root left the host's root out of the jail's mount namespace.
  const ProcessResult unfiltered = jail({"--cap", "SYS_CHROOT", "--seccomp", "off"}, probe);
  expect_ran(unfiltered);
  EXPECT_EQ(answer(unfiltered, "chroot x"), "OK") << "the capability was not kept: " << unfiltered.output;
  EXPECT_EQ(answer(unfiltered, "open host marker"), "ENOENT") << unfiltered.output;
  EXPECT_EQ(escapes(unfiltered), std::vector<std::string>{}) << "the jail is only a chroot: " << unfiltered.output;
  EXPECT_FALSE(fs::exists(created));
}

// --chroot-only has no mount namespace behind it: the dropped capabilities and seccomp are all
// that keep a double chroot from working.
TEST_F(RunEscape, ChrootOnlyStillRefusesTheDoubleChroot) {
  const std::string created = host_dir_ + "/created-by-chroot-only";
  const ProcessResult jailed = jail({"--chroot-only"}, {"chroot-escape", "/tmp", marker_, created});
  fs::remove_all(root_ + "/tmp/jb-escape-x");  // no tmpfs on /tmp without a mount namespace
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "chroot x"), "EPERM") << jailed.output;
  EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << jailed.output;
  EXPECT_FALSE(fs::exists(created));
  fs::remove(created);
}

// A directory descriptor of the host inherited by the jailed program leads out whatever the root
// (fchdir, openat): jailbuild must close every descriptor above 2 before the program runs.
TEST_F(RunEscape, AnInheritedDirectoryDescriptorIsClosedBeforeTheProgramRuns) {
  const int host_dir = ::open(host_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(host_dir, 0) << std::strerror(errno);
  const std::string created = "created-through-fd";
  const std::vector<std::string> probe{"fchdir", std::to_string(kInheritedFd), "marker", created};
  const SpawnOptions inherit = inheriting(host_dir);

  const ProcessResult control = spawn(chroot_argv(probe), kPlainEnv, inherit);
  EXPECT_FALSE(escapes(control).empty()) << "the control did not escape: " << control.describe();
  fs::remove(host_dir_ + "/" + created);

  for (const std::vector<std::string>& options : {std::vector<std::string>{}, {"--chroot-only"}}) {
    const std::string mode = options.empty() ? "default" : options[0];
    const ProcessResult jailed = spawn(run_argv(options, probe), kPlainEnv, inherit);
    expect_ran(jailed);
    EXPECT_EQ(answer(jailed, "fchdir"), "EBADF") << mode << ": " << jailed.output;
    EXPECT_EQ(answer(jailed, "openat marker"), "EBADF") << mode << ": " << jailed.output;
    EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << mode << ": " << jailed.output;
    EXPECT_FALSE(fs::exists(host_dir_ + "/" + created)) << mode;
    fs::remove(host_dir_ + "/" + created);
    if (options.empty()) {  // /proc is the jail's own only with namespaces
      EXPECT_EQ(lines_starting(jailed, "FDS:"), std::vector<std::string>{"FDS: 0 1 2"})
          << "descriptors besides stdin, stdout and stderr reach the program: " << jailed.output;
    }
  }
  ::close(host_dir);
}

// A block device node made inside, for a disk the host can open, opened from inside: without
// CAP_MKNOD no node can be made, and with it the jail's writable places are nodev.
TEST_F(RunEscape, ADeviceNodeForAHostDiskCannotBeOpened) {
  // A disk the host can open here: the root filesystem's, or else the first loop device (some
  // hosts refuse even root the disk they run on).
  struct stat root_status {};
  ASSERT_EQ(::stat("/", &root_status), 0);
  std::optional<dev_t> disk;
  for (const dev_t candidate : {root_status.st_dev, ::makedev(7, 0)}) {
    const std::string node = dir_ + "/disk-candidate";
    fs::remove(node);
    if (::mknod(node.c_str(), S_IFBLK | 0600, candidate) != 0) continue;
    const int fd = ::open(node.c_str(), O_RDONLY | O_CLOEXEC);
    fs::remove(node);
    if (fd >= 0) {
      ::close(fd);
      disk = candidate;
      break;
    }
  }
  if (!disk) GTEST_SKIP() << "this host lets even root open no disk: nothing for the jail to reach";
  const std::string major = std::to_string(::major(*disk));
  const std::string minor = std::to_string(::minor(*disk));

  const ProcessResult control = chrooted({"mknod", major, minor, "/tmp"});
  EXPECT_FALSE(escapes(control).empty()) << "the control did not escape: " << control.describe();

  const std::vector<std::string> probe{"mknod", major, minor, "/tmp", "/dev", "/dev/shm", "/"};
  const ProcessResult jailed = jail({}, probe);
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "mknod /tmp"), "EPERM") << jailed.output;
  EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << jailed.output;

  // CAP_MKNOD kept in the default user namespace: the kernel makes no device node there at all.
  const ProcessResult namespaced = jail({"--cap", "MKNOD"}, probe);
  expect_ran(namespaced);
  EXPECT_EQ(answer(namespaced, "mknod /tmp"), "EPERM") << namespaced.output;
  EXPECT_EQ(escapes(namespaced), std::vector<std::string>{}) << namespaced.output;

  // CAP_MKNOD kept as the host's root: a node can be made (in the tmpfs /tmp at least), but never
  // opened there.
  const ProcessResult capable = jail({"--host-root", "--cap", "MKNOD"}, probe);
  expect_ran(capable);
  EXPECT_EQ(answer(capable, "mknod /tmp"), "OK") << "the capability was not kept: " << capable.output;
  EXPECT_EQ(escapes(capable), std::vector<std::string>{}) << "a mount without nodev: " << capable.output;
}

// ---- changing the mounts -----------------------------------------------------------------------

// Every way to mount, unmount or get a namespace where mounting is allowed. Seccomp refuses them
// all with EPERM even to a program that kept CAP_SYS_ADMIN; clone3, whose flags seccomp cannot
// look at, fails with ENOSYS (so that glibc falls back to clone).
TEST_F(RunEscape, MountingIsRefusedEvenWithCapSysAdmin) {
  const Tree before = snapshot(root_, true);
  const std::vector<std::string> refused{"fsopen",        "open_tree",         "move_mount",    "fsmount",
                                         "pivot_root",    "chroot /",          "clone newuser", "clone newns",
                                         "setns",         "mount proc",        "mount tmpfs",   "remount root rw",
                                         "umount2 /proc", "unshare user+mount"};
  for (const std::vector<std::string>& options : {std::vector<std::string>{}, {"--cap", "SYS_ADMIN"}}) {
    const std::string mode = options.empty() ? "default" : "--cap SYS_ADMIN";
    const ProcessResult jailed = jail(options, {"mount"});
    expect_ran(jailed);
    for (const std::string& call : refused) EXPECT_EQ(answer(jailed, call), "EPERM") << mode << ": " << call;
    EXPECT_EQ(answer(jailed, "clone3"), "ENOSYS") << mode;
    EXPECT_EQ(answer(jailed, "create in root"), "EROFS") << mode;
    EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << mode << ": " << jailed.output;
    EXPECT_EQ(answer(jailed, "mount tmpfs after unshare"), "(no answer)") << mode;
    if (HasFailure()) std::cout << mode << ":\n" << jailed.output;
  }
  EXPECT_EQ(snapshot(root_, true), before) << "the root changed on the host";

  // Landlock is a wall of its own: a process it restricts changes no mount, capability or not.
  const ProcessResult landlocked = jail({"--cap", "SYS_ADMIN", "--seccomp", "off"}, {"mount"});
  expect_ran(landlocked);
  EXPECT_EQ(answer(landlocked, "mount tmpfs"), "EPERM") << landlocked.output;

  // The controls, both inside the jail's own mount namespace (the host's mounts stay as they
  // are): with CAP_SYS_ADMIN and neither seccomp nor Landlock, mounting works; with no capability
  // and neither, a new user namespace gives back the right to mount.
  const ProcessResult capable = jail({"--cap", "SYS_ADMIN", "--seccomp", "off", "--landlock", "off"}, {"mount"});
  fs::remove(root_ + "/jb-escape-remount");  // the root remounted read-write (asked for, here)
  expect_ran(capable);
  EXPECT_EQ(answer(capable, "mount tmpfs"), "OK") << "the control could not mount: " << capable.output;
  const ProcessResult unfiltered = jail({"--seccomp", "off", "--landlock", "off"}, {"mount"});
  expect_ran(unfiltered);
  EXPECT_EQ(answer(unfiltered, "unshare user+mount"), "OK") << unfiltered.output;
  EXPECT_EQ(answer(unfiltered, "mount tmpfs after unshare"), "OK") << unfiltered.output;
  EXPECT_EQ(answer(unfiltered, "clone3"), "OK") << "clone3 fails without seccomp too: " << unfiltered.output;
}

// ---- reaching host processes -------------------------------------------------------------------

// A host process of the same uid as the jailed program: in a plain chroot it can be signalled and
// traced. In the jail the PID namespace hides it and seccomp refuses ptrace altogether (even of
// the program's own child, which it could otherwise trace).
TEST_F(RunEscape, AHostProcessOfTheSameUidCannotBeSignalledOrTraced) {
  const HostProcess nobody_process(kNobody);
  const HostProcess root_process(0);
  ASSERT_TRUE(nobody_process.started() && root_process.started());
  const std::string nobody_pid = std::to_string(nobody_process.pid);
  const std::string root_pid = std::to_string(root_process.pid);
  const std::string ids = std::to_string(kNobody) + ":" + std::to_string(kNobody);

  const ProcessResult control = chrooted({"ptrace", nobody_pid}, ids);
  EXPECT_TRUE(contains(joined(escapes(control)), "traced the host process"))
      << "the control did not escape: " << control.describe();

  const ProcessResult as_nobody =
      jail({"-u", std::to_string(kNobody), "-g", std::to_string(kNobody)}, {"ptrace", nobody_pid});
  expect_ran(as_nobody);
  EXPECT_EQ(answer(as_nobody, "kill host"), "ESRCH") << as_nobody.output;
  EXPECT_EQ(answer(as_nobody, "ptrace seize host"), "EPERM") << as_nobody.output;
  EXPECT_EQ(answer(as_nobody, "ptrace attach host"), "EPERM") << as_nobody.output;
  EXPECT_EQ(answer(as_nobody, "ptrace own child"), "EPERM") << "seccomp lets ptrace through: " << as_nobody.output;
  EXPECT_EQ(answer(as_nobody, "process_vm_readv"), "EPERM") << as_nobody.output;
  EXPECT_EQ(escapes(as_nobody), std::vector<std::string>{}) << as_nobody.output;

  const ProcessResult as_root = jail({}, {"ptrace", root_pid});
  expect_ran(as_root);
  EXPECT_EQ(answer(as_root, "kill host"), "ESRCH") << as_root.output;
  EXPECT_EQ(answer(as_root, "ptrace own child"), "EPERM") << as_root.output;
  EXPECT_EQ(escapes(as_root), std::vector<std::string>{}) << as_root.output;

  // Without seccomp, the program traces its own child: what the filter refused above.
  const ProcessResult unfiltered = jail({"--seccomp", "off"}, {"ptrace", root_pid});
  expect_ran(unfiltered);
  EXPECT_EQ(answer(unfiltered, "ptrace own child"), "OK") << unfiltered.output;
  EXPECT_EQ(answer(unfiltered, "kill host"), "ESRCH") << unfiltered.output;

  // The host processes are as they were: running, traced by nobody (the control's tracer is gone).
  EXPECT_TRUE(nobody_process.untouched()) << nobody_process.state();
  EXPECT_TRUE(root_process.untouched()) << root_process.state();
}

// /proc in the jail is a fresh one of the jail's PID namespace: the program sees itself and the
// jail's init at most, nothing of the host.
TEST_F(RunEscape, ProcListsOnlyTheJailsProcesses) {
  const HostProcess host(0);
  ASSERT_TRUE(host.started());
  const std::string pid = std::to_string(host.pid);

  const ProcessResult control = chrooted({"procs", pid});
  EXPECT_FALSE(escapes(control).empty()) << "the control did not escape: " << control.describe();

  const ProcessResult jailed = jail({}, {"procs", pid});
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "stat host pid"), "ENOENT") << jailed.output;
  EXPECT_EQ(answer(jailed, "kill host"), "ESRCH") << jailed.output;
  EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << jailed.output;
  const std::string self = answer(jailed, "SELF");
  const std::vector<std::string> pids = lines_starting(jailed, "PIDS:");
  ASSERT_EQ(pids.size(), 1u) << jailed.output;
  std::istringstream listed(pids[0].substr(5));
  std::set<std::string> seen;
  for (std::string entry; listed >> entry;) seen.insert(entry);
  EXPECT_FALSE(seen.empty()) << "an empty /proc proves nothing: " << jailed.output;
  for (const std::string& entry : seen)
    EXPECT_TRUE(entry == "1" || entry == self)
        << "/proc lists pid " << entry << " besides 1 and the program's " << self;
  EXPECT_TRUE(host.untouched()) << host.state();
}

// ---- the terminal -----------------------------------------------------------------------------

// TIOCSTI pushes bytes into a terminal's input: from a jail sharing the caller's terminal, the
// next command the caller's shell reads. Seccomp refuses it (and TIOCLINUX) by the low 32 bits of
// the request, as the kernel reads it: with bit 32 set it is the same request.
TEST_F(RunEscape, NoInputCanBePushedIntoTheCallersTerminal) {
  const Pty pty;
  ASSERT_TRUE(pty.ok()) << std::strerror(errno);
  const SpawnOptions terminal = on_terminal(pty);

  const ProcessResult control = spawn(chroot_argv({"tty"}), kPlainEnv, terminal);
  EXPECT_EQ(answer(control, "TIOCSTI"), "OK") << control.describe();
  EXPECT_EQ(pty.pending_input(), "xx") << "the control injected nothing: " << control.describe();

  for (const std::vector<std::string>& options : {std::vector<std::string>{}, {"--cap", "SYS_ADMIN"}}) {
    const std::string mode = options.empty() ? "default" : "--cap SYS_ADMIN";
    const ProcessResult jailed = spawn(run_argv(options, {"tty"}), kPlainEnv, terminal);
    expect_ran(jailed);
    for (const char* request : {"TIOCSTI", "TIOCSTI high bits", "TIOCLINUX", "TIOCLINUX high bits"})
      EXPECT_EQ(answer(jailed, request), "EPERM") << mode << ": " << request << "\n" << jailed.output;
    EXPECT_EQ(pty.pending_input(), "") << mode << ": bytes were pushed into the terminal";
  }

  // In its own session, the caller's terminal is not the jail's controlling terminal, and pushing
  // input into another terminal needs CAP_SYS_ADMIN on the host: refused in the user namespace
  // even without seccomp.
  const ProcessResult namespaced =
      spawn(run_argv({"--cap", "SYS_ADMIN", "--seccomp", "off"}, {"tty"}), kPlainEnv, terminal);
  expect_ran(namespaced);
  EXPECT_EQ(answer(namespaced, "TIOCSTI"), "EPERM") << namespaced.output;
  EXPECT_EQ(pty.pending_input(), "") << namespaced.output;

  // As the host's root with CAP_SYS_ADMIN and no seccomp, both requests get through: the refusals
  // above are the filter's and the namespace's.
  const ProcessResult unfiltered =
      spawn(run_argv({"--host-root", "--cap", "SYS_ADMIN", "--seccomp", "off"}, {"tty"}), kPlainEnv, terminal);
  expect_ran(unfiltered);
  EXPECT_EQ(answer(unfiltered, "TIOCSTI"), "OK") << unfiltered.output;
  EXPECT_EQ(answer(unfiltered, "TIOCSTI high bits"), "OK") << unfiltered.output;
  EXPECT_NE(answer(unfiltered, "TIOCLINUX"), "EPERM") << unfiltered.output;
  EXPECT_EQ(pty.pending_input(), "xx") << unfiltered.output;
}

// ---- host files by other paths -----------------------------------------------------------------

// open_by_handle_at opens a file by its handle from any descriptor on the same filesystem,
// wherever the file is (the "shocker" escape, with CAP_DAC_READ_SEARCH). The root is a bind mount
// of a host directory, so the jail's "/" is on the host's filesystem: seccomp must refuse it.
TEST_F(RunEscape, AHostFileCannotBeOpenedByItsHandle) {
  struct stat marker_status {
  }, root_status{};
  ASSERT_EQ(::stat(marker_.c_str(), &marker_status), 0);
  ASSERT_EQ(::stat(root_.c_str(), &root_status), 0);
  ASSERT_EQ(marker_status.st_dev, root_status.st_dev) << "the marker and the root are on different filesystems";
  std::vector<unsigned char> storage(sizeof(file_handle) + MAX_HANDLE_SZ);
  auto* handle = reinterpret_cast<file_handle*>(storage.data());
  handle->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, marker_.c_str(), handle, &mount_id, 0) != 0)
    GTEST_SKIP() << "this filesystem gives no file handles: " << std::strerror(errno);
  std::string hex;
  for (unsigned i = 0; i < handle->handle_bytes; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", handle->f_handle[i]);
    hex += byte;
  }
  const std::vector<std::string> probe{"open-handle", std::to_string(handle->handle_type), hex};

  for (const std::vector<std::string>& options : {std::vector<std::string>{}, {"--cap", "DAC_READ_SEARCH"}}) {
    const std::string mode = options.empty() ? "default" : "--cap DAC_READ_SEARCH";
    const ProcessResult jailed = jail(options, probe);
    expect_ran(jailed);
    EXPECT_EQ(answer(jailed, "open_by_handle_at host file"), "EPERM") << mode << ": " << jailed.output;
    EXPECT_EQ(answer(jailed, "open_by_handle_at made-up"), "EPERM") << mode << ": " << jailed.output;
    EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << mode << ": " << jailed.output;
  }

  // The control: as the host's root with the capability and no seccomp, the jail reads the host's
  // marker (in the user namespace the capability is not the host's, and the kernel refuses).
  const ProcessResult namespaced = jail({"--cap", "DAC_READ_SEARCH", "--seccomp", "off"}, probe);
  expect_ran(namespaced);
  EXPECT_EQ(escapes(namespaced), std::vector<std::string>{}) << namespaced.output;
  const ProcessResult unfiltered = jail({"--host-root", "--cap", "DAC_READ_SEARCH", "--seccomp", "off"}, probe);
  expect_ran(unfiltered);
  EXPECT_TRUE(contains(joined(escapes(unfiltered)), "host-only marker"))
      << "the control did not escape: " << unfiltered.output;
  EXPECT_NE(answer(unfiltered, "open_by_handle_at made-up"), "EPERM") << unfiltered.output;
}

// The root is mounted read-only: nothing a jailed root process does changes the host's copy.
TEST_F(RunEscape, TheRootIsReadOnly) {
  // Files the probe does not execute (writing to the running probe fails with ETXTBSY first).
  std::string libc;
  for (const auto& entry : fs::recursive_directory_iterator(root_))
    if (entry.path().filename() == "libc.so.6" && fs::is_regular_file(fs::symlink_status(entry.path())))
      libc = "/" + entry.path().lexically_relative(root_).string();
  ASSERT_FALSE(libc.empty()) << "no libc.so.6 in the root";
  const std::string bin = fs::path(probe_).parent_path().string();
  const Tree before = snapshot(root_, true);
  // Two layers: the read-only mount, and (by default) a jail's root that is not the owner of the
  // root's files. As the host's root only the mount stands in the way, and it alone says EROFS.
  for (const auto& [file, directory] : {std::pair<std::string, std::string>{"/etc/ld.so.cache", "/"}, {libc, bin}}) {
    for (const std::vector<std::string>& options : {std::vector<std::string>{}, {"--host-root"}}) {
      const ProcessResult jailed = jail(options, {"write", file, directory});
      expect_ran(jailed);
      for (const char* attempt : {"create file", "mkdir", "open for writing", "chmod"}) {
        const std::string refused = answer(jailed, attempt);
        if (options.empty()) {
          EXPECT_TRUE(refused == "EROFS" || refused == "EACCES" || refused == "EPERM")
              << file << ": " << attempt << "\n"
              << jailed.output;
        } else {
          EXPECT_EQ(refused, "EROFS") << file << ": " << attempt << "\n" << jailed.output;
        }
      }
      EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << jailed.output;
    }
  }
  EXPECT_EQ(snapshot(root_, true), before) << "the root changed on the host";

  // The control: --writable as the host's root lets the same attempts through (and the host's copy
  // shows them). Without --host-root the jail's root is not the owner of the root's files.
  const ProcessResult writable = jail({"--writable", "--host-root"}, {"write", "/etc/ld.so.cache", "/"});
  expect_ran(writable);
  EXPECT_EQ(answer(writable, "create file"), "OK") << writable.output;
  EXPECT_TRUE(fs::exists(root_ + "/jb-escape-new")) << writable.output;
  fs::remove(root_ + "/jb-escape-new");
  fs::remove(root_ + "/jb-escape-dir");
}

// jailbuild's state directory lies outside the root: the jail cannot open the manifest, and no
// file of /proc names the state directory (a bind mount of it would show in mountinfo).
TEST_F(RunEscape, JailbuildsStateIsOutOfReach) {
  const std::vector<std::string> probe{"manifest", state_, manifest_};
  const ProcessResult jailed = jail({}, probe);
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "open manifest"), "ENOENT") << jailed.output;
  EXPECT_EQ(lines_starting(jailed, "LEAK: "), std::vector<std::string>{}) << jailed.output;
  EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << jailed.output;
  // The jail's pid 1 may be out of the program's reach (EACCES); if not, its root and working
  // directory are the jail's, named as the jail sees them.
  for (const std::string& link : lines_starting(jailed, "/proc/1/"))
    EXPECT_FALSE(contains(link, root_) || contains(link, state_)) << "a host path: " << link;

  // The control: the state directory bound in at its own path is read by the host's root (it is
  // private to root), and mountinfo names it.
  const ProcessResult bound = jail({"--host-root", "--ro-bind", state_ + ":" + state_}, probe);
  expect_ran(bound);
  EXPECT_FALSE(escapes(bound).empty()) << "the control did not read the manifest: " << bound.output;
  EXPECT_FALSE(lines_starting(bound, "LEAK: ").empty())
      << "mountinfo does not name a bound directory: " << bound.output;
}

// ---- credentials and environment ---------------------------------------------------------------

TEST_F(RunEscape, AnotherUserGetsOnlyItsIdsAndNoPrivileges) {
  const std::string nobody = std::to_string(kNobody);
  const ProcessResult jailed = jail({"-u", nobody, "-g", nobody}, {"creds"});
  expect_ran(jailed);
  const auto status = status_of(jailed);
  const std::string all = nobody + "\t" + nobody + "\t" + nobody + "\t" + nobody;
  EXPECT_EQ(status_field(status, "Uid").value_or(""), all) << jailed.output;
  EXPECT_EQ(status_field(status, "Gid").value_or(""), all) << jailed.output;
  EXPECT_EQ(status_field(status, "Groups").value_or("missing"), "") << "supplementary groups kept: " << jailed.output;
  expect_no_capabilities(status, jailed.describe());
}

// Without -u root stays uid 0, but uid 0 with no capability in any set is an ordinary user to the
// kernel (every "root can" check is a capability check).
TEST_F(RunEscape, RootWithoutAUserKeepsUidZeroButNoCapabilities) {
  const ProcessResult jailed = jail({}, {"creds"});
  expect_ran(jailed);
  const auto status = status_of(jailed);
  EXPECT_EQ(status_field(status, "Uid").value_or(""), "0\t0\t0\t0") << jailed.output;
  expect_no_capabilities(status, jailed.describe());

  // The control: a kept capability shows, so the zeros above are read, not defaults.
  const ProcessResult kept = jail({"--cap", "NET_BIND_SERVICE"}, {"creds"});
  expect_ran(kept);
  EXPECT_EQ(status_field(status_of(kept), "CapEff"), "0000000000000400") << kept.output;
}

// A setuid-root program in the root (a copy made setuid behind jailbuild's back: add strips the
// bit) run as nobody: the root is mounted nosuid and no_new_privs is set, so it stays nobody.
TEST_F(RunEscape, ASetuidRootProgramInsideStaysUnprivileged) {
  const std::string suid = fs::path(probe_).parent_path().string() + "/suid-probe";
  const std::string host_copy = root_ + suid;
  fs::copy_file(root_ + probe_, host_copy, fs::copy_options::overwrite_existing);
  ASSERT_EQ(::chown(host_copy.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(host_copy.c_str(), 04755), 0);
  const std::string nobody = std::to_string(kNobody);
  const std::string ids = "IDS: uid " + nobody + " " + nobody + " " + nobody;

  const ProcessResult control = run_process(chroot_argv({"creds"}, suid, nobody + ":" + nobody), kPlainEnv);
  EXPECT_TRUE(contains(control.output, "IDS: uid " + nobody + " 0 0"))
      << "the control did not become root: " << control.describe();

  const ProcessResult jailed = run_process(run_argv({"-u", nobody, "-g", nobody}, {"creds"}, suid), kPlainEnv);
  fs::remove(host_copy);
  expect_ran(jailed);
  EXPECT_TRUE(contains(jailed.output, ids)) << "the setuid bit took effect: " << jailed.output;
  expect_no_capabilities(status_of(jailed), jailed.describe());
}

// The caller's environment stays outside: a preload that would run code in the jailed program, a
// secret. The program's environment is PATH, HOME, TERM and LANG at most, and no process in the
// jail shows the secret in /proc (jailbuild's own environment, were it visible there).
TEST_F(RunEscape, TheCallersPreloadAndSecretsStayOutside) {
  const std::string secret = "jb-secret-7f3a9";
  const std::string reversed(secret.rbegin(), secret.rend());
  Environment env = kPlainEnv;
  env["LD_PRELOAD"] = "/nonexistent.so";
  env["SECRET_TOKEN"] = secret;

  const std::string nobody = std::to_string(kNobody);
  for (const std::vector<std::string>& options : {std::vector<std::string>{}, {"-u", nobody, "-g", nobody}}) {
    const std::string mode = options.empty() ? "default" : "-u nobody";
    const ProcessResult jailed = jail(options, {"env", reversed}, env);
    expect_ran(jailed);
    for (const std::string& line : lines_starting(jailed, "ENV ")) {
      const std::string name = line.substr(4, line.find('=') - 4);
      EXPECT_TRUE(name == "PATH" || name == "HOME" || name == "TERM" || name == "LANG")
          << mode << ": the program's environment has " << line;
    }
    EXPECT_FALSE(contains(jailed.output, "ENV SECRET_TOKEN") || contains(jailed.output, "ENV LD_PRELOAD"))
        << jailed.output;
    EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << mode << ": " << jailed.output;
  }

  // The control: --keep-env hands both over.
  const ProcessResult kept = jail({"--keep-env"}, {"env", reversed}, env);
  expect_ran(kept);
  EXPECT_TRUE(contains(kept.output, "ENV SECRET_TOKEN=" + secret)) << kept.output;
  EXPECT_TRUE(contains(kept.output, "ENV LD_PRELOAD=/nonexistent.so")) << kept.output;
  EXPECT_FALSE(escapes(kept).empty()) << "the secret in the program's own environment was not found: " << kept.output;
}

// ---- system call ABIs --------------------------------------------------------------------------

// A filter written for x86-64 system call numbers means nothing to a 32-bit call (int $0x80: the
// numbers differ) or an x32 one: seccomp must kill or refuse those outright.
TEST_F(RunEscape, The32BitAndX32SystemCallAbisAreRefused) {
  // The control first: without seccomp, the 32-bit getpid runs, on a kernel with IA-32 emulation;
  // without it the CPU faults on int $0x80 (SIGSEGV) and there is nothing to refuse.
  const ProcessResult unfiltered = jail({"--seccomp", "off"}, {"int80"});
  if (unfiltered.exit_code == 128 + SIGSEGV)
    GTEST_SKIP() << "this kernel runs no 32-bit system calls (int $0x80 faults): " << unfiltered.output;
  expect_ran(unfiltered);
  EXPECT_FALSE(escapes(unfiltered).empty()) << "the control's 32-bit call did not run: " << unfiltered.output;

  const ProcessResult jailed = jail({}, {"int80"});
  EXPECT_EQ(escapes(jailed), std::vector<std::string>{}) << jailed.output;
  if (jailed.exit_code != kKilledBySigsys) {
    expect_ran(jailed);  // refused with an error instead of killed: it must have said so
    EXPECT_TRUE(contains(jailed.output, "int80 getpid: -")) << jailed.output;
  }

  const ProcessResult x32 = jail({}, {"x32"});
  EXPECT_EQ(escapes(x32), std::vector<std::string>{}) << x32.output;
  if (x32.exit_code != kKilledBySigsys) {
    expect_ran(x32);
    EXPECT_NE(answer(x32, "x32 getpid"), "OK") << x32.output;
  }
}

// The rest of the denylist, each with arguments that do nothing harmful: EPERM from seccomp. The
// keyrings are not namespaced (keyctl reaches the host's session keyring); bpf, perf_event_open,
// modules and kexec reach the kernel itself.
TEST_F(RunEscape, TheOtherDenylistedCallsAreRefused) {
  const std::vector<std::string> refused{"keyctl",          "add_key",         "request_key",      "bpf",
                                         "perf_event_open", "init_module",     "finit_module",     "delete_module",
                                         "kexec_load",      "kexec_file_load", "process_vm_readv", "process_vm_writev",
                                         "io_uring_setup"};
  const ProcessResult jailed = jail({}, {"denylist"});
  expect_ran(jailed);
  for (const std::string& call : refused) EXPECT_EQ(answer(jailed, call), "EPERM") << call << "\n" << jailed.output;
  // A call newer than the filter's libseccomp: refused as unknown, whatever it does.
  EXPECT_EQ(answer(jailed, "listmount"), "ENOSYS") << jailed.output;

  // The control: without seccomp, the keyring, the process's own memory and io_uring are reached,
  // and the kernel does know listmount (or the ENOSYS above proves nothing).
  const ProcessResult unfiltered = jail({"--seccomp", "off"}, {"denylist"});
  expect_ran(unfiltered);
  EXPECT_EQ(answer(unfiltered, "keyctl"), "OK") << unfiltered.output;
  EXPECT_EQ(answer(unfiltered, "process_vm_readv"), "OK") << unfiltered.output;
  EXPECT_EQ(answer(unfiltered, "io_uring_setup"), "OK") << unfiltered.output;
  if (answer(unfiltered, "listmount") == "ENOSYS") GTEST_SKIP() << "this kernel has no listmount (before 6.8)";
}

}  // namespace
}  // namespace jailbuild
