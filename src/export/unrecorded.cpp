// The walk of a root for what its manifest does not name (see unrecorded.hpp).
#include "unrecorded.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "util/dir_stream.hpp"
#include "util/open_beneath.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::exporting {

Result<std::vector<std::string>> unrecorded_paths(int root_fd, const std::map<std::string, ManifestEntry>& entries) {
  std::vector<std::string> unrecorded;
  // Directories still to read, each with the descriptor it is read through: opened beneath its
  // parent's, so that a directory swapped for a symlink meanwhile fails (ELOOP) instead of leading
  // the walk out of the root.
  std::vector<std::pair<std::string, UniqueFd>> pending;
  pending.emplace_back("/", UniqueFd(open_beneath(root_fd, ".", O_RDONLY | O_DIRECTORY)));
  while (!pending.empty()) {
    auto [directory, fd] = std::move(pending.back());
    pending.pop_back();
    if (!fd.valid()) return system_error(directory, -fd.get());
    DirStream stream = TRY(DirStream::adopt(std::move(fd), directory));
    for (;;) {
      const dirent* item = TRY(stream.next());
      if (item == nullptr) break;
      const std::string path = join_path(directory, item->d_name);
      const auto entry = entries.find(path);
      if (entry == entries.end()) {
        unrecorded.push_back(path);
        continue;
      }
      // Only what the manifest records as a directory is entered, and only if it still is one:
      // what differs from the manifest is the layer's check to report, not this walk's.
      if (entry->second.type != EntryType::Directory) continue;
      const int child = open_beneath(stream.fd(), item->d_name, O_RDONLY | O_DIRECTORY);
      if (child == -ENOTDIR || child == -ELOOP || child == -ENOENT) continue;
      pending.emplace_back(path, UniqueFd(child));
    }
  }
  std::sort(unrecorded.begin(), unrecorded.end());
  return unrecorded;
}

}  // namespace jailbuild::exporting
