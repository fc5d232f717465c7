// The default seccomp filter's rules as data: what it refuses, with which errno, under which
// argument conditions. Everything else is allowed (a denylist, as Docker's and bubblewrap's). The
// build-time compiler turns them into the BPF program `run` loads; `export --bundle` into the OCI
// runtime's seccomp JSON. No libseccomp here: the table is plain data.
#pragma once

#include <string>
#include <vector>

namespace jailbuild::run {

// The argument `arg`, masked with `mask`, equals `value` (SCMP_CMP_MASKED_EQ).
struct SeccompCondition {
  unsigned arg = 0;
  unsigned long mask = 0;
  unsigned long value = 0;
};

// `name` refused with `error` when every condition holds (always, with none).
struct SeccompRule {
  std::string name;
  int error = 0;
  std::vector<SeccompCondition> conditions;
};

// The denylist, in the order it is compiled.
std::vector<SeccompRule> default_policy_rules();

// For an allowlist written as one OCI filter (profile --oci, export --bundle), where the denylist
// cannot be stacked under it: for each call the denylist refuses under argument conditions, the
// rules that allow it (any one suffices), each the complement of the denylist's. `error` is 0.
// ioctl is allowed whole: "not TIOCSTI nor TIOCLINUX in the low 32 bits" takes two comparisons of
// one argument, which libseccomp refuses in one rule (see docs/commands/run.md).
std::vector<SeccompRule> allowing_rules();

// The calls the denylist refuses with every argument (mount, ptrace...) or answers with ENOSYS
// (clone3, openat2): never allowed by an allowlist.
bool refused_whole(const std::string& name);

// The calls every allowlist (run --seccomp traced, allowlist:FILE) holds whether or not a trace saw
// them: what jailbuild's own path from the filter to the program makes, and what acts only on what
// a process already has (its memory, its descriptors, its signals, its own ids, the time). The trace
// filter lets them run without a stop, so that a traced workload stops only on the calls that
// widen what it can reach. Names as libseccomp knows them; those this architecture lacks are skipped.
const std::vector<std::string>& allowlist_baseline();

}  // namespace jailbuild::run
