// The run's cgroup: --memory, --pids and --cpus bound the whole jail (every process it starts),
// which setrlimit cannot. One cgroup per run, made before the clone, joined by the child while it
// waits (kParentSteps), removed once the jail's processes are gone.
//
// Where it goes is decided per controller, as nsjail does: the unified v2 hierarchy where it offers
// the controller, else the v1 hierarchy the controller is mounted as (a hybrid system has some of
// each). In v1 the run's cgroup is a child of jailbuild's own cgroup in that hierarchy; in v2 it is
// a sibling (a child of jailbuild's cgroup's parent), since a v2 cgroup holding processes cannot
// pass controllers on to children ("no internal processes"), and moving a process between two
// siblings needs write access to their parent's cgroup.procs, which is exactly what a delegated
// subtree gives a normal user. Without root, v1 is never used: its files belong to root.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <span>

#include <spdlog/spdlog.h>

#include "jail_setup.hpp"
#include "util/files.hpp"
#include "util/io.hpp"
#include "util/paths.hpp"
#include "util/system_error.hpp"

namespace jailbuild::run {
namespace {

constexpr std::array kControllers{CgroupController::Memory, CgroupController::Pids, CgroupController::Cpu};

// Files of the cgroup file system are a few lines; mountinfo may be long on a busy host.
constexpr std::uint64_t kMaxCgroupFileSize = 1 << 20;

const char* option_of(CgroupController controller) {
  switch (controller) {
    case CgroupController::Memory: return "--memory";
    case CgroupController::Pids: return "--pids";
    case CgroupController::Cpu: return "--cpus";
  }
  return "";
}

bool asked(const CgroupLimits& limits, CgroupController controller) {
  switch (controller) {
    case CgroupController::Memory: return limits.memory.has_value();
    case CgroupController::Pids: return limits.pids.has_value();
    case CgroupController::Cpu: return limits.cpus.has_value();
  }
  return false;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find(separator), text.size());
    words.push_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return words;
}

bool has_word(std::string_view list, std::string_view word, char separator) {
  const std::vector<std::string_view> words = split(list, separator);
  return std::find(words.begin(), words.end(), word) != words.end();
}

// A one-line file's text without its newline.
std::string trimmed(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string unescape(std::string_view field) {
  const auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string text;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) && octal(field[i + 3])) {
      text += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      text += field[i];
    }
  }
  return text;
}

// A cgroup file system mounted on the host, as mountinfo lists it.
struct CgroupMount {
  int version = 1;
  std::string root;         // the hierarchy's directory the mount shows, "/" unless bound from deeper
  std::string mount_point;  // where
  std::string options;      // the super options: v1's controllers, "rw,memory"
};

std::vector<CgroupMount> cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (const std::string_view line : split(mountinfo, '\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER_OPTIONS
    const std::vector<std::string_view> fields = split(line, ' ');
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 6 || dash == fields.end() || fields.end() - dash < 4) continue;
    const std::string_view type = dash[1];
    if (type != "cgroup" && type != "cgroup2") continue;
    mounts.push_back({type == "cgroup2" ? 2 : 1, unescape(fields[3]), unescape(fields[4]), std::string(dash[3])});
  }
  return mounts;
}

// jailbuild's cgroup in the hierarchy `mount` shows, as a host path: the mount point with the part
// of `path` (from /proc/self/cgroup) below the mount's root. nullopt if the mount does not show it.
std::optional<std::string> host_path(const CgroupMount& mount, std::string_view path) {
  std::string_view root = mount.root;
  if (root == "/") root = "";
  if (!path.starts_with(root) || (path.size() > root.size() && path[root.size()] != '/')) return std::nullopt;
  std::string host = mount.mount_point + std::string(path.substr(root.size()));
  while (host.size() > 1 && host.back() == '/') host.pop_back();
  return host;
}

Error failed_at(const std::string& path, const std::string& what, int error_number) {
  return system_error(path + ": " + what, error_number);
}

// The whole of a small file of a cgroup directory; nullopt if it does not exist.
Result<std::optional<std::string>> read_at(int directory, const std::string& directory_path, const char* name) {
  const UniqueFd file(::openat(directory, name, O_RDONLY | O_CLOEXEC));
  if (!file.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    return failed_at(directory_path + "/" + name, "open", errno);
  }
  std::string text(4096, '\0');
  const ssize_t count = read_full(file.get(), std::span<char>(text));
  if (count < 0) return failed_at(directory_path + "/" + name, "read", static_cast<int>(-count));
  text.resize(static_cast<std::size_t>(count));
  return std::optional<std::string>(std::move(text));
}

// Writes `value` to the file `name` of a cgroup directory in one write (the kernel takes each write
// as one value): 0, or the errno of what failed.
int write_value(int directory, const char* name, std::string_view value) {
  const UniqueFd file(::openat(directory, name, O_WRONLY | O_CLOEXEC));
  if (!file.valid()) return errno;
  return write_all(file.get(), value);
}

// write_value with the path and the reason on failure. With `optional`, a file the kernel lacks
// is skipped (false).
Result<bool> write_at(int directory, const std::string& directory_path, const char* name, std::string_view value,
                      bool optional = false) {
  const int error = write_value(directory, name, value);
  if (optional && error == ENOENT) return false;
  if (error != 0) return failed_at(directory_path + "/" + name, "write " + std::string(value), error);
  return true;
}

// The number after `key` in a "KEY N" file (memory.events, memory.oom_control); nullopt if none.
std::optional<std::uint64_t> keyed_number(std::string_view text, std::string_view key) {
  for (const std::string_view line : split(text, '\n')) {
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ') continue;
    const std::string_view digits = line.substr(key.size() + 1);
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error == std::errc()) return value;
  }
  return std::nullopt;
}

// The limits of `directory`'s controllers, in its own words: v1's files or v2's.
Result<void> write_limits(const CgroupRun::Directory& directory, const CgroupLimits& limits) {
  const int fd = directory.self.get();
  const std::string& path = directory.path;
  const bool v2 = directory.version == 2;
  for (const CgroupController controller : directory.controllers) {
    switch (controller) {
      case CgroupController::Memory: {
        const std::string bytes = std::to_string(*limits.memory);
        TRY(write_at(fd, path, v2 ? "memory.max" : "memory.limit_in_bytes", bytes));
        // Without a swap bound, a jail at its limit would be swapped out rather than stopped: the
        // limit would be on its RAM, not its memory. v1 bounds memory plus swap (at least the
        // memory limit, so written after it); v2 bounds swap alone. Either is there only when the
        // kernel accounts swap.
        TRY(write_at(fd, path, v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes", v2 ? "0" : bytes, true));
        break;
      }
      case CgroupController::Pids: TRY(write_at(fd, path, "pids.max", std::to_string(*limits.pids))); break;
      case CgroupController::Cpu: {
        const std::string quota = std::to_string(limits.cpu_quota_microseconds());
        const std::string period = std::to_string(CgroupLimits::kCpuPeriodMicroseconds);
        if (v2) {
          TRY(write_at(fd, path, "cpu.max", quota + " " + period));
        } else {
          TRY(write_at(fd, path, "cpu.cfs_period_us", period));
          TRY(write_at(fd, path, "cpu.cfs_quota_us", quota));
        }
        break;
      }
    }
  }
  return {};
}

// v2: the parent hands the controllers to its children (the run's cgroup) unless it already does.
Result<void> enable_in_parent(int parent, const std::string& parent_path, const std::vector<CgroupController>& wanted) {
  const std::optional<std::string> enabled = TRY(read_at(parent, parent_path, "cgroup.subtree_control"));
  const std::string list = trimmed(enabled.value_or(""));
  std::string change;
  for (const CgroupController controller : wanted)
    if (!has_word(list, controller_name(controller), ' '))
      change += std::string(change.empty() ? "+" : " +") + controller_name(controller);
  if (change.empty()) return {};
  const int error = write_value(parent, "cgroup.subtree_control", change);
  if (error == 0) return {};
  Error failure = failed_at(parent_path + "/cgroup.subtree_control", "write " + change, error);
  if (error == EBUSY)
    failure.message += " (it holds processes of its own, and a v2 cgroup that does passes no controller on)";
  return failure;
}

// Without root, a v2 directory is usable only in a subtree delegated to the caller: it makes the
// run's cgroup in the parent and moves the child there from jailbuild's cgroup, which needs write
// access to the parent's cgroup.procs (their common ancestor) and to the new directory.
Result<void> check_unprivileged(const CgroupDirectory& directory) {
  const std::string why = "without root, jailbuild makes cgroups only in a cgroup v2 subtree delegated to its user";
  if (directory.version == 1)
    return Error{directory.parent + ": cgroup v1, whose files belong to root (" + option_of(directory.controllers[0]) +
                 "): " + why};
  for (const char* name : {"cgroup.procs", "cgroup.subtree_control"}) {
    const std::string file = directory.parent + "/" + name;
    if (::faccessat(AT_FDCWD, file.c_str(), W_OK, AT_EACCESS) != 0)
      return Error{file + ": " + errno_text(errno) + " (not writable as uid " + std::to_string(::geteuid()) +
                   "): " + why + " (e.g. systemd-run --user --scope -p Delegate=yes)"};
  }
  return {};
}

}  // namespace

const char* controller_name(CgroupController controller) {
  switch (controller) {
    case CgroupController::Memory: return "memory";
    case CgroupController::Pids: return "pids";
    case CgroupController::Cpu: return "cpu";
  }
  return "";
}

Result<std::vector<CgroupDirectory>> plan_cgroups(const CgroupLimits& limits, std::string_view mountinfo,
                                                  std::string_view self_cgroup, const CgroupFileReader& read) {
  const std::vector<CgroupMount> mounts = cgroup_mounts(mountinfo);
  // jailbuild's cgroups: "0::PATH" (v2), "ID:CONTROLLER,...:PATH" (each v1 hierarchy).
  std::optional<std::string> unified_path;
  std::vector<std::pair<std::string, std::string>> v1_paths;  // (controllers, path)
  for (const std::string_view line : split(self_cgroup, '\n')) {
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (line.substr(0, first) == "0" && controllers.empty())
      unified_path = path;
    else
      v1_paths.emplace_back(controllers, path);
  }

  // Where the run's v2 cgroup would go, and what it is offered there.
  std::optional<std::string> unified_parent, offered;
  if (unified_path)
    for (const CgroupMount& mount : mounts)
      if (mount.version == 2)
        if (const auto own = host_path(mount, *unified_path)) {
          // At the top of what jailbuild sees (the root, or a cgroup namespace's): there is no parent to
          // go beside it in, and the top is where a process may hand controllers down.
          unified_parent = *own == mount.mount_point ? *own : parent_directory(*own);
          offered = read(*unified_parent + "/cgroup.controllers");
          break;
        }

  const std::string offered_list = trimmed(offered.value_or(""));
  std::vector<CgroupDirectory> plan;
  const auto place = [&plan](int version, const std::string& parent, CgroupController controller) {
    const auto same = std::find_if(plan.begin(), plan.end(), [&](const CgroupDirectory& directory) {
      return directory.version == version && directory.parent == parent;
    });
    if (same != plan.end())
      same->controllers.push_back(controller);
    else
      plan.push_back({version, parent, {controller}});
  };
  for (const CgroupController controller : kControllers) {
    if (!asked(limits, controller)) continue;
    const std::string name = controller_name(controller);
    if (unified_parent && has_word(offered_list, name, ' ')) {
      place(2, *unified_parent, controller);
      continue;
    }
    std::optional<std::string> v1_parent;
    for (const CgroupMount& mount : mounts) {
      if (mount.version != 1 || !has_word(mount.options, name, ',')) continue;
      for (const auto& [controllers, path] : v1_paths)
        if (has_word(controllers, name, ',')) v1_parent = host_path(mount, path);
      if (v1_parent) break;
    }
    if (!v1_parent)
      return Error{
          std::string(option_of(controller)) + ": no cgroup offers the " + name + " controller to jailbuild (" +
          (unified_parent ? "not in " + *unified_parent + "/cgroup.controllers, " : "no cgroup v2 hierarchy, ") +
          "and no cgroup v1 hierarchy of it in /proc/self/mountinfo and /proc/self/cgroup)"};
    place(1, *v1_parent, controller);
  }
  return plan;
}

CgroupRun& CgroupRun::operator=(CgroupRun&& other) noexcept {
  if (this != &other) {
    remove();
    directories_ = std::move(other.directories_);
    other.directories_.clear();
  }
  return *this;
}

CgroupRun::~CgroupRun() { remove(); }

Result<CgroupRun> CgroupRun::make(const std::vector<CgroupDirectory>& plan, const CgroupLimits& limits) {
  const bool root = ::geteuid() == 0;
  if (!root)
    for (const CgroupDirectory& directory : plan) TRY(check_unprivileged(directory));
  CgroupRun run;
  const std::string name = "jailbuild-" + std::to_string(::getpid());
  for (const CgroupDirectory& planned : plan) {
    Directory directory{.version = planned.version,
                        .path = planned.parent + "/" + name,
                        .name = name,
                        .parent = UniqueFd(::open(planned.parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
                        .self = {},
                        .tasks = {},
                        .controllers = planned.controllers};
    if (!directory.parent.valid()) return failed_at(planned.parent, "open", errno);
    if (planned.version == 2) TRY(enable_in_parent(directory.parent.get(), planned.parent, planned.controllers));
    int made = ::mkdirat(directory.parent.get(), name.c_str(), 0755);
    // A directory of this name is a run's whose jailbuild died with our pid, left behind: empty
    // (its processes died with it, or rmdir fails), so taken over.
    if (made != 0 && errno == EEXIST && ::unlinkat(directory.parent.get(), name.c_str(), AT_REMOVEDIR) == 0)
      made = ::mkdirat(directory.parent.get(), name.c_str(), 0755);
    if (made != 0) return failed_at(directory.path, "make the run's cgroup", errno);
    if (spdlog::should_log(spdlog::level::debug)) {
      std::string names;
      for (const CgroupController controller : planned.controllers)
        names += (names.empty() ? "" : ", ") + std::string(controller_name(controller));
      spdlog::debug("run: cgroup v{} ({}): {}", planned.version, names, directory.path);
    }
    directory.self = UniqueFd(::openat(directory.parent.get(), name.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    const bool opened = directory.self.valid();
    const int open_error = errno;
    // Owned from here on: the destructor removes it whatever fails next.
    run.directories_.push_back(std::move(directory));
    if (!opened) return failed_at(run.directories_.back().path, "open", open_error);
    Directory& made_directory = run.directories_.back();
    TRY(write_limits(made_directory, limits));
    if (made_directory.version == 1) {
      made_directory.tasks = UniqueFd(::openat(made_directory.self.get(), "tasks", O_WRONLY | O_CLOEXEC));
      if (!made_directory.tasks.valid()) return failed_at(made_directory.path + "/tasks", "open", errno);
    }
  }
  return run;
}

Result<void> CgroupRun::add(pid_t pid) const {
  for (const Directory& directory : directories_)
    if (directory.version == 2)
      TRY(write_at(directory.self.get(), directory.path, "cgroup.procs", std::to_string(pid)));
  return {};
}

Result<void> CgroupRun::join_v1() const {
  for (const Directory& directory : directories_) {
    if (directory.version != 1) continue;
    // The kernel checks the credentials the file was opened with (jailbuild's), not the child's,
    // which are its user namespace's by now.
    if (const int error = write_all(directory.tasks.get(), "0"); error != 0)
      return failed_at(directory.path + "/tasks", "write 0 (join)", error);
  }
  return {};
}

bool CgroupRun::has_v1() const {
  return std::any_of(directories_.begin(), directories_.end(), [](const Directory& d) { return d.version == 1; });
}

bool CgroupRun::has_v2() const {
  return std::any_of(directories_.begin(), directories_.end(), [](const Directory& d) { return d.version == 2; });
}

std::uint64_t CgroupRun::finish() {
  std::uint64_t oom_kills = 0;
  for (const Directory& directory : directories_) {
    if (std::find(directory.controllers.begin(), directory.controllers.end(), CgroupController::Memory) ==
        directory.controllers.end())
      continue;
    // The OOM killer's count: v2's memory.events, v1's memory.oom_control (since Linux 4.13); older
    // v1 kernels say only that the limit was hit (memory.failcnt), which counts as one.
    const char* file = directory.version == 2 ? "memory.events" : "memory.oom_control";
    const auto text = read_at(directory.self.get(), directory.path, file);
    if (!text) {
      spdlog::warn("{}", text.error().message);
    } else if (const auto kills = keyed_number(text->value_or(""), "oom_kill")) {
      oom_kills += *kills;
    } else if (directory.version == 1) {
      const auto failures = read_at(directory.self.get(), directory.path, "memory.failcnt");
      if (failures && keyed_number("failcnt " + failures->value_or("0"), "failcnt").value_or(0) > 0) ++oom_kills;
    }
  }
  remove();
  return oom_kills;
}

void CgroupRun::remove() {
  for (Directory& directory : directories_) {
    // The jail's processes are gone when its init has been reaped (the PID namespace ends with it),
    // but not with --chroot-only, whose program may leave children: they are killed, as many times
    // as it takes (they may fork meanwhile), for up to a second.
    int error = 0;
    for (int attempt = 0; attempt < 1000; ++attempt) {
      if (::unlinkat(directory.parent.get(), directory.name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
        error = 0;
        break;
      }
      error = errno;
      if (error != EBUSY) break;
      // cgroup.kill (v2, Linux 5.14) kills every process in the cgroup at once.
      if (directory.version == 2 && write_value(directory.self.get(), "cgroup.kill", "1") == 0) {
      } else if (const auto procs = read_at(directory.self.get(), directory.path, "cgroup.procs"); procs && *procs) {
        for (const std::string_view line : split(**procs, '\n')) {
          pid_t pid = 0;
          if (std::from_chars(line.data(), line.data() + line.size(), pid).ec == std::errc() && pid > 0)
            ::kill(pid, SIGKILL);
        }
      }
      const timespec pause{0, 1000000};
      ::nanosleep(&pause, nullptr);
    }
    if (error != 0) spdlog::warn("{}: the run's cgroup is left behind: {}", directory.path, errno_text(error));
  }
  directories_.clear();
}

Result<CgroupRun> make_cgroup_run(const CgroupLimits& limits) {
  if (!limits.any()) return CgroupRun();
  const std::optional<std::string> mountinfo = TRY(read_file("/proc/self/mountinfo", kMaxCgroupFileSize, "mountinfo"));
  const std::optional<std::string> self_cgroup =
      TRY(read_file("/proc/self/cgroup", kMaxCgroupFileSize, "a cgroup file"));
  const auto read = [](const std::string& path) -> std::optional<std::string> {
    auto text = read_file(path, kMaxCgroupFileSize, "a cgroup file");
    return text ? *text : std::nullopt;
  };
  const std::vector<CgroupDirectory> plan =
      TRY(plan_cgroups(limits, mountinfo.value_or(""), self_cgroup.value_or(""), read));
  return CgroupRun::make(plan, limits);
}

}  // namespace jailbuild::run
