// Presenting closures: the `deps` command's list, tree and JSON forms. Pure functions of Closures.
#pragma once

#include <string>
#include <vector>

#include "jailbuild/resolver.hpp"

namespace jailbuild {

// Every file the closures need, each once, in first-needed order: scripts, programs, their
// interpreters and libraries. Paths are the loader's strings, made absolute against `cwd`.
std::vector<std::string> closure_files(const std::vector<Closure>& closures, const std::string& cwd);

// Why `object` is in `map`, as the tree and JSON show it: "ld.so.cache", "rpath of /usr/bin/x", ...
std::string found_reason(const LinkMap& map, const LoadedObject& object);

// A dependency tree in the manner of libtree: each object under the object that loaded it, with
// how it was found; reused objects are shown once more as leaves with the rule that matched them.
std::string render_tree(const Closure& closure);

// The closures as the JSON array `deps --json` prints, one object per closure; paths and names
// that are not UTF-8 are {"hex": ...} objects (README.md, "Paths in JSON"), so this never fails.
std::string closures_json(const std::vector<Closure>& closures);

}  // namespace jailbuild
