// A fresh PostgreSQL database per test, on the server CI starts on loopback
// ($CONFER_TEST_POSTGRES: a libpq URI of a role that may CREATE DATABASE). Absent, the
// test is skipped, except under CI=true, where its absence is a failure.
#pragma once

#include <optional>
#include <string>

namespace confer::test {

class PostgresDatabase {
 public:
  // nullopt (after skip() or a failed CHECK under CI) when no server is configured.
  static std::optional<PostgresDatabase> create();
  ~PostgresDatabase();
  PostgresDatabase(PostgresDatabase&& other) noexcept;
  PostgresDatabase(const PostgresDatabase&) = delete;
  const std::string& uri() const { return uri_; }
  const std::string& name() const { return name_; }

 private:
  PostgresDatabase(std::string admin, std::string name, std::string uri)
      : admin_(std::move(admin)), name_(std::move(name)), uri_(std::move(uri)) {}
  std::string admin_, name_, uri_;
};

}  // namespace confer::test
