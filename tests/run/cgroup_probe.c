// What tests/run/cgroup_test.cpp runs in a jail to see its cgroup's limits at work. One mode per
// run; each prints what it measured and "PROBE-END" when it got to its end:
//   hello             "hello from the jail" (the suite's check that the jail runs at all)
//   cgroup            the lines of /proc/self/cgroup, as "CGROUP LINE"
//   alloc MIB         malloc and touch MIB MiB, "allocated MIB MiB"
//   fork N            fork up to N children that wait, "forked K" (K <= N), then end them
//   spin SECONDS      a busy loop for SECONDS of wall time, "cpu-share X" (CPU time / wall time)
//   orphan            fork a child that sleeps 60 s and leave it, "orphan PID"
//   wait              "waiting", then wait for a signal
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(const struct timespec* t) { return (double)t->tv_sec + (double)t->tv_nsec / 1e9; }

static int show_cgroup(void) {
  FILE* file = fopen("/proc/self/cgroup", "r");
  if (file == NULL) {
    printf("cgroup: %s\n", strerror(errno));
    return 1;
  }
  char line[4096];
  while (fgets(line, sizeof line, file) != NULL) printf("CGROUP %s", line);
  fclose(file);
  return 0;
}

static int allocate(long mib) {
  const size_t size = (size_t)mib << 20;
  char* memory = malloc(size);
  if (memory == NULL) {
    printf("malloc: %s\n", strerror(errno));
    return 1;
  }
  // Touched page by page: an untouched allocation costs no memory.
  for (size_t offset = 0; offset < size; offset += 4096) memory[offset] = 1;
  printf("allocated %ld MiB\n", mib);
  free(memory);
  return 0;
}

static int fork_children(long wanted) {
  pid_t* children = calloc((size_t)wanted, sizeof(pid_t));
  long forked = 0;
  for (; forked < wanted; ++forked) {
    const pid_t child = fork();
    if (child < 0) break;
    if (child == 0) {
      pause();
      _exit(0);
    }
    children[forked] = child;
  }
  printf("forked %ld\n", forked);
  for (long i = 0; i < forked; ++i) kill(children[i], SIGKILL);
  for (long i = 0; i < forked; ++i) waitpid(children[i], NULL, 0);
  free(children);
  return 0;
}

static int spin(double wall) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  volatile unsigned long counter = 0;
  do {
    for (int i = 0; i < 100000; ++i) ++counter;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (seconds(&now) - seconds(&start) < wall);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
                     (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
  printf("cpu-share %.3f\n", cpu / (seconds(&now) - seconds(&start)));
  return 0;
}

static int orphan(void) {
  const pid_t child = fork();
  if (child < 0) {
    printf("fork: %s\n", strerror(errno));
    return 1;
  }
  if (child == 0) {
    // Off the jail's output, so that whoever reads it sees the end of the program's.
    fclose(stdout);
    fclose(stderr);
    sleep(60);
    _exit(0);
  }
  printf("orphan %d\n", (int)child);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);  // what was printed is seen, even if the OOM killer ends the probe
  if (argc < 2) return 2;
  const char* mode = argv[1];
  int status = 2;
  if (strcmp(mode, "hello") == 0) {
    printf("hello from the jail\n");
    status = 0;
  } else if (strcmp(mode, "cgroup") == 0) {
    status = show_cgroup();
  } else if (strcmp(mode, "alloc") == 0 && argc > 2) {
    show_cgroup();
    status = allocate(atol(argv[2]));
  } else if (strcmp(mode, "fork") == 0 && argc > 2) {
    status = fork_children(atol(argv[2]));
  } else if (strcmp(mode, "spin") == 0 && argc > 2) {
    status = spin(atof(argv[2]));
  } else if (strcmp(mode, "wait") == 0) {
    printf("waiting\n");
    pause();
  } else if (strcmp(mode, "orphan") == 0) {
    status = orphan();
  }
  if (status == 0) printf("PROBE-END\n");
  return status;
}
