// --net=none: a new network namespace starts with loopback down; programs expect 127.0.0.1.
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "jail_setup.hpp"

namespace jailbuild::run {

Step bring_up_loopback() {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return failed("loopback: socket");
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  Step result;
  if (::ioctl(sock, SIOCGIFFLAGS, &request) != 0) {
    result = failed("loopback: read its flags");
  } else {
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(sock, SIOCSIFFLAGS, &request) != 0) result = failed("loopback: bring it up");
  }
  ::close(sock);
  return result;
}

}  // namespace jailbuild::run
