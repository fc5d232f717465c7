// What the rules see of a plan's closures: which objects they hold and the symbols each imports,
// read once per real file (by its path with every symlink resolved) whichever rule asks.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "elf/elf.hpp"
#include "jailbuild/resolver.hpp"
#include "plan/planner.hpp"

namespace jailbuild {

// An object of the closure that imports a symbol a rule looks for: "/usr/bin/date imports tzset".
struct Importer {
  std::string object;  // its path as the loader opened it (the program's as given)
  std::string symbol;
  std::string describe() const { return object + " imports " + symbol; }
};

class ClosureImports {
 public:
  // The first object of the input's link maps, in order, that imports one of `symbols`; nullopt if
  // none does. An object whose symbols cannot be read counts as importing nothing (said at -v).
  std::optional<Importer> who_imports(const RuleInput& input, const std::set<std::string>& symbols);
  // The same within one link map: for a rule whose answer depends on the program's own libc.
  std::optional<Importer> who_imports(const LinkMap& map, const RootView& host, const std::set<std::string>& symbols);

  // The first object of the input's link maps, in order, that imports one of `symbols` and whose
  // file holds `text` as a C string (its bytes and a NUL): a program that passes a path it names
  // to exec. Only the importers' files are read for it.
  std::optional<Importer> who_imports_naming(const RuleInput& input, const std::set<std::string>& symbols,
                                             std::string_view text);

  // The first object of the closures that `is_it` accepts.
  static const LoadedObject* find_object(const std::vector<LinkMap>& programs,
                                         const std::function<bool(const LoadedObject&)>& is_it);

 private:
  const std::vector<std::string>& imports_of(const LoadedObject& object, const RootView& host);

  std::unordered_map<std::string, std::vector<std::string>> imports_;  // real path -> imported names
};

// The file of a closure object: its real path (every symlink resolved), or the loader's name when
// it has none. One file however many names load it (libc.so.6 by /lib and by /usr/lib).
inline const std::string& file_of(const LoadedObject& object) {
  return object.real_path.empty() ? object.path : object.real_path;
}

// The file of a closure object, mapped from the host (for the strings a build compiled into it:
// OPENSSLDIR, perl's @INC, "/bin/sh"). It is in the closure, so planned, and the watch list
// follows it: a new build makes `sync` plan again.
Result<elf::MappedFile> map_file_of(const LoadedObject& object, const RootView& host);

// Whether `object` is the C library: its soname or the name it was asked for is libc.so.6.
bool is_libc(const LoadedObject& object);

}  // namespace jailbuild
