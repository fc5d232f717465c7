#include <algorithm>

#include "planner.hpp"

namespace jailbuild {

std::string loader_rule(const LinkMap& map, const LoadedObject& object) {
  switch (object.found_by) {
    case FoundBy::Program: return "program";
    case FoundBy::Interpreter: return "interpreter";
    case FoundBy::Preload: return "preload";
    case FoundBy::Path: return "path given in DT_NEEDED";
    case FoundBy::Rpath: return "rpath of " + map.objects[object.rpath_owner.value_or(0)].path;
    case FoundBy::LdLibraryPath: return "LD_LIBRARY_PATH";
    case FoundBy::Runpath: return "runpath of " + map.objects[object.loader.value_or(0)].path;
    case FoundBy::Cache: return "ld.so.cache";
    case FoundBy::SystemDir: return "system dir";
  }
  return "?";
}

const PlannedEntry* CopyPlan::find(const std::string& path) const {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const PlannedEntry& e) { return e.path == path; });
  return it == entries.end() ? nullptr : &*it;
}

bool CopyPlan::complete() const {
  return std::all_of(problems.begin(), problems.end(), [](const Problem& p) { return p.kind == ProblemKind::Skipped; });
}

}  // namespace jailbuild
