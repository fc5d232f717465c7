// The catalogue of runtime rules: a rule is its file (its decision) and one line here.
#include <algorithm>
#include <memory>

#include "rule_context.hpp"
#include "rules.hpp"

namespace jailbuild {
namespace {

struct CatalogueEntry {
  RuleInfo info;
  RuleDecision decide;
};

// In the order the planner applies them: each sees what the earlier ones added, so the libraries
// the objects' notes say they dlopen come first, then `shell` (their closures are then looked at
// by the others).
const std::vector<CatalogueEntry>& entries() {
  static const std::vector<CatalogueEntry> catalogue = {
      {{"dlopen-notes", true, "an object of the closure carries an FDO .note.dlopen naming a \"required\" library",
        "that library with its closure, as dlopen finds it from the object (the first of its sonames found)",
        "what the notes name; no Debian 12 object carries such notes (systemd 252 predates them)"},
       decide_dlopen_required},
      {{"dlopen-recommended", false,
        "an object of the closure carries an FDO .note.dlopen naming a \"recommended\" library (the spec's default)",
        "that library with its closure, as for dlopen-notes", "what the notes name"},
       decide_dlopen_recommended},
      {{"dlopen-suggested", false,
        "an object of the closure carries an FDO .note.dlopen naming a \"suggested\" library",
        "that library with its closure, as for dlopen-notes", "what the notes name"},
       decide_dlopen_suggested},
      {{"shell", true, "system, popen or wordexp imported", "/bin/sh with its closure and its symlinks (dash)",
        "about 125 KB (dash; its libraries are libc's)"},
       decide_shell},
      {{"libgcc", true, "libc in the closure and pthread_cancel, pthread_exit or backtrace imported",
        "libgcc_s.so.1, found as the loader finds it from libc (glibc dlopens it to unwind)", "about 125 KB"},
       decide_libgcc},
      {{"tz", true, "tzset, localtime, localtime_r, mktime, timelocal, ctime, ctime_r or strftime imported",
        "/usr/share/zoneinfo and /etc/localtime as on the host",
        "about 1.3 MB in 1,310 entries (Debian 12 tzdata; 4 MB on disk); /etc/localtime is a symlink into it"},
       decide_tz},
  };
  return catalogue;
}

}  // namespace

const std::vector<RuleInfo>& rule_catalogue() {
  static const std::vector<RuleInfo> infos = [] {
    std::vector<RuleInfo> all;
    for (const CatalogueEntry& entry : entries()) all.push_back(entry.info);
    return all;
  }();
  return infos;
}

Result<void> check_rule_names(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const auto& catalogue = rule_catalogue();
    if (std::any_of(catalogue.begin(), catalogue.end(), [&](const RuleInfo& rule) { return rule.name == name; }))
      continue;
    std::string known;
    for (const RuleInfo& rule : catalogue) known += (known.empty() ? "" : ", ") + rule.name;
    return Error::usage("no rule named '" + name + "' (the rules: " + known + ")");
  }
  return {};
}

std::vector<std::string> enabled_rules(const IntentOptions& options) {
  const auto named = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::vector<std::string> enabled;
  for (const RuleInfo& rule : rule_catalogue()) {
    if (named(options.rules_with, rule.name) || (rule.on_by_default && !named(options.rules_without, rule.name)))
      enabled.push_back(rule.name);
  }
  for (const std::string& name : options.rules_with)
    if (!named(enabled, name)) enabled.push_back(name);
  return enabled;
}

std::vector<Rule> runtime_rules(const IntentOptions& options) {
  // One view of the imports for every rule of this plan; the rules hold it for as long as the
  // planner holds them.
  auto imports = std::make_shared<ClosureImports>();
  auto shared_options = std::make_shared<const IntentOptions>(options);
  std::vector<Rule> rules;
  for (const CatalogueEntry& entry : entries()) {
    rules.push_back({entry.info.name, [imports, shared_options, decide = entry.decide](const RuleInput& input) {
                       return decide(RuleContext{input, *imports, *shared_options});
                     }});
  }
  return rules;
}

}  // namespace jailbuild
