// The host's password and group databases (NSS: /etc/passwd, LDAP, ...), looked up re-entrantly.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

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

}  // namespace jailbuild
