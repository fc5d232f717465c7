// Landlock in `jailbuild run`: files written only where the jail may write (most of all under
// --chroot-only, which has no mount namespace), TCP ports as a list (--allow-connect, --allow-bind)
// and signals scoped to the jail. Each probe (tests/run/escape_probe.c) beside its control, the same
// run with --landlock off or without the option, which gets through.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/escape_suite.hpp"

namespace jailbuild {
namespace {

using namespace testing;

int landlock_abi() {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

// A TCP socket listening on 127.0.0.1 at a port the kernel chose, closed with the object.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0)
      return;
    port_ = std::to_string(ntohs(address.sin_port));
  }
  ~Listener() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& port() const { return port_; }

 private:
  int fd_ = -1;
  std::string port_;
};

// A port nothing listens on and the kernel would let anyone bind: one it just gave and took back.
std::string free_port() {
  const Listener listener;
  return listener.port();
}

class Landlock : public EscapeSuite {
 protected:
  static void SetUpTestSuite() {
    set_up_probe_suite("landlock");
    if (!setup_error_.empty() || ::geteuid() != 0) return;
    // A directory of the root anyone may write: only Landlock stands between --chroot-only and it.
    fs::create_directories(root_ + "/srv/open");
    fs::permissions(root_ + "/srv/open", fs::perms::all);
  }
  void SetUp() override {
    EscapeSuite::SetUp();
    if (IsSkipped()) return;
    if (landlock_abi() == 0) GTEST_SKIP() << "the kernel offers no Landlock";
  }
};

TEST_F(Landlock, ChrootOnlyWritesOnlyInTmpWhateverTheRootsPermissions) {
  const std::vector<std::string> probe{"create", "/srv/open/x", "/tmp/x"};
  const ProcessResult jailed = jail({"--chroot-only", "-u", "nobody"}, probe);
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "create /srv/open/x"), "EACCES") << jailed.output;
  EXPECT_EQ(answer(jailed, "create /tmp/x"), "OK") << jailed.output;
  // The control: without Landlock, the root's own permissions let nobody write there.
  const ProcessResult control = jail({"--chroot-only", "-u", "nobody", "--landlock", "off"}, probe);
  expect_ran(control);
  EXPECT_EQ(answer(control, "create /srv/open/x"), "OK") << control.output;
}

TEST_F(Landlock, WritesInTheDefaultModeOnlyWhereTheJailWasGivenAPlace) {
  // A --tmpfs is a place to write, and so is /dev/shm; the read-only root is not (the mounts say
  // EROFS before Landlock is asked, and Landlock would say EACCES).
  const ProcessResult jailed = jail({"--tmpfs", "/srv/open"}, {"create", "/srv/open/x", "/dev/shm/x", "/srv/x"});
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "create /srv/open/x"), "OK") << jailed.output;
  EXPECT_EQ(answer(jailed, "create /dev/shm/x"), "OK") << jailed.output;
  EXPECT_NE(answer(jailed, "create /srv/x"), "OK") << jailed.output;
  // With --writable the whole root is the jail's to write, Landlock agreeing.
  const ProcessResult writable = jail({"--writable", "--host-root"}, {"create", "/srv/x"});
  expect_ran(writable);
  EXPECT_EQ(answer(writable, "create /srv/x"), "OK") << writable.output;
}

TEST_F(Landlock, AllowConnectMakesTheNetworkAList) {
  if (landlock_abi() < 4) GTEST_SKIP() << "TCP rules need Landlock ABI 4";
  const Listener allowed, other;
  ASSERT_FALSE(allowed.port().empty());
  ASSERT_FALSE(other.port().empty());
  const std::vector<std::string> probe{"tcp", "connect", allowed.port(), other.port()};
  const ProcessResult jailed = jail({"--net", "host", "--allow-connect", allowed.port()}, probe);
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "connect " + allowed.port()), "OK") << jailed.output;
  EXPECT_EQ(answer(jailed, "connect " + other.port()), "EACCES") << jailed.output;
  // The control: with --net host and no list, both connect.
  const ProcessResult control = jail({"--net", "host"}, probe);
  expect_ran(control);
  EXPECT_EQ(answer(control, "connect " + allowed.port()), "OK") << control.output;
  EXPECT_EQ(answer(control, "connect " + other.port()), "OK") << control.output;
}

TEST_F(Landlock, AllowBindMakesBindingAList) {
  if (landlock_abi() < 4) GTEST_SKIP() << "TCP rules need Landlock ABI 4";
  const std::string allowed = free_port(), other = free_port();
  const std::vector<std::string> probe{"tcp", "bind", allowed, other};
  const ProcessResult jailed = jail({"--net", "none", "--allow-bind", allowed}, probe);
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "bind " + allowed), "OK") << jailed.output;
  EXPECT_EQ(answer(jailed, "bind " + other), "EACCES") << jailed.output;
  const ProcessResult control = jail({"--net", "none"}, probe);
  expect_ran(control);
  EXPECT_EQ(answer(control, "bind " + other), "OK") << control.output;
}

TEST_F(Landlock, AJailCannotSignalAHostProcessOfItsOwnUid) {
  if (landlock_abi() < 6) GTEST_SKIP() << "signal scoping needs Landlock ABI 6";
  // --chroot-only shares the host's PID namespace: the host's process is in plain sight.
  const HostProcess sleeper(kNobody);
  ASSERT_GT(sleeper.pid, 0);
  const std::string pid = std::to_string(sleeper.pid);
  const std::vector<std::string> probe{"signal", pid};
  const ProcessResult jailed = jail({"--chroot-only", "-u", "nobody"}, probe);
  expect_ran(jailed);
  EXPECT_EQ(answer(jailed, "signal " + pid), "EPERM") << jailed.output;
  const ProcessResult control = jail({"--chroot-only", "-u", "nobody", "--landlock", "off"}, probe);
  expect_ran(control);
  EXPECT_EQ(answer(control, "signal " + pid), "OK") << control.output;
}

TEST_F(Landlock, IsReportedAndRefusesWhatItCannotEnforce) {
  const ProcessResult verbose = run_process({JAILBUILD_BINARY, "-v", "run", root_, probe_, "hello"}, kPlainEnv);
  EXPECT_EQ(verbose.exit_code, 0) << verbose.describe();
  EXPECT_TRUE(contains(verbose.output, "Landlock: ABI " + std::to_string(landlock_abi()))) << verbose.output;
  const ProcessResult refused = jail({"--landlock", "off", "--allow-connect", "80"}, {"hello"});
  EXPECT_EQ(refused.exit_code, 125) << refused.describe();
  EXPECT_TRUE(contains(refused.output, "not with --landlock off")) << refused.output;
  const ProcessResult bad_port = jail({"--allow-connect", "70000"}, {"hello"});
  EXPECT_EQ(bad_port.exit_code, 125) << bad_port.describe();
}

}  // namespace
}  // namespace jailbuild
