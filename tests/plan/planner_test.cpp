// The planner and the path walk under it, on trees built in temporary directories: what a root
// must hold to mirror a host path, symlinks and all.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>

#include <gtest/gtest.h>

#include "elf/elf.hpp"
#include "plan/planner.hpp"
#include "resolve/ld_cache.hpp"
#include "resolve/root_view.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;

class TempTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/jailbuild-plan-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string at(const std::string& relative) const { return (dir_ / relative).string(); }
  void file(const std::string& relative, const std::string& text = "x") {
    fs::create_directories((dir_ / relative).parent_path());
    std::ofstream(dir_ / relative) << text;
  }
  void link(const std::string& relative, const std::string& target) {
    fs::create_directories((dir_ / relative).parent_path());
    fs::create_symlink(target, dir_ / relative);
  }
  fs::path dir_;
};

using Steps = std::vector<std::tuple<std::string, PathStep::Kind, std::string>>;

Steps steps_of(const RootView& view, const std::string& path) {
  auto walked = view.walk(path);
  EXPECT_TRUE(walked) << walked.error().message;
  Steps out;
  if (walked)
    for (const PathStep& step : *walked) out.emplace_back(step.path, step.kind, step.link_target);
  return out;
}

using Kind = PathStep::Kind;

Planner open_planner(const PlanOptions& options = {}) {
  auto planner = Planner::open(options);
  if (!planner) throw std::runtime_error(planner.error().message);
  return std::move(*planner);
}

TEST_F(TempTree, WalkReportsDirectoriesAndEverySymlinkFollowedInsideTheRoot) {
  file("usr/lib/x86_64-linux-gnu/ld.so");
  link("lib", "usr/lib");
  link("lib64", "usr/lib64");
  link("usr/lib64/ld.so", "/lib/x86_64-linux-gnu/ld.so");  // absolute: restarts at the root
  auto view = RootView::open(dir_.string());
  ASSERT_TRUE(view);
  EXPECT_EQ(steps_of(*view, "/lib64/ld.so"), (Steps{{"/lib64", Kind::Symlink, "usr/lib64"},
                                                    {"/usr", Kind::Directory, ""},
                                                    {"/usr/lib64", Kind::Directory, ""},
                                                    {"/usr/lib64/ld.so", Kind::Symlink, "/lib/x86_64-linux-gnu/ld.so"},
                                                    {"/lib", Kind::Symlink, "usr/lib"},
                                                    {"/usr", Kind::Directory, ""},
                                                    {"/usr/lib", Kind::Directory, ""},
                                                    {"/usr/lib/x86_64-linux-gnu", Kind::Directory, ""},
                                                    {"/usr/lib/x86_64-linux-gnu/ld.so", Kind::Final, ""}}));
}

TEST_F(TempTree, WalkNeverLeavesTheRoot) {
  file("inside/f");
  link("up", "../../../..");
  link("abs", "/inside");
  auto view = RootView::open(dir_.string());
  ASSERT_TRUE(view);
  EXPECT_EQ(view->canonical("/up/inside/f").value(), "/inside/f");
  EXPECT_EQ(view->canonical("/../../inside/../inside/f").value(), "/inside/f");
  EXPECT_EQ(view->canonical("/abs/f").value(), "/inside/f");
}

TEST_F(TempTree, WalkReportsLoopsAndMissingComponents) {
  link("loop", "loop");
  file("plain");
  auto view = RootView::open(dir_.string());
  ASSERT_TRUE(view);
  EXPECT_NE(view->walk("/loop").error().message.find("Too many levels of symbolic links"), std::string::npos);
  EXPECT_NE(view->walk("/missing/x").error().message.find("No such file or directory"), std::string::npos);
  EXPECT_NE(view->walk("/plain/x").error().message.find("Not a directory"), std::string::npos);
}

TEST_F(TempTree, PlanMirrorsSymlinkChainsAndPutsParentsFirst) {
  file("opt/app/share/data.txt", "data");
  link("opt/current", "app");
  link("opt/app/share/latest.txt", "data.txt");
  PlanOptions options;
  options.generate_loader_cache = false;
  Planner planner = open_planner(options);
  planner.add(PathRequirement{at("opt/current/share/latest.txt")});
  const CopyPlan plan = planner.finish();
  EXPECT_TRUE(plan.complete());

  std::vector<std::pair<std::string, EntryType>> entries;
  for (const PlannedEntry& e : plan.entries)
    if (e.path.rfind(dir_.string() + "/", 0) == 0) entries.emplace_back(e.path.substr(dir_.string().size()), e.type);
  EXPECT_EQ(entries, (std::vector<std::pair<std::string, EntryType>>{{"/opt", EntryType::Directory},
                                                                     {"/opt/current", EntryType::Symlink},
                                                                     {"/opt/app", EntryType::Directory},
                                                                     {"/opt/app/share", EntryType::Directory},
                                                                     {"/opt/app/share/latest.txt", EntryType::Symlink},
                                                                     {"/opt/app/share/data.txt", EntryType::File}}));
  EXPECT_EQ(plan.find(at("opt/current"))->link_target, "app");
  // Every entry's parent directory comes before it.
  for (std::size_t i = 0; i < plan.entries.size(); ++i) {
    const std::string parent = fs::path(plan.entries[i].path).parent_path().string();
    if (parent == "/") continue;
    const auto* entry = plan.find(parent);
    ASSERT_NE(entry, nullptr) << plan.entries[i].path;
    EXPECT_LT(entry - plan.entries.data(), static_cast<std::ptrdiff_t>(i)) << plan.entries[i].path;
  }
}

TEST_F(TempTree, PlanOfAProgramHoldsItsClosureWithReasons) {
  file("m.c", "int main(void) { return 0; }\n");
  ASSERT_EQ(std::system(("gcc -o " + at("bin/app") + " " + at("m.c") + " 2>/dev/null || (mkdir -p " + at("bin") +
                         " && gcc -o " + at("bin/app") + " " + at("m.c") + ")")
                            .c_str()),
            0);
  Planner planner = open_planner();
  planner.add(PathRequirement{at("bin/app")});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete());
  const PlannedEntry* libc = plan.find("/usr/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_NE(libc, nullptr);
  ASSERT_FALSE(libc->reasons.empty());
  EXPECT_EQ(libc->reasons.front().added, at("bin/app"));
  EXPECT_EQ(libc->reasons.front().needed_by, at("bin/app"));
  EXPECT_EQ(libc->reasons.front().rule, "ld.so.cache");
  const PlannedEntry* lib64 = plan.find("/lib64");
  ASSERT_NE(lib64, nullptr);
  EXPECT_EQ(lib64->type, EntryType::Symlink);
  const PlannedEntry* cache = plan.find("/etc/ld.so.cache");
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(cache->content.has_value());
  EXPECT_TRUE(cache->source.empty());
}

// A Reason's rule is persisted: manifests on disk hold it, and a sync compares it with what it
// plans, so a rule spelled differently rewrites the manifest. The plan stage spells it (loader_rule),
// not the output layer that words `deps --tree` (src/cli/output.cpp, compiled into the jailbuild
// executable only): this test binary does not even link that code, so these exact strings cannot
// come from it, and rewording the tree leaves them, and every manifest, as they are.
TEST_F(TempTree, ReasonRulesAreThePlannersOwnPersistedText) {
  file("lib.c", "int lib(void) { return 1; }\n");
  file("m.c",
       "int lib(void); int by_rpath(void); int by_path(void);\n"
       "int main(void) { return lib() + by_rpath() + by_path(); }\n");
  file("rpath.c", "int by_rpath(void) { return 2; }\n");
  file("path.c", "int by_path(void) { return 3; }\n");
  fs::create_directories(dir_ / "runpath");
  fs::create_directories(dir_ / "rpath");
  fs::create_directories(dir_ / "bin");
  const std::string gcc = "cd " + dir_.string() + " && gcc ";
  for (const std::string& command :
       {gcc + "-shared -fPIC -Wl,-soname,librun.so -o runpath/librun.so lib.c",
        gcc + "-shared -fPIC -Wl,-soname,librp.so -o rpath/librp.so rpath.c",
        gcc + "-shared -fPIC -o " + at("bypath.so") + " path.c",
        // DT_RUNPATH for the program's own libraries; a second program with DT_RPATH (old dtags).
        gcc + "-o bin/app m.c -Wl,--no-as-needed -Lrunpath -Lrpath -l:librun.so -l:librp.so " + at("bypath.so") +
            " -Wl,--enable-new-dtags,-rpath," + at("runpath") + ":" + at("rpath"),
        gcc + "-o bin/old m.c -Wl,--no-as-needed -Lrunpath -Lrpath -l:librun.so -l:librp.so " + at("bypath.so") +
            " -Wl,--disable-new-dtags,-rpath," + at("runpath") + ":" + at("rpath")})
    ASSERT_EQ(std::system(command.c_str()), 0) << command;

  Planner planner = open_planner();
  planner.add(PathRequirement{at("bin/app")});
  planner.add(PathRequirement{at("bin/old")});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete());
  auto rules_of = [&](const std::string& path) {
    std::set<std::string> rules;
    const PlannedEntry* entry = plan.find(path);
    if (entry)
      for (const Reason& reason : entry->reasons) rules.insert(reason.rule);
    return rules;
  };
  EXPECT_EQ(rules_of(at("bin/app")), std::set<std::string>{"added"});
  EXPECT_EQ(rules_of(at("runpath/librun.so")),
            (std::set<std::string>{"runpath of " + at("bin/app"), "rpath of " + at("bin/old")}));
  EXPECT_EQ(rules_of(at("bypath.so")), std::set<std::string>{"path given in DT_NEEDED"});
  EXPECT_EQ(rules_of("/usr/lib/x86_64-linux-gnu/libc.so.6"), std::set<std::string>{"ld.so.cache"});
  EXPECT_EQ(rules_of("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), std::set<std::string>{"interpreter"});
}

TEST_F(TempTree, PlanListsTheLookupsItDependsOnButNotThePathsItPlanned) {
  // app needs libx.so.1 through its RUNPATH, which lists an empty directory first: the miss there
  // is something the plan depends on (a libx.so.1 appearing there would be found instead).
  file("x.c", "int x(void) { return 1; }\n");
  file("m.c", "int x(void); int main(void) { return x(); }\n");
  fs::create_directories(dir_ / "lib");
  fs::create_directories(dir_ / "empty");
  const std::string build = "cd " + dir_.string() + " && gcc -shared -fPIC -Wl,-soname,libx.so.1 -o lib/libx.so.1 x.c" +
                            " && gcc -o app m.c -Llib -l:libx.so.1 -Wl,--enable-new-dtags,-rpath," + at("empty") + ":" +
                            at("lib");
  ASSERT_EQ(std::system(build.c_str()), 0);
  Planner planner = open_planner();
  planner.add(PathRequirement{at("app")});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete());
  auto looked_up = [&](const std::string& path) {
    return std::binary_search(plan.looked_up.begin(), plan.looked_up.end(), path);
  };
  EXPECT_TRUE(std::is_sorted(plan.looked_up.begin(), plan.looked_up.end()));
  EXPECT_TRUE(looked_up(at("empty/libx.so.1"))) << "the miss before the library was found";
  EXPECT_TRUE(looked_up("/etc/ld.so.cache"));
  EXPECT_FALSE(looked_up(at("lib/libx.so.1"))) << "planned, so watched through its entry";
  ASSERT_NE(plan.find(at("lib/libx.so.1")), nullptr);
}

TEST_F(TempTree, PlanReportsWhatDoesNotExist) {
  Planner planner = open_planner();
  planner.add(PathRequirement{at("nothing-here")});
  const CopyPlan plan = planner.finish();
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_FALSE(plan.complete());
  EXPECT_NE(plan.problems[0].message.find("No such file or directory"), std::string::npos);
}

TEST_F(TempTree, ADanglingSymlinkInAnAddedDirectoryIsPlannedAsItIsAndItsTargetWatched) {
  file("data/a.txt");
  link("data/sub/font.ttf", "../../fonts/x.ttf");
  link("data/alive", "a.txt");
  link("lonely", "nowhere");
  Planner planner = open_planner();
  planner.add(PathRequirement{at("data")});
  planner.add(PathRequirement{at("lonely")});
  const CopyPlan plan = planner.finish();

  const PlannedEntry* dangling = plan.find(at("data/sub/font.ttf"));
  ASSERT_NE(dangling, nullptr);
  EXPECT_EQ(dangling->type, EntryType::Symlink);
  EXPECT_EQ(dangling->link_target, "../../fonts/x.ttf");
  EXPECT_EQ(plan.find(at("fonts")), nullptr) << "nothing on the way to the target is planned";
  // One warning for it, named by its entry; the added dangling link stays an error.
  ASSERT_EQ(plan.problems.size(), 2u);
  EXPECT_EQ(plan.problems[0].kind, ProblemKind::Skipped);
  EXPECT_EQ(plan.problems[0].name, at("data/sub/font.ttf"));
  EXPECT_NE(plan.problems[0].message.find("dangling symlink, its target is missing"), std::string::npos);
  EXPECT_EQ(plan.problems[1].kind, ProblemKind::Unreadable);
  EXPECT_EQ(plan.problems[1].name, at("lonely"));
  EXPECT_EQ(plan.find(at("lonely")), nullptr);
  // The missing target is a lookup the plan depends on, as the kernel would follow the link.
  EXPECT_TRUE(std::binary_search(plan.looked_up.begin(), plan.looked_up.end(), at("data/sub/../../fonts/x.ttf")));
  // The control: a live link in the same directory is followed and its target planned.
  ASSERT_NE(plan.find(at("data/alive")), nullptr);
  EXPECT_EQ(plan.find(at("data/alive"))->type, EntryType::Symlink);
  EXPECT_NE(plan.find(at("data/a.txt")), nullptr);
}

// A program needing lib/libcaller.so, whose RUNPATH reaches plugins/, where libplug.so needs
// plugins/deps/libplugdep.so through its own RUNPATH. Nothing names the plugin but a dlopen.
class PluginTree : public TempTree {
 protected:
  void SetUp() override {
    TempTree::SetUp();
    file("plugdep.c", "int plugdep(void) { return 7; }\n");
    file("plug.c", "int plugdep(void); int plug(void) { return plugdep(); }\n");
    file("caller.c", "#include <dlfcn.h>\nvoid* open_plugin(const char* n) { return dlopen(n, RTLD_NOW); }\n");
    file("m.c", "void* open_plugin(const char*); int main(void) { return !open_plugin(\"libplug.so\"); }\n");
    fs::create_directories(dir_ / "plugins/deps");
    fs::create_directories(dir_ / "lib");
    fs::create_directories(dir_ / "bin");
    const std::string build =
        "cd " + dir_.string() +
        " && gcc -shared -fPIC -Wl,-soname,libplugdep.so -o plugins/deps/libplugdep.so plugdep.c"
        " && gcc -shared -fPIC -Wl,-soname,libplug.so -Wl,--enable-new-dtags,-rpath,'$ORIGIN/deps'"
        " -o plugins/libplug.so plug.c -Lplugins/deps -l:libplugdep.so"
        " && gcc -shared -fPIC -Wl,-soname,libcaller.so -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../plugins'"
        " -o lib/libcaller.so caller.c"
        " && gcc -o bin/app m.c -Llib -l:libcaller.so -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib'";
    ASSERT_EQ(std::system(build.c_str()), 0);
  }
};

TEST_F(PluginTree, ADlopenRequirementPlansThePluginFoundFromItsCallerWithItsNeeds) {
  PlanOptions options;
  options.generate_loader_cache = false;
  Planner planner = open_planner(options);
  planner.add(PathRequirement{at("bin/app")});
  // The real program loads it (the control for what follows: the plan without the dlopen lacks it).
  ASSERT_EQ(std::system(at("bin/app").c_str()), 0);
  planner.add(DlopenRequirement{at("lib/libcaller.so"), "libplug.so"});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete()) << plan.problems.front().message;
  const PlannedEntry* plugin = plan.find(at("plugins/libplug.so"));
  ASSERT_NE(plugin, nullptr);
  ASSERT_EQ(plugin->reasons.size(), 1u);
  EXPECT_EQ(plugin->reasons[0].added, "dlopen(libplug.so) from " + at("lib/libcaller.so"));
  EXPECT_EQ(plugin->reasons[0].needed_by, at("bin/../lib/libcaller.so"));
  EXPECT_EQ(plugin->reasons[0].rule.rfind("dlopen(libplug.so), ", 0), 0u) << plugin->reasons[0].rule;
  EXPECT_NE(plan.find(at("plugins/deps/libplugdep.so")), nullptr);

  Planner without = open_planner(options);
  without.add(PathRequirement{at("bin/app")});
  const CopyPlan control = without.finish();
  EXPECT_NE(control.find(at("lib/libcaller.so")), nullptr);
  EXPECT_EQ(control.find(at("plugins/libplug.so")), nullptr);
}

TEST_F(PluginTree, ADlopenFromALibraryNoProgramHoldsResolvesTheLibraryItself) {
  PlanOptions options;
  options.generate_loader_cache = false;
  Planner planner = open_planner(options);
  planner.add(DlopenRequirement{at("lib/libcaller.so"), "libplug.so"});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete()) << plan.problems.front().message;
  EXPECT_NE(plan.find(at("lib/libcaller.so")), nullptr);
  EXPECT_NE(plan.find(at("plugins/deps/libplugdep.so")), nullptr);
  EXPECT_EQ(plan.find(at("bin/app")), nullptr);
}

TEST_F(PluginTree, ADlopenOfANameItsCallerCannotReachIsAProblem) {
  Planner planner = open_planner();
  planner.add(PathRequirement{at("bin/app")});
  planner.add(DlopenRequirement{at("bin/app"), "libplug.so"});  // the program has no path to plugins/
  const CopyPlan plan = planner.finish();
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_EQ(plan.problems[0].kind, ProblemKind::NotFound);
  EXPECT_EQ(plan.find(at("plugins/libplug.so")), nullptr);
}

TEST_F(PluginTree, ARuleAddsWhatItsTriggerInTheClosureAsksFor) {
  file("share/data.txt", "data");
  PlanOptions options;
  options.generate_loader_cache = false;
  // A rule in the manner of the runtime rules: triggered by an object in the closure.
  auto holds = [](const RuleInput& input, const std::string& soname) {
    for (const LinkMap& map : input.programs)
      for (const LoadedObject& object : map.objects)
        if (object.elf && object.elf->soname == soname) return true;
    return false;
  };
  const std::string data = at("share/data.txt");
  options.rules.push_back({"caller-data", [&, data](const RuleInput& input) {
                             return holds(input, "libcaller.so")
                                        ? std::vector<RuleAddition>{{PathRequirement{data}, "libcaller.so is loaded"}}
                                        : std::vector<RuleAddition>{};
                           }});
  options.rules.push_back({"never", [&](const RuleInput& input) {
                             return holds(input, "libnothing.so")
                                        ? std::vector<RuleAddition>{{PathRequirement{"/etc/hostname"}, "never"}}
                                        : std::vector<RuleAddition>{};
                           }});
  Planner planner = open_planner(options);
  planner.add(RuleRequirement{"caller-data"});  // a rule sees the whole closure, whenever it was asked for
  planner.add(RuleRequirement{"never"});
  planner.add(RuleRequirement{"no-such-rule"});
  planner.add(PathRequirement{at("bin/app")});
  const CopyPlan plan = planner.finish();
  const PlannedEntry* added = plan.find(data);
  ASSERT_NE(added, nullptr);
  // The reason names the rule and the trigger that held.
  EXPECT_EQ(added->reasons,
            (std::vector<Reason>{{"rule caller-data", "", "rule caller-data: libcaller.so is loaded"}}));
  EXPECT_EQ(plan.find("/etc/hostname"), nullptr);
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_EQ(plan.problems[0].message, "no rule named no-such-rule");
}

// What a rule looks at on the host through RuleInput::exists is a path the plan depends on, found
// or not, so that sync plans again when it appears (the tz rule's /etc/localtime). Control: a path
// no rule looked at is not recorded.
TEST_F(TempTree, WhatARuleLooksAtOnTheHostIsAPathThePlanDependsOn) {
  file("etc/present", "x");
  PlanOptions options;
  options.generate_loader_cache = false;
  std::vector<bool> seen;
  options.rules.push_back({"looks", [&](const RuleInput& input) {
                             seen = {input.exists(at("etc/present")), input.exists(at("etc/absent"))};
                             return std::vector<RuleAddition>{};
                           }});
  Planner planner = open_planner(options);
  planner.add(RuleRequirement{"looks"});
  const CopyPlan plan = planner.finish();
  EXPECT_EQ(seen, (std::vector<bool>{true, false}));
  const auto recorded = [&](const std::string& path) {
    return std::find(plan.looked_up.begin(), plan.looked_up.end(), path) != plan.looked_up.end();
  };
  EXPECT_TRUE(recorded(at("etc/present")));
  EXPECT_TRUE(recorded(at("etc/absent")));
  EXPECT_FALSE(recorded(at("etc/unasked")));
}

// What a rule reads or lists on the host (a configuration file, a module directory) is given to it
// as it is and recorded as a path the plan depends on; a symlink is not followed, a missing file is
// no text. Control: the file beside them, unread, is not recorded.
TEST_F(TempTree, WhatARuleReadsOrListsOnTheHostIsGivenAndRecorded) {
  file("etc/rule.conf", "passwd: files\n");
  file("etc/unread.conf", "x");
  file("lib/modules/b.so", "");
  file("lib/modules/a.so", "");
  ASSERT_EQ(::symlink("rule.conf", at("etc/link.conf").c_str()), 0);
  PlanOptions options;
  options.generate_loader_cache = false;
  std::optional<std::string> text, link, absent;
  std::vector<std::string> names, none;
  options.rules.push_back({"reads", [&](const RuleInput& input) {
                             text = input.read(at("etc/rule.conf"));
                             link = input.read(at("etc/link.conf"));
                             absent = input.read(at("etc/absent.conf"));
                             names = input.list(at("lib/modules"));
                             none = input.list(at("lib/absent"));
                             return std::vector<RuleAddition>{};
                           }});
  Planner planner = open_planner(options);
  planner.add(RuleRequirement{"reads"});
  const CopyPlan plan = planner.finish();
  EXPECT_EQ(text, "passwd: files\n");
  EXPECT_EQ(link, std::nullopt);
  EXPECT_EQ(absent, std::nullopt);
  EXPECT_EQ(names, (std::vector<std::string>{"a.so", "b.so"}));
  EXPECT_TRUE(none.empty());
  const auto recorded = [&](const std::string& path) {
    return std::find(plan.looked_up.begin(), plan.looked_up.end(), path) != plan.looked_up.end();
  };
  for (const char* path : {"etc/rule.conf", "etc/link.conf", "etc/absent.conf", "lib/modules"})
    EXPECT_TRUE(recorded(at(path))) << path;
  EXPECT_FALSE(recorded(at("etc/unread.conf")));
}

TEST_F(TempTree, ATracedDirectoryIsPlannedWithoutItsContentsAndATracedFileWithItsReason) {
  file("data/listed/inside.txt", "x");
  file("data/opened.txt", "y");
  PlanOptions options;
  options.generate_loader_cache = false;
  Planner planner = open_planner(options);
  planner.add(TracedRequirement{at("data/listed"), "ls data/listed"});
  planner.add(TracedRequirement{at("data/opened.txt"), "cat data/opened.txt"});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete());
  ASSERT_NE(plan.find(at("data/listed")), nullptr);
  EXPECT_EQ(plan.find(at("data/listed"))->type, EntryType::Directory);
  EXPECT_EQ(plan.find(at("data/listed/inside.txt")), nullptr);
  const PlannedEntry* opened = plan.find(at("data/opened.txt"));
  ASSERT_NE(opened, nullptr);
  EXPECT_EQ(opened->reasons, (std::vector<Reason>{{at("data/opened.txt"), "", "opened by `cat data/opened.txt`"}}));
  // The control: the same directory added as a path brings its contents.
  Planner added = open_planner(options);
  added.add(PathRequirement{at("data/listed")});
  EXPECT_NE(added.finish().find(at("data/listed/inside.txt")), nullptr);
}

TEST_F(TempTree, AGeneratedFileHasItsContentAndNoSource) {
  file("etc/placeholder", "");
  PlanOptions options;
  options.generate_loader_cache = false;
  Planner planner = open_planner(options);
  planner.add(GeneratedRequirement{at("etc/hosts"), "127.0.0.1 localhost\n", 0600, "loopback names"});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete());
  const PlannedEntry* hosts = plan.find(at("etc/hosts"));
  ASSERT_NE(hosts, nullptr);
  EXPECT_EQ(hosts->content, "127.0.0.1 localhost\n");
  EXPECT_EQ(hosts->mode, 0600u);
  EXPECT_TRUE(hosts->source.empty());
  EXPECT_EQ(hosts->reasons, (std::vector<Reason>{{"", "", "loopback names"}}));
  ASSERT_NE(plan.find(at("etc")), nullptr);
  EXPECT_EQ(plan.find(at("etc"))->type, EntryType::Directory);
}

TEST_F(TempTree, TheLoaderCacheIsGeneratedWhereTheResolversLoaderConfigurationSays) {
  // A loader whose cache is the host's, copied elsewhere, and which has no system directory: the
  // generated cache and ld.so.conf go beside that copy, and the conf lists libc's directory.
  file("m.c", "int main(void) { return 0; }\n");
  fs::create_directories(dir_ / "etc");
  fs::copy_file("/etc/ld.so.cache", dir_ / "etc/ld.so.cache");
  ASSERT_EQ(std::system(("cd " + dir_.string() + " && gcc -o app m.c").c_str()), 0);
  PlanOptions options;
  LoaderConfig config = default_loader_config();
  config.cache_path = at("etc/ld.so.cache");
  config.system_dirs.clear();
  options.resolver.loader_config = config;
  Planner planner = open_planner(options);
  planner.add(PathRequirement{at("app")});
  const CopyPlan plan = planner.finish();
  ASSERT_TRUE(plan.complete()) << plan.problems.front().message;
  EXPECT_EQ(plan.find("/etc/ld.so.cache"), nullptr);
  const PlannedEntry* cache = plan.find(at("etc/ld.so.cache"));
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->content);
  auto parsed = LdCache::parse(std::as_bytes(std::span(cache->content->data(), cache->content->size())));
  ASSERT_TRUE(parsed);
  const auto libc = std::find_if(parsed->entries().begin(), parsed->entries().end(),
                                 [](const CacheEntry& e) { return e.key == "libc.so.6"; });
  ASSERT_NE(libc, parsed->entries().end());
  const PlannedEntry* conf = plan.find(at("etc/ld.so.conf"));
  ASSERT_NE(conf, nullptr);
  EXPECT_NE(conf->content->find(libc->value.substr(0, libc->value.rfind('/')) + "\n"), std::string::npos)
      << *conf->content;
  EXPECT_TRUE(std::binary_search(plan.looked_up.begin(), plan.looked_up.end(), at("etc/ld.so.cache")));
}

}  // namespace
}  // namespace jailbuild
