/* What jailbuild and the jail's init (jail_init.c) agree on; C, so that both can include it. */
#ifndef JAILBUILD_RUN_JAIL_INIT_H
#define JAILBUILD_RUN_JAIL_INIT_H

/* The signal numbers, from the C library or, in the freestanding init, from the kernel's headers:
 * the same numbers. */
#ifndef SIGHUP
#include <signal.h>
#endif

/* Passed on to the program when jailbuild receives them: by a process (kill, sigqueue) or from
 * the caller's terminal, whose foreground group the jail, a session of its own, is not in. */
static const int kJailForwardedSignals[] = {SIGHUP,  SIGINT,   SIGQUIT, SIGTERM, SIGUSR1,
                                            SIGUSR2, SIGWINCH, SIGCONT, SIGALRM, SIGTSTP};

/* The sigqueue value jailbuild sends with a signal the terminal sent: the init passes it to the
 * program's whole process group, as the terminal would have; any other goes to the program. */
enum { kJailSignalToGroup = 1 };

#endif
