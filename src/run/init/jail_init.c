/* The jail's init: the only program of jailbuild's that ever runs inside a jail.
 *
 * Why a separate program: a process's /proc/self/exe is a link to the file it runs. Were the
 * jail's processes forks of jailbuild, a root holding `/app -> /proc/self/exe` (or a script
 * `#!/proc/self/exe`, or an ELF interpreter of that name) would make them exec the host's
 * jailbuild binary inside the jail, with the jail's /etc/ld.so.preload, and a jailed uid 0 could
 * then chmod that host file (runc's CVE-2019-5736). jailbuild embeds this small static program
 * and execs it from a sealed memfd (see sealed_init.cpp) once the jail is set up: from then on
 * every process in the jail runs either this anonymous, write-sealed copy or a file of the root.
 *
 * It starts already jailed (ids, capabilities, limits and the seccomp filter are set by
 * jailbuild before the exec, and inherited), so it needs no privilege and has none.
 *
 *   jailbuild-init init PROGRAM [ARGS...]   pid 1 of the jail's PID namespace: starts PROGRAM as
 *                                           its own process group, passes signals on, reaps
 *                                           orphans, exits with PROGRAM's status
 *   jailbuild-init exec PROGRAM [ARGS...]   (--chroot-only) becomes PROGRAM
 *
 * PROGRAM is found as execvpe would, in the PATH of the environment this program was given (the
 * program's own), without execvpe's fallback of running a non-ELF file with /bin/sh. Exit status:
 * PROGRAM's (128+N if signal N killed it), 126 found but not executable, 127 not found, 125 the
 * init itself failed.
 *
 * Freestanding: no C library, only system calls (jail_init_syscalls.h). It is copied into a
 * memfd and executed for every run, and a static glibc (680 KB, its start-up included) made that
 * a sixth of a run's cost; this is a few kilobytes. */
#include <asm-generic/errno.h>
#include <linux/signal.h>
#include <linux/wait.h>

#include "jail_init_syscalls.h"

#include "jail_init.h"

enum { kRunFailed = 125, kRunCannotExecute = 126, kRunNotFound = 127 };

static char** environment;

static unsigned long length_of(const char* text) {
  unsigned long length = 0;
  while (text[length] != '\0') ++length;
  return length;
}

static int equal(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

static int starts_with(const char* text, const char* prefix) {
  while (*prefix != '\0' && *text == *prefix) ++text, ++prefix;
  return *prefix == '\0';
}

static int contains(const char* text, char c) {
  for (; *text != '\0'; ++text)
    if (*text == c) return 1;
  return 0;
}

/* Appends `text` to the message in `buffer`, as far as it fits. */
static void append(char* buffer, unsigned long* used, unsigned long size, const char* text) {
  for (; *text != '\0' && *used + 1 < size; ++text) buffer[(*used)++] = *text;
  buffer[*used] = '\0';
}

/* The usual strerror text of the errors execve gives, else "error N". */
static const char* error_text(int error, char number[16]) {
  switch (error) {
    case EACCES: return "Permission denied";
    case ENOEXEC: return "Exec format error";
    case ENOENT: return "No such file or directory";
    case ENOTDIR: return "Not a directory";
    case ELOOP: return "Too many levels of symbolic links";
    case ENAMETOOLONG: return "File name too long";
    case ETXTBSY: return "Text file busy";
    case ENOMEM: return "Cannot allocate memory";
    case E2BIG: return "Argument list too long";
    case EPERM: return "Operation not permitted";
    case EISDIR: return "Is a directory";
    case ELIBBAD: return "Accessing a corrupted shared library";
    case EAGAIN: return "Resource temporarily unavailable";
  }
  char digits[12];
  int count = 0;
  for (unsigned value = (unsigned)error; count == 0 || value != 0; value /= 10)
    digits[count++] = (char)('0' + value % 10);
  unsigned long used = 0;
  number[0] = '\0';
  append(number, &used, 16, "error ");
  while (count > 0 && used + 1 < 16) number[used++] = digits[--count];
  number[used] = '\0';
  return number;
}

/* "jailbuild: run: PROGRAM: WHAT[: DETAIL]" on standard error, in one write. */
static void report(const char* program, const char* what, const char* detail) {
  char message[4096 + 256];
  unsigned long used = 0;
  append(message, &used, sizeof message, "jailbuild: run: ");
  append(message, &used, sizeof message, program);
  append(message, &used, sizeof message, ": ");
  append(message, &used, sizeof message, what);
  if (detail != 0) append(message, &used, sizeof message, detail);
  append(message, &used, sizeof message, "\n");
  sys_write(2, message, used);
}

static const char* search_path(void) {
  for (char** entry = environment; *entry != 0; ++entry)
    if (starts_with(*entry, "PATH=")) return *entry + 5;
  return "/usr/bin:/bin";
}

/* execve, or a PATH search: status 126 for a program found but not executable, 127 for one not
 * found. */
__attribute__((noreturn)) static void exec_program(char** argv) {
  const char* program = argv[0];
  char number[16];
  if (contains(program, '/')) {
    const long error = -sys_execve(program, argv, environment);
    if (error == ENOENT || error == ENOTDIR) {
      report(program, "no such file in the root", 0);
      sys_exit(kRunNotFound);
    }
    report(program, "cannot execute: ", error_text((int)error, number));
    sys_exit(kRunCannotExecute);
  }
  const char* path = search_path();
  const unsigned long name_length = length_of(program);
  long cannot_execute = 0;
  for (const char* begin = path;;) {
    const char* end = begin;
    while (*end != '\0' && *end != ':') ++end;
    /* An empty entry is the working directory, as in execvpe. */
    const unsigned long length = end == begin ? 1 : (unsigned long)(end - begin);
    char candidate[4096];
    if (length + 1 + name_length < sizeof candidate) {
      const char* directory = end == begin ? "." : begin;
      for (unsigned long i = 0; i < length; ++i) candidate[i] = directory[i];
      candidate[length] = '/';
      for (unsigned long i = 0; i <= name_length; ++i) candidate[length + 1 + i] = program[i];
      const long error = -sys_execve(candidate, argv, environment);
      if (error != ENOENT && error != ENOTDIR && cannot_execute == 0) cannot_execute = error;
    }
    if (*end == '\0') break;
    begin = end + 1;
  }
  if (cannot_execute != 0) {
    report(program, "cannot execute: ", error_text((int)cannot_execute, number));
    sys_exit(kRunCannotExecute);
  }
  char message[4096];
  unsigned long used = 0;
  append(message, &used, sizeof message, "not found in the root's PATH (");
  append(message, &used, sizeof message, path);
  append(message, &used, sizeof message, ")");
  report(program, message, 0);
  sys_exit(kRunNotFound);
}

static int exit_status_of(int status) {
  const int signal = status & 0x7f;
  return signal != 0 ? 128 + signal : (status >> 8) & 0xff;
}

/* Pid 1: the program in its own process group, every signal jailbuild passes on delivered to it
 * (to its whole group when the caller's terminal sent it: Ctrl-C reaches a jailed shell's
 * foreground program), every child reaped; returns the program's exit status. When it returns,
 * the kernel kills whatever is left in the jail. */
static int supervise_program(char** argv) {
  /* Blocked, the signals are queued even for a namespace's init, which the kernel otherwise spares
   * every signal it has no handler for, and are taken one by one with rt_sigtimedwait. */
  sigset_t supervised = 0, program_mask = 0;
  for (unsigned long i = 0; i < sizeof kJailForwardedSignals / sizeof kJailForwardedSignals[0]; ++i)
    supervised |= 1UL << (kJailForwardedSignals[i] - 1);
  supervised |= 1UL << (SIGCHLD - 1);
  /* The caller's mask, kept across jailbuild's execs, is the program's. */
  sys_rt_sigprocmask(SIG_BLOCK, &supervised, &program_mask);

  const long program = sys_fork();
  if (program < 0) {
    report(argv[0], "fork the program failed", 0);
    return kRunFailed;
  }
  if (program == 0) {
    /* Its own group, so that a terminal signal reaches it and its children but not the init. */
    sys_setpgid(0, 0);
    sys_rt_sigprocmask(SIG_SETMASK, &program_mask, 0);
    exec_program(argv);
  }
  sys_setpgid(program, program); /* either side may run first */
  for (;;) {
    siginfo_t info;
    const long signal = sys_rt_sigtimedwait(&supervised, &info);
    if (signal == SIGCHLD) {
      int status = 0;
      for (long reaped; (reaped = sys_wait4(-1, &status, WNOHANG)) > 0;)
        if (reaped == program) return exit_status_of(status);
    } else if (signal > 0) {
      const int to_group = info.si_code == SI_QUEUE && info.si_int == kJailSignalToGroup;
      sys_kill(to_group ? -program : program, (int)signal);
    }
  }
}

static int run(int argc, char** argv) {
  if (argc >= 3 && equal(argv[1], "init")) return supervise_program(argv + 2);
  if (argc >= 3 && equal(argv[1], "exec")) exec_program(argv + 2);
  static const char usage[] = "jailbuild-init: usage: jailbuild-init init|exec PROGRAM [ARGS...]\n";
  sys_write(2, usage, sizeof usage - 1);
  return kRunFailed;
}

/* Called by _start (jail_init_syscalls.h) with the stack the kernel laid out: argc, argv, a null,
 * the environment, a null. */
void jail_init_start(long* stack) {
  const int argc = (int)stack[0];
  char** argv = (char**)(stack + 1);
  environment = argv + argc + 1;
  sys_exit(run(argc, argv));
}
