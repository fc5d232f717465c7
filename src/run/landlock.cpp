// Landlock: the plan from the options and the ABI, and the child's step that enforces it (see
// landlock.hpp). Raw system calls: Debian 12's headers know ABI 2; what later ABIs added is
// defined here, as the kernel's uapi header defines it.
#include "landlock.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "jail_setup.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::run {
namespace {

// The ruleset's attributes as the kernel reads them since ABI 6; an older kernel takes a prefix
// (the size passed says how much), which is why the plan never sets a field its ABI lacks.
struct RulesetAttributes {
  std::uint64_t handled_access_fs = 0;
  std::uint64_t handled_access_net = 0;  // ABI 4
  std::uint64_t scoped = 0;              // ABI 6
};

struct NetPortAttributes {  // LANDLOCK_RULE_NET_PORT, ABI 4
  std::uint64_t allowed_access = 0;
  std::uint64_t port = 0;
};

constexpr int kRuleNetPort = 2;
constexpr std::uint64_t kFsTruncate = 1ULL << 14;   // ABI 3
constexpr std::uint64_t kFsIoctlDev = 1ULL << 15;   // ABI 5
constexpr std::uint64_t kNetBindTcp = 1ULL << 0;    // ABI 4
constexpr std::uint64_t kNetConnectTcp = 1ULL << 1; // ABI 4
constexpr std::uint64_t kScopeAbstractUnixSocket = 1ULL << 0;  // ABI 6
constexpr std::uint64_t kScopeSignal = 1ULL << 1;              // ABI 6

// The rights that apply to a file itself, not to a directory's entries.
constexpr std::uint64_t kFsFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                        LANDLOCK_ACCESS_FS_READ_FILE | kFsTruncate | kFsIoctlDev;

constexpr std::uint64_t kFsRead = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

// Every file system right the kernel at `abi` knows: all handled, so that none is left open.
std::uint64_t fs_rights_of(int abi) {
  std::uint64_t rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) rights |= kFsTruncate;
  if (abi >= 5) rights |= kFsIoctlDev;
  return rights;
}

long create_ruleset(const RulesetAttributes* attributes, std::size_t size, unsigned flags) {
  return ::syscall(SYS_landlock_create_ruleset, attributes, size, flags);
}

// How much of RulesetAttributes the kernel at `abi` reads.
std::size_t attributes_size(int abi) {
  if (abi >= 6) return sizeof(RulesetAttributes);
  if (abi >= 4) return offsetof(RulesetAttributes, scoped);
  return offsetof(RulesetAttributes, handled_access_net);
}

}  // namespace

int landlock_abi() {
  const long abi = create_ruleset(nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

Result<LandlockPlan> plan_landlock(const RunOptions& options, int abi) {
  const bool ports_asked = options.allow_connect.has_value() || options.allow_bind.has_value();
  if (!options.landlock) {
    if (ports_asked) return Error::usage("--allow-connect and --allow-bind are Landlock's: not with --landlock off");
    return LandlockPlan{};
  }
  if (abi < 4 && ports_asked)
    return Error::usage("--allow-connect and --allow-bind need Landlock ABI 4 (Linux 6.7); this kernel offers " +
                        (abi == 0 ? std::string("none") : "ABI " + std::to_string(abi)));
  LandlockPlan plan;
  if (abi == 0) return plan;  // nothing to enforce with: said at -v, as the ABI is
  plan.abi = abi;
  const std::uint64_t all = fs_rights_of(abi);
  plan.handled_fs = all;
  plan.paths.push_back({"/", options.writable ? all : kFsRead});
  if (!options.writable) {
    // What the jail may write, beside its own files: the scratch directories and the mounts it
    // was given read-write. Under --chroot-only /tmp is the root's own directory, the one place
    // the jail is meant to write.
    plan.paths.push_back({"/tmp", all});
    if (!options.chroot_only) plan.paths.push_back({"/dev/shm", all});
    for (const JailMount& mount : options.mounts)
      if (mount.kind != JailMount::Kind::ReadOnlyBind) plan.paths.push_back({mount.target, all});
  }
  // The device nodes: written (/dev/null, a terminal, `> /dev/null` truncates) and, at ABI 5,
  // their ioctls (a terminal's modes); never made or removed.
  const std::uint64_t devices = kFsRead | LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? kFsTruncate : 0) |
                                (abi >= 5 ? kFsIoctlDev : 0);
  if (!options.writable) plan.paths.push_back({"/dev", devices});
  if (options.allow_connect) {
    plan.handled_net |= kNetConnectTcp;
    for (const std::uint16_t port : *options.allow_connect) plan.ports.push_back({port, kNetConnectTcp});
  }
  if (options.allow_bind) {
    plan.handled_net |= kNetBindTcp;
    for (const std::uint16_t port : *options.allow_bind) plan.ports.push_back({port, kNetBindTcp});
  }
  if (abi >= 6) plan.scoped = kScopeAbstractUnixSocket | kScopeSignal;
  return plan;
}

Result<void> apply_landlock(const LandlockPlan& plan) {
  if (plan.abi == 0) return {};
  RulesetAttributes attributes{plan.handled_fs, plan.handled_net, plan.scoped};
  const UniqueFd ruleset(static_cast<int>(create_ruleset(&attributes, attributes_size(plan.abi), 0)));
  if (!ruleset.valid()) return failed("landlock_create_ruleset (ABI " + std::to_string(plan.abi) + ")");
  for (const LandlockPathRule& rule : plan.paths) {
    const UniqueFd path(::open(rule.path.c_str(), O_PATH | O_CLOEXEC));
    if (!path.valid()) {
      if (errno == ENOENT) continue;
      return failed("Landlock: open " + rule.path);
    }
    struct stat status {};
    if (::fstat(path.get(), &status) != 0) return failed("Landlock: fstat " + rule.path);
    landlock_path_beneath_attr beneath{};
    beneath.parent_fd = path.get();
    // A rule on a file (a --bind of one file) may only allow what applies to files.
    beneath.allowed_access = S_ISDIR(status.st_mode) ? rule.allowed : rule.allowed & kFsFileRights;
    if (::syscall(SYS_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) != 0)
      return failed("Landlock: allow " + rule.path);
  }
  for (const LandlockPortRule& rule : plan.ports) {
    NetPortAttributes port{rule.allowed, rule.port};
    if (::syscall(SYS_landlock_add_rule, ruleset.get(), kRuleNetPort, &port, 0) != 0)
      return failed("Landlock: allow TCP port " + std::to_string(rule.port));
  }
  if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) return failed("landlock_restrict_self");
  return {};
}

std::string describe(const LandlockPlan& plan) {
  if (plan.abi == 0) return "not enforced (the kernel offers no Landlock ABI)";
  std::string text = "ABI " + std::to_string(plan.abi) + ": files read-only but ";
  std::string writable;
  for (const LandlockPathRule& rule : plan.paths)
    if (rule.allowed & LANDLOCK_ACCESS_FS_MAKE_REG) writable += (writable.empty() ? "" : ", ") + rule.path;
  text += writable.empty() ? "none" : writable;
  for (const auto& [right, name] : {std::pair{kNetConnectTcp, "connect"}, std::pair{kNetBindTcp, "bind"}}) {
    if ((plan.handled_net & right) == 0) continue;
    std::string ports;
    for (const LandlockPortRule& rule : plan.ports)
      if (rule.allowed == right) ports += (ports.empty() ? "" : ",") + std::to_string(rule.port);
    text += std::string("; TCP ") + name + " only to " + (ports.empty() ? "no port" : ports);
  }
  if (plan.scoped != 0) text += "; signals and abstract UNIX sockets scoped to the jail";
  return text;
}

}  // namespace jailbuild::run
