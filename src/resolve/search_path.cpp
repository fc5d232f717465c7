#include "search_path.hpp"

#include <algorithm>

namespace jailbuild {
namespace {

enum class Token { None, Origin, Platform, Lib };

struct TokenMatch {
  Token token = Token::None;
  std::size_t length = 0;  // characters after the '$'
};

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// glibc's is_dst: `NAME` not followed by an identifier character, or `{NAME}`.
std::size_t match_name(std::string_view after_dollar, std::string_view name) {
  const bool braced = !after_dollar.empty() && after_dollar.front() == '{';
  std::string_view rest = braced ? after_dollar.substr(1) : after_dollar;
  if (rest.substr(0, name.size()) != name) return 0;
  rest.remove_prefix(name.size());
  if (braced) return !rest.empty() && rest.front() == '}' ? name.size() + 2 : 0;
  return !rest.empty() && is_identifier_char(rest.front()) ? 0 : name.size();
}

TokenMatch match_token(std::string_view after_dollar) {
  if (std::size_t n = match_name(after_dollar, "ORIGIN")) return {Token::Origin, n};
  if (std::size_t n = match_name(after_dollar, "PLATFORM")) return {Token::Platform, n};
  if (std::size_t n = match_name(after_dollar, "LIB")) return {Token::Lib, n};
  return {};
}

const std::optional<std::string>& value_of(Token token, const DstValues& values) {
  static const std::optional<std::string> none;
  switch (token) {
    case Token::Origin: return values.origin;
    case Token::Platform: return values.platform;
    case Token::None:
    case Token::Lib: break;
  }
  return none;
}

// fillin_rpath's treatment of one expanded element: "" stays "" (the current directory),
// otherwise trailing slashes go and exactly one is appended.
std::string as_directory_prefix(std::string dir) {
  if (dir.empty()) return dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.back() != '/') dir.push_back('/');
  return dir;
}

}  // namespace

bool has_dst(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && match_token(s.substr(i + 1)).token != Token::None) return true;
  }
  return false;
}

std::optional<std::string> expand_dst(std::string_view s, const DstValues& values) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '$') {
      out.push_back(s[i++]);
      continue;
    }
    const TokenMatch match = match_token(s.substr(i + 1));
    if (match.token == Token::None) {
      out.push_back(s[i++]);
      continue;
    }
    if (match.token == Token::Lib) {
      out += values.lib;
    } else {
      const auto& value = value_of(match.token, values);
      if (!value) return std::nullopt;
      out += *value;
    }
    i += 1 + match.length;
  }
  return out;
}

std::vector<std::string> parse_search_path(std::string_view list, PathListKind kind, const DstValues& values) {
  std::vector<std::string> dirs;
  if (list.empty()) return dirs;
  std::string_view separators = ":";
  std::string whole;  // LD_LIBRARY_PATH is expanded as a whole before it is split (_dl_init_paths)
  if (kind == PathListKind::LdLibraryPath) {
    separators = ":;";
    // An unknown token empties the whole list, which then reads as one empty element.
    whole = expand_dst(list, values).value_or(std::string());
    list = whole;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t end = list.find_first_of(separators, start);
    const std::string_view element =
        list.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    auto add = [&dirs](std::string prefix) {
      if (std::find(dirs.begin(), dirs.end(), prefix) == dirs.end()) dirs.push_back(std::move(prefix));
    };
    if (element.empty()) {
      add(std::string());
    } else if (auto dir = expand_dst(element, values); dir && !dir->empty()) {
      add(as_directory_prefix(std::move(*dir)));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return dirs;
}

std::string origin_of(std::string_view path, std::string_view cwd) {
  std::string full;
  if (!path.empty() && path.front() == '/') {
    full = path;
  } else {
    full = cwd;
    if (full.empty() || full.back() != '/') full.push_back('/');
    full += path;
  }
  const std::size_t slash = full.rfind('/');
  if (slash == 0) return "/";
  return full.substr(0, slash);
}

std::vector<SearchStep> search_steps(const SearchContext& context) {
  std::vector<SearchStep> steps;
  if (!context.loader_has_runpath) {
    bool visited_program = false;
    for (const auto& link : context.loader_chain) {
      if (!link.has_rpath) continue;
      steps.push_back({SearchSource::Rpath, link.object});
      visited_program |= link.object == context.program;
    }
    if (!visited_program && context.program_has_rpath) steps.push_back({SearchSource::Rpath, context.program});
  }
  if (context.has_ld_library_path) steps.push_back({SearchSource::LdLibraryPath});
  const std::size_t requester = context.loader_chain.empty() ? context.program : context.loader_chain.front().object;
  if (context.loader_has_runpath) steps.push_back({SearchSource::Runpath, requester});
  steps.push_back({SearchSource::Cache});
  if (!context.nodeflib) steps.push_back({SearchSource::SystemDirs});
  return steps;
}

bool cache_hit_allowed(std::string_view path, const std::vector<std::string>& system_dirs, bool nodeflib) {
  if (!nodeflib) return true;
  return std::none_of(system_dirs.begin(), system_dirs.end(),
                      [&](const std::string& dir) { return path.substr(0, dir.size()) == dir; });
}

}  // namespace jailbuild
