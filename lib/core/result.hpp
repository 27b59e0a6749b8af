// Errors are values: every fallible library call returns Result<T>.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace confer {

// Stable codes: scripts and the CLI's exit status depend on them.
enum class Errc {
  io,              // file or OS error
  network,         // fetch failed
  internal,        // a bug or an OpenSSL failure that should not happen
  usage,           // the caller passed something malformed
  parse,           // untrusted bytes are not what the format says
  attestation,     // evidence verified and refused
  key,             // key or authentication failure
  protocol,        // the peer broke the protocol or refused
};

const char* errc_name(Errc code) noexcept;

struct Error {
  Errc code;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_{Errc::internal, {}};
  bool failed_ = false;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace confer

// Propagate an error from an expression returning Result<...>.
#define CONFER_TRY_VOID(expr)                         \
  do {                                                \
    auto confer_try_r_ = (expr);                      \
    if (!confer_try_r_) return std::move(confer_try_r_).error(); \
  } while (0)

#define CONFER_CONCAT_INNER(a, b) a##b
#define CONFER_CONCAT(a, b) CONFER_CONCAT_INNER(a, b)
#define CONFER_TRY_IMPL(tmp, decl, expr)              \
  auto tmp = (expr);                                  \
  if (!tmp) return std::move(tmp).error();            \
  decl = std::move(tmp).value()
#define CONFER_TRY(decl, expr) CONFER_TRY_IMPL(CONFER_CONCAT(confer_try_, __LINE__), decl, expr)
