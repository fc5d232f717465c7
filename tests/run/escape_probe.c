/* The program the escape tests run inside a jail (tests/run/run_escape_test.cpp): each mode tries
 * one way out and reports what the kernel answered, one line per attempt:
 *
 *   WHAT: OK            the call succeeded
 *   WHAT: ENAME         it failed with errno ENAME (EPERM, ENOENT, ...)
 *   ESCAPED: WHY        something outside the jail was reached (a host file read or written, a
 *                       host process seen or traced, a byte pushed into the terminal, ...)
 *
 * plus a few informational lines (PIDS:, STATUS ..., ENV ...). The probe never decides whether a
 * result is right: the test does, and runs the same modes under plain chroot(8) or with a
 * protection switched off as a control, to show that each check can see an escape.
 *
 * Output is unbuffered: a mode may be killed (seccomp's SIGSYS) halfway.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static const char* error_name(int error) {
  const char* name = strerrorname_np(error);
  return name ? name : "E?";
}

/* Prints "WHAT: OK" or "WHAT: ENAME" for a call's result (negative: failed with errno) and passes
 * the result on. errno is read at once, before printf can change it. */
static long report(const char* what, long result) {
  const int error = errno;
  if (result < 0)
    printf("%s: %s\n", what, error_name(error));
  else
    printf("%s: OK\n", what);
  errno = error;
  return result;
}

static void escaped(const char* why, const char* detail) {
  printf("ESCAPED: %s%s%s\n", why, detail ? " " : "", detail ? detail : "");
}

/* "ESCAPED: WHY LINE" for a file the jail should not reach, open at `fd` (closed here): LINE is its
 * first line, which shows whose file it was. */
static void escaped_reading(const char* why, int fd) {
  char line[256];
  ssize_t n = read(fd, line, sizeof line - 1);
  close(fd);
  if (n < 0) n = 0;
  line[n] = 0;
  line[strcspn(line, "\n")] = 0;
  escaped(why, line);
}

/* Tries to read `path` (a file that exists only on the host) and to create `create` (a path in a
 * host directory): either succeeding is an escape. */
static void reach_host(const char* path, const char* create) {
  int fd = (int)report("open host marker", open(path, O_RDONLY | O_CLOEXEC));
  if (fd >= 0) escaped_reading("read the host marker:", fd);
  fd = (int)report("create on host", open(create, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd >= 0) {
    escaped("created a host file:", create);
    close(fd);
  }
}

/* chroot-escape WORKDIR MARKER CREATE: the classic double chroot. As root with CAP_SYS_CHROOT in a
 * plain chroot, chroot into a subdirectory leaves the working directory outside the new root, and
 * enough ".." from there reach the real root. */
static int chroot_escape(char** argv) {
  report("chdir workdir", chdir(argv[0]));
  if (mkdir("jb-escape-x", 0755) != 0 && errno != EEXIST) report("mkdir x", -1);
  report("chroot x", chroot("jb-escape-x"));
  for (int i = 0; i < 64; ++i) chdir("..");
  report("chroot .", chroot("."));
  reach_host(argv[1], argv[2]);
  return 0;
}

/* The numeric entries of the directory `path` as "LABEL: 1 2" (in readdir's order: ascending for
 * /proc and /proc/self/fd). With `skip_own_fd`, not the descriptor this listing holds open, which
 * /proc/self/fd shows too. */
static void print_numbered(const char* label, const char* path, int skip_own_fd) {
  DIR* dir = opendir(path);
  if (!dir) {
    char what[64];
    snprintf(what, sizeof what, "list %s", path);
    report(what, -1);
    return;
  }
  printf("%s:", label);
  for (struct dirent* entry; (entry = readdir(dir)) != NULL;) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    if (skip_own_fd && atoi(entry->d_name) == dirfd(dir)) continue;
    printf(" %s", entry->d_name);
  }
  printf("\n");
  closedir(dir);
}

/* fchdir FD MARKER_NAME CREATE_NAME: a directory descriptor of the host left open across the
 * jail's entry leads out of it, whatever the root. */
static int fchdir_escape(char** argv) {
  const int fd = atoi(argv[0]);
  print_numbered("FDS", "/proc/self/fd", 1);
  if (report("fchdir", fchdir(fd)) == 0) {
    const int file = (int)report("open marker after fchdir", open(argv[1], O_RDONLY | O_CLOEXEC));
    if (file >= 0) escaped_reading("read the host marker through the inherited descriptor:", file);
  }
  int file = (int)report("openat marker", openat(fd, argv[1], O_RDONLY | O_CLOEXEC));
  if (file >= 0) escaped_reading("read the host marker with openat:", file);
  file = (int)report("create on host", openat(fd, argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (file >= 0) {
    escaped("created a host file through the inherited descriptor:", argv[2]);
    close(file);
  }
  return 0;
}

/* Opens a block device node and reads its first sector: opening it is reaching a host disk. */
static void read_disk(const char* path, const char* label) {
  char what[512];
  snprintf(what, sizeof what, "open %s", label);
  const int fd = (int)report(what, open(path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return;
  char sector[512];
  snprintf(what, sizeof what, "read %s", label);
  /* Opening it is the breach already (an unused loop device reads as empty). */
  escaped("opened a host disk through", path);
  snprintf(what, sizeof what, "read %s", label);
  report(what, read(fd, sector, sizeof sector));
  close(fd);
}

/* mknod MAJOR MINOR DIR...: a node for the host's disk in each DIR, then read through it; and any
 * block device already in /dev. */
static int mknod_escape(int argc, char** argv) {
  const dev_t disk = makedev(atoi(argv[0]), atoi(argv[1]));
  for (int i = 2; i < argc; ++i) {
    char path[4096], what[4200];
    snprintf(path, sizeof path, "%s/jb-escape-disk", argv[i]);
    snprintf(what, sizeof what, "mknod %s", argv[i]);
    if (report(what, mknod(path, S_IFBLK | 0600, disk)) == 0) {
      read_disk(path, argv[i]);
      unlink(path);
    }
  }
  DIR* dev = opendir("/dev");
  if (dev) {
    for (struct dirent* entry; (entry = readdir(dev)) != NULL;) {
      char path[4096];
      struct stat status;
      snprintf(path, sizeof path, "/dev/%s", entry->d_name);
      if (lstat(path, &status) == 0 && S_ISBLK(status.st_mode)) {
        printf("block device in /dev: %s\n", entry->d_name);
        read_disk(path, path);
      }
    }
    closedir(dev);
  }
  return 0;
}

/* clone(FLAGS) through the raw system call (glibc's wrapper wants a stack): the child exits at once. */
static void clone_with(const char* what, unsigned long flags) {
  const long child = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (child == 0) _exit(0);
  report(what, child);
  if (child > 0) waitpid((pid_t)child, NULL, 0);
}

/* mount: every way to change the mount table, or to get a namespace where that is allowed. The
 * calls that would leave this process in another namespace or without /proc come last. */
static int mount_escape(void) {
  mkdir("/tmp/jb-escape-m", 0755);
  report("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  report("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */));
  report("move_mount", syscall(SYS_move_mount, AT_FDCWD, "/tmp/jb-escape-m", AT_FDCWD, "/tmp", 0));
  report("fsmount", syscall(SYS_fsmount, -1, 0, 0));
  report("pivot_root", syscall(SYS_pivot_root, ".", "."));
  report("chroot /", chroot("/"));
  clone_with("clone newuser", CLONE_NEWUSER);
  clone_with("clone newns", CLONE_NEWNS);
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  const long child = syscall(SYS_clone3, &args, sizeof args);
  if (child == 0) _exit(0);
  report("clone3", child);
  if (child > 0) waitpid((pid_t)child, NULL, 0);
  const int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  report("setns", setns(ns, 0));
  report("mount proc", mount("proc", "/tmp/jb-escape-m", "proc", 0, NULL));
  report("mount tmpfs", mount("tmpfs", "/tmp/jb-escape-m", "tmpfs", 0, NULL));
  /* A root remounted read-write would let the next line write to the host's copy of the root. */
  report("remount root rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
  const int fd =
      (int)report("create in root", open("/jb-escape-remount", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd >= 0) {
    escaped("created a file in the host's root directory:", "/jb-escape-remount");
    close(fd);
  }
  report("umount2 /proc", umount2("/proc", MNT_DETACH));
  if (report("unshare user+mount", unshare(CLONE_NEWUSER | CLONE_NEWNS)) == 0)
    report("mount tmpfs after unshare", mount("tmpfs", "/tmp/jb-escape-m", "tmpfs", 0, NULL));
  return 0;
}

/* ptrace HOSTPID: a process of the host, signalled and traced from inside; and a child of the
 * probe's own, traced (what only seccomp refuses, both being in the jail with the same uid). */
static int ptrace_escape(char** argv) {
  const pid_t host = (pid_t)atoi(argv[0]);
  if (report("kill host", kill(host, 0)) == 0) escaped("signals reach the host process", argv[0]);
  if (report("ptrace seize host", ptrace(PTRACE_SEIZE, host, 0, 0)) == 0) escaped("traced the host process", argv[0]);
  if (report("ptrace attach host", ptrace(PTRACE_ATTACH, host, 0, 0)) == 0) {
    escaped("attached to the host process", argv[0]);
    waitpid(host, NULL, __WALL);
    ptrace(PTRACE_DETACH, host, 0, 0);
  }
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  report("ptrace own child", ptrace(PTRACE_SEIZE, child, 0, 0));
  char buffer[8] = "secret", copy[8] = "";
  struct iovec local = {copy, sizeof copy}, remote = {buffer, sizeof buffer};
  report("process_vm_readv", process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
  kill(child, SIGKILL);
  waitpid(child, NULL, __WALL);
  return 0;
}

/* tty: pushing input into the terminal on descriptor 0 (what the user's shell reads next), with the
 * request number as is and with bits above the 32 the kernel looks at; and TIOCLINUX. */
static int tty_escape(void) {
  char c = 'x';
  report("TIOCSTI", ioctl(0, TIOCSTI, &c));
  report("TIOCSTI high bits", syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32), &c));
  char subcode[2] = {6 /* TIOCL_GETSHIFTSTATE */, 0};
  report("TIOCLINUX", ioctl(0, TIOCLINUX, subcode));
  subcode[0] = 6;
  report("TIOCLINUX high bits", syscall(SYS_ioctl, 0, (unsigned long)TIOCLINUX | (1UL << 32), subcode));
  int queued = -1;
  ioctl(0, FIONREAD, &queued);
  printf("queued: %d\n", queued);
  return 0;
}

/* open-handle TYPE HEX: a file handle the test took of a host file (name_to_handle_at), opened
 * from the jail's "/" (the same filesystem): the "shocker" escape. Then a made-up handle. */
static int open_handle_escape(char** argv) {
  const char* hex = argv[1];
  const size_t bytes = strlen(hex) / 2;
  struct file_handle* handle = calloc(1, sizeof *handle + bytes + 8);
  handle->handle_type = atoi(argv[0]);
  handle->handle_bytes = (unsigned)bytes;
  for (size_t i = 0; i < bytes; ++i) sscanf(hex + 2 * i, "%2hhx", &handle->f_handle[i]);
  /* Any descriptor on the host file system names it: /etc is a directory of the root (the jail's
   * "/" itself is a tmpfs showing the root's entries). */
  const int root = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const int fd = (int)report("open_by_handle_at host file", open_by_handle_at(root, handle, O_RDONLY));
  if (fd >= 0) escaped_reading("opened a host file by its handle:", fd);
  memset(handle->f_handle, 0, bytes);
  handle->handle_bytes = 8;
  report("open_by_handle_at made-up", open_by_handle_at(root, handle, O_RDONLY));
  return 0;
}

/* write FILE DIR: writing to the root (read-only: EROFS): a new file and a directory in DIR,
 * FILE opened for writing (nothing written) and chmod-ed to its own mode. */
static int write_escape(char** argv) {
  char path[4096];
  snprintf(path, sizeof path, "%s/jb-escape-new", argv[1]);
  int fd = (int)report("create file", open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd >= 0) {
    escaped("created a file in the root:", path);
    close(fd);
  }
  snprintf(path, sizeof path, "%s/jb-escape-dir", argv[1]);
  if (report("mkdir", mkdir(path, 0755)) == 0) escaped("made a directory in the root:", path);
  fd = (int)report("open for writing", open(argv[0], O_WRONLY | O_APPEND | O_CLOEXEC));
  if (fd >= 0) {
    escaped("opened a root file for writing:", argv[0]);
    close(fd);
  }
  struct stat status;
  if (stat(argv[0], &status) == 0 && report("chmod", chmod(argv[0], status.st_mode & 07777)) == 0)
    escaped("changed a root file's mode:", argv[0]);
  return 0;
}

/* Prints "LEAK: FILE: LINE" for each line of FILE holding `secret`. */
static void scan_for(const char* file, const char* secret) {
  FILE* in = fopen(file, "re");
  if (!in) {
    report(file, -1);
    return;
  }
  char line[8192];
  while (fgets(line, sizeof line, in)) {
    if (strstr(line, secret)) printf("LEAK: %s: %s%s", file, line, strchr(line, '\n') ? "" : "\n");
  }
  fclose(in);
}

/* manifest STATE MANIFEST: jailbuild's state directory (outside the root) must be out of reach,
 * and named nowhere the jail can read. */
static int manifest_escape(char** argv) {
  const int fd = (int)report("open manifest", open(argv[1], O_RDONLY | O_CLOEXEC));
  if (fd >= 0) escaped_reading("read jailbuild's manifest:", fd);
  scan_for("/proc/self/mountinfo", argv[0]);
  scan_for("/proc/1/mountinfo", argv[0]);
  char target[4096];
  for (const char* link = "/proc/1/root"; link; link = strcmp(link, "/proc/1/root") == 0 ? "/proc/1/cwd" : NULL) {
    const ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) {
      report(link, -1);
      continue;
    }
    target[n] = 0;
    printf("%s -> %s\n", link, target);
  }
  return 0;
}

/* procs HOSTPID: what of the host's processes the jail sees. */
static int procs_escape(char** argv) {
  printf("SELF: %d\n", (int)getpid());
  print_numbered("PIDS", "/proc", 0);
  char path[64];
  snprintf(path, sizeof path, "/proc/%s", argv[0]);
  struct stat status;
  if (report("stat host pid", stat(path, &status)) == 0) escaped("/proc shows the host process", argv[0]);
  if (report("kill host", kill((pid_t)atoi(argv[0]), 0)) == 0) escaped("signals reach the host process", argv[0]);
  return 0;
}

/* creds: the credentials the kernel reports, as "STATUS Name:\tvalue" lines, and the ids. */
static int print_credentials(void) {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  printf("IDS: uid %u %u %u gid %u %u %u\n", ruid, euid, suid, rgid, egid, sgid);
  FILE* in = fopen("/proc/self/status", "re");
  if (!in) {
    report("open /proc/self/status", -1); /* no /proc under plain chroot */
    return 0;
  }
  static const char* const wanted[] = {"Uid:",    "Gid:",    "Groups:",     "CapInh:",  "CapPrm:", "CapEff:",
                                       "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:", NULL};
  char line[4096];
  while (fgets(line, sizeof line, in)) {
    for (const char* const* name = wanted; *name; ++name)
      if (strncmp(line, *name, strlen(*name)) == 0) printf("STATUS %s", line);
  }
  fclose(in);
  return 0;
}

/* Prints "ESCAPED" if `secret` is in any process's environment or command line the jail can read. */
static void scan_processes_for(const char* secret) {
  DIR* proc = opendir("/proc");
  if (!proc) return;
  for (struct dirent* entry; (entry = readdir(proc)) != NULL;) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    for (const char* const* file = (const char* const[]){"environ", "cmdline", NULL}; *file; ++file) {
      char path[300], data[65536];
      snprintf(path, sizeof path, "/proc/%s/%s", entry->d_name, *file);
      const int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      const ssize_t n = read(fd, data, sizeof data - 1);
      close(fd);
      if (n <= 0) continue;
      data[n] = 0;
      for (ssize_t i = 0; i < n; ++i)
        if (data[i] == 0) data[i] = ' ';
      if (strstr(data, secret)) escaped("the secret is readable in", path);
    }
  }
  closedir(proc);
}

/* env TERCES: the environment, as "ENV K=V" lines, then every readable environment and command
 * line in /proc searched for SECRET (given reversed, so that it is in no command line itself). */
static int print_environment(char** argv) {
  for (char** entry = environ; *entry; ++entry) printf("ENV %s\n", *entry);
  printf("ENV-END\n");
  char secret[256];
  const size_t length = strlen(argv[0]) < sizeof secret ? strlen(argv[0]) : sizeof secret - 1;
  for (size_t i = 0; i < length; ++i) secret[i] = argv[0][length - 1 - i];
  secret[length] = 0;
  scan_processes_for(secret);
  return 0;
}

/* int80: getpid through the 32-bit ABI (int $0x80, i386 number 20). */
static int int80(void) {
  long result;
  __asm__ volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  printf("int80 getpid: %ld (pid %d)\n", result, (int)getpid());
  if (result == getpid()) escaped("the 32-bit system call ran", NULL);
  return 0;
}

/* x32: getpid through the x32 ABI (__X32_SYSCALL_BIT | 39). */
static int x32(void) {
  const long result = syscall(0x40000000L | 39);
  report("x32 getpid", result);
  if (result == getpid()) escaped("the x32 system call ran", NULL);
  return 0;
}

/* denylist: the other calls seccomp refuses, with harmless arguments. */
static int denylist(void) {
  report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  report("add_key", syscall(SYS_add_key, "user", "jb-escape", "x", 1, KEY_SPEC_PROCESS_KEYRING));
  report("request_key", syscall(SYS_request_key, "user", "jb-escape-none", NULL, KEY_SPEC_PROCESS_KEYRING));
  char attr[128];
  memset(attr, 0, sizeof attr);
  report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr));
  report("perf_event_open", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
  report("init_module", syscall(SYS_init_module, NULL, 0, ""));
  report("finit_module", syscall(SYS_finit_module, -1, "", 0));
  report("delete_module", syscall(SYS_delete_module, "jb_escape_none", O_NONBLOCK));
  report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
  report("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
  char buffer[8] = "secret", copy[8] = "";
  struct iovec local = {copy, sizeof copy}, remote = {buffer, sizeof buffer};
  report("process_vm_readv", process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
  report("process_vm_writev", process_vm_writev(getpid(), &remote, 1, &local, 1, 0));
  report("io_uring_setup", syscall(425 /* io_uring_setup */, 1, attr));
  /* listmount (Linux 6.8): newer than Debian 12's libseccomp, so no rule can name it; with null
   * arguments the kernel answers EFAULT or EINVAL, and ENOSYS only where it lacks the call. */
  report("listmount", syscall(458, NULL, NULL, 0, 0));
  return 0;
}

/* "WHERE: MAJOR:MINOR:INODE" of what `path` names (stat follows /proc's magic links to the file
 * itself, wherever it lives): the test compares it with the host's files. */
static void print_identity(const char* where, const char* path) {
  struct stat status;
  char what[300];
  snprintf(what, sizeof what, "stat %s", path);
  if (report(what, stat(path, &status)) != 0) return;
  printf("%s: %u:%u:%lu\n", where, major(status.st_dev), minor(status.st_dev), (unsigned long)status.st_ino);
}

/* exe: the executables /proc names for this process and for the jail's pid 1, which must be no
 * host file: pid 1's opened for writing (nothing written) and made setuid (runc's CVE-2019-5736,
 * with jailbuild's binary as the host file). */
static int exe_escape(void) {
  print_identity("EXE self", "/proc/self/exe");
  print_identity("EXE pid1", "/proc/1/exe");
  const int fd = (int)report("open /proc/1/exe for writing", open("/proc/1/exe", O_WRONLY | O_CLOEXEC));
  if (fd >= 0) {
    escaped("opened pid 1's executable for writing", NULL);
    close(fd);
  }
  if (report("chmod /proc/1/exe", chmod("/proc/1/exe", 04755)) == 0) escaped("made pid 1's executable setuid", NULL);
  return 0;
}

/* setuid DIR: a file made setuid (04755) or setgid (02755) every way the kernel allows: after
 * creating it (chmod, fchmod, fchmodat, fchmodat2), in the creating call itself (open, openat,
 * creat with O_CREAT; mknod, mknodat of a regular file; openat2). Then "FILE NAME: MODE UID GID" for
 * each file made, as this process sees it; the test looks at them on the host. */
static int setuid_escape(char** argv) {
  if (report("chdir", chdir(argv[0])) != 0) return 0;
  const int fd = (int)report("create", open("jb-suid-chmod", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755));
  report("chmod 4755", chmod("jb-suid-chmod", 04755));
  report("chmod 2755", chmod("jb-suid-chmod", 02755));
  if (fd >= 0) {
    report("fchmod 4755", fchmod(fd, 04755));
    report("fchmod 2755", fchmod(fd, 02755));
    close(fd);
  }
  report("fchmodat 4755", fchmodat(AT_FDCWD, "jb-suid-chmod", 04755, 0));
  report("fchmodat 2755", fchmodat(AT_FDCWD, "jb-suid-chmod", 02755, 0));
  report("fchmodat2 4755", syscall(452 /* fchmodat2 */, AT_FDCWD, "jb-suid-chmod", 04755, 0));
  long made = syscall(SYS_open, "jb-suid-open", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 04755);
  if (report("open O_CREAT 4755", made) >= 0) close((int)made);
  made = syscall(SYS_openat, AT_FDCWD, "jb-sgid-openat", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 02755);
  if (report("openat O_CREAT 2755", made) >= 0) close((int)made);
  made = syscall(SYS_creat, "jb-suid-creat", 04755);
  if (report("creat 4755", made) >= 0) close((int)made);
  report("mknod 4755", syscall(SYS_mknod, "jb-suid-mknod", S_IFREG | 04755, 0));
  report("mknodat 2755", syscall(SYS_mknodat, AT_FDCWD, "jb-sgid-mknodat", S_IFREG | 02755, 0));
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  how.mode = 04755;
  made = syscall(SYS_openat2, AT_FDCWD, "jb-suid-openat2", &how, sizeof how);
  if (report("openat2 O_CREAT 4755", made) >= 0) close((int)made);
  DIR* dir = opendir(".");
  for (struct dirent* entry; dir && (entry = readdir(dir)) != NULL;) {
    struct stat status;
    if (strncmp(entry->d_name, "jb-s", 4) != 0 || lstat(entry->d_name, &status) != 0) continue;
    printf("FILE %s: %o %u %u\n", entry->d_name, status.st_mode & 07777, status.st_uid, status.st_gid);
  }
  if (dir) closedir(dir);
  return 0;
}

/* read PATH...: each file's first line and size ("READ PATH: LINE", "BYTES PATH: N", at most 64k
 * read), or a directory's entries ("LIST PATH: NAME NAME"), or the error ("read PATH: ENAME"). */
static int read_paths(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    char what[4200];
    DIR* dir = opendir(argv[i]);
    if (dir) {
      printf("LIST %s:", argv[i]);
      for (struct dirent* entry; (entry = readdir(dir)) != NULL;)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) printf(" %s", entry->d_name);
      printf("\n");
      closedir(dir);
      continue;
    }
    snprintf(what, sizeof what, "read %s", argv[i]);
    const int fd = (int)report(what, open(argv[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (fd < 0) continue;
    static char data[65536];
    ssize_t total = 0;
    for (ssize_t n; total < (ssize_t)sizeof data - 1 && (n = read(fd, data + total, sizeof data - 1 - total)) > 0;)
      total += n;
    close(fd);
    data[total] = 0;
    data[strcspn(data, "\n")] = 0;
    printf("BYTES %s: %ld\nREAD %s: %s\n", argv[i], (long)total, argv[i], data);
  }
  return 0;
}

/* open-write PATH...: each opened for writing and closed at once, never written to (these are the
 * host kernel's files: an open that succeeds is the breach). */
static int open_for_writing(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    char what[4200];
    snprintf(what, sizeof what, "open-write %s", argv[i]);
    const int fd = (int)report(what, open(argv[i], O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd >= 0) close(fd);
  }
  return 0;
}

/* dev-node MODE PATH...: each device node's identity ("NODE PATH: dev=MAJ:MIN ino=N rdev=MAJ:MIN
 * mode=OCT uid=U gid=G"), then chmod to MODE (octal; "-" for the node's own mode, so that a
 * success changes nothing but the inode's ctime: these may be the host's own nodes) and chown to
 * the jail's root, the group left as it is ("chmod PATH: OK", "chown PATH: EPERM"): a node the
 * host's root owns stays as it was, even if the call succeeds. */
static int device_nodes(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* path = argv[i];
    char what[4200];
    struct stat status;
    snprintf(what, sizeof what, "stat %s", path);
    if (report(what, stat(path, &status)) != 0) continue;
    printf("NODE %s: dev=%u:%u ino=%lu rdev=%u:%u mode=%o uid=%u gid=%u\n", path, major(status.st_dev),
           minor(status.st_dev), (unsigned long)status.st_ino, major(status.st_rdev), minor(status.st_rdev),
           status.st_mode & 07777, status.st_uid, status.st_gid);
    const mode_t mode = strcmp(argv[0], "-") == 0 ? status.st_mode & 07777 : (mode_t)strtoul(argv[0], NULL, 8);
    snprintf(what, sizeof what, "chmod %s", path);
    report(what, chmod(path, mode));
    snprintf(what, sizeof what, "chown %s", path);
    report(what, chown(path, 0, (gid_t)-1));
  }
  return 0;
}

/* kill TARGETS HOSTPGID: SIGTERM to the probe's own process group ("0"), to every process it may
 * signal ("-1"), to the caller's process group by its host number ("-pgid"): those of the TARGETS
 * named (comma-separated). The probe ignores SIGTERM itself. kill(-1) is made only where it cannot
 * reach every process of the host, should the jail fail: as a uid other than 0, or in a fresh PID
 * namespace (a pid below 10). */
static int kill_escape(char** argv) {
  char targets[256];
  snprintf(targets, sizeof targets, ",%s,", argv[0]);
  signal(SIGTERM, SIG_IGN);
  printf("PGID: %d SID: %d PID: %d\n", (int)getpgrp(), (int)getsid(0), (int)getpid());
  if (strstr(targets, ",0,")) report("kill 0", kill(0, SIGTERM));
  if (strstr(targets, ",-1,")) {
    if (getuid() != 0 || getpid() < 10)
      report("kill -1", kill(-1, SIGTERM));
    else
      printf("kill -1: SKIPPED (uid 0 outside a PID namespace)\n");
  }
  if (strstr(targets, ",-pgid,")) report("kill -hostpgid", kill(-atoi(argv[1]), SIGTERM));
  return 0;
}

/* tcp connect|bind PORT...: a TCP socket connected to 127.0.0.1:PORT, or bound to it, for each
 * ("connect 8080: OK", "bind 9090: EACCES"). */
static int tcp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const int fd = (int)report("socket", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd < 0) return 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[i]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char what[64];
    snprintf(what, sizeof what, "%s %s", argv[0], argv[i]);
    if (strcmp(argv[0], "connect") == 0)
      report(what, connect(fd, (struct sockaddr*)&address, sizeof address));
    else
      report(what, bind(fd, (struct sockaddr*)&address, sizeof address));
    close(fd);
  }
  return 0;
}

/* create PATH...: a new file at each ("create /usr/x: EACCES"), removed again when made. */
static int create_files(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    char what[4200];
    snprintf(what, sizeof what, "create %s", argv[i]);
    const int fd = (int)report(what, open(argv[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd >= 0) {
      close(fd);
      unlink(argv[i]);
    }
  }
  return 0;
}

/* signal PID: signal 0 (no effect but the permission check) sent to PID ("signal 1234: OK"). */
static int signal_pid(char** argv) {
  char what[64];
  snprintf(what, sizeof what, "signal %s", argv[0]);
  report(what, kill((pid_t)atoi(argv[0]), 0));
  return 0;
}

/* statvfs PATH...: the size of the file system holding each, "SIZE PATH: BYTES". */
static int file_system_sizes(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    struct statvfs status;
    char what[4200];
    snprintf(what, sizeof what, "statvfs %s", argv[i]);
    if (report(what, statvfs(argv[i], &status)) == 0)
      printf("SIZE %s: %llu\n", argv[i], (unsigned long long)status.f_blocks * status.f_frsize);
  }
  return 0;
}

/* keyring NAME: the session keyring's description ("SESSION KEYRING: type;uid;gid;perm;name"), and
 * whether the caller's session keyring NAME shows in it or in /proc/keys. */
static int keyring_escape(char** argv) {
  char description[512] = "";
  const long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, description, sizeof description - 1);
  if (report("describe session keyring", n) >= 0) {
    printf("SESSION KEYRING: %s\n", description);
    if (strstr(description, argv[0])) escaped("the caller's session keyring is the jail's:", description);
  }
  scan_for("/proc/keys", argv[0]);
  return 0;
}

/* fork N: up to N children (each waits to be killed), "FORKS: K" for those made, then the first
 * failure ("fork: EAGAIN") if any. The children are killed and reaped before it returns. */
static int fork_bounded(char** argv) {
  const int wanted = atoi(argv[0]);
  pid_t children[256];
  int made = 0;
  int error = 0;
  for (; made < wanted && made < 256; ++made) {
    const pid_t child = fork();
    if (child == 0) {
      pause();
      _exit(0);
    }
    if (child < 0) {
      error = errno;
      break;
    }
    children[made] = child;
  }
  printf("FORKS: %d\n", made);
  if (error != 0) {
    errno = error;
    report("fork", -1);
  }
  for (int i = 0; i < made; ++i) kill(children[i], SIGKILL);
  for (int i = 0; i < made; ++i) waitpid(children[i], NULL, 0);
  return 0;
}

/* interrupt: "ready", then waits (10 s at most) for SIGINT, as an interactive program waits for
 * Ctrl-C: "got SIGINT" or "no SIGINT". */
static volatile sig_atomic_t interrupted = 0;
static void on_interrupt(int signal_number) {
  (void)signal_number;
  interrupted = 1;
}
static int wait_for_interrupt(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, NULL);
  printf("ready\n");
  for (int i = 0; i < 1000 && !interrupted; ++i) usleep(10000);
  printf(interrupted ? "got SIGINT\n" : "no SIGINT\n");
  return 0;
}

#ifdef ESCAPE_PRELOAD
/* Built with -DESCAPE_PRELOAD -shared, this file is a library for a root's /etc/ld.so.preload: in
 * whatever program the root makes the jail run (a symlink to /proc/self/exe, a script with
 * "#!/proc/self/exe": the program that starts it, if the kernel re-executes that), it reports
 * which file it runs from and tries to make that file setuid. */
__attribute__((constructor)) static void attack_own_executable(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  print_identity("PRELOAD exe", "/proc/self/exe");
  const int fd = (int)report("PRELOAD open /proc/self/exe for writing", open("/proc/self/exe", O_WRONLY | O_CLOEXEC));
  if (fd >= 0) {
    escaped("opened its own executable for writing", NULL);
    close(fd);
  }
  if (report("PRELOAD chmod /proc/self/exe", chmod("/proc/self/exe", 04755)) == 0)
    escaped("made its own executable setuid", NULL);
}
#else
/* "work FILE": what the traced workload does (tests/run/seccomp_allowlist_test.cpp): reads FILE,
 * forks a child that writes through a pipe, waits for it. "calls": the same work, then the calls a
 * trace of "work" never saw: socket (twice), personality, memfd_create. */
static int ordinary_work(const char* path) {
  char buffer[64];
  const int file = open(path, O_RDONLY | O_CLOEXEC);
  report("work read", file < 0 ? -1 : read(file, buffer, sizeof buffer));
  if (file >= 0) close(file);
  int ends[2];
  if (report("work pipe", pipe(ends)) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(ends[0]);
    _exit(write(ends[1], "x", 1) == 1 ? 0 : 1);
  }
  close(ends[1]);
  report("work child", child < 0 ? -1 : read(ends[0], buffer, 1) == 1 ? 0 : -1);
  int status = 0;
  report("work wait", waitpid(child, &status, 0) == child && status == 0 ? 0 : -1);
  return 0;
}

static int untraced_calls(void) {
  const long socket_fd = report("socket", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (socket_fd >= 0) close((int)socket_fd);
  /* Twice: run -v says a refused call once, however often it is made. */
  const long again = report("socket again", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (again >= 0) close((int)again);
  report("personality", syscall(SYS_personality, 0xffffffffUL) < 0 ? -1 : 0);
  const long memfd = report("memfd_create", syscall(SYS_memfd_create, "jb-probe", MFD_CLOEXEC));
  if (memfd >= 0) close((int)memfd);
  return 0;
}

static int dispatch(int argc, char** argv);

/* Every mode that runs to its end prints PROBE-END last: the test knows the probe ran. */
int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const int status = dispatch(argc, argv);
  printf("PROBE-END\n");
  return status;
}

static int dispatch(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: probe MODE ARGS...\n");
    return 2;
  }
  const char* mode = argv[1];
  char** args = argv + 2;
  const int count = argc - 2;
  if (strcmp(mode, "chroot-escape") == 0 && count == 3) return chroot_escape(args);
  if (strcmp(mode, "fchdir") == 0 && count == 3) return fchdir_escape(args);
  if (strcmp(mode, "mknod") == 0 && count >= 2) return mknod_escape(count, args);
  if (strcmp(mode, "mount") == 0) return mount_escape();
  if (strcmp(mode, "ptrace") == 0 && count == 1) return ptrace_escape(args);
  if (strcmp(mode, "tty") == 0) return tty_escape();
  if (strcmp(mode, "open-handle") == 0 && count == 2) return open_handle_escape(args);
  if (strcmp(mode, "write") == 0 && count == 2) return write_escape(args);
  if (strcmp(mode, "manifest") == 0 && count == 2) return manifest_escape(args);
  if (strcmp(mode, "procs") == 0 && count == 1) return procs_escape(args);
  if (strcmp(mode, "creds") == 0) return print_credentials();
  if (strcmp(mode, "env") == 0 && count == 1) return print_environment(args);
  if (strcmp(mode, "int80") == 0) return int80();
  if (strcmp(mode, "x32") == 0) return x32();
  if (strcmp(mode, "denylist") == 0) return denylist();
  if (strcmp(mode, "exe") == 0) return exe_escape();
  if (strcmp(mode, "setuid") == 0 && count == 1) return setuid_escape(args);
  if (strcmp(mode, "read") == 0) return read_paths(count, args);
  if (strcmp(mode, "open-write") == 0) return open_for_writing(count, args);
  if (strcmp(mode, "dev-node") == 0 && count >= 2) return device_nodes(count, args);
  if (strcmp(mode, "kill") == 0 && count == 2) return kill_escape(args);
  if (strcmp(mode, "tcp") == 0 && count >= 2) return tcp(count, args);
  if (strcmp(mode, "create") == 0) return create_files(count, args);
  if (strcmp(mode, "signal") == 0 && count == 1) return signal_pid(args);
  if (strcmp(mode, "statvfs") == 0) return file_system_sizes(count, args);
  if (strcmp(mode, "keyring") == 0 && count == 1) return keyring_escape(args);
  if (strcmp(mode, "fork") == 0 && count == 1) return fork_bounded(args);
  if (strcmp(mode, "interrupt") == 0) return wait_for_interrupt();
  if (strcmp(mode, "hello") == 0) return puts("hello from the jail") < 0;
  if (strcmp(mode, "work") == 0 && count == 1) return ordinary_work(args[0]);
  if (strcmp(mode, "calls") == 0 && count == 1) return ordinary_work(args[0]) || untraced_calls();
  fprintf(stderr, "probe: unknown mode or wrong arguments: %s\n", mode);
  return 2;
}
#endif
