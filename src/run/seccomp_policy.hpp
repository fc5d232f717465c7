// The jail's system call filters, compiled with libseccomp (linked in statically: jailbuild loads
// no library but libc). The default and trace filters are compiled when jailbuild is built
// (seccomp_generate.cpp) and embedded (seccomp_filter.cpp): a run attaches them without building
// them. An allowlist is compiled when a trace records it (add --trace), or for `run --seccomp
// allowlist:FILE`.
#pragma once

#include <linux/filter.h>

#include <optional>
#include <string>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild::run {

// The classic BPF program of the default filter, for this machine's native architecture.
Result<std::vector<sock_filter>> compile_default_filter();

// The trace filter (add --trace, run --report-missing): stops the workload for jailbuild on the
// calls of src/trace/traced_calls.hpp, allows every other.
Result<std::vector<sock_filter>> compile_trace_filter();

// An allowlist's filter: `names` and allowlist_baseline() allowed, every other call refused with
// EPERM, ENOSYS where the denylist says ENOSYS (clone3, openat2) and for calls newer than this
// libseccomp. Loaded after the default filter, which still refuses what it refuses. A name this
// architecture does not have is an error.
Result<std::vector<sock_filter>> compile_allowlist(const std::vector<std::string>& names);

// The native architecture's name for system call `number` ("openat"); nullopt if unknown.
std::optional<std::string> system_call_name(long number);

// Whether `name` is a system call of the native architecture, as libseccomp knows them.
bool is_system_call_name(const std::string& name);

}  // namespace jailbuild::run
