// The command layer: each subcommand parses its options and calls the library.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "jailbuild/jail.hpp"
#include "jailbuild/result.hpp"

namespace jailbuild::cli {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitIncomplete = 1;  // the job ran but something is missing or failed
inline constexpr int kExitUsage = 2;       // bad usage or unusable input

// The exit code of a change that happened: 1 if it left anything undone, else 0.
int exit_code_of(const RootChange& change);
// The exit code of a command that could not be carried out (2 for bad usage, else 1), after saying why.
int failed(const Error& error);

// Registers `deps`; when it runs it stores its exit code in `exit_code`.
void add_deps_command(CLI::App& app, int& exit_code);

// Registers `add`, `list`, `profile`, `remove`, `sync` and `rules`. `traced_command`: what followed `--` in an
// `add` (see main.cpp), for `add --trace`.
void add_jail_commands(CLI::App& app, int& exit_code,
                       const std::optional<std::vector<std::string>>& traced_command);

// Registers `apply`.
void add_spec_commands(CLI::App& app, int& exit_code);

// Registers `export`, which executes jailbuild-export with `arguments`: the global -v and -q,
// then every word after `export` (see export_for in main.cpp).
void add_export_command(CLI::App& app, int& exit_code, const std::vector<std::string>& arguments);

// Registers `run`, whose own failures exit 125 (not kExitUsage): 1 and 2 are the program's.
void add_run_command(CLI::App& app, int& exit_code);

}  // namespace jailbuild::cli
