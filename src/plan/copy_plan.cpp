#include <algorithm>

#include "jailbuild/plan.hpp"

namespace jailbuild {

const PlannedEntry* CopyPlan::find(const std::string& path) const {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const PlannedEntry& e) { return e.path == path; });
  return it == entries.end() ? nullptr : &*it;
}

bool CopyPlan::complete() const {
  return std::all_of(problems.begin(), problems.end(),
                     [](const Problem& p) { return p.kind == ProblemKind::Skipped; });
}

}  // namespace jailbuild
