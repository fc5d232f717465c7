// The attacker of issue 10's cases 7 and 8: another user who owns the directory holding a root,
// swapping the root's name for a symlink to a decoy again and again while jailbuild works. A child
// process, running as that user, exchanges NAME with NAME.swap (a symlink to the decoy) with
// renameat2(RENAME_EXCHANGE) until stopped, so that NAME is in turn the real directory and the
// symlink. Before NAME exists (a root `add` is about to create) the exchange fails and is retried
// at once: the first exchange follows the creation as closely as the scheduler allows.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

namespace jailbuild::testing {

// nobody on Debian: the hostile owner of a root's parent.
inline constexpr uid_t kNobody = 65534;

class PathSwapper {
 public:
  // `directory` must belong to `uid` (the caller chowns it); `name` need not exist yet. Pauses
  // between exchanges are random, up to `max_pause_us` (0: none, only a yield).
  PathSwapper(const std::string& directory, const std::string& name, const std::string& decoy, uid_t uid,
              unsigned max_pause_us)
      : directory_(directory), name_(name) {
    const std::string swap = directory + "/" + name + ".swap";
    if (::symlink(decoy.c_str(), swap.c_str()) != 0) throw std::runtime_error("symlink " + swap);
    void* shared =
        ::mmap(nullptr, sizeof(std::atomic<long>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) throw std::runtime_error("mmap");
    swaps_ = new (shared) std::atomic<long>(0);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) swap_forever(uid, max_pause_us);  // only system calls from here: the parent has threads
  }
  ~PathSwapper() {
    stop();
    ::munmap(swaps_, sizeof(std::atomic<long>));
  }
  PathSwapper(const PathSwapper&) = delete;
  PathSwapper& operator=(const PathSwapper&) = delete;

  // Stops the swapping, puts the real directory (if any) back at NAME and removes the symlink.
  // Returns the number of exchanges made.
  long stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      const std::string path = directory_ + "/" + name_;
      struct stat status {};
      if (::lstat(path.c_str(), &status) == 0 && S_ISLNK(status.st_mode))
        ::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, (path + ".swap").c_str(), RENAME_EXCHANGE);
      ::unlink((path + ".swap").c_str());  // the symlink; a directory there is not removed
    }
    return swaps_->load();
  }

 private:
  [[noreturn]] void swap_forever(uid_t uid, unsigned max_pause_us) {
    ::alarm(300);  // bounded even if the test dies without stopping it
    const gid_t gid = static_cast<gid_t>(uid);
    if (::chdir(directory_.c_str()) != 0 || ::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
        ::setresuid(uid, uid, uid) != 0)
      ::_exit(1);
    const std::string swap = name_ + ".swap";
    std::uint64_t random = 88172645463325252ull ^ static_cast<std::uint64_t>(::getpid());
    while (true) {
      if (::renameat2(AT_FDCWD, name_.c_str(), AT_FDCWD, swap.c_str(), RENAME_EXCHANGE) == 0) swaps_->fetch_add(1);
      if (max_pause_us == 0) {
        ::sched_yield();
        continue;
      }
      random ^= random << 13;
      random ^= random >> 7;
      random ^= random << 17;
      const timespec pause{0, static_cast<long>(random % max_pause_us) * 1000};
      ::nanosleep(&pause, nullptr);
    }
  }

  std::string directory_;
  std::string name_;
  std::atomic<long>* swaps_ = nullptr;
  pid_t pid_ = -1;
};

}  // namespace jailbuild::testing
