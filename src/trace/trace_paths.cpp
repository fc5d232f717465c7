// What a trace means for a root: the paths `add --trace` adds, the writes it warns about, and the
// paths `run --report-missing` reports. Decided from the log and the host as it is now.
#include <sys/stat.h>

#include <cerrno>
#include <set>

#include "jailbuild/trace.hpp"
#include "util/paths.hpp"

namespace jailbuild {
namespace {

bool is_under(const std::string& path, const std::string& directory) {
  if (directory == "/") return true;
  return path == directory || (path.starts_with(directory) && path[directory.size()] == '/');
}

bool is_under_any(const std::string& path, const std::vector<std::string>& directories) {
  for (const std::string& directory : directories)
    if (is_under(path, directory)) return true;
  return false;
}

// Never in a root from a trace: the kernel's file systems, which every jail mounts its own of, and
// the scratch tmpfs the traced workload had (what it found there, it made).
const std::vector<std::string>& not_from_the_host() {
  static const std::vector<std::string> directories = {"/proc", "/sys", "/dev", "/tmp", "/var/tmp", "/run"};
  return directories;
}

bool exists_on_host(const std::string& path) {
  struct stat status {};
  return ::lstat(path.c_str(), &status) == 0;
}

// A word a shell reads back as itself.
bool plain_word(const std::string& word) {
  if (word.empty()) return false;
  for (const char c : word) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("_./=:,@%+-").find(c) != std::string_view::npos;
    if (!plain) return false;
  }
  return true;
}

}  // namespace

const char* to_string(PathUse use) {
  switch (use) {
    case PathUse::Read: return "read";
    case PathUse::Execute: return "execute";
    case PathUse::LookUp: return "look up";
    case PathUse::Write: return "write";
  }
  return "use";
}

std::string command_line(const std::vector<std::string>& command) {
  std::string line;
  for (const std::string& word : command) {
    if (!line.empty()) line += ' ';
    if (plain_word(word)) {
      line += word;
      continue;
    }
    line += '\'';
    for (const char c : word) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

std::vector<TracedRequirement> traced_requirements(const TraceLog& log, const HostTrace& trace) {
  const std::string command = command_line(trace.command);
  std::vector<TracedRequirement> requirements;
  std::set<std::string> taken;
  for (const PathAccess& access : log.accesses) {
    // What it wrote is its output, not what it needs; what it failed to find is not there to add.
    if (access.error != 0 || access.use == PathUse::Write || access.path == "/") continue;
    // Every root has a loader cache of its own, describing what it holds (jailbuild writes it):
    // the host's, which every dynamic program opens, is not the root's.
    if (access.path == "/etc/ld.so.cache") continue;
    if (is_under_any(access.path, not_from_the_host()) || is_under_any(access.path, trace.excluded)) continue;
    // Gone since (a file the workload removed, or renamed): nothing to add.
    if (!exists_on_host(access.path)) continue;
    if (taken.insert(access.path).second) requirements.push_back({access.path, command});
  }
  return requirements;
}

std::vector<WriteNeed> write_needs(const TraceLog& log, const HostTrace& trace) {
  std::vector<WriteNeed> needs;
  std::set<std::string> said;
  for (const PathAccess& access : log.accesses) {
    if (access.use != PathUse::Write || access.error != EROFS) continue;
    if (is_under_any(access.path, not_from_the_host()) || is_under_any(access.path, trace.excluded)) continue;
    if (said.insert(access.path).second) needs.push_back({access.path, parent_directory(access.path)});
  }
  return needs;
}

std::vector<PathAccess> missing_from_root(const TraceLog& log, const RunOptions& options) {
  std::vector<std::string> not_the_roots = {"/proc", "/sys", "/dev", "/tmp"};
  for (const JailMount& mount : options.mounts) not_the_roots.push_back(mount.target);
  std::vector<PathAccess> missing;
  std::set<std::string> said;
  for (const PathAccess& access : log.accesses) {
    if (access.error != ENOENT || access.use == PathUse::Write) continue;
    if (is_under_any(access.path, not_the_roots) || !exists_on_host(access.path)) continue;
    if (said.insert(access.path).second) missing.push_back(access);
  }
  return missing;
}

}  // namespace jailbuild
