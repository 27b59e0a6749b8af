// The history store's conversations: each one's data keys, its head record (title,
// dates, turn count) and its turn records, sealed per lib/store/record.
#include <algorithm>
#include <cctype>
#include <tuple>

#include <fmt/format.h>

#include "core/json.hpp"
#include "crypto/hash.hpp"
#include "core/time.hpp"
#include "keys/hierarchy.hpp"
#include "store/history.hpp"
#include "store/head_json.hpp"

namespace confer::store {

namespace {

using nlohmann::json;

constexpr size_t kTitleLength = 60;

keys::WrapContext data_key_context(const Unlocked& keys, const std::string& conversation_id) {
  return {keys::kDataKeyWrap, as_bytes(keys.account_id), as_bytes(conversation_id)};
}

// The first line of the first prompt, cut at a character boundary.
std::string title_from(const std::string& prompt) {
  std::string line = prompt.substr(prompt.find_first_not_of(" \t\r\n") == std::string::npos
                                       ? prompt.size()
                                       : prompt.find_first_not_of(" \t\r\n"));
  line = line.substr(0, line.find('\n'));
  if (line.size() <= kTitleLength) return line;
  size_t cut = kTitleLength;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut) + "…";
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

json turn_json(const Turn& t) {
  return {{"prompt", t.prompt},
          {"reply", t.reply},
          {"model", t.model},
          {"time", t.time},
          {"receipt",
           {{"platform", t.receipt.platform},
            {"measurement", t.receipt.measurement},
            {"release", t.receipt.release},
            {"server_key", t.receipt.server_key},
            {"verified", t.receipt.verified},
            {"evidence", t.receipt.evidence}}}};
}

Result<json> record_json(const std::string& plain, const std::string& what) {
  return parse_json(plain, what, JsonLimits{kMaxRecordSize, 8});
}

Result<Turn> parse_turn(const json& j, int64_t index, const std::string& what) {
  Turn t;
  t.index = index;
  CONFER_TRY(t.prompt, json_detail::required_string(j, "prompt", what));
  CONFER_TRY(t.reply, json_detail::required_string(j, "reply", what));
  CONFER_TRY(t.model, json_detail::required_string(j, "model", what));
  CONFER_TRY(t.time, json_detail::required_int64(j, "time", what));
  CONFER_TRY(const json* r, json_detail::required_object(j, "receipt", what));
  CONFER_TRY(t.receipt.platform, json_detail::required_string(*r, "platform", what));
  CONFER_TRY(t.receipt.measurement, json_detail::required_string(*r, "measurement", what));
  CONFER_TRY(t.receipt.release, json_detail::required_string(*r, "release", what));
  CONFER_TRY(t.receipt.server_key, json_detail::required_string(*r, "server_key", what));
  CONFER_TRY(t.receipt.verified, json_detail::required_int64(*r, "verified", what));
  if (const auto* e = json_detail::member(*r, "evidence"); e != nullptr && e->is_string()) t.receipt.evidence = e->get<std::string>();
  return t;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string snippet_around(const std::string& text, size_t at, size_t length) {
  size_t begin = at > 30 ? at - 30 : 0;
  while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
  size_t end = std::min(text.size(), at + length + 50);
  while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
  std::string s = text.substr(begin, end - begin);
  std::replace(s.begin(), s.end(), '\n', ' ');
  return (begin > 0 ? "…" : "") + s + (end < text.size() ? "…" : "");
}

}  // namespace

void set_title(Conversation& c, std::string title, const std::string& device) {
  c.title = std::move(title);
  c.title_clock += 1;
  c.title_device = device;
}

bool title_wins(const Conversation& a, const Conversation& b) {
  return std::tie(a.title_clock, a.title_device, a.title) > std::tie(b.title_clock, b.title_device, b.title);
}

void read_title_clock(const nlohmann::json& head, Conversation& c) {
  const auto* clock = json_detail::member(head, "title_clock");
  const auto* device = json_detail::member(head, "title_device");
  c.title_clock = clock && clock->is_number_integer() && clock->get<int64_t>() > 0 ? clock->get<int64_t>() : 0;
  c.title_device = c.title_clock > 0 && device && device->is_string() ? device->get<std::string>() : "";
}

Result<std::string> HistoryStore::device_id() {
  CONFER_TRY(auto settings, sync_settings());
  return settings ? settings->device : std::string();
}

nlohmann::json head_json(const Conversation& c) {
  json j = {{"title", c.title}, {"created", c.created}, {"updated", c.updated}, {"turns", c.turns}};
  if (c.title_clock > 0) {
    j["title_clock"] = c.title_clock;
    j["title_device"] = c.title_device;
  }
  return j;
}

std::string turn_record_id(const std::string& conversation_id, int64_t index) {
  return fmt::format("{}/turn/{}", conversation_id, index);
}

std::string key_record_id(const std::string& conversation_id, ByteView key_id) {
  return conversation_id + "/key/" + to_hex(key_id);
}

bool valid_conversation_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-';
  });
}

Result<const crypto::SecretBytes*> HistoryStore::data_key(const Unlocked& keys, const std::string& conversation_id,
                                                          const KeyId& key_id, DataKeys& cache) {
  auto slot = std::pair(conversation_id, key_id);
  if (auto it = cache.open.find(slot); it != cache.open.end()) return &it->second;
  if (!cache.lookup) {
    CONFER_TRY(Statement s, db_.prepare("SELECT wrapped FROM data_keys WHERE key_id = ? AND conversation_id = ?"));
    cache.lookup.emplace(std::move(s));
  }
  Statement& s = *cache.lookup;
  s.reset();
  s.bind(1, ByteView(key_id)).bind(2, conversation_id);
  CONFER_TRY(bool row, s.step());
  if (!row)
    return make_error(Errc::key, fmt::format("conversation {}: no data key {} (the record belongs elsewhere)",
                                             conversation_id, to_hex(key_id)));
  auto dk = keys::unwrap_key(keys.records, s.column_blob(0), data_key_context(keys, conversation_id));
  if (!dk)
    return make_error(dk.error().code, fmt::format("conversation {}: its data key does not open under this "
                                                   "account's key: {}",
                                                   conversation_id, dk.error().message));
  return &cache.open.emplace(std::move(slot), std::move(*dk)).first->second;
}

Result<std::pair<KeyId, const crypto::SecretBytes*>> HistoryStore::current_data_key(
    const Unlocked& keys, const std::string& conversation_id, DataKeys& cache) {
  CONFER_TRY(Statement s, db_.prepare("SELECT key_id FROM data_keys WHERE conversation_id = ? ORDER BY seq DESC "
                                      "LIMIT 1"));
  s.bind(1, conversation_id);
  CONFER_TRY(bool row, s.step());
  if (!row) return make_error(Errc::parse, fmt::format("conversation {}: has no data key", conversation_id));
  Bytes raw = s.column_blob(0);
  if (raw.size() != kKeyIdSize) return make_error(Errc::parse, fmt::format("conversation {}: a malformed key id",
                                                                           conversation_id));
  KeyId id{};
  std::copy(raw.begin(), raw.end(), id.begin());
  CONFER_TRY(const crypto::SecretBytes* dk, data_key(keys, conversation_id, id, cache));
  return std::pair(id, dk);
}

Result<Conversation> HistoryStore::read_head(const Unlocked& keys, const std::string& id, ByteView record,
                                             int64_t revision, DataKeys& cache) {
  CONFER_TRY(RecordView view, parse_record(record));
  CONFER_TRY(const crypto::SecretBytes* dk, data_key(keys, id, view.key_id, cache));
  RecordContext ctx{keys.account_id, id, RecordKind::conversation, uint64_t(revision)};
  std::string plain;
  CONFER_TRY_VOID(open_record_into(*dk, view.key_id, ctx, record, plain));
  std::string what = "conversation " + id;
  CONFER_TRY(json j, record_json(plain, what));
  Conversation c;
  c.id = id;
  CONFER_TRY(c.title, json_detail::required_string(j, "title", what));
  CONFER_TRY(c.created, json_detail::required_int64(j, "created", what));
  CONFER_TRY(c.updated, json_detail::required_int64(j, "updated", what));
  CONFER_TRY(c.turns, json_detail::required_int64(j, "turns", what));
  read_title_clock(j, c);
  return c;
}

Result<Conversation> HistoryStore::create_conversation(const Unlocked& keys, std::optional<std::string> id,
                                                       int64_t created) {
  std::string cid;
  if (id) {
    if (!valid_conversation_id(*id))
      return make_error(Errc::usage, fmt::format("conversation id: expected 1-64 of A-Z a-z 0-9 . _ -, saw '{}'", *id));
    cid = *id;
  } else {
    Bytes raw(8);
    CONFER_TRY_VOID(crypto::fill_random(raw.data(), raw.size()));
    cid = to_hex(raw);
  }
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(auto existing, find(keys, cid));
  if (existing) return make_error(Errc::usage, fmt::format("conversation {} exists already", cid));
  CONFER_TRY(crypto::SecretBytes dk, keys::random_key());
  KeyId key_id{};
  CONFER_TRY_VOID(crypto::fill_random(key_id.data(), key_id.size()));
  CONFER_TRY(Bytes wrapped, keys::wrap_key(keys.records, dk, data_key_context(keys, cid)));
  int64_t when = created > 0 ? created : now_utc();
  Conversation c{cid, "", when, when, 0, 0, ""};
  std::string head = dump_json(head_json(c));
  CONFER_TRY(Bytes record, seal_record(dk, key_id, {keys.account_id, cid, RecordKind::conversation, 1},
                                       as_bytes(head)));
  CONFER_TRY(Statement ins, db_.prepare("INSERT INTO conversations (id, seq, revision, head) VALUES "
                                        "(?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM conversations), 1, ?)"));
  CONFER_TRY_VOID(ins.bind(1, cid).bind(2, ByteView(record)).run());
  CONFER_TRY(Statement key, db_.prepare("INSERT INTO data_keys (key_id, conversation_id, seq, wrapped) VALUES "
                                        "(?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM data_keys), ?)"));
  CONFER_TRY_VOID(key.bind(1, ByteView(key_id)).bind(2, cid).bind(3, ByteView(wrapped)).run());
  CONFER_TRY_VOID(mark_pending(key_record_id(cid, key_id), int(RecordKind::data_key)));
  CONFER_TRY_VOID(mark_pending(cid, int(RecordKind::conversation)));
  CONFER_TRY_VOID(tx.commit());
  return c;
}

Result<int64_t> HistoryStore::append_turn(const Unlocked& keys, const std::string& conversation_id, Turn turn) {
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(Statement q, db_.prepare("SELECT revision, head FROM conversations WHERE id = ?"));
  q.bind(1, conversation_id);
  CONFER_TRY(bool row, q.step());
  if (!row) return make_error(Errc::usage, fmt::format("no conversation {}", conversation_id));
  int64_t revision = q.column_int(0);
  DataKeys cache;
  CONFER_TRY(Conversation head, read_head(keys, conversation_id, q.column_blob(1), revision, cache));
  CONFER_TRY(auto current, current_data_key(keys, conversation_id, cache));
  const auto& [key_id, dk] = current;

  CONFER_TRY(Statement top, db_.prepare("SELECT COALESCE(MAX(idx), 0) FROM turns WHERE conversation_id = ?"));
  top.bind(1, conversation_id);
  CONFER_TRY(bool has_top, top.step());
  turn.index = std::max(head.turns, has_top ? top.column_int(0) : 0) + 1;
  if (turn.time == 0) turn.time = now_utc();
  std::string body = dump_json(turn_json(turn));
  CONFER_TRY(Bytes record, seal_record(*dk, key_id, {keys.account_id, turn_record_id(conversation_id, turn.index),
                                                    RecordKind::turn, 1},
                                       as_bytes(body)));
  CONFER_TRY(Statement ins, db_.prepare("INSERT INTO turns (conversation_id, idx, record) VALUES (?, ?, ?)"));
  CONFER_TRY_VOID(ins.bind(1, conversation_id).bind(2, turn.index).bind(3, ByteView(record)).run());

  if (head.title.empty()) {
    CONFER_TRY(std::string device, device_id());
    set_title(head, title_from(turn.prompt), device);
  }
  head.turns = turn.index;
  head.updated = turn.time;
  std::string head_text = dump_json(head_json(head));
  CONFER_TRY(Bytes head_record, seal_record(*dk, key_id, {keys.account_id, conversation_id, RecordKind::conversation,
                                                         uint64_t(revision + 1)},
                                            as_bytes(head_text)));
  CONFER_TRY(Statement up, db_.prepare("UPDATE conversations SET head = ?, revision = ?, "
                                       "seq = (SELECT MAX(seq) + 1 FROM conversations) WHERE id = ?"));
  CONFER_TRY_VOID(up.bind(1, ByteView(head_record)).bind(2, revision + 1).bind(3, conversation_id).run());
  CONFER_TRY_VOID(mark_pending(turn_record_id(conversation_id, turn.index), int(RecordKind::turn)));
  CONFER_TRY_VOID(mark_pending(conversation_id, int(RecordKind::conversation)));
  CONFER_TRY_VOID(tx.commit());
  return turn.index;
}

Result<std::vector<Conversation>> HistoryStore::list(const Unlocked& keys) {
  DataKeys cache;
  return list_with(keys, cache);
}

Result<std::vector<Conversation>> HistoryStore::list_with(const Unlocked& keys, DataKeys& cache) {
  CONFER_TRY(Statement s, db_.prepare("SELECT id, revision, head FROM conversations ORDER BY seq DESC"));
  std::vector<Conversation> out;
  for (;;) {
    CONFER_TRY(bool row, s.step());
    if (!row) break;
    CONFER_TRY(Conversation c, read_head(keys, s.column_text(0), s.column_blob(2), s.column_int(1), cache));
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::optional<Conversation>> HistoryStore::find(const Unlocked& keys, const std::string& id) {
  CONFER_TRY(Statement s, db_.prepare("SELECT revision, head FROM conversations WHERE id = ?"));
  s.bind(1, id);
  CONFER_TRY(bool row, s.step());
  if (!row) return std::optional<Conversation>();
  DataKeys cache;
  CONFER_TRY(Conversation c, read_head(keys, id, s.column_blob(1), s.column_int(0), cache));
  return std::optional<Conversation>(std::move(c));
}

Result<std::optional<std::string>> HistoryStore::last_conversation_id() {
  CONFER_TRY(Statement s, db_.prepare("SELECT id FROM conversations ORDER BY seq DESC LIMIT 1"));
  CONFER_TRY(bool row, s.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.column_text(0));
}

Result<std::vector<Turn>> HistoryStore::turns(const Unlocked& keys, const std::string& id) {
  DataKeys cache;
  return turns_with(keys, id, cache);
}

Result<std::vector<Turn>> HistoryStore::turns_with(const Unlocked& keys, const std::string& id, DataKeys& cache) {
  CONFER_TRY(Statement s, db_.prepare("SELECT idx, record FROM turns WHERE conversation_id = ? ORDER BY idx"));
  s.bind(1, id);
  std::vector<Turn> out;
  std::string plain;
  for (;;) {
    CONFER_TRY(bool row, s.step());
    if (!row) break;
    int64_t index = s.column_int(0);
    Bytes record = s.column_blob(1);
    CONFER_TRY(RecordView view, parse_record(record));
    CONFER_TRY(const crypto::SecretBytes* dk, data_key(keys, id, view.key_id, cache));
    std::string rid = turn_record_id(id, index);
    CONFER_TRY_VOID(open_record_into(*dk, view.key_id, {keys.account_id, rid, RecordKind::turn, 1}, record,
                                     plain));
    CONFER_TRY(json j, record_json(plain, "turn " + rid));
    CONFER_TRY(Turn t, parse_turn(j, index, "turn " + rid));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::string> normalize_title(std::string_view title) {
  size_t b = title.find_first_not_of(" \t"), e = title.find_last_not_of(" \t");
  std::string t = b == std::string::npos ? "" : std::string(title.substr(b, e - b + 1));
  if (t.empty() || t.size() > kMaxTitleBytes)
    return make_error(Errc::usage, fmt::format("a title: expected 1-{} bytes, saw {}", kMaxTitleBytes, t.size()));
  for (unsigned char ch : t)
    if (ch < 0x20 || ch == 0x7f) return make_error(Errc::usage, "a title: expected one line of text, saw a control character");
  if (!valid_utf8(t)) return make_error(Errc::usage, "a title: expected UTF-8 text");
  return t;
}

Result<void> HistoryStore::rename_conversation(const Unlocked& keys, const std::string& id, const std::string& title) {
  CONFER_TRY(std::string t, normalize_title(title));
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(Statement q, db_.prepare("SELECT revision, head FROM conversations WHERE id = ?"));
  q.bind(1, id);
  CONFER_TRY(bool row, q.step());
  if (!row) return make_error(Errc::usage, fmt::format("no conversation {}", id));
  int64_t revision = q.column_int(0);
  DataKeys cache;
  CONFER_TRY(Conversation head, read_head(keys, id, q.column_blob(1), revision, cache));
  CONFER_TRY(auto current, current_data_key(keys, id, cache));
  const auto& [key_id, dk] = current;
  CONFER_TRY(std::string device, device_id());
  set_title(head, t, device);
  std::string text = dump_json(head_json(head));
  CONFER_TRY(Bytes record, seal_record(*dk, key_id, {keys.account_id, id, RecordKind::conversation, uint64_t(revision + 1)},
                                       as_bytes(text)));
  CONFER_TRY(Statement up, db_.prepare("UPDATE conversations SET head = ?, revision = ?, "
                                       "seq = (SELECT MAX(seq) + 1 FROM conversations) WHERE id = ?"));
  CONFER_TRY_VOID(up.bind(1, ByteView(record)).bind(2, revision + 1).bind(3, id).run());
  CONFER_TRY_VOID(mark_pending(id, int(RecordKind::conversation)));
  return tx.commit();
}

namespace {
Result<crypto::SecretBytes> evidence_key(const Unlocked& keys) {
  static constexpr std::string_view kInfo = "confer/evidence/v1";
  return crypto::hkdf_sha256(keys.records.view(), {}, as_bytes(kInfo), 32);
}
RecordContext evidence_context(const Unlocked& keys, const std::string& hex) {
  return {keys.account_id, "evidence/" + hex, RecordKind::evidence, 1};
}
}  // namespace

Result<std::string> HistoryStore::put_evidence(const Unlocked& keys, std::string_view document) {
  Bytes digest = crypto::sha256(as_bytes(document));
  std::string hex = to_hex(digest);
  CONFER_TRY(Statement have, db_.prepare("SELECT 1 FROM evidence WHERE digest = ?"));
  have.bind(1, ByteView(digest));
  CONFER_TRY(bool known, have.step());
  if (known) return hex;
  CONFER_TRY(crypto::SecretBytes key, evidence_key(keys));
  CONFER_TRY(Bytes record, seal_record(key, KeyId{}, evidence_context(keys, hex), as_bytes(document)));
  CONFER_TRY(Statement ins, db_.prepare("INSERT OR IGNORE INTO evidence (digest, record) VALUES (?, ?)"));
  CONFER_TRY_VOID(ins.bind(1, ByteView(digest)).bind(2, ByteView(record)).run());
  return hex;
}

Result<std::optional<std::string>> HistoryStore::evidence(const Unlocked& keys, const std::string& digest_hex) {
  auto digest = from_hex(digest_hex);
  if (!digest || digest->size() != 32) return std::optional<std::string>();
  CONFER_TRY(Statement q, db_.prepare("SELECT record FROM evidence WHERE digest = ?"));
  q.bind(1, ByteView(*digest));
  CONFER_TRY(bool row, q.step());
  if (!row) return std::optional<std::string>();
  CONFER_TRY(crypto::SecretBytes key, evidence_key(keys));
  Bytes record = q.column_blob(0);
  std::string plain;
  CONFER_TRY_VOID(open_record_into(key, KeyId{}, evidence_context(keys, digest_hex), record, plain));
  if (to_hex(crypto::sha256(as_bytes(plain))) != digest_hex)
    return make_error(Errc::parse, "saved evidence " + digest_hex + " does not hash to its name");
  return std::optional<std::string>(std::move(plain));
}

Result<void> HistoryStore::reseal_evidence(const Unlocked& current, const Unlocked& next) {
  CONFER_TRY(crypto::SecretBytes old_key, evidence_key(current));
  CONFER_TRY(crypto::SecretBytes new_key, evidence_key(next));
  CONFER_TRY(Statement all, db_.prepare("SELECT digest, record FROM evidence"));
  CONFER_TRY(Statement update, db_.prepare("UPDATE evidence SET record = ? WHERE digest = ?"));
  std::vector<std::pair<Bytes, Bytes>> rows;
  for (;;) {
    CONFER_TRY(bool row, all.step());
    if (!row) break;
    rows.emplace_back(all.column_blob(0), all.column_blob(1));
  }
  for (const auto& [digest, record] : rows) {
    std::string hex = to_hex(digest), plain;
    CONFER_TRY_VOID(open_record_into(old_key, KeyId{}, evidence_context(current, hex), record, plain));
    CONFER_TRY(Bytes sealed, seal_record(new_key, KeyId{}, evidence_context(next, hex), as_bytes(plain)));
    CONFER_TRY_VOID(update.bind(1, ByteView(sealed)).bind(2, ByteView(digest)).run());
  }
  return {};
}

Result<void> HistoryStore::remove_conversation(const std::string& id) {
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(Statement s, db_.prepare("DELETE FROM conversations WHERE id = ?"));
  CONFER_TRY_VOID(s.bind(1, id).run());
  if (db_.changes() == 0) return make_error(Errc::usage, fmt::format("no conversation {}", id));
  // Synced: each of its records on the server gets a tombstone at the next sync.
  CONFER_TRY(bool synced, syncing());
  if (synced) {
    CONFER_TRY(Statement ids, db_.prepare("SELECT id, kind FROM sync_records WHERE deleted = 0 AND (id = ? OR "
                                          "substr(id, 1, ?) = ?)"));
    ids.bind(1, id).bind(2, int64_t(id.size() + 1)).bind(3, id + "/");
    std::vector<std::pair<std::string, int64_t>> gone;
    for (;;) {
      CONFER_TRY(bool row, ids.step());
      if (!row) break;
      gone.emplace_back(ids.column_text(0), ids.column_int(1));
    }
    for (const auto& [rid, kind] : gone) CONFER_TRY_VOID(mark_pending(rid, int(kind)));
    CONFER_TRY(Statement unpend, db_.prepare("DELETE FROM sync_pending WHERE (id = ? OR substr(id, 1, ?) = ?) AND id NOT "
                                             "IN (SELECT id FROM sync_records)"));
    CONFER_TRY_VOID(unpend.bind(1, id).bind(2, int64_t(id.size() + 1)).bind(3, id + "/").run());
  }
  CONFER_TRY_VOID(tx.commit());
  return db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

Result<std::vector<SearchHit>> HistoryStore::search(const Unlocked& keys, const std::string& text, size_t limit) {
  std::string needle = lower(text);
  DataKeys cache;
  CONFER_TRY(std::vector<Conversation> all, list_with(keys, cache));
  std::vector<SearchHit> hits;
  for (const auto& c : all) {
    if (hits.size() >= limit) break;
    if (size_t at = lower(c.title).find(needle); at != std::string::npos)
      hits.push_back({c.id, c.title, 0, snippet_around(c.title, at, needle.size())});
    CONFER_TRY(std::vector<Turn> ts, turns_with(keys, c.id, cache));
    for (const auto& t : ts) {
      if (hits.size() >= limit) break;
      for (const std::string* field : {&t.prompt, &t.reply}) {
        if (size_t at = lower(*field).find(needle); at != std::string::npos) {
          hits.push_back({c.id, c.title, t.index, snippet_around(*field, at, needle.size())});
          break;
        }
      }
    }
  }
  return hits;
}

}  // namespace confer::store
