// Rule `shell`: a program that may run /bin/sh gets it.
#include "rule_context.hpp"

namespace jailbuild {

std::vector<RuleAddition> decide_shell(const RuleContext& context) {
  // The C library calls that run "/bin/sh -c" themselves: system and popen; wordexp runs the shell
  // for command substitution. Not the exec family or posix_spawn: they run the program they are
  // given (that is in the closure when it is a path jailbuild can see), and their only use of the
  // shell, execvp/execlp running a #!-less script through /bin/sh after ENOEXEC, would add the
  // shell to nearly every program that starts another.
  static const std::set<std::string> runs_the_shell = {"system", "popen", "wordexp"};
  const auto importer = context.imports.who_imports(context.input, runs_the_shell);
  if (!importer) return {};
  // /bin/sh as glibc names it (_PATH_BSHELL): the planner brings its symlinks (/bin -> usr/bin,
  // sh -> dash) and its closure.
  return {{PathRequirement{"/bin/sh"}, importer->describe()}};
}

}  // namespace jailbuild
