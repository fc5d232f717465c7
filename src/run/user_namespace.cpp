// The jail's user namespace: which host ids the jail's ids are, and the id maps that say so.
//
// When the caller is root, the jail's uid 0 and gid 0 are not the host's: they map to the first id
// of a range reserved for jailbuild in /etc/subuid and /etc/subgid (as rootless podman and LXC
// reserve theirs), an id that owns nothing on the host. Capabilities in the namespace then act
// only on what the namespace owns, so a jailed root that gets hold of a host file (through
// /proc/self/exe, a device node, a --writable root) cannot chmod or write it, and a file it
// creates belongs to that unprivileged id, setuid bit or not. The ids -u, -g and --groups name,
// other than 0, map to themselves: `-u www-data` is the host's www-data, as with OpenBSD's
// chroot -u, so a --bind of a directory www-data owns stays writable. No other host id is
// mapped: the jail cannot become anyone else. --host-root skips the namespace.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <sstream>

#include <spdlog/spdlog.h>

#include "jail_setup.hpp"
#include "util/files.hpp"
#include "util/io.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::run {
namespace {

constexpr const char* kRangeOwner = "jailbuild";
// Where useradd starts normal users' ranges (SUB_UID_MIN), and the size it gives each: every id a
// jail's files or processes could carry fits.
constexpr std::uint64_t kFirstSubordinateId = 100000;
constexpr std::uint64_t kRangeSize = 65536;
constexpr std::uint64_t kFileSizeLimit = std::uint64_t{1} << 20;

struct Range {
  std::string owner;
  std::uint64_t start = 0;
  std::uint64_t count = 0;
};

// "owner:start:count" lines; anything else (comments, malformed lines) is skipped, as shadow's
// own parser does.
std::vector<Range> parse_ranges(const std::string& text) {
  std::vector<Range> ranges;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    Range range{line.substr(0, first)};
    try {
      std::size_t used = 0;
      range.start = std::stoull(line.substr(first + 1, second - first - 1), &used);
      range.count = std::stoull(line.substr(second + 1), &used);
    } catch (const std::exception&) { continue; }
    ranges.push_back(range);
  }
  return ranges;
}

const Range* owned_range(const std::vector<Range>& ranges) {
  for (const Range& range : ranges)
    if (range.owner == kRangeOwner && range.count >= 1) return &range;
  return nullptr;
}

// The lowest start at or above kFirstSubordinateId where kRangeSize ids overlap no range.
std::uint64_t free_start(std::vector<Range> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
  std::uint64_t start = kFirstSubordinateId;
  for (const Range& range : ranges)
    if (range.start < start + kRangeSize && start < range.start + range.count) start = range.start + range.count;
  return start;
}

// jailbuild's range in `file` (/etc/subuid or /etc/subgid), appended if there is none. The line is
// appended with one O_APPEND write, which no concurrent reader sees half-done; two jailbuild runs
// racing to add one both use the first line in the file.
Result<std::uint64_t> jailbuild_range_start(const std::string& file) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto text = read_file(file, kFileSizeLimit, "subordinate id file");
    if (!text) return text.error();
    const std::vector<Range> ranges = parse_ranges(text->value_or(""));
    if (const Range* range = owned_range(ranges)) return range->start;
    if (attempt == 1) break;
    const std::string line =
        std::string(kRangeOwner) + ":" + std::to_string(free_start(ranges)) + ":" + std::to_string(kRangeSize) + "\n";
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd.valid()) return system_error(file + ": add jailbuild's range", errno);
    // A file that does not end in a newline would join the new line to its last one.
    const bool needs_newline = text->has_value() && !(*text)->empty() && (*text)->back() != '\n';
    const std::string written = (needs_newline ? "\n" : "") + line;
    if (const int error = write_all(fd.get(), written); error != 0)
      return system_error(file + ": add jailbuild's range", error);
    if (const int error = fd.close(); error != 0) return system_error(file + ": add jailbuild's range", error);
    spdlog::info("{}: reserved {} ids for the jails' root from {}", file, kRangeSize, line.substr(0, line.size() - 1));
  }
  return Error{file + ": no line for jailbuild after adding one"};
}

void add_mapping(std::vector<IdMapping>& map, unsigned id) {
  if (id == 0) return;
  for (const IdMapping& mapping : map)
    if (mapping.inside == id) return;
  map.push_back({id, id, 1});
}

std::string map_text(std::vector<IdMapping> map) {
  std::sort(map.begin(), map.end(), [](const IdMapping& a, const IdMapping& b) { return a.inside < b.inside; });
  std::string text;
  for (const IdMapping& mapping : map)
    text += std::to_string(mapping.inside) + " " + std::to_string(mapping.outside) + " " +
            std::to_string(mapping.count) + "\n";
  return text;
}

// "0 100000 1\n1000 1000 1\n" as "0 100000 1, 1000 1000 1", for the log.
std::string one_line(std::string map) {
  if (!map.empty() && map.back() == '\n') map.pop_back();
  for (std::size_t at = map.find('\n'); at != std::string::npos; at = map.find('\n', at)) map.replace(at, 1, ", ");
  return map;
}

Result<void> write_proc_file(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return failed(path);
  // An id map must be written in one write(2): the kernel takes the first write only.
  const ssize_t written = ::write(fd.get(), text.data(), text.size());
  if (written != static_cast<ssize_t>(text.size())) return failed(path + ": write \"" + text + "\"");
  if (const int error = fd.close(); error != 0) return system_error(path, error);
  return {};
}

}  // namespace

Result<UserNamespace> plan_user_namespace(const Identity& identity) {
  UserNamespace plan;
  if (::geteuid() != 0) {
    // A normal user may map only itself, and only with setgroups denied (else it could drop a
    // group that denies it access).
    plan.uids.push_back({::getuid(), ::getuid(), 1});
    plan.gids.push_back({::getgid(), ::getgid(), 1});
    plan.deny_setgroups = true;
    return plan;
  }
  auto uid_start = jailbuild_range_start("/etc/subuid");
  if (!uid_start) return uid_start.error();
  auto gid_start = jailbuild_range_start("/etc/subgid");
  if (!gid_start) return gid_start.error();
  plan.root_uid = static_cast<uid_t>(*uid_start);
  plan.root_gid = static_cast<gid_t>(*gid_start);
  plan.uids.push_back({0, plan.root_uid, 1});
  plan.gids.push_back({0, plan.root_gid, 1});
  add_mapping(plan.uids, identity.uid);
  add_mapping(plan.gids, identity.gid);
  for (gid_t group : identity.groups) add_mapping(plan.gids, group);
  // One host id cannot stand for two ids of the jail.
  for (const IdMapping& mapping : plan.uids)
    if (mapping.inside != 0 && mapping.outside == plan.root_uid)
      return Error::usage("-u " + std::to_string(mapping.inside) +
                          ": that host id is the jails' uid 0 (jailbuild's range in /etc/subuid)");
  for (const IdMapping& mapping : plan.gids)
    if (mapping.inside != 0 && mapping.outside == plan.root_gid)
      return Error::usage("group " + std::to_string(mapping.inside) +
                          ": that host id is the jails' gid 0 (jailbuild's range in /etc/subgid)");
  return plan;
}

Result<void> check_tmpfs_owners(const std::vector<JailMount>& mounts, const UserNamespace& plan) {
  const auto mapped = [](const std::vector<IdMapping>& map, unsigned id) {
    return std::any_of(map.begin(), map.end(), [&](const IdMapping& m) { return id - m.inside < m.count; });
  };
  const std::string which =
      plan.deny_setgroups ? "only yours, as a normal user"
                          : "only 0 and the ids of -u, -g and --groups; --host-root keeps the host's ids";
  for (const JailMount& mount : mounts) {
    if (mount.kind != JailMount::Kind::Tmpfs) continue;
    if (mount.tmpfs.uid && !mapped(plan.uids, *mount.tmpfs.uid))
      return Error::usage("--tmpfs " + mount.target + ": uid " + std::to_string(*mount.tmpfs.uid) +
                          " is not an id of the jail (its user namespace maps " + which + ")");
    if (mount.tmpfs.gid && !mapped(plan.gids, *mount.tmpfs.gid))
      return Error::usage("--tmpfs " + mount.target + ": gid " + std::to_string(*mount.tmpfs.gid) +
                          " is not an id of the jail (its user namespace maps " + which + ")");
  }
  return {};
}

Result<void> write_id_maps(pid_t child, const UserNamespace& plan) {
  const std::string proc = "/proc/" + std::to_string(child) + "/";
  if (plan.deny_setgroups) TRY(write_proc_file(proc + "setgroups", "deny"));
  const std::string uids = map_text(plan.uids), gids = map_text(plan.gids);
  if (spdlog::should_log(spdlog::level::trace))
    spdlog::trace("run: jailbuild: uid_map \"{}\", gid_map \"{}\"", one_line(uids), one_line(gids));
  TRY(write_proc_file(proc + "uid_map", uids));
  return write_proc_file(proc + "gid_map", gids);
}

Result<void> become_namespace_root() {
  if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) return failed("become the user namespace's root");
  return {};
}

}  // namespace jailbuild::run
