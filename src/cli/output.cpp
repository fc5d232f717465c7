#include "output.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "util/json_bytes.hpp"
#include "jailbuild/report.hpp"
#include "jailbuild/requirement.hpp"

namespace jailbuild::cli {
namespace {

// Why `object` is in `map`, as the tree and `deps --json` word it: "ld.so.cache", "rpath of
// /usr/bin/x", ... Display text only: the manifest records the planner's own rule (plan.hpp).
std::string found_reason(const LinkMap& map, const LoadedObject& object) {
  switch (object.found_by) {
    case FoundBy::Rpath: return "rpath of " + map.objects[object.rpath_owner.value_or(0)].path;
    case FoundBy::Runpath: return "runpath of " + map.objects[object.loader.value_or(0)].path;
    case FoundBy::Path: return "path given in DT_NEEDED";
    default: return to_string(object.found_by);
  }
}

std::string reuse_reason(const LinkMap& map, const Dependency& dep) {
  switch (dep.reuse) {
    case Reuse::Vdso: return "vDSO, provided by the kernel";
    case Reuse::Name: return "already loaded";
    case Reuse::Soname: return "already loaded as soname " + dep.name;
    case Reuse::Inode: return "same file as " + map.objects[*dep.to].path + ", already loaded";
    case Reuse::None: break;
  }
  return {};
}

class TreePrinter {
 public:
  explicit TreePrinter(const LinkMap& map) : map_(map) {}

  void print(std::size_t index, const std::string& prefix, std::string& out) const {
    std::vector<const Dependency*> children;
    for (const Dependency& dep : map_.dependencies)
      if (dep.from == index) children.push_back(&dep);
    for (std::size_t i = 0; i < children.size(); ++i) {
      const bool last = i + 1 == children.size();
      out += prefix + (last ? "└── " : "├── ") + describe(*children[i]) + "\n";
      const Dependency& dep = *children[i];
      if (dep.to && dep.reuse == Reuse::None) print(*dep.to, prefix + (last ? "    " : "│   "), out);
    }
  }

 private:
  std::string describe(const Dependency& dep) const {
    if (dep.problem) {
      const Problem& problem = map_.problems[*dep.problem];
      switch (problem.kind) {
        case ProblemKind::NotFound: return dep.name + " => not found";
        case ProblemKind::Skipped: return dep.name + " (skipped: " + problem.message + ")";
        default: return dep.name + " => error: " + problem.message;
      }
    }
    if (dep.reuse == Reuse::Vdso) return dep.name + " [" + reuse_reason(map_, dep) + "]";
    const LoadedObject& target = map_.objects[*dep.to];
    const std::string reason = dep.reuse == Reuse::None ? found_reason(map_, target) : reuse_reason(map_, dep);
    const std::string shown = target.path == dep.name ? dep.name : dep.name + " => " + target.path;
    return shown + " [" + reason + "]";
  }

  const LinkMap& map_;
};

nlohmann::json problem_json(const Problem& problem, const LinkMap* map) {
  static const char* kinds[] = {"not_found", "fatal", "skipped", "unreadable"};
  nlohmann::json j = {{"kind", kinds[static_cast<int>(problem.kind)]},
                      {"name", bytes_json(problem.name)},
                      {"message", bytes_json(problem.message)}};
  if (map && problem.needed_by) j["needed_by"] = bytes_json(map->objects[*problem.needed_by].path);
  return j;
}

nlohmann::json link_map_json(const LinkMap& map) {
  auto path_of = [&](std::optional<std::size_t> index) -> nlohmann::json {
    return index ? bytes_json(map.objects[*index].path) : nlohmann::json(nullptr);
  };
  nlohmann::json objects = nlohmann::json::array();
  for (const LoadedObject& obj : map.objects) {
    objects.push_back({{"path", bytes_json(obj.path)},
                       {"real_path", bytes_json(obj.real_path)},
                       {"found_by", to_string(obj.found_by)},
                       {"reason", bytes_json(found_reason(map, obj))},
                       {"loader", path_of(obj.loader)},
                       {"rpath_owner", path_of(obj.rpath_owner)},
                       {"names", bytes_json(obj.names)}});
  }
  nlohmann::json dependencies = nlohmann::json::array();
  for (const Dependency& dep : map.dependencies) {
    dependencies.push_back({{"from", bytes_json(map.objects[dep.from].path)},
                            {"name", bytes_json(dep.name)},
                            {"to", path_of(dep.to)},
                            {"reuse", to_string(dep.reuse)}});
  }
  nlohmann::json problems = nlohmann::json::array();
  for (const Problem& problem : map.problems) problems.push_back(problem_json(problem, &map));
  return {{"program", bytes_json(map.objects.front().path)},
          {"interpreter", path_of(map.interpreter)},
          {"static", map.static_program},
          {"objects", objects},
          {"dependencies", dependencies},
          {"problems", problems}};
}

nlohmann::json reasons_json(const std::vector<Reason>& reasons) {
  nlohmann::json out = nlohmann::json::array();
  for (const Reason& r : reasons)
    out.push_back(
        {{"added", bytes_json(r.added)}, {"needed_by", bytes_json(r.needed_by)}, {"rule", bytes_json(r.rule)}});
  return out;
}

std::string describe_reason(const Reason& reason) {
  std::string text = reason.rule;
  if (!reason.needed_by.empty()) text += ", needed by " + reason.needed_by;
  if (!reason.added.empty()) text += " (for " + reason.added + ")";
  return text;
}

// "TYPE PATH" and, for a symlink, " -> TARGET".
std::string entry_line(EntryType type, const std::string& path, const std::string& link_target) {
  std::string line = std::string(to_string(type)) + " " + path;
  if (type == EntryType::Symlink) line += " -> " + link_target;
  return line;
}

}  // namespace

std::string deps_tree(const Closure& closure) {
  std::string out;
  for (const std::string& script : closure.scripts) out += script + " [script]\n";
  for (const LinkMap& map : closure.programs) {
    const LoadedObject& program = map.objects.front();
    out += program.path + (map.static_program ? " [static]" : "") + "\n";
    if (map.interpreter) out += "├── " + map.objects[*map.interpreter].path + " [interpreter]\n";
    TreePrinter(map).print(0, "", out);
  }
  return out;
}

std::string deps_list(const std::vector<Closure>& closures, const std::string& cwd) {
  std::string out;
  for (const std::string& path : closure_files(closures, cwd)) out += path + "\n";
  return out;
}

nlohmann::json deps_json(const std::vector<Closure>& closures) {
  nlohmann::json document = nlohmann::json::array();
  for (const Closure& closure : closures) {
    nlohmann::json programs = nlohmann::json::array();
    for (const LinkMap& map : closure.programs) programs.push_back(link_map_json(map));
    nlohmann::json problems = nlohmann::json::array();
    for (const Problem& problem : closure.problems) problems.push_back(problem_json(problem, nullptr));
    document.push_back({{"file", bytes_json(closure.file)},
                        {"complete", closure.complete()},
                        {"scripts", bytes_json(closure.scripts)},
                        {"programs", programs},
                        {"problems", problems}});
  }
  return document;
}

void log_details(const Closure& closure) {
  std::size_t objects = 0;
  for (const LinkMap& map : closure.programs) objects += map.objects.size();
  spdlog::debug("{}: {} script(s), {} program(s) exec'd, {} object(s) loaded{}", closure.file, closure.scripts.size(),
                closure.programs.size(), objects, closure.complete() ? "" : "; incomplete");
  for (const LinkMap& map : closure.programs)
    for (const LoadedObject& object : map.objects)
      spdlog::trace("{}: {} [{}]{}", map.objects.front().path, object.path, found_reason(map, object),
                    object.loader ? ", needed by " + map.objects[*object.loader].path : "");
}

void log_problem(const Problem& problem) {
  if (problem.kind == ProblemKind::Skipped)
    spdlog::warn("{}", problem.message);
  else
    spdlog::error("{}", problem.message);
}

// Every path and message goes through bytes_json: this is printed after the root changed, when
// failing would hide the change.
nlohmann::json change_json(const RootChange& change, bool dry_run) {
  const WriteReport& report = change.report;
  nlohmann::json conflicts = nlohmann::json::array();
  for (const std::vector<Conflict>* list : {&report.conflicts, &change.kept})
    for (const Conflict& c : *list)
      conflicts.push_back({{"path", bytes_json(c.path)}, {"reason", bytes_json(c.reason)}});
  nlohmann::json problems = nlohmann::json::array();
  for (const Problem& problem : change.plan.problems) problems.push_back(bytes_json(problem.message));
  nlohmann::json unplaced_setuid = nlohmann::json::array();
  for (const PrivilegedFile& file : change.unplaced_privileged) unplaced_setuid.push_back(bytes_json(file.path));
  return {{"root", bytes_json(change.root)},
          {"dry_run", dry_run},
          {"created", bytes_json(report.created)},
          {"updated", bytes_json(report.updated)},
          {"removed", bytes_json(change.removed)},
          {"unchanged", report.unchanged},
          {"bytes_copied", report.bytes_copied},
          {"conflicts", conflicts},
          {"vanished", bytes_json(change.vanished)},
          {"pruned", bytes_json(change.pruned)},
          {"problems", problems},
          {"unplaced_setuid", unplaced_setuid}};
}

nlohmann::json placed_entries_json(const RootChange& change) {
  nlohmann::json entries = nlohmann::json::array();
  for (const ManifestEntry& e : change.report.placed)
    entries.push_back({{"path", bytes_json(e.path)},
                       {"type", to_string(e.type)},
                       {"source", bytes_json(e.source)},
                       {"link_target", bytes_json(e.link_target)},
                       {"reasons", reasons_json(e.reasons)}});
  return entries;
}

std::string plan_text(const CopyPlan& plan) {
  std::string out;
  for (const PlannedEntry& e : plan.entries) {
    out += entry_line(e.type, e.path, e.link_target);
    if (!e.reasons.empty()) out += "  [" + describe_reason(e.reasons.front()) + "]";
    out += "\n";
  }
  return out;
}

std::string sync_plan_text(const RootChange& change) {
  std::string out;
  for (const std::string& path : change.report.created) out += "create " + path + "\n";
  for (const std::string& path : change.report.updated) out += "update " + path + "\n";
  for (const std::string& path : change.removed) out += "remove " + path + "\n";
  return out;
}

std::string removed_text(const RootChange& change, bool dry_run) {
  std::string out;
  for (const std::string& path : change.removed) out += (dry_run ? "would remove " : "removed ") + path + "\n";
  return out;
}

void log_undone(const RootChange& change) {
  for (const Problem& problem : change.plan.problems) log_problem(problem);
  for (const Conflict& conflict : change.report.conflicts)
    spdlog::error("conflict: {}: {}; left alone", conflict.path, conflict.reason);
  for (const Conflict& kept : change.kept) spdlog::error("kept {}: {}", kept.path, kept.reason);
  for (const std::string& added : change.vanished)
    spdlog::error("{}: gone from the host; its files stay in the root (sync --prune removes them)", added);
  for (const std::string& removed : change.report.privileges_removed) spdlog::warn("{}", removed);
  // A warning, not a failure (the exit status stays): the file is not jailbuild's to remove, and
  // one an administrator put there on purpose would otherwise fail every sync.
  for (const PrivilegedFile& file : change.unplaced_privileged) {
    spdlog::warn(
        "{}{}: {} file that jailbuild did not place (mode {:04o}, owner {}:{}); any host user can run it "
        "from there",
        change.root == "/" ? "" : change.root, file.path,
        (file.mode & S_ISUID) ? ((file.mode & S_ISGID) ? "setuid and setgid" : "setuid") : "setgid", file.mode & 07777,
        file.uid, file.gid);
  }
}

void log_details(const RootChange& change, bool dry_run) {
  const char* would = dry_run ? "would be " : "";
  if (change.proven_unchanged) {
    spdlog::debug(
        "{}: the watch list proved that nothing changed on the host or in the root since the last run; "
        "no file was read",
        change.root);
  } else {
    spdlog::debug("{}: {} entries planned, {} more host paths looked up, {} unchanged", change.root,
                  change.plan.entries.size(), change.plan.looked_up.size(), change.report.unchanged);
  }
  for (const std::string& path : change.report.created) spdlog::debug("{}{}: {}created", change.root, path, would);
  for (const std::string& path : change.report.updated) spdlog::debug("{}{}: {}updated", change.root, path, would);
  for (const std::string& path : change.removed) spdlog::debug("{}{}: {}removed", change.root, path, would);
  for (const PlannedEntry& entry : change.plan.entries) {
    spdlog::trace("planned {}{}", entry_line(entry.type, entry.path, entry.link_target),
                  entry.reasons.empty() ? "" : "  [" + describe_reason(entry.reasons.front()) + "]");
  }
  for (const std::string& path : change.plan.looked_up) spdlog::trace("the plan depends on host path {}", path);
}

void log_pruned(const RootChange& change, bool dry_run) {
  for (const std::string& added : change.pruned) spdlog::warn("{} {}", dry_run ? "would prune" : "pruned", added);
}

void print_summary(const RootChange& change, bool dry_run) {
  if (spdlog::get_level() > spdlog::level::warn) return;
  const WriteReport& report = change.report;
  std::fprintf(stderr, "%s%s: %zu created, %zu updated, %zu removed, %zu unchanged, %llu bytes copied\n",
               dry_run ? "dry run: " : "", change.root.c_str(), report.created.size(), report.updated.size(),
               change.removed.size(), report.unchanged, static_cast<unsigned long long>(report.bytes_copied));
}

void log_error(const Error& error) { spdlog::error("{}", error.message); }

nlohmann::json failed_root_json(const std::string& root, const Error& error) {
  return {{"root", bytes_json(root)}, {"error", bytes_json(error.message)}};
}

namespace {

// What one runtime rule brought into a root, from the manifest's reasons: an entry is the rule's
// when one of its reasons was added by it ("rule tz", to_string of its RuleRequirement). An entry
// two rules bring (or a rule and an added path) counts fully in each: `entries` and `bytes` are
// what the rule needs; `own_entries` and `own_bytes` count only the entries nothing else needs,
// what `--without RULE` would take out of the root. Bytes are those of regular files (the copies'
// sizes); directories and symlinks count as entries only.
struct RuleSize {
  std::string name;
  std::size_t entries = 0;
  std::uint64_t bytes = 0;
  std::size_t own_entries = 0;
  std::uint64_t own_bytes = 0;
};

// One per rule the manifest's intent turns on, in the catalogue's order.
std::vector<RuleSize> rule_sizes(const Manifest& manifest) {
  std::vector<RuleSize> sizes;
  for (const std::string& name : enabled_rules(manifest.intent.options)) {
    const std::string added = to_string(Requirement{RuleRequirement{name}});
    RuleSize size{name};
    for (const auto& [path, entry] : manifest.entries) {
      const auto is_rules = [&](const Reason& reason) { return reason.added == added; };
      if (std::none_of(entry.reasons.begin(), entry.reasons.end(), is_rules)) continue;
      const std::uint64_t bytes = entry.type == EntryType::File ? entry.copy_identity.size : 0;
      ++size.entries;
      size.bytes += bytes;
      if (std::all_of(entry.reasons.begin(), entry.reasons.end(), is_rules)) {
        ++size.own_entries;
        size.own_bytes += bytes;
      }
    }
    sizes.push_back(std::move(size));
  }
  return sizes;
}

}  // namespace

std::string with_commas(std::uint64_t number) {
  const std::string digits = std::to_string(number);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string size_text(std::uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KB", "MB", "GB", "TB"};
  if (bytes < 1000) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

nlohmann::json list_json(const Manifest& manifest) {
  nlohmann::json document = nlohmann::json::parse(manifest_json_text(manifest));
  nlohmann::json sizes = nlohmann::json::array();
  for (const RuleSize& size : rule_sizes(manifest)) {
    sizes.push_back({{"rule", bytes_json(size.name)},
                     {"entries", size.entries},
                     {"bytes", size.bytes},
                     {"own_entries", size.own_entries},
                     {"own_bytes", size.own_bytes}});
  }
  document["rule_sizes"] = std::move(sizes);
  return document;
}

std::string manifest_text(const Manifest& manifest) {
  // The requirements in one line each (a path requirement is its path), as the entries' reasons
  // name them.
  std::string out = "added:\n";
  for (const Requirement& requirement : manifest.intent.requirements) out += "  " + to_string(requirement) + "\n";
  // The runtime rules turned on or off by name, when any was (add --with, --without).
  const auto rule_names = [&](const char* title, const std::vector<std::string>& names) {
    if (names.empty()) return;
    out += title;
    for (std::size_t i = 0; i < names.size(); ++i) out += (i == 0 ? " " : ", ") + names[i];
    out += "\n";
  };
  rule_names("rules turned on:", manifest.intent.options.rules_with);
  rule_names("rules turned off:", manifest.intent.options.rules_without);
  rule_names("users (add --user):", manifest.intent.options.users);
  // What each rule that is on brought, and how much of it only that rule needs; a rule whose
  // trigger did not hold brought nothing and has no line (`--json` lists it with zeros).
  std::vector<RuleSize> sizes = rule_sizes(manifest);
  std::erase_if(sizes, [](const RuleSize& size) { return size.entries == 0; });
  if (!sizes.empty()) out += "rules:\n";
  for (const RuleSize& size : sizes) {
    out += "  rule " + size.name + ": " + with_commas(size.entries) + (size.entries == 1 ? " entry, " : " entries, ") +
           size_text(size.bytes);
    if (size.own_bytes != size.bytes) out += " (" + size_text(size.own_bytes) + " needed by nothing else)";
    out += "\n";
  }
  out += "entries:\n";
  for (const auto& [path, entry] : manifest.entries) {
    out += "  " + entry_line(entry.type, path, entry.link_target) + "\n";
    for (const Reason& reason : entry.reasons) out += "      " + describe_reason(reason) + "\n";
  }
  return out;
}

std::string rules_text(const std::vector<RuleInfo>& rules) {
  std::string out;
  for (const RuleInfo& rule : rules) {
    out += rule.name + (rule.on_by_default ? " (on by default)" : " (off by default: add --with " + rule.name + ")") +
           "\n";
    out += "    when:  " + rule.trigger + "\n";
    out += "    adds:  " + rule.adds + "\n";
    out += "    size:  " + rule.size_note + "\n";
  }
  return out;
}

nlohmann::json rules_json(const std::vector<RuleInfo>& rules) {
  nlohmann::json list = nlohmann::json::array();
  for (const RuleInfo& rule : rules) {
    list.push_back({{"name", bytes_json(rule.name)},
                    {"on_by_default", rule.on_by_default},
                    {"trigger", bytes_json(rule.trigger)},
                    {"adds", bytes_json(rule.adds)},
                    {"size", bytes_json(rule.size_note)}});
  }
  return {{"rules", std::move(list)}};
}

void print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void print(const nlohmann::json& document) { print(json_text(document) + "\n"); }

}  // namespace jailbuild::cli
