// Rule `shell`: a program that may run /bin/sh gets it.
#include "rule_context.hpp"

namespace jailbuild {

std::vector<RuleAddition> decide_shell(const RuleContext& context) {
  // The C library calls that run "/bin/sh -c" themselves: system and popen; wordexp runs the shell
  // for command substitution. Not the exec family or posix_spawn alone: they run the program they
  // are given (that is in the closure when it is a path jailbuild can see), and their only use of
  // the shell, execvp/execlp running a #!-less script through /bin/sh after ENOEXEC, would add the
  // shell to nearly every program that starts another.
  static const std::set<std::string> runs_the_shell = {"system", "popen", "wordexp"};
  auto importer = context.imports.who_imports(context.input, runs_the_shell);
  // A program that execs the shell by name itself: GNU tar runs `-J`'s compressor as
  // execv("/bin/sh", {"sh", "-c", ...}), git runs hooks and aliases through it. The exec family
  // imported and "/bin/sh" among the file's strings: only those importers' files are searched.
  static const std::set<std::string> execs = {"execl",  "execle",  "execlp",      "execv",       "execve",
                                              "execvp", "execvpe", "posix_spawn", "posix_spawnp"};
  if (!importer) importer = context.imports.who_imports_naming(context.input, execs, "/bin/sh");
  if (!importer) return {};
  // /bin/sh as glibc names it (_PATH_BSHELL): the planner brings its symlinks (/bin -> usr/bin,
  // sh -> dash) and its closure.
  return {{PathRequirement{"/bin/sh"}, importer->describe()}};
}

}  // namespace jailbuild
