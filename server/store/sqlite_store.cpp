// The embedded backend: one SQLite database (WAL, synchronous=FULL), used from the
// server's pool threads one call at a time.
#include <mutex>

#include <fmt/format.h>

#include "core/time.hpp"
#include "crypto/hash.hpp"
#include "server/store/store.hpp"
#include "store/sqlite.hpp"

namespace confer::server::store {

namespace {

using confer::store::Database;
using confer::store::Statement;
using confer::store::Transaction;

// Schema versions in PRAGMA user_version; one step per version, never edited once shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY, auth_key BLOB NOT NULL, created INTEGER NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, records INTEGER NOT NULL DEFAULT 0);
CREATE TABLE credentials (
  id BLOB PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts(id), algorithm INTEGER NOT NULL,
  public_key BLOB NOT NULL, sign_count INTEGER NOT NULL, wrap BLOB NOT NULL, created INTEGER NOT NULL);
CREATE INDEX credentials_by_account ON credentials(account);
CREATE TABLE records (
  account TEXT NOT NULL REFERENCES accounts(id), id TEXT NOT NULL, kind INTEGER NOT NULL,
  revision INTEGER NOT NULL, deleted INTEGER NOT NULL, ciphertext BLOB NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (account, id));
CREATE TABLE changes (
  account TEXT NOT NULL REFERENCES accounts(id), seq INTEGER NOT NULL, id TEXT NOT NULL,
  kind INTEGER NOT NULL, revision INTEGER NOT NULL, deleted INTEGER NOT NULL, hash BLOB NOT NULL,
  PRIMARY KEY (account, seq));
CREATE TABLE checkpoints (
  account TEXT NOT NULL REFERENCES accounts(id), device TEXT NOT NULL, seq INTEGER NOT NULL,
  digest BLOB NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (account, device));
)sql",
};

constexpr const char* kCredentialColumns = "id, account, algorithm, public_key, sign_count, wrap, created";

StoredCredential read_credential(const Statement& s) {
  StoredCredential c;
  c.id = s.column_blob(0);
  c.account = s.column_text(1);
  c.algorithm = s.column_int(2);
  c.public_key = s.column_blob(3);
  c.sign_count = s.column_int(4);
  c.wrap = s.column_blob(5);
  c.created = s.column_int(6);
  return c;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(Database db, Limits limits) : db_(std::move(db)), limits_(limits) {}

  std::string describe() const override { return "sqlite:" + db_.path(); }

  Result<void> migrate() {
    return confer::store::migrate(db_, kMigrations, [&](int64_t seen, int64_t known) {
      return make_error(Errc::parse, fmt::format("{}: the store's schema is version {}; this confer-server knows up to {}",
                                                 db_.path(), seen, known));
    });
  }

  Result<bool> create_account(const Account& account, const StoredCredential& first) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto tx, Transaction::begin(db_));
    CONFER_TRY(auto exists, db_.prepare("SELECT 1 FROM accounts WHERE id = ?"));
    exists.bind(1, account.id);
    CONFER_TRY(bool taken, exists.step());
    if (taken) return false;
    CONFER_TRY(auto cred, db_.prepare("SELECT 1 FROM credentials WHERE id = ?"));
    cred.bind(1, ByteView(first.id));
    CONFER_TRY(bool cred_taken, cred.step());
    if (cred_taken) return false;
    CONFER_TRY(auto insert, db_.prepare("INSERT INTO accounts (id, auth_key, created) VALUES (?, ?, ?)"));
    insert.bind(1, account.id).bind(2, ByteView(account.auth_key)).bind(3, account.created);
    CONFER_TRY_VOID(insert.run());
    CONFER_TRY_VOID(insert_credential(first));
    CONFER_TRY_VOID(tx.commit());
    return true;
  }

  Result<std::optional<Account>> account(const std::string& id) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto s, db_.prepare("SELECT id, auth_key, created FROM accounts WHERE id = ?"));
    s.bind(1, id);
    CONFER_TRY(bool row, s.step());
    if (!row) return std::optional<Account>();
    return std::optional<Account>(Account{s.column_text(0), s.column_blob(1), s.column_int(2)});
  }

  Result<bool> add_credential(const StoredCredential& credential) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto tx, Transaction::begin(db_));
    CONFER_TRY(auto acct, db_.prepare("SELECT 1 FROM accounts WHERE id = ?"));
    acct.bind(1, credential.account);
    CONFER_TRY(bool exists, acct.step());
    if (!exists) return false;
    CONFER_TRY(auto count, db_.prepare("SELECT count(*) FROM credentials WHERE account = ?"));
    count.bind(1, credential.account);
    CONFER_TRY(bool row, count.step());
    if (!row || count.column_int(0) >= limits_.max_credentials) return false;
    CONFER_TRY(auto cred, db_.prepare("SELECT 1 FROM credentials WHERE id = ?"));
    cred.bind(1, ByteView(credential.id));
    CONFER_TRY(bool taken, cred.step());
    if (taken) return false;
    CONFER_TRY_VOID(insert_credential(credential));
    CONFER_TRY_VOID(tx.commit());
    return true;
  }

  Result<std::optional<StoredCredential>> credential(ByteView id) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto s, db_.prepare(fmt::format("SELECT {} FROM credentials WHERE id = ?", kCredentialColumns)));
    s.bind(1, id);
    CONFER_TRY(bool row, s.step());
    if (!row) return std::optional<StoredCredential>();
    return std::optional<StoredCredential>(read_credential(s));
  }

  Result<std::vector<StoredCredential>> credentials(const std::string& account) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto s, db_.prepare(fmt::format("SELECT {} FROM credentials WHERE account = ? ORDER BY created, id",
                                               kCredentialColumns)));
    s.bind(1, account);
    std::vector<StoredCredential> out;
    for (;;) {
      CONFER_TRY(bool row, s.step());
      if (!row) break;
      out.push_back(read_credential(s));
    }
    return out;
  }

  Result<bool> advance_sign_count(ByteView id, int64_t seen, int64_t next) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto s, db_.prepare("UPDATE credentials SET sign_count = ? WHERE id = ? AND sign_count = ?"));
    s.bind(1, next).bind(2, id).bind(3, seen);
    CONFER_TRY_VOID(s.run());
    return db_.changes() == 1;
  }

  Result<BatchOutcome> put_many(const std::string& account, std::span<const Write> writes) override {
    if (writes.size() > kMaxBatchWrites)
      return make_error(Errc::usage, fmt::format("{} writes in one batch, at most {}", writes.size(), kMaxBatchWrites));
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto tx, Transaction::begin(db_));
    CONFER_TRY(auto acct, db_.prepare("SELECT seq, bytes, records FROM accounts WHERE id = ?"));
    acct.bind(1, account);
    CONFER_TRY(bool found, acct.step());
    BatchOutcome out;
    if (!found) return BatchOutcome{PutStatus::no_account, "no account " + account, {}};
    AccountTotals totals{acct.column_int(0), acct.column_int(1), acct.column_int(2)};
    CONFER_TRY(auto cur, db_.prepare("SELECT kind, revision, length(ciphertext) FROM records WHERE account = ? AND id = ?"));
    CONFER_TRY(auto rec, db_.prepare(
        "INSERT INTO records (account, id, kind, revision, deleted, ciphertext, seq) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (account, id) DO UPDATE SET revision = excluded.revision, deleted = excluded.deleted, "
        "ciphertext = excluded.ciphertext, seq = excluded.seq"));
    CONFER_TRY(auto log, db_.prepare(
        "INSERT INTO changes (account, seq, id, kind, revision, deleted, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    for (const auto& w : writes) {
      cur.reset();
      cur.bind(1, account).bind(2, w.id);
      CONFER_TRY(bool exists, cur.step());
      int64_t current = exists ? cur.column_int(1) : 0;
      int64_t old_size = exists ? cur.column_int(2) : 0;
      if (exists && cur.column_int(0) != w.kind)
        return make_error(Errc::usage, fmt::format("record {} is of kind {}, not {}", w.id, cur.column_int(0), w.kind));
      PutOutcome judged = judge_write(limits_, totals, w, exists, current, old_size);
      if (judged.status == PutStatus::conflict) {
        out.writes.push_back(judged);
        continue;
      }
      if (judged.status == PutStatus::quota) return BatchOutcome{PutStatus::quota, std::move(judged.detail), {}};
      int64_t revision = judged.revision, seq = judged.seq;
      rec.bind(1, account).bind(2, w.id).bind(3, w.kind).bind(4, revision).bind(5, int64_t(w.deleted))
          .bind(6, w.ciphertext).bind(7, seq);
      CONFER_TRY_VOID(rec.run());
      log.bind(1, account).bind(2, seq).bind(3, w.id).bind(4, w.kind).bind(5, revision).bind(6, int64_t(w.deleted))
          .bind(7, ByteView(crypto::sha256(w.ciphertext)));
      CONFER_TRY_VOID(log.run());
      out.writes.push_back(judged);
    }
    CONFER_TRY(auto upd, db_.prepare("UPDATE accounts SET seq = ?, bytes = ?, records = ? WHERE id = ?"));
    upd.bind(1, totals.seq).bind(2, totals.bytes).bind(3, totals.records).bind(4, account);
    CONFER_TRY_VOID(upd.run());
    CONFER_TRY_VOID(tx.commit());
    return out;
  }

  Result<std::optional<Change>> get(const std::string& account, const std::string& id) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto s, db_.prepare(
        "SELECT seq, kind, revision, deleted, ciphertext FROM records WHERE account = ? AND id = ?"));
    s.bind(1, account).bind(2, id);
    CONFER_TRY(bool row, s.step());
    if (!row) return std::optional<Change>();
    Change c;
    c.seq = s.column_int(0);
    c.id = id;
    c.kind = s.column_int(1);
    c.revision = s.column_int(2);
    c.deleted = s.column_int(3) != 0;
    Bytes ct = s.column_blob(4);
    c.hash = crypto::sha256(ct);
    if (!c.deleted) c.ciphertext = std::move(ct);
    return std::optional<Change>(std::move(c));
  }

  Result<ChangePage> changes(const std::string& account, int64_t since, size_t max_count, size_t max_bytes) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto tx, Transaction::begin(db_));  // one snapshot for the page and the head
    ChangePage page;
    CONFER_TRY(auto head, db_.prepare("SELECT seq FROM accounts WHERE id = ?"));
    head.bind(1, account);
    CONFER_TRY(bool found, head.step());
    page.head = found ? head.column_int(0) : 0;
    CONFER_TRY(auto s, db_.prepare(
        "SELECT c.seq, c.id, c.kind, c.revision, c.deleted, c.hash, "
        "CASE WHEN r.revision = c.revision AND r.deleted = 0 THEN r.ciphertext END "
        "FROM changes c JOIN records r ON r.account = c.account AND r.id = c.id "
        "WHERE c.account = ? AND c.seq > ? ORDER BY c.seq LIMIT ?"));
    s.bind(1, account).bind(2, since).bind(3, int64_t(max_count) + 1);
    size_t bytes = 0;
    for (;;) {
      CONFER_TRY(bool row, s.step());
      if (!row) break;
      if (page.changes.size() == max_count) {
        page.more = true;
        break;
      }
      Change c;
      c.seq = s.column_int(0);
      c.id = s.column_text(1);
      c.kind = s.column_int(2);
      c.revision = s.column_int(3);
      c.deleted = s.column_int(4) != 0;
      c.hash = s.column_blob(5);
      if (!s.column_null(6)) c.ciphertext = s.column_blob(6);
      size_t size = c.ciphertext ? c.ciphertext->size() : 0;
      if (!page.changes.empty() && bytes + size > max_bytes) {
        page.more = true;
        break;
      }
      bytes += size;
      page.changes.push_back(std::move(c));
    }
    return page;
  }

  Result<bool> put_checkpoint(const std::string& account, const Checkpoint& checkpoint) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto tx, Transaction::begin(db_));
    CONFER_TRY(auto acct, db_.prepare("SELECT 1 FROM accounts WHERE id = ?"));
    acct.bind(1, account);
    CONFER_TRY(bool exists, acct.step());
    if (!exists) return false;
    CONFER_TRY(auto count, db_.prepare("SELECT count(*) FROM checkpoints WHERE account = ? AND device <> ?"));
    count.bind(1, account).bind(2, checkpoint.device);
    CONFER_TRY(bool row, count.step());
    if (!row || count.column_int(0) >= limits_.max_devices) return false;
    CONFER_TRY(auto s, db_.prepare(
        "INSERT INTO checkpoints (account, device, seq, digest, updated) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (account, device) DO UPDATE SET seq = excluded.seq, digest = excluded.digest, "
        "updated = excluded.updated"));
    s.bind(1, account).bind(2, checkpoint.device).bind(3, checkpoint.seq).bind(4, ByteView(checkpoint.digest))
        .bind(5, checkpoint.updated);
    CONFER_TRY_VOID(s.run());
    CONFER_TRY_VOID(tx.commit());
    return true;
  }

  Result<std::vector<Checkpoint>> checkpoints(const std::string& account) override {
    std::lock_guard lock(mutex_);
    CONFER_TRY(auto s, db_.prepare(
        "SELECT device, seq, digest, updated FROM checkpoints WHERE account = ? ORDER BY device"));
    s.bind(1, account);
    std::vector<Checkpoint> out;
    for (;;) {
      CONFER_TRY(bool row, s.step());
      if (!row) break;
      out.push_back(Checkpoint{s.column_text(0), s.column_int(1), s.column_blob(2), s.column_int(3)});
    }
    return out;
  }

 private:
  Result<void> insert_credential(const StoredCredential& c) {
    CONFER_TRY(auto s, db_.prepare(fmt::format("INSERT INTO credentials ({}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                               kCredentialColumns)));
    s.bind(1, ByteView(c.id)).bind(2, c.account).bind(3, c.algorithm).bind(4, ByteView(c.public_key))
        .bind(5, c.sign_count).bind(6, ByteView(c.wrap)).bind(7, c.created);
    return s.run();
  }

  std::mutex mutex_;
  Database db_;
  Limits limits_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const Limits& limits) {
  CONFER_TRY(auto db, Database::open(path));
  auto store = std::make_unique<SqliteStore>(std::move(db), limits);
  CONFER_TRY_VOID(store->migrate());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace confer::server::store
