// Rule `tls`: OpenSSL reads its configuration and its CA store from the directory it was built
// with (OPENSSLDIR): `openssl req` cannot open OPENSSLDIR/openssl.cnf without it, and a TLS client
// (Python's ssl.create_default_context()) silently trusts no CA at all.
#include <algorithm>
#include <set>
#include <string_view>

#include <spdlog/spdlog.h>

#include "compiled_paths.hpp"
#include "elf/elf.hpp"
#include "rule_context.hpp"
#include "util/paths.hpp"

namespace jailbuild {
namespace {

// libcrypto is the library that reads them (libssl uses it: a libssl in the closure brings its
// libcrypto into the same link map, so looking for libcrypto finds both).
bool is_libcrypto(const LoadedObject& object) {
  const auto named = [](std::string_view name) { return name.starts_with("libcrypto.so"); };
  return std::any_of(object.names.begin(), object.names.end(), named) || named(base_name(object.real_path)) ||
         named(base_name(object.path));
}

// The OPENSSLDIR compiled into a libcrypto: OpenSSL keeps it in the library as the text
// `OPENSSLDIR: "/usr/lib/ssl"` (what `openssl version -d` prints).
std::optional<std::string> compiled_openssl_dir(std::span<const std::byte> bytes) {
  return quoted_path_after(bytes, "OPENSSLDIR: \"");
}

}  // namespace

std::vector<RuleAddition> decide_tls(const RuleContext& context) {
  std::vector<RuleAddition> added;
  std::set<std::string> libraries_read;
  std::set<std::string> dirs_added;
  for (const LinkMap& map : context.input.programs) {
    for (const LoadedObject& object : map.objects) {
      if (!is_libcrypto(object)) continue;
      const std::string& library = file_of(object);
      if (!libraries_read.insert(library).second) continue;
      // The library is in the closure, so planned: the watch list follows it, and a new build
      // with another OPENSSLDIR makes `sync` plan again. Mapped, not read into memory: the text
      // sits somewhere in its 4.5 MB.
      auto mapped = map_file_of(object, context.input.host);
      const std::optional<std::string> dir = mapped ? compiled_openssl_dir(mapped->bytes()) : std::nullopt;
      if (!dir) {
        spdlog::info("rule tls: {} names no OPENSSLDIR that can be read{}; no OpenSSL configuration or CA store added",
                     library, mapped ? "" : " (" + mapped.error().message + ")");
        continue;
      }
      if (!dirs_added.insert(*dir).second) continue;
      const std::string why = library + " (OPENSSLDIR " + *dir + ") is in the closure of " + map.objects[0].path;
      // What OpenSSL reads there (its defaults, all derived from OPENSSLDIR): the configuration,
      // the CA directory (Debian: a symlink to /etc/ssl/certs, hashed symlinks into
      // /usr/share/ca-certificates, all followed by the planner) and the CA bundle, and the CT log
      // list. Never all of OPENSSLDIR: `private` holds the host's private keys (/etc/ssl/private),
      // and `misc` scripts whose #! would bring perl along.
      for (const char* name : {"openssl.cnf", "certs", "cert.pem", "ct_log_list.cnf"}) {
        const std::string path = *dir + "/" + name;
        if (!context.input.exists(path)) continue;
        // A symlink to nothing (cert.pem without ca-certificates installed) is not added: the
        // planner would report it as a file it cannot provide.
        if (!context.input.host.canonical(path)) {
          spdlog::info("rule tls: {} leads nowhere; not added", path);
          continue;
        }
        added.push_back({PathRequirement{path}, why});
      }
    }
  }
  return added;
}

}  // namespace jailbuild
