#include "util/paths.hpp"

#include <filesystem>

namespace jailbuild {

std::string join_path(std::string_view directory, std::string_view name) {
  std::string joined(directory);
  if (!joined.ends_with('/')) joined += '/';
  joined += name;
  return joined;
}

std::string absolute_path(const std::string& path, std::string_view directory) {
  if (path.starts_with('/')) return path;
  return join_path(directory, path);
}

std::string lexically_normal(const std::string& path) {
  std::string normal = std::filesystem::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string parent_directory(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string base_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace jailbuild
