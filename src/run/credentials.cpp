// Who the program is: resource limits, ids, groups and capabilities, in the one order that works.
#include <grp.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "jail_setup.hpp"

namespace jailbuild::run {
namespace {

bool kept(const std::vector<int>& keep, int capability) {
  return std::find(keep.begin(), keep.end(), capability) != keep.end();
}

}  // namespace

Result<void> apply_limits(const std::vector<ResourceLimit>& limits) {
  for (const ResourceLimit& limit : limits) {
    const rlimit value{limit.soft, limit.hard};
    if (::setrlimit(limit.resource, &value) != 0) return failed("--rlimit " + limit.name);
  }
  return {};
}

Result<void> switch_identity(const Identity& identity, const std::vector<int>& keep, bool setgroups_denied) {
  // The bounding set bounds what any later execve can grant, a setuid-root file included;
  // dropping from it needs CAP_SETPCAP, so it comes first.
  for (int capability = 0; capability < static_cast<int>(::cap_max_bits()); ++capability) {
    if (kept(keep, capability)) continue;
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL)
      return failed("drop capability " + std::to_string(capability) + " from the bounding set");
  }
  // Keep the permitted set across setresuid so that the kept capabilities can become ambient.
  if (!keep.empty() && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return failed("PR_SET_KEEPCAPS");
  // In a user namespace a normal user made, setgroups is denied (that is what lets it map its
  // gid); the process holds only the caller's own groups there, and run asks for none.
  if (!setgroups_denied && ::setgroups(identity.groups.size(), identity.groups.data()) != 0) return failed("setgroups");
  if (::setresgid(identity.gid, identity.gid, identity.gid) != 0)
    return failed("setresgid " + std::to_string(identity.gid));
  if (::setresuid(identity.uid, identity.uid, identity.uid) != 0)
    return failed("setresuid " + std::to_string(identity.uid));

  cap_t state = ::cap_init();  // all sets empty
  if (state == nullptr) return failed("cap_init");
  std::vector<cap_value_t> values(keep.begin(), keep.end());
  // One capability number per --cap option given: far fewer than INT_MAX.
  const int count = static_cast<int>(values.size());
  bool set = true;
  for (cap_flag_t flag : {CAP_PERMITTED, CAP_EFFECTIVE, CAP_INHERITABLE})
    if (!values.empty()) set = set && ::cap_set_flag(state, flag, count, values.data(), CAP_SET) == 0;
  const bool applied = set && ::cap_set_proc(state) == 0;
  ::cap_free(state);
  if (!applied) return failed("set the capabilities");
  // Ambient capabilities survive execve of a file without file capabilities, for any uid; an
  // execve as uid 0 would otherwise gain back every capability still in the bounding set.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return failed("clear ambient capabilities");
  for (int capability : keep)
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0)
      return failed("keep capability " + std::to_string(capability) + " (ambient)");
  if (!keep.empty() && ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return failed("PR_SET_KEEPCAPS");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("PR_SET_NO_NEW_PRIVS");
  return {};
}

}  // namespace jailbuild::run
