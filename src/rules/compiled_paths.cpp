#include "compiled_paths.hpp"

#include <algorithm>

namespace jailbuild {
namespace {

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

bool is_plain_absolute_path(std::string_view path) {
  if (path.size() < 2 || path.size() > 4096 || !path.starts_with('/')) return false;
  if (std::any_of(path.begin(), path.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte <= 0x20 || byte >= 0x7f;
      }))
    return false;
  const std::string padded = std::string(path) + "/";
  return padded.find("/./") == std::string::npos && padded.find("/../") == std::string::npos;
}

std::optional<std::string> quoted_path_after(std::span<const std::byte> bytes, std::string_view marker) {
  const std::string_view text = as_text(bytes);
  const std::size_t start = text.find(marker);
  if (start == std::string_view::npos) return std::nullopt;
  const std::size_t value = start + marker.size();
  // The value ends at the closing quote, which must come before the string's NUL.
  const std::size_t end = text.find_first_of(std::string_view("\"\0", 2), value);
  if (end == std::string_view::npos || text[end] != '"') return std::nullopt;
  std::string path(text.substr(value, end - value));
  while (path.size() > 1 && path.ends_with('/')) path.pop_back();
  if (!is_plain_absolute_path(path)) return std::nullopt;
  return path;
}

std::vector<std::string> compiled_paths_containing(std::span<const std::byte> bytes, std::string_view part) {
  const std::string_view text = as_text(bytes);
  std::vector<std::string> paths;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\0', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view string = text.substr(start, end - start);
    start = end + 1;
    if (string.find(part) == std::string_view::npos || !is_plain_absolute_path(string)) continue;
    if (std::find(paths.begin(), paths.end(), string) == paths.end()) paths.emplace_back(string);
  }
  return paths;
}

}  // namespace jailbuild
