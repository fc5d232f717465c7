// The steps that turn a freshly cloned process into a jailed one, one module per kernel facility
// as nsjail has them: the file system view (jail_mounts.cpp, mount_plan.cpp), the user namespace,
// the process's session and descriptors (process.cpp), the network, the credentials, the system
// call filter, the jail's init. Each facility lists its parent-side steps (jailbuild, on the host,
// before the child goes on) apart from its child-side ones (in the new namespaces); runner.cpp
// runs them in order. Each checks every system call and returns what failed, with the path and
// the reason.
#pragma once

#include <linux/filter.h>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "jailbuild/result.hpp"
#include "jailbuild/run.hpp"
#include "mount_plan.hpp"
#include "util/unique_fd.hpp"
#include "util/users.hpp"

namespace jailbuild::trace {
class SyscallTracer;
}

namespace jailbuild {
// run_in_jail with every process of the jail traced by `tracer` (attached before the child goes
// on, its filter loaded before the default one): add --trace, run --report-missing.
int run_in_jail(const RunOptions& options, trace::SyscallTracer* tracer);
}  // namespace jailbuild

namespace jailbuild::run {

// "WHAT: reason" for the failed system call that set errno.
Error failed(const std::string& what);

// ---- the file system (jail_mounts.cpp; the operations themselves: mount_plan.hpp) -------------

// Child side, before it takes the jail's ids. Read-only, the root's top-level entries but proc,
// dev and tmp (with a warning if its tmp holds files); with --writable, none (only the warning).
// As the host's root, whose ids the user namespace does not map, the child still owns a root of
// mode 0700, which the jail's root could not even list.
Result<std::vector<TopLevelEntry>> read_top_level(int root_fd, const RunOptions& options);

// Child side, in the new mount namespace: the mounts plan_mounts() lists for `options`, carried
// out in order over the root `root_fd` holds, then pivot_root into the new top level and the
// host's root detached. Read-only, the root is never written to: a mount point of options.mounts
// missing below one of its directories cannot be made, and the error says so. Mount points are
// never made or reached through a symlink.
// `etc_files`, if any, are laid read-only over the jail's /etc (see MountKind::Generated).
Result<void> enter_new_root(const RunOptions& options, int root_fd, const std::vector<TopLevelEntry>& top_level,
                            bool in_user_namespace, const std::vector<GeneratedFile>& etc_files = {});

// ---- what a run adapts to its root, read through the root's descriptor (root_adjustments.cpp) ---

// The program's environment for the root `root_fd` holds: options.environment, with LANG as the
// caller gave it (-v warns if the root lacks that locale) or else set to one the root holds: the
// caller's LANG, C.UTF-8 (if the root has /usr/lib/locale/C.utf8), or C. -v says which and why.
std::vector<std::string> environment_for_root(int root_fd, const RunOptions& options);

// With -u (options.user_named): if the root's /etc/passwd or /etc/group lacks the run's user or
// groups, the two files the jail should see for this run, the root's lines plus the host's (NSS)
// lines for the run's user and groups, root, nobody and nogroup; none otherwise, and none with
// --chroot-only (-v says the names are missing) or where no overlay can go (/etc a symlink, or
// missing in a --writable root). A name or field holding ':' or a newline is an error.
Result<std::vector<GeneratedFile>> user_database_for_root(int root_fd, const RunOptions& options);

// The lines themselves are made by passwd_line and group_line (util/users.hpp), without members.

// ---- the user namespace (user_namespace.cpp) --------------------------------------------------

// One line of an id map: `count` ids from `inside` (in the namespace) are `outside` on the host.
struct IdMapping {
  unsigned inside = 0;
  unsigned outside = 0;
  unsigned count = 1;
};

// The jail's user namespace: see user_namespace.cpp for which ids map to what, and why.
struct UserNamespace {
  std::vector<IdMapping> uids;
  std::vector<IdMapping> gids;
  bool deny_setgroups = false;  // required when a normal user writes the maps
  uid_t root_uid = 0;           // the host ids of the jail's uid and gid 0 (root callers only)
  gid_t root_gid = 0;
};

// Parent side, before the clone. The maps for running as `identity`: a normal caller maps only
// itself; root maps the jail's 0 to jailbuild's range in /etc/subuid and /etc/subgid (added if
// missing) and the identity's other ids to themselves.
Result<UserNamespace> plan_user_namespace(const Identity& identity);

// Parent side, before the clone: each --tmpfs uid= and gid= must be an id of the namespace `plan`
// maps, since the kernel reads them as its ids; a usage error naming the tmpfs otherwise.
Result<void> check_tmpfs_owners(const std::vector<JailMount>& mounts, const UserNamespace& plan);

// Parent side, after the clone: writes the maps of `child`'s new user namespace.
Result<void> write_id_maps(pid_t child, const UserNamespace& plan);

// Child side: takes the namespace's uid and gid 0 (jailbuild's unprivileged host ids when root
// runs the jail), before anything is made, so that nothing is made as the host's root.
Result<void> become_namespace_root();

// ---- the process: session, keyring, descriptors (process.cpp) ---------------------------------

// Child side: a session of its own and a fresh session keyring.
Result<void> detach_from_caller();

// Child side: closes every descriptor above 2 but `keep`.
Result<void> close_all_but(std::initializer_list<int> keep);

// ---- the network (network.cpp) ----------------------------------------------------------------

// Child side: brings up the loopback interface of a new network namespace.
Result<void> bring_up_loopback();

// ---- the credentials (credentials.cpp) --------------------------------------------------------

// Child side: setrlimit for each limit; before the identity changes, so that raising a hard limit
// can work.
Result<void> apply_limits(const std::vector<ResourceLimit>& limits);

// Child side: capabilities outside `keep` leave the bounding set; then setgroups (unless
// `setgroups_denied`, as in a user namespace a normal user made), setresgid, setresuid; `keep`
// stays in the permitted, effective, inheritable and ambient sets so that it survives execve;
// finally PR_SET_NO_NEW_PRIVS.
Result<void> switch_identity(const Identity& identity, const std::vector<int>& keep, bool setgroups_denied);

// ---- cgroups (cgroups.cpp) ----------------------------------------------------------------------

enum class CgroupController { Memory, Pids, Cpu };

// "memory", "pids", "cpu": the controller's name in /proc/self/cgroup, mountinfo and cgroup.controllers.
const char* controller_name(CgroupController controller);

// One directory the run's cgroup is made of: in the unified (v2) hierarchy, or in one v1 hierarchy
// (one per controller, or shared by co-mounted ones), each holding the controllers it bounds.
struct CgroupDirectory {
  int version = 2;
  // On the host, absolute: where the run's directory is made. v1: jailbuild's own cgroup in that
  // hierarchy. v2: its parent, since a v2 cgroup that holds processes (jailbuild's) cannot hand
  // controllers to children; the run's cgroup is a sibling of jailbuild's.
  std::string parent;
  std::vector<CgroupController> controllers;
  bool operator==(const CgroupDirectory&) const = default;
};

// Reads a small file of the cgroup file system by its path; nullopt if it does not exist.
using CgroupFileReader = std::function<std::optional<std::string>(const std::string& path)>;

// Where the run's cgroup goes for `limits`, decided per controller from the text of
// /proc/self/mountinfo and /proc/self/cgroup (as nsjail does): v2 if the unified hierarchy offers
// the controller where the run's cgroup would go (its parent's cgroup.controllers, through
// `read`), else the v1 hierarchy mounted with it, under jailbuild's own cgroup there. An error
// naming the option and the controller if neither has it. Nothing but `read` touches the system.
Result<std::vector<CgroupDirectory>> plan_cgroups(const CgroupLimits& limits, std::string_view mountinfo,
                                                  std::string_view self_cgroup, const CgroupFileReader& read);

// The run's cgroup, from before the clone until the jail's processes are gone: made (with its
// limits written) by make, joined by the child through add, removed by finish or, on any other
// way out, by the destructor. Its directories are "jailbuild-PID" (jailbuild's pid).
class CgroupRun {
 public:
  struct Directory {
    int version = 2;
    std::string path;  // for messages
    std::string name;  // in the parent
    UniqueFd parent;   // O_PATH, for the rmdir
    UniqueFd self;     // O_PATH, for openat of its files
    UniqueFd tasks;    // v1: its tasks file, open for writing, through which the child joins itself
    std::vector<CgroupController> controllers;
  };

  CgroupRun() = default;
  CgroupRun(CgroupRun&&) = default;
  CgroupRun& operator=(CgroupRun&& other) noexcept;
  CgroupRun(const CgroupRun&) = delete;
  CgroupRun& operator=(const CgroupRun&) = delete;
  ~CgroupRun();

  // Parent side, before the clone: each directory of `plan` made and its limits written (without
  // root, only where the kernel lets the caller: a delegated v2 subtree; an error naming the
  // file and why otherwise). Swap is bounded to nothing where the kernel has the knob.
  static Result<CgroupRun> make(const std::vector<CgroupDirectory>& plan, const CgroupLimits& limits);

  bool empty() const { return directories_.empty(); }
  const std::vector<Directory>& directories() const { return directories_; }

  // Parent side, after the clone, while the child waits: `pid` into each v2 directory's
  // cgroup.procs.
  Result<void> add(pid_t pid) const;

  // Child side, its first step: the calling thread (the child is single-threaded) into each v1
  // directory, "0" written to the tasks file jailbuild opened. Moving another process takes the
  // kernel's global threadgroup lock for writing, which waits for an RCU grace period (0.3 to
  // 0.6 ms a hierarchy here); a thread moving itself does not take it (0.05 ms).
  Result<void> join_v1() const;
  bool has_v1() const;
  bool has_v2() const;

  // Once the jail's child has been reaped: how many processes the memory limit killed (the OOM
  // killer's count in memory.oom_control or memory.events), then the directories removed, any
  // process still in them (--chroot-only leaves the program's children behind) killed first.
  // A directory that cannot be removed is a warning naming it.
  std::uint64_t finish();

 private:
  void remove();
  std::vector<Directory> directories_;
};

// Parent side: the plan for `limits` on this machine (see plan_cgroups), made (see CgroupRun::make);
// an empty CgroupRun when no limit is asked for.
Result<CgroupRun> make_cgroup_run(const CgroupLimits& limits);

// ---- the jail's init (sealed_init.cpp) --------------------------------------------------------

// Parent side, before the clone. A sealed memfd holding the jail's init program
// (init/jail_init.c), close-on-exec: executed with fexecve once the jail is set up, so that no
// process in the jail runs jailbuild's own binary.
Result<UniqueFd> sealed_init();

// ---- the system call filter (seccomp_filter.cpp) ----------------------------------------------

// Child side: loads the denylist (see seccomp_policy.cpp) for this process and its children.
Result<void> load_seccomp_filter();
// The denylist's BPF program as embedded in jailbuild when it was built.
std::span<const sock_filter> default_seccomp_program();
// Child side, after the denylist when the jail is traced: the trace filter, which stops the
// workload for jailbuild's tracer on every call outside the allowlist's baseline (it reads the paths
// of src/trace/traced_calls.hpp and records the numbers of all) and allows the rest.
Result<void> load_trace_filter();
// The trace filter's BPF program as embedded in jailbuild when it was built.
std::span<const sock_filter> trace_seccomp_program();
// Child side, last: an allowlist's filter (--seccomp traced or allowlist:FILE), the BPF program
// compile_allowlist made, as bytes. The kernel checks the program; a bad one fails the run.
Result<void> load_allowlist_filter(std::string_view program);

// ---- an allowlist's refusals, said by name with -v (seccomp_notify.cpp) ------------------------

// Parent side, before the clone: `program` (an allowlist's filter) with its refusals (EPERM) made
// SECCOMP_RET_USER_NOTIF, so that jailbuild hears of each and answers it with the same EPERM.
std::string notifying_refusals(std::string program);

// Child side, last: loads `program` (notifying_refusals') with a listener, writes the listener's
// number on `number_fd` and waits on `answer_fd` until jailbuild has taken it (pidfd_getfd); then
// closes all three. Only the allowlist's baseline calls are made on the way.
Result<void> load_notifying_allowlist(std::string_view program, int number_fd, int answer_fd);

// Parent side: takes the child's listener and answers every notification with EPERM, on a thread
// of its own, saying each call's name once (spdlog info, -v); stops when the jail has no process
// left or when stopped. The program sees what it would see without -v.
class RefusalReporter {
 public:
  explicit RefusalReporter(std::string origin);  // the allowlist's origin, for the message
  ~RefusalReporter();
  RefusalReporter(const RefusalReporter&) = delete;
  RefusalReporter& operator=(const RefusalReporter&) = delete;

  // Before the clone: the pipe the child writes the listener's number on; returns its write end.
  Result<int> open_channel();
  // After the clone: serves `child`, answering the handover on `answer_fd` (the holding pipe).
  void start(pid_t child, int answer_fd);
  // Once the jail has ended; after it, the jail's leftover processes (--chroot-only has no PID
  // namespace to end them) get ENOSYS for a refused call, as the kernel answers without a listener.
  void stop();

 private:
  void serve(pid_t child, int answer_fd);

  std::string origin_;
  UniqueFd number_read_, number_write_, stop_;
  std::thread thread_;
};

}  // namespace jailbuild::run
