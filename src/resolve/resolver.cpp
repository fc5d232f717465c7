#include "jailbuild/resolver.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "file_probe.hpp"
#include "ld_cache.hpp"
#include "root_view.hpp"
#include "search_path.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {

const char* to_string(FoundBy found_by) {
  switch (found_by) {
    case FoundBy::Program: return "program";
    case FoundBy::Interpreter: return "interpreter";
    case FoundBy::Preload: return "preload";
    case FoundBy::Path: return "path";
    case FoundBy::Rpath: return "rpath";
    case FoundBy::LdLibraryPath: return "LD_LIBRARY_PATH";
    case FoundBy::Runpath: return "runpath";
    case FoundBy::Cache: return "ld.so.cache";
    case FoundBy::SystemDir: return "system dir";
  }
  return "?";
}

const char* to_string(Reuse reuse) {
  switch (reuse) {
    case Reuse::None: return "loaded";
    case Reuse::Name: return "name";
    case Reuse::Soname: return "soname";
    case Reuse::Inode: return "inode";
    case Reuse::Vdso: return "vdso";
  }
  return "?";
}

bool Closure::complete() const {
  if (!problems.empty()) return false;
  return std::all_of(programs.begin(), programs.end(), [](const LinkMap& map) {
    return std::none_of(map.problems.begin(), map.problems.end(),
                        [](const Problem& p) { return p.kind != ProblemKind::Skipped; });
  });
}

namespace {

constexpr int kMaxScriptDepth = 4;  // the kernel's BINPRM_MAX_RECURSION

std::string vdso_name(const LoaderConfig& config) {
  return config.machine == elf::kMachineX86 ? "linux-gate.so.1" : "linux-vdso.so.1";
}

std::string dirname_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Splits on any of `separators`, dropping empty pieces.
std::vector<std::string> split_words(std::string_view text, std::string_view separators) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find_first_of(separators, start), text.size());
    if (end > start) words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// x86's check of each object of the main link map but ld.so, the program included, once all are
// loaded (sysdeps/x86/dl-prop.h); trace mode (ldd) skips it, a real run does not. nullptr if it passes.
const char* isa_level_refusal(const elf::ElfObject& object, const LoaderConfig& config) {
  const bool x86 = config.machine == elf::kMachineX86_64 || config.machine == elf::kMachineX86;
  if (x86 && (object.x86_isa_needed & config.isa_level_mask) != object.x86_isa_needed)
    return "CPU ISA level is lower than required";
  return nullptr;
}

// What _dl_map_object_from_fd refuses after a file was chosen, and then the ISA level; nullptr if it loads.
const char* refusal_to_load(const elf::ElfObject& object, const LoaderConfig& config) {
  if (object.header.type == elf::kTypeExec) return "cannot dynamically load executable";
  if (object.flags_1 & elf::kDf1Pie) return "cannot dynamically load position-independent executable";
  if (!object.has_dynamic) return "object file has no dynamic section";
  return isa_level_refusal(object, config);
}

// One candidate search: where the name was found, or why not.
struct SearchResult {
  enum class Status { Found, NotFound, Fatal } status = Status::NotFound;
  std::string path;  // the loader's realname for the file found (or the fatal candidate)
  FoundBy found_by = FoundBy::SystemDir;
  std::optional<std::size_t> rpath_owner;
  std::string message;  // for Fatal
};

}  // namespace

namespace {

// What every link map of one Resolver shares: the root, every file read, caches, loader parameters.
struct ResolveSession {
  ResolveSession(ResolverOptions opts, RootView view)
      : options(std::move(opts)), root(std::move(view)), probes(root, options.read_imports) {}

  ResolverOptions options;
  RootView root;
  FileProbes probes;
  std::map<std::string, LoaderConfig> loader_configs;  // by canonical loader path ("" = default)
  std::unordered_map<std::string, LdCache> caches;     // by cache path
  bool used_given_config = false;                      // options.loader_config served a link map

  // Absolute form of a path the loader or kernel would open, relative ones against the cwd.
  std::string absolute(const std::string& path) const { return absolute_path(path, options.cwd); }

  const LoaderConfig& loader_config_for(const std::optional<std::string>& interpreter, const elf::ElfHeader& header);
  const LdCache& cache_for(const LoaderConfig& config);
  void resolve_program(const std::string& path, LinkMap& map);
  std::size_t dlopen(LinkMap& map, std::size_t from, const std::string& name);
};

}  // namespace

const LoaderConfig& ResolveSession::loader_config_for(const std::optional<std::string>& interpreter,
                                                      const elf::ElfHeader& header) {
  if (options.loader_config) {
    used_given_config = true;
    return *options.loader_config;
  }
  LoaderConfig defaults = default_loader_config(header.elf_class, header.machine);
  const std::string loader_path = interpreter ? absolute(*interpreter) : defaults.rtld_path;
  const auto& canonical = probes.canonical(loader_path);
  const std::string key = canonical ? *canonical : std::string();
  if (auto it = loader_configs.find(key); it != loader_configs.end()) return it->second;
  // The root's loader is asked only when the root is the host: running a binary from a jail that
  // may have been tampered with would run the jail's code outside it. Another root gets the
  // host's loader at the same path if that one is byte-identical, else built-in defaults.
  LoaderConfig config = defaults;
  if (canonical) {
    std::string host_loader = *canonical;
    bool trusted = root.is_host_root();
    if (!trusted) {
      const Probe& in_root = probes.probe(*canonical);
      auto host_file = elf::MappedFile::open(host_loader);
      auto jail_file = elf::MappedFile::open(root.host_path(*canonical));
      trusted = in_root.data && host_file && jail_file &&
                std::equal(host_file->bytes().begin(), host_file->bytes().end(), jail_file->bytes().begin(),
                           jail_file->bytes().end());
    }
    if (trusted) {
      if (auto queried = query_loader(host_loader, defaults)) config = std::move(*queried);
    }
  }
  return loader_configs.emplace(key, std::move(config)).first->second;
}

const LdCache& ResolveSession::cache_for(const LoaderConfig& config) {
  if (auto it = caches.find(config.cache_path); it != caches.end()) return it->second;
  LdCache cache;  // missing, empty or invalid: no cache, as for the loader
  const Probe& probe = probes.probe(config.cache_path);
  if (probe.data && probe.open_error == 0) {
    const UniqueFd fd(root.open_read(config.cache_path));
    if (fd.valid()) {
      if (auto mapped = elf::MappedFile::from_fd(fd.get(), config.cache_path)) {
        if (auto parsed = LdCache::parse(mapped->bytes())) cache = std::move(*parsed);
      }
    }
  }
  return caches.emplace(config.cache_path, std::move(cache)).first->second;
}

namespace {

// Builds the link map of one exec'd program: the loader's _dl_map_object_deps over
// _dl_map_object, without mapping anything.
class LinkMapBuilder {
 public:
  // `map` is empty (run) or one this session built (open_from).
  LinkMapBuilder(ResolveSession& impl, LinkMap& map, const LoaderConfig& config, const LdCache& cache)
      : impl_(impl),
        map_(map),
        config_(config),
        cache_(cache),
        subdirs_(config.search_subdirs()),
        lists_(map.objects.size()) {}

  void run(const std::string& program_path, const std::string& program_real_path,
           std::shared_ptr<const elf::ElfObject> program);
  // dlopen(NAME) from object `from`; returns the request's index in map.dependencies.
  std::size_t open_from(std::size_t from, const std::string& name);

 private:
  struct SearchLists {
    std::optional<std::vector<std::string>> rpath;  // used only when the object has no runpath
    std::optional<std::vector<std::string>> runpath;
  };

  LoadedObject& object(std::size_t index) { return map_.objects[index]; }
  DstValues dst_values(std::size_t index);
  const std::vector<std::string>& rpath_dirs(std::size_t index);
  const std::vector<std::string>& runpath_dirs(std::size_t index);

  void add_interpreter(const std::string& interp);
  void add_preloads();
  // Loads the DT_NEEDED entries of every object from `first` on, appending as it goes: the
  // loader's breadth-first queue.
  void load_needs_from(std::size_t first);
  enum class Request { Needed, Preload, Dlopen };
  void load_needed(std::size_t from, const std::string& name, Request request);
  void satisfy(Dependency& dep, Request request);
  std::optional<std::pair<std::size_t, Reuse>> find_loaded(const std::string& name);
  SearchResult search(std::size_t loader, const std::string& name);
  SearchContext search_context(std::size_t loader);
  SearchResult run_step(const SearchStep& step, const std::string& name, std::size_t loader, bool& other_class);
  // Verifies one candidate; on a skip, stores the errno the loader is left with in `skip_error`.
  SearchResult try_candidate(const std::string& path, FoundBy by, bool& other_class, int* skip_error = nullptr);
  SearchResult search_dirs(const std::vector<std::string>& dirs, const std::string& name, FoundBy by,
                           bool& other_class);
  bool directory_exists(const std::string& dir);  // as the loader's stat of a search directory
  void report(ProblemKind kind, const std::string& name, std::size_t needed_by, std::string message);

  ResolveSession& impl_;
  LinkMap& map_;
  const LoaderConfig& config_;
  const LdCache& cache_;
  const std::vector<std::string> subdirs_;  // glibc-hwcaps and legacy prefixes tried in every directory
  std::vector<SearchLists> lists_;          // parallel to map_.objects
  std::optional<std::vector<std::string>> ld_library_path_;
};

DstValues LinkMapBuilder::dst_values(std::size_t index) {
  DstValues values{std::nullopt, config_.lib, config_.platform};
  const LoadedObject& obj = object(index);
  // The program's $ORIGIN is the kernel's canonical path of the executable (/proc/self/exe);
  // a library's is the string it was opened as, with no symlink resolved (docs/loader-rules.md#origin).
  values.origin = obj.found_by == FoundBy::Program ? dirname_of(obj.real_path) : origin_of(obj.path, impl_.options.cwd);
  return values;
}

const std::vector<std::string>& LinkMapBuilder::rpath_dirs(std::size_t index) {
  auto& cached = lists_[index].rpath;
  if (!cached) {
    const auto& elf = object(index).elf;
    cached.emplace();
    if (elf && elf->rpath && !elf->runpath)
      *cached = parse_search_path(*elf->rpath, PathListKind::DynamicTag, dst_values(index));
  }
  return *cached;
}

const std::vector<std::string>& LinkMapBuilder::runpath_dirs(std::size_t index) {
  auto& cached = lists_[index].runpath;
  if (!cached) {
    const auto& elf = object(index).elf;
    cached.emplace();
    if (elf && elf->runpath) *cached = parse_search_path(*elf->runpath, PathListKind::DynamicTag, dst_values(index));
  }
  return *cached;
}

void LinkMapBuilder::report(ProblemKind kind, const std::string& name, std::size_t needed_by, std::string message) {
  map_.problems.push_back({kind, name, needed_by, std::move(message)});
}

void LinkMapBuilder::run(const std::string& program_path, const std::string& program_real_path,
                         std::shared_ptr<const elf::ElfObject> program) {
  LoadedObject main;
  main.path = program_path;
  main.real_path = program_real_path;
  main.found_by = FoundBy::Program;
  main.elf = program;
  map_.objects.push_back(std::move(main));
  lists_.emplace_back();

  if (program->interpreter) add_interpreter(*program->interpreter);
  if (!program->has_dynamic || (!program->interpreter && program->header.type == elf::kTypeExec)) {
    map_.static_program = true;
    return;
  }
  if (program->interpreter && program->needed.empty()) map_.static_program = true;
  if (const char* refusal = isa_level_refusal(*program, config_))
    report(ProblemKind::Fatal, program_path, 0, program_path + ": " + refusal);
  if (impl_.options.ld_library_path)
    ld_library_path_ = parse_search_path(*impl_.options.ld_library_path, PathListKind::LdLibraryPath, dst_values(0));
  add_preloads();
  load_needs_from(0);
}

void LinkMapBuilder::load_needs_from(std::size_t first) {
  // Breadth-first: objects are appended in load order, which is the loader's queue order.
  for (std::size_t i = first; i < map_.objects.size(); ++i) {
    if (object(i).found_by == FoundBy::Interpreter) continue;  // ld.so's needs are its own
    const auto elf = object(i).elf;
    for (const std::string& needed : elf->needed) load_needed(i, needed, Request::Needed);
  }
}

std::size_t LinkMapBuilder::open_from(std::size_t from, const std::string& name) {
  if (impl_.options.ld_library_path)
    ld_library_path_ = parse_search_path(*impl_.options.ld_library_path, PathListKind::LdLibraryPath, dst_values(0));
  const std::size_t first_new = map_.objects.size();
  load_needed(from, name, Request::Dlopen);
  const std::size_t request = map_.dependencies.size() - 1;
  const Dependency& dep = map_.dependencies[request];
  if (dep.to && *dep.to >= first_new) object(*dep.to).dlopened = true;
  load_needs_from(first_new);
  return request;
}

void LinkMapBuilder::add_interpreter(const std::string& interp) {
  LoadedObject ld;
  ld.path = interp;
  ld.names = {interp};
  ld.found_by = FoundBy::Interpreter;
  ld.loader = 0;
  const std::string absolute = impl_.absolute(interp);
  const Probe& probe = impl_.probes.probe(absolute);
  if (probe.open_error != 0 || !probe.data || !probe.data->elf) {
    const std::string why = probe.open_error ? errno_text(probe.open_error)
                            : probe.data     ? probe.data->elf_error
                                             : "unreadable";
    report(ProblemKind::NotFound, interp, 0, interp + ": cannot open program interpreter: " + why);
    return;
  }
  const auto& canonical = impl_.probes.canonical(absolute);
  ld.real_path = canonical ? *canonical : absolute;
  ld.elf = probe.data->elf;
  ld.dev = probe.dev;
  ld.ino = probe.ino;
  map_.interpreter = map_.objects.size();
  map_.objects.push_back(std::move(ld));
  lists_.emplace_back();
}

void LinkMapBuilder::add_preloads() {
  std::vector<std::pair<std::string, std::string>> preloads;  // name, where it came from
  if (impl_.options.preload) {
    for (auto& name : split_words(*impl_.options.preload, " :")) preloads.emplace_back(name, "LD_PRELOAD");
  }
  if (impl_.options.read_preload_file) {
    (void)impl_.probes.probe(config_.preload_path);  // a lookup like the others (looked_up())
    const UniqueFd fd(impl_.root.open_read(config_.preload_path));
    if (fd.valid()) {
      if (auto mapped = elf::MappedFile::from_fd(fd.get(), config_.preload_path)) {
        const auto bytes = mapped->bytes();
        std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        std::string without_comments;
        for (const auto& line : split_words(text, "\n")) without_comments += line.substr(0, line.find('#')) + "\n";
        for (auto& name : split_words(without_comments, " \t\n:")) preloads.emplace_back(name, config_.preload_path);
      }
    }
  }
  for (const auto& [name, origin] : preloads) {
    const std::size_t before = map_.problems.size();
    load_needed(0, name, Request::Preload);
    // The loader reports a failed preload and carries on without it.
    for (std::size_t i = before; i < map_.problems.size(); ++i) {
      Problem& problem = map_.problems[i];
      problem.kind = ProblemKind::Skipped;
      problem.message =
          "object '" + name + "' from " + origin + " cannot be preloaded (" + problem.message + "): ignored";
    }
  }
}

std::optional<std::pair<std::size_t, Reuse>> LinkMapBuilder::find_loaded(const std::string& name) {
  for (std::size_t i = 0; i < map_.objects.size(); ++i) {
    LoadedObject& obj = object(i);
    // The program is known by no name (the kernel exec'd it); everything else by its path and
    // every name it was requested by.
    const bool named = obj.found_by != FoundBy::Program &&
                       (obj.path == name || std::find(obj.names.begin(), obj.names.end(), name) != obj.names.end());
    if (named) return std::pair{i, Reuse::Name};
    if (obj.elf && obj.elf->soname && *obj.elf->soname == name) {
      obj.names.push_back(name);
      return std::pair{i, Reuse::Soname};
    }
  }
  return std::nullopt;
}

void LinkMapBuilder::load_needed(std::size_t from, const std::string& written, Request request) {
  Dependency dep;
  dep.from = from;
  dep.name = written;
  dep.dlopen = request == Request::Dlopen;
  const std::size_t problems_before = map_.problems.size();
  satisfy(dep, request);
  if (map_.problems.size() > problems_before) dep.problem = problems_before;
  map_.dependencies.push_back(std::move(dep));
}

void LinkMapBuilder::satisfy(Dependency& dep, Request request) {
  const std::size_t from = dep.from;
  std::string name = dep.name;
  // DT_NEEDED names are always expanded; preload and dlopen names only when they contain a '/'.
  if (request == Request::Needed || name.find('/') != std::string::npos) {
    auto expanded = expand_dst(name, dst_values(from));
    if (!expanded || expanded->empty()) {
      report(ProblemKind::Skipped, name, from,
             "cannot load auxiliary '" + name + "' because of empty dynamic string token substitution");
      return;
    }
    name = std::move(*expanded);
  }
  if (name == vdso_name(config_)) {
    dep.reuse = Reuse::Vdso;
    return;
  }
  // A library resolved as the program has no PT_INTERP; ld.so is still there, known by its own
  // name and soname, and joins the map when something asks for it.
  if (!map_.interpreter && (name == config_.rtld_soname || name == config_.rtld_path))
    add_interpreter(config_.rtld_path);
  if (auto found = find_loaded(name)) {
    std::tie(dep.to, dep.reuse) = *found;
    return;
  }
  const SearchResult result = search(from, name);
  const std::string& needer = object(from).path;
  if (result.status == SearchResult::Status::NotFound) {
    report(ProblemKind::NotFound, name, from,
           result.message.empty() ? name + ": not found (needed by " + needer + ")" : result.message);
    return;
  }
  if (result.status == SearchResult::Status::Fatal) {
    report(ProblemKind::Fatal, name, from,
           result.path + ": " + result.message + " (loading " + name + ", needed by " + needer + ")");
    return;
  }
  const Probe& probe = impl_.probes.probe(impl_.absolute(result.path));
  // Same file as an object already loaded under another name: the loader reuses it
  // (docs/loader-rules.md#already-loaded). The program's and ld.so's file identity is never recorded by the
  // loader, so they never match.
  for (std::size_t i = 0; i < map_.objects.size(); ++i) {
    LoadedObject& obj = object(i);
    const bool has_file_id = obj.found_by != FoundBy::Program && obj.found_by != FoundBy::Interpreter;
    if (has_file_id && obj.dev == probe.dev && obj.ino == probe.ino) {
      obj.names.push_back(name);
      dep.to = i;
      dep.reuse = Reuse::Inode;
      return;
    }
  }
  const auto& elf = probe.data->elf;
  if (const char* refusal = refusal_to_load(*elf, config_)) {
    report(ProblemKind::Fatal, name, from, result.path + ": " + refusal + " (needed by " + needer + ")");
    return;
  }
  LoadedObject loaded;
  loaded.path = result.path;
  const auto& canonical = impl_.probes.canonical(impl_.absolute(result.path));
  loaded.real_path = canonical ? *canonical : impl_.absolute(result.path);
  loaded.names = {name};
  loaded.found_by = request == Request::Preload ? FoundBy::Preload : result.found_by;
  loaded.loader = from;
  loaded.rpath_owner = result.rpath_owner;
  loaded.elf = elf;
  loaded.dev = probe.dev;
  loaded.ino = probe.ino;
  dep.to = map_.objects.size();
  map_.objects.push_back(std::move(loaded));
  lists_.emplace_back();
}

bool LinkMapBuilder::directory_exists(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') return true;
  const Probe& probe = impl_.probes.probe(dir.size() > 1 ? dir.substr(0, dir.size() - 1) : dir);
  return probe.open_error == 0 && probe.data->is_directory;
}

SearchResult LinkMapBuilder::search_dirs(const std::vector<std::string>& dirs, const std::string& name, FoundBy by,
                                         bool& other_class) {
  for (const std::string& dir : dirs) {
    int last_error = ENOENT;
    for (const std::string& subdir : subdirs_) {
      SearchResult result = try_candidate(dir + subdir + name, by, other_class, &last_error);
      if (result.status != SearchResult::Status::NotFound) return result;
    }
    // Another error (ELOOP, ENAMETOOLONG, ...) in a directory that exists ends this whole list
    // (open_path). A directory that does not exist, or is not one, is merely skipped; relative
    // directories always count as existing.
    if (last_error != ENOENT && last_error != EACCES && directory_exists(dir)) {
      spdlog::trace("{}: the rest of this search list is skipped after {} ({})", dir, errno_text(last_error),
                    to_string(by));
      break;
    }
  }
  return {};
}

SearchResult LinkMapBuilder::search(std::size_t loader, const std::string& name) {
  bool other_class = false;
  SearchResult result;
  if (name.find('/') != std::string::npos) {
    result = try_candidate(name, FoundBy::Path, other_class);
  } else {
    for (const SearchStep& step : search_steps(search_context(loader))) {
      result = run_step(step, name, loader, other_class);
      if (result.status != SearchResult::Status::NotFound) return result;
    }
  }
  if (result.status == SearchResult::Status::NotFound && other_class)
    result.message = name + ": wrong ELF class: ELFCLASS" + (config_.elf_class == elf::kClass64 ? "32" : "64") +
                     " (needed by " + object(loader).path + ")";
  return result;
}

SearchContext LinkMapBuilder::search_context(std::size_t loader) {
  SearchContext context;
  // The chain follows l_loader, which a dlopen clears on the object it loads.
  for (std::optional<std::size_t> l = loader; l; l = object(*l).dlopened ? std::nullopt : object(*l).loader)
    context.loader_chain.push_back({*l, !rpath_dirs(*l).empty()});
  context.program = 0;
  context.program_has_rpath = !rpath_dirs(0).empty();
  const auto& elf = object(loader).elf;
  context.loader_has_runpath = elf && elf->runpath;
  context.has_ld_library_path = ld_library_path_.has_value();
  context.nodeflib = elf && (elf->flags_1 & elf::kDf1NoDefLib);
  return context;
}

SearchResult LinkMapBuilder::run_step(const SearchStep& step, const std::string& name, std::size_t loader,
                                      bool& other_class) {
  switch (step.source) {
    case SearchSource::Rpath: {
      SearchResult result = search_dirs(rpath_dirs(step.owner), name, FoundBy::Rpath, other_class);
      result.rpath_owner = step.owner;
      return result;
    }
    case SearchSource::LdLibraryPath: return search_dirs(*ld_library_path_, name, FoundBy::LdLibraryPath, other_class);
    case SearchSource::Runpath: return search_dirs(runpath_dirs(step.owner), name, FoundBy::Runpath, other_class);
    case SearchSource::Cache: {
      const auto cached = cache_.lookup(name, config_);
      const auto& elf = object(loader).elf;
      const bool nodeflib = elf && (elf->flags_1 & elf::kDf1NoDefLib);
      if (!cached) return {};
      if (!cache_hit_allowed(*cached, config_.system_dirs, nodeflib)) {
        spdlog::trace("{} (ld.so.cache): skipped: in a system directory and {} has DF_1_NODEFLIB", *cached,
                      object(loader).path);
        return {};
      }
      return try_candidate(*cached, FoundBy::Cache, other_class);
    }
    case SearchSource::SystemDirs: return search_dirs(config_.system_dirs, name, FoundBy::SystemDir, other_class);
  }
  return {};
}

SearchResult LinkMapBuilder::try_candidate(const std::string& path, FoundBy by, bool& other_class, int* skip_error) {
  const Verification verdict = verify_candidate(impl_.probes.probe(impl_.absolute(path)), config_);
  switch (verdict.verdict) {
    case Verdict::Accept: return {SearchResult::Status::Found, path, by, {}, {}};
    case Verdict::Fatal:
      spdlog::trace("{} ({}): refused, the load fails: {}", path, to_string(by), verdict.message);
      return {SearchResult::Status::Fatal, path, by, {}, verdict.message};
    case Verdict::SkipOtherClass: other_class = true; break;
    case Verdict::Skip: break;
  }
  // -vv: each candidate passed over (a missing glibc-hwcaps/ file shows here too, by its path).
  if (spdlog::should_log(spdlog::level::trace))
    spdlog::trace("{} ({}): skipped: {}", path, to_string(by),
                  verdict.skip_reason ? std::string(verdict.skip_reason) : errno_text(verdict.error));
  if (skip_error) *skip_error = verdict.error;
  return {};
}

// The `#!` line of a script: the interpreter and its optional single argument, as the kernel splits it.
std::optional<std::pair<std::string, std::string>> parse_shebang(std::string_view head) {
  if (!head.starts_with("#!")) return std::nullopt;
  const std::string line(
      head.substr(2, head.find('\n') == std::string_view::npos ? std::string_view::npos : head.find('\n') - 2));
  const auto begin = line.find_first_not_of(" \t");
  if (begin == std::string::npos) return std::nullopt;
  const auto end = line.find_first_of(" \t", begin);
  std::string interpreter = line.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  std::string argument;
  if (end != std::string::npos) {
    const auto arg_begin = line.find_first_not_of(" \t", end);
    if (arg_begin != std::string::npos) {
      argument = line.substr(arg_begin);
      // Trailing spaces and tabs only, as the kernel trims: a CRLF script's "\r" stays, and its
      // `env NAME\r` finds nothing (docs/loader-rules.md#scripts).
      argument.erase(argument.find_last_not_of(" \t") + 1);
    }
  }
  return std::pair{std::move(interpreter), std::move(argument)};
}

// GNU env's -S STRING: words split at blanks, '…' taken as is, "…" and the rest with backslash
// escapes (\_ a blank inside a word), `#` at a word's start a comment to the end, \c the end.
// ${NAME} is left as written: the environment it expands in is not the resolver's to know.
std::vector<std::string> env_split_string(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
      if (in_word) words.push_back(std::exchange(word, {}));
      in_word = false;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'') {
      in_word = true;
      const std::size_t close = text.find('\'', i + 1);
      word += text.substr(i + 1, close - i - 1);
      if (close == std::string_view::npos) break;
      i = close;
    } else if (c == '\\' && i + 1 < text.size()) {
      const char escaped = text[++i];
      if (escaped == 'c') break;
      in_word = true;
      word += escaped == '_' ? ' ' : escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped;
    } else if (c != '"') {
      in_word = true;
      word += c;
    } else {
      in_word = true;  // "…": backslash escapes as outside
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        word += text[i];
      }
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// What `#!ENV ARGUMENT` makes GNU env (coreutils 9) run. The kernel passes ARGUMENT as one
// argument: without -S it is one command name, blanks and all (`#!/usr/bin/env python3 -u` runs
// "python3 -u", which PATH never holds); its options are parsed as getopt does ("+C:iS:u:v0", an
// option's value attached or the next word), -S splitting its value into more words to parse;
// after them "-" (= -i) and NAME=VALUE words; the first other word is the command.
struct EnvCommand {
  std::optional<std::string> command;  // nullopt: env runs no command of the line's
  std::string refusal;                 // non-empty: env stops with this error before running anything
};

EnvCommand env_command(const std::string& argument) {
  std::deque<std::string> words;
  if (!argument.empty()) words.push_back(argument);
  auto value_of = [&](std::string attached) -> std::optional<std::string> {
    if (!attached.empty()) return attached;
    if (words.empty()) return std::nullopt;  // the script's path would be the value: no command here
    std::string next = std::move(words.front());
    words.pop_front();
    return next;
  };
  auto split_into_words = [&](const std::string& text) {
    const std::vector<std::string> split = env_split_string(text);
    words.insert(words.begin(), split.begin(), split.end());
  };
  while (!words.empty() && words.front().size() > 1 && words.front().front() == '-') {
    std::string option = std::move(words.front());
    words.pop_front();
    if (option == "--") break;
    if (option.starts_with("--")) {
      const std::size_t equals = option.find('=');
      const std::string name = option.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
      std::string attached = equals == std::string::npos ? "" : option.substr(equals + 1);
      if (name == "unset" || name == "chdir" || name == "split-string") {
        const std::optional<std::string> value = value_of(std::move(attached));
        if (!value) return {};
        if (name == "split-string") split_into_words(*value);
      }
      continue;
    }
    for (std::size_t i = 1; i < option.size(); ++i) {
      const char letter = option[i];
      if (letter == 'i' || letter == 'v' || letter == '0') continue;
      if (letter != 'u' && letter != 'C' && letter != 'S')
        return {std::nullopt, "env: invalid option '" + std::string(1, letter) + "' in \"" + argument +
                                  "\" (a #! line passes one argument: options need -S)"};
      const std::optional<std::string> value = value_of(option.substr(i + 1));
      if (!value) return {};
      if (letter == 'S') split_into_words(*value);
      break;
    }
  }
  if (!words.empty() && words.front() == "-") words.pop_front();
  while (!words.empty() && words.front().find('=') != std::string::npos) words.pop_front();
  if (words.empty()) return {};
  return {std::move(words.front()), {}};
}

}  // namespace

void ResolveSession::resolve_program(const std::string& path, LinkMap& map) {
  const Probe& probe = probes.probe(absolute(path));
  const auto& canonical = probes.canonical(absolute(path));
  const elf::ElfObject& program = *probe.data->elf;
  const LoaderConfig& config = loader_config_for(program.interpreter, program.header);
  LinkMapBuilder builder(*this, map, config, cache_for(config));
  builder.run(absolute(path), canonical ? *canonical : absolute(path), probe.data->elf);
}

std::size_t ResolveSession::dlopen(LinkMap& map, std::size_t from, const std::string& name) {
  if (from >= map.objects.size()) {
    map.problems.push_back({ProblemKind::Unreadable, name, std::nullopt,
                            name + ": dlopen from object " + std::to_string(from) + ", which the link map lacks"});
    map.dependencies.push_back({0, name, std::nullopt, Reuse::None, map.problems.size() - 1, true});
    return map.dependencies.size() - 1;
  }
  const elf::ElfObject& program = *map.objects.front().elf;
  // As LinkMapBuilder::run tells a static program (a library resolved on its own, with no
  // PT_INTERP, gets the default loader like any dynamic object).
  if (!program.has_dynamic || (!program.interpreter && program.header.type == elf::kTypeExec)) {
    // A static program's dlopen is its own libc's, with rules this resolver does not model.
    map.problems.push_back(
        {ProblemKind::Unreadable, name, from,
         name + ": dlopen from a static program (" + map.objects.front().path + ") is not followed"});
    map.dependencies.push_back({from, name, std::nullopt, Reuse::None, map.problems.size() - 1, true});
    return map.dependencies.size() - 1;
  }
  const LoaderConfig& config = loader_config_for(program.interpreter, program.header);
  LinkMapBuilder builder(*this, map, config, cache_for(config));
  return builder.open_from(from, name);
}

struct Resolver::Impl : ResolveSession {
  using ResolveSession::ResolveSession;
};

Result<Resolver> Resolver::open(ResolverOptions options) {
  RootView root = TRY(RootView::open(options.root));
  if (options.cwd.empty()) {
    options.cwd = "/";
    if (root.is_host_root()) {
      char buffer[4096];
      if (::getcwd(buffer, sizeof buffer)) options.cwd = buffer;
    }
  }
  return Resolver(std::make_unique<Impl>(std::move(options), std::move(root)));
}

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Resolver::~Resolver() = default;
Resolver::Resolver(Resolver&&) noexcept = default;
Resolver& Resolver::operator=(Resolver&&) noexcept = default;

std::size_t Resolver::dlopen(LinkMap& map, std::size_t from, const std::string& name) {
  return impl_->dlopen(map, from, name);
}

std::vector<LoaderConfig> Resolver::loader_configs() const {
  std::vector<LoaderConfig> configs;
  if (impl_->options.loader_config) {
    if (impl_->used_given_config) configs.push_back(*impl_->options.loader_config);
    return configs;
  }
  for (const auto& [loader, config] : impl_->loader_configs) configs.push_back(config);
  return configs;
}

std::vector<std::string> Resolver::looked_up() const { return impl_->probes.paths(); }

Closure Resolver::resolve(const std::string& file) {
  Closure closure;
  closure.file = file;
  std::string current = file;
  for (int depth = 0; depth <= kMaxScriptDepth; ++depth) {
    const std::string absolute = impl_->absolute(current);
    const Probe& probe = impl_->probes.probe(absolute);
    auto fail = [&](const std::string& why) {
      closure.problems.push_back({ProblemKind::Unreadable, current, std::nullopt, current + ": " + why});
      return closure;
    };
    if (probe.open_error != 0) return fail(errno_text(probe.open_error));
    if (probe.data->is_directory) return fail("is a directory");
    if (probe.data->elf) {
      const auto type = probe.data->elf->header.type;
      if (type != elf::kTypeExec && type != elf::kTypeDyn)
        return fail("not an executable or shared object (ELF type " + std::to_string(type) + ")");
      closure.programs.emplace_back();
      impl_->resolve_program(current, closure.programs.back());
      return closure;
    }
    auto shebang = parse_shebang(probe.data->script_head);
    if (!shebang) {
      const bool looks_elf = probe.data->size >= 4 && elf::has_magic(std::as_bytes(std::span(probe.data->head)));
      return fail(looks_elf ? probe.data->elf_error : "not an ELF file or a script");
    }
    closure.scripts.push_back(absolute);
    auto [interpreter, argument] = *shebang;
    // `#!/usr/bin/env NAME`: env runs, then looks NAME up in PATH.
    if (interpreter.ends_with("/env") || interpreter == "env") {
      auto [command, refusal] = env_command(argument);
      if (!refusal.empty()) {
        closure.problems.push_back({ProblemKind::Unreadable, absolute, std::nullopt, absolute + ": " + refusal});
        return closure;
      }
      if (command && command->find('/') == std::string::npos) {
        Closure env = resolve(interpreter);
        for (auto& p : env.problems) closure.problems.push_back(std::move(p));
        for (auto& m : env.programs) closure.programs.push_back(std::move(m));
        std::optional<std::string> found;
        for (const std::string& dir : split_words(impl_->options.path, ":")) {
          const std::string candidate = join_path(dir, *command);
          const Probe& p = impl_->probes.probe(impl_->absolute(candidate));
          if (p.open_error == 0 && p.data && !p.data->is_directory) {
            found = candidate;
            break;
          }
        }
        if (!found) {
          closure.problems.push_back({ProblemKind::NotFound, *command, std::nullopt,
                                      *command + ": not found in PATH (interpreter of " + absolute + ")"});
          return closure;
        }
        current = *found;
        continue;
      }
      if (command) interpreter = *command;
    }
    current = interpreter;
  }
  closure.problems.push_back(
      {ProblemKind::Unreadable, file, std::nullopt, file + ": too many levels of #! interpreters"});
  return closure;
}

}  // namespace jailbuild
