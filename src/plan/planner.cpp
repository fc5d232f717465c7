#include "jailbuild/plan.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailbuild/elf.hpp"
#include "jailbuild/ld_cache.hpp"
#include "jailbuild/report.hpp"
#include "jailbuild/root_view.hpp"

namespace jailbuild {
namespace {

constexpr const char* kRootCachePath = "/etc/ld.so.cache";
constexpr const char* kRootConfPath = "/etc/ld.so.conf";

std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Whether the host file is something the resolver follows: an ELF program or shared object, or a
// `#!` script. Relocatable objects, core files and other ELF types are plain files.
bool is_program_or_library(const std::string& host_path) {
  const int fd = ::open(host_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return false;
  unsigned char head[18] = {};
  const ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  if (n >= 2 && head[0] == '#' && head[1] == '!') return true;
  if (n < static_cast<ssize_t>(sizeof head) || std::memcmp(head, "\x7f" "ELF", 4) != 0) return false;
  const unsigned type = head[5] == elf::kDataMsb ? (head[16] << 8 | head[17]) : (head[17] << 8 | head[16]);
  return type == elf::kTypeExec || type == elf::kTypeDyn;
}

}  // namespace

struct Planner::Impl {
  Impl(PlanOptions opts, RootView view, Resolver resolver_)
      : options(std::move(opts)), host(std::move(view)), resolver(std::move(resolver_)) {}

  PlanOptions options;
  RootView host;
  Resolver resolver;
  CopyPlan plan;
  std::unordered_map<std::string, std::size_t> index;  // entry path -> position in plan.entries
  std::unordered_set<std::string> resolved;            // files whose closure is already planned
  std::set<std::string> looked_up;                     // host paths looked up that are not planned
  std::unordered_set<std::string> placed;              // host paths whose every step is an entry

  std::string absolute(const std::string& path) const {
    if (!path.empty() && path.front() == '/') return path;
    return options.resolver.cwd + "/" + path;
  }

  PlannedEntry& entry(const std::string& path, EntryType type) {
    auto [it, inserted] = index.try_emplace(path, plan.entries.size());
    if (inserted) {
      PlannedEntry fresh;
      fresh.path = path;
      fresh.type = type;
      fresh.source = path;
      plan.entries.push_back(std::move(fresh));
    }
    return plan.entries[it->second];
  }

  static void add_reason(PlannedEntry& entry, Reason reason) {
    if (std::find(entry.reasons.begin(), entry.reasons.end(), reason) == entry.reasons.end())
      entry.reasons.push_back(std::move(reason));
  }

  // Plans `path` exactly as the host has it: each directory on the way, each symlink followed
  // (recreated as the same symlink), and the object it finally names. Returns that object's path.
  std::optional<std::string> place(const std::string& path, const Reason& why) {
    auto steps = host.walk(path);
    if (!steps) {
      looked_up.insert(path);
      plan.problems.push_back({ProblemKind::Unreadable, path, std::nullopt, steps.error().message});
      return std::nullopt;
    }
    for (const PathStep& step : *steps) {
      switch (step.kind) {
        case PathStep::Kind::Directory:
          add_reason(entry(step.path, EntryType::Directory), {why.added, "", "directory on the way"});
          break;
        case PathStep::Kind::Symlink: {
          PlannedEntry& link = entry(step.path, EntryType::Symlink);
          link.link_target = step.link_target;
          add_reason(link, {why.added, why.needed_by, "symlink on the way to " + path});
          break;
        }
        case PathStep::Kind::Final: {
          if (step.path == "/") break;
          struct stat st {};
          const std::string host_path = host.host_path(step.path);
          if (::lstat(host_path.c_str(), &st) != 0) {
            plan.problems.push_back({ProblemKind::Unreadable, path, std::nullopt, path + ": " + std::strerror(errno)});
            return std::nullopt;
          }
          // Inside an added directory, what a root cannot hold is passed over with a warning.
          const bool device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
          if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (device && !options.allow_devices)) {
            plan.problems.push_back({ProblemKind::Skipped, path, std::nullopt,
                                     path + ": not copied (a FIFO, socket or device node)"});
            return std::nullopt;
          }
          add_reason(entry(step.path, S_ISDIR(st.st_mode) ? EntryType::Directory : EntryType::File), why);
          placed.insert(path);
          return step.path;
        }
      }
    }
    return std::nullopt;
  }

  // Plans the closure of `file`. For a file found inside an added directory, a script whose
  // interpreter is missing is only a warning: the script is copied, it is just not runnable.
  void place_closure(const std::string& added, const std::string& file) {
    const Closure closure = resolver.resolve(file);
    for (Problem problem : closure.problems) {
      if (file != added) {
        problem.kind = ProblemKind::Skipped;
        problem.message += " (in " + added + "; copied without its interpreter)";
      }
      plan.problems.push_back(std::move(problem));
    }
    for (std::size_t i = 0; i < closure.scripts.size(); ++i) {
      const std::string needed_by = i == 0 ? "" : closure.scripts[i - 1];
      place(closure.scripts[i], {added, needed_by, i == 0 ? "added" : "#! interpreter"});
    }
    for (const LinkMap& map : closure.programs) {
      for (const Problem& problem : map.problems) plan.problems.push_back(problem);
      for (const LoadedObject& object : map.objects) {
        const std::string needed_by = object.loader ? absolute(map.objects[*object.loader].path) : "";
        const std::string rule = object.found_by == FoundBy::Program
                                     ? (closure.scripts.empty() ? "added" : "#! interpreter")
                                     : found_reason(map, object);
        place(absolute(object.path), {added, needed_by, rule});
      }
    }
  }

  void add_directory(const std::string& added, const std::string& dir) {
    looked_up.insert(dir);  // its entries are read: the plan depends on them
    const std::string host_dir = host.host_path(dir);
    DIR* stream = ::opendir(host_dir.c_str());
    if (!stream) {
      plan.problems.push_back({ProblemKind::Unreadable, dir, std::nullopt, dir + ": " + std::strerror(errno)});
      return;
    }
    std::vector<std::string> names;
    while (const dirent* d = ::readdir(stream)) {
      const std::string name = d->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(stream);
    std::sort(names.begin(), names.end());  // the same plan on every run
    for (const std::string& name : names) {
      const std::string child = dir == "/" ? "/" + name : dir + "/" + name;
      struct stat st {};
      if (::lstat(host.host_path(child).c_str(), &st) != 0) continue;  // gone meanwhile
      add_path(added, child, {added, "", "inside " + added}, S_ISDIR(st.st_mode));
    }
  }

  // Plans `path` and what it needs: the closure of a program, library or script, and the contents
  // of a directory when `descend` (the added directory and its real subdirectories, never a
  // directory reached through a symlink).
  void add_path(const std::string& added, const std::string& path, const Reason& why, bool descend) {
    const auto final_path = place(path, why);
    if (!final_path) return;
    const std::string host_path = host.host_path(*final_path);
    struct stat st {};
    if (::lstat(host_path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode) && descend) {
      add_directory(added, *final_path);
    } else if (S_ISREG(st.st_mode) && is_program_or_library(host_path) && resolved.insert(*final_path).second) {
      place_closure(added, *final_path);
    }
  }

  void add(const std::string& path) {
    const std::string added = absolute(path);
    add_path(added, added, {added, "", "added"}, true);
  }

  // The root's own loader cache: the host cache's entries whose every step (the value path with
  // its symlinks) the root holds, so that the loader in the root finds what the host's finds.
  void plan_loader_cache() {
    looked_up.insert(kRootCachePath);
    auto mapped = elf::MappedFile::open(host.host_path(kRootCachePath));
    if (!mapped) return;
    auto host_cache = LdCache::parse(mapped->bytes());
    if (!host_cache) return;
    std::unordered_set<std::string> planned_names;
    for (const PlannedEntry& e : plan.entries)
      if (e.type != EntryType::Directory) planned_names.insert(basename_of(e.path));
    std::vector<CacheEntry> kept;
    std::vector<std::string> conf_dirs;
    const std::vector<std::string> system_dirs = default_loader_config().system_dirs;
    for (const CacheEntry& cached : host_cache->entries()) {
      if (!planned_names.count(basename_of(cached.value)) || !holds(cached.value)) continue;
      kept.push_back(cached);
      const std::string dir = cached.value.substr(0, cached.value.rfind('/'));
      const bool system_dir = std::find(system_dirs.begin(), system_dirs.end(), dir + "/") != system_dirs.end();
      if (!system_dir && std::find(conf_dirs.begin(), conf_dirs.end(), dir) == conf_dirs.end())
        conf_dirs.push_back(dir);
    }
    if (kept.empty()) return;
    const Reason why{"", "", "the root's own loader cache"};
    place("/etc", why);
    PlannedEntry& cache = entry(kRootCachePath, EntryType::File);
    cache.source.clear();
    cache.content = write_ld_cache(std::move(kept), "jailbuild");
    cache.mode = 0644;
    add_reason(cache, why);
    std::string conf = "# Written by jailbuild: the directories of the libraries this root holds.\n";
    for (const std::string& dir : conf_dirs) conf += dir + "\n";
    PlannedEntry& conf_entry = entry(kRootConfPath, EntryType::File);
    conf_entry.source.clear();
    conf_entry.content = std::move(conf);
    conf_entry.mode = 0644;
    add_reason(conf_entry, why);
  }

  // True if every step of `path` on the host is planned as the same kind of entry.
  bool holds(const std::string& path) {
    if (!placed.count(path)) looked_up.insert(path);
    auto steps = host.walk(path);
    if (!steps) return false;
    return std::all_of(steps->begin(), steps->end(), [&](const PathStep& step) {
      auto it = index.find(step.path);
      if (it == index.end()) return false;
      const EntryType type = plan.entries[it->second].type;
      return step.kind == PathStep::Kind::Symlink ? type == EntryType::Symlink : type != EntryType::Symlink;
    });
  }
};

Result<Planner> Planner::open(PlanOptions options) {
  RootView host = TRY(RootView::open(options.resolver.root));
  if (options.resolver.cwd.empty()) {
    char buffer[4096];
    options.resolver.cwd = host.is_host_root() && ::getcwd(buffer, sizeof buffer) ? buffer : "/";
  }
  Resolver resolver = TRY(Resolver::open(options.resolver));
  return Planner(std::make_unique<Impl>(std::move(options), std::move(host), std::move(resolver)));
}

Planner::Planner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Planner::~Planner() = default;
Planner::Planner(Planner&&) noexcept = default;
Planner& Planner::operator=(Planner&&) noexcept = default;

void Planner::add(const std::string& path) { impl_->add(path); }

CopyPlan Planner::finish() {
  if (impl_->options.generate_loader_cache) impl_->plan_loader_cache();
  // A path planned with every step on its way is watched through those entries.
  for (std::string& path : impl_->resolver.looked_up())
    if (!impl_->placed.count(path)) impl_->looked_up.insert(std::move(path));
  impl_->plan.looked_up.assign(impl_->looked_up.begin(), impl_->looked_up.end());
  return std::move(impl_->plan);
}

}  // namespace jailbuild
