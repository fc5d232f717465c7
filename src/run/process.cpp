// What the jail's process would otherwise carry over from jailbuild's: its session, its keyring,
// its descriptors. Child-side steps.
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

#include "jail_setup.hpp"

namespace jailbuild::run {

// A session of its own (kill(0) and a terminal's signals reach no host process, and the caller's
// terminal is not the jail's controlling terminal, so TIOCSTI needs a capability the jail lacks),
// and a fresh session keyring: keyrings are not namespaced, and the caller's may hold secrets.
Result<void> detach_from_caller() {
  if (::setsid() < 0) return failed("setsid");
  if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr) < 0 && errno != ENOSYS)
    return failed("join a new session keyring");
  return {};
}

// A descriptor of the host's file system is a way out of any root (fchdir, openat), and /proc/1/fd
// would show it.
Result<void> close_all_but(std::initializer_list<int> keep) {
  std::vector<int> kept(keep);
  std::sort(kept.begin(), kept.end());
  unsigned first = 3;
  for (int fd : kept) {
    if (fd < static_cast<int>(first)) continue;
    if (static_cast<unsigned>(fd) > first && ::close_range(first, static_cast<unsigned>(fd) - 1, 0) != 0)
      return failed("close inherited descriptors");
    first = static_cast<unsigned>(fd) + 1;
  }
  if (::close_range(first, UINT_MAX, 0) != 0) return failed("close inherited descriptors");
  return {};
}

}  // namespace jailbuild::run
