// A root gets its own ld.so.cache: libraries the host loader finds only through its cache (in
// directories that are not system directories) must be found by the loader inside the root too.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/loader_oracle.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;

// Host libraries reachable only through /etc/ld.so.cache on Debian 12 machines like CI's.
const char* const kCacheOnlyLibraries[] = {
    "/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-0.so",  // a subdirectory of a system dir
    "/usr/local/cuda-13.0/lib/libcudart.so.13",                // a directory of its own
};

TEST(RootLoaderCache, LibrariesFoundThroughTheHostCacheAreFoundInsideTheRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chroot into the jail";
  std::vector<std::string> libraries;
  for (const char* library : kCacheOnlyLibraries)
    if (fs::exists(library)) libraries.push_back(library);
  if (libraries.empty()) GTEST_SKIP() << "none of the cache-only libraries is installed here";

  char pattern[] = "/tmp/jailbuild-cache-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const fs::path dir = pattern;
  std::ofstream(dir / "m.c") << "int main(void) { return 0; }\n";
  std::string link = "gcc -o " + (dir / "app").string() + " " + (dir / "m.c").string() + " -Wl,--no-as-needed";
  for (const std::string& library : libraries)
    link += " -L" + fs::path(library).parent_path().string() + " -l:" + fs::path(library).filename().string();
  ASSERT_EQ(std::system(link.c_str()), 0) << link;

  const std::string root = (dir / "root").string();
  const auto add = testing::run_process(
      {JAILBUILD_BINARY, "add", (dir / "app").string(), "--root", root, "--state-dir", (dir / "state").string()},
      {{"PATH", "/usr/bin:/bin"}});
  ASSERT_EQ(add.exit_code, 0) << add.describe();

  testing::ProcessOptions in_root;
  in_root.root = root;
  const auto listed =
      testing::run_process({"/lib64/ld-linux-x86-64.so.2", "--list", (dir / "app").string()}, {}, in_root);
  EXPECT_EQ(listed.exit_code, 0) << listed.describe();
  for (const std::string& library : libraries)
    EXPECT_NE(listed.output.find(fs::path(library).filename().string() + " => " + library), std::string::npos)
        << listed.output;
  // The root's ld.so.conf names their directories, for an ldconfig run inside the jail.
  std::ifstream conf(root + "/etc/ld.so.conf");
  const std::string conf_text((std::istreambuf_iterator<char>(conf)), std::istreambuf_iterator<char>());
  for (const std::string& library : libraries)
    EXPECT_NE(conf_text.find(fs::path(library).parent_path().string() + "\n"), std::string::npos) << conf_text;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace jailbuild
