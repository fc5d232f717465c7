// RootView::open_read on a busy machine: a lookup through ".." (what $ORIGIN/../lib gives) that
// the kernel refuses with EAGAIN because something was renamed meanwhile must be tried again, not
// taken for a missing library. Before it was, `add` reported such a library "not found" now and
// then while other processes renamed files, as a package upgrade does.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "resolve/root_view.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;

TEST(RootViewOpenRead, ALookupThroughDotDotSucceedsWhileFilesAreRenamedElsewhere) {
  testing::TempDir dir("jailbuild-root-view");
  fs::create_directories(dir / "app/bin");
  fs::create_directories(dir / "app/lib");
  std::ofstream(dir / "app/lib/libx.so.1") << "a library";
  std::ofstream(dir / "renamed") << "renamed back and forth";
  auto root = RootView::open("/");
  ASSERT_TRUE(root) << root.error().message;
  const std::string path = dir / "app/bin/../lib/libx.so.1";

  std::atomic<bool> stop = false;
  std::thread renamer([&] {
    while (!stop) {
      std::rename((dir / "renamed").c_str(), (dir / "renamed.2").c_str());
      std::rename((dir / "renamed.2").c_str(), (dir / "renamed").c_str());
    }
  });
  // Each open races with about a rename; unretried, some percent of them fail (measured: 6 %).
  constexpr int kOpens = 20000;
  int failed = 0;
  int last_error = 0;
  for (int i = 0; i < kOpens; ++i) {
    const int fd = root->open_read(path);
    if (fd < 0) {
      ++failed;
      last_error = -fd;
    } else {
      ::close(fd);
    }
  }
  stop = true;
  renamer.join();
  EXPECT_EQ(failed, 0) << "of " << kOpens << " opens of " << path << ", the last with error " << last_error;
}

}  // namespace
}  // namespace jailbuild
