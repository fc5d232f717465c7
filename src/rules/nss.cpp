// Rule `nss`: glibc's Name Service Switch reads /etc/nsswitch.conf for where each database (passwd,
// group, hosts, services, ...) comes from, and dlopens libnss_SERVICE.so.2 for each service it
// names that libc does not hold itself. Without the conf glibc falls back to its defaults; without
// a module the service is skipped as unavailable, silently.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "rule_context.hpp"
#include "util/paths.hpp"

namespace jailbuild {
namespace {

// The services glibc holds itself since 2.34 (Debian 12 has 2.36): it never dlopens them, and
// their libnss_files.so.2 and libnss_dns.so.2 are empty stubs left for old binaries.
bool built_into_libc(const std::string& service) { return service == "files" || service == "dns"; }

// A name glibc would make a file name of: libnss_NAME.so.2 (and nothing that leaves its directory).
bool is_service_name(const std::string& name) {
  return !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                              std::string::npos;
}

// The services that answer only through systemd's daemons, over sockets in /run that a jail does not
// have: systemd (userdb; its synthesized root and nobody the generated files already hold),
// resolve (systemd-resolved), mymachines (machined). In the root's conf they would cost a module
// and its closure (libnss_systemd brings libm: 1.3 MB on Debian 12) for nothing but a failed
// connect on every look-up.
bool answers_only_through_systemd(const std::string& service) {
  return service == "systemd" || service == "resolve" || service == "mymachines";
}

}  // namespace

// The root's nsswitch.conf: the host's, line by line, less the services above together with the
// actions that follow them ("resolve [!UNAVAIL=return]": left behind, the action would apply to
// the service before). `services` receives the services it keeps, each once, in order.
std::string nsswitch_conf_for_root(const std::string& host_conf, std::vector<std::string>& services) {
  std::string out;
  for (std::size_t begin = 0; begin < host_conf.size();) {
    const std::size_t end = std::min(host_conf.find('\n', begin), host_conf.size());
    const std::string line = host_conf.substr(begin, end - begin);
    begin = end + 1;
    const std::size_t comment = line.find('#');
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos || colon > comment) {
      out += line + "\n";
      continue;
    }
    // Its items: each service with the actions that follow it ("[NOTFOUND=return]", which may hold
    // blanks); an action before any service stays as it is.
    struct Item {
      std::string service;
      std::string text;
    };
    std::vector<Item> items;
    const std::string body = line.substr(colon + 1, comment == std::string::npos ? comment : comment - colon - 1);
    for (std::size_t at = 0; at < body.size();) {
      const char c = body[at];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++at;
      } else if (c == '[') {
        const std::size_t close = std::min(body.find(']', at), body.size() - 1);
        if (items.empty()) items.push_back({});
        items.back().text += " " + body.substr(at, close - at + 1);
        at = close + 1;
      } else {
        const std::size_t stop = std::min(body.find_first_of(" \t\r[", at), body.size());
        items.push_back({body.substr(at, stop - at), body.substr(at, stop - at)});
        at = stop;
      }
    }
    // A line that names none of them stays as the host wrote it.
    if (std::none_of(items.begin(), items.end(),
                     [](const Item& item) { return answers_only_through_systemd(item.service); })) {
      for (const Item& item : items)
        if (!item.service.empty() && std::find(services.begin(), services.end(), item.service) == services.end())
          services.push_back(item.service);
      out += line + "\n";
      continue;
    }
    std::string kept = line.substr(0, colon + 1);
    for (const Item& item : items) {
      if (answers_only_through_systemd(item.service)) continue;
      kept += " " + item.text;
      if (!item.service.empty() && std::find(services.begin(), services.end(), item.service) == services.end())
        services.push_back(item.service);
    }
    out += kept + (comment == std::string::npos ? "" : " " + line.substr(comment)) + "\n";
  }
  return out;
}

std::vector<RuleAddition> decide_nss(const RuleContext& context) {
  // The calls that go through NSS for a database (and initgroups, getgrouplist: group; getlogin:
  // passwd).
  static const std::set<std::string> uses_nss = {
      "getpwuid",         "getpwuid_r",       "getpwnam",        "getpwnam_r",       "getpwent",
      "getpwent_r",       "getgrgid",         "getgrgid_r",      "getgrnam",         "getgrnam_r",
      "getgrent",         "getgrent_r",       "initgroups",      "getgrouplist",     "getlogin",
      "getlogin_r",       "getspnam",         "getspnam_r",      "getaddrinfo",      "getnameinfo",
      "gethostbyname",    "gethostbyname_r",  "gethostbyname2",  "gethostbyname2_r", "gethostbyaddr",
      "gethostbyaddr_r",  "gethostent",       "getservbyname",   "getservbyname_r",  "getservbyport",
      "getservbyport_r",  "getservent",       "getprotobyname",  "getprotobyname_r", "getprotobynumber",
      "getprotobynumber_r", "getprotoent",    "getnetbyname",    "getnetbyaddr",     "getnetgrent"};
  const auto importer = context.imports.who_imports(context.input, uses_nss);
  if (!importer) return {};
  std::vector<RuleAddition> added;

  // The small databases NSS's `files` reads as they are: /etc/services (13 KB) for a service name
  // (getservbyname, and getaddrinfo's "http"), /etc/protocols (3 KB) for a protocol's. The host's,
  // copied: they hold no secret, and a root of the host's programs wants the host's numbers.
  static const std::set<std::string> names_services = {"getservbyname", "getservbyname_r", "getservbyport",
                                                       "getservbyport_r", "getservent", "getaddrinfo"};
  static const std::set<std::string> names_protocols = {"getprotobyname", "getprotobyname_r", "getprotobynumber",
                                                        "getprotobynumber_r", "getprotoent"};
  for (const auto& [file, calls] : {std::pair{"/etc/services", &names_services}, {"/etc/protocols", &names_protocols}}) {
    if (const auto caller = context.imports.who_imports(context.input, *calls); caller && context.input.exists(file))
      added.push_back({PathRequirement{file}, caller->describe()});
  }

  // The host's nsswitch.conf, its order and its actions, less the services only systemd's daemons
  // answer (nsswitch_conf_for_root): the jail looks its names up as the host would. Its first service is
  // `files` on every distribution, which the root's generated passwd, group and hosts answer; any
  // other service behind a daemon (sssd, nslcd) finds no socket in the jail and is skipped as
  // unavailable. Without a conf on the host, none in the root: glibc's defaults hold for both alike.
  const std::string conf_path = "/etc/nsswitch.conf";
  if (!context.input.exists(conf_path)) return added;
  const auto real_conf = context.input.host.canonical(conf_path);
  auto conf = real_conf ? context.input.read(*real_conf) : std::nullopt;
  if (!conf) {
    spdlog::warn("rule nss: {} cannot be read; the root gets none", conf_path);
    return added;
  }

  // Each service it names that libc does not hold is a module glibc dlopens from libc: found as
  // the loader finds it from libc (its own directory on Debian), with its closure. A module the
  // host lacks (Debian names `db` and `nis` without installing them) is one glibc skips on the host
  // too: no problem for the plan, said at -v.
  const LoadedObject* libc = ClosureImports::find_object(context.input.programs, is_libc);
  std::vector<std::string> services;
  std::string root_conf = nsswitch_conf_for_root(*conf, services);
  for (const std::string& service : services) {
    if (built_into_libc(service) || libc == nullptr) continue;
    if (!is_service_name(service)) {
      spdlog::info("rule nss: {} names '{}', which is no service name; not looked for", conf_path, service);
      continue;
    }
    const std::string module = "libnss_" + service + ".so.2";
    const std::string& libc_file = file_of(*libc);
    if (!context.input.exists(join_path(parent_directory(libc_file), module))) {
      spdlog::info("rule nss: {} names {}, but the host has no {} beside libc: skipped there and here", conf_path,
                   service, module);
      continue;
    }
    added.push_back({DlopenRequirement{libc->path, module}, importer->describe() + "; " + conf_path + " names " + service});
  }
  added.push_back({GeneratedRequirement{conf_path, std::move(root_conf), 0644, ""}, importer->describe()});
  return added;
}

}  // namespace jailbuild
