// The runtime rules stage's interface for the stages that plan (jail): the catalogue's rules as
// the planner's Rule values (plan/planner.hpp), each deciding from the planned closures what the
// loader never names (zoneinfo for tzset, /bin/sh for system, libgcc_s for pthread_cancel).
#pragma once

#include <string>
#include <vector>

#include "jailbuild/rules.hpp"
#include "plan/planner.hpp"

namespace jailbuild {

// One Rule per catalogue entry, sharing one view of the closure's imports, so that each object's
// imported symbols are read once per plan whichever rules ask: call it once per planner. `options`
// are the root's (the users its passwd is to hold); the rules hold a copy.
std::vector<Rule> runtime_rules(const IntentOptions& options);

}  // namespace jailbuild
