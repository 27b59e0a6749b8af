// The shared backend: PostgreSQL through libpq, for several confer-server processes over
// one database. Parameters travel in binary, never spliced into SQL. Each write locks
// its account's row (SELECT ... FOR UPDATE) for the whole transaction, so sequence
// numbers are handed out and committed in one order per account whichever server
// takes the request; the schema is migrated under an advisory lock, so servers
// starting together do not race.
#include <arpa/inet.h>
#include <libpq-fe.h>

#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "crypto/hash.hpp"
#include "server/store/store.hpp"

namespace confer::server::store {

namespace {

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY, auth_key BYTEA NOT NULL, created BIGINT NOT NULL,
  seq BIGINT NOT NULL DEFAULT 0, bytes BIGINT NOT NULL DEFAULT 0, records BIGINT NOT NULL DEFAULT 0);
CREATE TABLE credentials (
  id BYTEA PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts(id), algorithm BIGINT NOT NULL,
  public_key BYTEA NOT NULL, sign_count BIGINT NOT NULL, wrap BYTEA NOT NULL, created BIGINT NOT NULL);
CREATE INDEX credentials_by_account ON credentials(account);
CREATE TABLE records (
  account TEXT NOT NULL REFERENCES accounts(id), id TEXT NOT NULL, kind BIGINT NOT NULL,
  revision BIGINT NOT NULL, deleted BOOLEAN NOT NULL, ciphertext BYTEA NOT NULL, seq BIGINT NOT NULL,
  PRIMARY KEY (account, id));
CREATE TABLE changes (
  account TEXT NOT NULL REFERENCES accounts(id), seq BIGINT NOT NULL, id TEXT NOT NULL,
  kind BIGINT NOT NULL, revision BIGINT NOT NULL, deleted BOOLEAN NOT NULL, hash BYTEA NOT NULL,
  PRIMARY KEY (account, seq));
CREATE TABLE checkpoints (
  account TEXT NOT NULL REFERENCES accounts(id), device TEXT NOT NULL, seq BIGINT NOT NULL,
  digest BYTEA NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (account, device));
)sql",
};
constexpr int kVersion = int(std::size(kMigrations));
constexpr int64_t kMigrationLock = 0x636f6e666572;  // "confer"

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// One query parameter, in binary.
struct Param {
  std::string bytes;
  static Param of(int64_t v) {
    Param p;
    p.bytes.resize(8);
    for (int i = 0; i < 8; ++i) p.bytes[size_t(i)] = char((uint64_t(v) >> (56 - 8 * i)) & 0xff);
    return p;
  }
  static Param of(const std::string& s) { return Param{s}; }
  static Param of(ByteView b) { return Param{std::string(b.begin(), b.end())}; }
  static Param of(bool v) { return Param{std::string(1, v ? '\1' : '\0')}; }
};

class Rows {
 public:
  explicit Rows(PgResult r) : r_(std::move(r)) {}
  int count() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), size_t(PQgetlength(r_.get(), row, col)));
  }
  Bytes bytes(int row, int col) const {
    const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r_.get(), row, col));
    return Bytes(p, p + PQgetlength(r_.get(), row, col));
  }
  int64_t int64(int row, int col) const {  // BIGINT in binary: 8 bytes big-endian
    if (PQgetlength(r_.get(), row, col) != 8) return 0;
    const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r_.get(), row, col));
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return int64_t(v);
  }
  bool boolean(int row, int col) const { return PQgetlength(r_.get(), row, col) == 1 && PQgetvalue(r_.get(), row, col)[0] != 0; }

 private:
  PgResult r_;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(PGconn* conn, Limits limits) : conn_(conn), limits_(limits) {
    describe_ = fmt::format("postgresql://{}:{}/{}", PQhost(conn_), PQport(conn_), PQdb(conn_));
  }
  ~PostgresStore() override { PQfinish(conn_); }

  std::string describe() const override { return describe_; }

  Result<void> migrate() {
    CONFER_TRY(auto locked, query("SELECT pg_advisory_lock($1)", {Param::of(kMigrationLock)}));
    (void)locked;
    auto done = run_migrations();
    auto unlocked = query("SELECT pg_advisory_unlock($1)", {Param::of(kMigrationLock)});
    if (!done) return std::move(done).error();
    if (!unlocked) return std::move(unlocked).error();
    return {};
  }

  Result<bool> create_account(const Account& account, const StoredCredential& first) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY_VOID(begin());
    Guard guard(*this);
    CONFER_TRY(auto taken, query("SELECT 1 FROM accounts WHERE id = $1", {Param::of(account.id)}));
    if (taken.count() > 0) return false;
    CONFER_TRY(auto cred, query("SELECT 1 FROM credentials WHERE id = $1", {Param::of(ByteView(first.id))}));
    if (cred.count() > 0) return false;
    CONFER_TRY_VOID(command("INSERT INTO accounts (id, auth_key, created) VALUES ($1, $2, $3)",
                            {Param::of(account.id), Param::of(ByteView(account.auth_key)), Param::of(account.created)}));
    CONFER_TRY_VOID(insert_credential(first));
    CONFER_TRY_VOID(guard.commit());
    return true;
  }

  Result<std::optional<Account>> account(const std::string& id) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto r, query("SELECT id, auth_key, created FROM accounts WHERE id = $1", {Param::of(id)}));
    if (r.count() == 0) return std::optional<Account>();
    return std::optional<Account>(Account{r.text(0, 0), r.bytes(0, 1), r.int64(0, 2)});
  }

  Result<bool> add_credential(const StoredCredential& credential) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY_VOID(begin());
    Guard guard(*this);
    CONFER_TRY(auto acct, query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", {Param::of(credential.account)}));
    if (acct.count() == 0) return false;
    CONFER_TRY(auto count, query("SELECT count(*)::BIGINT FROM credentials WHERE account = $1",
                                 {Param::of(credential.account)}));
    if (count.int64(0, 0) >= limits_.max_credentials) return false;
    CONFER_TRY(auto taken, query("SELECT 1 FROM credentials WHERE id = $1", {Param::of(ByteView(credential.id))}));
    if (taken.count() > 0) return false;
    CONFER_TRY_VOID(insert_credential(credential));
    CONFER_TRY_VOID(guard.commit());
    return true;
  }

  Result<std::optional<StoredCredential>> credential(ByteView id) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto r, query(std::string("SELECT ") + kColumns + " FROM credentials WHERE id = $1", {Param::of(id)}));
    if (r.count() == 0) return std::optional<StoredCredential>();
    return std::optional<StoredCredential>(read_credential(r, 0));
  }

  Result<std::vector<StoredCredential>> credentials(const std::string& account) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto r, query(std::string("SELECT ") + kColumns + " FROM credentials WHERE account = $1 ORDER BY created, id",
                             {Param::of(account)}));
    std::vector<StoredCredential> out;
    for (int i = 0; i < r.count(); ++i) out.push_back(read_credential(r, i));
    return out;
  }

  Result<bool> advance_sign_count(ByteView id, int64_t seen, int64_t next) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto r, query("UPDATE credentials SET sign_count = $1 WHERE id = $2 AND sign_count = $3 RETURNING 1",
                             {Param::of(next), Param::of(id), Param::of(seen)}));
    return r.count() == 1;
  }

  Result<BatchOutcome> put_many(const std::string& account, std::span<const Write> writes) override {
    if (writes.size() > kMaxBatchWrites)
      return make_error(Errc::usage, fmt::format("{} writes in one batch, at most {}", writes.size(), kMaxBatchWrites));
    std::lock_guard lock(mutex_);
    CONFER_TRY_VOID(begin());
    Guard guard(*this);
    CONFER_TRY(auto acct, query("SELECT seq, bytes, records FROM accounts WHERE id = $1 FOR UPDATE", {Param::of(account)}));
    if (acct.count() == 0) return BatchOutcome{PutStatus::no_account, "no account " + account, {}};
    AccountTotals totals{acct.int64(0, 0), acct.int64(0, 1), acct.int64(0, 2)};
    BatchOutcome out;
    for (const auto& w : writes) {
      CONFER_TRY(auto cur, query("SELECT kind, revision, length(ciphertext)::BIGINT FROM records WHERE account = $1 AND id = $2",
                                 {Param::of(account), Param::of(w.id)}));
      bool exists = cur.count() > 0;
      int64_t current = exists ? cur.int64(0, 1) : 0;
      int64_t old_size = exists ? cur.int64(0, 2) : 0;
      if (exists && cur.int64(0, 0) != w.kind)
        return make_error(Errc::usage, fmt::format("record {} is of kind {}, not {}", w.id, cur.int64(0, 0), w.kind));
      PutOutcome judged = judge_write(limits_, totals, w, exists, current, old_size);
      if (judged.status == PutStatus::conflict) {
        out.writes.push_back(judged);
        continue;
      }
      if (judged.status == PutStatus::quota) return BatchOutcome{PutStatus::quota, std::move(judged.detail), {}};
      int64_t revision = judged.revision, seq = judged.seq;
      CONFER_TRY_VOID(command(
          "INSERT INTO records (account, id, kind, revision, deleted, ciphertext, seq) VALUES ($1, $2, $3, $4, $5, $6, $7) "
          "ON CONFLICT (account, id) DO UPDATE SET revision = excluded.revision, deleted = excluded.deleted, "
          "ciphertext = excluded.ciphertext, seq = excluded.seq",
          {Param::of(account), Param::of(w.id), Param::of(w.kind), Param::of(revision), Param::of(w.deleted),
           Param::of(w.ciphertext), Param::of(seq)}));
      CONFER_TRY_VOID(command(
          "INSERT INTO changes (account, seq, id, kind, revision, deleted, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
          {Param::of(account), Param::of(seq), Param::of(w.id), Param::of(w.kind), Param::of(revision),
           Param::of(w.deleted), Param::of(ByteView(crypto::sha256(w.ciphertext)))}));
      out.writes.push_back(judged);
    }
    CONFER_TRY_VOID(command("UPDATE accounts SET seq = $1, bytes = $2, records = $3 WHERE id = $4",
                            {Param::of(totals.seq), Param::of(totals.bytes), Param::of(totals.records), Param::of(account)}));
    CONFER_TRY_VOID(guard.commit());
    return out;
  }

  Result<std::optional<Change>> get(const std::string& account, const std::string& id) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto r, query("SELECT seq, kind, revision, deleted, ciphertext FROM records WHERE account = $1 AND id = $2",
                             {Param::of(account), Param::of(id)}));
    if (r.count() == 0) return std::optional<Change>();
    Change c;
    c.seq = r.int64(0, 0);
    c.id = id;
    c.kind = r.int64(0, 1);
    c.revision = r.int64(0, 2);
    c.deleted = r.boolean(0, 3);
    Bytes ct = r.bytes(0, 4);
    c.hash = crypto::sha256(ct);
    if (!c.deleted) c.ciphertext = std::move(ct);
    return std::optional<Change>(std::move(c));
  }

  Result<ChangePage> changes(const std::string& account, int64_t since, size_t max_count, size_t max_bytes) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY_VOID(command("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", {}));
    Guard guard(*this);
    ChangePage page;
    CONFER_TRY(auto head, query("SELECT seq FROM accounts WHERE id = $1", {Param::of(account)}));
    page.head = head.count() > 0 ? head.int64(0, 0) : 0;
    CONFER_TRY(auto r, query(
        "SELECT c.seq, c.id, c.kind, c.revision, c.deleted, c.hash, "
        "CASE WHEN r.revision = c.revision AND NOT r.deleted THEN r.ciphertext END "
        "FROM changes c JOIN records r ON r.account = c.account AND r.id = c.id "
        "WHERE c.account = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
        {Param::of(account), Param::of(since), Param::of(int64_t(max_count) + 1)}));
    size_t bytes = 0;
    for (int i = 0; i < r.count(); ++i) {
      if (page.changes.size() == max_count) {
        page.more = true;
        break;
      }
      Change c;
      c.seq = r.int64(i, 0);
      c.id = r.text(i, 1);
      c.kind = r.int64(i, 2);
      c.revision = r.int64(i, 3);
      c.deleted = r.boolean(i, 4);
      c.hash = r.bytes(i, 5);
      if (!r.null(i, 6)) c.ciphertext = r.bytes(i, 6);
      size_t size = c.ciphertext ? c.ciphertext->size() : 0;
      if (!page.changes.empty() && bytes + size > max_bytes) {
        page.more = true;
        break;
      }
      bytes += size;
      page.changes.push_back(std::move(c));
    }
    CONFER_TRY_VOID(guard.commit());
    return page;
  }

  Result<bool> put_checkpoint(const std::string& account, const Checkpoint& checkpoint) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY_VOID(begin());
    Guard guard(*this);
    CONFER_TRY(auto acct, query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", {Param::of(account)}));
    if (acct.count() == 0) return false;
    CONFER_TRY(auto count, query("SELECT count(*)::BIGINT FROM checkpoints WHERE account = $1 AND device <> $2",
                                 {Param::of(account), Param::of(checkpoint.device)}));
    if (count.int64(0, 0) >= limits_.max_devices) return false;
    CONFER_TRY_VOID(command(
        "INSERT INTO checkpoints (account, device, seq, digest, updated) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (account, device) DO UPDATE SET seq = excluded.seq, digest = excluded.digest, "
        "updated = excluded.updated",
        {Param::of(account), Param::of(checkpoint.device), Param::of(checkpoint.seq),
         Param::of(ByteView(checkpoint.digest)), Param::of(checkpoint.updated)}));
    CONFER_TRY_VOID(guard.commit());
    return true;
  }

  Result<std::vector<Checkpoint>> checkpoints(const std::string& account) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto r, query("SELECT device, seq, digest, updated FROM checkpoints WHERE account = $1 ORDER BY device",
                             {Param::of(account)}));
    std::vector<Checkpoint> out;
    for (int i = 0; i < r.count(); ++i) out.push_back(Checkpoint{r.text(i, 0), r.int64(i, 1), r.bytes(i, 2), r.int64(i, 3)});
    return out;
  }

 private:
  static constexpr const char* kColumns = "id, account, algorithm, public_key, sign_count, wrap, created";

  // Rolls back an open transaction unless committed.
  class Guard {
   public:
    explicit Guard(PostgresStore& s) : s_(&s) {}
    ~Guard() {
      if (s_ != nullptr) (void)s_->command("ROLLBACK", {});
    }
    Result<void> commit() {
      auto r = s_->command("COMMIT", {});
      s_ = nullptr;
      return r;
    }

   private:
    PostgresStore* s_;
  };

  static StoredCredential read_credential(const Rows& r, int i) {
    StoredCredential c;
    c.id = r.bytes(i, 0);
    c.account = r.text(i, 1);
    c.algorithm = r.int64(i, 2);
    c.public_key = r.bytes(i, 3);
    c.sign_count = r.int64(i, 4);
    c.wrap = r.bytes(i, 5);
    c.created = r.int64(i, 6);
    return c;
  }

  Result<void> insert_credential(const StoredCredential& c) {
    return command(std::string("INSERT INTO credentials (") + kColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   {Param::of(ByteView(c.id)), Param::of(c.account), Param::of(c.algorithm),
                    Param::of(ByteView(c.public_key)), Param::of(c.sign_count), Param::of(ByteView(c.wrap)),
                    Param::of(c.created)});
  }

  Result<void> run_migrations() {
    CONFER_TRY_VOID(command("CREATE TABLE IF NOT EXISTS confer_schema (version BIGINT NOT NULL)", {}));
    CONFER_TRY(auto r, query("SELECT version FROM confer_schema", {}));
    int64_t version = r.count() > 0 ? r.int64(0, 0) : 0;
    if (version > kVersion)
      return make_error(Errc::parse, fmt::format("{}: the store's schema is version {}; this confer-server knows up to {}",
                                                 describe_, version, kVersion));
    for (int64_t v = version; v < kVersion; ++v) {
      CONFER_TRY_VOID(begin());
      Guard guard(*this);
      CONFER_TRY_VOID(simple(kMigrations[v]));
      CONFER_TRY_VOID(command("DELETE FROM confer_schema", {}));
      CONFER_TRY_VOID(command("INSERT INTO confer_schema (version) VALUES ($1)", {Param::of(v + 1)}));
      CONFER_TRY_VOID(guard.commit());
    }
    return {};
  }

  Result<void> begin() { return command("BEGIN", {}); }

  // A connection that dropped is re-opened once, outside a transaction only.
  Result<void> ensure_connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return {};
    PQreset(conn_);
    if (PQstatus(conn_) == CONNECTION_OK) return {};
    return make_error(Errc::io, fmt::format("{}: cannot reach PostgreSQL: {}", describe_, first_line(PQerrorMessage(conn_))));
  }

  static std::string first_line(const char* message) {
    std::string s = message != nullptr ? message : "";
    if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    return s;
  }

  Result<void> simple(const char* sql) {
    PgResult r(PQexec(conn_, sql));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      return make_error(Errc::io, fmt::format("{}: {}", describe_, first_line(PQresultErrorMessage(r.get()))));
    return {};
  }

  Result<Rows> query(const std::string& sql, const std::vector<Param>& params) {
    CONFER_TRY_VOID(ensure_connected());
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : params) {
      values.push_back(p.bytes.data());
      lengths.push_back(int(p.bytes.size()));
      formats.push_back(1);
    }
    PgResult r(PQexecParams(conn_, sql.c_str(), int(params.size()), nullptr, values.data(), lengths.data(),
                            formats.data(), 1));
    auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
      return make_error(Errc::io, fmt::format("{}: {}", describe_, first_line(PQresultErrorMessage(r.get()))));
    return Rows(std::move(r));
  }

  Result<void> command(const std::string& sql, const std::vector<Param>& params) {
    CONFER_TRY(auto r, query(sql, params));
    (void)r;
    return {};
  }

  std::mutex mutex_;
  PGconn* conn_;
  Limits limits_;
  std::string describe_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& uri, const Limits& limits) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (conn == nullptr) return make_error(Errc::io, "cannot reach PostgreSQL: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    if (auto nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
    // The URI may carry a password: name the server by what libpq reports, not the URI.
    return make_error(Errc::io, "cannot reach PostgreSQL: " + why);
  }
  auto store = std::make_unique<PostgresStore>(conn, limits);
  CONFER_TRY_VOID(store->migrate());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace confer::server::store
