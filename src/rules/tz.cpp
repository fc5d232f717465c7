// Rule `tz`: a program that converts to local time reads the zone named by TZ from
// /usr/share/zoneinfo, or /etc/localtime without TZ. Without them glibc silently uses UTC, or
// prints the TZ name's prefix ("Europe") as the zone.
#include "rule_context.hpp"

namespace jailbuild {

std::vector<RuleAddition> decide_tz(const RuleContext& context) {
  // The calls that load the time zone (each runs glibc's tzset). strftime too: its %Z and %z do.
  static const std::set<std::string> local_time = {"tzset",     "localtime", "localtime_r", "mktime",
                                                   "timelocal", "ctime",     "ctime_r",     "strftime"};
  const auto importer = context.imports.who_imports(context.input, local_time);
  if (!importer) return {};
  std::vector<RuleAddition> added = {{PathRequirement{"/usr/share/zoneinfo"}, importer->describe()}};
  // The host's own zone, a symlink into zoneinfo on Debian. A host without one (a container) runs
  // its programs in UTC, and so does the root without it; a missing file is no problem to report,
  // and one that appears later is planned by the next sync (the look is recorded).
  if (context.input.exists("/etc/localtime"))
    added.push_back({PathRequirement{"/etc/localtime"}, importer->describe()});
  return added;
}

}  // namespace jailbuild
