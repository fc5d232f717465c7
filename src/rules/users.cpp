// Rule `users`: a program that names users or groups (`id`, `ls -l`, `tar`, `ssh-keygen`: "No user
// exists for uid 0") reads /etc/passwd and /etc/group. The root gets its own, GENERATED: root,
// nobody and nogroup, and the users named with `add --user`, each line from the host's NSS
// (passwd_line, group_line: password "x", nothing from /etc/shadow), never the host's whole files.
#include <algorithm>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "rule_context.hpp"
#include "util/users.hpp"

namespace jailbuild {
namespace {

// The lines of one generated file, each name once, in the order first asked for.
struct Lines {
  std::vector<std::string> names;
  std::string text;

  bool holds(const std::string& name) const { return std::find(names.begin(), names.end(), name) != names.end(); }
};

void add_user(Lines& passwd, const Account& account) {
  if (passwd.holds(account.name)) return;
  auto line = passwd_line(account);
  if (!line) {
    spdlog::warn("rule users: {}; left out of the root's /etc/passwd", line.error().message);
    return;
  }
  passwd.names.push_back(account.name);
  passwd.text += *line;
}

void add_group(Lines& group, const GroupEntry& entry, const std::vector<std::string>& members) {
  if (group.holds(entry.name)) return;
  auto line = group_line(entry, members);
  if (!line) {
    spdlog::warn("rule users: {}; left out of the root's /etc/group", line.error().message);
    return;
  }
  group.names.push_back(entry.name);
  group.text += *line;
}

}  // namespace

std::vector<RuleAddition> decide_users(const RuleContext& context) {
  // The calls that name a user or a group through NSS (`id`, `ls -l`, `tar`, `whoami`). Not every
  // program, though the files are a few hundred bytes: a rule triggers on what the closure shows,
  // so `list` can say why, and a program that imports none of these (a static Go program parses
  // /etc/passwd itself) is what tracing, not a rule, can see.
  static const std::set<std::string> names_users = {
      "getpwuid", "getpwuid_r", "getpwnam", "getpwnam_r", "getpwent",  "getpwent_r", "getgrgid",   "getgrgid_r",
      "getgrnam", "getgrnam_r", "getgrent", "getgrent_r", "getlogin", "getlogin_r", "initgroups", "getgrouplist",
      "cuserid"};
  const auto importer = context.imports.who_imports(context.input, names_users);
  if (!importer) return {};
  const std::string why = importer->describe();

  // The host's files are not copied, but they are what NSS answers from on Debian: recorded as
  // read, so that `sync` plans again (and takes the new lines) when an account changes there.
  (void)context.input.read("/etc/passwd");
  (void)context.input.read("/etc/group");

  std::vector<Account> accounts;
  if (auto root = account_by_uid(0)) accounts.push_back(*root);
  for (const std::string& name : context.options.users) {
    // `add --user` refused a name the host did not know; one gone since is said, not fatal: the
    // root keeps working for the others.
    if (auto account = account_by_name(name))
      accounts.push_back(*account);
    else
      spdlog::warn("rule users: the host has no user '{}' (add --user {}); the root's /etc/passwd goes without it",
                   name, name);
  }
  // nobody last, as in the host's files: the name of every id a user namespace does not map.
  const auto nobody = account_by_name("nobody");
  if (nobody) accounts.push_back(*nobody);

  Lines passwd;
  for (const Account& account : accounts) add_user(passwd, account);

  // Each account's primary group and the groups that list it as a member (getgrouplist), each
  // with the users asked for as its members, so that initgroups(NAME) in the jail (a server that
  // drops root, `id NAME`) gives NAME the groups it has on the host. No other host user is named.
  std::vector<gid_t> gids{0};
  std::map<gid_t, std::vector<std::string>> members;
  for (const Account& account : accounts) {
    const std::vector<gid_t> ids = group_ids_of(account);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (std::find(gids.begin(), gids.end(), ids[i]) == gids.end()) gids.push_back(ids[i]);
      // Not of its primary group, which the host's /etc/group does not list it in either.
      if (i > 0) members[ids[i]].push_back(account.name);
    }
  }
  // nogroup by name too, where nobody's own group is another (Fedora: nobody's is "nobody").
  if (const auto nogroup = group_by_name("nogroup"))
    if (std::find(gids.begin(), gids.end(), nogroup->gid) == gids.end()) gids.push_back(nogroup->gid);
  Lines group;
  for (const gid_t gid : gids) {
    if (const auto entry = group_by_id(gid))
      add_group(group, *entry, members[gid]);
    else
      spdlog::info("rule users: group {} has no name on the host; the root's /etc/group goes without it", gid);
  }
  return {{GeneratedRequirement{"/etc/passwd", std::move(passwd.text), 0644, ""}, why},
          {GeneratedRequirement{"/etc/group", std::move(group.text), 0644, ""}, why}};
}

}  // namespace jailbuild
