#include "server/accounts.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "account/auth_key.hpp"
#include "account/token.hpp"
#include "account/webauthn.hpp"
#include "core/exception.hpp"
#include "core/json.hpp"
#include "crypto/secret.hpp"

namespace confer::server {

namespace {

using nlohmann::json;
constexpr size_t kMaxWrap = 4096;
constexpr JsonLimits kBodyLimits{1u << 20, 8};

Reply error(int32_t status, std::string message) { return Reply{status, std::move(message)}; }
Reply ok(int32_t status, const json& body) { return Reply{status, dump_json(body)}; }

struct Bad {
  Reply reply;
};

// Field readers that turn a missing or malformed field into a 400 naming it.
const json& field(const json& obj, const char* key, const char* where) {
  const json* v = member(obj, key);
  if (v == nullptr) throw Bad{error(400, fmt::format("{}: expected \"{}\", saw none", where, key))};
  return *v;
}
std::string text_field(const json& obj, const char* key, const char* where) {
  const json& v = field(obj, key, where);
  if (!v.is_string()) throw Bad{error(400, fmt::format("{}: \"{}\" must be a string, saw {}", where, key, v.type_name()))};
  return v.get<std::string>();
}
Bytes bytes_field(const json& obj, const char* key, const char* where, size_t max) {
  auto decoded = account::from_base64url(text_field(obj, key, where));
  if (!decoded) throw Bad{error(400, fmt::format("{}: \"{}\" {}", where, key, decoded.error().message))};
  if (decoded->size() > max)
    throw Bad{error(400, fmt::format("{}: \"{}\" is {} bytes, at most {}", where, key, decoded->size(), max))};
  return std::move(decoded).value();
}
int64_t int_field(const json& obj, const char* key, const char* where) {
  const json& v = field(obj, key, where);
  if (!v.is_number_integer()) throw Bad{error(400, fmt::format("{}: \"{}\" must be an integer, saw {}", where, key, v.type_name()))};
  return v.get<int64_t>();
}
json parse_body(ByteView body, const char* where) {
  auto parsed = parse_json_object(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()), where,
                                  kBodyLimits, Errc::usage);
  if (!parsed) throw Bad{error(400, parsed.error().message)};
  return std::move(parsed).value();
}

account::Assertion read_assertion(const json& obj, const char* where) {
  const json& a = field(obj, "assertion", where);
  if (!a.is_object()) throw Bad{error(400, fmt::format("{}: \"assertion\" must be an object", where))};
  account::Assertion out;
  Bytes cdj = bytes_field(a, "client_data_json", "assertion", account::kMaxClientDataJson);
  out.client_data_json.assign(cdj.begin(), cdj.end());
  out.authenticator_data = bytes_field(a, "authenticator_data", "assertion", account::kMaxAuthenticatorData);
  out.signature = bytes_field(a, "signature", "assertion", 256);
  return out;
}

store::StoredCredential read_credential(const json& obj, const std::string& account, int64_t now) {
  const json& c = field(obj, "credential", "request");
  if (!c.is_object()) throw Bad{error(400, "request: \"credential\" must be an object")};
  store::StoredCredential out;
  out.id = bytes_field(c, "id", "credential", store::kMaxCredentialIdLength);
  if (out.id.empty()) throw Bad{error(400, "credential: \"id\" is empty")};
  out.account = account;
  out.algorithm = int_field(c, "algorithm", "credential");
  out.public_key = bytes_field(c, "public_key", "credential", 64);
  if (auto key = account::credential_public_key(out.algorithm, out.public_key); !key)
    throw Bad{error(400, "credential: " + key.error().message)};
  out.wrap = bytes_field(c, "wrap", "credential", kMaxWrap);
  out.created = now;
  return out;
}

// "since=12&limit=100" -> values; unknown keys are refused so typos do not pass silently.
std::map<std::string, int64_t> read_query(const std::string& query) {
  std::map<std::string, int64_t> out;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    auto eq = part.find('=');
    std::string key = part.substr(0, eq);
    if (key != "since" && key != "limit") throw Bad{error(400, fmt::format("unknown query parameter '{}'", key))};
    std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    int64_t v = 0;
    if (value.empty() || value.size() > 18) throw Bad{error(400, fmt::format("{}: expected a number, saw '{}'", key, value))};
    for (char ch : value) {
      if (ch < '0' || ch > '9') throw Bad{error(400, fmt::format("{}: expected a number, saw '{}'", key, value))};
      v = v * 10 + (ch - '0');
    }
    out[key] = v;
  }
  return out;
}

json change_json(const store::Change& c) {
  json j = {{"seq", c.seq}, {"id", c.id}, {"kind", c.kind}, {"revision", c.revision}, {"deleted", c.deleted},
            {"hash", account::base64url(c.hash)}};
  if (c.ciphertext) j["ciphertext"] = account::base64url(*c.ciphertext);
  return j;
}

}  // namespace

AccountService::AccountService(std::shared_ptr<store::Store> store, AccountConfig config, Bytes server_static_key)
    : store_(std::move(store)), config_(std::move(config)), server_key_(std::move(server_static_key)) {}

bool AccountService::handles(std::string_view path) noexcept {
  return path.rfind("/v1/account/", 0) == 0 || path.rfind("/v1/store/", 0) == 0;
}

Reply AccountService::handle(ConnectionAuth& conn, const std::string& verb, const std::string& path, ByteView body,
                             int64_t now, std::string* log_line) {
  try {
    std::lock_guard lock(conn.mutex);
    return route(conn, verb, path, body, now);
  } catch (const Bad& bad) {
    return bad.reply;
  } catch (const Error& e) {
    // A store failure: the message names the store and the statement, never a record.
    if (log_line != nullptr) *log_line = "store: " + e.message;
    return error(503, "storage unavailable");
  } catch (...) {
    if (log_line != nullptr) *log_line = "internal: " + current_exception_text();
    return error(500, "Internal error");
  }
}

template <typename T>
T must(Result<T> r) {
  if (!r) throw std::move(r).error();
  return std::move(r).value();
}

Reply AccountService::route(ConnectionAuth& conn, const std::string& verb, const std::string& full_path, ByteView body,
                            int64_t now) {
  auto q = full_path.find('?');
  std::string path = full_path.substr(0, q);
  std::string query = q == std::string::npos ? "" : full_path.substr(q + 1);
  if (verb == "POST" && path == "/v1/account/challenge") return challenge(conn, now);
  if (verb == "POST" && path == "/v1/account/register") return register_account(conn, body, now);
  if (verb == "POST" && path == "/v1/account/login") return login(conn, body, now);
  if (verb == "POST" && path == "/v1/account/session") return session(conn, body, now);

  // Everything else needs a signed-in connection.
  if (conn.account.empty()) return error(401, "sign in first (POST /v1/account/login)");
  if (now >= conn.expires) {
    conn.account.clear();
    return error(401, "the session expired; sign in again");
  }
  if (verb == "GET" && path == "/v1/account/credentials") return list_credentials(conn);
  if (verb == "POST" && path == "/v1/account/credentials") return add_credential(conn, body, now);
  if (verb == "GET" && path == "/v1/store/changes") return changes(conn, query);
  if (verb == "POST" && path == "/v1/store/records") return put_records(conn, body);
  constexpr std::string_view kRecords = "/v1/store/records/";
  if (path.rfind(kRecords, 0) == 0) {
    std::string id = path.substr(kRecords.size());
    if (!store::valid_record_id(id)) return error(400, "expected a record id of 1-200 of [A-Za-z0-9._/-]");
    if (verb == "GET") return get_record(conn, id);
    if (verb == "PUT") return put_record(conn, id, body);
  }
  if (verb == "GET" && path == "/v1/store/checkpoints") return list_checkpoints(conn);
  constexpr std::string_view kCheckpoints = "/v1/store/checkpoints/";
  if (verb == "PUT" && path.rfind(kCheckpoints, 0) == 0) {
    std::string device = path.substr(kCheckpoints.size());
    if (!store::valid_device_id(device)) return error(400, "expected a device id of 1-64 of [A-Za-z0-9._-]");
    return put_checkpoint(conn, device, body, now);
  }
  return error(404, "Route not found");
}

Reply AccountService::challenge(ConnectionAuth& conn, int64_t now) {
  Bytes c(32);
  if (!crypto::fill_random(c.data(), c.size())) return error(500, "Internal error");
  conn.challenge = c;
  conn.challenge_expires = now + config_.challenge_lifetime;
  return ok(200, {{"challenge", account::base64url(c)},
                  {"expires_in", config_.challenge_lifetime},
                  {"rp_id", config_.rp_id},
                  {"origin", config_.origin}});
}

Result<Bytes> AccountService::take_challenge(ConnectionAuth& conn, int64_t now) {
  if (!conn.challenge) return make_error(Errc::key, "no challenge is open on this connection (ask POST /v1/account/challenge)");
  Bytes c = std::move(*conn.challenge);
  conn.challenge.reset();  // single use, whatever the outcome
  if (now >= conn.challenge_expires) return make_error(Errc::key, "the challenge expired");
  return c;
}

bool AccountService::too_many_failures(const std::string& account, int64_t now) {
  std::lock_guard lock(failures_mutex_);
  auto it = failures_.find(account);
  if (it == failures_.end()) return false;
  if (now - it->second.first >= config_.failed_login_window) {
    failures_.erase(it);
    return false;
  }
  return it->second.second >= config_.max_failed_logins;
}

void AccountService::note_failure(ConnectionAuth& conn, const std::string& account, int64_t now) {
  ++conn.failures;
  if (account.empty()) return;
  std::lock_guard lock(failures_mutex_);
  // Bounded memory under a flood of made-up ids: expired windows go first; past the
  // bound, new ids are not tracked, and the accounts already counted keep their counts.
  if (failures_.size() >= 100000) {
    for (auto it = failures_.begin(); it != failures_.end();)
      it = now - it->second.first >= config_.failed_login_window ? failures_.erase(it) : std::next(it);
    if (failures_.size() >= 100000 && failures_.find(account) == failures_.end()) return;
  }
  auto& [start, count] = failures_[account];
  if (count == 0 || now - start >= config_.failed_login_window) {
    start = now;
    count = 0;
  }
  ++count;
}

Reply AccountService::signed_in(ConnectionAuth& conn, const std::string& account, int64_t now, int32_t status,
                                std::optional<store::StoredCredential> credential) {
  account::TokenClaims claims{account, now, now + config_.token_lifetime};
  auto token = account::issue_token(config_.token_key, claims);
  if (!token) return error(500, "Internal error");
  conn.account = account;
  conn.expires = claims.expires;
  conn.failures = 0;
  json out = {{"account", account}, {"token", *token}, {"expires", claims.expires}};
  if (credential) out["credential"] = {{"id", account::base64url(credential->id)}, {"wrap", account::base64url(credential->wrap)}};
  return ok(status, out);
}

Reply AccountService::register_account(ConnectionAuth& conn, ByteView body, int64_t now) {
  if (conn.failures >= config_.max_failures_per_connection) return error(429, "too many failed attempts on this connection");
  json req = parse_body(body, "register request");
  std::string account = text_field(req, "account", "register request");
  if (!store::valid_account_id(account)) return error(400, "expected an account id of 1-64 of [A-Za-z0-9._-]");
  Bytes auth_key = bytes_field(req, "auth_key", "register request", 32);
  if (auth_key.size() != 32) return error(400, fmt::format("auth_key: expected 32 bytes (Ed25519), saw {}", auth_key.size()));
  auto credential = read_credential(req, account, now);
  auto assertion = read_assertion(req, "register request");
  auto challenge = take_challenge(conn, now);
  if (!challenge) return error(401, challenge.error().message);
  assertion.credential_id = credential.id;
  auto facts = account::verify_assertion(assertion, {*challenge, config_.origin, config_.rp_id}, credential.algorithm,
                                         credential.public_key);
  if (!facts) {
    note_failure(conn, "", now);
    return error(401, facts.error().message);
  }
  credential.sign_count = facts->sign_count;
  bool created = must(store_->create_account(store::Account{account, auth_key, now}, credential));
  if (!created) return error(409, "that account id or credential is registered already");
  return signed_in(conn, account, now, 201, std::nullopt);
}

Reply AccountService::login(ConnectionAuth& conn, ByteView body, int64_t now) {
  if (conn.failures >= config_.max_failures_per_connection) return error(429, "too many failed attempts on this connection");
  json req = parse_body(body, "login request");
  auto challenge = take_challenge(conn, now);
  if (member(req, "credential_id") != nullptr) {
    Bytes id = bytes_field(req, "credential_id", "login request", store::kMaxCredentialIdLength);
    auto assertion = read_assertion(req, "login request");
    if (!challenge) return error(401, challenge.error().message);
    auto cred = must(store_->credential(id));
    if (!cred) {
      note_failure(conn, "", now);
      return error(401, "assertion refused: this credential is not registered with this server");
    }
    if (too_many_failures(cred->account, now)) return error(429, "too many failed logins for this account; wait a minute");
    assertion.credential_id = id;
    auto facts = account::verify_assertion(assertion, {*challenge, config_.origin, config_.rp_id}, cred->algorithm,
                                           cred->public_key);
    if (!facts) {
      note_failure(conn, cred->account, now);
      return error(401, facts.error().message);
    }
    if (!account::counter_acceptable(uint32_t(cred->sign_count), facts->sign_count)) {
      note_failure(conn, cred->account, now);
      return error(401, fmt::format("assertion refused: the signature counter went from {} to {}, which a genuine "
                                    "key never does (a replayed assertion, or a cloned key)",
                                    cred->sign_count, facts->sign_count));
    }
    if (facts->sign_count != 0 && !must(store_->advance_sign_count(id, cred->sign_count, facts->sign_count)))
      return error(401, "assertion refused: another login with this credential came first (replayed?)");
    return signed_in(conn, cred->account, now, 200, cred);
  }
  std::string account = text_field(req, "account", "login request");
  Bytes signature = bytes_field(req, "signature", "login request", 64);
  if (!challenge) return error(401, challenge.error().message);
  if (!store::valid_account_id(account)) return error(400, "expected an account id of 1-64 of [A-Za-z0-9._-]");
  if (too_many_failures(account, now)) return error(429, "too many failed logins for this account; wait a minute");
  auto acct = must(store_->account(account));
  if (!acct || !account::verify(acct->auth_key, account::login_message(account, *challenge, server_key_), signature)) {
    note_failure(conn, account, now);
    return error(401, "login refused: the signature is not the account's auth key over this connection's challenge");
  }
  return signed_in(conn, account, now, 200, std::nullopt);
}

Reply AccountService::session(ConnectionAuth& conn, ByteView body, int64_t now) {
  json req = parse_body(body, "session request");
  auto r = accept_token(conn, text_field(req, "token", "session request"), now);
  if (!r) return error(401, r.error().message);
  return ok(200, {{"account", conn.account}, {"expires", conn.expires}});
}

Result<void> AccountService::accept_token(ConnectionAuth& conn, std::string_view token, int64_t now) {
  CONFER_TRY(auto claims, account::verify_token(config_.token_key, token, now));
  if (!store::valid_account_id(claims.subject)) return make_error(Errc::key, "invalid token: the subject is not an account id");
  conn.account = claims.subject;
  conn.expires = claims.expires;
  return {};
}

Reply AccountService::list_credentials(ConnectionAuth& conn) {
  json list = json::array();
  for (const auto& c : must(store_->credentials(conn.account)))
    list.push_back({{"id", account::base64url(c.id)}, {"algorithm", c.algorithm}, {"created", c.created},
                    {"wrap", account::base64url(c.wrap)}});
  return ok(200, {{"credentials", list}});
}

Reply AccountService::add_credential(ConnectionAuth& conn, ByteView body, int64_t now) {
  json req = parse_body(body, "credential request");
  auto credential = read_credential(req, conn.account, now);
  auto assertion = read_assertion(req, "credential request");
  auto challenge = take_challenge(conn, now);
  if (!challenge) return error(401, challenge.error().message);
  // The new credential proves it is held: an assertion by it over a fresh challenge.
  auto facts = account::verify_assertion(assertion, {*challenge, config_.origin, config_.rp_id}, credential.algorithm,
                                         credential.public_key);
  if (!facts) return error(401, facts.error().message);
  credential.sign_count = facts->sign_count;
  if (!must(store_->add_credential(credential)))
    return error(409, "that credential is registered already, or the account has its maximum of credentials");
  return ok(201, {{"id", account::base64url(credential.id)}});
}

Reply AccountService::changes(ConnectionAuth& conn, const std::string& query) {
  auto q = read_query(query);
  int64_t since = q.count("since") ? q["since"] : 0;
  size_t limit = config_.page_records;
  if (q.count("limit") && q["limit"] > 0) limit = std::min(limit, size_t(q["limit"]));
  auto page = must(store_->changes(conn.account, since, limit, config_.page_bytes));
  json list = json::array();
  for (const auto& c : page.changes) list.push_back(change_json(c));
  return ok(200, {{"head", page.head}, {"more", page.more}, {"changes", list}});
}

Reply AccountService::get_record(ConnectionAuth& conn, const std::string& id) {
  auto c = must(store_->get(conn.account, id));
  if (!c) return error(404, "no such record");
  return ok(200, change_json(*c));
}

// One record of a write request, its ciphertext decoded into `storage` (kept alive by
// the caller); a malformed one is a 400 naming it.
namespace {
store::Write read_write(const json& req, std::string id, Bytes& storage, int64_t max_record_bytes) {
  if (!req.is_object()) throw Bad{error(400, "record: expected an object")};
  if (!store::valid_record_id(id)) throw Bad{error(400, "expected a record id of 1-200 of [A-Za-z0-9._/-]")};
  int64_t kind = int_field(req, "kind", "record");
  int64_t expected = int_field(req, "expected_revision", "record");
  const json* del = member(req, "deleted");
  bool deleted = del != nullptr && del->is_boolean() && del->get<bool>();
  if (kind < 1 || kind > 255) throw Bad{error(400, fmt::format("record {}: \"kind\" must be 1-255, saw {}", id, kind))};
  if (expected < 0) throw Bad{error(400, fmt::format("record {}: \"expected_revision\" must be 0 (new) or more", id))};
  if (!deleted) {
    // The limit is checked on the decoded size; the request bound caps what was read.
    storage = bytes_field(req, "ciphertext", "record", size_t(1) << 20);
    if (int64_t(storage.size()) > max_record_bytes)
      throw Bad{error(413, fmt::format("record {}: {} bytes of ciphertext, at most {}", id, storage.size(),
                                       max_record_bytes))};
    if (storage.empty()) throw Bad{error(400, fmt::format("record {}: an empty ciphertext (a deletion says \"deleted\": true)", id))};
  }
  return store::Write{std::move(id), kind, expected, deleted, storage};
}
}  // namespace

Reply AccountService::write_records(ConnectionAuth& conn, std::span<const store::Write> writes, bool single) {
  auto r = store_->put_many(conn.account, writes);
  if (!r) {
    if (r.error().code == Errc::usage) return error(409, r.error().message);
    throw std::move(r).error();
  }
  switch (r->refused) {
    case store::PutStatus::quota: return error(413, "over the account's quota: " + r->detail);
    case store::PutStatus::no_account: return error(401, "the account no longer exists");
    default: break;
  }
  if (single) {
    const auto& w = r->writes.front();
    if (w.status == store::PutStatus::stored) return ok(200, {{"revision", w.revision}, {"seq", w.seq}});
    return Reply{409, dump_json(json{{"error", "revision conflict"}, {"revision", w.revision}})};
  }
  json results = json::array();
  for (const auto& w : r->writes) {
    if (w.status == store::PutStatus::stored)
      results.push_back({{"stored", true}, {"revision", w.revision}, {"seq", w.seq}});
    else
      results.push_back({{"stored", false}, {"revision", w.revision}});
  }
  return ok(200, {{"results", std::move(results)}});
}

Reply AccountService::put_record(ConnectionAuth& conn, const std::string& id, ByteView body) {
  json req = parse_body(body, "record");
  Bytes storage;
  store::Write w = read_write(req, id, storage, config_.max_record_bytes);
  return write_records(conn, std::span<const store::Write>(&w, 1), true);
}

Reply AccountService::put_records(ConnectionAuth& conn, ByteView body) {
  json req = parse_body(body, "records");
  const json* list = member(req, "records");
  if (list == nullptr || !list->is_array()) return error(400, "records: expected \"records\" as an array");
  if (list->empty() || list->size() > store::kMaxBatchWrites)
    return error(400, fmt::format("records: expected 1-{} records, saw {}", store::kMaxBatchWrites, list->size()));
  std::vector<Bytes> storage(list->size());
  std::vector<store::Write> writes;
  writes.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const json& one = (*list)[i];
    if (!one.is_object()) return error(400, fmt::format("records: entry {} is not an object", i));
    writes.push_back(read_write(one, text_field(one, "id", "record"), storage[i], config_.max_record_bytes));
  }
  return write_records(conn, writes, false);
}

Reply AccountService::list_checkpoints(ConnectionAuth& conn) {
  json list = json::array();
  for (const auto& c : must(store_->checkpoints(conn.account)))
    list.push_back({{"device", c.device}, {"seq", c.seq}, {"digest", account::base64url(c.digest)}, {"updated", c.updated}});
  return ok(200, {{"checkpoints", list}});
}

Reply AccountService::put_checkpoint(ConnectionAuth& conn, const std::string& device, ByteView body, int64_t now) {
  json req = parse_body(body, "checkpoint");
  int64_t seq = int_field(req, "seq", "checkpoint");
  Bytes digest = bytes_field(req, "digest", "checkpoint", 64);
  if (seq < 0 || digest.size() != 32) return error(400, "checkpoint: expected a seq of 0 or more and a 32-byte digest");
  if (!must(store_->put_checkpoint(conn.account, store::Checkpoint{device, seq, digest, now})))
    return error(413, "the account has its maximum of devices");
  return ok(200, {{"device", device}, {"seq", seq}});
}

}  // namespace confer::server
