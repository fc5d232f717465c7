// The jail's init (init/jail_init.c) as a sealed, anonymous executable: see jail_init.c for why
// jailbuild's own binary never runs inside a jail.
#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "embedded_file.hpp"
#include "jail_setup.hpp"
#include "util/io.hpp"
#include "util/system_error.hpp"

// The init program, built by CMake (target jailbuild_init).
JAILBUILD_EMBED_FILE(char, jailbuild_init, JAILBUILD_INIT_PATH, 16);

namespace jailbuild::run {
namespace {

// Linux 6.3 flags, absent from Debian 12's headers. MFD_EXEC asks for an executable memfd where
// vm.memfd_noexec would otherwise make it non-executable; F_SEAL_EXEC forbids changing its mode.
#ifndef MFD_EXEC
constexpr unsigned kMfdExec = 0x0010U;
#else
constexpr unsigned kMfdExec = MFD_EXEC;
#endif
#ifndef F_SEAL_EXEC
constexpr int kSealExec = 0x0020;
#else
constexpr int kSealExec = F_SEAL_EXEC;
#endif

}  // namespace

Result<UniqueFd> sealed_init() {
  constexpr unsigned kFlags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  int fd = ::memfd_create("jailbuild-init", kFlags | kMfdExec);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create("jailbuild-init", kFlags);  // before Linux 6.3
  if (fd < 0) return failed("memfd_create for the jail's init");
  UniqueFd init(fd);
  const auto size = static_cast<std::size_t>(jailbuild_init_end - jailbuild_init_begin);
  if (const int error = write_all(init.get(), std::string_view(jailbuild_init_begin, size)); error != 0)
    return system_error("write the jail's init", error);
  // Sealed, the copy can never change: not its bytes, not its size, not (from 6.3) its mode, and
  // the seals themselves are final.
  constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
  if (::fcntl(init.get(), F_ADD_SEALS, kSeals | kSealExec) != 0 &&
      (errno != EINVAL || ::fcntl(init.get(), F_ADD_SEALS, kSeals) != 0))
    return failed("seal the jail's init");
  return init;
}

}  // namespace jailbuild::run
