// The jail's default system call filter, compiled from its rules with libseccomp. This runs at
// build time (seccomp_generate.cpp) and in tests, never in `jailbuild run`: the runner loads the
// program built here, embedded in jailbuild (seccomp_filter.cpp).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild::run {

// The classic BPF program of the default filter, for this machine's native architecture.
Result<std::vector<sock_filter>> compile_default_filter();

// The trace filter (add --trace, run --report-missing): stops the workload for jailbuild on the
// calls of src/trace/traced_calls.hpp, allows every other.
Result<std::vector<sock_filter>> compile_trace_filter();

}  // namespace jailbuild::run
