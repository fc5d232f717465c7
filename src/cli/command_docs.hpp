// Man pages and shell completions from the command model (command_docs.cpp).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace jailbuild::cli {

// The man page of `name` (a command of `app`, or "jailbuild" for the main page) as go-md2man
// Markdown: synopsis and options from the model, the rest from `prose` (its docs/commands page,
// or empty). Empty if `app` has no such command.
std::string man_page_markdown(const CLI::App& app, const std::string& name, const std::string& prose);

// The completion script of `shell` ("bash" or "zsh") for every command and option of `app`; empty
// for another shell.
std::string completion_script(const CLI::App& app, const std::string& shell);

// Registers the hidden `help-man COMMAND [--prose FILE]` and `completion bash|zsh`, which print
// them. Registered last: they describe the commands registered before them.
void add_doc_commands(CLI::App& app, int& exit_code);

}  // namespace jailbuild::cli
