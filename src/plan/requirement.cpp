// The planner's input (requirement.hpp) in one line.
#include "requirement.hpp"

#include <variant>

namespace jailbuild {

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

}  // namespace jailbuild
