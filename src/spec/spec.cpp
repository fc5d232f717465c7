// Reading a spec: TOML parsed by toml++, then every key checked against what it may hold, each
// error naming the file and the line (see docs/commands/apply.md for the format).
#include <algorithm>
#include <cstdio>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string_view>

// Header-only, in this one file: Debian's shared libtomlplusplus would be one more library every
// command loads at start, and it is built against the shared libstdc++ this binary does not use.
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include "jailbuild/rules.hpp"
#include "jailbuild/spec.hpp"
#include "util/files.hpp"
#include "util/paths.hpp"

namespace jailbuild {
namespace {

// A spec is a few hundred bytes; anything near this is not one.
constexpr std::uint64_t kMaxSpecSize = 1 << 20;

class SpecReader {
 public:
  explicit SpecReader(std::string file) : file_(std::move(file)) {
    std::string directory = std::filesystem::path(file_).parent_path().string();
    directory_ = absolute_path(directory.empty() ? "." : directory, current_directory());
  }

  Error error(const toml::node& node, const std::string& what) const {
    return Error::usage(file_ + ":" + std::to_string(node.source().begin.line) + ": " + what);
  }
  Error error(const toml::source_region& where, const std::string& what) const {
    return Error::usage(file_ + ":" + std::to_string(where.begin.line) + ": " + what);
  }

  // A path of the spec: relative ones are taken from the spec's directory, as a Makefile's are.
  std::string path(const std::string& given) const { return absolute_path(given, directory_); }

  Result<std::string> string(const toml::node& node, std::string_view key) const {
    if (!node.is_string()) return error(node, std::string(key) + " must be a string");
    return std::string(*node.value<std::string_view>());
  }
  Result<bool> boolean(const toml::node& node, std::string_view key) const {
    if (!node.is_boolean()) return error(node, std::string(key) + " must be true or false");
    return *node.value<bool>();
  }
  Result<std::vector<std::string>> strings(const toml::node& node, std::string_view key) const {
    const toml::array* array = node.as_array();
    if (array == nullptr) return error(node, std::string(key) + " must be a list of strings");
    std::vector<std::string> words;
    for (const toml::node& word : *array) {
      if (!word.is_string()) return error(word, std::string(key) + " must be a list of strings");
      words.emplace_back(*word.value<std::string_view>());
    }
    return words;
  }
  Result<std::vector<std::string>> absolute_paths(const toml::node& node, std::string_view key) const {
    std::vector<std::string> paths = TRY(strings(node, key));
    for (std::string& each : paths) each = path(each);
    return paths;
  }
  // A table's keys, each handled by its entry in `handlers`; any other key is an error.
  using Handler = std::function<Result<void>(const toml::node&)>;
  using Handlers = std::map<std::string, Handler, std::less<>>;
  Result<void> table(const toml::table& table, std::string_view where, const Handlers& handlers) const {
    for (const auto& [key, value] : table) {
      const auto handler = handlers.find(key.str());
      if (handler == handlers.end()) {
        std::string known;
        for (const auto& [name, unused] : handlers) known += (known.empty() ? "" : ", ") + name;
        return error(key.source(), "unknown key \"" + std::string(key.str()) + "\" in " + std::string(where) +
                                       " (known: " + known + ")");
      }
      TRY(handler->second(value));
    }
    return {};
  }

  const std::string& file() const { return file_; }

 private:
  static std::string current_directory() {
    std::error_code error;
    const std::filesystem::path cwd = std::filesystem::current_path(error);
    return error ? std::string("/") : cwd.string();
  }

  std::string file_;
  std::string directory_;
};

// The [[trace]] tables: each a workload `apply` traces once.
Result<HostTrace> read_trace(const SpecReader& reader, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return reader.error(node, "trace must be a table ([[trace]])");
  HostTrace trace;
  const SpecReader::Handlers handlers{{"command",
                     [&](const toml::node& value) -> Result<void> {
                       trace.command = TRY(reader.strings(value, "command"));
                       if (trace.command.empty()) return reader.error(value, "command must name a program");
                       return {};
                     }},
                    {"user",
                     [&](const toml::node& value) -> Result<void> {
                       trace.user = TRY(reader.string(value, "user"));
                       return {};
                     }},
                    {"writable",
                     [&](const toml::node& value) -> Result<void> {
                       trace.writable = TRY(reader.boolean(value, "writable"));
                       return {};
                     }},
                    {"exclude", [&](const toml::node& value) -> Result<void> {
                       trace.excluded = TRY(reader.absolute_paths(value, "exclude"));
                       for (std::string& directory : trace.excluded) directory = lexically_normal(directory);
                       return {};
                     }}};
  TRY(reader.table(*table, "[[trace]]", handlers));
  if (trace.command.empty()) return reader.error(node, "[[trace]] needs a command");
  return trace;
}

// rlimit = { nofile = 1024, core = "0:0" }: as --rlimit nofile=1024, core=0:0.
Result<std::vector<std::string>> read_limits(const SpecReader& reader, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return reader.error(node, "rlimit must be a table: rlimit = { nofile = 1024 }");
  std::vector<std::string> limits;
  for (const auto& [name, value] : *table) {
    std::string text;
    if (const auto number = value.value_exact<std::int64_t>())
      text = std::to_string(*number);
    else if (const auto word = value.value_exact<std::string>())
      text = *word;
    else
      return reader.error(value, "rlimit " + std::string(name.str()) + " must be a number or a string");
    const std::string spec = std::string(name.str()) + "=" + text;
    if (auto limit = parse_resource_limit(spec); !limit) return reader.error(value, limit.error().message);
    limits.push_back(spec);
  }
  return limits;
}

// env = { LANG = "C.UTF-8" }: as --env LANG=C.UTF-8, in the table's (sorted) order.
Result<std::vector<std::string>> read_environment(const SpecReader& reader, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return reader.error(node, "env must be a table: env = { NAME = \"value\" }");
  std::vector<std::string> assignments;
  for (const auto& [name, value] : *table) {
    if (name.str().empty() || name.str().find('=') != std::string_view::npos)
      return reader.error(value, "env: \"" + std::string(name.str()) + "\" is not a variable name");
    const auto text = value.value_exact<std::string>();
    if (!text) return reader.error(value, "env " + std::string(name.str()) + " must be a string");
    assignments.push_back(std::string(name.str()) + "=" + *text);
  }
  return assignments;
}

// The number of components of a mount's target: mounts go in parents-first order, so that one
// inside another is made after it, whichever list of the spec names it.
std::size_t depth_of(const std::string& target) { return static_cast<std::size_t>(std::count(target.begin(), target.end(), '/')); }

// [run]: run's options by their long names, and the default command.
Result<RunSettings> read_run(const SpecReader& reader, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return reader.error(node, "run must be a table ([run])");
  RunSettings run;
  std::vector<std::pair<std::size_t, std::pair<JailMount::Kind, std::string>>> mounts;  // (depth, mount)
  const auto text = [&](std::optional<std::string>& field, const char* key,
                        std::function<Result<void>(const std::string&)> check = nullptr) {
    return [&field, &reader, key, check](const toml::node& value) -> Result<void> {
      std::string word = TRY(reader.string(value, key));
      if (check) {
        if (auto checked = check(word); !checked) return reader.error(value, checked.error().message);
      }
      field = std::move(word);
      return {};
    };
  };
  const auto flag = [&](std::optional<bool>& field, const char* key) {
    return [&field, &reader, key](const toml::node& value) -> Result<void> {
      field = TRY(reader.boolean(value, key));
      return {};
    };
  };
  const auto list = [&](std::optional<std::vector<std::string>>& field, const char* key,
                        std::function<Result<void>(const std::string&)> check = nullptr) {
    return [&field, &reader, key, check](const toml::node& value) -> Result<void> {
      std::vector<std::string> words = TRY(reader.strings(value, key));
      for (const std::string& word : words)
        if (check) {
          if (auto checked = check(word); !checked) return reader.error(value, checked.error().message);
        }
      field = std::move(words);
      return {};
    };
  };
  const auto mount_list = [&](JailMount::Kind kind, const char* key) {
    return [&mounts, &reader, kind, key](const toml::node& value) -> Result<void> {
      for (std::string spec : TRY(reader.strings(value, key))) {
        // A bind's host side may be relative: to the spec's directory, as its paths are.
        if (kind != JailMount::Kind::Tmpfs && !spec.starts_with('/')) spec = reader.path(spec);
        auto mount = kind == JailMount::Kind::Tmpfs ? parse_tmpfs(spec) : parse_bind(kind, spec);
        if (!mount) return reader.error(value, mount.error().message);
        mounts.push_back({depth_of(mount->target), {kind, spec}});
      }
      return {};
    };
  };
  // The values are copied into the check: an initializer_list's array ends with the expression that
  // made it, before the check runs (AddressSanitizer: stack-use-after-scope).
  const auto one_of = [](const char* key, std::initializer_list<std::string_view> allowed) {
    return [key, values = std::vector<std::string_view>(allowed)](const std::string& word) -> Result<void> {
      if (std::find(values.begin(), values.end(), word) != values.end()) return {};
      std::string known;
      for (const std::string_view value : values) known += (known.empty() ? "" : " or ") + std::string(value);
      return Error::usage(std::string(key) + " = \"" + word + "\": must be " + known);
    };
  };
  // allow-connect = [80, 443]: numbers (or strings), each a TCP port.
  const auto ports = [&](std::optional<std::vector<std::string>>& field, const char* key) {
    return [&field, &reader, key](const toml::node& value) -> Result<void> {
      const toml::array* array = value.as_array();
      if (array == nullptr) return reader.error(value, std::string(key) + " must be a list of ports");
      std::vector<std::string> words;
      for (const toml::node& port : *array) {
        if (const auto number = port.value_exact<std::int64_t>())
          words.push_back(std::to_string(*number));
        else if (const auto word = port.value_exact<std::string>())
          words.push_back(*word);
        else
          return reader.error(port, std::string(key) + " must be a list of ports");
        if (auto checked = parse_port(words.back()); !checked) return reader.error(port, checked.error().message);
      }
      field = std::move(words);
      return {};
    };
  };
  // memory = "32M" or 33554432, pids = 64, cpus = 0.5: a number, or the option's word; kept as the
  // word the command line would give, checked as the option checks it.
  const auto number_or_text = [&]<typename Parsed>(std::optional<std::string>& field, const char* key,
                                                   Result<Parsed> (*check)(const std::string&)) {
    return [&field, &reader, key, check](const toml::node& value) -> Result<void> {
      std::string word;
      if (const auto whole = value.value_exact<std::int64_t>()) {
        word = std::to_string(*whole);
      } else if (const auto real = value.value_exact<double>()) {
        // printf's, not std::to_chars: the double version of to_chars makes jailbuild load libm
        // (fegetround), which no other command needs (DepsCommand.JailbuildItselfLoadsOnlyTheCLibrary).
        char digits[64];
        std::snprintf(digits, sizeof digits, "%.6f", *real);
        word = digits;
        while (word.find('.') != std::string::npos && (word.back() == '0' || word.back() == '.')) {
          const bool point = word.back() == '.';
          word.pop_back();
          if (point) break;
        }
      } else if (const auto given = value.value_exact<std::string>()) {
        word = *given;
      } else {
        return reader.error(value, std::string(key) + " must be a number or a string");
      }
      if (auto checked = check(word); !checked) return reader.error(value, checked.error().message);
      field = std::move(word);
      return {};
    };
  };
  const SpecReader::Handlers handlers{{"command",
        [&](const toml::node& value) -> Result<void> {
          run.command = TRY(reader.strings(value, "command"));
          if (run.command.empty()) return reader.error(value, "command must name a program");
          return {};
        }},
       {"user", text(run.user, "user")},
       {"group", text(run.group, "group")},
       {"groups", list(run.groups, "groups")},
       {"cap", list(run.capabilities, "cap",
                    [](const std::string& name) -> Result<void> {
                      TRY(parse_capability(name));
                      return {};
                    })},
       {"env",
        [&](const toml::node& value) -> Result<void> {
          run.environment = TRY(read_environment(reader, value));
          return {};
        }},
       {"keep-env", flag(run.keep_environment, "keep-env")},
       {"cwd", text(run.cwd, "cwd",
                    [](const std::string& cwd) -> Result<void> {
                      if (!cwd.starts_with('/')) return Error::usage("cwd must be absolute (inside the root)");
                      return {};
                    })},
       {"writable", flag(run.writable, "writable")},
       {"bind", mount_list(JailMount::Kind::Bind, "bind")},
       {"ro-bind", mount_list(JailMount::Kind::ReadOnlyBind, "ro-bind")},
       {"tmpfs", mount_list(JailMount::Kind::Tmpfs, "tmpfs")},
       {"seccomp",
        [&run, &reader, checked = text(run.seccomp, "seccomp", check_seccomp_setting)](const toml::node& value) -> Result<void> {
          TRY(checked(value));
          // allowlist:FILE with FILE relative: to the spec's directory, as its paths are.
          const std::string file = run.seccomp->substr(std::min(run.seccomp->size(), kAllowlistPrefix.size()));
          if (run.seccomp->starts_with(kAllowlistPrefix) && !file.starts_with('/'))
            run.seccomp = std::string(kAllowlistPrefix) + reader.path(file);
          return {};
        }},
       {"net", text(run.network, "net", one_of("net", {"host", "none"}))},
       {"chroot-only", flag(run.chroot_only, "chroot-only")},
       {"host-root", flag(run.host_root, "host-root")},
       {"tmpfs-size", text(run.tmpfs_size, "tmpfs-size",
                           [](const std::string& size) -> Result<void> {
                             TRY(parse_tmpfs_size(size));
                             return {};
                           })},
       {"memory", number_or_text(run.memory, "memory", parse_memory_limit)},
       {"pids", number_or_text(run.pids, "pids", parse_pids_limit)},
       {"cpus", number_or_text(run.cpus, "cpus", parse_cpus)},
       {"landlock", text(run.landlock, "landlock", one_of("landlock", {"on", "off"}))},
       {"allow-connect", ports(run.allow_connect, "allow-connect")},
       {"allow-bind", ports(run.allow_bind, "allow-bind")},
       {"rlimit", [&](const toml::node& value) -> Result<void> {
          run.limits = TRY(read_limits(reader, value));
          return {};
        }}};
  TRY(reader.table(*table, "[run]", handlers));
  if (!mounts.empty()) {
    std::stable_sort(mounts.begin(), mounts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    run.mounts.emplace();
    for (auto& [depth, mount] : mounts) run.mounts->push_back(std::move(mount));
  }
  return run;
}

Result<Spec> read_document(const SpecReader& reader, const toml::table& document) {
  Spec spec;
  spec.file = reader.file();
  const auto rule_names = [&](std::vector<std::string>& field, const char* key) {
    return [&field, &reader, key](const toml::node& value) -> Result<void> {
      field = TRY(reader.strings(value, key));
      if (auto known = check_rule_names(field); !known) return reader.error(value, known.error().message);
      return {};
    };
  };
  const SpecReader::Handlers handlers{{"root",
        [&](const toml::node& value) -> Result<void> {
          const std::string root = TRY(reader.string(value, "root"));
          if (root.empty()) return reader.error(value, "root must name a directory");
          spec.root = reader.path(root);
          return {};
        }},
       {"state-dir",
        [&](const toml::node& value) -> Result<void> {
          spec.state_dir = reader.path(TRY(reader.string(value, "state-dir")));
          return {};
        }},
       {"paths",
        [&](const toml::node& value) -> Result<void> {
          spec.paths = TRY(reader.absolute_paths(value, "paths"));
          return {};
        }},
       {"users",
        [&](const toml::node& value) -> Result<void> {
          spec.options.users = TRY(reader.strings(value, "users"));
          return {};
        }},
       {"with", rule_names(spec.options.rules_with, "with")},
       {"without", rule_names(spec.options.rules_without, "without")},
       {"keep-setuid",
        [&](const toml::node& value) -> Result<void> {
          spec.options.keep_setuid = TRY(reader.boolean(value, "keep-setuid"));
          return {};
        }},
       {"allow-devices",
        [&](const toml::node& value) -> Result<void> {
          spec.options.allow_devices = TRY(reader.boolean(value, "allow-devices"));
          return {};
        }},
       {"trace",
        [&](const toml::node& value) -> Result<void> {
          const toml::array* traces = value.as_array();
          if (traces == nullptr) return reader.error(value, "trace must be a list of tables ([[trace]])");
          for (const toml::node& trace : *traces) spec.traces.push_back(TRY(read_trace(reader, trace)));
          return {};
        }},
       {"run", [&](const toml::node& value) -> Result<void> {
          spec.run = TRY(read_run(reader, value));
          return {};
        }}};
  TRY(reader.table(document, "the spec", handlers));
  if (spec.root.empty()) return Error::usage(reader.file() + ": no root: the spec must say root = \"DIR\"");
  return spec;
}

}  // namespace

Result<Spec> read_spec(const std::string& file) {
  const std::optional<std::string> text = TRY(read_file(file, kMaxSpecSize, "a spec"));
  if (!text) return Error::usage(file + ": no such spec file");
  const SpecReader reader(file);
  try {
    const toml::table document = toml::parse(*text, file);
    return read_document(reader, document);
  } catch (const toml::parse_error& error) {
    return reader.error(error.source(), std::string(error.description()));
  }
}

}  // namespace jailbuild
