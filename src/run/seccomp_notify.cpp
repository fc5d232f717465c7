// run -v with an allowlist: each system call the allowlist refuses, said once by name. The
// allowlist's refusal (EPERM) becomes SECCOMP_RET_USER_NOTIF, and jailbuild, holding the filter's
// listener, answers every notification with the same EPERM the filter would have returned, so the
// program sees no difference; it only learns the name on the way. The audit log was the other
// way: it needs root to read, holds every process's refusals, and is rate-limited.
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "jail_setup.hpp"
#include "seccomp_policy.hpp"
#include "util/io.hpp"

namespace jailbuild::run {

namespace {

constexpr char kListenerTaken = 'y';
constexpr char kListenerLost = 'n';

// The kernel's sizes of the notification and its answer, which may grow beyond the headers'.
struct NotificationSizes {
  std::size_t notification = sizeof(seccomp_notif);
  std::size_t response = sizeof(seccomp_notif_resp);
};

NotificationSizes notification_sizes() {
  seccomp_notif_sizes sizes{};
  NotificationSizes known;
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return known;
  known.notification = std::max<std::size_t>(known.notification, sizes.seccomp_notif);
  known.response = std::max<std::size_t>(known.response, sizes.seccomp_notif_resp);
  return known;
}

std::string call_name(int number) {
  auto name = system_call_name(number);
  return name ? *name : "system call " + std::to_string(number);
}

}  // namespace

std::string notifying_refusals(std::string program) {
  constexpr std::uint32_t kRefused = SECCOMP_RET_ERRNO | EPERM;
  for (std::size_t at = 0; at + sizeof(sock_filter) <= program.size(); at += sizeof(sock_filter)) {
    sock_filter instruction{};
    std::memcpy(&instruction, program.data() + at, sizeof instruction);
    if (instruction.code != (BPF_RET | BPF_K) || instruction.k != kRefused) continue;
    instruction.k = SECCOMP_RET_USER_NOTIF;
    std::memcpy(program.data() + at, &instruction, sizeof instruction);
  }
  return program;
}

Result<void> load_notifying_allowlist(std::string_view program, int number_fd, int answer_fd) {
  std::vector<sock_filter> code(program.size() / sizeof(sock_filter));
  std::memcpy(code.data(), program.data(), code.size() * sizeof(sock_filter));
  const sock_fprog filter{static_cast<unsigned short>(code.size()), code.data()};
  // The listener is close-on-exec (the kernel opens it so): the program never holds it, and could
  // not answer its own refusals.
  const long listener = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &filter);
  if (listener < 0) return failed("seccomp: load the allowlist with a listener");
  // From here every call outside the allowlist waits for jailbuild, which has no listener yet:
  // only the baseline's read, write and close until it has taken it.
  const int number = static_cast<int>(listener);
  if (::write(number_fd, &number, sizeof number) != static_cast<ssize_t>(sizeof number))
    return failed("seccomp: hand the allowlist's listener to jailbuild");
  char answer = 0;
  ssize_t got;
  while ((got = ::read(answer_fd, &answer, 1)) < 0 && errno == EINTR) {}
  if (got != 1 || answer != kListenerTaken)
    return Error{"seccomp: jailbuild could not take the allowlist's listener (pidfd_getfd)"};
  ::close(number);
  ::close(number_fd);
  ::close(answer_fd);
  return {};
}

RefusalReporter::RefusalReporter(std::string origin) : origin_(std::move(origin)) {}

Result<int> RefusalReporter::open_channel() {
  int ends[2] = {-1, -1};
  if (::pipe2(ends, O_CLOEXEC) != 0) return failed("pipe");
  number_read_ = UniqueFd(ends[0]);
  number_write_ = UniqueFd(ends[1]);
  stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  if (!stop_.valid()) return failed("eventfd");
  return number_write_.get();
}

void RefusalReporter::start(pid_t child, int answer_fd) {
  number_write_ = UniqueFd();  // the child's copy is the only one left: its end is the end of it
  thread_ = std::thread([this, child, answer_fd] { serve(child, answer_fd); });
}

RefusalReporter::~RefusalReporter() { stop(); }

void RefusalReporter::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  (void)::write(stop_.get(), &one, sizeof one);
  thread_.join();
}

// On its own thread, from the child's clone to the jail's end: jailbuild's main thread waits for
// signals meanwhile (runner.cpp's supervise).
void RefusalReporter::serve(pid_t child, int answer_fd) {
  int number = -1;
  const std::span<char> number_bytes(reinterpret_cast<char*>(&number), sizeof number);
  if (read_full(number_read_.get(), number_bytes) != static_cast<ssize_t>(sizeof number)) return;  // it ended first
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
  const UniqueFd listener(pidfd.valid() ? static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), number, 0)) : -1);
  if (!listener.valid()) {
    spdlog::error("seccomp: take the allowlist's listener from pid {}: {}", child, std::strerror(errno));
    (void)::write(answer_fd, &kListenerLost, 1);
    return;
  }
  if (::write(answer_fd, &kListenerTaken, 1) != 1) return;

  const NotificationSizes sizes = notification_sizes();
  std::vector<unsigned char> notification_bytes(sizes.notification), response_bytes(sizes.response);
  std::set<int> reported;
  pollfd waiting[2] = {{listener.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  while (true) {
    if (::poll(waiting, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (waiting[1].revents != 0) return;
    if ((waiting[0].revents & POLLIN) == 0) return;  // POLLHUP: no process of the jail is left
    std::fill(notification_bytes.begin(), notification_bytes.end(), 0);
    auto* notification = reinterpret_cast<seccomp_notif*>(notification_bytes.data());
    // ENOENT: the caller died, or a signal took it away before jailbuild read the call.
    if (::ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_RECV, notification) != 0) continue;
    std::fill(response_bytes.begin(), response_bytes.end(), 0);
    auto* response = reinterpret_cast<seccomp_notif_resp*>(response_bytes.data());
    response->id = notification->id;
    response->error = -EPERM;  // what the allowlist says without -v
    (void)::ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SEND, response);
    if (reported.insert(notification->data.nr).second)
      spdlog::info("seccomp: the allowlist ({}) refused {} (EPERM), first to host pid {}",
                   origin_, call_name(notification->data.nr), notification->pid);
  }
}

}  // namespace jailbuild::run
