// Rule `libgcc`: glibc dlopens libgcc_s.so.1 to unwind a thread's stack (pthread_cancel,
// pthread_exit) or to walk it (backtrace), and aborts when it cannot: "libgcc_s.so.1 must be
// installed for pthread_cancel to work".
#include "rule_context.hpp"

namespace jailbuild {

std::vector<RuleAddition> decide_libgcc(const RuleContext& context) {
  const LoadedObject* libc = ClosureImports::find_object(context.input.programs, is_libc);
  if (libc == nullptr) return {};
  static const std::set<std::string> unwinds = {"pthread_cancel", "pthread_exit", "backtrace"};
  const auto importer = context.imports.who_imports(context.input, unwinds);
  if (!importer) return {};
  // Called from libc, so found with libc's search context, as the loader would find it.
  return {{DlopenRequirement{libc->path, "libgcc_s.so.1"}, importer->describe()}};
}

}  // namespace jailbuild
