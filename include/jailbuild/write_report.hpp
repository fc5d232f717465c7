// How RootWriter (src/copy/root_writer.hpp) is asked to write a root, and what it reports having
// done: what the commands pass and print.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "jailbuild/manifest.hpp"
#include "jailbuild/types.hpp"

namespace jailbuild {

struct WriteOptions {
  bool force = false;          // replace what is in the way even if jailbuild did not place it
  bool keep_setuid = false;    // keep setuid/setgid bits and file capabilities
  bool allow_devices = false;  // copy device nodes
  bool dry_run = false;        // decide everything, change nothing
  bool checksum = false;       // also compare the contents of copies that look unchanged
};

struct WriteReport {
  std::vector<ManifestEntry> placed;            // every planned entry as it now is in the root (for the manifest)
  std::vector<Conflict> conflicts;              // left alone
  std::vector<std::string> privileges_removed;  // "PATH: setuid bit removed", "PATH: capabilities removed"
  std::vector<std::string> created;             // entries newly written
  std::vector<std::string> updated;             // entries rewritten because the source or the copy changed
  std::size_t unchanged = 0;                    // entries already as planned (checked with lstat only)
  std::uint64_t bytes_copied = 0;
};

}  // namespace jailbuild
