// What each rule's decision is given (one file per rule: tz.cpp, shell.cpp, libgcc.cpp), and what
// it answers: the requirements it adds, each with the trigger that held.
#pragma once

#include <vector>

#include "closure_imports.hpp"
#include "rules.hpp"

namespace jailbuild {

struct RuleContext {
  const RuleInput& input;   // the planned link maps
  ClosureImports& imports;  // their imports, shared by the rules of one plan
  const IntentOptions& options;  // the root's: `add --user` names, rules turned on and off
};

using RuleDecision = std::vector<RuleAddition> (*)(const RuleContext&);

// The decisions, each defined in its rule's file.
std::vector<RuleAddition> decide_shell(const RuleContext& context);
std::vector<RuleAddition> decide_libgcc(const RuleContext& context);
std::vector<RuleAddition> decide_tz(const RuleContext& context);
std::vector<RuleAddition> decide_gconv(const RuleContext& context);      // gconv.cpp
std::vector<RuleAddition> decide_gconv_all(const RuleContext& context);  // gconv.cpp
std::vector<RuleAddition> decide_locale(const RuleContext& context);
std::vector<RuleAddition> decide_terminfo(const RuleContext& context);
std::vector<RuleAddition> decide_interpreter(const RuleContext& context);
std::vector<RuleAddition> decide_tls(const RuleContext& context);
std::vector<RuleAddition> decide_users(const RuleContext& context);
std::vector<RuleAddition> decide_hosts(const RuleContext& context);
std::vector<RuleAddition> decide_dns(const RuleContext& context);
std::vector<RuleAddition> decide_nss(const RuleContext& context);

// The root's nsswitch.conf made from the host's (nss.cpp): its lines as they are, less the services
// only systemd's daemons answer with the actions that follow them; `services` gets those it keeps.
std::string nsswitch_conf_for_root(const std::string& host_conf, std::vector<std::string>& services);
// dlopen_notes.cpp: one rule per .note.dlopen priority.
std::vector<RuleAddition> decide_dlopen_required(const RuleContext& context);
std::vector<RuleAddition> decide_dlopen_recommended(const RuleContext& context);
std::vector<RuleAddition> decide_dlopen_suggested(const RuleContext& context);

}  // namespace jailbuild
