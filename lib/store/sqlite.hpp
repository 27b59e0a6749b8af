// A thin RAII layer over SQLite: a database, prepared statements with bound values,
// transactions that roll back unless committed. Every failure is a Result naming the
// statement's purpose and SQLite's message; nothing here throws.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <optional>
#include <string>

#include "core/bytes.hpp"
#include "core/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace confer::store {

class Statement;

class Database {
 public:
  // Opens (creating, mode 0600, in a directory made 0700) `path` in WAL mode with
  // synchronous=FULL, foreign keys on, secure_delete on (freed pages are zeroed), and a
  // busy timeout. Errc::io when it cannot.
  static Result<Database> open(const std::string& path);
  Database() = default;
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // One or more statements without results.
  Result<void> exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  // For SQL run again and again (a sync applies it per change): prepared once per
  // connection and handed back reset, bindings cleared. Use it for statements whose
  // rows are read before the same SQL is asked for again; it lives as long as the
  // database.
  Result<Statement*> cached(const std::string& sql);
  int64_t changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
  std::map<std::string, std::unique_ptr<Statement>> cache_;
};

class Statement {
 public:
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  // Parameters are numbered from 1. Text and blobs are copied by SQLite.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, const std::string& text);
  Statement& bind(int index, ByteView blob);
  Statement& bind_null(int index);

  // The next row (true), or done (false).
  Result<bool> step();
  // step() for statements without rows, then reset for reuse.
  Result<void> run();
  void reset();

  int64_t column_int(int index) const;
  std::string column_text(int index) const;
  Bytes column_blob(int index) const;
  bool column_null(int index) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = 0;
};

// Brings the schema (PRAGMA user_version) up to steps.size(): step i takes version i to
// i + 1, each in its own transaction. A database from a newer program is refused with
// `too_new(version seen, version known)`.
Result<void> migrate(Database& db, std::span<const char* const> steps,
                     const std::function<Error(int64_t seen, int64_t known)>& too_new);

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(Database& db);
  ~Transaction();
  Transaction(Transaction&& other) noexcept : db_(other.db_), nested_(other.nested_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Result<void> commit();

 private:
  Transaction(Database* db, bool nested) : db_(db), nested_(nested) {}
  Database* db_;
  bool nested_;
};

}  // namespace confer::store
