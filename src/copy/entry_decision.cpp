// The decision for one planned entry (see entry_decision.hpp): the rules of RootWriter, without
// the system calls.

#include "entry_decision.hpp"

#include <sys/stat.h>

#include <utility>

#include "util/file_type.hpp"

namespace jailbuild::copy {
namespace {

constexpr mode_t kPermissionBits = 07777;
constexpr mode_t kPrivilegeBits = S_ISUID | S_ISGID;
constexpr mode_t kDefaultDirectoryMode = 0755;
constexpr mode_t kDefaultFileMode = 0644;

mode_t permissions(const FileIdentity& identity) { return identity.mode & kPermissionBits; }
bool is_type(const FileIdentity& identity, mode_t type) { return (identity.mode & S_IFMT) == type; }

EntryDecision verdict(Verdict what, mode_t mode, std::string why) {
  EntryDecision decision;
  decision.verdict = what;
  decision.mode = mode;
  decision.why = std::move(why);
  return decision;
}

EntryDecision look(Look fact, mode_t mode) {
  EntryDecision decision;
  decision.verdict = Verdict::Look;
  decision.look = fact;
  decision.mode = mode;
  return decision;
}

// Whether the manifest gives the path to jailbuild: it placed something there (pending entries,
// planned by a run that never finished, have no copy identity yet). Whatever is at such a path
// now, even another inode a jailed process put there, is jailbuild's to replace.
bool owned_path(const Observed& seen) {
  return seen.recorded != nullptr && seen.recorded->copy_identity != FileIdentity{};
}

// Whether what is at the path is the inode jailbuild placed there (see the header's comment).
bool placed_by_us(const Observed& seen) {
  if (!seen.found || seen.recorded == nullptr) return false;
  const FileIdentity& copy = seen.recorded->copy_identity;
  return (copy.mode & S_IFMT) == (seen.found->mode & S_IFMT) && copy.dev == seen.found->dev &&
         copy.ino == seen.found->ino;
}

std::string a_type(const FileIdentity& identity) { return "a " + std::string(file_type_name(identity.mode)); }

// What is there, when a new entry takes its place (for -vv).
std::string in_the_way(const Observed& seen) {
  if (!placed_by_us(seen)) return "another " + std::string(file_type_name(seen.found->mode)) + " is there";
  return "the copy changed: " + identity_difference(seen.recorded->copy_identity, *seen.found);
}

// Create over nothing, Replace over what is there, after `obstacle` found nothing in the way.
EntryDecision place(const Observed& seen, mode_t mode, std::string why_replaced) {
  if (!seen.found) return verdict(Verdict::Create, mode, "nothing is there");
  return verdict(Verdict::Replace, mode, std::move(why_replaced));
}

// Why a planned symlink or file may not take the place of what is at the path: a conflict; a
// Look for a missing fact; nullopt when it may: nothing there, what jailbuild placed, or with
// --force anything but a non-empty directory.
std::optional<EntryDecision> obstacle(const Observed& seen, const WriteOptions& options, mode_t mode) {
  if (!seen.found) return std::nullopt;
  if (!owned_path(seen) && !options.force) {
    return verdict(Verdict::Conflict, mode,
                   a_type(*seen.found) + " that jailbuild did not place is there (--force replaces it)");
  }
  if (is_type(*seen.found, S_IFDIR)) {
    const std::optional<bool>& empty = seen.facts[Look::DirectoryEmpty];
    if (!empty) return look(Look::DirectoryEmpty, mode);
    if (!*empty) {
      return verdict(Verdict::Conflict, mode,
                     "a directory that is not empty is there (jailbuild removes only empty directories, even with "
                     "--force)");
    }
  }
  return std::nullopt;
}

EntryDecision decide_directory(const PlannedEntry& entry, const Observed& seen, const WriteOptions& options) {
  const mode_t planned_mode = entry.mode != 0 ? entry.mode & kPermissionBits : kDefaultDirectoryMode;
  const mode_t mode = seen.source ? permissions(*seen.source) : planned_mode;
  if (seen.found && is_type(*seen.found, S_IFDIR)) {
    // A directory jailbuild did not create is shared with whatever else uses the root: kept as it
    // is and not recorded, so that `remove` never deletes it.
    if (!placed_by_us(seen)) return verdict(Verdict::Share, mode, "a directory jailbuild did not create");
    // One it created follows the host directory's mode and owner (the owner only when run as root,
    // the only case in which it was given one).
    const FileIdentity& found = *seen.found;
    const bool owner_differs =
        seen.euid == 0 && seen.source && (found.uid != seen.source->uid || found.gid != seen.source->gid);
    if (permissions(found) == mode && !owner_differs) return verdict(Verdict::Keep, mode, "unchanged");
    return verdict(Verdict::Settle, mode,
                   owner_differs ? "its owner differs from its source's" : "its mode differs from its source's");
  }
  if (seen.found && !owned_path(seen) && !options.force) {
    return verdict(Verdict::Conflict, mode,
                   a_type(*seen.found) + " that jailbuild did not place is there (--force replaces it)");
  }
  // What is in the way, if anything, is not a directory: removed, and the directory made.
  return place(seen, mode, in_the_way(seen));
}

EntryDecision decide_symlink(const PlannedEntry& entry, const Observed& seen, const WriteOptions& options) {
  const mode_t mode = 0777;  // a symlink's own mode means nothing on Linux
  const ManifestEntry* recorded = seen.recorded;
  std::string why = seen.found ? in_the_way(seen) : "";
  if (seen.found && is_type(*seen.found, S_IFLNK) && recorded != nullptr && recorded->type == EntryType::Symlink) {
    // Judged by stat alone when it is the very symlink recorded, with the target planned now;
    // read otherwise (a run killed before saving its manifest left another inode: see Adopt).
    if (placed_by_us(seen) && recorded->link_target == entry.link_target && recorded->copy_identity == *seen.found) {
      return verdict(Verdict::Keep, mode, "unchanged");
    }
    const std::optional<bool>& matches = seen.facts[Look::LinkMatches];
    if (!matches) return look(Look::LinkMatches, mode);
    if (*matches) return verdict(Verdict::Keep, mode, "points where planned");
    why = "it pointed elsewhere; now to " + entry.link_target;
  }
  if (std::optional<EntryDecision> stop = obstacle(seen, options, mode)) return std::move(*stop);
  return place(seen, mode, std::move(why));
}

// A copied file (or device node) whose source is seen.source.
EntryDecision decide_file(const PlannedEntry& entry, const Observed& seen, const WriteOptions& options) {
  const FileIdentity& source = *seen.source;
  const mode_t mode = copy_mode(source.mode, options.keep_setuid);
  const ManifestEntry* recorded = seen.recorded;
  const bool placed = placed_by_us(seen);

  // The cheap check: both inodes as recorded, judged by stat alone.
  std::string why;
  if (seen.found && placed) {
    if (recorded->source != entry.source) {
      why = "its source was " + recorded->source;
    } else if (recorded->source_identity != source) {
      why = "the source changed: " + identity_difference(recorded->source_identity, source);
    } else if (recorded->copy_identity != *seen.found) {
      why = "the copy changed: " + identity_difference(recorded->copy_identity, *seen.found);
    } else if (permissions(*seen.found) != mode) {
      why = "its mode differs";
    } else if (!options.checksum) {
      return verdict(Verdict::Keep, mode, "unchanged");
    } else {
      const std::optional<bool>& same = seen.facts[Look::SameContents];
      if (!same) return look(Look::SameContents, mode);
      if (*same) return verdict(Verdict::Keep, mode, "unchanged, its bytes compared");
      why = "its bytes differ from the source's";
    }
  } else if (seen.found) {
    why = in_the_way(seen);
  }

  // Another inode than the one the manifest records, that is nevertheless exactly the copy
  // jailbuild would make of the source now: same bytes, mode, owner, modification time and
  // capabilities. A run killed after renaming files into place but before its manifest was saved
  // leaves such files; adopting them is safe, as rewriting them would change nothing. Only paths
  // the manifest gives to jailbuild qualify: an identical file that was in the root before
  // jailbuild came is still a conflict.
  const bool adoptable = seen.found && recorded != nullptr && recorded->type == EntryType::File && !placed &&
                         is_type(*seen.found, S_IFREG) && is_type(source, S_IFREG) && seen.found->size == source.size &&
                         permissions(*seen.found) == mode && seen.found->mtime_ns == source.mtime_ns &&
                         (seen.euid != 0 || (seen.found->uid == source.uid && seen.found->gid == source.gid));
  if (adoptable) {
    const std::optional<bool>& same = seen.facts[Look::AdoptableCopy];
    if (!same) return look(Look::AdoptableCopy, mode);
    if (*same) return verdict(Verdict::Adopt, mode, "another inode, but the copy jailbuild would make");
  }
  if (std::optional<EntryDecision> stop = obstacle(seen, options, mode)) return std::move(*stop);
  return place(seen, mode, std::move(why));
}

// A generated file (the root's own ld.so.cache, ...) has no source to compare with: a copy is
// recognised by its bytes (such files are small), whether it is the inode recorded or another one
// (see Adopt).
EntryDecision decide_generated(const PlannedEntry& entry, const Observed& seen, const WriteOptions& options) {
  const mode_t mode = entry.mode ? entry.mode & kPermissionBits : kDefaultFileMode;
  const bool recorded_file = seen.recorded != nullptr && seen.recorded->type == EntryType::File;
  std::string why = seen.found ? in_the_way(seen) : "";
  if (seen.found && is_type(*seen.found, S_IFREG) && recorded_file && permissions(*seen.found) == mode &&
      seen.found->uid == seen.euid && seen.found->size == entry.content->size()) {
    const std::optional<bool>& same = seen.facts[Look::HoldsContent];
    if (!same) return look(Look::HoldsContent, mode);
    if (*same) return verdict(Verdict::Keep, mode, "holds the bytes planned");
    why = "its bytes differ from those planned";
  }
  if (std::optional<EntryDecision> stop = obstacle(seen, options, mode)) return std::move(*stop);
  return place(seen, mode, std::move(why));
}

}  // namespace

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::Keep: return "keep";
    case Verdict::Adopt: return "adopt";
    case Verdict::Share: return "share";
    case Verdict::Settle: return "settle";
    case Verdict::Create: return "create";
    case Verdict::Replace: return "replace";
    case Verdict::Conflict: return "conflict";
    case Verdict::Look: return "look";
  }
  return "?";
}

mode_t copy_mode(mode_t mode, bool keep_setuid) {
  return mode & kPermissionBits & (keep_setuid ? kPermissionBits : ~kPrivilegeBits);
}

EntryDecision decide(const PlannedEntry& entry, const Observed& seen, const WriteOptions& options) {
  switch (entry.type) {
    case EntryType::Directory: return decide_directory(entry, seen, options);
    case EntryType::Symlink: return decide_symlink(entry, seen, options);
    case EntryType::File: break;
  }
  return entry.content ? decide_generated(entry, seen, options) : decide_file(entry, seen, options);
}

}  // namespace jailbuild::copy
