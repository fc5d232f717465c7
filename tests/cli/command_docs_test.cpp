// The man pages and completions against --help, from the jailbuild binary: every option a command's
// --help lists is on its man page, in its bash completion and in its zsh completion, and every
// command --help lists has them; the bash completion really completes (its function called with
// COMP_WORDS, as bash does on TAB TAB); the pages render with man and go-md2man without a warning.
// Guards: at least 50 options are compared, and a name --help lacks is found in none of them.
#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild::testing {
namespace {

std::string output_of(const std::vector<std::string>& args) {
  const ProcessResult result = run_jailbuild(args);
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  return result.output;
}

// The commands `jailbuild --help` lists under "Subcommands:".
std::vector<std::string> listed_commands() {
  std::istringstream help(output_of({"--help"}));
  std::vector<std::string> commands;
  bool in_list = false;
  for (std::string line; std::getline(help, line);) {
    if (line.starts_with("Subcommands:")) in_list = true;
    else if (in_list && line.size() > 2 && line.starts_with("  ") && line[2] != ' ')
      commands.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return commands;
}

// The option names `jailbuild COMMAND --help` lists: the words of each "  -x,--xxx ..." line's first column.
std::vector<std::string> listed_options(const std::string& command) {
  std::istringstream help(output_of({command, "--help"}));
  std::vector<std::string> names;
  const std::regex name(R"(--?[A-Za-z][-A-Za-z0-9]*)");
  for (std::string line; std::getline(help, line);) {
    if (!line.starts_with("  -")) continue;
    const std::string column = line.substr(2, line.find(' ', 2) - 2);
    for (auto match = std::sregex_iterator(column.begin(), column.end(), name); match != std::sregex_iterator(); ++match)
      names.push_back(match->str());
  }
  return names;
}

// The line of the bash script that lists COMMAND's options.
std::string bash_case(const std::string& script, const std::string& command) {
  std::istringstream lines(script);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("    " + command + ") ")) return line;
  return "";
}

// The part of the zsh script for COMMAND: from "COMMAND) _arguments" to its ";;".
std::string zsh_case(const std::string& script, const std::string& command) {
  const std::size_t start = script.find("        " + command + ") _arguments");
  if (start == std::string::npos) return "";
  return script.substr(start, script.find(";;", start) - start);
}

bool has_word(const std::string& text, const std::string& word) {
  return std::regex_search(text, std::regex("(^|[^-A-Za-z0-9])" + word + "($|[^-A-Za-z0-9])"));
}

TEST(CommandDocs, EveryOptionOfHelpIsOnTheManPageAndInBothCompletions) {
  const std::vector<std::string> commands = listed_commands();
  ASSERT_GE(commands.size(), 10U) << "the --help listing was not understood";
  const std::string bash = output_of({"completion", "bash"});
  const std::string zsh = output_of({"completion", "zsh"});
  std::size_t compared = 0;
  for (const std::string& command : commands) {
    const std::string page = output_of({"help-man", command});
    const std::string bash_options = bash_case(bash, command);
    const std::string zsh_options = zsh_case(zsh, command);
    ASSERT_FALSE(bash_options.empty()) << command << " has no case in the bash completion";
    ASSERT_FALSE(zsh_options.empty()) << command << " has no case in the zsh completion";
    const std::vector<std::string> options = listed_options(command);
    EXPECT_FALSE(options.empty()) << command;
    for (const std::string& option : options) {
      EXPECT_TRUE(contains(page, "**" + option + "**")) << command << " " << option << " is not on its man page";
      EXPECT_TRUE(has_word(bash_options, option)) << command << " " << option << " is not in the bash completion";
      EXPECT_TRUE(contains(zsh_options, "'*" + option + "[")) << command << " " << option << " is not in the zsh completion";
      ++compared;
    }
    // The guard: a name --help lacks is in none of them, so the checks above can fail.
    EXPECT_FALSE(contains(page, "**--no-such-option**"));
    EXPECT_FALSE(has_word(bash_options, "--no-such-option"));
  }
  EXPECT_GE(compared, 50U);
  // The main page lists every command, and the global options.
  const std::string main_page = output_of({"help-man", "jailbuild"});
  for (const std::string& command : commands) EXPECT_TRUE(contains(main_page, "**" + command + "**")) << command;
  for (const std::string option : {"--verbose", "--quiet", "--version"})
    EXPECT_TRUE(contains(main_page, "**" + option + "**")) << option;
}

TEST(CommandDocs, TheProseComesFromTheCommandsDocsPage) {
  const std::string page = output_of(
      {"help-man", "list", "--prose", std::string(JAILBUILD_SOURCE_DIR) + "/docs/commands/list.md"});
  EXPECT_TRUE(contains(page, "# DESCRIPTION\n`list` shows what a root holds")) << page;
  EXPECT_TRUE(contains(page, "# EXIT STATUS\n")) << page;
  EXPECT_TRUE(contains(page, "# EXAMPLES\n")) << page;
  // A link to another command's page becomes that man page's name.
  EXPECT_TRUE(contains(page, "(**jailbuild-add**(1))")) << page;
  const ProcessResult unknown = run_jailbuild({"help-man", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, kExitUsage) << unknown.describe();
  const ProcessResult unreadable = run_jailbuild({"help-man", "list", "--prose", "/nonexistent/list.md"});
  EXPECT_EQ(unreadable.exit_code, kExitUsage) << unreadable.describe();
  EXPECT_TRUE(contains(unreadable.output, "/nonexistent/list.md")) << unreadable.describe();
}

// What the bash completion offers for the words WORDS (the last one being completed), from its
// function called as bash calls it on TAB.
std::vector<std::string> bash_completes(const std::string& script_path, const std::vector<std::string>& words,
                                        const std::string& cwd = "/") {
  std::string array;
  for (const std::string& word : words) array += " '" + word + "'";
  const std::string program = "cd '" + cwd + "' && source '" + script_path + "' && COMP_WORDS=(" + array +
                              ") && COMP_CWORD=" + std::to_string(words.size() - 1) +
                              " && _jailbuild && printf '%s\\n' \"${COMPREPLY[@]}\"";
  const ProcessResult result = run_process({"/bin/bash", "-c", program}, kPlainEnv);
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  std::vector<std::string> offered;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) offered.push_back(line);
  return offered;
}

bool offers(const std::vector<std::string>& offered, const std::string& word) {
  return std::find(offered.begin(), offered.end(), word) != offered.end();
}

TEST(CommandDocs, TheBashCompletionCompletesCommandsOptionsAndPaths) {
  TempDir temp("jailbuild-completion");
  const fs::path dir(temp.path());
  const std::string script = (dir / "jailbuild").string();
  write_file(script, output_of({"completion", "bash"}));
  const std::vector<std::string> commands = bash_completes(script, {"jailbuild", ""});
  for (const std::string& command : listed_commands()) EXPECT_TRUE(offers(commands, command)) << command;
  EXPECT_FALSE(offers(commands, "help-man")) << "the hidden commands are not offered";
  EXPECT_EQ(bash_completes(script, {"jailbuild", "-v", "run", "--mem"}), std::vector<std::string>{"--memory"});
  EXPECT_EQ(bash_completes(script, {"jailbuild", "sy"}), std::vector<std::string>{"sync"});
  // An option's value and an operand are paths: files of the working directory.
  write_file(dir / "spec.toml", "");
  EXPECT_EQ(bash_completes(script, {"jailbuild", "add", "--root", "sp"}, dir.string()),
            std::vector<std::string>{"spec.toml"});
  EXPECT_EQ(bash_completes(script, {"jailbuild", "apply", "sp"}, dir.string()),
            std::vector<std::string>{"spec.toml"});
}

TEST(CommandDocs, TheZshCompletionIsValidZsh) {
  if (!fs::exists("/usr/bin/zsh")) GTEST_SKIP() << "zsh is not installed (scripts/install-deps.sh --test)";
  TempDir temp("jailbuild-completion");
  const fs::path dir(temp.path());
  write_file(dir / "_jailbuild", output_of({"completion", "zsh"}));
  const ProcessResult parsed = run_process({"/usr/bin/zsh", "-n", (dir / "_jailbuild").string()}, kPlainEnv);
  EXPECT_EQ(parsed.exit_code, 0) << parsed.describe();
  // The control: zsh -n does refuse what is not zsh.
  write_file(dir / "broken", "_jailbuild() {\n  case $x in\n}\n");
  EXPECT_NE(run_process({"/usr/bin/zsh", "-n", (dir / "broken").string()}, kPlainEnv).exit_code, 0);
}

TEST(CommandDocs, EveryPageRendersWithoutAWarning) {
  if (!fs::exists("/usr/bin/go-md2man")) GTEST_SKIP() << "go-md2man is not installed (scripts/install-deps.sh --test)";
  TempDir temp("jailbuild-man");
  const fs::path dir(temp.path());
  const ProcessResult made = run_process({std::string(JAILBUILD_SOURCE_DIR) + "/scripts/command-docs.sh",
                                          JAILBUILD_BINARY, JAILBUILD_SOURCE_DIR, dir.string()},
                                         kPlainEnv, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(made.exit_code, 0) << made.describe();
  std::size_t pages = 0;
  for (const auto& entry : fs::directory_iterator(dir / "man")) {
    const std::string page = entry.path().string();
    // man's own check, as lintian makes it: groff's warnings on stderr, the text on stdout.
    const ProcessResult shown = run_process(
        {"/bin/sh", "-c", "man --warnings -E UTF-8 -l '" + page + "' 2>&1 >/dev/null"},
        {{"PATH", "/usr/bin:/bin"}, {"MANWIDTH", "80"}, {"LC_ALL", "C.UTF-8"}});
    EXPECT_EQ(shown.exit_code, 0) << shown.describe();
    EXPECT_EQ(shown.output, "") << page;
    ++pages;
  }
  EXPECT_EQ(pages, listed_commands().size() + 1);
}

}  // namespace
}  // namespace jailbuild::testing
