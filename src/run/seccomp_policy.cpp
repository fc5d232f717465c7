// The system call denylist: everything else is allowed, as in Docker's and bubblewrap's filters,
// so that ordinary programs run unchanged; what is refused is what reaches outside the jail.
//
// Compiled once, when jailbuild is built: building a filter of some fifty rules with libseccomp
// and attaching it next to a second, hand-written one cost a run 1.5 ms (two JIT compiles); the
// runner now attaches one program it carries as bytes.
#include "seccomp_policy.hpp"
#include "seccomp_rules.hpp"
#include "trace/traced_calls.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace jailbuild::run {
namespace {

// System calls newer than this libseccomp (and so out of reach of its rules) are refused with
// ENOSYS by hand-written instructions before libseccomp's program: a denylist cannot refuse a call
// it does not know, and ENOSYS makes programs fall back to the older calls the denylist covers.
// fchmodat2 (Linux 6.6) is such a call: it takes a mode.
// Since Linux 5.1 every architecture numbers new calls alike, from 424 up without gaps, so the
// first number from 424 that this libseccomp cannot name is where its knowledge ends.
int first_unknown_syscall() {
  constexpr int kFirstSharedNumber = 424;
  const uint32_t native = ::seccomp_arch_native();
  int call = kFirstSharedNumber;
  for (char* name; (name = ::seccomp_syscall_resolve_num_arch(native, call)) != nullptr; ++call) ::free(name);
  return call;
}

struct ContextDeleter {
  void operator()(scmp_filter_ctx context) const { ::seccomp_release(context); }
};

Error seccomp_failed(const std::string& what, int result) { return system_error("seccomp: " + what, -result); }

// The denylist's rules (seccomp_rules.hpp), for libseccomp to compile.
Result<std::unique_ptr<void, ContextDeleter>> denylist() {
  // Only the native ABI is in the filter: a 32-bit (int 0x80) or x32 system call is not matched
  // by any rule and kills the process (SCMP_FLTATR_ACT_BADARCH), since its numbers differ.
  std::unique_ptr<void, ContextDeleter> context(::seccomp_init(SCMP_ACT_ALLOW));
  if (!context) return Error{"seccomp: cannot create a filter"};
  scmp_filter_ctx filter = context.get();
  if (int rc = ::seccomp_attr_set(filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0)
    return seccomp_failed("refuse foreign ABIs", rc);
  for (const SeccompRule& rule : default_policy_rules()) {
    const int call = ::seccomp_syscall_resolve_name(rule.name.c_str());
    // Not in this ABI (open, chmod on newer architectures), or newer than this libseccomp
    // (fchmodat2 before 2.5.5), and then refused whole by the unknown-call prefix.
    if (call == __NR_SCMP_ERROR) continue;
    std::vector<scmp_arg_cmp> conditions;
    for (const SeccompCondition& condition : rule.conditions)
      conditions.push_back({condition.arg, SCMP_CMP_MASKED_EQ, condition.mask, condition.value});
    if (int rc = ::seccomp_rule_add_array(filter, SCMP_ACT_ERRNO(static_cast<uint32_t>(rule.error)), call,
                                          static_cast<unsigned>(conditions.size()), conditions.data());
        rc < 0)
      return seccomp_failed(rule.name, rc);
  }
  return context;
}

// libseccomp writes its program to a descriptor only: through a memfd, read back.
Result<std::vector<sock_filter>> exported_program(scmp_filter_ctx filter) {
  const UniqueFd memfd(::memfd_create("seccomp-filter", MFD_CLOEXEC));
  if (!memfd.valid()) return system_error("seccomp: memfd_create", errno);
  const int fd = memfd.get();
  if (int rc = ::seccomp_export_bpf(filter, fd); rc < 0) return seccomp_failed("export the filter", rc);
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
    return Error{"seccomp: the exported filter has " + std::to_string(size) + " bytes"};
  std::vector<sock_filter> program(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(fd, program.data(), static_cast<std::size_t>(size), 0) != size)
    return system_error("seccomp: read the exported filter", errno);
  return program;
}

// Instructions put before libseccomp's program: ENOSYS for every native call numbered from
// first_unknown_syscall() on. Calls of other ABIs, and x32 calls (numbers with bit 30 set), go on
// to libseccomp's program, which kills the process for them.
std::vector<sock_filter> unknown_call_prefix() {
  constexpr uint32_t kX32SyscallBit = 0x40000000;
  const auto first = static_cast<uint32_t>(first_unknown_syscall());
  // Jump offsets count instructions after the jump: "to the program" is to just past this prefix.
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ::seccomp_arch_native(), 0, 4),  // another ABI: to the program
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, 2, 0),  // x32: to the program
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, first, 0, 1),           // known: to the program
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
  };
}

bool is_traced_call(int number) {
  for (const trace::TracedCall& call : trace::kTracedCalls)
    if (call.number == number) return true;
  return false;
}

// The trace filter's rules: SECCOMP_RET_TRACE, a stop for the tracer, for every call but the
// allowlist's baseline (seccomp_rules.hpp), which runs untraced: the tracer reads the paths of the
// calls of kTracedCalls and records the number of every call it stops on (run --seccomp traced).
// The default filter, loaded after it, still refuses what it refuses (the stricter action wins),
// so a refused call is never stopped on, nor recorded.
Result<std::unique_ptr<void, ContextDeleter>> trace_rules() {
  std::unique_ptr<void, ContextDeleter> context(::seccomp_init(SCMP_ACT_TRACE(0)));
  if (!context) return Error{"seccomp: cannot create a filter"};
  scmp_filter_ctx filter = context.get();
  for (const std::string& name : allowlist_baseline()) {
    const int number = ::seccomp_syscall_resolve_name(name.c_str());
    if (number == __NR_SCMP_ERROR || is_traced_call(number)) continue;
    if (int rc = ::seccomp_rule_add(filter, SCMP_ACT_ALLOW, number, 0); rc < 0) return seccomp_failed(name, rc);
  }
  for (const trace::TracedCall& call : trace::kTracedCalls) {
    if (!trace::may_name_no_path(call)) continue;
    // fstat and statx on a descriptor run untraced (see may_name_no_path).
    const scmp_arg_cmp unnamed = {static_cast<unsigned>(call.flags_arg), SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH};
    if (int rc = ::seccomp_rule_add(filter, SCMP_ACT_ALLOW, static_cast<int>(call.number), 1, unnamed); rc < 0)
      return seccomp_failed(call.name, rc);
  }
  return context;
}

// An allowlist's rules: each of `names` and the baseline allowed, every other call refused with
// EPERM; but the calls the denylist answers with ENOSYS (clone3, openat2) get ENOSYS here too.
// The allowlist is loaded after the default filter, and of two filters that both refuse a call the
// later one's errno is the one returned: glibc falls back to clone and openat on ENOSYS only.
Result<std::unique_ptr<void, ContextDeleter>> allowlist_rules(const std::vector<std::string>& names) {
  std::unique_ptr<void, ContextDeleter> context(::seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!context) return Error{"seccomp: cannot create a filter"};
  scmp_filter_ctx filter = context.get();
  if (int rc = ::seccomp_attr_set(filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0)
    return seccomp_failed("refuse foreign ABIs", rc);
  // A binary tree of the numbers: a call is found in a few comparisons, not one per name.
  if (int rc = ::seccomp_attr_set(filter, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0)
    return seccomp_failed("optimize the filter", rc);
  std::set<int> fallback;
  for (const SeccompRule& rule : default_policy_rules()) {
    if (rule.error != ENOSYS || !rule.conditions.empty()) continue;
    const int number = ::seccomp_syscall_resolve_name(rule.name.c_str());
    if (number == __NR_SCMP_ERROR || !fallback.insert(number).second) continue;
    if (int rc = ::seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), number, 0); rc < 0)
      return seccomp_failed(rule.name, rc);
  }
  std::set<int> allowed;
  for (const std::string& name : allowlist_baseline()) {
    const int number = ::seccomp_syscall_resolve_name(name.c_str());
    if (number != __NR_SCMP_ERROR) allowed.insert(number);
  }
  for (const std::string& name : names) {
    const int number = ::seccomp_syscall_resolve_name(name.c_str());
    if (number == __NR_SCMP_ERROR) return Error{"seccomp: " + name + ": not a system call of this architecture"};
    allowed.insert(number);
  }
  for (const int number : allowed) {
    if (fallback.count(number) != 0) continue;
    if (int rc = ::seccomp_rule_add(filter, SCMP_ACT_ALLOW, number, 0); rc < 0)
      return seccomp_failed("allow call " + std::to_string(number), rc);
  }
  return context;
}

// The kernel's limit on a filter's length (BPF_MAXINSNS).
constexpr std::size_t kMostInstructions = 4096;

}  // namespace

Result<std::vector<sock_filter>> compile_trace_filter() {
  auto context = TRY(trace_rules());
  return exported_program(context.get());
}

Result<std::vector<sock_filter>> compile_default_filter() {
  auto context = TRY(denylist());
  std::vector<sock_filter> program = unknown_call_prefix();
  const std::vector<sock_filter> rules = TRY(exported_program(context.get()));
  program.insert(program.end(), rules.begin(), rules.end());
  // Far above this filter's size, checked so a growing rule set fails the build rather than a run.
  if (program.size() > kMostInstructions)
    return Error{"seccomp: the filter has " + std::to_string(program.size()) + " instructions"};
  return program;
}

Result<std::vector<sock_filter>> compile_allowlist(const std::vector<std::string>& names) {
  auto context = TRY(allowlist_rules(names));
  // The same ENOSYS for calls newer than this libseccomp as the default filter gives them.
  std::vector<sock_filter> program = unknown_call_prefix();
  const std::vector<sock_filter> rules = TRY(exported_program(context.get()));
  program.insert(program.end(), rules.begin(), rules.end());
  if (program.size() > kMostInstructions)
    return Error{"seccomp: the allowlist's filter has " + std::to_string(program.size()) + " instructions"};
  return program;
}

std::optional<std::string> system_call_name(long number) {
  if (number < 0 || number > INT32_MAX) return std::nullopt;
  char* name = ::seccomp_syscall_resolve_num_arch(::seccomp_arch_native(), static_cast<int>(number));
  if (name == nullptr) return std::nullopt;
  std::string text(name);
  ::free(name);
  return text;
}

bool is_system_call_name(const std::string& name) {
  return ::seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR;
}

}  // namespace jailbuild::run
