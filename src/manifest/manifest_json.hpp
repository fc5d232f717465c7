// The manifest's JSON form, for the manifest module and its tests; the rest of jailbuild sees only
// text (manifest_json_text, load_manifest, save_manifest).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "jailbuild/manifest.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild {

nlohmann::json manifest_to_json(const Manifest& manifest);

// Errors say where in the document and what is wrong, without the file's path.
Result<Manifest> manifest_from_json(const nlohmann::json& document);

}  // namespace jailbuild
