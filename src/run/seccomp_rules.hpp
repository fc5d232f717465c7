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

}  // namespace jailbuild::run
