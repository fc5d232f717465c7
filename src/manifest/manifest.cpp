// The manifest: its JSON layout and validation, where it is stored, and how it is loaded and
// saved. Layout (version 1), keys of an object in any order, entries sorted by path:
//
//   {"version": 1, "root": "/srv/jail", "options": {"keep_setuid": "true"},
//    "added": ["/usr/bin/bash"],
//    "entries": [{"path": "/usr/bin/bash", "type": "file", "source": "/usr/bin/bash",
//                 "link_target": "",
//                 "reasons": [{"added": "/usr/bin/bash", "needed_by": "", "rule": "added"}],
//                 "source_identity": {"dev": 2049, "ino": 131, "size": 1234376,
//                                     "mtime_ns": ..., "ctime_ns": ..., "mode": 33261,
//                                     "uid": 0, "gid": 0},
//                 "copy_identity": {...}}]}
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
};

// What is wrong with `path` under `rule`, or "" if nothing.
std::string path_problem(const std::string& path, PathRule rule) {
  if (path.find('\0') != std::string::npos) return "path contains a NUL byte";
  if (path.empty()) return rule == PathRule::NonEmpty || rule == PathRule::Absolute ? "empty path" : "";
  if (rule == PathRule::NonEmpty) return "";
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
  reason.added = in.path(value, "added", where, PathRule::AbsoluteOrEmpty);
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

std::vector<std::string> read_added(Reader& in, const json& document) {
  std::vector<std::string> added;
  std::set<std::string> seen;
  const json* array = in.array(document, "added", "");
  for (std::size_t i = 0; array != nullptr && i < array->size() && !in.failed(); ++i) {
    const std::string where = element_of("added", i);
    std::string path = in.path((*array)[i], where, PathRule::Absolute);
    if (in.failed()) break;
    if (!seen.insert(path).second) in.fail(where, "'" + path + "' is listed twice");
    added.push_back(std::move(path));
  }
  return added;
}

std::map<std::string, std::string> read_options(Reader& in, const json& document) {
  std::map<std::string, std::string> options;
  const json* object = in.member(document, "options", "");
  if (object == nullptr) return options;
  if (!object->is_object()) {
    in.fail("options", "expected an object, got " + type_name(*object));
    return options;
  }
  for (const auto& [name, value] : object->items()) {
    if (name.empty()) in.fail("options", "empty option name");
    options.emplace(name, in.text(value, member_of("options", name)));
  }
  return options;
}

// The version comes first: a newer manifest may have any layout, and deserves the version message
// rather than one about the first key this jailbuild does not know.
bool check_version(Reader& in, const json& document) {
  const auto version = in.integer<std::int64_t>(document, "version", "");
  if (in.failed()) return false;
  if (version > kManifestVersion) {
    in.fail("", "version " + std::to_string(version) + " is newer than this jailbuild understands (" +
                    std::to_string(kManifestVersion) + ")");
  } else if (version < 1) {
    in.fail("version", std::to_string(version) + " is not a manifest version");
  }
  return !in.failed();
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
  } catch (const json::type_error& error) {  // an option name that is not UTF-8
    return Error{path + ": cannot write the manifest as JSON: " + error.what()};
  }
}

// Creates a hidden temporary file next to `path` (mkostemp: O_CREAT | O_EXCL, mode 0600) holding
// `text`, flushed to disk; returns its name. On failure nothing is left behind.
}  // namespace

json manifest_to_json(const Manifest& manifest) {
  json option_values = json::object();
  for (const auto& [name, value] : manifest.options) option_values[name] = bytes_json(value);
  json entry_list = json::array();  // sorted by path, as the map is
  for (const auto& [path, entry] : manifest.entries) entry_list.push_back(entry_to_json(entry));
  return json{{"version", kManifestVersion},  // the layout written here, whatever `version` says
              {"root", bytes_json(manifest.root)},
              {"options", std::move(option_values)},
              {"added", bytes_json(manifest.added)},
              {"entries", std::move(entry_list)}};
}

std::string manifest_json_text(const Manifest& manifest) { return json_text(manifest_to_json(manifest)); }

Result<Manifest> manifest_from_json(const json& document) {
  if (!document.is_object()) return Error{"expected a JSON object at the top level, got " + type_name(document)};
  Reader in;
  if (!check_version(in, document)) return in.error();
  if (!in.object(document, "", {"version", "root", "options", "added", "entries"})) return in.error();
  Manifest manifest;
  manifest.root = in.path(document, "root", "", PathRule::Absolute);
  manifest.options = read_options(in, document);
  manifest.added = read_added(in, document);
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
