#include <algorithm>

#include "jailbuild/plan.hpp"

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

std::string to_string(const Requirement& requirement) {
  struct Describe {
    std::string operator()(const PathRequirement& r) const { return r.path; }
    std::string operator()(const DlopenRequirement& r) const { return "dlopen(" + r.name + ") from " + r.from; }
    std::string operator()(const RuleRequirement& r) const { return "rule " + r.name; }
    std::string operator()(const TracedRequirement& r) const { return r.path; }
    std::string operator()(const GeneratedRequirement& r) const { return r.path; }
  };
  return std::visit(Describe{}, requirement);
}

const PlannedEntry* CopyPlan::find(const std::string& path) const {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const PlannedEntry& e) { return e.path == path; });
  return it == entries.end() ? nullptr : &*it;
}

bool CopyPlan::complete() const {
  return std::all_of(problems.begin(), problems.end(),
                     [](const Problem& p) { return p.kind == ProblemKind::Skipped; });
}

}  // namespace jailbuild
