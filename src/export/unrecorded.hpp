// What a root holds that its manifest does not name: left out of an export's layer, which holds
// only what jailbuild placed, and said at -v so that nobody expects it in the image.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "jailbuild/manifest.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild::exporting {

// The paths ("/srv/data") of the root `root_fd` holds that no entry of `entries` names, sorted. A
// directory the manifest does not name is listed and not entered, nor is any symlink followed:
// every directory is opened beneath the one holding it (open_beneath).
Result<std::vector<std::string>> unrecorded_paths(int root_fd, const std::map<std::string, ManifestEntry>& entries);

}  // namespace jailbuild::exporting
