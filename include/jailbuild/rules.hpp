// The runtime rules as the commands name them: the catalogue `jailbuild rules` prints and
// `add --with/--without` is checked against, and which rules a root's intent turns on. What each
// rule decides is the rules stage's (src/rules/rules.hpp); docs/runtime-rules.md explains each.
#pragma once

#include <string>
#include <vector>

#include "jailbuild/result.hpp"
#include "jailbuild/types.hpp"

namespace jailbuild {

struct RuleInfo {
  std::string name;
  bool on_by_default = true;
  std::string trigger;    // when it adds anything, from the closure: "tzset, localtime, ... imported"
  std::string adds;       // what it adds then
  std::string size_note;  // what that costs on Debian 12
};

// Every rule, in the order the planner applies them (a rule sees what the earlier ones added).
const std::vector<RuleInfo>& rule_catalogue();

// A usage error naming the first name that is no rule, and listing the rules; success when every
// name is one.
Result<void> check_rule_names(const std::vector<std::string>& names);

// The rules a root's options turn on, in catalogue order: those on by default, minus
// `rules_without`, plus `rules_with` (names the catalogue lacks stay, so the planner reports them).
std::vector<std::string> enabled_rules(const IntentOptions& options);

}  // namespace jailbuild
