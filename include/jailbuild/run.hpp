// Entering a root: the isolation `jailbuild run` sets up, described as data, and the call that
// sets it up and runs a program inside.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild {

// What `--tmpfs DIR:mode=OCTAL,uid=U,gid=G,size=N` sets; what is unset takes the default: mode 0755,
// the program's uid and gid, --tmpfs-size. The ids are the jail's (as the program sees them), numbers
// already: names are looked up on the host when the option is parsed.
struct TmpfsOptions {
  std::optional<mode_t> mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<std::string> size;  // as parse_tmpfs_size returns it
};

// A host path or a fresh tmpfs made visible inside the jail (--bind, --ro-bind, --tmpfs).
struct JailMount {
  enum class Kind { Bind, ReadOnlyBind, Tmpfs };
  Kind kind = Kind::Bind;
  std::string source;  // host path; empty for a tmpfs
  std::string target;  // absolute path inside the root
  TmpfsOptions tmpfs;  // for a tmpfs
};

struct ResourceLimit {
  std::string name;  // as given, lower case: "nofile"
  int resource = 0;  // RLIMIT_*
  rlim_t soft = 0;
  rlim_t hard = 0;
};

// Who the program runs as, looked up on the host before entering (never in the root's NSS files).
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups; empty unless asked for
  std::string home;           // HOME for the program: the user's home directory, "/" if unknown
};

enum class Network { Host, None };

// What the run's cgroup bounds (--memory, --pids, --cpus); unset is unbounded, and with none set no
// cgroup is made. See src/run/cgroups.cpp.
struct CgroupLimits {
  std::optional<std::uint64_t> memory;  // bytes, swap included where the kernel can count it
  std::optional<std::uint64_t> pids;    // processes and threads, the jail's init included
  std::optional<double> cpus;           // CPU time per wall time: 0.5 is half of one CPU

  bool any() const { return memory || pids || cpus; }

  // --cpus as the kernel takes it (cgroup v2's cpu.max, v1's cfs files, OCI's linux.resources.cpu):
  // a quota of CPU time in each period, the kernel's default period of 100 ms.
  static constexpr std::uint64_t kCpuPeriodMicroseconds = 100000;
  std::uint64_t cpu_quota_microseconds() const {
    // Rounded by hand: std::llround would make jailbuild load libm, for one call (see
    // DepsCommand.JailbuildItselfLoadsOnlyTheCLibrary); the value is positive.
    return static_cast<std::uint64_t>(cpus.value_or(0) * static_cast<double>(kCpuPeriodMicroseconds) + 0.5);
  }
};

// --seccomp traced or allowlist:FILE: the only system calls the jail may make, refused with EPERM
// otherwise, in a filter loaded after the default one (which still refuses what it refuses). See
// include/jailbuild/seccomp_allowlist.hpp.
struct SeccompAllowlist {
  std::string origin;              // where the list came from, for messages: a file's path
  std::vector<std::string> calls;  // system call names (the baseline every allowlist holds is not listed)
  std::string filter;              // the compiled BPF program, as bytes; empty: compiled when the run starts
  bool operator==(const SeccompAllowlist&) const = default;
};

struct RunOptions {
  std::string root;
  std::string program;                 // absolute inside the root, or a name looked up in its PATH
  std::vector<std::string> arguments;  // after the program name
  Identity identity;
  // The user was named with -u: if the root's /etc/passwd or /etc/group lacks the run's user or
  // groups, the jail sees, for this run only, a generated view holding them.
  bool user_named = false;
  std::vector<int> capabilities;         // CAP_* kept (ambient), all others dropped
  // The program's whole environment, "K=V". LANG only when the caller gave it (--env, --keep-env):
  // otherwise, with lang_from_root, run_in_jail sets it to a locale the root holds (see
  // src/run/root_adjustments.cpp).
  std::vector<std::string> environment;
  bool lang_from_root = true;  // false with --keep-env: the caller's environment is passed as it is
  std::string caller_lang;     // the caller's LANG, the default's first choice if the root holds it
  std::string cwd = "/";                 // inside the root
  bool writable = false;                 // the root mounted read-write
  std::vector<JailMount> mounts;         // in order, after /proc, /dev and /tmp
  bool seccomp = true;
  std::optional<SeccompAllowlist> seccomp_allowlist;  // only with seccomp
  Network network = Network::Host;
  bool chroot_only = false;  // chroot(2) and no namespaces
  // add --trace: `root` is the host's own "/", which a jail otherwise never is; the workload sees
  // the host's entries read-only (unless writable) through the same mirror as any root.
  bool host_view = false;
  // With a root caller: no user namespace, so the jail's uid 0 is the host's root (see
  // src/run/user_namespace.cpp for what the namespace changes).
  bool host_root = false;
  std::string tmpfs_size = "256m";  // size= of /tmp, /dev/shm and --tmpfs: tmpfs's syntax
  std::vector<ResourceLimit> limits;
  CgroupLimits cgroup_limits;
  // Landlock (src/run/landlock.hpp): on by default at the kernel's best ABI; the ports the jail may
  // connect to and bind (TCP), each list restricting only when given.
  bool landlock = true;
  std::optional<std::vector<std::uint16_t>> allow_connect;
  std::optional<std::vector<std::uint16_t>> allow_bind;
};

// Exit statuses of `run` itself, as chroot(8) and env(1) use them; any other is the program's own
// (128+N when signal N killed it).
inline constexpr int kRunFailed = 125;         // jailbuild could not set the jail up
inline constexpr int kRunCannotExecute = 126;  // found but not executable
inline constexpr int kRunNotFound = 127;       // no such program in the root

// ---- turning the command line into RunOptions (no side effects but NSS look-ups) ----

// "SRC:DST" or "PATH" (the same path on both sides). Both absolute; DST may not contain "..".
Result<JailMount> parse_bind(JailMount::Kind kind, const std::string& spec);
// "DIR" or "DIR:KEY=VALUE,..." with the keys mode (octal), uid and gid (numbers, or names looked up
// on the host) and size (as --tmpfs-size), each at most once. Every value is checked to be what its
// key takes, so nothing of a spec reaches tmpfs's options but numbers and a size.
Result<JailMount> parse_tmpfs(const std::string& spec);

// A tmpfs size as tmpfs takes it: a number of bytes with an optional k, m or g, or a percentage
// of memory ("64m", "1g", "10%"); returned as given, lower case.
Result<std::string> parse_tmpfs_size(const std::string& size);

// "NAME=VALUE" or "NAME=SOFT:HARD"; NAME as in setrlimit without RLIMIT_ (nofile, NOFILE);
// a value is a number or "unlimited".
Result<ResourceLimit> parse_resource_limit(const std::string& spec);

// --memory: bytes, or a number with k, m or g (powers of 1024, either case): "32M", "64m", "1G",
// "1048576". At least 1 MiB: below it the jail's init alone could not start.
Result<std::uint64_t> parse_memory_limit(const std::string& size);

// --pids: a whole number of processes (threads count), at least 2: the jail's init and the program.
Result<std::uint64_t> parse_pids_limit(const std::string& count);

// --cpus: a decimal fraction of one CPU ("0.5", "2"), from 0.01 (1 ms per 100 ms period, the least
// the kernel takes) to 1024.
Result<double> parse_cpus(const std::string& fraction);

// A TCP port for --allow-connect and --allow-bind: 1 to 65535.
Result<std::uint16_t> parse_port(const std::string& port);

// "NET_BIND_SERVICE", "cap_net_bind_service": the capability's number. One name: a list is split
// by the command line (`--cap A,B`).
Result<int> parse_capability(const std::string& name);

// Looks user, group and groups (names or numbers) up on the host. Without a user: the caller's
// real ids. Without a group: the user's primary group. Without groups: none.
Result<Identity> resolve_identity(const std::optional<std::string>& user, const std::optional<std::string>& group,
                                  const std::optional<std::vector<std::string>>& groups);

// The program's environment: PATH, HOME and TERM (from `caller` if set), or all of `caller` with
// keep_caller; then each of `assignments` ("K=V") set over them. LANG is not taken from `caller`
// here: run_in_jail sets it to a locale the root holds, unless this environment has one.
Result<std::vector<std::string>> jail_environment(const std::vector<std::string>& caller, bool keep_caller,
                                                  const Identity& identity,
                                                  const std::vector<std::string>& assignments);

// ---- running ----

// Sets the jail up, runs the program in it and returns the status jailbuild should exit with,
// passing on the signals jailbuild gets meanwhile. Setup failures are reported on stderr, with
// the path and the reason, and return kRunFailed.
int run_in_jail(const RunOptions& options);

}  // namespace jailbuild
