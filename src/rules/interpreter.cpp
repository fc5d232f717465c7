// Rule `interpreter`: an interpreter added as a program finds its standard library where its
// build put it, in directories the loader never names: Python's `import json` fails without
// prefix/lib/python3.X, perl's `use POSIX` without the @INC directories compiled into it, ruby's
// `require "json"` without the rubylibdir its rbconfig.rb names. Each
// interpreter's directories are read from its own files, as it finds them itself, never by
// running it. Only the standard library: site and vendor trees (dist-packages, /usr/share/perl5)
// hold what the host installed besides, which a root asks for by adding it.
#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include <spdlog/spdlog.h>

#include "compiled_paths.hpp"
#include "elf/elf.hpp"
#include "rule_context.hpp"
#include "util/paths.hpp"

namespace jailbuild {
namespace {

// The names an object is known by: the loader's name, its real file's, every name it was asked
// for (its soname among them).
std::vector<std::string> object_names(const LoadedObject& object) {
  std::vector<std::string> names = {base_name(object.path), base_name(object.real_path)};
  names.insert(names.end(), object.names.begin(), object.names.end());
  return names;
}

// "3.11" from "python3.11" (the interpreter, with ABI flags such as "python3.11d" too) or from
// "libpython3.11.so.1.0" (the library a program embedding Python links); nullopt for other names.
std::optional<std::string> python_version(std::string_view name) {
  if (name.starts_with("lib")) {
    name.remove_prefix(3);
    const std::size_t so = name.find(".so");
    if (so == std::string_view::npos) return std::nullopt;
    name = name.substr(0, so);
  }
  if (!name.starts_with("python")) return std::nullopt;
  name.remove_prefix(6);
  const auto digits = [&](std::size_t from) {
    std::size_t end = from;
    while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
    return end;
  };
  const std::size_t major_end = digits(0);
  if (major_end == 0 || major_end >= name.size() || name[major_end] != '.') return std::nullopt;
  const std::size_t minor_end = digits(major_end + 1);
  if (minor_end == major_end + 1) return std::nullopt;
  // What may follow is ABI flags (d, m, t, u): letters only.
  if (!std::all_of(name.begin() + static_cast<std::ptrdiff_t>(minor_end), name.end(),
                   [](char c) { return c >= 'a' && c <= 'z'; }))
    return std::nullopt;
  return std::string(name.substr(0, minor_end));
}

// `dir` with every symlink resolved, for the reads that must name a symlink-free path.
std::optional<std::string> canonical(const RuleContext& context, const std::string& dir) {
  auto resolved = context.input.host.canonical(dir);
  if (!resolved) return std::nullopt;
  return std::move(*resolved);
}

// Adds what is in `dir` except the names `excluded` accepts, each by its path through `dir` as the
// interpreter names it (so a symlink on the way, perl/5.36 -> 5.36.0, comes along).
template <typename Excluded>
void add_tree_except(const RuleContext& context, const std::string& dir, const Excluded& excluded,
                     const std::string& why, std::vector<RuleAddition>& added) {
  const auto real = canonical(context, dir);
  if (!real) return;
  for (const std::string& name : context.input.list(*real)) {
    if (excluded(name)) {
      spdlog::debug("rule interpreter: {}/{} is not the standard library's run time; not added", dir, name);
      continue;
    }
    added.push_back({PathRequirement{join_path(dir, name)}, why});
  }
}

// --- Python ------------------------------------------------------------------------------------

// The first directory from `start` up to / where `landmark` exists, as CPython's getpath searches
// for its prefix (Modules/getpath.py: search_up from the real executable's directory).
std::optional<std::string> search_up(const RuleContext& context, std::string dir, const std::string& landmark) {
  for (;;) {
    if (context.input.exists(join_path(dir, landmark))) return dir;
    if (dir == "/") return std::nullopt;
    dir = parent_directory(dir);
  }
}

// What CPython 3's getpath puts first on sys.path for the interpreter at `executable` (a program
// named python3.X, or one that links libpython3.X): the zip of the standard library,
// prefix/lib/python3.X, found by its os.py (or os.pyc) searching up from the executable's real
// directory, and exec_prefix/lib/python3.X/lib-dynload, found the same way (inside the former on
// Debian). What is in prefix/lib/python3.X but is not the standard library at run time is left
// out: site-packages and dist-packages (what the host installed besides), test (the regression
// suite: tens of MB where libpython3.X-testsuite is installed), idlelib and turtledemo (GUI
// programs), config-3.X-* (the build's Makefile, static libpython and python.o, 25 MB, for
// building extensions).
void add_python_stdlib(const RuleContext& context, const std::string& executable, const std::string& version,
                       std::vector<RuleAddition>& added) {
  const std::string home = parent_directory(executable);
  const std::string nodot = std::string(version).erase(version.find('.'), 1);
  // PLATLIBDIR is "lib" on Debian; "lib64" where a distribution builds it so (Fedora).
  for (const std::string platlibdir : {"lib", "lib64"}) {
    const std::string subdir = platlibdir + "/python" + version;
    std::optional<std::string> prefix = search_up(context, home, subdir + "/os.py");
    if (!prefix) prefix = search_up(context, home, subdir + "/os.pyc");
    if (!prefix) continue;
    const std::string stdlib = join_path(*prefix, subdir);
    const std::string why = executable + " is Python " + version + ", whose standard library is " + stdlib +
                            " (found by its os.py as Python's getpath finds it)";
    const std::string zip = join_path(*prefix, platlibdir + "/python" + nodot + ".zip");
    if (context.input.exists(zip)) added.push_back({PathRequirement{zip}, why});
    add_tree_except(
        context, stdlib,
        [](const std::string& name) {
          return name == "site-packages" || name == "dist-packages" || name == "test" || name == "idlelib" ||
                 name == "turtledemo" || name.starts_with("config-");
        },
        why, added);
    const std::optional<std::string> exec_prefix = search_up(context, home, subdir + "/lib-dynload");
    if (exec_prefix && *exec_prefix != *prefix)
      added.push_back({PathRequirement{join_path(*exec_prefix, subdir + "/lib-dynload")}, why});
    return;
  }
  spdlog::info(
      "rule interpreter: {} is Python {}, but no lib/python{}/os.py (nor lib64/...) was found from {} up; "
      "its standard library is not added",
      executable, version, version, home);
}

// --- perl and ruby ----------------------------------------------------------------------------

// An interpreter whose library directories are compiled into it and described by a configuration
// file its build writes into one of them (perl's Config.pm, ruby's rbconfig.rb).
struct ConfiguredInterpreter {
  const char* name;         // "perl"
  const char* config_file;  // in the directories that hold it: "Config.pm"
  // Whether the object is the one holding the compiled directories.
  bool (*is_it)(const std::string& object_name);
  // The standard library's directories the configuration file names, each with the key naming it.
  std::vector<std::pair<std::string, std::string>> (*named_dirs)(const std::string& config);
  const char* excluded;  // a name left out of each directory: the headers for building extensions
};

// perl: the program (perl, perl5.36.0: Debian's links libperl in statically) or libperl.so.5.X.
bool is_perl(const std::string& name) {
  return name == "perl" || name.starts_with("perl5") || name.starts_with("libperl.so");
}

// The value of `key => '...'` in a Config.pm (perl's own, written by its build).
std::optional<std::string> config_pm_value(const std::string& config, const std::string& key) {
  const std::string marker = "\n    " + key + " => '";
  const std::size_t at = config.find(marker);
  if (at == std::string::npos) return std::nullopt;
  const std::size_t value = at + marker.size();
  const std::size_t end = config.find('\'', value);
  if (end == std::string::npos) return std::nullopt;
  return config.substr(value, end - value);
}

std::vector<std::pair<std::string, std::string>> perl_named_dirs(const std::string& config) {
  std::vector<std::pair<std::string, std::string>> dirs;
  for (const char* key : {"archlibexp", "privlibexp"})
    if (auto dir = config_pm_value(config, key)) dirs.emplace_back(std::move(*dir), key);
  return dirs;
}

// ruby: libruby-3.1.so.3.1 holds the load path (the program ruby3.1 links it).
bool is_ruby(const std::string& name) { return name.starts_with("libruby"); }

// The `CONFIG["key"] = "value"` lines of an rbconfig.rb, values as written ($(name) unexpanded).
// prefix is written as an expression, (TOPDIR || DESTDIR + "/usr"): TOPDIR is set only for a ruby
// run from its build tree and DESTDIR is empty once installed, so its last literal is the prefix.
std::map<std::string, std::string> rbconfig_values(const std::string& config) {
  std::map<std::string, std::string> values = {{"DESTDIR", ""}};
  std::size_t start = 0;
  while (start < config.size()) {
    std::size_t end = config.find('\n', start);
    if (end == std::string::npos) end = config.size();
    std::string_view line(config.data() + start, end - start);
    start = end + 1;
    while (line.starts_with(' ')) line.remove_prefix(1);
    if (!line.starts_with("CONFIG[\"")) continue;
    const std::size_t key_end = line.find("\"] = ", 8);
    if (key_end == std::string_view::npos) continue;
    const std::string key(line.substr(8, key_end - 8));
    std::string_view value = line.substr(key_end + 5);
    if (key == "prefix") {
      const std::size_t close = value.rfind('"');
      const std::size_t open =
          close == std::string_view::npos || close == 0 ? std::string_view::npos : value.rfind('"', close - 1);
      if (open != std::string_view::npos) values[key] = std::string(value.substr(open + 1, close - open - 1));
    } else if (value.size() >= 2 && value.front() == '"' && value.back() == '"' &&
               value.find('\\') == std::string_view::npos) {
      values[key] = std::string(value.substr(1, value.size() - 2));
    }
  }
  return values;
}

// `key`'s value with every $(name) replaced by name's, as mkconfig's expand does; nullopt when a
// name is unknown or the expansion nests too deep (a loop).
std::optional<std::string> rbconfig_expand(const std::map<std::string, std::string>& values, const std::string& key,
                                           int depth = 0) {
  const auto it = values.find(key);
  if (it == values.end() || depth > 16) return std::nullopt;
  std::string out;
  const std::string& value = it->second;
  for (std::size_t i = 0; i < value.size();) {
    const std::size_t open = value.find("$(", i);
    const std::size_t close = open == std::string::npos ? std::string::npos : value.find(')', open);
    if (close == std::string::npos) {
      out += value.substr(i);
      break;
    }
    out += value.substr(i, open - i);
    const auto inner = rbconfig_expand(values, value.substr(open + 2, close - open - 2), depth + 1);
    if (!inner) return std::nullopt;
    out += *inner;
    i = close + 1;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ruby_named_dirs(const std::string& config) {
  const auto values = rbconfig_values(config);
  std::vector<std::pair<std::string, std::string>> dirs;
  for (const char* key : {"rubyarchdir", "rubylibdir"})
    if (auto dir = rbconfig_expand(values, key)) dirs.emplace_back(std::move(*dir), key);
  return dirs;
}

// Of the directories compiled into the interpreter (perl's @INC, ruby's load path: the build's
// library directories, its site and vendor ones, and Debian's perl-base), read as the absolute paths
// with the interpreter's name in them that the object holds: those that hold its configuration file
// (perl's archlib, and on Debian perl-base, the part of the library the essential package perl-base
// ships; ruby's rubyarchdir), and the standard library's directories that file names (perl's
// archlibexp and privlibexp, ruby's rubyarchdir and rubylibdir). Not the site and vendor
// directories: they hold what the host installed besides (/usr/share/perl5, vendor_ruby, /usr/local).
// Left out of each: `excluded` (perl's CORE, the headers and libperl.so link for building XS
// modules: 8 MB).
void add_configured_stdlib(const RuleContext& context, const ConfiguredInterpreter& kind,
                           const LoadedObject& interpreter, const std::string& program,
                           std::vector<RuleAddition>& added, std::set<std::string>& dirs_added) {
  const std::string& file = file_of(interpreter);
  // In the closure, so planned and watched: mapped, not read into memory (3.8 MB for perl).
  auto mapped = map_file_of(interpreter, context.input.host);
  if (!mapped) {
    spdlog::info("rule interpreter: {}; {}'s standard library is not added", mapped.error().message, kind.name);
    return;
  }
  std::vector<std::pair<std::string, std::string>> library;  // directory, why
  for (const std::string& dir : compiled_paths_containing(mapped->bytes(), kind.name)) {
    const auto real = canonical(context, dir);
    if (!real) continue;
    const std::optional<std::string> config = context.input.read(join_path(*real, kind.config_file));
    if (!config) continue;
    library.emplace_back(dir, program + " runs " + kind.name + ", whose directories compiled into " + file +
                                  " include " + dir + " (with its " + kind.config_file + ")");
    for (const auto& [named, key] : kind.named_dirs(*config)) {
      if (is_plain_absolute_path(named) && canonical(context, named))
        library.emplace_back(named, program + " runs " + kind.name + ", whose " + dir + "/" + kind.config_file +
                                        " names " + named + " (" + key + ")");
    }
  }
  if (library.empty()) {
    spdlog::info("rule interpreter: {} holds no directory with {}'s {}; its standard library is not added", file,
                 kind.name, kind.config_file);
  }
  for (const auto& [dir, why] : library) {
    if (!dirs_added.insert(dir).second) continue;
    add_tree_except(
        context, dir, [&](const std::string& name) { return name == kind.excluded; }, why, added);
  }
}

const ConfiguredInterpreter kPerl = {"perl", "Config.pm", is_perl, perl_named_dirs, "CORE"};
const ConfiguredInterpreter kRuby = {"ruby", "rbconfig.rb", is_ruby, ruby_named_dirs, ""};

}  // namespace

std::vector<RuleAddition> decide_interpreter(const RuleContext& context) {
  std::vector<RuleAddition> added;
  std::set<std::pair<std::string, std::string>> pythons;  // (executable, version) done
  std::set<std::string> interpreters;                     // perl and ruby objects done
  std::set<std::string> dirs;                             // their directories added
  for (const LinkMap& map : context.input.programs) {
    if (map.objects.empty()) continue;
    const LoadedObject& program = map.objects[0];
    const std::string executable = file_of(program);
    for (const LoadedObject& object : map.objects) {
      for (const std::string& name : object_names(object)) {
        const std::optional<std::string> version = python_version(name);
        if (version && pythons.emplace(executable, *version).second)
          add_python_stdlib(context, executable, *version, added);
        if (version) break;
      }
      for (const ConfiguredInterpreter* kind : {&kPerl, &kRuby}) {
        const auto names = object_names(object);
        if (std::none_of(names.begin(), names.end(), kind->is_it)) continue;
        if (interpreters.insert(file_of(object)).second)
          add_configured_stdlib(context, *kind, object, program.path, added, dirs);
      }
    }
  }
  return added;
}

}  // namespace jailbuild
