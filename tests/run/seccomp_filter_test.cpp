// The filter a run attaches is the one the rules compile to: the program embedded at build time
// equals what libseccomp makes of seccomp_policy.cpp now, and it is one program, so a run pays
// for one attach. What the filter refuses is tested in real jails (run_escape_test.cpp). An
// allowlist's filter is judged by the kernel: loaded in a child over the denylist, beside a child
// with the denylist alone; its record is read back and refused when tampered with; its OCI form
// allows exactly what the denylist under the native filter allows.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "jailbuild/seccomp_allowlist.hpp"
#include "manifest/state_dir.hpp"
#include "run/jail_setup.hpp"
#include "run/seccomp_oci.hpp"
#include "run/seccomp_policy.hpp"
#include "run/seccomp_rules.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild::run {
namespace {

TEST(SeccompFilter, TheEmbeddedProgramIsTheCompiledPolicy) {
  auto compiled = compile_default_filter();
  ASSERT_TRUE(compiled) << compiled.error().message;
  const std::span<const sock_filter> embedded = default_seccomp_program();
  // Far more than the unknown-call prefix: the rules are there.
  ASSERT_GT(embedded.size(), 20U);
  ASSERT_EQ(embedded.size(), compiled->size());
  EXPECT_EQ(std::memcmp(embedded.data(), compiled->data(), embedded.size_bytes()), 0);
}

// What a child under the denylist, and the allowlist of `calls` when given, gets from four calls,
// as one errno each (0 for success), in this order: socket, personality, clone3, unshare.
std::vector<int> answers_under(const std::optional<std::vector<std::string>>& calls) {
  std::string filter;
  if (calls) {
    auto allowlist = compiled(SeccompAllowlist{"test", *calls, ""});
    if (!allowlist) ADD_FAILURE() << allowlist.error().message;
    filter = allowlist ? allowlist->filter : "";
  }
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) return {};
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_ends[0]);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !load_seccomp_filter()) ::_exit(1);
    if (calls && !load_allowlist_filter(filter)) ::_exit(1);
    const auto errno_of = [](long result) { return result < 0 ? errno : 0; };
    int answers[4];
    answers[0] = errno_of(::socket(AF_UNIX, SOCK_STREAM, 0));
    answers[1] = errno_of(::syscall(SYS_personality, 0xffffffffUL));
    clone_args args{};
    answers[2] = errno_of(::syscall(SYS_clone3, &args, sizeof args));
    answers[3] = errno_of(::syscall(SYS_unshare, 0));
    ::_exit(::write(pipe_ends[1], answers, sizeof answers) == sizeof answers ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  int answers[4] = {-1, -1, -1, -1};
  const bool read_all = ::read(pipe_ends[0], answers, sizeof answers) == sizeof answers;
  ::close(pipe_ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!read_all || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return {};
  return {answers[0], answers[1], answers[2], answers[3]};
}

TEST(SeccompAllowlist, TheKernelAllowsTheListRefusesTheRestAndKeepsTheDenylist) {
  // The control: the denylist alone lets socket and personality through; clone3 is ENOSYS and
  // unshare EPERM there already.
  EXPECT_EQ(answers_under(std::nullopt), (std::vector<int>{0, 0, ENOSYS, EPERM}));
  // socket allowed, personality refused with EPERM, clone3 still ENOSYS (glibc's fallback), unshare
  // still refused although listed.
  EXPECT_EQ(answers_under(std::vector<std::string>{"socket", "unshare"}), (std::vector<int>{0, EPERM, ENOSYS, EPERM}));
}

TEST(SeccompAllowlist, AListFileNamesItsBadLine) {
  const jailbuild::testing::TempDir dir;
  const std::string list = dir.path() + "/list";
  std::ofstream(list) << "# a comment\n\n  socket  \nnot_a_call\n";
  const Result<SeccompAllowlist> bad = allowlist_from_file(list);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(list + ":4: not_a_call: not a system call"), std::string::npos)
      << bad.error().message;
  std::ofstream(list) << "# a comment\n\n  socket  \nconnect\r\n";
  const Result<SeccompAllowlist> good = allowlist_from_file(list);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->calls, (std::vector<std::string>{"socket", "connect"}));
  EXPECT_FALSE(allowlist_from_file(dir.path() + "/none"));
}

TEST(SeccompAllowlist, TheRecordAccumulatesAndATamperedOneIsRefused) {
  const jailbuild::testing::TempDir dir;
  const std::string root = dir.path() + "/root";
  const std::string state = dir.path() + "/state";
  std::filesystem::create_directories(root);
  std::filesystem::create_directories(state + "/roots");
  EXPECT_FALSE(*recorded_allowlist(state, root));
  // Baseline calls (read) are not listed; a number without a name is skipped.
  ASSERT_TRUE(record_system_calls(state, root, {SYS_socket, SYS_read}));
  const Result<std::size_t> count = record_system_calls(state, root, {SYS_personality, 100000});
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_EQ(*count, 2U);
  const auto recorded = recorded_allowlist(state, root);
  ASSERT_TRUE(recorded && *recorded);
  EXPECT_EQ((*recorded)->calls, (std::vector<std::string>{"personality", "socket"}));
  EXPECT_FALSE((*recorded)->filter.empty());

  const std::string file = StateDir(state).files_of(root).system_calls;
  const nlohmann::json good = nlohmann::json::parse(std::ifstream(file));
  const auto refused_with = [&](const nlohmann::json& record, const std::string& expected) {
    std::ofstream(file, std::ios::trunc) << record.dump();
    const auto read = recorded_allowlist(state, root);
    ASSERT_FALSE(read) << record.dump();
    EXPECT_NE(read.error().message.find(expected), std::string::npos) << read.error().message;
    EXPECT_NE(read.error().message.find(file), std::string::npos) << read.error().message;
  };
  nlohmann::json record = good;
  record["architecture"] = "riscv64";
  refused_with(record, "riscv64");
  record = good;
  record["calls"].push_back("not_a_call");
  refused_with(record, "not a system call");
  record = good;
  record["filter"] = "abc";
  refused_with(record, "not a BPF program");
  record = good;
  record["extra"] = 1;
  refused_with(record, "unknown key");
  std::ofstream(file, std::ios::trunc) << "{";
  EXPECT_FALSE(recorded_allowlist(state, root));
}

// Whether rule's conditions all hold for `args` (masked equality, as the kernel compares them).
bool holds(const SeccompRule& rule, const std::vector<unsigned long>& args) {
  for (const SeccompCondition& condition : rule.conditions)
    if ((args[condition.arg] & condition.mask) != condition.value) return false;
  return true;
}

TEST(SeccompAllowlist, TheOciFormAllowsWhatTheDenylistUnderTheNativeOneAllows) {
  // For every call the denylist refuses under conditions: across argument values that set and
  // clear each bit it tests, "some allowing rule holds" equals "no denying rule holds". ioctl is the
  // one call whose complement OCI cannot say (see allowing_rules).
  std::set<unsigned long> values = {0, 0777, 0644};
  for (const SeccompRule& rule : default_policy_rules())
    for (const SeccompCondition& condition : rule.conditions)
      values.insert({condition.value, condition.value | 0644, condition.mask & ~condition.value, condition.mask});
  std::set<std::string> names;
  for (const SeccompRule& rule : allowing_rules()) names.insert(rule.name);
  for (const std::string& name : names) {
    if (name == "ioctl") continue;
    // The arguments the call's rules test (two at most: flags and mode), each through every value.
    std::vector<unsigned> positions;
    for (const SeccompRule& rule : default_policy_rules())
      for (const SeccompCondition& condition : rule.conditions)
        if (rule.name == name && std::find(positions.begin(), positions.end(), condition.arg) == positions.end())
          positions.push_back(condition.arg);
    ASSERT_FALSE(positions.empty()) << name;
    ASSERT_LE(positions.size(), 2U) << name;
    for (const unsigned long first : values)
      for (const unsigned long second : values) {
        std::vector<unsigned long> args(6, 0);
        args[positions[0]] = first;
        if (positions.size() == 2) args[positions[1]] = second;
        bool denied = false, allowed = false;
        for (const SeccompRule& rule : default_policy_rules())
          if (rule.name == name && !rule.conditions.empty() && holds(rule, args)) denied = true;
        for (const SeccompRule& rule : allowing_rules())
          if (rule.name == name && holds(rule, args)) allowed = true;
        ASSERT_EQ(allowed, !denied) << name << " " << first << " " << second;
      }
  }
  // The JSON: allow nothing by default, never allow what the denylist refuses whole.
  const nlohmann::json oci = oci_allowlist_seccomp({"socket", "mount", "clone3"});
  EXPECT_EQ(oci["defaultAction"], "SCMP_ACT_ERRNO");
  const std::string text = oci.dump();
  EXPECT_NE(text.find("\"socket\""), std::string::npos);
  EXPECT_EQ(text.find("\"mount\""), std::string::npos);
  EXPECT_EQ(text.find("\"personality\""), std::string::npos);
}

TEST(SeccompAllowlist, TheTraceFilterStopsOnlyOutsideTheBaseline) {
  // Built as the embedded program is: a change to the baseline or the traced calls rebuilds it.
  auto compiled_trace = compile_trace_filter();
  ASSERT_TRUE(compiled_trace) << compiled_trace.error().message;
  const std::span<const sock_filter> embedded = trace_seccomp_program();
  ASSERT_EQ(embedded.size(), compiled_trace->size());
  EXPECT_EQ(std::memcmp(embedded.data(), compiled_trace->data(), embedded.size_bytes()), 0);
  for (const std::string& name : allowlist_baseline())
    EXPECT_FALSE(refused_whole(name)) << name << " is in the baseline and refused by the denylist";
}

}  // namespace
}  // namespace jailbuild::run
