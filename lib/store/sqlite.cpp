#include "store/sqlite.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <sqlite3.h>

namespace confer::store {

namespace {

Error sqlite_error(sqlite3* db, const std::string& what) {
  return make_error(Errc::io, fmt::format("{}: {}", what, db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// The directory 0700 and the file 0600 before SQLite sees them: SQLite gives its -wal
// and -shm files the database file's mode.
Result<void> prepare_path(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::io, fmt::format("{}: {}", dir.string(), ec.message()));
    if (::chmod(dir.c_str(), 0700) != 0)
      return make_error(Errc::io, fmt::format("{}: {}", dir.string(), std::strerror(errno)));
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(Errc::io, fmt::format("{}: {}", path, std::strerror(errno)));
  int rc = ::fchmod(fd, 0600);
  ::close(fd);
  if (rc != 0) return make_error(Errc::io, fmt::format("{}: {}", path, std::strerror(errno)));
  return {};
}

}  // namespace

Result<Database> Database::open(const std::string& path) {
  CONFER_TRY_VOID(prepare_path(path));
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  Database db(raw, path);
  if (rc != SQLITE_OK) return sqlite_error(raw, "opening " + path);
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_extended_result_codes(raw, 1);
  CONFER_TRY_VOID(db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                          "PRAGMA secure_delete=ON; PRAGMA trusted_schema=OFF"));
  return db;
}

Database::~Database() {
  cache_.clear();  // finalized before the connection closes
  if (db_ != nullptr) sqlite3_close_v2(db_);
}
Database::Database(Database&& other) noexcept
    : db_(other.db_), path_(std::move(other.path_)), cache_(std::move(other.cache_)) {
  other.db_ = nullptr;
}
Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    cache_.clear();
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
    other.db_ = nullptr;
  }
  return *this;
}

Result<Statement*> Database::cached(const std::string& sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  CONFER_TRY(Statement s, prepare(sql));
  auto [it, inserted] = cache_.emplace(sql, std::make_unique<Statement>(std::move(s)));
  return it->second.get();
}

Result<void> Database::exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string why = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return make_error(Errc::io, fmt::format("{}: {}", path_, why));
}

Result<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &stmt, nullptr) != SQLITE_OK)
    return sqlite_error(db_, path_);
  return Statement(db_, stmt);
}

int64_t Database::changes() const { return sqlite3_changes64(db_); }

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}
Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

Statement& Statement::bind(int index, int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}
Statement& Statement::bind(int index, const std::string& text) {
  if (int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      rc != SQLITE_OK)
    bind_error_ = rc;
  return *this;
}
Statement& Statement::bind(int index, ByteView blob) {
  // A zero-length blob must still be a blob, not NULL: give SQLite a valid pointer.
  static const uint8_t kEmpty = 0;
  const void* p = blob.empty() ? &kEmpty : blob.data();
  if (int rc = sqlite3_bind_blob64(stmt_, index, p, blob.size(), SQLITE_TRANSIENT); rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}
Statement& Statement::bind_null(int index) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_ != SQLITE_OK)
    return make_error(Errc::internal, fmt::format("binding a value: {}", sqlite3_errstr(bind_error_)));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, sqlite3_db_filename(db_, "main"));
}

Result<void> Statement::run() {
  auto r = step();
  reset();
  if (!r) return std::move(r).error();
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = SQLITE_OK;
}

int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
std::string Statement::column_text(int index) const {
  const auto* p = sqlite3_column_text(stmt_, index);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(stmt_, index)))
                      : std::string();
}
Bytes Statement::column_blob(int index) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, index));
  return p != nullptr ? Bytes(p, p + sqlite3_column_bytes(stmt_, index)) : Bytes();
}
bool Statement::column_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

Result<Transaction> Transaction::begin(Database& db) {
  // Inside another transaction (an import writing many conversations as one): a
  // savepoint, released into the outer one or rolled back to alone.
  bool nested = sqlite3_get_autocommit(db.handle()) == 0;
  CONFER_TRY_VOID(db.exec(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE"));
  return Transaction(&db, nested);
}
Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec(nested_ ? "ROLLBACK TO nested; RELEASE nested" : "ROLLBACK");
}
Result<void> Transaction::commit() {
  CONFER_TRY_VOID(db_->exec(nested_ ? "RELEASE nested" : "COMMIT"));
  db_ = nullptr;
  return {};
}

Result<void> migrate(Database& db, std::span<const char* const> steps,
                     const std::function<Error(int64_t seen, int64_t known)>& too_new) {
  CONFER_TRY(Statement q, db.prepare("PRAGMA user_version"));
  CONFER_TRY(bool row, q.step());
  int64_t version = row ? q.column_int(0) : 0;
  int64_t known = int64_t(steps.size());
  if (version > known) return too_new(version, known);
  for (int64_t v = version; v < known; ++v) {
    CONFER_TRY(Transaction tx, Transaction::begin(db));
    CONFER_TRY_VOID(db.exec(steps[size_t(v)]));
    CONFER_TRY_VOID(db.exec(fmt::format("PRAGMA user_version = {}", v + 1)));
    CONFER_TRY_VOID(tx.commit());
  }
  return {};
}

}  // namespace confer::store
