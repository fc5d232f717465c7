// The PATH a program gets when nobody gave one.
#pragma once

namespace jailbuild {

// Debian's default for a login shell (/etc/login.defs ENV_SUPATH): what `deps` and the resolver
// search for `#!/usr/bin/env NAME`, and what `run` gives the jailed program, so that both find the
// same program.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace jailbuild
