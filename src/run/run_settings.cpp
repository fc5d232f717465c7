// RunSettings: run's options as words, laid over each other, checked into RunOptions, and kept as
// JSON (see jailbuild/run_settings.hpp).
#include "jailbuild/run_settings.hpp"
#include "jailbuild/seccomp_allowlist.hpp"

#include <array>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

namespace jailbuild {
namespace {

// The JSON name of each mount kind: run's option, without its dashes.
constexpr std::array<std::pair<JailMount::Kind, std::string_view>, 3> kMountNames{{
    {JailMount::Kind::Bind, "bind"},
    {JailMount::Kind::ReadOnlyBind, "ro-bind"},
    {JailMount::Kind::Tmpfs, "tmpfs"},
}};

// Each optional field of RunSettings with its JSON name (run's option), the same field of each of
// `settings` at once: one list for laying over, writing and reading them.
template <typename Visit, typename... Settings>
void for_each_field(Visit&& visit, Settings&... settings) {
  visit("user", settings.user...);
  visit("group", settings.group...);
  visit("groups", settings.groups...);
  visit("cap", settings.capabilities...);
  visit("env", settings.environment...);
  visit("keep-env", settings.keep_environment...);
  visit("cwd", settings.cwd...);
  visit("writable", settings.writable...);
  visit("seccomp", settings.seccomp...);
  visit("net", settings.network...);
  visit("chroot-only", settings.chroot_only...);
  visit("host-root", settings.host_root...);
  visit("tmpfs-size", settings.tmpfs_size...);
  visit("rlimit", settings.limits...);
  visit("memory", settings.memory...);
  visit("pids", settings.pids...);
  visit("cpus", settings.cpus...);
  visit("landlock", settings.landlock...);
  visit("allow-connect", settings.allow_connect...);
  visit("allow-bind", settings.allow_bind...);
}

Result<void> read_field(const nlohmann::json& value, const char* key, std::optional<std::string>& field) {
  if (!value.is_string()) return Error::usage(std::string("run settings: \"") + key + "\" must be a string");
  field = value.get<std::string>();
  return {};
}

Result<void> read_field(const nlohmann::json& value, const char* key, std::optional<bool>& field) {
  if (!value.is_boolean()) return Error::usage(std::string("run settings: \"") + key + "\" must be true or false");
  field = value.get<bool>();
  return {};
}

Result<void> read_field(const nlohmann::json& value, const char* key, std::optional<std::vector<std::string>>& field) {
  const auto wrong = [key] { return Error::usage(std::string("run settings: \"") + key + "\" must be a list of strings"); };
  if (!value.is_array()) return wrong();
  std::vector<std::string> words;
  for (const nlohmann::json& word : value) {
    if (!word.is_string()) return wrong();
    words.push_back(word.get<std::string>());
  }
  field = std::move(words);
  return {};
}

}  // namespace

RunSettings overlay(const RunSettings& recorded, const RunSettings& given) {
  RunSettings settings = recorded;
  for_each_field(
      [](const char*, auto& field, const auto& given_field) {
        if (given_field) field = given_field;
      },
      settings, given);
  if (given.mounts) settings.mounts = given.mounts;
  if (!given.command.empty()) settings.command = given.command;
  return settings;
}

Result<void> check_seccomp_setting(const std::string& seccomp) {
  if (seccomp == "on" || seccomp == "off" || seccomp == "traced") return {};
  if (seccomp.starts_with(kAllowlistPrefix) && seccomp.size() > kAllowlistPrefix.size()) return {};
  return Error::usage("--seccomp " + seccomp + ": must be on, off, traced or allowlist:FILE");
}

Result<RunOptions> run_options_of(const RunSettings& settings, const std::string& root,
                                  const std::vector<std::string>& command, const std::vector<std::string>& caller,
                                  const std::string& caller_lang, const std::string& state_dir) {
  if (command.empty()) return Error::usage(root + ": no program to run, and no default command recorded for it");
  RunOptions options;
  options.root = root;  // opened once, by run_in_jail
  options.program = command[0];
  options.arguments.assign(command.begin() + 1, command.end());
  options.identity = TRY(resolve_identity(settings.user, settings.group, settings.groups));
  options.user_named = settings.user.has_value();
  for (const std::string& name : settings.capabilities.value_or(std::vector<std::string>{}))
    options.capabilities.push_back(TRY(parse_capability(name)));
  const bool keep_environment = settings.keep_environment.value_or(false);
  options.caller_lang = caller_lang;
  options.lang_from_root = !keep_environment;
  options.environment = TRY(jail_environment(caller, keep_environment, options.identity,
                                             settings.environment.value_or(std::vector<std::string>{})));
  options.cwd = settings.cwd.value_or("/");
  options.writable = settings.writable.value_or(false);
  for (const auto& [kind, spec] : settings.mounts.value_or(std::vector<std::pair<JailMount::Kind, std::string>>{}))
    options.mounts.push_back(TRY(kind == JailMount::Kind::Tmpfs ? parse_tmpfs(spec) : parse_bind(kind, spec)));
  const std::string seccomp = settings.seccomp.value_or("on");
  TRY(check_seccomp_setting(seccomp));
  options.seccomp = seccomp != "off";
  if (seccomp == "traced") {
    options.seccomp_allowlist = TRY(recorded_allowlist(state_dir, root));
    if (!options.seccomp_allowlist)
      return Error::usage("--seccomp traced: no system calls are recorded for " + root +
                          " (jailbuild add --trace --root ROOT -- CMD records those CMD makes)");
  } else if (seccomp.starts_with(kAllowlistPrefix)) {
    options.seccomp_allowlist = TRY(allowlist_from_file(seccomp.substr(kAllowlistPrefix.size())));
  }
  const std::string network = settings.network.value_or("host");
  if (network != "host" && network != "none") return Error::usage("--net " + network + ": must be host or none");
  options.network = network == "none" ? Network::None : Network::Host;
  options.chroot_only = settings.chroot_only.value_or(false);
  options.host_root = settings.host_root.value_or(false);
  if (settings.tmpfs_size) options.tmpfs_size = TRY(parse_tmpfs_size(*settings.tmpfs_size));
  for (const std::string& spec : settings.limits.value_or(std::vector<std::string>{}))
    options.limits.push_back(TRY(parse_resource_limit(spec)));
  if (settings.memory) options.cgroup_limits.memory = TRY(parse_memory_limit(*settings.memory));
  if (settings.pids) options.cgroup_limits.pids = TRY(parse_pids_limit(*settings.pids));
  if (settings.cpus) options.cgroup_limits.cpus = TRY(parse_cpus(*settings.cpus));
  const std::string landlock = settings.landlock.value_or("on");
  if (landlock != "on" && landlock != "off") return Error::usage("--landlock " + landlock + ": must be on or off");
  options.landlock = landlock == "on";
  for (const auto& [words, ports] : {std::pair{&settings.allow_connect, &options.allow_connect},
                                     std::pair{&settings.allow_bind, &options.allow_bind}}) {
    if (!*words) continue;
    ports->emplace();
    for (const std::string& port : **words) (*ports)->push_back(TRY(parse_port(port)));
  }
  return options;
}

nlohmann::json run_settings_json(const RunSettings& settings) {
  nlohmann::json json = nlohmann::json::object();
  for_each_field(
      [&json](const char* key, const auto& field) {
        if (field) json[key] = *field;
      },
      settings);
  if (settings.mounts) {
    nlohmann::json mounts = nlohmann::json::array();
    for (const auto& [kind, spec] : *settings.mounts)
      for (const auto& [named_kind, name] : kMountNames)
        if (named_kind == kind) mounts.push_back({{std::string(name), spec}});
    json["mounts"] = std::move(mounts);
  }
  if (!settings.command.empty()) json["command"] = settings.command;
  return json;
}

Result<RunSettings> run_settings_from_json(const nlohmann::json& json) {
  if (!json.is_object()) return Error::usage("run settings: must be an object");
  RunSettings settings;
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    Result<void> read;
    for_each_field(
        [&](const char* name, auto& field) {
          if (known || key != name) return;
          known = true;
          read = read_field(value, name, field);
        },
        settings);
    if (!read) return read.error();
    if (known) continue;
    if (key == "command") {
      std::optional<std::vector<std::string>> command;
      TRY(read_field(value, "command", command));
      settings.command = std::move(*command);
    } else if (key == "mounts") {
      const auto wrong = [] {
        return Error::usage("run settings: \"mounts\" must be a list of {\"bind\"|\"ro-bind\"|\"tmpfs\": SPEC}");
      };
      if (!value.is_array()) return wrong();
      std::vector<std::pair<JailMount::Kind, std::string>> mounts;
      for (const nlohmann::json& mount : value) {
        if (!mount.is_object() || mount.size() != 1 || !mount.begin().value().is_string()) return wrong();
        bool named = false;
        for (const auto& [kind, name] : kMountNames)
          if (mount.begin().key() == name) {
            mounts.emplace_back(kind, mount.begin().value().get<std::string>());
            named = true;
          }
        if (!named) return wrong();
      }
      settings.mounts = std::move(mounts);
    } else {
      return Error::usage("run settings: unknown key \"" + key + "\"");
    }
  }
  return settings;
}

}  // namespace jailbuild
