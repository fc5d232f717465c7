#include "root_view.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/open_beneath.hpp"
#include "util/system_error.hpp"

namespace jailbuild {
namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's limit before ELOOP

std::vector<std::string> split_components(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.emplace_back(path, start, end - start);
    start = end + 1;
  }
  return parts;
}

}  // namespace

Result<RootView> RootView::open(const std::string& root) {
  std::string normalized = root.empty() ? "/" : root;
  while (normalized.size() > 1 && normalized.back() == '/') normalized.pop_back();
  UniqueFd fd(::open(normalized.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return system_error(normalized + ": cannot open root", errno);
  return RootView(std::move(fd), normalized);
}

int RootView::open_read(const std::string& path) const {
  const char* relative = path.c_str();
  while (*relative == '/') ++relative;
  if (*relative == '\0') relative = ".";
  return openat2_retrying(root_fd_.get(), relative, O_RDONLY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

Result<std::vector<PathStep>> RootView::walk(const std::string& path) const {
  std::vector<std::string> pending = split_components(path);
  std::reverse(pending.begin(), pending.end());  // a stack: the next component at the back
  std::vector<std::string> resolved;             // components of the symlink-free path so far
  std::vector<PathStep> steps;
  int symlinks = 0;
  auto joined = [&resolved] {
    std::string out;
    for (const auto& part : resolved) out += "/" + part;
    return out;
  };
  std::string current;  // joined(), kept in step with `resolved`
  while (!pending.empty()) {
    std::string part = std::move(pending.back());
    pending.pop_back();
    if (part == ".") continue;
    if (part == "..") {
      if (!resolved.empty()) resolved.pop_back();
      current = joined();
      continue;
    }
    const std::string candidate = current + "/" + part;
    char target[PATH_MAX];
    // `candidate` has no symlink before its last component, so readlinkat follows nothing.
    const ssize_t n = ::readlinkat(root_fd_.get(), candidate.c_str() + 1, target, sizeof target);
    if (n < 0) {
      if (errno != EINVAL) {
        const std::string where = candidate == path ? path : path + ": " + candidate;
        return system_error(where, errno);
      }
      resolved.push_back(std::move(part));
      current = candidate;
      if (!pending.empty()) steps.push_back({candidate, PathStep::Kind::Directory, {}});
      continue;
    }
    if (++symlinks > kMaxSymlinks) return system_error(path, ELOOP);
    std::string link(target, static_cast<std::size_t>(n));
    steps.push_back({candidate, PathStep::Kind::Symlink, link});
    if (!link.empty() && link.front() == '/') {
      resolved.clear();
      current.clear();
    }
    std::vector<std::string> link_parts = split_components(link);
    pending.insert(pending.end(), link_parts.rbegin(), link_parts.rend());
  }
  steps.push_back({current.empty() ? "/" : current, PathStep::Kind::Final, {}});
  return steps;
}

Result<std::string> RootView::canonical(const std::string& path) const {
  auto steps = walk(path);
  if (!steps) return steps.error();
  return std::move(steps->back().path);
}

std::string RootView::host_path(const std::string& path) const {
  if (is_host_root()) return path;
  return root_ + (path.empty() || path.front() != '/' ? "/" : "") + path;
}

}  // namespace jailbuild
