// The history store's account half: schema and migrations, the account, its ways in,
// and rotation. Conversations are in conversations.cpp.
#include "store/history.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/paths.hpp"
#include "keys/recovery.hpp"

namespace confer::store {

namespace {

// Each entry takes the schema from version i to i + 1. Never edit one that has shipped:
// add the next.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE account (
  id TEXT PRIMARY KEY, created INTEGER NOT NULL, epoch INTEGER NOT NULL);
CREATE TABLE credentials (
  id BLOB PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL, rp_id TEXT NOT NULL,
  locator TEXT NOT NULL, salt BLOB NOT NULL, opslimit INTEGER NOT NULL, memlimit INTEGER NOT NULL,
  wrapped_root BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE conversations (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, revision INTEGER NOT NULL, head BLOB NOT NULL);
CREATE INDEX conversations_by_seq ON conversations(seq);
CREATE TABLE data_keys (
  key_id BLOB PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL, wrapped BLOB NOT NULL);
CREATE INDEX data_keys_by_conversation ON data_keys(conversation_id, seq);
CREATE TABLE turns (
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL, record BLOB NOT NULL, PRIMARY KEY (conversation_id, idx));
)sql",
    // 2: sync (docs/sync.md). A credential's public key, for a server to check its
    // assertions; the server and device; each record's state on the server; what is
    // waiting to be pushed; the change log's chain; the other devices' checkpoints.
    R"sql(
ALTER TABLE credentials ADD COLUMN public_key BLOB NOT NULL DEFAULT x'';
ALTER TABLE credentials ADD COLUMN algorithm INTEGER NOT NULL DEFAULT -7;
CREATE TABLE sync_state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE sync_records (
  id TEXT PRIMARY KEY, kind INTEGER NOT NULL, revision INTEGER NOT NULL, seq INTEGER NOT NULL,
  hash BLOB NOT NULL, deleted INTEGER NOT NULL, have INTEGER NOT NULL);
CREATE INDEX sync_records_waiting ON sync_records(seq) WHERE have = 0 AND deleted = 0;
CREATE TABLE sync_pending (id TEXT PRIMARY KEY, kind INTEGER NOT NULL);
CREATE TABLE sync_sent (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, revision INTEGER NOT NULL, hash BLOB NOT NULL);
CREATE TABLE sync_chain (seq INTEGER PRIMARY KEY, chain BLOB NOT NULL);
CREATE TABLE sync_peers (device TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE sync_deferred (
  id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, kind INTEGER NOT NULL, revision INTEGER NOT NULL,
  record BLOB NOT NULL);
CREATE INDEX sync_deferred_by_conversation ON sync_deferred(conversation_id);
)sql",
    // 3: the evidence each turn's receipt names (its SHA-256), once per server session,
    // so a receipt can be re-checked offline (confer verify-attestation --receipt).
    R"sql(
CREATE TABLE evidence (digest BLOB PRIMARY KEY, record BLOB NOT NULL);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

constexpr const char* kCredentialColumns =
    "id, kind, label, rp_id, locator, salt, opslimit, memlimit, wrapped_root, created, public_key, algorithm";

Credential read_credential(const Statement& s) {
  Credential c;
  c.id = s.column_blob(0);
  c.kind = s.column_text(1);
  c.label = s.column_text(2);
  c.rp_id = s.column_text(3);
  c.locator = s.column_text(4);
  c.salt = s.column_blob(5);
  c.opslimit = s.column_int(6);
  c.memlimit = s.column_int(7);
  c.wrapped_root = s.column_blob(8);
  c.created = s.column_int(9);
  c.public_key = s.column_blob(10);
  c.algorithm = s.column_int(11);
  return c;
}

Result<void> insert_credential(Database& db, const Credential& c) {
  CONFER_TRY(Statement s, db.prepare(fmt::format("INSERT INTO credentials ({}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                                 kCredentialColumns)));
  s.bind(1, ByteView(c.id)).bind(2, c.kind).bind(3, c.label).bind(4, c.rp_id).bind(5, c.locator);
  s.bind(6, ByteView(c.salt)).bind(7, c.opslimit).bind(8, c.memlimit).bind(9, ByteView(c.wrapped_root));
  s.bind(10, c.created).bind(11, ByteView(c.public_key)).bind(12, c.algorithm);
  auto r = s.run();
  if (!r) return make_error(r.error().code, "saving the way in " + c.label + ": " + r.error().message);
  return {};
}

}  // namespace

keys::WrapContext root_wrap_context(const std::string& account_id, const Credential& c) {
  std::string_view label = c.kind == "recovery" ? keys::kRecoveryWrap : keys::kRootWrap;
  return {label, as_bytes(account_id), c.id};
}

Result<Unlocked> unlocked_from_root(std::string account_id, Bytes credential_id, crypto::SecretBytes root) {
  CONFER_TRY(crypto::SecretBytes records, keys::derive_subkey(root, keys::Subkey::records));
  return Unlocked{std::move(account_id), std::move(credential_id), std::move(root), std::move(records)};
}

std::string HistoryStore::default_path() { return data_dir() + "/history.db"; }

Result<HistoryStore> HistoryStore::open(const std::string& path) {
  CONFER_TRY(Database db, Database::open(path));
  HistoryStore store(std::move(db));
  CONFER_TRY_VOID(store.migrate());
  return store;
}

Result<void> HistoryStore::migrate() {
  return store::migrate(db_, kMigrations, [&](int64_t seen, int64_t known) {
    return make_error(Errc::parse, fmt::format("{}: history schema version {} is newer than this confer knows ({}); "
                                               "upgrade confer",
                                               db_.path(), seen, known));
  });
}

Result<std::optional<Account>> HistoryStore::account() {
  CONFER_TRY(Statement s, db_.prepare("SELECT id, created, epoch FROM account"));
  CONFER_TRY(bool row, s.step());
  if (!row) return std::optional<Account>();
  return std::optional<Account>(Account{s.column_text(0), s.column_int(1), s.column_int(2)});
}

Result<void> HistoryStore::create_account(const Account& account, const Credential& first) {
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(auto existing, this->account());
  if (existing) return make_error(Errc::usage, fmt::format("{}: an account exists already ({})", db_.path(), existing->id));
  CONFER_TRY(Statement s, db_.prepare("INSERT INTO account (id, created, epoch) VALUES (?, ?, ?)"));
  CONFER_TRY_VOID(s.bind(1, account.id).bind(2, account.created).bind(3, account.epoch).run());
  CONFER_TRY_VOID(insert_credential(db_, first));
  return tx.commit();
}

Result<std::vector<Credential>> HistoryStore::credentials() {
  CONFER_TRY(Statement s, db_.prepare(fmt::format("SELECT {} FROM credentials ORDER BY created, rowid",
                                                  kCredentialColumns)));
  std::vector<Credential> out;
  for (;;) {
    CONFER_TRY(bool row, s.step());
    if (!row) break;
    out.push_back(read_credential(s));
  }
  return out;
}

Result<void> HistoryStore::add_credential(const Credential& credential) {
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY_VOID(insert_credential(db_, credential));
  return tx.commit();
}

Result<void> HistoryStore::remove_credential(ByteView id) {
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(std::vector<Credential> all, credentials());
  const Credential* target = nullptr;
  size_t others = 0;
  for (const auto& c : all) {
    if (equal_ct(c.id, id) && c.id.size() == id.size()) target = &c;
    else ++others;
  }
  if (target == nullptr) return make_error(Errc::usage, fmt::format("no way in with id {}", to_hex(id)));
  if (others == 0)
    return make_error(Errc::usage, fmt::format("{} is the last way into this history; removing it would lose "
                                               "everything",
                                               target->label));
  CONFER_TRY(Statement s, db_.prepare("DELETE FROM credentials WHERE id = ?"));
  CONFER_TRY_VOID(s.bind(1, id).run());
  CONFER_TRY_VOID(tx.commit());
  return db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

Result<Unlocked> HistoryStore::unlock(const Credential& credential, const crypto::SecretBytes& kek) {
  CONFER_TRY(auto acct, account());
  if (!acct) return make_error(Errc::usage, db_.path() + ": no account");
  auto root = keys::unwrap_key(kek, credential.wrapped_root, root_wrap_context(acct->id, credential));
  if (!root)
    return make_error(root.error().code, fmt::format("{} did not open this history's key: {}", credential.label,
                                                     root.error().message));
  return unlocked_from_root(acct->id, credential.id, std::move(*root));
}

Result<void> HistoryStore::rotate(const Unlocked& current, const Unlocked& next, const std::vector<Credential>& wraps) {
  if (wraps.empty()) return make_error(Errc::usage, "rotation needs at least one way in under the new key");
  if (current.account_id != next.account_id) return make_error(Errc::usage, "rotation within one account only");
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(auto synced, sync_settings());
  if (synced)
    return make_error(Errc::usage, "this history syncs with " + synced->server +
                                       "; rotating the key of a synced account is not supported yet (docs/sync.md)");
  CONFER_TRY(Statement keys_q, db_.prepare("SELECT key_id, conversation_id, wrapped FROM data_keys"));
  CONFER_TRY(Statement update, db_.prepare("UPDATE data_keys SET wrapped = ? WHERE key_id = ?"));
  std::vector<std::string> conversations;
  for (;;) {
    CONFER_TRY(bool row, keys_q.step());
    if (!row) break;
    Bytes key_id = keys_q.column_blob(0);
    std::string conversation = keys_q.column_text(1);
    keys::WrapContext ctx{keys::kDataKeyWrap, as_bytes(current.account_id), as_bytes(conversation)};
    CONFER_TRY(crypto::SecretBytes dk, keys::unwrap_key(current.records, keys_q.column_blob(2), ctx));
    CONFER_TRY(Bytes rewrapped, keys::wrap_key(next.records, dk, ctx));
    CONFER_TRY_VOID(update.bind(1, ByteView(rewrapped)).bind(2, ByteView(key_id)).run());
    if (conversations.empty() || conversations.back() != conversation) conversations.push_back(conversation);
  }
  // Future records of every conversation go under a key the old root never wrapped.
  CONFER_TRY(Statement add, db_.prepare("INSERT INTO data_keys (key_id, conversation_id, seq, wrapped) VALUES "
                                        "(?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM data_keys), ?)"));
  std::sort(conversations.begin(), conversations.end());
  conversations.erase(std::unique(conversations.begin(), conversations.end()), conversations.end());
  for (const auto& conversation : conversations) {
    CONFER_TRY(crypto::SecretBytes dk, keys::random_key());
    KeyId id{};
    CONFER_TRY_VOID(crypto::fill_random(id.data(), id.size()));
    keys::WrapContext ctx{keys::kDataKeyWrap, as_bytes(next.account_id), as_bytes(conversation)};
    CONFER_TRY(Bytes wrapped, keys::wrap_key(next.records, dk, ctx));
    CONFER_TRY_VOID(add.bind(1, ByteView(id)).bind(2, conversation).bind(3, ByteView(wrapped)).run());
  }
  // The saved evidence is sealed under a key derived from the records key: re-sealed.
  CONFER_TRY_VOID(reseal_evidence(current, next));
  CONFER_TRY_VOID(db_.exec("DELETE FROM credentials"));
  for (const auto& c : wraps) CONFER_TRY_VOID(insert_credential(db_, c));
  CONFER_TRY_VOID(db_.exec("UPDATE account SET epoch = epoch + 1"));
  CONFER_TRY_VOID(tx.commit());
  // The old wraps' pages were zeroed (secure_delete); the WAL still holds them until this.
  return db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace confer::store
