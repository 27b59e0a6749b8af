// The local history (DESIGN §6): one SQLite database under the data directory holding
// the account, the root key's wraps (one per way in), each conversation's data keys
// wrapped by the records key, and every title and turn as an encrypted record. Only
// ciphertext and opaque ids are on disk; what a conversation says, its title and its
// dates exist in memory alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "crypto/secret.hpp"
#include "keys/hierarchy.hpp"
#include "store/record.hpp"
#include "store/sqlite.hpp"

namespace confer::store {

inline constexpr int kSchemaVersion = 3;

// One way to open the root key: a security key's credential, a file authenticator, or
// the recovery code. The PRF input (fido, file) or the Argon2id salt (recovery) is stored
// beside the wrap; neither is secret.
struct Credential {
  Bytes id;
  std::string kind;     // "fido", "file" or "recovery"
  std::string label;    // what the user sees in `keys list`
  std::string rp_id;    // fido: the relying party it was registered for
  std::string locator;  // fido: the device path at enrolment; file: the authenticator file
  Bytes salt;           // fido/file: the PRF input; recovery: the Argon2id salt
  int64_t opslimit = 0;  // recovery: Argon2id parameters
  int64_t memlimit = 0;
  Bytes wrapped_root;   // keys::wrap_key under this way in's kek
  int64_t created = 0;  // unix seconds
  Bytes public_key;     // fido: ES256 x || y, registered with a sync server (empty before schema 2)
  int64_t algorithm = -7;
};

struct Account {
  std::string id;
  int64_t created = 0;
  int64_t epoch = 1;  // incremented by each rotation
};

// The root key and what it gives, in guarded memory, for as long as the account is open.
struct Unlocked {
  std::string account_id;
  Bytes credential_id;  // the way in that opened it
  crypto::SecretBytes root;
  crypto::SecretBytes records;
};
// What a way in's wrap of the root key is bound to (docs/keys.md).
keys::WrapContext root_wrap_context(const std::string& account_id, const Credential& credential);

Result<Unlocked> unlocked_from_root(std::string account_id, Bytes credential_id, crypto::SecretBytes root);

struct Receipt {
  std::string platform, measurement, release, server_key;
  int64_t verified = 0;
  std::string evidence;  // hex SHA-256 of the saved evidence document ("" in older turns)
};
struct Turn {
  int64_t index = 0;
  std::string prompt, reply, model;
  int64_t time = 0;
  Receipt receipt;
};
struct Conversation {
  std::string id, title;
  int64_t created = 0, updated = 0, turns = 0;
  // The title's logical clock (docs/sync.md): each change of the title takes one more
  // than any it has seen, stamped with the device that made it; concurrent changes are
  // settled by (clock, device, title), the same way on every device.
  int64_t title_clock = 0;
  std::string title_device;
};
struct SearchHit {
  std::string conversation_id, title;
  int64_t turn = 0;
  std::string snippet;
};

// A title as rename_conversation takes it: trimmed of spaces and tabs, 1-200 bytes of
// UTF-8, one line without control characters (Errc::usage naming what was wrong).
Result<std::string> normalize_title(std::string_view title);

class HistoryStore {
 public:
  // Opens or creates `path`, migrating an older schema; Errc::parse for a database from
  // a newer confer (its schema version is named).
  static Result<HistoryStore> open(const std::string& path);
  static std::string default_path();  // $XDG_DATA_HOME/confer/history.db
  const std::string& path() const { return db_.path(); }

  // --- the account and its ways in ---------------------------------------------
  Result<std::optional<Account>> account();
  // Errc::usage when an account exists already.
  Result<void> create_account(const Account& account, const Credential& first);
  Result<std::vector<Credential>> credentials();
  Result<void> add_credential(const Credential& credential);
  // Errc::usage for an unknown id, or when it is the last way in other than recovery.
  Result<void> remove_credential(ByteView id);
  // Opens the root key with a way in's kek (Errc::key for the wrong one).
  Result<Unlocked> unlock(const Credential& credential, const crypto::SecretBytes& kek);

  // Replaces the root key: every data key rewrapped under the new records key, a new
  // data key for each conversation's future records, `wraps` (under `next.root`) as
  // the only ways in; the old wraps are overwritten and the WAL truncated. All or
  // nothing. The caller must give a wrap for every way in it keeps.
  Result<void> rotate(const Unlocked& current, const Unlocked& next, const std::vector<Credential>& wraps);

  // --- conversations --------------------------------------------------------------
  // A new empty conversation (`id` given, or random); Errc::usage if the id is taken or
  // not 1-64 of [A-Za-z0-9._-].
  // `created` 0: now (an import passes the archived time).
  Result<Conversation> create_conversation(const Unlocked& keys, std::optional<std::string> id = std::nullopt,
                                           int64_t created = 0);
  // Appends the turn and updates the conversation's record in one transaction: when it
  // returns, the turn is on disk. Returns the turn's index (from 1).
  Result<int64_t> append_turn(const Unlocked& keys, const std::string& conversation_id, Turn turn);
  Result<std::vector<Conversation>> list(const Unlocked& keys);
  Result<std::optional<Conversation>> find(const Unlocked& keys, const std::string& id);
  Result<std::optional<std::string>> last_conversation_id();
  Result<std::vector<Turn>> turns(const Unlocked& keys, const std::string& id);
  // Removes the conversation, its turns and its data keys (Errc::usage when unknown).
  Result<void> remove_conversation(const std::string& id);
  // The saved evidence document a receipt names: kept once (sealed), by the hex SHA-256
  // of its exact bytes, which put_evidence returns.
  Result<std::string> put_evidence(const Unlocked& keys, std::string_view document);
  Result<std::optional<std::string>> evidence(const Unlocked& keys, const std::string& digest_hex);
  // A new title (1-200 bytes of UTF-8 without control characters, trimmed); synced
  // like any change of the head.
  Result<void> rename_conversation(const Unlocked& keys, const std::string& id, const std::string& title);
  // Case-insensitive substring search over prompts, replies and titles, decrypting in
  // memory; at most `limit` hits.
  Result<std::vector<SearchHit>> search(const Unlocked& keys, const std::string& text, size_t limit = 100);

  // --- sync (lib/store/sync_local.cpp; the protocol is lib/sync) ------------------
  struct SyncSettings {
    std::string server;  // the URL the account syncs with
    std::string device;  // this history's random device id
  };
  Result<std::optional<SyncSettings>> sync_settings();
  // Turns sync on: every record there is becomes pending (pushed by the next sync).
  Result<void> enable_sync(const SyncSettings& settings);
  // A pending record's bytes for the server. A head is re-sealed for `revision` (the
  // server's next) and kept so locally; turns and data keys go as they are (revision 1).
  // nullopt when the record is gone locally: push a tombstone.
  Result<std::optional<Bytes>> outgoing(const Unlocked& keys, const std::string& id, int kind, int64_t revision);
  // Whether the record is still here (false: it was deleted, push a tombstone).
  Result<bool> has_record(const std::string& id, int kind);
  // A record from the server, checked to open under this account's keys before it is
  // kept (Errc::protocol naming it otherwise). Merges with a pending local change:
  // turns are appended (a local pending turn at the same index moves after it), the
  // head is merged (turn count, title last-writer-wins by `updated`) and stays pending.
  Result<void> apply_remote(const Unlocked& keys, const std::string& id, int kind, int64_t revision, bool deleted,
                            ByteView record);
  // Records held back until their conversation arrives, dropped when it was deleted.
  Result<std::vector<std::string>> deferred_ids();

  Database& database() { return db_; }

 private:
  // The data keys unwrapped during one call (a list or a search opens each once).
  struct DataKeys {
    std::map<std::pair<std::string, KeyId>, crypto::SecretBytes> open;
    std::optional<Statement> lookup;
  };
  explicit HistoryStore(Database db) : db_(std::move(db)) {}
  Result<void> migrate();
  Result<const crypto::SecretBytes*> data_key(const Unlocked& keys, const std::string& conversation_id,
                                              const KeyId& key_id, DataKeys& cache);
  Result<std::pair<KeyId, const crypto::SecretBytes*>> current_data_key(const Unlocked& keys,
                                                                        const std::string& conversation_id,
                                                                        DataKeys& cache);
  Result<Conversation> read_head(const Unlocked& keys, const std::string& id, ByteView record, int64_t revision,
                                 DataKeys& cache);
  Result<std::vector<Conversation>> list_with(const Unlocked& keys, DataKeys& cache);
  Result<std::vector<Turn>> turns_with(const Unlocked& keys, const std::string& id, DataKeys& cache);
  Result<void> mark_pending(const std::string& id, int kind);
  Result<bool> syncing();
  Result<std::string> device_id();
  Result<void> reseal_evidence(const Unlocked& current, const Unlocked& next);  // rotation  // the sync device id, or "" while the history is not synced
  Result<void> apply_head(const Unlocked& keys, const std::string& id, int64_t revision, ByteView record);
  Result<void> apply_turn(const Unlocked& keys, const std::string& conversation_id, int64_t index, ByteView record);
  Result<void> apply_key(const Unlocked& keys, const std::string& conversation_id, ByteView key_id, ByteView wrapped);
  Database db_;
};

bool valid_conversation_id(std::string_view id) noexcept;

// Record ids on a sync server: a conversation's head "ID" (kind 1), its turns
// "ID/turn/N" (kind 2), its data keys "ID/key/HEX" (kind 3, the wrap under the records key).
std::string turn_record_id(const std::string& conversation_id, int64_t index);
std::string key_record_id(const std::string& conversation_id, ByteView key_id);

}  // namespace confer::store
