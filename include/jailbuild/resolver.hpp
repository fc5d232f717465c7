// The ELF resolver: computes, without executing anything, the set of files the glibc loader
// opens when a program is exec'd, and how it found each one (the rules of docs/loader-rules.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "jailbuild/loader_config.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/types.hpp"

namespace jailbuild {

namespace elf {
struct ElfObject;  // src/elf/elf.hpp: what the stages that read objects include
}  // namespace elf

// How an object came to be in a link map.
enum class FoundBy {
  Program,        // the program being exec'd
  Interpreter,    // its PT_INTERP (or a DT_NEEDED naming the loader)
  Preload,        // from the preload list or /etc/ld.so.preload
  Path,           // a name containing '/', opened as given
  Rpath,          // DT_RPATH of `rpath_owner` (the loader's own or inherited)
  LdLibraryPath,  // the LD_LIBRARY_PATH option
  Runpath,        // DT_RUNPATH of the object that needed it
  Cache,          // ld.so.cache
  SystemDir,      // a system (default) directory
};

const char* to_string(FoundBy found_by);

struct LoadedObject {
  std::string path;                // the loader's name for it (l_name): the exact string it opens
  std::string real_path;           // the same file with every symlink resolved, inside the root
  std::vector<std::string> names;  // every name it was requested by, and its soname once matched
  FoundBy found_by = FoundBy::Program;
  std::optional<std::size_t> loader;       // index of the object whose request first loaded it
  std::optional<std::size_t> rpath_owner;  // for FoundBy::Rpath: whose DT_RPATH
  // Loaded by a dlopen (`loader` is then the caller): the loader clears its l_loader, so the
  // RPATH chain of its own needs stops at it (docs/loader-rules.md#search-order).
  bool dlopened = false;
  std::shared_ptr<const elf::ElfObject> elf;
  dev_t dev = 0;
  ino_t ino = 0;
};

// How one DT_NEEDED entry (or preload) was satisfied.
enum class Reuse {
  None,    // newly loaded: `to` is the object it loaded
  Name,    // an object already loaded under this name (its path or an earlier request)
  Soname,  // an object already loaded whose DT_SONAME is this name
  Inode,   // the search found a file that is already loaded under another name
  Vdso,    // linux-vdso.so.1: satisfied by the kernel, no file
};

const char* to_string(Reuse reuse);

struct Dependency {
  std::size_t from = 0;           // the object holding the DT_NEEDED (the program for preloads)
  std::string name;               // as written in DT_NEEDED (or the preload list)
  std::optional<std::size_t> to;  // nullopt: vDSO, not found, skipped or failed
  Reuse reuse = Reuse::None;
  std::optional<std::size_t> problem;  // index in LinkMap::problems when it was not satisfied
  bool dlopen = false;                 // a dlopen(name) called from `from`, not a DT_NEEDED
};

// The objects one exec'd ELF program loads, in load order: [0] is the program, then (if it is
// dynamically linked) the preloads and its dependencies breadth-first. The interpreter is an
// object too, found by FoundBy::Interpreter.
struct LinkMap {
  std::vector<LoadedObject> objects;
  std::vector<Dependency> dependencies;
  std::vector<Problem> problems;
  std::optional<std::size_t> interpreter;
  bool static_program = false;  // no PT_INTERP or no dynamic section: nothing else is loaded
};

// Everything one FILE needs. A script's `#!` interpreters are exec'd in turn (through `env` via
// PATH too), each with its own link map.
struct Closure {
  std::string file;                  // as given
  std::vector<std::string> scripts;  // script files exec'd on the way, first the FILE itself
  std::vector<LinkMap> programs;     // one per ELF program exec'd
  std::vector<Problem> problems;     // problems with the FILE or a #! line

  bool complete() const;  // nothing missing, nothing fatal, no problem with the input
};

struct ResolverOptions {
  std::string root = "/";  // resolve inside this directory, as a chroot would see it
  // The working directory inside the root for relative names; empty: the caller's own when
  // root is "/", else "/".
  std::string cwd;
  std::optional<std::string> ld_library_path;  // as LD_LIBRARY_PATH; unset by default
  std::optional<std::string> preload;          // as LD_PRELOAD
  bool read_preload_file = true;               // honour ROOT/etc/ld.so.preload
  // PATH used to find a `#!/usr/bin/env NAME` interpreter inside the root.
  std::string path = kDefaultPath;
  // The loader's parameters; nullopt: ask each program's loader (falling back to built-in defaults).
  std::optional<LoaderConfig> loader_config;
  // Also read each ELF file's imported symbols (LoadedObject::elf->imported_names) while it is
  // mapped for the loader's checks: the runtime rules need them, `deps` does not pay for them.
  bool read_imports = false;
};

// Resolves files against one root. Keeps every ELF file it reads, every cache and every loader's
// parameters for its lifetime, so each file is read once however many objects need it.
class Resolver {
 public:
  // Fails, naming the root, if the root cannot be opened.
  static Result<Resolver> open(ResolverOptions options);
  ~Resolver();
  Resolver(Resolver&&) noexcept;
  Resolver& operator=(Resolver&&) noexcept;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  Closure resolve(const std::string& file);

  // Extends `map`, a link map this resolver built, as dlopen(NAME) called from the object at
  // index FROM would: the name searched with FROM as requester (its RPATH chain, LD_LIBRARY_PATH,
  // its RUNPATH, the cache, the system directories; DSTs expanded only in a name with '/'), then
  // the new objects' own needs breadth-first. Objects already in the map are reused as the loader
  // reuses them. Returns the request's index in map.dependencies; what was not found or would not
  // load is in map.problems, as for DT_NEEDED.
  std::size_t dlopen(LinkMap& map, std::size_t from, const std::string& name);

  // The parameters of each loader the link maps built so far were resolved for (normally one):
  // where it reads its cache, its system directories. Empty before any program is resolved.
  std::vector<LoaderConfig> loader_configs() const;

  // Every path inside the root looked up so far (probed, found or not, or canonicalized): what
  // the closures resolved until now depend on besides the files they list.
  std::vector<std::string> looked_up() const;

 private:
  struct Impl;
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jailbuild
