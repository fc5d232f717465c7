// Rule `terminfo`: ncurses (libtinfo, libncurses, libncursesw) reads the description of the
// terminal TERM names from its terminfo directories; without it `tput` and `clear` say
// `unknown terminal "xterm-256color"` and full-screen programs refuse to start.
//
// The terminals are a fixed list of common ones, not the TERM of the `add`: a root is built once
// (often by a script or CI, where TERM is dumb or unset) and run from many terminals, and `sync`
// must plan the same root whoever runs it.
#include <algorithm>
#include <array>

#include "rule_context.hpp"
#include "text_data.hpp"
#include "util/paths.hpp"

namespace jailbuild {
namespace {

// The libraries that read terminfo, by the soname's stem (libtinfo.so.6, libncursesw.so.6, and
// ncurses 5's .so.5 alike).
bool reads_terminfo(const LoadedObject& object) {
  static constexpr std::array<std::string_view, 4> stems = {"libtinfo.so.", "libtinfow.so.", "libncurses.so.",
                                                            "libncursesw.so."};
  return std::any_of(object.names.begin(), object.names.end(), [](const std::string& name) {
    return std::any_of(stems.begin(), stems.end(), [&](std::string_view stem) { return name.starts_with(stem); });
  });
}

}  // namespace

const std::vector<std::string>& terminfo_directories() {
  static const std::vector<std::string> directories = {"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"};
  return directories;
}

const std::vector<std::string>& common_terminals() {
  static const std::vector<std::string> terminals = {
      "xterm", "xterm-256color", "xterm-color", "screen",       "screen-256color",      "tmux", "tmux-256color",
      "rxvt",  "rxvt-unicode",   "rxvt-unicode-256color", "linux", "vt100", "vt220",    "ansi", "dumb"};
  return terminals;
}

std::optional<std::string> terminfo_entry(const std::string& name, const std::vector<std::string>& directories,
                                          const std::function<bool(const std::string&)>& exists) {
  if (name.empty() || name.find('/') != std::string::npos) return std::nullopt;
  for (const std::string& directory : directories) {
    const std::string entry = join_path(join_path(directory, name.substr(0, 1)), name);
    if (exists(entry)) return entry;
  }
  return std::nullopt;
}

std::vector<RuleAddition> decide_terminfo(const RuleContext& context) {
  for (const LinkMap& map : context.input.programs) {
    const auto reader = std::find_if(map.objects.begin(), map.objects.end(), reads_terminfo);
    if (reader == map.objects.end()) continue;
    const std::string needed_by = reader->loader ? map.objects[*reader->loader].path : map.objects.front().path;
    const std::string why = needed_by + " needs " + base_name(reader->path);
    // RuleInput::exists takes symlink-free paths and ncurses's directories are not (/lib is a
    // symlink to usr/lib on Debian 12): each is looked at where it really is. An entry is added
    // as ncurses names it, so the root gets the symlinks on its way too.
    const auto exists = [&](const std::string& entry) {
      const auto directory = context.input.host.canonical(parent_directory(entry));
      return context.input.exists(directory ? join_path(*directory, base_name(entry)) : entry);
    };
    std::vector<RuleAddition> added;
    for (const std::string& terminal : common_terminals())
      if (const auto entry = terminfo_entry(terminal, terminfo_directories(), exists))
        added.push_back({PathRequirement{*entry}, why});
    return added;  // the entries are the same for every program: one trigger is enough
  }
  return {};
}

}  // namespace jailbuild
