// Rule `locale`: a program that calls setlocale(LC_ALL, "") takes its language and character set
// from LANG, and `run` sets LANG to C.UTF-8 (kRunLocale) unless the caller's locale is in the
// root. glibc 2.36 has no built-in C.UTF-8: without its files setlocale fails, silently, and the
// program runs in C (`wc -m` counts bytes, not characters; perl warns on each start).
#include <spdlog/spdlog.h>

#include "jailbuild/types.hpp"
#include "rule_context.hpp"
#include "util/paths.hpp"

namespace jailbuild {

std::vector<RuleAddition> decide_locale(const RuleContext& context) {
  // setlocale loads a named locale's files (newlocale does too, but a program that only calls
  // newlocale names its locale itself, and libstdc++ imports setlocale anyway).
  static const std::set<std::string> loads_locales = {"setlocale"};
  const auto importer = context.imports.who_imports(context.input, loads_locales);
  if (!importer) return {};
  std::vector<RuleAddition> added;
  // The locale `run` sets, from the directory glibc reads when LOCPATH is unset.
  if (context.input.exists(kRunLocaleFiles))
    added.push_back({PathRequirement{kRunLocaleFiles}, importer->describe()});
  else
    spdlog::info("rule locale: the host has no {}; `run` will set LANG=C", kRunLocaleFiles);
  // The named locales generated on the host (locale-gen: en_US.UTF-8 and the like), which
  // setlocale reads before any locale directory. A host without one has only C.UTF-8 to give.
  const std::string archive = join_path(kLocaleDirectory, "locale-archive");
  if (context.input.exists(archive)) added.push_back({PathRequirement{archive}, importer->describe()});
  return added;
}

}  // namespace jailbuild
