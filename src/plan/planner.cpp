#include "planner.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "elf/elf.hpp"
#include "resolve/ld_cache.hpp"
#include "resolve/root_view.hpp"
#include "util/dir_stream.hpp"
#include "util/files.hpp"
#include "util/io.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {
namespace {

// One file the planner met, as its providers see it: where it is and its first bytes.
struct HostFile {
  std::string path;  // absolute inside the root, no symlink on the way (a planned entry)
  struct stat st {};
  std::string head;  // up to the first 18 bytes of a regular file: enough for `#!` and ELF's e_type
};

// Every read of the host the planner makes besides the resolver's, in one place, so that what a
// plan depends on is known without any provider saying so: each path looked up is recorded
// (dropped at the end if it was planned, since the watch list then follows its entry), and each
// directory listed or file read for its contents is recorded for good.
class HostReader {
 public:
  explicit HostReader(RootView view) : view_(std::move(view)) {}

  const RootView& view() const { return view_; }

  Result<std::vector<PathStep>> walk(const std::string& path) {
    looked_up_.insert(path);
    return view_.walk(path);
  }

  // What `path` (a symlink-free path inside the root) is; its first bytes when a regular file.
  Result<HostFile> stat(const std::string& path) {
    looked_up_.insert(path);
    HostFile file;
    file.path = path;
    const std::string host_path = view_.host_path(path);
    if (::lstat(host_path.c_str(), &file.st) != 0) return system_error(path, errno);
    if (S_ISREG(file.st.st_mode)) {
      const UniqueFd fd(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
      if (fd.valid()) {
        char head[18];
        const ssize_t n = read_full(fd.get(), head);
        if (n > 0) file.head.assign(head, static_cast<std::size_t>(n));
      }
    }
    return file;
  }

  // The text of the symlink `path` (a symlink-free path inside the root); nullopt if it is not one.
  std::optional<std::string> read_link(const std::string& path) {
    looked_up_.insert(path);
    char target[PATH_MAX];
    const ssize_t n = ::readlink(view_.host_path(path).c_str(), target, sizeof target);
    if (n < 0) return std::nullopt;
    return std::string(target, static_cast<std::size_t>(n));
  }

  // A path the plan depends on although nothing was found there (a dangling symlink's target):
  // should something appear, the plan changes.
  void depends_on_missing(const std::string& path) { looked_up_.insert(path); }

  // The names in directory `dir`, sorted so that every run plans the same.
  Result<std::vector<std::string>> list(const std::string& dir) {
    depends_on_.insert(dir);  // its entries are read: the plan depends on them
    DirStream stream = TRY(DirStream::open(view_.host_path(dir), dir));
    std::vector<std::string> names = TRY(stream.names());
    std::sort(names.begin(), names.end());
    return names;
  }

  // The contents of `path`; nullopt when it cannot be read (a missing file is no error here).
  std::optional<elf::MappedFile> map(const std::string& path) {
    depends_on_.insert(path);
    auto mapped = elf::MappedFile::open(view_.host_path(path));
    if (!mapped) return std::nullopt;
    return std::move(*mapped);
  }

  // The text of the regular file `path` (a symlink-free path inside the root), not following a
  // symlink there; nullopt when there is none or it cannot be read.
  std::optional<std::string> read_text(const std::string& path) {
    depends_on_.insert(path);
    const std::string host_path = view_.host_path(path);
    struct stat st {};
    if (::lstat(host_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    // Configuration files, read whole: 16 MiB is far beyond any a rule reads.
    auto text = read_file(host_path, 16u << 20, "a runtime rule");
    if (!text || !*text) return std::nullopt;
    return std::move(**text);
  }

  // Everything read, minus the paths `planned` says are watched through their entries.
  template <typename Planned>
  std::set<std::string> dependencies(std::vector<std::string> resolver_lookups, const Planned& planned) const {
    std::set<std::string> out = depends_on_;
    for (const std::string& path : looked_up_)
      if (!planned(path)) out.insert(path);
    for (std::string& path : resolver_lookups)
      if (!planned(path)) out.insert(std::move(path));
    return out;
  }

 private:
  RootView view_;
  std::set<std::string> looked_up_;
  std::set<std::string> depends_on_;
};

}  // namespace

namespace {

// What becomes of a symlink that leads nowhere (a missing target, a loop).
enum class Dangling {
  IsAProblem,    // a path given to add, or needed: it cannot be provided
  CopiedAsItIs,  // found inside an added directory: copied as the symlink, with a warning
};

// What a file provider may ask of the planner.
class PlanBuilder {
 public:
  virtual ~PlanBuilder() = default;
  // The closure of a program, library or script (once per file).
  virtual void place_closure(const std::string& added, const std::string& file) = 0;
  // Everything in a directory, each with what it needs.
  virtual void add_directory(const std::string& added, const std::string& dir) = 0;
};

// What a file found on the way needs besides itself. The first provider that claims a file
// provides for it; the order is the list's in Planner::Impl.
class FileProvider {
 public:
  virtual ~FileProvider() = default;
  virtual const char* name() const = 0;
  virtual bool claims(const HostFile& file, bool descend) const = 0;
  virtual void provide(PlanBuilder& planner, const std::string& added, const HostFile& file) const = 0;
};

// Whether the head of a file is an ELF program or shared object: what the loader can load.
// Relocatable objects, core files and other ELF types are plain files.
bool is_loadable_elf(const std::string& head) {
  const std::optional<elf::Ident> ident = elf::decode_ident(std::as_bytes(std::span(head.data(), head.size())));
  if (head.size() < 18 || !ident) return false;
  const auto byte = [&](std::size_t i) { return unsigned{static_cast<unsigned char>(head[i])}; };
  const unsigned type = ident->data == elf::kDataMsb ? (byte(16) << 8 | byte(17)) : (byte(17) << 8 | byte(16));
  return type == elf::kTypeExec || type == elf::kTypeDyn;
}

class ElfClosureProvider final : public FileProvider {
 public:
  const char* name() const override { return "ELF closure"; }
  bool claims(const HostFile& file, bool) const override {
    return S_ISREG(file.st.st_mode) && is_loadable_elf(file.head);
  }
  void provide(PlanBuilder& planner, const std::string& added, const HostFile& file) const override;
};

class ScriptProvider final : public FileProvider {
 public:
  const char* name() const override { return "#! script"; }
  bool claims(const HostFile& file, bool) const override {
    return S_ISREG(file.st.st_mode) && file.head.starts_with("#!");
  }
  void provide(PlanBuilder& planner, const std::string& added, const HostFile& file) const override;
};

// An added directory and its real subdirectories, never a directory reached through a symlink.
class DirectoryProvider final : public FileProvider {
 public:
  const char* name() const override { return "directory"; }
  bool claims(const HostFile& file, bool descend) const override { return S_ISDIR(file.st.st_mode) && descend; }
  void provide(PlanBuilder& planner, const std::string& added, const HostFile& file) const override;
};

// Anything else (a plain file, a directory not descended into): placed, nothing more needed.
class PlainFileProvider final : public FileProvider {
 public:
  const char* name() const override { return "plain file"; }
  bool claims(const HostFile&, bool) const override { return true; }
  void provide(PlanBuilder&, const std::string&, const HostFile&) const override {}
};

}  // namespace

struct Planner::Impl final : PlanBuilder {
  Impl(PlanOptions opts, RootView view, Resolver resolver_)
      : options(std::move(opts)),
        progress(Progress::or_none(options.progress)),
        host(std::move(view)),
        resolver(std::move(resolver_)) {}

  PlanOptions options;
  Progress& progress;
  HostReader host;
  Resolver resolver;
  CopyPlan plan;
  std::unordered_map<std::string, std::size_t> index;  // entry path -> position in plan.entries
  std::unordered_set<std::string> resolved;            // files whose closure is already planned
  std::unordered_set<std::string> placed;              // host paths whose every step is an entry
  std::vector<LinkMap> programs;                       // the link map of every program planned
  std::vector<Requirement> deferred;                   // dlopens and rules, planned by finish()

  const ElfClosureProvider elf_provider;
  const ScriptProvider script_provider;
  const DirectoryProvider directory_provider;
  const PlainFileProvider plain_provider;
  const std::vector<const FileProvider*> file_providers = {&directory_provider, &elf_provider, &script_provider,
                                                           &plain_provider};

  std::string absolute(const std::string& path) const { return absolute_path(path, options.resolver.cwd); }

  PlannedEntry& entry(const std::string& path, EntryType type) {
    auto [it, inserted] = index.try_emplace(path, plan.entries.size());
    if (inserted) {
      PlannedEntry fresh;
      fresh.path = path;
      fresh.type = type;
      fresh.source = path;
      plan.entries.push_back(std::move(fresh));
      progress.advance(1, 0);
    }
    return plan.entries[it->second];
  }

  static void add_reason(PlannedEntry& entry, Reason reason) {
    if (std::find(entry.reasons.begin(), entry.reasons.end(), reason) == entry.reasons.end())
      entry.reasons.push_back(std::move(reason));
  }

  // Plans `path` exactly as the host has it: each directory on the way, each symlink followed
  // (recreated as the same symlink), and the object it finally names. Returns that object.
  // A path that leads nowhere is a problem, unless `dangling` says to copy a symlink that does as
  // it is (one found inside an added directory: data like any other).
  std::optional<HostFile> place(const std::string& path, const Reason& why, Dangling dangling = Dangling::IsAProblem) {
    auto steps = host.walk(path);
    if (!steps) {
      if (dangling == Dangling::CopiedAsItIs && place_dangling_symlink(path, why, steps.error())) return std::nullopt;
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
          auto file = host.stat(step.path);
          if (!file) {
            plan.problems.push_back({ProblemKind::Unreadable, path, std::nullopt, file.error().message});
            return std::nullopt;
          }
          // Inside an added directory, what a root cannot hold is passed over with a warning.
          const mode_t mode = file->st.st_mode;
          const bool device = S_ISCHR(mode) || S_ISBLK(mode);
          if (S_ISFIFO(mode) || S_ISSOCK(mode) || (device && !options.allow_devices)) {
            plan.problems.push_back(
                {ProblemKind::Skipped, path, std::nullopt, path + ": not copied (a FIFO, socket or device node)"});
            return std::nullopt;
          }
          PlannedEntry& planned = entry(step.path, S_ISDIR(mode) ? EntryType::Directory : EntryType::File);
          add_reason(planned, why);
          if (S_ISREG(mode) && planned.source_size == 0 && file->st.st_size > 0) {
            planned.source_size = static_cast<std::uint64_t>(file->st.st_size);
            progress.advance(0, planned.source_size);
          }
          placed.insert(path);
          return std::move(*file);
        }
      }
    }
    return std::nullopt;
  }

  // `path` (symlink-free up to its last component), which cannot be walked, as the symlink it is,
  // with a warning; false if it is not a symlink. Nothing it points to is planned, and the missing
  // target is watched: once it appears, `sync` plans it.
  bool place_dangling_symlink(const std::string& path, const Reason& why, const Error& walk_error) {
    std::optional<std::string> target = host.read_link(path);
    if (!target) return false;
    host.depends_on_missing(target->starts_with('/') ? *target : parent_directory(path) + "/" + *target);
    PlannedEntry& link = entry(path, EntryType::Symlink);
    link.link_target = *target;
    add_reason(link, why);
    placed.insert(path);
    std::string reason = walk_error.message;
    if (reason.starts_with(path + ": ")) reason.erase(0, path.size() + 2);
    // Skipped: a warning, not a failure. Its name is the entry, so that a later run that finds the
    // link already placed does not say it again (see converge in src/jail/jail.cpp).
    plan.problems.push_back(
        {ProblemKind::Skipped, path, std::nullopt,
         path + " -> " + *target + ": dangling symlink, its target is missing (" + reason + "); copied as it is"});
    return true;
  }

  // Plans `path` and what it needs, as the first provider that claims it says. `descend`: the
  // contents of a directory too (the added directory and its real subdirectories).
  void add_path(const std::string& added, const std::string& path, const Reason& why, bool descend,
                Dangling dangling = Dangling::IsAProblem) {
    const auto file = place(path, why, dangling);
    if (!file) return;
    for (const FileProvider* provider : file_providers) {
      if (!provider->claims(*file, descend)) continue;
      if (provider != &plain_provider) spdlog::debug("{}: {} provider", file->path, provider->name());
      provider->provide(*this, added, *file);
      return;
    }
  }

  // Places what one link map loads, each object with the reason it was loaded.
  void place_link_map(const std::string& added, const LinkMap& map, const std::string& program_rule) {
    for (const LoadedObject& object : map.objects) {
      const std::string needed_by = object.loader ? absolute(map.objects[*object.loader].path) : "";
      const std::string rule = object.found_by == FoundBy::Program ? program_rule : loader_rule(map, object);
      place(absolute(object.path), {added, needed_by, rule});
    }
  }

  // Plans the closure of `file`. For a file found inside an added directory, a script whose
  // interpreter is missing is only a warning: the script is copied, it is just not runnable.
  void place_closure(const std::string& added, const std::string& file) override {
    if (!resolved.insert(file).second) return;
    Closure closure = resolver.resolve(file);
    for (Problem problem : closure.problems) {
      if (file != added) {
        // About the script, which is copied: named by its path, so that the warning says which
        // file, and a later run that finds it placed says it only with -v (quiet_repeated_warnings).
        problem.kind = ProblemKind::Skipped;
        if (problem.message.find(file) == std::string::npos) problem.message += " (interpreter of " + file + ")";
        problem.message += " (in " + added + "; copied without its interpreter)";
        problem.name = file;
        problem.needed_by.reset();
      }
      plan.problems.push_back(std::move(problem));
    }
    for (std::size_t i = 0; i < closure.scripts.size(); ++i) {
      const std::string needed_by = i == 0 ? "" : closure.scripts[i - 1];
      place(closure.scripts[i], {added, needed_by, i == 0 ? "added" : "#! interpreter"});
    }
    for (LinkMap& map : closure.programs) {
      for (const Problem& problem : map.problems) plan.problems.push_back(problem);
      place_link_map(added, map, closure.scripts.empty() ? "added" : "#! interpreter");
      programs.push_back(std::move(map));
    }
  }

  void add_directory(const std::string& added, const std::string& dir) override {
    auto names = host.list(dir);
    if (!names) {
      plan.problems.push_back({ProblemKind::Unreadable, dir, std::nullopt, names.error().message});
      return;
    }
    for (const std::string& name : *names) {
      const std::string child = join_path(dir, name);
      auto file = host.stat(child);
      if (!file) continue;  // gone meanwhile
      add_path(added, child, {added, "", "inside " + added}, S_ISDIR(file->st.st_mode), Dangling::CopiedAsItIs);
    }
  }

  // --- the requirements' providers ----------------------------------------------------------

  void provide(const PathRequirement& requirement) {
    const std::string added = absolute(requirement.path);
    add_path(added, added, {added, "", "added"}, true);
  }

  void provide(const TracedRequirement& requirement) {
    const std::string path = absolute(requirement.path);
    const std::string added = to_string(Requirement{requirement});
    add_path(added, path, {added, "", "opened by `" + requirement.command + "`"}, false);
  }

  void provide(const GeneratedRequirement& requirement) { generate(requirement, ""); }

  // `added`: the requirement the file is recorded for ("rule users"), empty for jailbuild's own
  // (the loader cache).
  void generate(const GeneratedRequirement& requirement, const std::string& added) {
    place(parent_directory(requirement.path), {added, "", requirement.why});
    PlannedEntry& generated = entry(requirement.path, EntryType::File);
    generated.type = EntryType::File;
    generated.source.clear();
    generated.link_target.clear();
    generated.content = requirement.content;
    generated.source_size = 0;
    generated.mode = requirement.mode;
    add_reason(generated, {added, "", requirement.why});
  }

  // The link maps of planned programs that hold `from`, extended by the dlopen; when none holds
  // it, the closure of `from` itself (a library resolved as the loader resolves it for ldd).
  void provide(const DlopenRequirement& requirement) { dlopen(requirement, to_string(Requirement{requirement}), ""); }

  // The index of the object `from` (absolute) in `map`, by its path or its real path.
  std::optional<std::size_t> index_in(const LinkMap& map, const std::string& from) {
    const auto canonical = host.view().canonical(from);
    for (std::size_t i = 0; i < map.objects.size(); ++i) {
      const LoadedObject& object = map.objects[i];
      if (absolute(object.path) == from || (canonical && object.real_path == *canonical)) return i;
    }
    return std::nullopt;
  }

  // Whether dlopen(name) from `from` would load: tried on a copy of the first link map holding it.
  bool dlopen_finds(const std::string& from_path, const std::string& name) {
    const std::string from = absolute(from_path);
    for (const LinkMap& map : programs) {
      const auto caller = index_in(map, from);
      if (!caller) continue;
      LinkMap trial = map;
      const Dependency& request = trial.dependencies[resolver.dlopen(trial, *caller, name)];
      return request.to.has_value() && trial.problems.size() == map.problems.size();
    }
    return false;
  }

  // `added`: the requirement the entries are recorded for; `why`: what asked for the dlopen, put
  // before the loader's rule in each new object's reason (a rule's trigger), or empty.
  void dlopen(const DlopenRequirement& requirement, const std::string& added, const std::string& why) {
    const std::string from = absolute(requirement.from);
    const auto holds_from = [&](const LinkMap& map) { return index_in(map, from); };
    if (std::none_of(programs.begin(), programs.end(),
                     [&](const LinkMap& map) { return holds_from(map).has_value(); })) {
      add_path(added, from, {added, "", "calls dlopen(" + requirement.name + ")"}, false);
    }
    for (LinkMap& map : programs) {
      const auto caller = holds_from(map);
      if (!caller) continue;
      const std::size_t objects_before = map.objects.size();
      const std::size_t problems_before = map.problems.size();
      resolver.dlopen(map, *caller, requirement.name);
      for (std::size_t i = problems_before; i < map.problems.size(); ++i) plan.problems.push_back(map.problems[i]);
      for (std::size_t i = objects_before; i < map.objects.size(); ++i) {
        const LoadedObject& object = map.objects[i];
        const std::string needed_by = object.loader ? absolute(map.objects[*object.loader].path) : "";
        std::string rule = object.dlopened ? "dlopen(" + requirement.name + "), " + loader_rule(map, object)
                                           : loader_rule(map, object);
        if (!why.empty()) rule = why + "; " + rule;
        place(absolute(object.path), {added, needed_by, rule});
      }
    }
  }

  void provide(const RuleRequirement& requirement) {
    const auto rule = std::find_if(options.rules.begin(), options.rules.end(),
                                   [&](const Rule& r) { return r.name == requirement.name; });
    if (rule == options.rules.end()) {
      plan.problems.push_back(
          {ProblemKind::Unreadable, requirement.name, std::nullopt, "no rule named " + requirement.name});
      return;
    }
    const std::string added = to_string(Requirement{requirement});
    const RuleInput input{
        programs, host.view(), [this](const std::string& path) { return static_cast<bool>(host.stat(path)); },
        [this](const std::string& path) { return host.read_text(path); },
        [this](const std::string& dir) {
          auto names = host.list(dir);
          return names ? std::move(*names) : std::vector<std::string>{};
        },
        [this](const std::string& from, const std::string& name) { return dlopen_finds(from, name); }};
    for (const RuleAddition& addition : rule->expand(input)) {
      const Requirement& needed = addition.requirement;
      // What `list` shows: the rule and the trigger that held ("rule tz: /usr/bin/date imports tzset").
      const std::string why = addition.why.empty() ? added : added + ": " + addition.why;
      spdlog::debug("{}: {}", why, to_string(needed));
      if (std::holds_alternative<RuleRequirement>(needed)) {
        plan.problems.push_back({ProblemKind::Unreadable, requirement.name, std::nullopt,
                                 "rule " + requirement.name + " asks for another rule, " + to_string(needed)});
      } else if (const auto* path = std::get_if<PathRequirement>(&needed)) {
        add_path(added, absolute(path->path), {added, "", why}, true);
      } else if (const auto* dlopened = std::get_if<DlopenRequirement>(&needed)) {
        // At once, not deferred: finish() is already planning the deferred requirements.
        dlopen(*dlopened, added, why);
      } else if (const auto* generated = std::get_if<GeneratedRequirement>(&needed)) {
        GeneratedRequirement with_reason = *generated;
        if (with_reason.why.empty()) with_reason.why = why;
        generate(with_reason, added);
      } else {
        add(needed);
      }
    }
  }

  void add(const Requirement& requirement) {
    spdlog::debug("requirement: {}", to_string(requirement));
    if (std::holds_alternative<DlopenRequirement>(requirement) ||
        std::holds_alternative<RuleRequirement>(requirement)) {
      deferred.push_back(requirement);  // they depend on the closures planned
      return;
    }
    std::visit([&](const auto& typed) { provide(typed); }, requirement);
  }

  // --- generators: files written from what the plan holds --------------------------------------

  // The root's own loader cache, for each cache the resolved programs' loaders read: the host
  // cache's entries whose every step (the value path with its symlinks) the root holds, so that the
  // loader in the root finds what the host's finds; and beside it an ld.so.conf naming their
  // directories that are not the loader's system directories, for ldconfig run in the root.
  void plan_loader_cache() {
    std::map<std::string, std::vector<std::string>> system_dirs_by_cache;  // cache path -> system dirs
    for (const LoaderConfig& config : resolver.loader_configs()) {
      auto& dirs = system_dirs_by_cache[config.cache_path];
      dirs.insert(dirs.end(), config.system_dirs.begin(), config.system_dirs.end());
    }
    std::unordered_set<std::string> planned_names;
    for (const PlannedEntry& e : plan.entries)
      if (e.type != EntryType::Directory) planned_names.insert(base_name(e.path));
    for (const auto& [cache_path, system_dirs] : system_dirs_by_cache)
      plan_loader_cache(cache_path, system_dirs, planned_names);
  }

  void plan_loader_cache(const std::string& cache_path, const std::vector<std::string>& system_dirs,
                         const std::unordered_set<std::string>& planned_names) {
    auto mapped = host.map(cache_path);
    if (!mapped) return;
    auto host_cache = LdCache::parse(mapped->bytes());
    if (!host_cache) return;
    std::vector<CacheEntry> kept;
    std::vector<std::string> conf_dirs;
    for (const CacheEntry& cached : host_cache->entries()) {
      if (!planned_names.count(base_name(cached.value)) || !holds(cached.value)) continue;
      kept.push_back(cached);
      const std::string dir = parent_directory(cached.value);
      const bool system_dir = std::find(system_dirs.begin(), system_dirs.end(), dir + "/") != system_dirs.end();
      if (!system_dir && std::find(conf_dirs.begin(), conf_dirs.end(), dir) == conf_dirs.end())
        conf_dirs.push_back(dir);
    }
    if (kept.empty()) return;
    const std::string why = "the root's own loader cache";
    spdlog::debug("{}: generated, {} entries of the host's", cache_path, kept.size());
    provide(GeneratedRequirement{cache_path, write_ld_cache(std::move(kept), "jailbuild"), 0644, why});
    // ldconfig reads its configuration beside the cache it writes (both under its sysconfdir).
    std::string conf = "# Written by jailbuild: the directories of the libraries this root holds.\n";
    for (const std::string& dir : conf_dirs) conf += dir + "\n";
    provide(GeneratedRequirement{parent_directory(cache_path) + "/ld.so.conf", std::move(conf), 0644, why});
  }

  // True if every step of `path` on the host is planned as the same kind of entry.
  bool holds(const std::string& path) {
    auto steps = host.walk(path);
    if (!steps) return false;
    return std::all_of(steps->begin(), steps->end(), [&](const PathStep& step) {
      auto it = index.find(step.path);
      if (it == index.end()) return false;
      const EntryType type = plan.entries[it->second].type;
      return step.kind == PathStep::Kind::Symlink ? type == EntryType::Symlink : type != EntryType::Symlink;
    });
  }

  CopyPlan finish() {
    for (const Requirement& requirement : std::exchange(deferred, {}))
      std::visit([&](const auto& typed) { provide(typed); }, requirement);
    if (options.generate_loader_cache) plan_loader_cache();
    // A path planned with every step on its way, or planned itself from its host source, is
    // watched through those entries.
    const std::set<std::string> dependencies = host.dependencies(resolver.looked_up(), [&](const std::string& path) {
      if (placed.count(path)) return true;
      const auto it = index.find(path);
      return it != index.end() && plan.entries[it->second].source == path;
    });
    plan.looked_up.assign(dependencies.begin(), dependencies.end());
    return std::move(plan);
  }
};

namespace {

void ElfClosureProvider::provide(PlanBuilder& planner, const std::string& added, const HostFile& file) const {
  planner.place_closure(added, file.path);
}

void ScriptProvider::provide(PlanBuilder& planner, const std::string& added, const HostFile& file) const {
  planner.place_closure(added, file.path);
}

void DirectoryProvider::provide(PlanBuilder& planner, const std::string& added, const HostFile& file) const {
  planner.add_directory(added, file.path);
}

}  // namespace

Result<Planner> Planner::open(PlanOptions options) {
  RootView host = TRY(RootView::open(options.resolver.root));
  if (options.resolver.cwd.empty()) {
    char buffer[4096];
    options.resolver.cwd = host.is_host_root() && ::getcwd(buffer, sizeof buffer) ? buffer : "/";
  }
  // The rules' triggers are the symbols the closures import: read while each file is mapped for the
  // loader's checks, not by mapping it again.
  if (!options.rules.empty()) options.resolver.read_imports = true;
  Resolver resolver = TRY(Resolver::open(options.resolver));
  return Planner(std::make_unique<Impl>(std::move(options), std::move(host), std::move(resolver)));
}

Planner::Planner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Planner::~Planner() = default;
Planner::Planner(Planner&&) noexcept = default;
Planner& Planner::operator=(Planner&&) noexcept = default;

void Planner::add(const Requirement& requirement) { impl_->add(requirement); }

CopyPlan Planner::finish() { return impl_->finish(); }

}  // namespace jailbuild
