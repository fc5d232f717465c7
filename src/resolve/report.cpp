#include "jailbuild/report.hpp"

#include <unordered_set>

#include <nlohmann/json.hpp>

#include "../util/json_bytes.hpp"

namespace jailbuild {
namespace {

std::string absolute_path(const std::string& path, const std::string& cwd) {
  if (!path.empty() && path.front() == '/') return path;
  return cwd + (!cwd.empty() && cwd.back() == '/' ? "" : "/") + path;
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
    const std::string reason =
        dep.reuse == Reuse::None ? found_reason(map_, target) : reuse_reason(map_, dep);
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

}  // namespace

std::vector<std::string> closure_files(const std::vector<Closure>& closures, const std::string& cwd) {
  std::vector<std::string> files;
  std::unordered_set<std::string> seen;
  auto add = [&](const std::string& path) {
    std::string absolute = absolute_path(path, cwd);
    if (seen.insert(absolute).second) files.push_back(std::move(absolute));
  };
  for (const Closure& closure : closures) {
    for (const std::string& script : closure.scripts) add(script);
    for (const LinkMap& map : closure.programs)
      for (const LoadedObject& obj : map.objects) add(obj.path);
  }
  return files;
}

std::string found_reason(const LinkMap& map, const LoadedObject& object) {
  switch (object.found_by) {
    case FoundBy::Rpath: return "rpath of " + map.objects[object.rpath_owner.value_or(0)].path;
    case FoundBy::Runpath: return "runpath of " + map.objects[object.loader.value_or(0)].path;
    case FoundBy::Path: return "path given in DT_NEEDED";
    default: return to_string(object.found_by);
  }
}

std::string render_tree(const Closure& closure) {
  std::string out;
  for (const std::string& script : closure.scripts) out += script + " [script]\n";
  for (const LinkMap& map : closure.programs) {
    const LoadedObject& program = map.objects.front();
    out += program.path + (map.static_program ? " [static]" : "") + "\n";
    if (map.interpreter) {
      out += "├── " + map.objects[*map.interpreter].path + " [interpreter]\n";
    }
    TreePrinter(map).print(0, "", out);
  }
  return out;
}

std::string closures_json(const std::vector<Closure>& closures) {
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
  return json_text(document);
}

}  // namespace jailbuild
