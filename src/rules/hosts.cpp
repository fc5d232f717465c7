// Rules `hosts` and `dns`: a program that resolves host names. Without /etc/hosts glibc asks DNS
// even for "localhost" (a server listening on localhost, `getent hosts localhost`), at
// 127.0.0.1:53 when there is no /etc/resolv.conf: nothing answers there in a jail without network,
// and on the host's network, whatever does.
#include <spdlog/spdlog.h>

#include "rule_context.hpp"

namespace jailbuild {
namespace {

// The calls that look a host name or address up through NSS's hosts database (and the resolver's
// own, for `dns`).
const std::set<std::string>& resolves_names() {
  static const std::set<std::string> calls = {
      "getaddrinfo",      "getnameinfo",   "gethostbyname", "gethostbyname_r", "gethostbyname2",
      "gethostbyname2_r", "gethostbyaddr", "gethostbyaddr_r", "gethostent",    "gethostent_r"};
  return calls;
}

// Whether every nameserver a resolv.conf names is systemd-resolved's stub (127.0.0.53, 127.0.0.54),
// which answers only on the host's loopback.
bool names_only_the_resolved_stub(const std::string& text) {
  bool any = false;
  for (std::size_t begin = 0; begin < text.size();) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (!line.starts_with("nameserver")) continue;
    any = true;
    if (line.find("127.0.0.53") == std::string::npos && line.find("127.0.0.54") == std::string::npos) return false;
  }
  return any;
}

}  // namespace

std::vector<RuleAddition> decide_hosts(const RuleContext& context) {
  const auto importer = context.imports.who_imports(context.input, resolves_names());
  if (!importer) return {};
  // Generated, not the host's: the host's /etc/hosts names the host and its network, which are
  // not the jail's business; the loopback names are what every program may expect (Debian's
  // defaults, "localhost" both ways so that a server on localhost binds where its client looks).
  std::string hosts =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n";
  // Generated too: "multi on", Debian's own host.conf, so that a name with an IPv4 and an IPv6
  // line (localhost) resolves to both, as on the host; the other keywords glibc still reads
  // (reorder, the obsolete spoof and order) say nothing a jail needs.
  std::string host_conf = "multi on\n";
  return {{GeneratedRequirement{"/etc/hosts", std::move(hosts), 0644, ""}, importer->describe()},
          {GeneratedRequirement{"/etc/host.conf", std::move(host_conf), 0644, ""}, importer->describe()}};
}

std::vector<RuleAddition> decide_dns(const RuleContext& context) {
  // Off by default: the host's resolv.conf points the jail at the host's resolver (and its
  // search domains), a policy choice `--with dns` makes.
  static const std::set<std::string> resolver_calls = [] {
    std::set<std::string> calls = resolves_names();
    calls.insert({"res_query", "res_search", "res_nquery", "res_nsearch", "__res_query", "__res_search"});
    return calls;
  }();
  const auto importer = context.imports.who_imports(context.input, resolver_calls);
  if (!importer) return {};
  const std::string conf = "/etc/resolv.conf";
  if (!context.input.exists(conf)) {
    spdlog::info("rule dns: the host has no {}; the root gets none (glibc then asks 127.0.0.1)", conf);
    return {};
  }
  // Often a symlink into /run (systemd-resolved's, resolvconf's), which the jail's /run does not
  // hold: the root gets a regular file with what the symlink leads to on the host.
  const auto target = context.input.host.canonical(conf);
  if (!target) {
    spdlog::warn("rule dns: {}; the root gets no resolv.conf", target.error().message);
    return {};
  }
  auto text = context.input.read(*target);
  if (!text) {
    spdlog::warn("rule dns: {} (from {}) cannot be read; the root gets no resolv.conf", *target, conf);
    return {};
  }
  // systemd-resolved's stub listens on the host's loopback only, which a jail with its own
  // network namespace cannot reach: its list of the real servers is taken instead.
  const std::string upstream = "/run/systemd/resolve/resolv.conf";
  if (names_only_the_resolved_stub(*text)) {
    if (auto servers = context.input.read(upstream)) {
      spdlog::info("rule dns: {} names only systemd-resolved's stub; the root's resolv.conf is {}", conf, upstream);
      text = std::move(servers);
    }
  }
  return {{GeneratedRequirement{conf, std::move(*text), 0644, ""}, importer->describe()}};
}

}  // namespace jailbuild
