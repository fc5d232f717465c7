// Reading /proc/PID/status text, as a jailed program prints it, for the checks that it runs
// unprivileged.
#pragma once

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "support/files.hpp"

namespace jailbuild::testing {

// The value of "Field:\tvalue" in /proc/PID/status text; nullopt if absent.
inline std::optional<std::string> status_field(const std::string& status, const std::string& field) {
  for (const std::string& line : lines_of(status)) {
    if (!line.starts_with(field + ":")) continue;
    const std::size_t value = line.find_first_not_of(" \t", field.size() + 1);
    return value == std::string::npos ? "" : line.substr(value);
  }
  return std::nullopt;
}

// What a jailed program's /proc/self/status shows by default: no capability in any set,
// no_new_privs, a seccomp filter. CONTEXT goes with each failure.
inline void expect_no_capabilities(const std::string& status, const std::string& context) {
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    const std::optional<std::string> value = status_field(status, set);
    ASSERT_TRUE(value.has_value()) << set << " not printed: " << context;
    EXPECT_EQ(*value, "0000000000000000") << set << ": " << context;
  }
  EXPECT_EQ(status_field(status, "NoNewPrivs"), "1") << context;
  EXPECT_EQ(status_field(status, "Seccomp"), "2") << "no seccomp filter: " << context;
}

}  // namespace jailbuild::testing
