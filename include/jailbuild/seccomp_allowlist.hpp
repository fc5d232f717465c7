// A system call allowlist: what a traced workload made (add --trace records it beside the root's
// manifest, `run --seccomp traced` enforces it, `profile` shows it) or a list written by hand
// (`run --seccomp allowlist:FILE`). The record holds the filter compiled when it was made, so that
// a run loads it without compiling it (libseccomp takes most of a millisecond).
#pragma once

#include <optional>
#include <set>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "jailbuild/result.hpp"
#include "jailbuild/run.hpp"

namespace jailbuild {

// The system calls of `numbers` (native, as a trace records them) added to those the root's record
// holds, and the filter compiled anew; under the root's lock. Returns how many the record now holds.
Result<std::size_t> record_system_calls(const std::string& state_dir, const std::string& root,
                                        const std::set<long>& numbers);

// The root's recorded allowlist, its filter compiled; nullopt if no trace recorded one. A record of
// another architecture's calls is an error.
Result<std::optional<SeccompAllowlist>> recorded_allowlist(const std::string& state_dir, const std::string& root);

// --seccomp allowlist:FILE: one system call name a line; blank lines and lines starting with # are
// skipped. An unknown name is an error naming the file and the line. Not compiled yet.
Result<SeccompAllowlist> allowlist_from_file(const std::string& path);

// `allowlist` with its filter compiled (a no-op when it has one).
Result<SeccompAllowlist> compiled(SeccompAllowlist allowlist);

// The allowlist as an OCI runtime's seccomp filter (config.json's linux.seccomp), the denylist
// folded in (src/run/seccomp_oci.hpp): what `profile --oci` prints and `export --bundle` writes.
nlohmann::json oci_seccomp(const SeccompAllowlist& allowlist);

}  // namespace jailbuild
