// confer-server's storage (DESIGN §6, docs/sync.md): accounts, their credentials, and
// opaque encrypted records with a revision each, compare-and-set writes, tombstones, a
// change log with a cursor, and each device's published digest. The server cannot read
// a record: ids are opaque, and every ciphertext is sealed on a client.
//
// Two backends behind one interface: SQLite (embedded, one process) and PostgreSQL
// (several confer-server processes over one database). Per account, every write takes
// the next sequence number under the account row's lock, so the change log's order is
// the commit order and a reader never sees a later number before an earlier one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::server::store {

inline constexpr size_t kMaxAccountIdLength = 64;
inline constexpr size_t kMaxRecordIdLength = 200;
inline constexpr size_t kMaxCredentialIdLength = 1023;  // WebAuthn L3 §7.1
inline constexpr size_t kMaxDeviceIdLength = 64;

struct Limits {
  int64_t max_record_bytes = 512 * 1024;        // one record's ciphertext (base64 in a 1 MiB request)
  int64_t max_account_bytes = int64_t{1} << 30;  // all of an account's current ciphertext
  int64_t max_account_records = 1'000'000;       // records, tombstones included
  int64_t max_credentials = 32;
  int64_t max_devices = 64;                      // published digests
};

struct StoredCredential {
  Bytes id;
  std::string account;
  int64_t algorithm = 0;  // COSE: -7 ES256, -8 EdDSA
  Bytes public_key;       // ES256: x || y (64 bytes); EdDSA: 32 bytes
  int64_t sign_count = 0;
  Bytes wrap;             // the client's wrap of the root key for this credential (opaque)
  int64_t created = 0;
};

struct Account {
  std::string id;
  Bytes auth_key;  // Ed25519 public key derived from the account's auth key
  int64_t created = 0;
};

enum class PutStatus { stored, conflict, quota, no_account };

struct PutOutcome {
  PutStatus status = PutStatus::stored;
  int64_t revision = 0;  // stored: the new revision; conflict: the current one (0: none)
  int64_t seq = 0;       // stored: the change's sequence number
  std::string detail;    // quota: which limit
};

// One write of a batch (put_many): `id` at expected_revision + 1.
struct Write {
  std::string id;
  int64_t kind = 0;
  int64_t expected_revision = 0;
  bool deleted = false;
  ByteView ciphertext;  // empty for a tombstone
};

// A batch's outcome: when `refused` is quota or no_account nothing of it was written
// (detail names the limit and the record); otherwise one outcome per write, in order,
// each stored or conflict.
struct BatchOutcome {
  PutStatus refused = PutStatus::stored;
  std::string detail;
  std::vector<PutOutcome> writes;
};

inline constexpr size_t kMaxBatchWrites = 256;

// One entry of the change log: a write of `id` at `revision`. The ciphertext is
// attached when that revision is still the record's current one (a later write
// supersedes it), and never for tombstones.
struct Change {
  int64_t seq = 0;
  std::string id;
  int64_t kind = 0;
  int64_t revision = 0;
  bool deleted = false;
  Bytes hash;  // SHA-256 of the ciphertext written (empty ciphertext for tombstones)
  std::optional<Bytes> ciphertext;
};

struct ChangePage {
  std::vector<Change> changes;
  int64_t head = 0;   // the account's latest sequence number
  bool more = false;  // changes after the last one returned exist
};

struct Checkpoint {
  std::string device;
  int64_t seq = 0;
  Bytes digest;  // the device's MAC over the log it replayed up to seq (opaque here)
  int64_t updated = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string describe() const = 0;  // "sqlite:PATH" or "postgresql://host:port/db" (no password)

  // false when the account id or the credential id is taken.
  virtual Result<bool> create_account(const Account& account, const StoredCredential& first) = 0;
  virtual Result<std::optional<Account>> account(const std::string& id) = 0;
  // false when the credential id is taken or the account has max_credentials.
  virtual Result<bool> add_credential(const StoredCredential& credential) = 0;
  virtual Result<std::optional<StoredCredential>> credential(ByteView id) = 0;
  virtual Result<std::vector<StoredCredential>> credentials(const std::string& account) = 0;
  // Compare-and-set of the sign counter: false when it is no longer `seen`.
  virtual Result<bool> advance_sign_count(ByteView id, int64_t seen, int64_t next) = 0;

  // Writes `id` at expected_revision + 1 when its current revision is expected_revision
  // (0: it must not exist). A tombstone (deleted) carries an empty ciphertext.
  Result<PutOutcome> put(const std::string& account, const std::string& id, int64_t kind, int64_t expected_revision,
                         bool deleted, ByteView ciphertext);
  // Each write as put does, in order, in one transaction with one durable commit: a
  // revision conflict is that write's outcome and the rest go on (a later write of the
  // same id sees the earlier one); a quota or a missing account refuses the whole batch.
  // Errc::usage (nothing written) for a write of another kind than the record's, or
  // more than kMaxBatchWrites.
  virtual Result<BatchOutcome> put_many(const std::string& account, std::span<const Write> writes) = 0;
  virtual Result<std::optional<Change>> get(const std::string& account, const std::string& id) = 0;
  // Log entries after `since`, in order, at most max_count and (past the first) about
  // max_bytes of ciphertext.
  virtual Result<ChangePage> changes(const std::string& account, int64_t since, size_t max_count,
                                     size_t max_bytes) = 0;
  // false when the account has max_devices other devices already.
  virtual Result<bool> put_checkpoint(const std::string& account, const Checkpoint& checkpoint) = 0;
  virtual Result<std::vector<Checkpoint>> checkpoints(const std::string& account) = 0;
};

// What both backends decide for one write of a batch, given the record's state and the
// account's running totals: a conflict (revision: the current one), over a quota
// (detail), or stored (revision: the new one; the totals moved on, seq the change's).
struct AccountTotals {
  int64_t seq = 0, bytes = 0, records = 0;
};
PutOutcome judge_write(const Limits& limits, AccountTotals& totals, const Write& write, bool exists, int64_t current,
                       int64_t old_size);

// "sqlite:PATH", a bare path, or "postgresql://..." / "postgres://..." (a libpq URI).
// Creates or migrates the schema. Errc::usage for a spec of another form.
Result<std::unique_ptr<Store>> open_store(const std::string& spec, const Limits& limits = {});
std::string default_store_spec();  // sqlite:$XDG_STATE_HOME/confer-server/store.db

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const Limits& limits);
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& uri, const Limits& limits);

// Validation shared by both backends and the routes.
bool valid_account_id(std::string_view id) noexcept;  // 1-64 of [A-Za-z0-9._-]
bool valid_record_id(std::string_view id) noexcept;   // 1-200 of [A-Za-z0-9._/-]
bool valid_device_id(std::string_view id) noexcept;   // 1-64 of [A-Za-z0-9._-]

}  // namespace confer::server::store
