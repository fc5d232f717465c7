#include "seccomp_oci.hpp"

#include <seccomp.h>

#include <cerrno>
#include <set>

#include "seccomp_rules.hpp"

namespace jailbuild::run {
namespace {

// libseccomp's name for this machine's architecture, as OCI's seccomp section takes it.
#if defined(__x86_64__)
constexpr const char* kSeccompArchitecture = "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
constexpr const char* kSeccompArchitecture = "SCMP_ARCH_AARCH64";
#else
#error "seccomp: name this machine's architecture as libseccomp does"
#endif

nlohmann::json oci_rule(const SeccompRule& rule, const char* action) {
  nlohmann::json call = {{"names", {rule.name}}, {"action", action}};
  if (rule.error != 0) call["errnoRet"] = rule.error;
  for (const SeccompCondition& condition : rule.conditions)
    call["args"].push_back(
        {{"index", condition.arg}, {"value", condition.mask}, {"valueTwo", condition.value}, {"op", "SCMP_CMP_MASKED_EQ"}});
  return call;
}

}  // namespace

nlohmann::json oci_default_seccomp() {
  nlohmann::json calls = nlohmann::json::array();
  for (const SeccompRule& rule : default_policy_rules()) calls.push_back(oci_rule(rule, "SCMP_ACT_ERRNO"));
  return {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {kSeccompArchitecture}}, {"syscalls", calls}};
}

nlohmann::json oci_allowlist_seccomp(const std::vector<std::string>& calls) {
  // The names this architecture has (the baseline lists some another lacks), in order.
  std::set<std::string> allowed;
  for (const std::vector<std::string>* names : {&allowlist_baseline(), &calls})
    for (const std::string& name : *names)
      if (::seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR) allowed.insert(name);
  nlohmann::json rules = nlohmann::json::array();
  std::vector<std::string> fallbacks;
  for (const SeccompRule& rule : default_policy_rules())
    if (rule.error == ENOSYS && rule.conditions.empty()) fallbacks.push_back(rule.name);
  rules.push_back({{"names", fallbacks}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  std::set<std::string> conditional;
  for (const SeccompRule& rule : allowing_rules()) {
    if (allowed.count(rule.name) == 0) continue;
    conditional.insert(rule.name);
    rules.push_back(oci_rule(rule, "SCMP_ACT_ALLOW"));
  }
  std::vector<std::string> plain;
  for (const std::string& name : allowed)
    if (conditional.count(name) == 0 && !refused_whole(name)) plain.push_back(name);
  rules.push_back({{"names", plain}, {"action", "SCMP_ACT_ALLOW"}});
  return {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"defaultErrnoRet", EPERM},
          {"architectures", {kSeccompArchitecture}},
          {"syscalls", rules}};
}

}  // namespace jailbuild::run
