// Loads the jail's system call filters: the default and trace filters seccomp_policy.cpp compiled
// when jailbuild was built, embedded here byte for byte, and an allowlist's, each attached with one
// prctl.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "embedded_file.hpp"
#include "jail_setup.hpp"

// Built by CMake (targets jailbuild_seccomp_filter and jailbuild_trace_filter).
JAILBUILD_EMBED_FILE(sock_filter, jailbuild_seccomp_filter, JAILBUILD_SECCOMP_FILTER_PATH, 8);
JAILBUILD_EMBED_FILE(sock_filter, jailbuild_trace_filter, JAILBUILD_TRACE_FILTER_PATH, 8);

namespace jailbuild::run {

std::span<const sock_filter> default_seccomp_program() {
  return {jailbuild_seccomp_filter_begin, jailbuild_seccomp_filter_end};
}

namespace {

Result<void> load_filter(std::span<const sock_filter> code, const char* what) {
  // PR_SET_NO_NEW_PRIVS is already set (switch_identity): without it, and without
  // CAP_SYS_ADMIN, the kernel refuses a filter.
  const sock_fprog program{static_cast<unsigned short>(code.size()), const_cast<sock_filter*>(code.data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) return failed(std::string("seccomp: load ") + what);
  return {};
}

}  // namespace

Result<void> load_seccomp_filter() { return load_filter(default_seccomp_program(), "the filter"); }

std::span<const sock_filter> trace_seccomp_program() { return {jailbuild_trace_filter_begin, jailbuild_trace_filter_end}; }

Result<void> load_trace_filter() { return load_filter(trace_seccomp_program(), "the trace filter"); }

Result<void> load_allowlist_filter(std::string_view program) {
  // The bytes are a copy aligned for sock_filter: a std::string's are not promised to be.
  std::vector<sock_filter> code(program.size() / sizeof(sock_filter));
  if (code.empty() || program.size() % sizeof(sock_filter) != 0)
    return Error{"seccomp: the allowlist's filter has " + std::to_string(program.size()) + " bytes"};
  std::memcpy(code.data(), program.data(), program.size());
  return load_filter(code, "the allowlist");
}

}  // namespace jailbuild::run
