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
// the objects' notes say they dlopen come first, then `interpreter` (the ELF modules of the trees
// it adds have closures the others look at: Python's _ssl links libssl, for `tls`), then `shell`
// (the shell's own closure is then looked at by the others).
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
      {{"interpreter", true,
        "a program that is python3.X or links libpython3.X; perl or libperl, or libruby, in the closure",
        "the interpreter's standard library as it finds it: Python's prefix/lib/python3.X (by getpath's os.py "
        "landmark) without test, idlelib, turtledemo, config-3.X-* and site/dist-packages; perl's @INC "
        "directories holding its Config.pm and the archlib and privlib it names, without CORE; ruby's load-path "
        "directory holding rbconfig.rb and the rubyarchdir and rubylibdir it names",
        "Python 3.11: about 38 MB in 1,464 entries (the tree, and lib-dynload's libraries: libcrypto, "
        "libsqlite3, ...); perl 5.36: about 40 MB in 2,546 entries (Encode's tables are 10 MB); ruby 3.1: about "
        "23 MB in 1,740 entries"},
       decide_interpreter},
      {{"shell", true, "system, popen or wordexp imported; or an exec call imported by a file naming /bin/sh",
        "/bin/sh with its closure and its symlinks (dash)",
        "about 125 KB (dash; its libraries are libc's)"},
       decide_shell},
      {{"libgcc", true, "libc in the closure and pthread_cancel, pthread_exit or backtrace imported",
        "libgcc_s.so.1, found as the loader finds it from libc (glibc dlopens it to unwind)", "about 125 KB"},
       decide_libgcc},
      {{"tz", true, "tzset, localtime, localtime_r, mktime, timelocal, ctime, ctime_r or strftime imported",
        "/usr/share/zoneinfo and /etc/localtime as on the host",
        "about 1.3 MB in 1,310 entries (Debian 12 tzdata; 4 MB on disk); /etc/localtime is a symlink into it"},
       decide_tz},
      {{"gconv", true, "iconv_open imported",
        "the gconv modules glibc's own gconv-modules names (ISO-8859-1, ISO-8859-15, CP1252, UTF-16, UTF-32, UTF-7, "
        "UNICODE, ANSI_X3.110) and that file, from the directory the closure's libc reads (${libdir}/gconv)",
        "166 KB in 10 entries (8 modules and gconv-modules; the rest of the directory is --with gconv-all)"},
       decide_gconv},
      {{"gconv-all", false, "iconv_open imported",
        "the whole gconv directory of the closure's libc: every module, gconv-modules.d and gconv-modules.cache",
        "8.1 MB in 258 entries (Debian 12 libc6: 256 files)"},
       decide_gconv_all},
      {{"locale", true, "setlocale imported",
        "/usr/lib/locale/C.utf8, the locale run sets (LANG=C.UTF-8), and /usr/lib/locale/locale-archive when the "
        "host has one",
        "359 KB in 15 entries for C.utf8, plus the host's locale-archive if any (it grows with each locale "
        "generated; none on the host measured)"},
       decide_locale},
      {{"terminfo", true, "libtinfo, libncurses or libncursesw in the closure",
        "the terminfo entries of common terminals (xterm, xterm-256color, screen, tmux, rxvt, linux, vt100, vt220, "
        "ansi, dumb and their -256color forms), each from the first directory ncurses searches that has it",
        "32 KB in 24 entries"},
       decide_terminfo},
      {{"tls", true, "libcrypto (or libssl, which links it) in the closure",
        "from libcrypto's compiled OPENSSLDIR: openssl.cnf, certs (the CA directory, its symlinks followed into "
        "/etc/ssl/certs and /usr/share/ca-certificates), cert.pem and ct_log_list.cnf where present; never "
        "private or misc",
        "about 620 KB in 447 entries (Debian 12 ca-certificates: the CA directory's symlinks, 142 certificates "
        "and their bundle; openssl.cnf)"},
       decide_tls},
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
