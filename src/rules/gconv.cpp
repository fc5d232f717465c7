// Rules `gconv` and `gconv-all`: glibc's iconv converts through gconv modules, shared objects it
// dlopens from the directory it was built to read (${libdir}/gconv) as the configuration there says
// (gconv-modules, gconv-modules.d/*.conf, or gconv-modules.cache compiled from them). Without them
// only the conversions built into libc work (UTF-8, ASCII, UCS-2, UCS-4, wchar_t):
// `iconv -f LATIN1 -t UTF-8` says "conversion from `LATIN1' unsupported".
//
// `gconv` (on by default) adds the core set glibc itself draws: the modules its own gconv-modules
// file names (ISO-8859-1, ISO-8859-15, CP1252, UTF-16, UTF-32, UTF-7, UNICODE, ANSI_X3.110), about
// 160 KB; glibc (since 2.34) puts every other module in gconv-modules.d/gconv-modules-extra.conf,
// as the part a distribution may ship apart. The cache is left out: it describes every module, and
// glibc, finding no cache, reads the configuration files instead, so the root's iconv knows exactly
// the modules the root holds. `gconv-all` (opt-in) adds the whole directory, about 8 MB.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "rule_context.hpp"
#include "text_data.hpp"
#include "util/paths.hpp"

namespace jailbuild {
namespace {

// The calls that load gconv modules for their caller: iconv_open is glibc's one public way to a
// converter (iconv(1), git and libstdc++'s codecvt call it). Not a trigger: the multibyte functions
// (mbrtowc, wcrtomb, printf's %ls), which convert with the locale's charset: UTF-8, built in, for
// the locale `run` sets (a non-UTF-8 locale from a locale-archive would need its module: `--with
// gconv-all`); nor bind_textdomain_codeset, whose usual target, UTF-8, is built in too.
const std::set<std::string> kOpensConverters = {"iconv_open"};

struct GconvUser {
  std::string directory;  // the gconv directory of the link map's libc
  Importer importer;      // the object of that link map that imports iconv_open
};

// Each gconv directory some program's libc reads, once, with the first object of that program's
// closure that opens converters: a root holding an i386 program beside an x86-64 one may need both.
std::vector<GconvUser> gconv_users(const RuleContext& context) {
  std::vector<GconvUser> users;
  for (const LinkMap& map : context.input.programs) {
    const auto libc = std::find_if(map.objects.begin(), map.objects.end(), is_libc);
    if (libc == map.objects.end()) continue;
    std::string directory = gconv_directory(*libc);
    if (std::any_of(users.begin(), users.end(), [&](const GconvUser& user) { return user.directory == directory; }))
      continue;
    if (auto importer = context.imports.who_imports(map, context.input.host, kOpensConverters))
      users.push_back({std::move(directory), std::move(*importer)});
  }
  return users;
}

}  // namespace

std::string gconv_directory(const LoadedObject& libc) {
  std::string directory = parent_directory(file_of(libc));
  const std::string top = directory.substr(0, directory.find('/', 1));  // "/lib" of /lib/x86_64-linux-gnu
  if (top == "/lib" || top == "/lib64" || top == "/lib32" || top == "/libx32") directory = "/usr" + directory;
  return join_path(directory, "gconv");
}

std::vector<std::string> gconv_module_files(std::string_view configuration, const std::string& directory) {
  std::vector<std::string> files;
  std::size_t start = 0;
  while (start < configuration.size()) {
    std::size_t end = configuration.find('\n', start);
    if (end == std::string_view::npos) end = configuration.size();
    std::string_view line = configuration.substr(start, end - start);
    start = end + 1;
    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> words;
    for (std::size_t at = 0; at < line.size();) {
      const std::size_t word = line.find_first_not_of(" \t\r", at);
      if (word == std::string_view::npos) break;
      const std::size_t word_end = std::min(line.find_first_of(" \t\r", word), line.size());
      words.push_back(line.substr(word, word_end - word));
      at = word_end;
    }
    if (words.size() < 4 || words[0] != "module") continue;
    const std::string_view name = words[3];
    if (name.find('/') != std::string_view::npos || name == "." || name == "..") {
      spdlog::info("rule gconv: module {} of {}'s configuration is not a plain name there; not added", name,
                   directory);
      continue;
    }
    std::string file = join_path(directory, name);
    if (!file.ends_with(".so")) file += ".so";
    if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(std::move(file));
  }
  return files;
}

std::vector<RuleAddition> decide_gconv(const RuleContext& context) {
  std::vector<RuleAddition> added;
  for (const GconvUser& user : gconv_users(context)) {
    const std::string core = join_path(user.directory, "gconv-modules");
    const auto configuration = context.input.read(core);
    if (!configuration) {
      spdlog::info("rule gconv: no {} on the host; {} will find no converters", core, user.importer.object);
      continue;
    }
    added.push_back({PathRequirement{core}, user.importer.describe()});
    for (const std::string& module : gconv_module_files(*configuration, user.directory)) {
      // A file: the planner gives it its closure (a module may need libJIS.so and the like).
      if (context.input.exists(module))
        added.push_back({PathRequirement{module}, user.importer.describe()});
      else
        spdlog::info("rule gconv: {} names {}, which the host does not have", core, module);
    }
  }
  return added;
}

std::vector<RuleAddition> decide_gconv_all(const RuleContext& context) {
  std::vector<RuleAddition> added;
  for (const GconvUser& user : gconv_users(context)) {
    if (context.input.exists(user.directory))
      added.push_back({PathRequirement{user.directory}, user.importer.describe()});
    else
      spdlog::info("rule gconv-all: no {} on the host; {} will find no converters", user.directory,
                   user.importer.object);
  }
  return added;
}

}  // namespace jailbuild
