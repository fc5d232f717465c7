// Result<void> and TRY: the failure reaches the caller unchanged and the work after it never runs.
#include "jailbuild/result.hpp"

#include <gtest/gtest.h>

#include <string>

namespace jailbuild {
namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Error::usage(std::string(1, c) + ": not a digit");
  return c - '0';
}

Result<void> check_even(int value) {
  if (value % 2 != 0) return Error{std::to_string(value) + " is odd"};
  return {};
}

// Uses both forms of TRY; `reached` proves whether the code after a failing TRY ran.
Result<int> doubled_even_digit(char c, bool& reached) {
  int digit = TRY(parse_digit(c));
  TRY(check_even(digit));
  reached = true;
  return digit * 2;
}

TEST(Result, TryYieldsTheValueOnSuccess) {
  bool reached = false;
  Result<int> result = doubled_even_digit('4', reached);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(*result, 8);
  EXPECT_TRUE(reached);
}

TEST(Result, TryReturnsTheFirstErrorWithItsKind) {
  bool reached = false;
  Result<int> not_digit = doubled_even_digit('x', reached);
  ASSERT_FALSE(not_digit);
  EXPECT_EQ(not_digit.error().message, "x: not a digit");
  EXPECT_TRUE(not_digit.error().is_usage());
  EXPECT_FALSE(reached);

  Result<int> odd = doubled_even_digit('3', reached);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().message, "3 is odd");
  EXPECT_EQ(odd.error().kind, ErrorKind::failure);
  EXPECT_FALSE(reached);
}

TEST(Result, VoidResultIsSuccessByDefault) {
  Result<void> done;
  EXPECT_TRUE(done.ok());
  Result<void> failed = Error{"broken"};
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "broken");
}

}  // namespace
}  // namespace jailbuild
