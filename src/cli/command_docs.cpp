// Man pages and shell completions made from the command model itself: the CLI11 app every
// subcommand registered its options with, the same one --help prints. So a page or a completion
// cannot name an option --help lacks, or miss one it has (tests/cli/command_docs_test.cpp checks
// both). The prose of a page (what the command does, its exit statuses, its examples) comes from
// docs/commands/NAME.md, which the build hands to `help-man --prose`.
//
// The pages are written as go-md2man's Markdown (Debian's go-md2man, as podman and buildah make
// theirs), which turns them into roff at build time: one Markdown for the web and the man page.
#include "command_docs.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "util/files.hpp"

namespace jailbuild::cli {
namespace {

// The commands a user sees: every subcommand but the hidden ones (no group), which are this file's.
std::vector<const CLI::App*> visible_commands(const CLI::App& app) {
  std::vector<const CLI::App*> commands =
      app.get_subcommands([](const CLI::App* command) { return !command->get_group().empty(); });
  std::sort(commands.begin(), commands.end(),
            [](const CLI::App* a, const CLI::App* b) { return a->get_name() < b->get_name(); });
  return commands;
}

// The options a user sees of `command` (--help included), in the order --help lists them.
std::vector<const CLI::Option*> visible_options(const CLI::App& command) {
  return command.get_options(
      [](const CLI::Option* option) { return option->nonpositional() && !option->get_group().empty(); });
}

std::vector<const CLI::Option*> positionals(const CLI::App& command) {
  return command.get_options([](const CLI::Option* option) { return !option->nonpositional(); });
}

std::vector<std::string> names_of(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const std::string& name : option.get_snames()) names.push_back("-" + name);
  for (const std::string& name : option.get_lnames()) names.push_back("--" + name);
  return names;
}

// Flags expect no value (CLI11 sets their count to 0).
bool takes_value(const CLI::Option& option) { return option.get_expected_max() > 0; }

// The word a value is shown as: the option's type name ("DIR"), or VALUE for CLI11's own kinds.
std::string value_name(const CLI::Option& option) {
  std::string name = option.get_type_name();
  if (name.empty() || name == "TEXT" || name.find(':') != std::string::npos ||
      std::any_of(name.begin(), name.end(), [](unsigned char c) { return std::islower(c) != 0; }))
    return "VALUE";
  return name;
}

// ---- man pages ----------------------------------------------------------------------------------

// Markdown's special characters in text from the command model, taken literally.
std::string literal(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '*' || c == '_' || c == '`' || c == '\\' || c == '<' || c == '[' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

// A section of a docs page: its "## " heading (empty for the text before the first) and its lines.
struct ProseSection {
  std::string heading;
  std::string text;
};

// Links to another command's page become that page's name in man's words; other links keep
// their text alone (a man page cannot follow them).
std::string unlinked(std::string_view line, const std::vector<const CLI::App*>& commands) {
  std::string out;
  std::size_t at = 0;
  while (at < line.size()) {
    const std::size_t open = line.find('[', at);
    const std::size_t middle = open == std::string_view::npos ? open : line.find("](", open);
    const std::size_t close = middle == std::string_view::npos ? middle : line.find(')', middle);
    if (close == std::string_view::npos) break;
    out += line.substr(at, open - at);
    const std::string_view text = line.substr(open + 1, middle - open - 1);
    std::string_view target = line.substr(middle + 2, close - middle - 2);
    out += text;
    if (target.ends_with(".md") && target.find('/') == std::string_view::npos) {
      target.remove_suffix(3);
      for (const CLI::App* command : commands)
        if (command->get_name() == target) out += " (**jailbuild-" + std::string(target) + "**(1))";
    }
    at = close + 1;
  }
  out += line.substr(at);
  return out;
}

// The cells of a Markdown table row "| a | b |", trimmed.
std::vector<std::string> table_cells(std::string_view row) {
  std::vector<std::string> cells;
  row.remove_prefix(1);
  if (row.ends_with('|')) row.remove_suffix(1);
  while (true) {
    const std::size_t bar = row.find('|');
    std::string_view cell = row.substr(0, bar);
    while (!cell.empty() && cell.front() == ' ') cell.remove_prefix(1);
    while (!cell.empty() && cell.back() == ' ') cell.remove_suffix(1);
    cells.emplace_back(cell);
    if (bar == std::string_view::npos) break;
    row.remove_prefix(bar + 1);
  }
  return cells;
}

// A Markdown table as a definition list: the first cell the term, the others its text (each
// after its column's heading when there are more than two). A man page is 80 columns: tbl cannot
// fit the docs' tables of long cells in them, and warns.
std::string table_as_list(const std::vector<std::string>& rows) {
  if (rows.size() < 2) return "";
  const std::vector<std::string> headings = table_cells(rows[0]);
  std::string list;
  for (std::size_t i = 2; i < rows.size(); ++i) {
    const std::vector<std::string> cells = table_cells(rows[i]);
    if (cells.empty()) continue;
    std::string text;
    for (std::size_t c = 1; c < cells.size(); ++c) {
      if (cells[c].empty()) continue;
      if (!text.empty()) text += "; ";
      if (cells.size() > 2 && c < headings.size()) text += headings[c] + ": ";
      text += cells[c];
    }
    list += cells[0] + "\n: " + text + "\n\n";
  }
  return list;
}

// A docs page in its sections; the page's "# " title dropped, headings inside code blocks are
// code, not headings, and tables become definition lists.
std::vector<ProseSection> prose_sections(const std::string& markdown, const std::vector<const CLI::App*>& commands) {
  std::vector<ProseSection> sections(1);
  std::istringstream lines(markdown);
  std::string line;
  bool in_code = false;
  std::vector<std::string> table;
  while (std::getline(lines, line)) {
    if (!in_code && line.starts_with("|")) {
      table.push_back(unlinked(line, commands));
      continue;
    }
    if (!table.empty()) {
      sections.back().text += table_as_list(table);
      table.clear();
    }
    if (line.starts_with("```")) in_code = !in_code;
    if (!in_code && line.starts_with("# ")) continue;
    if (!in_code && line.starts_with("## ")) {
      sections.push_back({line.substr(3), ""});
      continue;
    }
    if (!in_code && line.starts_with("### ")) line = "## " + line.substr(4);  // a subsection in man's terms
    sections.back().text += (in_code ? line : unlinked(line, commands)) + "\n";
  }
  if (!table.empty()) sections.back().text += table_as_list(table);
  return sections;
}

std::string trimmed_lines(std::string text) {
  while (!text.empty() && (text.front() == '\n')) text.erase(0, 1);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string option_entry(const CLI::Option& option) {
  std::string entry;
  for (const std::string& name : names_of(option)) entry += (entry.empty() ? "**" : ", **") + name + "**";
  if (takes_value(option)) entry += " *" + value_name(option) + "*";
  entry += "\n: " + literal(option.get_description());
  if (!option.get_default_str().empty()) entry += " (default: " + literal(option.get_default_str()) + ")";
  return entry + "\n\n";
}

std::string synopsis(const CLI::App& command) {
  std::string text = "**jailbuild " + command.get_name() + "** [*OPTIONS*]";
  for (const CLI::Option* positional : positionals(command)) {
    std::string name = positional->get_name(true);
    if (positional->get_items_expected_max() > 1) name += "...";
    text += positional->get_required() ? " *" + literal(name) + "*" : " [*" + literal(name) + "*]";
  }
  return text;
}

std::string title_line(const std::string& page) {
  return "% " + upper(page) + " 1 \"\" \"jailbuild " JAILBUILD_VERSION "\" \"jailbuild manual\"\n\n";
}

std::string command_page(const CLI::App& app, const CLI::App& command, const std::string& prose) {
  const std::vector<const CLI::App*> commands = visible_commands(app);
  const std::vector<ProseSection> sections = prose_sections(prose, commands);
  const auto section = [&](std::string_view heading) -> std::string {
    for (const ProseSection& s : sections)
      if (s.heading == heading) return trimmed_lines(s.text);
    return "";
  };
  const std::string name = "jailbuild-" + command.get_name();
  std::string page = title_line(name);
  page += "# NAME\n" + name + " - " + literal(command.get_description()) + "\n\n";
  // The docs page's synopsis where it has one (it shows the forms a command takes, which the
  // model cannot: run's PROGRAM [ARGS...], export's one of three outputs); the model's otherwise.
  const std::string written_synopsis = section("Synopsis");
  page += "# SYNOPSIS\n" + (written_synopsis.empty() ? synopsis(command) : written_synopsis) + "\n\n";
  page += "# DESCRIPTION\n";
  const std::string intro = trimmed_lines(sections.front().text);
  page += (intro.empty() ? literal(command.get_description()) + "." : intro) + "\n\n";
  // The page's other sections, in its order, as subsections; the ones man has a place for go there.
  for (std::size_t i = 1; i < sections.size(); ++i) {
    const std::string& heading = sections[i].heading;
    if (heading == "Synopsis" || heading == "Options" || heading == "Exit status" || heading == "Examples") continue;
    page += "## " + upper(heading) + "\n" + trimmed_lines(sections[i].text) + "\n\n";
  }
  page += "# OPTIONS\n";
  for (const CLI::Option* option : visible_options(command)) page += option_entry(*option);
  page += "Global options (before the command): **-v**, **--verbose** (more detail on stderr; twice, each "
          "step), **-q**, **--quiet** (only errors). See **jailbuild**(1).\n\n";
  if (const std::string status = section("Exit status"); !status.empty()) page += "# EXIT STATUS\n" + status + "\n\n";
  if (const std::string examples = section("Examples"); !examples.empty())
    page += "# EXAMPLES\n" + examples + "\n\n";
  page += "# SEE ALSO\n**jailbuild**(1)";
  for (const CLI::App* other : commands)
    if (other != &command) page += ", **jailbuild-" + other->get_name() + "**(1)";
  return page + "\n";
}

std::string main_page(const CLI::App& app) {
  std::string page = title_line("jailbuild");
  page += "# NAME\njailbuild - build and run chroot jails holding exactly what a program needs\n\n";
  page += "# SYNOPSIS\n**jailbuild** [**-v**|**-q**]... *COMMAND* [*OPTIONS*] [*ARGUMENTS*]\n\n";
  page += "# DESCRIPTION\n"
          "jailbuild puts a program and everything it needs (its libraries as the dynamic loader finds them, "
          "the data its runtime reads, what a trace of a real run opened) into a root directory, keeps a "
          "manifest of why each entry is there, brings the root up to date after host package updates, and "
          "runs programs in it isolated: namespaces, a read-only root, no host root, a seccomp filter, "
          "Landlock and cgroup limits. Each command has a page of its own.\n\n";
  page += "# COMMANDS\n";
  for (const CLI::App* command : visible_commands(app))
    page += "**" + command->get_name() + "**\n: " + literal(command->get_description()) + " (**jailbuild-" +
            command->get_name() + "**(1))\n\n";
  page += "# OPTIONS\n";
  for (const CLI::Option* option : visible_options(app)) page += option_entry(*option);
  page += "# FILES\n*/var/lib/jailbuild*\n: The state directory of root's jails: each root's manifest, its lock, its "
          "recorded system calls. Other users' is their XDG state directory (*~/.local/state/jailbuild*).\n\n";
  page += "# SEE ALSO\n";
  std::string see_also;
  for (const CLI::App* command : visible_commands(app))
    see_also += (see_also.empty() ? "" : ", ") + std::string("**jailbuild-") + command->get_name() + "**(1)";
  return page + see_also + ", **chroot**(8), **bwrap**(1)\n";
}

// ---- completions --------------------------------------------------------------------------------

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::string bash_script(const CLI::App& app) {
  std::vector<std::string> top;
  for (const CLI::App* command : visible_commands(app)) top.push_back(command->get_name());
  for (const CLI::Option* option : visible_options(app))
    for (const std::string& name : names_of(*option)) top.push_back(name);
  std::string script =
      "# bash completion for jailbuild, made by `jailbuild completion bash` from its own options.\n"
      "_jailbuild() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command= i\n"
      "  # The command is the first word that is not a (global) flag.\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${COMP_WORDS[i]} in -*) ;; *) command=${COMP_WORDS[i]}; break ;; esac\n"
      "  done\n"
      "  local options='' valued=' '\n"
      "  case $command in\n"
      "    '') COMPREPLY=($(compgen -W '" +
      joined(top) +
      "' -- \"$cur\")); return ;;\n";
  for (const CLI::App* command : visible_commands(app)) {
    std::vector<std::string> options, valued;
    for (const CLI::Option* option : visible_options(*command))
      for (const std::string& name : names_of(*option)) {
        options.push_back(name);
        if (takes_value(*option)) valued.push_back(name);
      }
    script += "    " + command->get_name() + ") options='" + joined(options) + "' valued=' " + joined(valued) +
              " ' ;;\n";
  }
  script +=
      "    *) return ;;\n"
      "  esac\n"
      "  # An option's value, and the command's operands, are paths (roots, programs, files).\n"
      "  if [[ $cur == -* && $valued != *\" $prev \"* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$options\" -- \"$cur\"))\n"
      "  else\n"
      "    compopt -o filenames 2>/dev/null\n"
      "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
      "  fi\n"
      "}\n"
      "complete -F _jailbuild jailbuild\n";
  return script;
}

// A description inside zsh's _arguments spec '[...]', inside single quotes.
std::string zsh_description(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\'') out += "'\\''";
    else if (c == '[' || c == ']') out += '\\', out += c;
    else if (c == ':') out += "\\:";
    else out += c;
  }
  return out;
}

std::string zsh_specs(const CLI::App& command) {
  std::string specs;
  for (const CLI::Option* option : visible_options(command))
    for (const std::string& name : names_of(*option)) {
      // '*': zsh offers an option again after it was given (--bind twice, -vv).
      specs += " \\\n      '*" + name + "[" +
               zsh_description(option->get_description()) + "]";
      if (takes_value(*option)) specs += ":" + value_name(*option) + ":_files";
      specs += "'";
    }
  return specs;
}

std::string zsh_script(const CLI::App& app) {
  std::string script =
      "#compdef jailbuild\n"
      "# zsh completion for jailbuild, made by `jailbuild completion zsh` from its own options.\n"
      "_jailbuild() {\n"
      "  local curcontext=$curcontext state line\n"
      "  local -a commands\n"
      "  commands=(\n";
  for (const CLI::App* command : visible_commands(app))
    script += "    '" + command->get_name() + ":" + zsh_description(command->get_description()) + "'\n";
  script += "  )\n  _arguments -C" + zsh_specs(app) +
            " \\\n      '1: :->command' '*:: :->argument'\n"
            "  case $state in\n"
            "    command) _describe -t commands 'jailbuild command' commands ;;\n"
            "    argument)\n"
            "      case $line[1] in\n";
  for (const CLI::App* command : visible_commands(app))
    script += "        " + command->get_name() + ") _arguments" + zsh_specs(*command) + " \\\n      '*:file:_files' ;;\n";
  script +=
      "      esac ;;\n"
      "  esac\n"
      "}\n"
      "_jailbuild \"$@\"\n";
  return script;
}

}  // namespace

std::string man_page_markdown(const CLI::App& app, const std::string& name, const std::string& prose) {
  if (name == "jailbuild") return main_page(app);
  for (const CLI::App* command : visible_commands(app))
    if (command->get_name() == name) return command_page(app, *command, prose);
  return "";
}

std::string completion_script(const CLI::App& app, const std::string& shell) {
  if (shell == "bash") return bash_script(app);
  if (shell == "zsh") return zsh_script(app);
  return "";
}

void add_doc_commands(CLI::App& app, int& exit_code) {
  struct Asked {
    std::string name, prose, shell;
  };
  auto asked = std::make_shared<Asked>();
  // Hidden (no group): for the build, which makes the man pages and completions the package installs.
  CLI::App* man = app.add_subcommand("help-man", "Print the man page of COMMAND as go-md2man Markdown");
  man->group("");
  man->add_option("COMMAND", asked->name, "A command, or jailbuild for the main page")->required();
  man->add_option("--prose", asked->prose, "The command's docs/commands page, for its description and examples")
      ->type_name("FILE");
  man->callback([&app, asked, &exit_code] {
    std::string prose;
    if (!asked->prose.empty()) {
      // A docs page is some tens of KiB; one file helper for the whole project (util/files.hpp).
      auto text = read_file(asked->prose, 1 << 20, "a docs page");
      if (!text || !*text) {
        exit_code = failed(text ? Error::usage(asked->prose + ": no such file") : text.error());
        return;
      }
      prose = std::move(**text);
    }
    const std::string page = man_page_markdown(app, asked->name, prose);
    if (page.empty()) {
      exit_code = failed(Error::usage("help-man: no command " + asked->name));
      return;
    }
    std::cout << page;
  });
  CLI::App* completion = app.add_subcommand("completion", "Print the completion script for SHELL (bash or zsh)");
  completion->group("");
  completion->add_option("SHELL", asked->shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  completion->callback([&app, asked] { std::cout << completion_script(app, asked->shell); });
}

}  // namespace jailbuild::cli
