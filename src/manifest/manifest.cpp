// The manifest: its JSON layout and validation, where it is stored, and how it is loaded and
// saved. Layout (version 2), keys of an object in any order, entries sorted by path:
//
//   {"version": 2, "root": "/srv/jail",
//    "intent": {"options": {"keep_setuid": true, "allow_devices": false,
//                           "rules_with": [], "rules_without": [], "users": []},
//               "requirements": [{"kind": "path", "path": "/usr/bin/bash"},
//                                {"kind": "dlopen", "from": "/usr/bin/x", "name": "libm.so.6"},
//                                {"kind": "rule", "name": "nss"},
//                                {"kind": "traced", "path": "/etc/x", "command": "x --y"},
//                                {"kind": "generated", "path": "/etc/motd", "content": "hi\n",
//                                 "mode": 420, "why": "..."}]},
//    "entries": [{"path": "/usr/bin/bash", "type": "file", "source": "/usr/bin/bash",
//                 "link_target": "",
//                 "reasons": [{"added": "/usr/bin/bash", "needed_by": "", "rule": "added"}],
//                 "source_identity": {"dev": 2049, "ino": 131, "size": 1234376,
//                                     "mtime_ns": ..., "ctime_ns": ..., "mode": 33261,
//                                     "uid": 0, "gid": 0},
//                 "copy_identity": {...}}]}
//
// The intent is what the root was asked to hold, the entries what it holds. Version 1 had, in
// place of "intent", "options" (strings: {"keep_setuid": "true"}) and "added" (the paths given to
// `add`); it is read as version 2 with those paths as path requirements, and never written.
//
// Linux paths are bytes, JSON strings are Unicode: every path and text is written with
// bytes_json (util/json_bytes.hpp), a JSON string when it is UTF-8 and {"hex": "<its bytes in
// lowercase hex>"} otherwise, so every path round-trips.
#include "jailbuild/manifest.hpp"
#include "manifest_json.hpp"
#include "util/files.hpp"
#include "util/json_bytes.hpp"
#include "util/paths.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

namespace jailbuild {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxManifestSize = std::uint64_t{256} << 20;  // a sane manifest is a few MiB

// ---------------------------------------------------------------------------------------------
// Writing

json identity_to_json(const FileIdentity& identity) {
  return json{{"dev", identity.dev},           {"ino", identity.ino},
              {"size", identity.size},         {"mtime_ns", identity.mtime_ns},
              {"ctime_ns", identity.ctime_ns}, {"mode", identity.mode},
              {"uid", identity.uid},           {"gid", identity.gid}};
}

json reason_to_json(const Reason& reason) {
  return json{{"added", bytes_json(reason.added)},
              {"needed_by", bytes_json(reason.needed_by)},
              {"rule", bytes_json(reason.rule)}};
}

json entry_to_json(const ManifestEntry& entry) {
  json reasons = json::array();
  for (const Reason& reason : entry.reasons) reasons.push_back(reason_to_json(reason));
  return json{{"path", bytes_json(entry.path)},
              {"type", to_string(entry.type)},
              {"source", bytes_json(entry.source)},
              {"link_target", bytes_json(entry.link_target)},
              {"reasons", std::move(reasons)},
              {"source_identity", identity_to_json(entry.source_identity)},
              {"copy_identity", identity_to_json(entry.copy_identity)}};
}

json requirement_to_json(const Requirement& requirement) {
  struct ToJson {
    json operator()(const PathRequirement& r) const { return {{"kind", "path"}, {"path", bytes_json(r.path)}}; }
    json operator()(const DlopenRequirement& r) const {
      return {{"kind", "dlopen"}, {"from", bytes_json(r.from)}, {"name", bytes_json(r.name)}};
    }
    json operator()(const RuleRequirement& r) const { return {{"kind", "rule"}, {"name", bytes_json(r.name)}}; }
    json operator()(const TracedRequirement& r) const {
      return {{"kind", "traced"}, {"path", bytes_json(r.path)}, {"command", bytes_json(r.command)}};
    }
    json operator()(const GeneratedRequirement& r) const {
      return {{"kind", "generated"},
              {"path", bytes_json(r.path)},
              {"content", bytes_json(r.content)},
              {"mode", r.mode},
              {"why", bytes_json(r.why)}};
    }
  };
  return std::visit(ToJson{}, requirement);
}

json intent_to_json(const Intent& intent) {
  const IntentOptions& options = intent.options;
  json requirements = json::array();
  for (const Requirement& requirement : intent.requirements) requirements.push_back(requirement_to_json(requirement));
  return json{{"options", json{{"keep_setuid", options.keep_setuid},
                               {"allow_devices", options.allow_devices},
                               {"rules_with", bytes_json(options.rules_with)},
                               {"rules_without", bytes_json(options.rules_without)},
                               {"users", bytes_json(options.users)}}},
              {"requirements", std::move(requirements)}};
}

// ---------------------------------------------------------------------------------------------
// Reading

// Where a value is in the document, for messages: "entries[3].source_identity.dev".
std::string member_of(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

std::string element_of(const std::string& where, std::size_t index) {
  return where + "[" + std::to_string(index) + "]";
}

std::string type_name(const json& value) { return value.is_number_float() ? "float" : value.type_name(); }

// How strictly a path-valued string is checked.
enum class PathRule {
  Absolute,         // absolute and canonical: "/", "/a/b"; not "a", "/a/", "//a", "/./a", "/a/.."
  AbsoluteOrEmpty,  // as Absolute, or "" (the source of a generated file)
  AsOpenedOrEmpty,  // any absolute path, "." and ".." allowed (a path as the loader opened it), or ""
  NonEmpty,         // any non-empty string without NUL (a symlink's target)
  // What a Reason names as `added`: a requirement in one line (requirement.hpp's to_string): an
  // absolute path as for Absolute (a path or traced requirement), "dlopen(NAME) from PATH",
  // "rule NAME", or "" (a generated file).
  RequirementOrEmpty,
};

// What is wrong with `path` under `rule`, or "" if nothing.
std::string path_problem(const std::string& path, PathRule rule) {
  if (path.find('\0') != std::string::npos) return "path contains a NUL byte";
  if (path.empty()) return rule == PathRule::NonEmpty || rule == PathRule::Absolute ? "empty path" : "";
  if (rule == PathRule::NonEmpty) return "";
  if (rule == PathRule::RequirementOrEmpty && (path.starts_with("dlopen(") || path.starts_with("rule "))) return "";
  if (!path.starts_with('/')) return "'" + path + "' is not an absolute path";
  if (path == "/" || rule == PathRule::AsOpenedOrEmpty) return "";
  for (std::size_t start = 1; start <= path.size();) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view component = std::string_view(path).substr(start, end - start);
    if (component.empty()) return "'" + path + "' has an empty component";
    if (component == "." || component == "..") {
      return "'" + path + "' has a '" + std::string(component) + "' component";
    }
    start = end + 1;
  }
  return "";
}

// Reads a parsed manifest, remembering the first problem and where it is. After a problem every
// read is a no-op that returns an empty value, so a parser reads a whole structure and checks
// `failed()` once at the end instead of after every field.
class Reader {
 public:
  bool failed() const { return problem_.has_value(); }
  Error error() const { return Error{problem_.value_or("")}; }

  void fail(const std::string& where, const std::string& what) {
    if (!problem_) problem_ = where.empty() ? what : where + ": " + what;
  }

  // True if `value` is an object with no key outside `known`.
  bool object(const json& value, const std::string& where, std::initializer_list<std::string_view> known) {
    if (failed()) return false;
    if (!value.is_object()) {
      fail(where, "expected an object, got " + type_name(value));
      return false;
    }
    for (const auto& [key, member] : value.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        fail(where, "unknown key '" + key + "'");
        return false;
      }
    }
    return true;
  }

  // The member `key` of `object`, which must be present; nullptr after a problem.
  const json* member(const json& object, std::string_view key, const std::string& where) {
    if (failed()) return nullptr;
    const auto found = object.find(key);
    if (found == object.end()) {
      fail(where, "missing key '" + std::string(key) + "'");
      return nullptr;
    }
    return &*found;
  }

  // The member `key` of `object`, which must be an array.
  const json* array(const json& object, std::string_view key, const std::string& where) {
    const json* value = member(object, key, where);
    if (value == nullptr) return nullptr;
    if (!value->is_array()) {
      fail(member_of(where, key), "expected an array, got " + type_name(*value));
      return nullptr;
    }
    return value;
  }

  // A string, or the {"hex": ...} form of a string that is not UTF-8.
  std::string text(const json& value, const std::string& where) {
    if (failed()) return {};
    if (value.is_string()) return value.get<std::string>();
    if (!value.is_object()) {
      fail(where, "expected a string, got " + type_name(value));
      return {};
    }
    if (!object(value, where, {"hex"})) return {};
    const json* hex = member(value, "hex", where);
    if (hex == nullptr) return {};
    std::optional<std::string> bytes = hex->is_string() ? bytes_from_hex(hex->get<std::string>()) : std::nullopt;
    if (!bytes) fail(member_of(where, "hex"), "expected an even number of lowercase hex digits");
    return bytes.value_or("");
  }

  std::string text(const json& object, std::string_view key, const std::string& where) {
    const json* value = member(object, key, where);
    return value == nullptr ? std::string() : text(*value, member_of(where, key));
  }

  std::string path(const json& value, const std::string& where, PathRule rule) {
    std::string path = text(value, where);
    if (failed()) return {};
    if (const std::string problem = path_problem(path, rule); !problem.empty()) fail(where, problem);
    return path;
  }

  std::string path(const json& object, std::string_view key, const std::string& where, PathRule rule) {
    const json* value = member(object, key, where);
    return value == nullptr ? std::string() : path(*value, member_of(where, key), rule);
  }

  bool boolean(const json& object, std::string_view key, const std::string& where) {
    const json* value = member(object, key, where);
    if (value == nullptr) return false;
    if (!value->is_boolean()) {
      fail(member_of(where, key), "expected a boolean, got " + type_name(*value));
      return false;
    }
    return value->get<bool>();
  }

  // A name (of a rule, a user, a library to dlopen): not empty, no NUL.
  std::string name(const json& value, const std::string& where) {
    std::string name = text(value, where);
    if (failed()) return {};
    if (name.empty()) fail(where, "empty name");
    if (name.find('\0') != std::string::npos) fail(where, "name contains a NUL byte");
    return name;
  }

  std::string name(const json& object, std::string_view key, const std::string& where) {
    const json* value = member(object, key, where);
    return value == nullptr ? std::string() : name(*value, member_of(where, key));
  }

  // The member `key` of `object`: an array of names, each once.
  std::vector<std::string> names(const json& object, std::string_view key, const std::string& object_where) {
    std::vector<std::string> names;
    const json* list = array(object, key, object_where);
    const std::string where = member_of(object_where, key);
    for (std::size_t i = 0; list != nullptr && i < list->size() && !failed(); ++i) {
      std::string name = this->name((*list)[i], element_of(where, i));
      if (failed()) break;
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        fail(element_of(where, i), "'" + name + "' is listed twice");
      }
      names.push_back(std::move(name));
    }
    return names;
  }

  // An integer that fits in T; floats, booleans and out-of-range numbers are problems.
  template <typename T>
  T integer(const json& object, std::string_view key, const std::string& where) {
    const json* value = member(object, key, where);
    if (value == nullptr) return T{};
    if (!value->is_number_integer()) {
      fail(member_of(where, key), "expected an integer, got " + type_name(*value));
      return T{};
    }
    const bool fits = value->is_number_unsigned() ? std::in_range<T>(value->get<std::uint64_t>())
                                                  : std::in_range<T>(value->get<std::int64_t>());
    if (!fits) {
      fail(member_of(where, key), value->dump() + " is out of range");
      return T{};
    }
    return value->is_number_unsigned() ? static_cast<T>(value->get<std::uint64_t>())
                                       : static_cast<T>(value->get<std::int64_t>());
  }

 private:
  std::optional<std::string> problem_;
};

std::optional<EntryType> entry_type_from_string(std::string_view name) {
  for (const EntryType type : {EntryType::Directory, EntryType::Symlink, EntryType::File}) {
    if (name == to_string(type)) return type;
  }
  return std::nullopt;
}

EntryType read_entry_type(Reader& in, const json& entry, const std::string& where) {
  const std::string name = in.text(entry, "type", where);
  if (in.failed()) return EntryType::File;
  const std::optional<EntryType> type = entry_type_from_string(name);
  if (!type) in.fail(member_of(where, "type"), "unknown entry type '" + name + "'");
  return type.value_or(EntryType::File);
}

FileIdentity read_identity(Reader& in, const json& entry, std::string_view key, const std::string& entry_where) {
  FileIdentity identity;
  const json* value = in.member(entry, key, entry_where);
  const std::string where = member_of(entry_where, key);
  if (value == nullptr ||
      !in.object(*value, where, {"dev", "ino", "size", "mtime_ns", "ctime_ns", "mode", "uid", "gid"})) {
    return identity;
  }
  identity.dev = in.integer<std::uint64_t>(*value, "dev", where);
  identity.ino = in.integer<std::uint64_t>(*value, "ino", where);
  identity.size = in.integer<std::uint64_t>(*value, "size", where);
  identity.mtime_ns = in.integer<std::int64_t>(*value, "mtime_ns", where);
  identity.ctime_ns = in.integer<std::int64_t>(*value, "ctime_ns", where);
  identity.mode = in.integer<std::uint32_t>(*value, "mode", where);
  identity.uid = in.integer<std::uint32_t>(*value, "uid", where);
  identity.gid = in.integer<std::uint32_t>(*value, "gid", where);
  return identity;
}

Reason read_reason(Reader& in, const json& value, const std::string& where) {
  Reason reason;
  if (!in.object(value, where, {"added", "needed_by", "rule"})) return reason;
  reason.added = in.path(value, "added", where, PathRule::RequirementOrEmpty);
  reason.needed_by = in.path(value, "needed_by", where, PathRule::AsOpenedOrEmpty);
  reason.rule = in.text(value, "rule", where);
  return reason;
}

std::vector<Reason> read_reasons(Reader& in, const json& entry, const std::string& entry_where) {
  std::vector<Reason> reasons;
  const json* array = in.array(entry, "reasons", entry_where);
  if (array == nullptr) return reasons;
  const std::string where = member_of(entry_where, "reasons");
  for (std::size_t i = 0; i < array->size() && !in.failed(); ++i) {
    reasons.push_back(read_reason(in, (*array)[i], element_of(where, i)));
  }
  return reasons;
}

// A symlink has a target and nothing else has one.
void check_link_target(Reader& in, const ManifestEntry& entry, const std::string& where) {
  if (in.failed()) return;
  const std::string target_where = member_of(where, "link_target");
  if (entry.type == EntryType::Symlink) {
    if (const std::string problem = path_problem(entry.link_target, PathRule::NonEmpty); !problem.empty()) {
      in.fail(target_where, "a symlink needs a target: " + problem);
    }
  } else if (!entry.link_target.empty()) {
    in.fail(target_where, std::string("a ") + to_string(entry.type) + " has no link target");
  }
}

ManifestEntry read_entry(Reader& in, const json& value, const std::string& where) {
  ManifestEntry entry;
  if (!in.object(value, where,
                 {"path", "type", "source", "link_target", "reasons", "source_identity", "copy_identity"})) {
    return entry;
  }
  entry.path = in.path(value, "path", where, PathRule::Absolute);
  entry.type = read_entry_type(in, value, where);
  entry.source = in.path(value, "source", where, PathRule::AbsoluteOrEmpty);
  entry.link_target = in.text(value, "link_target", where);
  check_link_target(in, entry, where);
  entry.reasons = read_reasons(in, value, where);
  entry.source_identity = read_identity(in, value, "source_identity", where);
  entry.copy_identity = read_identity(in, value, "copy_identity", where);
  return entry;
}

std::map<std::string, ManifestEntry> read_entries(Reader& in, const json& document) {
  std::map<std::string, ManifestEntry> entries;
  const json* array = in.array(document, "entries", "");
  for (std::size_t i = 0; array != nullptr && i < array->size() && !in.failed(); ++i) {
    const std::string where = element_of("entries", i);
    ManifestEntry entry = read_entry(in, (*array)[i], where);
    if (in.failed()) break;
    const std::string path = entry.path;
    if (!entries.emplace(path, std::move(entry)).second) {
      in.fail(member_of(where, "path"), "duplicate entry '" + path + "'");
    }
  }
  return entries;
}

// ---- the intent (version 2)

Requirement read_requirement(Reader& in, const json& value, const std::string& where) {
  if (in.failed()) return {};
  if (!value.is_object()) {
    in.fail(where, "expected an object, got " + type_name(value));
    return {};
  }
  const std::string kind = in.text(value, "kind", where);
  if (in.failed()) return {};
  if (kind == "path") {
    if (!in.object(value, where, {"kind", "path"})) return {};
    return PathRequirement{in.path(value, "path", where, PathRule::Absolute)};
  }
  if (kind == "dlopen") {
    if (!in.object(value, where, {"kind", "from", "name"})) return {};
    DlopenRequirement dlopen;
    dlopen.from = in.path(value, "from", where, PathRule::Absolute);
    dlopen.name = in.name(value, "name", where);
    return dlopen;
  }
  if (kind == "rule") {
    if (!in.object(value, where, {"kind", "name"})) return {};
    return RuleRequirement{in.name(value, "name", where)};
  }
  if (kind == "traced") {
    if (!in.object(value, where, {"kind", "path", "command"})) return {};
    TracedRequirement traced;
    traced.path = in.path(value, "path", where, PathRule::Absolute);
    traced.command = in.text(value, "command", where);
    return traced;
  }
  if (kind == "generated") {
    if (!in.object(value, where, {"kind", "path", "content", "mode", "why"})) return {};
    GeneratedRequirement generated;
    generated.path = in.path(value, "path", where, PathRule::Absolute);
    generated.content = in.text(value, "content", where);
    generated.mode = in.integer<std::uint32_t>(value, "mode", where);
    if (!in.failed() && generated.mode > 07777) {
      in.fail(member_of(where, "mode"), std::to_string(generated.mode) + " is not a permission mode (at most 07777)");
    }
    generated.why = in.text(value, "why", where);
    return generated;
  }
  in.fail(member_of(where, "kind"), "unknown requirement kind '" + kind + "'");
  return {};
}

std::vector<Requirement> read_requirements(Reader& in, const json& intent, const std::string& intent_where) {
  std::vector<Requirement> requirements;
  std::map<std::string, std::size_t> seen;  // each requirement as written back, with its index
  const json* array = in.array(intent, "requirements", intent_where);
  const std::string where = member_of(intent_where, "requirements");
  for (std::size_t i = 0; array != nullptr && i < array->size() && !in.failed(); ++i) {
    Requirement requirement = read_requirement(in, (*array)[i], element_of(where, i));
    if (in.failed()) break;
    // Compared as written back, so that a string and its {"hex": ...} spelling are one requirement.
    const auto [first, inserted] = seen.emplace(requirement_to_json(requirement).dump(), i);
    if (!inserted) in.fail(element_of(where, i), "the same requirement as " + element_of(where, first->second));
    requirements.push_back(std::move(requirement));
  }
  return requirements;
}

IntentOptions read_intent_options(Reader& in, const json& intent, const std::string& intent_where) {
  IntentOptions options;
  const json* value = in.member(intent, "options", intent_where);
  const std::string where = member_of(intent_where, "options");
  if (value == nullptr ||
      !in.object(*value, where, {"keep_setuid", "allow_devices", "rules_with", "rules_without", "users"})) {
    return options;
  }
  options.keep_setuid = in.boolean(*value, "keep_setuid", where);
  options.allow_devices = in.boolean(*value, "allow_devices", where);
  options.rules_with = in.names(*value, "rules_with", where);
  options.rules_without = in.names(*value, "rules_without", where);
  options.users = in.names(*value, "users", where);
  for (std::size_t i = 0; i < options.users.size() && !in.failed(); ++i) {
    // A user name becomes a field of passwd and group lines, which ':' and a newline end.
    if (options.users[i].find_first_of(":\n") != std::string::npos) {
      in.fail(element_of(member_of(where, "users"), i), "'" + options.users[i] + "' holds ':' or a newline");
    }
  }
  for (const std::string& rule : options.rules_with) {
    if (in.failed()) break;
    if (std::find(options.rules_without.begin(), options.rules_without.end(), rule) != options.rules_without.end()) {
      in.fail(member_of(where, "rules_without"), "'" + rule + "' is in rules_with too");
    }
  }
  return options;
}

Intent read_intent(Reader& in, const json& value, const std::string& where) {
  Intent intent;
  if (!in.object(value, where, {"options", "requirements"})) return intent;
  intent.options = read_intent_options(in, value, where);
  intent.requirements = read_requirements(in, value, where);
  return intent;
}

// ---- version 1: "added" and "options" in place of "intent"

std::vector<Requirement> read_v1_added(Reader& in, const json& document) {
  std::vector<Requirement> added;
  std::set<std::string> seen;
  const json* array = in.array(document, "added", "");
  for (std::size_t i = 0; array != nullptr && i < array->size() && !in.failed(); ++i) {
    const std::string where = element_of("added", i);
    std::string path = in.path((*array)[i], where, PathRule::Absolute);
    if (in.failed()) break;
    if (!seen.insert(path).second) in.fail(where, "'" + path + "' is listed twice");
    added.push_back(PathRequirement{std::move(path)});
  }
  return added;
}

// Version 1 wrote the options `add` took as the string "true"; every other name or value is an
// error, not an option silently dropped.
IntentOptions read_v1_options(Reader& in, const json& document) {
  IntentOptions options;
  const json* object = in.member(document, "options", "");
  if (object == nullptr || !in.object(*object, "options", {"keep_setuid", "allow_devices"})) return options;
  for (const auto& [name, value] : object->items()) {
    const std::string where = member_of("options", name);
    const std::string text = in.text(value, where);
    if (in.failed()) break;
    if (text != "true" && text != "false") {
      in.fail(where, "expected \"true\" or \"false\", got '" + text + "'");
      break;
    }
    (name == "keep_setuid" ? options.keep_setuid : options.allow_devices) = text == "true";
  }
  return options;
}

// The version comes first: a newer manifest may have any layout, and deserves the version message
// rather than one about the first key this jailbuild does not know.
std::optional<int> check_version(Reader& in, const json& document) {
  const auto version = in.integer<std::int64_t>(document, "version", "");
  if (in.failed()) return std::nullopt;
  if (version > kManifestVersion) {
    in.fail("", "version " + std::to_string(version) + " is newer than this jailbuild understands (" +
                    std::to_string(kManifestVersion) + ")");
  } else if (version < 1) {
    in.fail("version", std::to_string(version) + " is not a manifest version");
  }
  if (in.failed()) return std::nullopt;
  return static_cast<int>(version);
}

// "[json.exception.parse_error.101] parse error at line 3, column 5: ..." without its tag.
std::string describe_parse_error(const json::parse_error& error) {
  const std::string_view what = error.what();
  const std::size_t tag_end = what.find("] ");
  return std::string(tag_end == std::string_view::npos ? what : what.substr(tag_end + 2));
}

Result<Manifest> parse_manifest(const std::string& text, const std::string& path) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& error) { return Error{path + ": not valid JSON: " + describe_parse_error(error)}; }
  Result<Manifest> manifest = manifest_from_json(document);
  if (!manifest) return Error{path + ": " + manifest.error().message};
  return manifest;
}

// The whole file, or nullopt if it does not exist.
// ---------------------------------------------------------------------------------------------
// Saving

Result<std::string> serialize(const Manifest& manifest, const std::string& path) {
  try {
    return manifest_to_json(manifest).dump(2) + "\n";
  } catch (const json::type_error& error) {  // a string that did not go through bytes_json
    return Error{path + ": cannot write the manifest as JSON: " + error.what()};
  }
}

// Creates a hidden temporary file next to `path` (mkostemp: O_CREAT | O_EXCL, mode 0600) holding
// `text`, flushed to disk; returns its name. On failure nothing is left behind.
}  // namespace

json manifest_to_json(const Manifest& manifest) {
  json entry_list = json::array();  // sorted by path, as the map is
  for (const auto& [path, entry] : manifest.entries) entry_list.push_back(entry_to_json(entry));
  return json{{"version", kManifestVersion},  // the layout written here, whatever `version` says
              {"root", bytes_json(manifest.root)},
              {"intent", intent_to_json(manifest.intent)},
              {"entries", std::move(entry_list)}};
}

std::string manifest_json_text(const Manifest& manifest) { return json_text(manifest_to_json(manifest)); }

std::string intent_json_line(const Intent& intent) {
  return intent_to_json(intent).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Intent> intent_from_json_line(std::string_view text) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& error) { return Error{"not valid JSON: " + describe_parse_error(error)}; }
  Reader in;
  Intent intent = read_intent(in, document, "intent");
  if (in.failed()) return in.error();
  return intent;
}

Result<Manifest> manifest_from_json(const json& document) {
  if (!document.is_object()) return Error{"expected a JSON object at the top level, got " + type_name(document)};
  Reader in;
  const std::optional<int> version = check_version(in, document);
  if (!version) return in.error();
  Manifest manifest;
  manifest.version = *version;
  if (*version == 1) {
    if (!in.object(document, "", {"version", "root", "options", "added", "entries"})) return in.error();
    manifest.root = in.path(document, "root", "", PathRule::Absolute);
    manifest.intent.options = read_v1_options(in, document);
    manifest.intent.requirements = read_v1_added(in, document);
  } else {
    if (!in.object(document, "", {"version", "root", "intent", "entries"})) return in.error();
    manifest.root = in.path(document, "root", "", PathRule::Absolute);
    if (const json* intent = in.member(document, "intent", "")) manifest.intent = read_intent(in, *intent, "intent");
  }
  manifest.entries = read_entries(in, document);
  if (in.failed()) return in.error();
  return manifest;
}

Result<std::optional<Manifest>> load_manifest(const std::string& path) {
  Result<std::optional<std::string>> text = read_file(path, kMaxManifestSize, "a manifest");
  if (!text) return text.error();
  if (!text->has_value()) return std::optional<Manifest>();
  Result<Manifest> manifest = parse_manifest(**text, path);
  if (!manifest) return manifest.error();
  return std::optional<Manifest>(std::move(*manifest));
}

Result<void> save_manifest(const std::string& path, const Manifest& manifest) {
  Result<std::string> text = serialize(manifest, path);
  if (!text) return text.error();
  TRY(make_directories(parent_directory(path)));
  return replace_file(path, *text);
}

}  // namespace jailbuild
