#include "postgres.hpp"

#include <libpq-fe.h>

#include <cstdlib>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/bytes.hpp"
#include "crypto/secret.hpp"
#include "skip.hpp"

namespace confer::test {

namespace {

bool admin_exec(const std::string& admin, const std::string& sql, std::string* error) {
  PGconn* c = PQconnectdb(admin.c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PGresult* r = PQexec(c, sql.c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok && error != nullptr) *error = PQresultErrorMessage(r);
    PQclear(r);
  } else if (error != nullptr) {
    *error = PQerrorMessage(c);
  }
  PQfinish(c);
  return ok;
}

// The admin URI with its database name replaced by `name`.
std::string with_database(const std::string& admin, const std::string& name) {
  auto scheme = admin.find("://");
  auto slash = admin.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  auto query = admin.find('?');
  std::string base = admin.substr(0, slash == std::string::npos ? std::min(query, admin.size()) : slash);
  std::string rest = query == std::string::npos ? "" : admin.substr(query);
  return base + "/" + name + rest;
}

}  // namespace

std::optional<PostgresDatabase> PostgresDatabase::create() {
  const char* admin = std::getenv("CONFER_TEST_POSTGRES");
  if (admin == nullptr || admin[0] == '\0') {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL_CHECK("CONFER_TEST_POSTGRES is not set: .ci/run starts a PostgreSQL server for these tests");
      return std::nullopt;
    }
    skip("no PostgreSQL server (set CONFER_TEST_POSTGRES to a libpq URI, as .ci/run does)");
    return std::nullopt;
  }
  uint8_t random[8];
  REQUIRE(crypto::fill_random(random, sizeof random));
  std::string name = "confer_test_" + to_hex(ByteView(random, sizeof random));
  std::string error;
  if (!admin_exec(admin, "CREATE DATABASE " + name, &error)) {
    FAIL_CHECK(fmt::format("cannot create a test database on CONFER_TEST_POSTGRES: {}", error));
    return std::nullopt;
  }
  return PostgresDatabase(admin, name, with_database(admin, name));
}

PostgresDatabase::PostgresDatabase(PostgresDatabase&& other) noexcept
    : admin_(std::move(other.admin_)), name_(std::move(other.name_)), uri_(std::move(other.uri_)) {
  other.name_.clear();
}

PostgresDatabase::~PostgresDatabase() {
  if (!name_.empty()) (void)admin_exec(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", nullptr);
}

}  // namespace confer::test
