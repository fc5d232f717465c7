// Rules `dlopen-notes`, `dlopen-recommended` and `dlopen-suggested`: the libraries an object says
// it dlopens, in FDO `.note.dlopen` ELF notes (https://systemd.io/ELF_DLOPEN_METADATA/), read by
// the ELF reader from the object's PT_NOTE segments when the resolver maps it (ElfObject's
// dlopen_notes: no second read). Each note is a JSON array of objects, each naming the sonames of
// one library, alternatives in order of preference ("soname": ["libfoo.so.2", "libfoo.so.1"]),
// and how much the object needs it ("priority": "required", "recommended" (the default) or
// "suggested"). One rule per priority, so that `--with` and `--without` choose them as any rule:
// the required ones by default, the others only when asked.
//
// A note is the object author's word, read from a file of the root's closure: bad JSON, or an entry
// of the wrong shape, is said at -v and skipped, never a failure of the plan.
#include <set>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "elf/elf.hpp"
#include "rule_context.hpp"

namespace jailbuild {
namespace {

// One library a note names: its sonames, in order of preference.
struct NotedLibrary {
  std::vector<std::string> sonames;
  std::string priority;
  std::string feature;
};

// The entries of one note's JSON payload; those of the wrong shape are said at -v and left out.
std::vector<NotedLibrary> parse_note(const std::string& object, const std::string& payload) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(payload);
  } catch (const nlohmann::json::parse_error& error) {
    spdlog::info("{}: .note.dlopen is not valid JSON ({}); the note is ignored", object, error.what());
    return {};
  }
  if (!document.is_array()) {
    spdlog::info("{}: .note.dlopen holds JSON {}, not an array; the note is ignored", object, document.type_name());
    return {};
  }
  std::vector<NotedLibrary> libraries;
  for (std::size_t index = 0; index < document.size(); ++index) {
    const nlohmann::json& entry = document[index];
    const auto skip = [&](const std::string& why) {
      spdlog::info("{}: .note.dlopen entry {} {}; the entry is ignored", object, index, why);
    };
    if (!entry.is_object()) {
      skip(std::string("is JSON ") + entry.type_name() + ", not an object");
      continue;
    }
    NotedLibrary library;
    const auto sonames = entry.find("soname");
    if (sonames == entry.end() || !sonames->is_array() || sonames->empty()) {
      skip("has no \"soname\" list");
      continue;
    }
    for (const nlohmann::json& soname : *sonames) {
      if (!soname.is_string() || soname.get_ref<const std::string&>().empty()) break;
      library.sonames.push_back(soname.get<std::string>());
    }
    if (library.sonames.size() != sonames->size()) {
      skip("has a \"soname\" that is not a non-empty string");
      continue;
    }
    // The spec's default priority.
    library.priority = "recommended";
    if (const auto priority = entry.find("priority"); priority != entry.end()) {
      if (!priority->is_string()) {
        skip("has a \"priority\" that is not a string");
        continue;
      }
      library.priority = priority->get<std::string>();
    }
    if (const auto feature = entry.find("feature"); feature != entry.end() && feature->is_string())
      library.feature = feature->get<std::string>();
    libraries.push_back(std::move(library));
  }
  return libraries;
}

// The dlopens the notes of the closure's objects name with `priority`: for each library, the first
// of its sonames the loader finds from the object that carries the note (a library noted with no
// soname found is said at -v: the program is to run without the feature, as on a host without it).
std::vector<RuleAddition> decide_dlopen_notes(const RuleContext& context, const std::string& priority) {
  std::vector<RuleAddition> added;
  std::set<std::pair<std::string, std::string>> decided;  // (real path of the object, first soname)
  for (const LinkMap& map : context.input.programs) {
    for (const LoadedObject& object : map.objects) {
      if (!object.elf || object.elf->dlopen_notes.empty()) continue;
      const std::string& real_path = file_of(object);
      for (const std::string& payload : object.elf->dlopen_notes) {
        for (const NotedLibrary& library : parse_note(object.path, payload)) {
          if (library.priority != priority || !decided.emplace(real_path, library.sonames.front()).second) continue;
          std::string why = object.path + " notes dlopen(" + library.sonames.front() + ")";
          if (!library.feature.empty()) why += " for " + library.feature;
          bool found = false;
          for (const std::string& soname : library.sonames) {
            if (!context.input.dlopen_finds(object.path, soname)) continue;
            if (soname != library.sonames.front()) why += ", found as " + soname;
            added.push_back({DlopenRequirement{object.path, soname}, why + " (" + priority + ")"});
            found = true;
            break;
          }
          if (!found) spdlog::info("{}: none of its sonames is found; nothing added", why);
        }
      }
    }
  }
  return added;
}

}  // namespace

std::vector<RuleAddition> decide_dlopen_required(const RuleContext& context) {
  return decide_dlopen_notes(context, "required");
}

std::vector<RuleAddition> decide_dlopen_recommended(const RuleContext& context) {
  return decide_dlopen_notes(context, "recommended");
}

std::vector<RuleAddition> decide_dlopen_suggested(const RuleContext& context) {
  return decide_dlopen_notes(context, "suggested");
}

}  // namespace jailbuild
