#include "util/users.hpp"

#include <cerrno>
#include <cstddef>

#include <grp.h>
#include <pwd.h>

#include <algorithm>

namespace jailbuild {
namespace {

// getpwnam_r and friends want a buffer whose size they cannot tell in advance: doubled on ERANGE,
// up to 1 MiB.
template <typename Entry, typename Lookup>
std::optional<Entry> look_up(Lookup lookup, std::string& buffer) {
  Entry entry{};
  Entry* found = nullptr;
  for (buffer.resize(1024);; buffer.resize(buffer.size() * 2)) {
    const int error = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (error != ERANGE || buffer.size() > (std::size_t{1} << 20)) break;
  }
  if (found == nullptr) return std::nullopt;
  return entry;
}

std::optional<Account> account_from(const std::optional<struct passwd>& entry) {
  if (!entry) return std::nullopt;
  Account account;
  account.name = entry->pw_name != nullptr ? entry->pw_name : "";
  account.uid = entry->pw_uid;
  account.gid = entry->pw_gid;
  account.home = entry->pw_dir != nullptr ? entry->pw_dir : "";
  account.gecos = entry->pw_gecos != nullptr ? entry->pw_gecos : "";
  account.shell = entry->pw_shell != nullptr ? entry->pw_shell : "";
  return account;
}

std::optional<GroupEntry> group_from(const std::optional<struct group>& entry) {
  if (!entry) return std::nullopt;
  return GroupEntry{entry->gr_name != nullptr ? entry->gr_name : "", entry->gr_gid};
}

// A field of a generated line: a ':' or a newline would make another field or another user.
Result<void> check_field(const std::string& field, const std::string& what) {
  if (field.find_first_of(":\n") != std::string::npos)
    return Error{what + " '" + field + "' holds ':' or a newline: refused as a line of the jail's user database"};
  return {};
}

}  // namespace

std::optional<Account> account_by_uid(uid_t uid) {
  std::string buffer;
  return account_from(look_up<struct passwd>(
      [&](struct passwd* p, char* b, std::size_t n, struct passwd** r) { return ::getpwuid_r(uid, p, b, n, r); },
      buffer));
}

std::optional<Account> account_by_name(const std::string& name) {
  std::string buffer;
  return account_from(look_up<struct passwd>([&](struct passwd* p, char* b, std::size_t n,
                                                 struct passwd** r) { return ::getpwnam_r(name.c_str(), p, b, n, r); },
                                             buffer));
}

std::optional<gid_t> group_id_by_name(const std::string& name) {
  const auto group = group_by_name(name);
  if (!group) return std::nullopt;
  return group->gid;
}

std::optional<GroupEntry> group_by_name(const std::string& name) {
  std::string buffer;
  return group_from(look_up<struct group>(
      [&](struct group* g, char* b, std::size_t n, struct group** r) { return ::getgrnam_r(name.c_str(), g, b, n, r); },
      buffer));
}

std::optional<GroupEntry> group_by_id(gid_t gid) {
  std::string buffer;
  return group_from(look_up<struct group>(
      [&](struct group* g, char* b, std::size_t n, struct group** r) { return ::getgrgid_r(gid, g, b, n, r); },
      buffer));
}

std::vector<gid_t> group_ids_of(const Account& account) {
  // getgrouplist says how many there are when the array is too small; grown until they fit.
  std::vector<gid_t> ids(16);
  for (;;) {
    int count = static_cast<int>(ids.size());
    const int found = ::getgrouplist(account.name.c_str(), account.gid, ids.data(), &count);
    if (found >= 0 || count <= static_cast<int>(ids.size()) || ids.size() > 65536) {
      ids.resize(found >= 0 ? static_cast<std::size_t>(found) : std::min(ids.size(), static_cast<std::size_t>(count)));
      break;
    }
    ids.resize(static_cast<std::size_t>(count));
  }
  // Its primary group first (getgrouplist puts it there on glibc, but does not promise to).
  std::erase(ids, account.gid);
  ids.insert(ids.begin(), account.gid);
  return ids;
}

Result<std::string> passwd_line(const Account& account) {
  for (const std::string* field : {&account.name, &account.gecos, &account.home, &account.shell})
    TRY(check_field(*field, "user " + account.name + ":"));
  return account.name + ":x:" + std::to_string(account.uid) + ":" + std::to_string(account.gid) + ":" + account.gecos +
         ":" + account.home + ":" + account.shell + "\n";
}

Result<std::string> group_line(const GroupEntry& group, const std::vector<std::string>& members) {
  TRY(check_field(group.name, "group"));
  std::string line = group.name + ":x:" + std::to_string(group.gid) + ":";
  for (std::size_t i = 0; i < members.size(); ++i) {
    TRY(check_field(members[i], "member of group " + group.name + ":"));
    if (members[i].find(',') != std::string::npos)
      return Error{"member of group " + group.name + ": '" + members[i] + "' holds ','"};
    line += (i == 0 ? "" : ",") + members[i];
  }
  return line + "\n";
}

}  // namespace jailbuild
