// A root as an OCI image or runtime bundle (`jailbuild export`), for container engines: its
// manifest's entries as one reproducible layer, its recorded run settings as the image's config
// or as the bundle's config.json with the isolation `run` gives. See docs/commands/export.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jailbuild/jail.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild {

enum class ExportFormat {
  Layout,   // --oci DIR: an OCI image layout
  Archive,  // --oci-archive FILE: the same layout as one tar
  Bundle,   // --bundle DIR: config.json and rootfs/, for runc or crun
};

struct ExportOptions {
  JailOptions jail;
  ExportFormat format = ExportFormat::Layout;
  std::string output;           // the directory or file to make: new, or (layout, bundle) an empty directory
  std::string tag = "latest";   // the layout's reference name (index.json's annotation)
  bool force = false;           // export a root that differs from its manifest
  // Every time in the layer is clamped to this; nullopt: $SOURCE_DATE_EPOCH if set, else the
  // manifest's last change (its file's mtime).
  std::optional<std::int64_t> source_date_epoch;
};

struct Exported {
  std::string output;
  std::string manifest_digest;  // "sha256:..." (Layout, Archive)
  std::string config_digest;
  std::string layer_digest;     // of the gzip-compressed layer
  std::string diff_id;          // of the uncompressed layer
  std::uint64_t layer_size = 0;
  std::size_t entries = 0;
  std::vector<std::string> differences;  // how the root differed from its manifest (exported with force)
};

// Exports the root. Reads only the manifest's entries, each through the root's descriptor, never
// following a symlink out of it; a root that differs from its manifest (a file changed, replaced
// or gone) is refused unless options.force, the error naming what differs. Writes into a
// temporary sibling of the output and renames it into place at the end: nothing half-written.
Result<Exported> export_root(const ExportOptions& options);

}  // namespace jailbuild
