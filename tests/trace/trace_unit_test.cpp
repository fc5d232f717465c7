// The trace's parts that need no workload: the filter that stops on the traced calls is the one the
// table compiles to, the table's numbers are the calls it names, and what a log of accesses means
// for a root (the paths added, the writes warned about, the paths reported missing), decided on
// this host's real files. The tracer itself is tested end to end (trace_test.cpp).
#include <seccomp.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jailbuild/trace.hpp"
#include "run/jail_setup.hpp"
#include "run/seccomp_policy.hpp"
#include "trace/traced_calls.hpp"

namespace jailbuild {
namespace {

TEST(TraceFilter, TheEmbeddedProgramIsTheCompiledTable) {
  auto compiled = run::compile_trace_filter();
  ASSERT_TRUE(compiled) << compiled.error().message;
  const std::span<const sock_filter> embedded = run::trace_seccomp_program();
  ASSERT_GT(embedded.size(), std::size(trace::kTracedCalls));  // a comparison per call at least
  ASSERT_EQ(embedded.size(), compiled->size());
  EXPECT_EQ(std::memcmp(embedded.data(), compiled->data(), embedded.size_bytes()), 0);
}

// The decoder reads arguments by the table's positions for the number the kernel reports: a
// number that is not the named call would decode another call's arguments.
TEST(TracedCalls, EachNumberIsTheCallItNames) {
  for (const trace::TracedCall& call : trace::kTracedCalls) {
    EXPECT_EQ(::seccomp_syscall_resolve_name(call.name), call.number) << call.name;
    EXPECT_GE(call.path_arg, 0) << call.name;
    EXPECT_NE(call.path_arg, call.dirfd_arg) << call.name;
  }
}

TEST(CommandLine, QuotesWhatAShellWouldSplitOrExpand) {
  EXPECT_EQ(command_line({"git", "clone", "/srv/repo", "/tmp/x"}), "git clone /srv/repo /tmp/x");
  EXPECT_EQ(command_line({"sh", "-c", "echo $HOME; it's"}), "sh -c 'echo $HOME; it'\\''s'");
  EXPECT_EQ(command_line({"printf", ""}), "printf ''");
}

PathAccess access(const std::string& path, PathUse use, int error = 0) {
  return {path, use, error, "openat", "/usr/bin/workload"};
}

TEST(TracedRequirements, ExistingHostPathsUsedWithSuccessOnceOutsideTheScratchAndKernelFileSystems) {
  TraceLog log;
  log.accesses = {
      access("/usr/bin/true", PathUse::Execute),
      access("/etc/passwd", PathUse::Read),
      access("/etc/passwd", PathUse::LookUp),      // once, though used twice
      access("/usr/share", PathUse::LookUp),       // a directory: planned without its contents
      access("/proc/self/status", PathUse::Read),  // the kernel's
      access("/tmp/made-by-it", PathUse::Read),    // the workload's own scratch
      access("/var/tmp/made-by-it", PathUse::Read),
      access("/run/made-by-it", PathUse::Read),
      access("/etc/ld.so.cache", PathUse::Read),        // each root has its own
      access("/etc/no-such-file-here", PathUse::Read),  // gone (or never there)
      access("/etc/hostname", PathUse::Read, ENOENT),   // failed: nothing found
      access("/etc/group", PathUse::Write),             // its output, not its need
      access("/usr/lib/os-release", PathUse::Read),     // under --trace-exclude
      access("/", PathUse::LookUp),
  };
  HostTrace trace{{"workload", "--flag"}, std::nullopt, false, {"/usr/lib"}};
  std::vector<std::string> paths;
  for (const TracedRequirement& requirement : traced_requirements(log, trace)) {
    paths.push_back(requirement.path);
    EXPECT_EQ(requirement.command, "workload --flag");
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/usr/bin/true", "/etc/passwd", "/usr/share"}));
}

TEST(WriteNeeds, WritesTheReadOnlyHostRefusedNameTheirDirectory) {
  TraceLog log;
  log.accesses = {access("/etc/x", PathUse::Write, EROFS),
                  access("/etc/x", PathUse::Write, EROFS),
                  access("/var/lib/app/state", PathUse::Write, EROFS),
                  access("/etc/y", PathUse::Write, EACCES),      // refused for another reason
                  access("/tmp/fine", PathUse::Write, 0),        // its scratch
                  access("/etc/passwd", PathUse::Read, EROFS)};  // not a write
  const std::vector<WriteNeed> needs = write_needs(log, HostTrace{{"w"}, std::nullopt, false, {}});
  ASSERT_EQ(needs.size(), 2U);
  EXPECT_EQ(needs[0].path, "/etc/x");
  EXPECT_EQ(needs[0].directory, "/etc");
  EXPECT_EQ(needs[1].directory, "/var/lib/app");
}

TEST(MissingFromRoot, WhatTheJailDidNotFindAndTheHostHasOnceOutsideItsOwnMounts) {
  TraceLog log;
  log.accesses = {access("/bin/sh", PathUse::Execute, ENOENT),
                  access("/bin/sh", PathUse::LookUp, ENOENT),               // once
                  access("/etc/no-such-file-here", PathUse::Read, ENOENT),  // not on the host either
                  access("/etc/passwd", PathUse::Read, EACCES),             // found, refused
                  access("/etc/hostname", PathUse::Write, ENOENT),          // a write
                  access("/srv/data/x", PathUse::Read, ENOENT),             // under a --bind of the run
                  access("/tmp", PathUse::LookUp, ENOENT),
                  access("/etc/group", PathUse::Read, ENOENT)};
  RunOptions options;
  options.mounts.push_back({JailMount::Kind::Bind, "/srv", "/srv/data", {}});
  std::vector<std::string> paths;
  for (const PathAccess& missing : missing_from_root(log, options)) paths.push_back(missing.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/bin/sh", "/etc/group"}));
}

}  // namespace
}  // namespace jailbuild
