#include "server/store/store.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "core/paths.hpp"

namespace confer::server::store {

namespace {

bool id_chars(std::string_view id, size_t max, bool slash) noexcept {
  if (id.empty() || id.size() > max) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || (slash && c == '/');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool valid_account_id(std::string_view id) noexcept { return id_chars(id, kMaxAccountIdLength, false); }
bool valid_record_id(std::string_view id) noexcept { return id_chars(id, kMaxRecordIdLength, true); }
bool valid_device_id(std::string_view id) noexcept { return id_chars(id, kMaxDeviceIdLength, false); }

Result<PutOutcome> Store::put(const std::string& account, const std::string& id, int64_t kind, int64_t expected,
                              bool deleted, ByteView ciphertext) {
  Write w{id, kind, expected, deleted, ciphertext};
  CONFER_TRY(auto batch, put_many(account, std::span<const Write>(&w, 1)));
  if (batch.refused != PutStatus::stored) return PutOutcome{batch.refused, 0, 0, std::move(batch.detail)};
  return std::move(batch.writes.front());
}

PutOutcome judge_write(const Limits& limits, AccountTotals& totals, const Write& w, bool exists, int64_t current,
                       int64_t old_size) {
  if (current != w.expected_revision) return {PutStatus::conflict, current, 0, {}};
  if (!exists && totals.records + 1 > limits.max_account_records)
    return {PutStatus::quota, 0, 0, fmt::format("at most {} records (writing {})", limits.max_account_records, w.id)};
  int64_t new_bytes = totals.bytes - old_size + int64_t(w.ciphertext.size());
  if (new_bytes > limits.max_account_bytes && int64_t(w.ciphertext.size()) > old_size)
    return {PutStatus::quota, 0, 0, fmt::format("at most {} bytes (writing {})", limits.max_account_bytes, w.id)};
  totals.seq += 1;
  totals.bytes = new_bytes;
  totals.records += exists ? 0 : 1;
  return {PutStatus::stored, w.expected_revision + 1, totals.seq, {}};
}

std::string default_store_spec() {
  std::string base;
  if (const char* s = std::getenv("XDG_STATE_HOME"); s != nullptr && s[0] == '/') {
    base = s;
  } else {
    const char* home = std::getenv("HOME");
    base = std::string(home != nullptr && home[0] != '\0' ? home : ".") + "/.local/state";
  }
  return "sqlite:" + base + "/confer-server/store.db";
}

Result<std::unique_ptr<Store>> open_store(const std::string& spec, const Limits& limits) {
  if (spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0)
    return open_postgres_store(spec, limits);
  if (spec.rfind("sqlite:", 0) == 0) {
    std::string path = spec.substr(7);
    if (path.empty()) return make_error(Errc::usage, "--store: expected sqlite:PATH, saw 'sqlite:' with no path");
    return open_sqlite_store(path, limits);
  }
  if (spec.find("://") != std::string::npos)
    return make_error(Errc::usage, "--store: expected sqlite:PATH or postgresql://..., saw '" + spec + "'");
  if (spec.empty()) return make_error(Errc::usage, "--store: expected sqlite:PATH or postgresql://..., saw nothing");
  return open_sqlite_store(spec, limits);
}

}  // namespace confer::server::store
