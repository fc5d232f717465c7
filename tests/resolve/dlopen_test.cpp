// Resolver::dlopen held to the real loader: programs built here call dlopen(NAME) from a library
// (or from themselves) and print every object then in their link map (dl_iterate_phdr's names,
// the loader's l_name), or dlerror(); the resolver extends its link map of the same program from
// the same object, and both answers must agree (docs/loader-rules.md#search-order, the dlopen rule).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "jailbuild/resolver.hpp"
#include "support/loader_oracle.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;
namespace oracle = jailbuild::testing;

// The program: dlopen(argv[1]) from libcaller (or, with a second argument, from itself), then
// each object's name in link-map order, or the loader's error.
constexpr char kMain[] = R"(#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
void* open_plugin(const char* name);
static int print(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size; (void)data;
  if (info->dlpi_name[0] == '/') printf("loaded %s\n", info->dlpi_name);
  return 0;
}
int main(int argc, char** argv) {
  void* handle = argc > 2 ? dlopen(argv[1], RTLD_NOW) : open_plugin(argv[1]);
  if (!handle) { printf("error %s\n", dlerror()); return 1; }
  dl_iterate_phdr(print, 0);
  return 0;
}
)";
constexpr char kCaller[] = R"(#include <dlfcn.h>
void* open_plugin(const char* name) { return dlopen(name, RTLD_NOW); }
)";
constexpr char kPlugin[] = "int plugdep(void); int plug(void) { return plugdep(); }\n";
constexpr char kPlugDep[] = "int plugdep(void) { return 7; }\n";

class DlopenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/jailbuild-dlopen-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    write("main.c", kMain);
    write("caller.c", kCaller);
    write("plug.c", kPlugin);
    write("plugdep.c", kPlugDep);
    for (const char* sub : {"bin", "lib", "plugins/deps"}) fs::create_directories(dir_ + "/" + sub);
    gcc("-shared -fPIC -Wl,-soname,libplugdep.so -o plugins/deps/libplugdep.so plugdep.c");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ + "/" + name) << text; }
  void gcc(const std::string& arguments) {
    const auto result =
        oracle::run_process({"/bin/sh", "-c", "cd " + dir_ + " && gcc " + arguments}, {{"PATH", "/usr/bin:/bin"}});
    ASSERT_TRUE(result.exited() && result.exit_code == 0) << arguments << "\n" << result.describe();
  }
  // bin/app needing lib/libcaller.so (with `caller_path`: e.g. a RUNPATH or RPATH to the plugins).
  void build_app(const std::string& caller_path) {
    gcc("-shared -fPIC -Wl,-soname,libcaller.so " + caller_path + " -o lib/libcaller.so caller.c");
    gcc("-o bin/app main.c -Llib -l:libcaller.so -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib'");
  }

  // What the real loader did: the objects' names in link-map order, or its error.
  struct Answer {
    std::vector<std::string> loaded;
    std::string error;
  };
  Answer run_app(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {dir_ + "/bin/app"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    const auto result = oracle::run_process(argv, {});
    EXPECT_TRUE(result.exited()) << result.describe();
    Answer answer;
    std::istringstream lines(result.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("loaded ")) answer.loaded.push_back(line.substr(7));
      if (line.starts_with("error ")) answer.error = line.substr(6);
    }
    EXPECT_TRUE(!answer.loaded.empty() || !answer.error.empty()) << result.describe();
    return answer;
  }

  // The resolver's link map of bin/app, extended by dlopen(name) from the object named `from`.
  struct Extended {
    LinkMap map;
    std::size_t request = 0;
  };
  Extended resolve_dlopen(const std::string& from_suffix, const std::string& name) {
    resolver_.emplace(oracle::open_resolver({}));
    Closure closure = resolver_->resolve(dir_ + "/bin/app");
    if (closure.programs.size() != 1) throw std::runtime_error("bin/app: " + oracle::describe(closure));
    Extended out{std::move(closure.programs.front()), 0};
    std::size_t from = 0;
    for (std::size_t i = 0; i < out.map.objects.size(); ++i)
      if (out.map.objects[i].path.ends_with(from_suffix)) from = i;
    out.request = resolver_->dlopen(out.map, from, name);
    return out;
  }

  // The l_name of every object but the program and the vDSO, in link-map order, as dl_iterate_phdr
  // lists them (the loader's own object comes where the loader put it: compared as a set).
  static std::multiset<std::string> names(const LinkMap& map) {
    std::multiset<std::string> out;
    for (const LoadedObject& object : map.objects)
      if (object.found_by != FoundBy::Program) out.insert(object.path);
    return out;
  }

  std::string dir_;
  std::optional<Resolver> resolver_;  // the last resolve_dlopen's, to extend its map further
};

TEST_F(DlopenTest, CallersRunpathFindsThePluginAndThePluginsRunpathItsNeed) {
  gcc("-shared -fPIC -Wl,-soname,libplug.so -Wl,--enable-new-dtags,-rpath,'$ORIGIN/deps' -o plugins/libplug.so "
      "plug.c -Lplugins/deps -l:libplugdep.so");
  build_app("-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../plugins'");
  const Answer loader = run_app({"libplug.so"});
  ASSERT_EQ(loader.error, "");
  const Extended resolver = resolve_dlopen("/libcaller.so", "libplug.so");
  EXPECT_TRUE(resolver.map.problems.empty()) << resolver.map.problems.front().message;
  EXPECT_EQ(names(resolver.map), std::multiset<std::string>(loader.loaded.begin(), loader.loaded.end()));
  const Dependency& request = resolver.map.dependencies[resolver.request];
  EXPECT_TRUE(request.dlopen);
  ASSERT_TRUE(request.to);
  EXPECT_EQ(resolver.map.objects[*request.to].found_by, FoundBy::Runpath);
  EXPECT_TRUE(resolver.map.objects[*request.to].dlopened);
  // Opened as the caller's RUNPATH entry spells it, with the caller's own $ORIGIN (bin/../lib).
  EXPECT_EQ(resolver.map.objects[*request.to].path, dir_ + "/bin/../lib/../plugins/libplug.so");
}

TEST_F(DlopenTest, TheSameNameFromTheProgramIsNotFoundByEither) {
  // The control: the program's own search path does not reach the plugins.
  gcc("-shared -fPIC -Wl,-soname,libplug.so -Wl,--enable-new-dtags,-rpath,'$ORIGIN/deps' -o plugins/libplug.so "
      "plug.c -Lplugins/deps -l:libplugdep.so");
  build_app("-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../plugins'");
  const Answer loader = run_app({"libplug.so", "from-main"});
  EXPECT_NE(loader.error.find("libplug.so: cannot open shared object file"), std::string::npos) << loader.error;
  const Extended resolver = resolve_dlopen("/bin/app", "libplug.so");
  ASSERT_EQ(resolver.map.problems.size(), 1u);
  EXPECT_EQ(resolver.map.problems.front().kind, ProblemKind::NotFound);
  EXPECT_FALSE(resolver.map.dependencies[resolver.request].to);
}

TEST_F(DlopenTest, TheDlopenedObjectsNeedsDoNotSeeTheCallersRpath) {
  // libcaller's DT_RPATH lists both directories; the plugin has no search path of its own. The
  // plugin is found through the caller's RPATH, but its need is searched from a chain that stops
  // at the plugin (dlopen clears l_loader): the real loader fails, and so must the resolver.
  gcc("-shared -fPIC -Wl,-soname,libplug.so -o plugins/libplug.so plug.c -Lplugins/deps -l:libplugdep.so");
  build_app("-Wl,--disable-new-dtags,-rpath,'$ORIGIN/../plugins:$ORIGIN/../plugins/deps'");
  const Answer loader = run_app({"libplug.so"});
  EXPECT_NE(loader.error.find("libplugdep.so: cannot open shared object file"), std::string::npos)
      << "the loader: " << loader.error;
  const Extended resolver = resolve_dlopen("/libcaller.so", "libplug.so");
  ASSERT_EQ(resolver.map.problems.size(), 1u);
  EXPECT_EQ(resolver.map.problems.front().name, "libplugdep.so");
  EXPECT_EQ(resolver.map.problems.front().kind, ProblemKind::NotFound);

  // The control: the same need, when DT_NEEDED of the caller instead of dlopened, is found through
  // the caller's RPATH by both.
  gcc("-shared -fPIC -Wl,-soname,libcaller.so -Wl,--no-as-needed "
      "-Wl,--disable-new-dtags,-rpath,'$ORIGIN/../plugins:$ORIGIN/../plugins/deps' "
      "-o lib/libcaller.so caller.c -Lplugins -l:libplug.so");
  const Answer linked = run_app({"libplug.so"});
  ASSERT_EQ(linked.error, "");
  Resolver fresh = oracle::open_resolver({});
  const Closure closure = fresh.resolve(dir_ + "/bin/app");
  ASSERT_TRUE(closure.complete()) << oracle::describe(closure);
  EXPECT_EQ(names(closure.programs.front()), std::multiset<std::string>(linked.loaded.begin(), linked.loaded.end()));
}

TEST_F(DlopenTest, ANameWithASlashIsOpenedAsGivenAndAnAlreadyLoadedOneReused) {
  gcc("-shared -fPIC -Wl,-soname,libplug.so -Wl,--enable-new-dtags,-rpath,'$ORIGIN/deps' -o plugins/libplug.so "
      "plug.c -Lplugins/deps -l:libplugdep.so");
  build_app("");
  const std::string by_path = dir_ + "/plugins/libplug.so";
  const Answer loader = run_app({by_path});
  ASSERT_EQ(loader.error, "");
  Extended resolver = resolve_dlopen("/libcaller.so", by_path);
  EXPECT_TRUE(resolver.map.problems.empty());
  EXPECT_EQ(names(resolver.map), std::multiset<std::string>(loader.loaded.begin(), loader.loaded.end()));
  EXPECT_EQ(resolver.map.objects[*resolver.map.dependencies[resolver.request].to].found_by, FoundBy::Path);
  // A second dlopen, by its soname, reuses the object loaded, as the loader's name match does.
  const std::size_t objects = resolver.map.objects.size();
  const std::size_t again = resolver_->dlopen(resolver.map, 0, "libplug.so");
  EXPECT_EQ(resolver.map.objects.size(), objects);
  EXPECT_EQ(resolver.map.dependencies[again].reuse, Reuse::Soname);
  EXPECT_EQ(resolver.map.dependencies[again].to, resolver.map.dependencies[resolver.request].to);
}

}  // namespace
}  // namespace jailbuild
