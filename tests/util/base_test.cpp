// The base layer against real oracles: the kernel (pipes, directories, /proc/self/fd), getent for
// the password and group databases, and the C library's strerror.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "util/dir_stream.hpp"
#include "util/files.hpp"
#include "util/io.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"
#include "util/users.hpp"

namespace jailbuild {
namespace {

// What a shell command prints (its status must be 0).
std::string output_of(const std::string& command) {
  std::string text;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return text;
  char buffer[4096];
  while (const std::size_t got = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, got);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return text;
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/jailbuild-util-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

TEST(Paths, JoinAndAbsoluteNeverDoubleTheSlash) {
  EXPECT_EQ(join_path("/", "x"), "/x");
  EXPECT_EQ(join_path("/a", "x"), "/a/x");
  EXPECT_EQ(join_path("/a/", "x"), "/a/x");
  // The planner's old absolute() gave "//x" with the working directory "/".
  EXPECT_EQ(absolute_path("x", "/"), "/x");
  EXPECT_EQ(absolute_path("x/y", "/home"), "/home/x/y");
  EXPECT_EQ(absolute_path("/etc/passwd", "/home"), "/etc/passwd");
}

TEST(Paths, ParentAndBaseName) {
  EXPECT_EQ(parent_directory("/a/b"), "/a");
  EXPECT_EQ(parent_directory("/a"), "/");
  EXPECT_EQ(parent_directory("a"), ".");
  EXPECT_EQ(base_name("/a/b"), "b");
  EXPECT_EQ(base_name("b"), "b");
}

TEST(SystemError, NamesWhatAndTheCLibrarysText) {
  EXPECT_EQ(errno_text(ENOENT), std::strerror(ENOENT));
  EXPECT_EQ(system_error("/x: open", EACCES).message, std::string("/x: open: ") + std::strerror(EACCES));
}

TEST(UniqueFd, ClosesOnDestructionAndMoveAssignment) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  {
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    UniqueFd moved(std::move(read_end));
    EXPECT_FALSE(read_end.valid());
    EXPECT_EQ(moved.get(), fds[0]);
    moved = std::move(write_end);  // closes the read end now
    EXPECT_FALSE(is_open(fds[0]));
    EXPECT_TRUE(is_open(fds[1]));
  }
  EXPECT_FALSE(is_open(fds[1]));
  UniqueFd released(::open("/", O_PATH | O_CLOEXEC));
  const int fd = released.release();
  EXPECT_TRUE(is_open(fd));  // control: release gave it up, so it is still open
  ::close(fd);
}

// A pipe moves at most its capacity per call: writing more than that from one thread while
// another reads takes several write(2) calls, and reading it back several read(2) calls.
TEST(Io, WriteAllAndReadFullMoveEverythingThroughAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  ASSERT_GT(::fcntl(write_end.get(), F_SETPIPE_SZ, 4096), 0);
  std::string sent(1 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7 + i / 251);
  int write_result = -1;
  std::thread writer([&] {
    write_result = write_all(write_end.get(), sent);
    write_end.close();
  });
  std::string received(sent.size() + 10, '\0');
  const ssize_t got = read_full(read_end.get(), received);
  writer.join();
  EXPECT_EQ(write_result, 0);
  ASSERT_EQ(got, static_cast<ssize_t>(sent.size()));  // fewer than asked: the end of the pipe
  received.resize(static_cast<std::size_t>(got));
  EXPECT_TRUE(received == sent);
}

TEST(Io, ErrorsComeBackAsErrno) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  read_end.close();
  ::signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(write_all(write_end.get(), "x"), EPIPE);
  char buffer[4];
  EXPECT_EQ(read_full(write_end.get(), buffer), -EBADF);  // the write end cannot be read
}

TEST(DirStream, ListsEveryEntryButDotAndDotDot) {
  TempDir dir;
  std::vector<std::string> made;
  for (int i = 0; i < 300; ++i) made.push_back("entry-" + std::to_string(i));
  for (const std::string& name : made) ASSERT_EQ(::mkdir((dir.path + "/" + name).c_str(), 0700), 0);
  auto stream = DirStream::open(dir.path);
  ASSERT_TRUE(stream) << stream.error().message;
  auto names = stream->names();
  ASSERT_TRUE(names);
  std::sort(names->begin(), names->end());
  std::sort(made.begin(), made.end());
  EXPECT_EQ(*names, made);
  // Entries are created relative to fd(): the stream's descriptor is the directory's.
  struct stat by_fd {};
  struct stat by_path {};
  ASSERT_EQ(::fstat(stream->fd(), &by_fd), 0);
  ASSERT_EQ(::stat(dir.path.c_str(), &by_path), 0);
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
}

TEST(DirStream, AnEmptyDirectoryEndsAtOnceAndErrorsNameThePath) {
  TempDir dir;
  auto stream = DirStream::open(dir.path);
  ASSERT_TRUE(stream);
  auto first = stream->next();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, nullptr);
  auto missing = DirStream::open(dir.path + "/missing", "the missing one");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, std::string("the missing one: ") + std::strerror(ENOENT));
  // adopt takes the descriptor: closed with the stream, never twice.
  const int fd = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  {
    auto adopted = DirStream::adopt(UniqueFd(fd), dir.path);
    ASSERT_TRUE(adopted);
  }
  EXPECT_FALSE(is_open(fd));
}

TEST(Files, ReplaceFileThenReadFile) {
  TempDir dir;
  const std::string path = dir.path + "/state/file";
  ASSERT_TRUE(make_directories(dir.path + "/state"));
  struct stat status {};
  ASSERT_EQ(::stat((dir.path + "/state").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0700u);
  auto none = read_file(path, 1 << 20, "a test file");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(replace_file(path, "first"));
  ASSERT_TRUE(replace_file(path, "second, longer"));
  auto text = read_file(path, 1 << 20, "a test file");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->value(), "second, longer");
  EXPECT_EQ(output_of("ls -A '" + dir.path + "/state'"), "file\n");  // no temporary left
  const auto failed = replace_file(dir.path + "/missing/file", "x");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find(dir.path + "/missing/file: creating a temporary file: "), std::string::npos)
      << failed.error().message;
}

// getent asks the same databases (NSS) the look-ups do.
TEST(Users, AccountsAndGroupsAsGetentSeesThem) {
  const std::string root_line = output_of("getent passwd 0");
  ASSERT_FALSE(root_line.empty());
  const std::string root_name = root_line.substr(0, root_line.find(':'));
  auto by_uid = account_by_uid(0);
  ASSERT_TRUE(by_uid);
  EXPECT_EQ(by_uid->name, root_name);
  const std::string home = output_of("getent passwd 0 | cut -d: -f6");
  EXPECT_EQ(by_uid->home + "\n", home);
  auto by_name = account_by_name(root_name);
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->uid, 0u);
  EXPECT_EQ(std::to_string(by_name->gid) + "\n", output_of("getent passwd 0 | cut -d: -f4"));

  const std::string group_line = output_of("getent group | tail -n 1");
  const std::string group_name = group_line.substr(0, group_line.find(':'));
  const std::string gid_text = output_of("getent group '" + group_name + "' | cut -d: -f3");
  auto gid = group_id_by_name(group_name);
  ASSERT_TRUE(gid);
  EXPECT_EQ(std::to_string(*gid) + "\n", gid_text);

  EXPECT_FALSE(account_by_name("no-such-user-jailbuild"));
  EXPECT_FALSE(group_id_by_name("no-such-group-jailbuild"));
}

}  // namespace
}  // namespace jailbuild
