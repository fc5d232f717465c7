// The closure as the rules see it: its objects and the symbols they import.
#include "closure_imports.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "elf/dynamic_symbols.hpp"
#include "elf/elf.hpp"

namespace jailbuild {

const std::vector<std::string>& ClosureImports::imports_of(const LoadedObject& object, const RootView& host) {
  static const std::vector<std::string> kNone;
  // Read with the object by the resolver (ResolverOptions::read_imports, which the planner asks
  // for when it has rules): the file is mapped once per plan, for the loader's checks and these.
  if (object.elf && object.elf->imported_names) return *object.elf->imported_names;
  // The real path, not the loader's name: /lib/x86_64-linux-gnu/libc.so.6 and
  // /usr/lib/x86_64-linux-gnu/libc.so.6 are one file, said once.
  const std::string& key = file_of(object);
  auto [it, inserted] = imports_.try_emplace(key);
  if (!inserted) return it->second;
  if (object.elf && !object.elf->imports_error.empty()) {
    spdlog::info("{}; its imports are not looked at by the runtime rules", object.elf->imports_error);
    return kNone;
  }
  // Link maps from a resolver that was not asked for the imports (or an object the ELF reader
  // refused): read them here, once per file.
  auto symbols = elf::read_imported_symbols(host.host_path(key));
  if (!symbols) {
    spdlog::info("{}; its imports are not looked at by the runtime rules", symbols.error().message);
    return it->second;
  }
  it->second.reserve(symbols->size());
  for (elf::ImportedSymbol& symbol : *symbols) it->second.push_back(std::move(symbol.name));
  return it->second;
}

std::optional<Importer> ClosureImports::who_imports(const RuleInput& input, const std::set<std::string>& symbols) {
  for (const LinkMap& map : input.programs)
    if (auto importer = who_imports(map, input.host, symbols)) return importer;
  return std::nullopt;
}

std::optional<Importer> ClosureImports::who_imports(const LinkMap& map, const RootView& host,
                                                    const std::set<std::string>& symbols) {
  for (const LoadedObject& object : map.objects) {
    for (const std::string& name : imports_of(object, host))
      if (symbols.count(name)) return Importer{object.path, name};
  }
  return std::nullopt;
}

std::optional<Importer> ClosureImports::who_imports_naming(const RuleInput& input,
                                                          const std::set<std::string>& symbols,
                                                          std::string_view text) {
  std::string needle(text);
  needle.push_back('\0');
  const auto names_text = [&](const LoadedObject& object) {
    auto mapped = map_file_of(object, input.host);
    if (!mapped) return false;
    const auto bytes = mapped->bytes();
    const auto* data = reinterpret_cast<const char*>(bytes.data());
    return std::string_view(data, bytes.size()).find(needle) != std::string_view::npos;
  };
  for (const LinkMap& map : input.programs) {
    for (const LoadedObject& object : map.objects) {
      // The first of the symbols it imports, then its file searched once (tar imports four exec
      // calls).
      const std::vector<std::string>& imports = imports_of(object, input.host);
      const auto imported = std::find_if(imports.begin(), imports.end(),
                                         [&](const std::string& name) { return symbols.count(name) != 0; });
      if (imported != imports.end() && names_text(object)) return Importer{object.path, *imported};
    }
  }
  return std::nullopt;
}

const LoadedObject* ClosureImports::find_object(const std::vector<LinkMap>& programs,
                                                const std::function<bool(const LoadedObject&)>& is_it) {
  for (const LinkMap& map : programs)
    for (const LoadedObject& object : map.objects)
      if (is_it(object)) return &object;
  return nullptr;
}

Result<elf::MappedFile> map_file_of(const LoadedObject& object, const RootView& host) {
  return elf::MappedFile::open(host.host_path(file_of(object)));
}

bool is_libc(const LoadedObject& object) {
  return std::find(object.names.begin(), object.names.end(), "libc.so.6") != object.names.end();
}

}  // namespace jailbuild
