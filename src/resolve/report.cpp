#include "jailbuild/report.hpp"

#include <unordered_set>

namespace jailbuild {
namespace {

std::string absolute_path(const std::string& path, const std::string& cwd) {
  if (!path.empty() && path.front() == '/') return path;
  return cwd + (!cwd.empty() && cwd.back() == '/' ? "" : "/") + path;
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

}  // namespace jailbuild
