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

// In the order the planner applies them: each sees what the earlier ones added, so `shell` comes
// first (the shell's own closure is then looked at by the others).
const std::vector<CatalogueEntry>& entries() {
  static const std::vector<CatalogueEntry> catalogue = {
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
      {{"users", true,
        "getpwuid, getpwnam, getgrgid, getgrnam (and their _r and -ent forms), getlogin, initgroups or getgrouplist "
        "imported",
        "a generated /etc/passwd and /etc/group: root, nobody, nogroup and the add --user users with their groups",
        "118 bytes (root, nobody, their groups); about 60 bytes more per add --user user"},
       decide_users},
      {{"hosts", true, "getaddrinfo, getnameinfo, gethostbyname* or gethostbyaddr* imported",
        "a generated /etc/hosts (the loopback names) and /etc/host.conf (multi on)", "70 bytes"},
       decide_hosts},
      {{"dns", false, "as hosts, or res_query/res_search imported",
        "the host's /etc/resolv.conf as a regular file (its symlink followed on the host)", "under 1 KB"},
       decide_dns},
      {{"nss", true, "getpw*, getgr*, initgroups, getaddrinfo, gethostby*, getserv* or getproto* imported",
        "the host's /etc/nsswitch.conf less systemd's services, libnss_SERVICE.so.2 for each other service it "
        "names beyond files and dns, /etc/services and /etc/protocols for their importers",
        "16 KB for getent (the conf 0.4 KB, /etc/services 12.8 KB, /etc/protocols 3.1 KB); no module for "
        "Debian 12's default conf (its systemd is left out: it answers only through systemd's daemons)"},
       decide_nss},
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
