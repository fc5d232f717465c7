/* The system calls the jail's init makes, and its entry point, without a C library: the init is
 * copied into a memfd and executed for every run, so it carries nothing it does not use.
 * x86-64 and AArch64, the architectures Debian builds jailbuild for. */
#ifndef JAILBUILD_RUN_JAIL_INIT_SYSCALLS_H
#define JAILBUILD_RUN_JAIL_INIT_SYSCALLS_H

#include <asm/unistd.h>
#include <linux/signal.h>

#if defined(__x86_64__)

static inline long syscall6(long number, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long result;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return result;
}

/* The kernel starts a program with the stack pointer at argc; the ABI wants it 16-byte aligned at
 * a call. */
__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call jail_init_start\n"
    "  hlt\n");

#elif defined(__aarch64__)

static inline long syscall6(long number, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}

__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  mov x0, sp\n"
    "  bl jail_init_start\n");

#else
#error "the jail's init knows the system calls of x86-64 and AArch64 only"
#endif

void jail_init_start(long* stack);

/* Each returns the kernel's answer: a result, or -errno. */
static inline long sys_write(int fd, const void* data, unsigned long size) {
  return syscall6(__NR_write, fd, (long)data, (long)size, 0, 0, 0);
}
static inline long sys_execve(const char* path, char* const* argv, char* const* envp) {
  return syscall6(__NR_execve, (long)path, (long)argv, (long)envp, 0, 0, 0);
}
/* fork as glibc makes it: clone with SIGCHLD and nothing shared (AArch64 has no fork). */
static inline long sys_fork(void) { return syscall6(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0); }
static inline long sys_setpgid(long pid, long group) { return syscall6(__NR_setpgid, pid, group, 0, 0, 0, 0); }
static inline long sys_kill(long pid, int signal) { return syscall6(__NR_kill, pid, signal, 0, 0, 0, 0); }
static inline long sys_wait4(long pid, int* status, int options) {
  return syscall6(__NR_wait4, pid, (long)status, options, 0, 0, 0);
}
static inline long sys_rt_sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  return syscall6(__NR_rt_sigprocmask, how, (long)set, (long)old, sizeof(sigset_t), 0, 0);
}
/* Waits, without a timeout, for one of `set` (blocked); returns its number. */
static inline long sys_rt_sigtimedwait(const sigset_t* set, siginfo_t* info) {
  long signal;
  while ((signal = syscall6(__NR_rt_sigtimedwait, (long)set, (long)info, 0, sizeof(sigset_t), 0, 0)) == -EINTR) {}
  return signal;
}
__attribute__((noreturn)) static inline void sys_exit(int status) {
  for (;;) syscall6(__NR_exit_group, status, 0, 0, 0, 0, 0);
}

/* What the compiler may call for a struct copy or an initialised array, freestanding or not. */
void* memset(void* to, int value, unsigned long size);
void* memcpy(void* to, const void* from, unsigned long size);
void* memset(void* to, int value, unsigned long size) {
  unsigned char* bytes = to;
  while (size-- > 0) *bytes++ = (unsigned char)value;
  return to;
}
void* memcpy(void* to, const void* from, unsigned long size) {
  unsigned char* out = to;
  const unsigned char* in = from;
  while (size-- > 0) *out++ = *in++;
  return to;
}

#endif
