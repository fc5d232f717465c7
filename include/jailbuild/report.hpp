// The files a set of closures needs, as data: what `deps --list` prints (src/cli/output.cpp words
// every form `deps` prints; nothing here is display text).
#pragma once

#include <string>
#include <vector>

#include "jailbuild/resolver.hpp"

namespace jailbuild {

// Every file the closures need, each once, in first-needed order: scripts, programs, their
// interpreters and libraries. Paths are the loader's strings, made absolute against `cwd`.
std::vector<std::string> closure_files(const std::vector<Closure>& closures, const std::string& cwd);

}  // namespace jailbuild
