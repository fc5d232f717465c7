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
 * init itself failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail_init.h"

enum { kRunFailed = 125, kRunCannotExecute = 126, kRunNotFound = 127 };

extern char** environ;

static void report(const char* program, const char* what) {
  dprintf(STDERR_FILENO, "jailbuild: run: %s: %s\n", program, what);
}

static const char* search_path(void) {
  const char* path = getenv("PATH");
  return path ? path : "/usr/bin:/bin";
}

/* execve, or a PATH search: status 126 for a program found but not executable, 127 for one not
 * found. */
static _Noreturn void exec_program(char** argv) {
  const char* program = argv[0];
  if (strchr(program, '/') != NULL) {
    execve(program, argv, environ);
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      report(program, "no such file in the root");
      _exit(kRunNotFound);
    }
    dprintf(STDERR_FILENO, "jailbuild: run: %s: cannot execute: %s\n", program, strerror(error));
    _exit(kRunCannotExecute);
  }
  const char* path = search_path();
  const size_t name_length = strlen(program);
  int cannot_execute = 0;
  for (const char* begin = path;; ) {
    const char* end = strchr(begin, ':');
    if (end == NULL) end = begin + strlen(begin);
    /* An empty entry is the working directory, as in execvpe. */
    const size_t length = end == begin ? 1 : (size_t)(end - begin);
    char candidate[4096];
    if (length + 1 + name_length < sizeof candidate) {
      memcpy(candidate, end == begin ? "." : begin, length);
      candidate[length] = '/';
      memcpy(candidate + length + 1, program, name_length + 1);
      execve(candidate, argv, environ);
      if (errno != ENOENT && errno != ENOTDIR && cannot_execute == 0) cannot_execute = errno;
    }
    if (*end == '\0') break;
    begin = end + 1;
  }
  if (cannot_execute != 0) {
    dprintf(STDERR_FILENO, "jailbuild: run: %s: cannot execute: %s\n", program, strerror(cannot_execute));
    _exit(kRunCannotExecute);
  }
  dprintf(STDERR_FILENO, "jailbuild: run: %s: not found in the root's PATH (%s)\n", program, path);
  _exit(kRunNotFound);
}

static void ignore_signal(int signal) { (void)signal; }

static int exit_status_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

/* Pid 1: the program in its own process group, every signal jailbuild passes on delivered to it
 * (to its whole group when the caller's terminal sent it: Ctrl-C reaches a jailed shell's
 * foreground program), every child reaped; returns the program's exit status. When it returns,
 * the kernel kills whatever is left in the jail. */
static int supervise_program(char** argv) {
  /* A namespace's init receives only the signals it has a handler for; they stay blocked and are
   * taken with sigwaitinfo, the handler only makes the kernel deliver them. */
  sigset_t program_mask, supervised;
  sigprocmask(SIG_SETMASK, NULL, &program_mask); /* the caller's, kept across jailbuild's execs */
  sigemptyset(&supervised);
  struct sigaction action = {.sa_handler = ignore_signal};
  for (size_t i = 0; i < sizeof kJailForwardedSignals / sizeof kJailForwardedSignals[0]; ++i) {
    sigaction(kJailForwardedSignals[i], &action, NULL);
    sigaddset(&supervised, kJailForwardedSignals[i]);
  }
  sigaddset(&supervised, SIGCHLD);
  sigprocmask(SIG_BLOCK, &supervised, NULL);

  const pid_t program = fork();
  if (program < 0) {
    report(argv[0], "fork the program failed");
    return kRunFailed;
  }
  if (program == 0) {
    action.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof kJailForwardedSignals / sizeof kJailForwardedSignals[0]; ++i)
      sigaction(kJailForwardedSignals[i], &action, NULL);
    /* Its own group, so that a terminal signal reaches it and its children but not the init. */
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, &program_mask, NULL);
    exec_program(argv);
  }
  setpgid(program, program); /* either side may run first */
  for (;;) {
    siginfo_t info;
    const int signal = sigwaitinfo(&supervised, &info);
    if (signal == SIGCHLD) {
      int status = 0;
      for (pid_t reaped; (reaped = waitpid(-1, &status, WNOHANG)) > 0;)
        if (reaped == program) return exit_status_of(status);
    } else if (signal > 0) {
      const int to_group = info.si_code == SI_QUEUE && info.si_value.sival_int == kJailSignalToGroup;
      kill(to_group ? -program : program, signal);
    }
  }
}

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "init") == 0) return supervise_program(argv + 2);
  if (argc >= 3 && strcmp(argv[1], "exec") == 0) exec_program(argv + 2);
  dprintf(STDERR_FILENO, "jailbuild-init: usage: jailbuild-init init|exec PROGRAM [ARGS...]\n");
  return kRunFailed;
}
