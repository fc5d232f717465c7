// The layer of an export: a root's manifest entries as one gzip-compressed tar, reproducible, read
// through the root's descriptor and checked against the manifest on the way (layer.cpp); and the
// digests OCI names blobs by.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/manifest.hpp"
#include "jailbuild/progress.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild::exporting {

// "sha256:" and the hex digest of `bytes`.
std::string sha256_digest(std::string_view bytes);

struct Layer {
  std::string digest;   // of the compressed bytes written: the blob's name
  std::string diff_id;  // of the uncompressed tar: the config's rootfs.diff_ids
  std::uint64_t size = 0;
  std::size_t entries = 0;
  std::uint64_t bytes = 0;  // the regular files' bytes it holds
  // Entries whose file in the root is not what the manifest recorded ("/usr/bin/x: changed (size,
  // mtime)", "/etc/y: gone"), in path order. Those gone are left out of the layer; the others are
  // written as they are now.
  std::vector<std::string> differences;
};

// Writes the layer of `entries` (the manifest's, by path) of the root `root_fd` holds to `out`:
// entries in path order, numeric owners and no names, every time clamped to `epoch`, no access or
// change times, no extended attribute but security.capability, gzip without a name or a time.
// The same root and epoch give the same bytes.
// `progress` is told of each entry written, with its bytes.
Result<Layer> write_layer(int root_fd, const std::map<std::string, ManifestEntry>& entries, std::int64_t epoch,
                          int out, Progress& progress);

// Unpacks the layer file `layer` into the directory `directory` (an export's bundle rootfs/): no
// entry may leave it, through "..", an absolute path or a symlink. `progress` is told of each entry.
Result<void> unpack_layer(const std::string& layer, const std::string& directory, Progress& progress);

}  // namespace jailbuild::exporting
