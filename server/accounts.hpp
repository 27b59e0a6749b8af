// Accounts and storage inside the attested channel (docs/protocol.md "Accounts and
// storage"): challenge, register, login (a WebAuthn assertion or the account's auth key),
// session tokens, credentials, and the record routes over server/store. Transport-free:
// the connection hands each request here with its own ConnectionAuth, on a pool thread
// (the store may block), and sends back the reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/bytes.hpp"
#include "server/store/store.hpp"

namespace confer::server {

struct AccountConfig {
  std::string rp_id = "confer.to";
  std::string origin = "https://confer.to";
  Bytes token_key;                  // HS256 key, at least 32 bytes; shared by servers over one store
  int64_t challenge_lifetime = 120;  // seconds
  int64_t token_lifetime = 15 * 60;
  int max_failed_logins = 10;       // per account per window, then 429
  int64_t failed_login_window = 60;
  int max_failures_per_connection = 5;
  size_t page_records = 500;        // change feed page bounds
  size_t page_bytes = 4u << 20;
  int64_t max_record_bytes = store::Limits{}.max_record_bytes;
};

// What one connection has proved. Guarded by its own mutex: requests of one connection
// run one at a time here.
struct ConnectionAuth {
  std::mutex mutex;
  std::optional<Bytes> challenge;  // single use
  int64_t challenge_expires = 0;
  std::string account;             // empty: not signed in
  int64_t expires = 0;
  int failures = 0;
};

struct Reply {
  int32_t status = 200;
  std::string body;  // JSON, or a plain message for errors
};

class AccountService {
 public:
  AccountService(std::shared_ptr<store::Store> store, AccountConfig config, Bytes server_static_key);

  static bool handles(std::string_view path) noexcept;  // /v1/account/... and /v1/store/...
  // Never throws; a failure of the store is 503 and a line for `log` (no content).
  Reply handle(ConnectionAuth& conn, const std::string& verb, const std::string& path, ByteView body, int64_t now,
               std::string* log_line);
  // `?token=` at the WebSocket upgrade: signs the connection in, or says why not.
  Result<void> accept_token(ConnectionAuth& conn, std::string_view token, int64_t now);

 private:
  Reply route(ConnectionAuth& conn, const std::string& verb, const std::string& path, ByteView body, int64_t now);
  Reply challenge(ConnectionAuth& conn, int64_t now);
  Reply register_account(ConnectionAuth& conn, ByteView body, int64_t now);
  Reply login(ConnectionAuth& conn, ByteView body, int64_t now);
  Reply session(ConnectionAuth& conn, ByteView body, int64_t now);
  Reply list_credentials(ConnectionAuth& conn);
  Reply add_credential(ConnectionAuth& conn, ByteView body, int64_t now);
  Reply changes(ConnectionAuth& conn, const std::string& query);
  Reply get_record(ConnectionAuth& conn, const std::string& id);
  Reply put_record(ConnectionAuth& conn, const std::string& id, ByteView body);
  Reply put_records(ConnectionAuth& conn, ByteView body);
  Reply write_records(ConnectionAuth& conn, std::span<const store::Write> writes, bool single);
  Reply list_checkpoints(ConnectionAuth& conn);
  Reply put_checkpoint(ConnectionAuth& conn, const std::string& device, ByteView body, int64_t now);

  Result<Bytes> take_challenge(ConnectionAuth& conn, int64_t now);
  Reply signed_in(ConnectionAuth& conn, const std::string& account, int64_t now, int32_t status,
                  std::optional<store::StoredCredential> credential);
  bool too_many_failures(const std::string& account, int64_t now);
  void note_failure(ConnectionAuth& conn, const std::string& account, int64_t now);

  std::shared_ptr<store::Store> store_;
  AccountConfig config_;
  Bytes server_key_;
  std::mutex failures_mutex_;
  std::map<std::string, std::pair<int64_t, int>> failures_;  // account -> (window start, count)
};

}  // namespace confer::server
