// Errors as values for operations whose failure is expected (bad input, missing files).
// std::expected would do, but clang 14 (used for the fuzzers) cannot compile libstdc++ 12's <expected>.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace jailbuild {

struct Error {
  std::string message;
  // The request itself was wrong (a root jailbuild does not know, a path never added), as
  // opposed to a failure met while carrying it out; the CLI exits with 2 rather than 1.
  bool bad_request = false;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  explicit operator bool() const { return state_.index() == 0; }
  bool ok() const { return state_.index() == 0; }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace jailbuild
