// --net=none: a new network namespace starts with loopback down; programs expect 127.0.0.1.
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "jail_setup.hpp"

namespace jailbuild::run {

Result<void> bring_up_loopback() {
  const UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return failed("loopback: socket");
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0) return failed("loopback: read its flags");
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0) return failed("loopback: bring it up");
  return {};
}

}  // namespace jailbuild::run
