// The host's password and group databases (NSS: /etc/passwd, LDAP, ...), looked up re-entrantly.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "jailbuild/result.hpp"

namespace jailbuild {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;     // the primary group
  std::string home;  // as the database says, possibly empty
  std::string gecos;
  std::string shell;
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
};

std::optional<Account> account_by_uid(uid_t uid);
std::optional<Account> account_by_name(const std::string& name);

// The id of the group named `name`; nullopt if there is none.
std::optional<gid_t> group_id_by_name(const std::string& name);
// The group with id `gid`, or named `name`; nullopt if there is none. Members are not read: what
// jailbuild shows of a group is its name and id.
std::optional<GroupEntry> group_by_id(gid_t gid);
std::optional<GroupEntry> group_by_name(const std::string& name);

// The ids of every group `account` is in: its primary group first, then the groups that name it
// as a member (getgrouplist).
std::vector<gid_t> group_ids_of(const Account& account);

// One line of a generated /etc/passwd or /etc/group, the only way jailbuild writes one (a root's
// files, `run -u`'s view): "name:x:uid:gid:gecos:home:shell\n", "name:x:gid:MEMBERS\n". The
// password is always "x": no hash, whatever the host's NSS returns, leaves the host. A group's
// members are the ones given (none unless the caller decides the jail needs them). A field holding
// ':' or a newline (or a member holding ','), which would make another field, member or user, is
// an error naming it: the host's NSS (an LDAP directory, say) is trusted, but not to that point.
Result<std::string> passwd_line(const Account& account);
Result<std::string> group_line(const GroupEntry& group, const std::vector<std::string>& members = {});

}  // namespace jailbuild
