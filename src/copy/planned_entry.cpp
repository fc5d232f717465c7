// The manifest's record of a planned entry (see root_writer.hpp).

#include "root_writer.hpp"

namespace jailbuild {

ManifestEntry to_manifest_entry(const PlannedEntry& entry) {
  ManifestEntry recorded;
  recorded.path = entry.path;
  recorded.type = entry.type;
  recorded.source = entry.source;
  recorded.link_target = entry.link_target;
  recorded.reasons = entry.reasons;
  return recorded;
}

}  // namespace jailbuild
