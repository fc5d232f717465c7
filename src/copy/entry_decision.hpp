// What RootWriter does with one planned entry, decided from facts alone: the planned entry, the
// manifest's record of its path, and what an lstat found at the path and at its source. No file is
// touched here, so the rules can be read (and tested, as a table) apart from the system calls that
// carry them out (root_writer.cpp), and a dry run is this decision and nothing else.
//
// "Placed by jailbuild" means: the previous manifest records this path with an inode of the same
// type, device and number as the one there now. Such an inode is ours to rewrite, even after the
// jail edited it in place; anything else at a planned path is a conflict, left alone unless
// --force. (One exception, for runs killed before their manifest was saved: Verdict::Adopt.)
// Directories that already exist are shared, not ours: they are never recorded, so the manifest
// lists exactly the directories jailbuild created, which `remove` may delete.
//
// Some facts cost more than an lstat (reading a symlink, a directory, or a file's bytes). The
// decision asks for each one only when the cheaper facts leave the question open (Verdict::Look);
// the caller reads it into Observed::facts and decides again.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "jailbuild/copy_plan.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/write_report.hpp"

namespace jailbuild::copy {

// The facts that take more than an lstat, read only when asked for.
enum class Look {
  LinkMatches,     // the symlink at the path points where the plan says
  DirectoryEmpty,  // the directory at the path has no entries
  SameContents,    // --checksum: the file at the path holds its source's bytes
  AdoptableCopy,   // the file at the path has its source's bytes and capabilities (see Verdict::Adopt)
  HoldsContent,    // the file at the path holds the generated entry's bytes
};
inline constexpr std::size_t kLookCount = 5;

struct Facts {
  std::optional<bool> answers[kLookCount];

  std::optional<bool>& operator[](Look look) { return answers[static_cast<std::size_t>(look)]; }
  const std::optional<bool>& operator[](Look look) const { return answers[static_cast<std::size_t>(look)]; }
};

// Everything the decision knows of one planned path.
struct Observed {
  std::optional<FileIdentity> found;        // lstat of what is at the path now; nullopt: nothing
  const ManifestEntry* recorded = nullptr;  // the previous manifest's entry for the path, if any
  // lstat of the entry's host source: required for a copied file (a regular file or a device
  // node), and for a directory with a source; a symlink's when it is still there. nullopt for
  // generated files.
  std::optional<FileIdentity> source;
  std::uint32_t euid = 0;  // who jailbuild runs as: only root gives copies their source's owner
  Facts facts;
};

enum class Verdict {
  Keep,      // what is there is the entry as planned: recorded, not touched
  Adopt,     // another inode than the one recorded, but exactly the copy jailbuild would make now
  Share,     // a directory jailbuild did not create: used as it is, not recorded
  Settle,    // a directory jailbuild created, whose mode or owner no longer follows its source's
  Create,    // nothing is there: made
  Replace,   // what is there is jailbuild's (or --force): replaced by a new copy
  Conflict,  // something jailbuild did not place, or may not remove, is there: left alone
  Look,      // a fact is missing (`look`): read it and decide again
};

const char* to_string(Verdict verdict);

struct EntryDecision {
  Verdict verdict = Verdict::Create;
  Look look = Look::LinkMatches;  // for Verdict::Look
  // Why: for a conflict, the reason reported; otherwise what changed (for -vv).
  std::string why;
  // The permission bits the entry has in the root (privileges already removed unless kept).
  mode_t mode = 0;
};

// The permission bits a copy of a file with `mode` gets: setuid and setgid dropped unless kept.
mode_t copy_mode(mode_t mode, bool keep_setuid);

// The decision for `entry` (not the root "/" itself), given what was observed at its path. Uses
// options.force, options.checksum and options.keep_setuid; never options.dry_run (a dry run is
// this decision, acted upon by nobody).
EntryDecision decide(const PlannedEntry& entry, const Observed& seen, const WriteOptions& options);

}  // namespace jailbuild::copy
