// The filter a run attaches is the one the rules compile to: the program embedded at build time
// equals what libseccomp makes of seccomp_policy.cpp now, and it is one program, so a run pays
// for one attach. What the filter refuses is tested in real jails (run_escape_test.cpp).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "run/jail_setup.hpp"
#include "run/seccomp_policy.hpp"

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

}  // namespace
}  // namespace jailbuild::run
