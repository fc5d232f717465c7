// Landlock (Linux's unveil): what a jail may do to files, TCP ports and other processes, decided
// from its options and the kernel's ABI (plan_landlock, pure), then enforced by the child on
// itself (apply_landlock), after the mounts and the identity, before the seccomp filters. A second
// wall in the default mode (the mounts already decide what is writable), the only one with
// --chroot-only, which has no mount namespace. See docs/commands/run.md, "Least privilege".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jailbuild/result.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild::run {

// The Landlock ABI the kernel offers: 0 when it has none (not built in, or not enabled at boot).
int landlock_abi();

struct LandlockPathRule {
  std::string path;  // inside the jail, as the child sees it once it has entered it
  std::uint64_t allowed = 0;
  bool operator==(const LandlockPathRule&) const = default;
};

struct LandlockPortRule {
  std::uint16_t port = 0;
  std::uint64_t allowed = 0;
  bool operator==(const LandlockPortRule&) const = default;
};

// A ruleset as data: what it handles (refuses unless a rule allows) and the rules.
struct LandlockPlan {
  int abi = 0;
  std::uint64_t handled_fs = 0;
  std::uint64_t handled_net = 0;
  std::uint64_t scoped = 0;
  std::vector<LandlockPathRule> paths;
  std::vector<LandlockPortRule> ports;
};

// What a run's options ask of Landlock at `abi`. Files: read and execute beneath "/", write (make,
// remove, rename, truncate) beneath each place the jail may write (/tmp, /dev/shm, each --bind and
// --tmpfs target, "/" with --writable), write and device ioctls on /dev's nodes. TCP (ABI >= 4):
// connect and bind only to the ports --allow-connect and --allow-bind list, each restricted only
// when its option is given. Scoping (ABI >= 6): signals and abstract UNIX sockets confined to the
// jail. An option the ABI cannot enforce is an error, never silently ignored.
Result<LandlockPlan> plan_landlock(const RunOptions& options, int abi);

// Child side: the plan enforced on this process and everything it starts. The paths are opened
// (O_PATH) as the jail sees them; one that does not exist is skipped (a --chroot-only root without
// /tmp). Needs no_new_privs, which switch_identity sets.
Result<void> apply_landlock(const LandlockPlan& plan);

// For -v: "ABI 7: files (write: /tmp, /dev/shm), TCP connect 443, scoped signals and abstract sockets".
std::string describe(const LandlockPlan& plan);

}  // namespace jailbuild::run
