// Errors as values for operations whose failure is expected (bad input, missing files).
// std::expected would do, but clang 14 (used for the fuzzers) cannot compile libstdc++ 12's <expected>.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace jailbuild {

// Who got it wrong decides the exit code scripts see: a usage error (a root jailbuild does not
// know, a path never added, an option that makes no sense) exits 2; a failure met while carrying
// out a sound request exits 1.
enum class ErrorKind { failure, usage };

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::failure;

  static Error usage(std::string message) { return Error{std::move(message), ErrorKind::usage}; }
  bool is_usage() const { return kind == ErrorKind::usage; }
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

// An operation that produces nothing but can fail: `return {};` is success.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}

  explicit operator bool() const { return !failed_; }
  bool ok() const { return !failed_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

namespace detail {
template <typename T>
T take_value(Result<T>&& result) {
  return std::move(result).value();
}
inline void take_value(Result<void>&&) {}
}  // namespace detail

}  // namespace jailbuild

// The one way to pass a failure up: `TRY(write_all(fd, text));` returns the error from the
// enclosing function, and `auto fd = TRY(open_beneath(root, path));` also yields the value.
// A GNU statement expression (GCC and clang; __extension__ keeps -Wpedantic quiet).
#define TRY(expression)                                                     \
  __extension__({                                                           \
    auto&& jb_try_result_ = (expression);                                   \
    if (!jb_try_result_) return ::jailbuild::Error(jb_try_result_.error()); \
    ::jailbuild::detail::take_value(std::move(jb_try_result_));             \
  })
