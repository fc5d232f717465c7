// The jail's system call filters in the OCI runtime's terms (config.json's linux.seccomp): what
// `export --bundle` writes and `jailbuild profile --oci` prints. The rules are named, not numbered:
// the runtime's libseccomp numbers them for its machine.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jailbuild::run {

// The default filter (seccomp_rules.hpp): allow by default, each denylist rule an errno under its
// argument conditions; foreign ABIs not listed, so refused.
nlohmann::json oci_default_seccomp();

// An allowlist as one OCI filter: `calls` and the baseline allowed, everything else refused with
// EPERM. The denylist cannot be stacked under it as `run` does, so it is folded in: what it refuses
// whole is left out, what it refuses under conditions is allowed under their complement
// (allowing_rules), what it answers with ENOSYS is answered so.
nlohmann::json oci_allowlist_seccomp(const std::vector<std::string>& calls);

}  // namespace jailbuild::run
