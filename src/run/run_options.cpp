// Turning `run`'s command line into RunOptions: bind specs, resource limits, capability names,
// host identities and the program's environment.
#include <sys/capability.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "jailbuild/run.hpp"
#include "jailbuild/types.hpp"
#include "util/users.hpp"

namespace jailbuild {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool has_dot_dot(std::string_view path) {
  for (std::size_t begin = 0; begin <= path.size();) {
    const std::size_t end = std::min(path.find('/', begin), path.size());
    if (path.substr(begin, end - begin) == "..") return true;
    begin = end + 1;
  }
  return false;
}

Result<void> check_target(const std::string& target, const std::string& spec) {
  if (target.empty() || target[0] != '/') return Error::usage(spec + ": the path inside the root must be absolute");
  if (has_dot_dot(target)) return Error::usage(spec + ": the path inside the root may not contain '..'");
  if (target.find_first_not_of('/') == std::string::npos)
    return Error::usage(spec + ": the root itself cannot be mounted over");
  return {};
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

struct LimitName {
  std::string_view name;
  int resource;
};
constexpr std::array<LimitName, 16> kLimits{{
    {"as", RLIMIT_AS},
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},
    {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},
    {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
}};

std::optional<rlim_t> parse_limit_value(std::string_view text) {
  if (text == "unlimited" || text == "infinity") return RLIM_INFINITY;
  return parse_number<rlim_t>(text);
}

Result<gid_t> group_id(const std::string& name) {
  if (auto number = parse_number<gid_t>(name)) return *number;
  const std::optional<gid_t> gid = group_id_by_name(name);
  if (!gid) return Error::usage("no group named '" + name + "' on the host");
  return *gid;
}

Result<uid_t> user_id(const std::string& name) {
  if (auto number = parse_number<uid_t>(name)) return *number;
  const std::optional<Account> account = account_by_name(name);
  if (!account) return Error::usage("no user named '" + name + "' on the host");
  return account->uid;
}

// A tmpfs size as tmpfs takes it, lower case; nullopt if it is not one (or is 0, which would mean
// no limit at all to tmpfs).
std::optional<std::string> tmpfs_size(const std::string& size) {
  const std::string value = lower(size);
  std::size_t digits = 0;
  while (digits < value.size() && value[digits] >= '0' && value[digits] <= '9') ++digits;
  const std::string unit = value.substr(digits);
  if (digits == 0 || digits > 18 || !(unit.empty() || unit == "k" || unit == "m" || unit == "g" || unit == "%") ||
      value.find_first_not_of('0') >= digits)
    return std::nullopt;
  return value;
}

// A mode as chmod's octal: one to four octal digits.
std::optional<mode_t> octal_mode(std::string_view text) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string_view::npos)
    return std::nullopt;
  mode_t mode = 0;
  for (const char digit : text) mode = static_cast<mode_t>(mode * 8U + static_cast<mode_t>(digit - '0'));
  return mode;
}

// One KEY=VALUE of a --tmpfs spec into `options`.
Result<void> set_tmpfs_option(TmpfsOptions& options, std::string_view option, const std::string& spec) {
  const std::size_t equals = option.find('=');
  const std::string key(option.substr(0, equals));
  const std::string value(equals == std::string_view::npos ? "" : option.substr(equals + 1));
  const auto bad = [&](const std::string& why) { return Error::usage("--tmpfs " + spec + ": " + why); };
  if (equals == std::string_view::npos || value.empty())
    return bad("'" + std::string(option) + "': expected KEY=VALUE (mode, uid, gid or size)");
  const auto once = [&](bool set) -> Result<void> {
    if (set) return bad(key + " is given twice");
    return {};
  };
  if (key == "mode") {
    TRY(once(options.mode.has_value()));
    options.mode = octal_mode(value);
    if (!options.mode) return bad("mode=" + value + ": expected an octal mode such as 0700 or 1777");
  } else if (key == "uid") {
    TRY(once(options.uid.has_value()));
    auto uid = user_id(value);
    if (!uid) return bad("uid=" + value + ": " + uid.error().message);
    options.uid = *uid;
  } else if (key == "gid") {
    TRY(once(options.gid.has_value()));
    auto gid = group_id(value);
    if (!gid) return bad("gid=" + value + ": " + gid.error().message);
    options.gid = *gid;
  } else if (key == "size") {
    TRY(once(options.size.has_value()));
    options.size = tmpfs_size(value);
    if (!options.size) return bad("size=" + value + ": expected a size such as 64m, 1g or 10% (not 0)");
  } else {
    return bad("unknown option '" + key + "' (mode, uid, gid or size)");
  }
  return {};
}

}  // namespace

Result<JailMount> parse_bind(JailMount::Kind kind, const std::string& spec) {
  const std::size_t colon = spec.find(':');
  JailMount mount{kind, spec.substr(0, colon), colon == std::string::npos ? spec : spec.substr(colon + 1), {}};
  if (mount.source.empty() || mount.source[0] != '/')
    return Error::usage(spec + ": the host path must be absolute (SRC:DST)");
  TRY(check_target(mount.target, spec));
  return mount;
}

Result<JailMount> parse_tmpfs(const std::string& spec) {
  const std::size_t colon = spec.find(':');
  JailMount mount{JailMount::Kind::Tmpfs, "", spec.substr(0, colon), {}};
  TRY(check_target(mount.target, "--tmpfs " + spec));
  if (colon == std::string::npos) return mount;
  // Each value is checked against what its key takes (a number, a name looked up, an octal mode, a
  // size), and only numbers and the checked size are ever written into tmpfs's options: a comma or
  // an '=' in a value cannot add an option of its own.
  const std::string_view options = std::string_view(spec).substr(colon + 1);
  for (std::size_t begin = 0; begin <= options.size();) {
    const std::size_t end = std::min(options.find(',', begin), options.size());
    TRY(set_tmpfs_option(mount.tmpfs, options.substr(begin, end - begin), spec));
    begin = end + 1;
  }
  return mount;
}

Result<std::string> parse_tmpfs_size(const std::string& size) {
  std::optional<std::string> value = tmpfs_size(size);
  if (!value) return Error::usage("--tmpfs-size " + size + ": expected a size such as 64m, 1g or 10% (not 0)");
  return std::move(*value);
}

Result<std::uint64_t> parse_memory_limit(const std::string& size) {
  const auto bad = [&size](const std::string& why) { return Error::usage("--memory " + size + ": " + why); };
  std::string_view digits = size;
  unsigned shift = 0;
  if (!digits.empty()) {
    switch (std::tolower(static_cast<unsigned char>(digits.back()))) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      default: break;
    }
    if (shift != 0) digits.remove_suffix(1);
  }
  const auto number = parse_number<std::uint64_t>(digits);
  if (!number || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return bad("expected bytes, or a number with k, m or g (32M, 1G)");
  // The cgroup files take bytes as a signed 64-bit number.
  if (*number > (std::uint64_t{1} << (62 - shift))) return bad("too large");
  const std::uint64_t bytes = *number << shift;
  if (bytes < (std::uint64_t{1} << 20)) return bad("at least 1M: the jail's init and the program need more");
  return bytes;
}

Result<std::uint64_t> parse_pids_limit(const std::string& count) {
  const auto number = parse_number<std::uint64_t>(count);
  if (!number || count.find_first_not_of("0123456789") != std::string::npos)
    return Error::usage("--pids " + count + ": expected a whole number of processes");
  if (*number < 2) return Error::usage("--pids " + count + ": at least 2, the jail's init and the program");
  if (*number > (std::uint64_t{1} << 31)) return Error::usage("--pids " + count + ": too large");
  return *number;
}

Result<double> parse_cpus(const std::string& fraction) {
  const auto bad = [&fraction](const std::string& why) { return Error::usage("--cpus " + fraction + ": " + why); };
  // Digits with at most one point: from_chars alone would also take "1e3", "inf" and "nan".
  const std::size_t point = fraction.find('.');
  const bool decimal = fraction.find_first_not_of("0123456789.") == std::string::npos &&
                       fraction.find_first_of("0123456789") != std::string::npos &&
                       (point == std::string::npos || fraction.find('.', point + 1) == std::string::npos);
  if (!decimal) return bad("expected a fraction of one CPU such as 0.5 or 2");
  // Read by hand, not with from_chars: its double version makes jailbuild load libm (fesetround).
  std::uint64_t whole = 0, tenths = 0, scale = 1;
  bool after_point = false;
  for (const char c : fraction) {
    if (c == '.') {
      after_point = true;
      continue;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (!after_point && whole <= 1024)
      whole = whole * 10 + digit;
    else if (after_point && scale < 1'000'000)
      tenths = tenths * 10 + digit, scale *= 10;
  }
  const std::optional<double> value = static_cast<double>(whole) + static_cast<double>(tenths) / static_cast<double>(scale);
  if (*value < 0.01) return bad("at least 0.01 (1 ms of CPU time per 100 ms)");
  if (*value > 1024) return bad("at most 1024");
  return *value;
}

Result<ResourceLimit> parse_resource_limit(const std::string& spec) {
  const std::size_t equals = spec.find('=');
  if (equals == std::string::npos) return Error::usage("--rlimit " + spec + ": expected NAME=VALUE or NAME=SOFT:HARD");
  ResourceLimit limit;
  limit.name = lower(spec.substr(0, equals));
  if (limit.name.starts_with("rlimit_")) limit.name.erase(0, 7);
  const auto known =
      std::find_if(kLimits.begin(), kLimits.end(), [&](const LimitName& l) { return l.name == limit.name; });
  if (known == kLimits.end()) {
    std::string names;
    for (const LimitName& l : kLimits) names += (names.empty() ? "" : ", ") + std::string(l.name);
    return Error::usage("--rlimit " + spec + ": unknown limit '" + limit.name + "' (known: " + names + ")");
  }
  limit.resource = known->resource;
  const std::string_view value = std::string_view(spec).substr(equals + 1);
  const std::size_t colon = value.find(':');
  const auto soft = parse_limit_value(value.substr(0, colon));
  const auto hard = colon == std::string_view::npos ? soft : parse_limit_value(value.substr(colon + 1));
  if (!soft || !hard) return Error::usage("--rlimit " + spec + ": a value is a number or 'unlimited'");
  if (*hard != RLIM_INFINITY && (*soft == RLIM_INFINITY || *soft > *hard))
    return Error::usage("--rlimit " + spec + ": the soft limit is above the hard one");
  limit.soft = *soft;
  limit.hard = *hard;
  return limit;
}

Result<std::uint16_t> parse_port(const std::string& port) {
  const std::optional<unsigned> number = parse_number<unsigned>(port);
  if (!number || *number == 0 || *number > 65535) return Error::usage(port + ": not a TCP port (1 to 65535)");
  return static_cast<std::uint16_t>(*number);
}

Result<int> parse_capability(const std::string& name) {
  std::string wanted = lower(name);
  if (!wanted.starts_with("cap_")) wanted = "cap_" + wanted;
  cap_value_t value = 0;
  // cap_from_name also takes numbers, and reads a name only up to a character that cannot be in
  // one ("setuid,setgid" is CAP_SETUID): a capability is asked for by its whole name.
  const bool name_characters = wanted.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
  if (!name_characters || parse_number<int>(name) || ::cap_from_name(wanted.c_str(), &value) != 0)
    return Error::usage("--cap " + name + ": no such capability (see capabilities(7))");
  return static_cast<int>(value);
}

Result<Identity> resolve_identity(const std::optional<std::string>& user, const std::optional<std::string>& group,
                                  const std::optional<std::vector<std::string>>& groups) {
  Identity identity{::getuid(), ::getgid(), {}, "/"};
  std::optional<Account> account;
  if (user) {
    if (auto number = parse_number<uid_t>(*user)) {
      identity.uid = *number;
      identity.gid = *number;  // a bare number has no primary group but its own, as with OpenBSD's chroot -u
      account = account_by_uid(*number);
    } else {
      // The account by name, not user_id's number looked up again: two names may share a uid,
      // and the home directory is the named one's.
      account = account_by_name(*user);
      if (!account) return Error::usage("no user named '" + *user + "' on the host");
      identity.uid = account->uid;
    }
    if (account) identity.gid = account->gid;
  } else {
    account = account_by_uid(identity.uid);
  }
  if (account && account->home.starts_with('/')) identity.home = account->home;
  if (group) identity.gid = TRY(group_id(*group));
  if (groups)
    for (const std::string& name : *groups) identity.groups.push_back(TRY(group_id(name)));
  return identity;
}

Result<std::vector<std::string>> jail_environment(const std::vector<std::string>& caller, bool keep_caller,
                                                  const Identity& identity,
                                                  const std::vector<std::string>& assignments) {
  std::vector<std::string> environment;
  auto set = [&](const std::string& assignment) {
    const std::string_view name = std::string_view(assignment).substr(0, assignment.find('=') + 1);
    const auto same =
        std::find_if(environment.begin(), environment.end(), [&](const std::string& e) { return e.starts_with(name); });
    if (same != environment.end())
      *same = assignment;
    else
      environment.push_back(assignment);
  };
  auto from_caller = [&](std::string_view name) {
    for (const std::string& entry : caller)
      if (entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=') set(entry);
  };
  if (keep_caller) {
    for (const std::string& entry : caller)
      if (entry.find('=') != std::string::npos) set(entry);
  } else {
    set(std::string("PATH=") + kDefaultPath);
    set("HOME=" + identity.home);
    from_caller("TERM");
  }
  for (const std::string& assignment : assignments) {
    const std::size_t equals = assignment.find('=');
    if (equals == 0 || equals == std::string::npos)
      return Error::usage("--env " + assignment + ": expected NAME=VALUE");
    set(assignment);
  }
  return environment;
}

}  // namespace jailbuild
