// The history store's side of sync (docs/sync.md): which records wait to be pushed, the
// bytes to push, and records from the server, each checked to open under this account's
// keys before it is kept and merged with what is pending here.
#include <algorithm>

#include <fmt/format.h>

#include "core/json.hpp"
#include "keys/hierarchy.hpp"
#include "store/head_json.hpp"
#include "store/history.hpp"

namespace confer::store {

namespace {

Error from_server(const std::string& id, const std::string& why) {
  return make_error(Errc::protocol, fmt::format("record {} from the server {}", id, why));
}

struct ParsedId {
  std::string conversation;
  int64_t index = 0;  // turns
  Bytes key_id;       // data keys
};

// The three shapes confer writes; anything else is not ours.
Result<ParsedId> parse_id(const std::string& id, int kind) {
  ParsedId p;
  auto slash = id.find('/');
  p.conversation = id.substr(0, slash);
  bool ok = valid_conversation_id(p.conversation);
  if (ok && kind == int(RecordKind::conversation)) {
    ok = slash == std::string::npos;
  } else if (ok && kind == int(RecordKind::turn)) {
    std::string rest = slash == std::string::npos ? "" : id.substr(slash);
    ok = rest.rfind("/turn/", 0) == 0 && rest.size() > 6 && rest.size() <= 6 + 12 &&
         std::all_of(rest.begin() + 6, rest.end(), [](char c) { return c >= '0' && c <= '9'; }) && rest[6] != '0';
    if (ok) p.index = std::stoll(rest.substr(6));
  } else if (ok && kind == int(RecordKind::data_key)) {
    std::string rest = slash == std::string::npos ? "" : id.substr(slash);
    ok = rest.rfind("/key/", 0) == 0;
    if (ok) {
      auto raw = from_hex(rest.substr(5));
      ok = raw.ok() && raw->size() == kKeyIdSize;
      if (ok) p.key_id = std::move(raw).value();
    }
  } else {
    ok = false;
  }
  if (!ok) return from_server(id, fmt::format("has an id or kind ({}) that confer never writes", kind));
  return p;
}

keys::WrapContext dk_context(const Unlocked& keys, const std::string& conversation_id) {
  return {keys::kDataKeyWrap, as_bytes(keys.account_id), as_bytes(conversation_id)};
}

}  // namespace

Result<bool> HistoryStore::syncing() {
  CONFER_TRY(Statement s, db_.prepare("SELECT 1 FROM sync_state WHERE key = 'server'"));
  return s.step();
}

Result<void> HistoryStore::mark_pending(const std::string& id, int kind) {
  CONFER_TRY(bool on, syncing());
  if (!on) return {};
  CONFER_TRY(Statement s, db_.prepare("INSERT OR REPLACE INTO sync_pending (id, kind) VALUES (?, ?)"));
  return s.bind(1, id).bind(2, int64_t(kind)).run();
}

Result<std::optional<HistoryStore::SyncSettings>> HistoryStore::sync_settings() {
  CONFER_TRY(Statement s, db_.prepare("SELECT key, value FROM sync_state WHERE key IN ('server', 'device')"));
  SyncSettings out;
  for (;;) {
    CONFER_TRY(bool row, s.step());
    if (!row) break;
    (s.column_text(0) == "server" ? out.server : out.device) = s.column_text(1);
  }
  if (out.server.empty()) return std::optional<SyncSettings>();
  return std::optional<SyncSettings>(std::move(out));
}

Result<void> HistoryStore::enable_sync(const SyncSettings& settings) {
  CONFER_TRY(Transaction tx, Transaction::begin(db_));
  CONFER_TRY(Statement put, db_.prepare("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)"));
  CONFER_TRY_VOID(put.bind(1, std::string("server")).bind(2, settings.server).run());
  CONFER_TRY_VOID(put.bind(1, std::string("device")).bind(2, settings.device).run());
  CONFER_TRY_VOID(db_.exec(
      "INSERT OR IGNORE INTO sync_pending (id, kind) SELECT conversation_id || '/key/' || lower(hex(key_id)), 3 "
      "FROM data_keys; "
      "INSERT OR IGNORE INTO sync_pending (id, kind) SELECT id, 1 FROM conversations; "
      "INSERT OR IGNORE INTO sync_pending (id, kind) SELECT conversation_id || '/turn/' || idx, 2 FROM turns;"));
  return tx.commit();
}

Result<std::vector<std::string>> HistoryStore::deferred_ids() {
  CONFER_TRY(Statement s, db_.prepare("SELECT id FROM sync_deferred ORDER BY id"));
  std::vector<std::string> out;
  for (;;) {
    CONFER_TRY(bool row, s.step());
    if (!row) break;
    out.push_back(s.column_text(0));
  }
  return out;
}

Result<std::optional<Bytes>> HistoryStore::outgoing(const Unlocked& keys, const std::string& id, int kind,
                                                    int64_t revision) {
  CONFER_TRY(ParsedId p, parse_id(id, kind));
  if (kind == int(RecordKind::data_key)) {
    CONFER_TRY(Statement s, db_.prepare("SELECT wrapped FROM data_keys WHERE key_id = ? AND conversation_id = ?"));
    s.bind(1, ByteView(p.key_id)).bind(2, p.conversation);
    CONFER_TRY(bool row, s.step());
    if (!row) return std::optional<Bytes>();
    return std::optional<Bytes>(s.column_blob(0));
  }
  if (kind == int(RecordKind::turn)) {
    CONFER_TRY(Statement s, db_.prepare("SELECT record FROM turns WHERE conversation_id = ? AND idx = ?"));
    s.bind(1, p.conversation).bind(2, p.index);
    CONFER_TRY(bool row, s.step());
    if (!row) return std::optional<Bytes>();
    return std::optional<Bytes>(s.column_blob(0));
  }
  CONFER_TRY(Statement s, db_.prepare("SELECT revision, head FROM conversations WHERE id = ?"));
  s.bind(1, id);
  CONFER_TRY(bool row, s.step());
  if (!row) return std::optional<Bytes>();
  int64_t local = s.column_int(0);
  Bytes head = s.column_blob(1);
  DataKeys cache;
  CONFER_TRY(Conversation c, read_head(keys, id, head, local, cache));
  CONFER_TRY(Statement top, db_.prepare("SELECT COALESCE(MAX(idx), 0) FROM turns WHERE conversation_id = ?"));
  top.bind(1, id);
  CONFER_TRY(bool has_top, top.step());
  int64_t turns = std::max(c.turns, has_top ? top.column_int(0) : 0);
  if (local == revision && turns == c.turns) return std::optional<Bytes>(std::move(head));
  c.turns = turns;
  CONFER_TRY(RecordView view, parse_record(head));
  CONFER_TRY(const crypto::SecretBytes* dk, data_key(keys, id, view.key_id, cache));
  std::string text = dump_json(head_json(c));
  CONFER_TRY(Bytes sealed, seal_record(*dk, view.key_id, {keys.account_id, id, RecordKind::conversation, uint64_t(revision)},
                                       as_bytes(text)));
  CONFER_TRY(Statement up, db_.prepare("UPDATE conversations SET head = ?, revision = ? WHERE id = ?"));
  CONFER_TRY_VOID(up.bind(1, ByteView(sealed)).bind(2, revision).bind(3, id).run());
  return std::optional<Bytes>(std::move(sealed));
}

Result<bool> HistoryStore::has_record(const std::string& id, int kind) {
  CONFER_TRY(ParsedId p, parse_id(id, kind));
  if (kind == int(RecordKind::data_key)) {
    CONFER_TRY(Statement s, db_.prepare("SELECT 1 FROM data_keys WHERE key_id = ? AND conversation_id = ?"));
    s.bind(1, ByteView(p.key_id)).bind(2, p.conversation);
    return s.step();
  }
  if (kind == int(RecordKind::turn)) {
    CONFER_TRY(Statement s, db_.prepare("SELECT 1 FROM turns WHERE conversation_id = ? AND idx = ?"));
    s.bind(1, p.conversation).bind(2, p.index);
    return s.step();
  }
  CONFER_TRY(Statement s, db_.prepare("SELECT 1 FROM conversations WHERE id = ?"));
  s.bind(1, id);
  return s.step();
}

Result<void> HistoryStore::apply_remote(const Unlocked& keys, const std::string& id, int kind, int64_t revision,
                                        bool deleted, ByteView record) {
  CONFER_TRY(ParsedId p, parse_id(id, kind));
  if (deleted) {
    // A deletion on another device wins (docs/sync.md): the conversation goes here too.
    if (kind == int(RecordKind::conversation)) {
      CONFER_TRY(Statement d, db_.prepare("DELETE FROM conversations WHERE id = ?"));
      CONFER_TRY_VOID(d.bind(1, id).run());
      CONFER_TRY(Statement dd, db_.prepare("DELETE FROM sync_deferred WHERE conversation_id = ?"));
      CONFER_TRY_VOID(dd.bind(1, id).run());
      CONFER_TRY(Statement dp, db_.prepare("DELETE FROM sync_pending WHERE (id = ? OR substr(id, 1, ?) = ?) AND id NOT IN "
                                           "(SELECT id FROM sync_records WHERE deleted = 0)"));
      CONFER_TRY_VOID(dp.bind(1, id).bind(2, int64_t(id.size() + 1)).bind(3, id + "/").run());
    } else if (kind == int(RecordKind::turn)) {
      CONFER_TRY(Statement d, db_.prepare("DELETE FROM turns WHERE conversation_id = ? AND idx = ?"));
      CONFER_TRY_VOID(d.bind(1, p.conversation).bind(2, p.index).run());
    } else {
      CONFER_TRY(Statement d, db_.prepare("DELETE FROM data_keys WHERE key_id = ? AND conversation_id = ?"));
      CONFER_TRY_VOID(d.bind(1, ByteView(p.key_id)).bind(2, p.conversation).run());
    }
    CONFER_TRY(Statement dd, db_.prepare("DELETE FROM sync_deferred WHERE id = ?"));
    return dd.bind(1, id).run();
  }
  if (kind != int(RecordKind::conversation) && revision != 1)
    return from_server(id, fmt::format("is at revision {}; confer writes turns and keys once", revision));
  {
    // Deleted here and not yet pushed: the deletion wins (docs/sync.md), so what another
    // device wrote to the conversation meanwhile is not brought back.
    CONFER_TRY(Statement* gone, db_.cached("SELECT 1 FROM sync_pending WHERE id = ? AND NOT EXISTS "
                                           "(SELECT 1 FROM conversations WHERE id = ?)"));
    gone->bind(1, p.conversation).bind(2, p.conversation);
    CONFER_TRY(bool deleted_here, gone->step());
    gone->reset();
    if (deleted_here) return {};
  }
  CONFER_TRY(Statement* exists, db_.cached("SELECT 1 FROM conversations WHERE id = ?"));
  exists->bind(1, p.conversation);
  CONFER_TRY(bool have_conversation, exists->step());
  exists->reset();
  if (kind == int(RecordKind::conversation)) return apply_head(keys, id, revision, record);
  if (!have_conversation) {
    // Its head comes later in the log; keep it until then (checked then).
    CONFER_TRY(Statement d, db_.prepare("INSERT OR REPLACE INTO sync_deferred (id, conversation_id, kind, revision, record) "
                                        "VALUES (?, ?, ?, ?, ?)"));
    return d.bind(1, id).bind(2, p.conversation).bind(3, int64_t(kind)).bind(4, revision).bind(5, record).run();
  }
  if (kind == int(RecordKind::data_key)) return apply_key(keys, p.conversation, p.key_id, record);
  return apply_turn(keys, p.conversation, p.index, record);
}

Result<void> HistoryStore::apply_key(const Unlocked& keys, const std::string& conversation_id, ByteView key_id,
                                     ByteView wrapped) {
  std::string id = key_record_id(conversation_id, key_id);
  if (!keys::unwrap_key(keys.records, wrapped, dk_context(keys, conversation_id)))
    return from_server(id, "does not open under this account's records key (another account's, or altered)");
  CONFER_TRY(Statement* s, db_.cached("INSERT OR IGNORE INTO data_keys (key_id, conversation_id, seq, wrapped) VALUES "
                                      "(?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM data_keys), ?)"));
  return s->bind(1, key_id).bind(2, conversation_id).bind(3, wrapped).run();
}

Result<void> HistoryStore::apply_turn(const Unlocked& keys, const std::string& conversation_id, int64_t index,
                                      ByteView record) {
  std::string id = turn_record_id(conversation_id, index);
  DataKeys cache;
  CONFER_TRY(RecordView view, parse_record(record));
  auto dk = data_key(keys, conversation_id, view.key_id, cache);
  if (!dk) return from_server(id, "is sealed under a data key this conversation does not have");
  std::string plain;
  if (!open_record_into(**dk, view.key_id, {keys.account_id, id, RecordKind::turn, 1}, record, plain))
    return from_server(id, "does not open under this account's keys (another account's, moved, or altered)");

  CONFER_TRY(Statement* local, db_.cached("SELECT record FROM turns WHERE conversation_id = ? AND idx = ?"));
  local->bind(1, conversation_id).bind(2, index);
  CONFER_TRY(bool clash, local->step());
  Bytes mine = clash ? local->column_blob(0) : Bytes();
  local->reset();
  if (clash) {
    if (mine == Bytes(record.begin(), record.end())) return {};
    CONFER_TRY(Statement pend, db_.prepare("SELECT 1 FROM sync_pending WHERE id = ?"));
    pend.bind(1, id);
    CONFER_TRY(bool pending, pend.step());
    if (!pending) return from_server(id, "differs from the turn this device already has at that place");
    // Both devices appended turn N: ours moves after everything there is, re-sealed for
    // its new place, and stays pending.
    CONFER_TRY(Statement top, db_.prepare("SELECT COALESCE(MAX(idx), 0) FROM turns WHERE conversation_id = ?"));
    top.bind(1, conversation_id);
    CONFER_TRY(bool has_top, top.step());
    int64_t moved = (has_top ? top.column_int(0) : 0) + 1;
    CONFER_TRY(RecordView mine_view, parse_record(mine));
    CONFER_TRY(const crypto::SecretBytes* mine_dk, data_key(keys, conversation_id, mine_view.key_id, cache));
    std::string mine_plain;
    CONFER_TRY_VOID(open_record_into(*mine_dk, mine_view.key_id, {keys.account_id, id, RecordKind::turn, 1}, mine, mine_plain));
    std::string new_id = turn_record_id(conversation_id, moved);
    CONFER_TRY(Bytes resealed, seal_record(*mine_dk, mine_view.key_id, {keys.account_id, new_id, RecordKind::turn, 1},
                                           as_bytes(mine_plain)));
    CONFER_TRY(Statement mv, db_.prepare("UPDATE turns SET idx = ?, record = ? WHERE conversation_id = ? AND idx = ?"));
    CONFER_TRY_VOID(mv.bind(1, moved).bind(2, ByteView(resealed)).bind(3, conversation_id).bind(4, index).run());
    CONFER_TRY(Statement unpend, db_.prepare("DELETE FROM sync_pending WHERE id = ?"));
    CONFER_TRY_VOID(unpend.bind(1, id).run());
    CONFER_TRY_VOID(mark_pending(new_id, int(RecordKind::turn)));
    CONFER_TRY_VOID(mark_pending(conversation_id, int(RecordKind::conversation)));
  }
  CONFER_TRY(Statement* ins, db_.cached("INSERT INTO turns (conversation_id, idx, record) VALUES (?, ?, ?)"));
  return ins->bind(1, conversation_id).bind(2, index).bind(3, record).run();
}

Result<void> HistoryStore::apply_head(const Unlocked& keys, const std::string& id, int64_t revision, ByteView record) {
  CONFER_TRY(RecordView view, parse_record(record));
  // Its data key: here already, or waiting in the deferred records.
  Bytes wrapped;
  {
    CONFER_TRY(Statement k, db_.prepare("SELECT wrapped FROM data_keys WHERE key_id = ? AND conversation_id = ?"));
    k.bind(1, ByteView(view.key_id)).bind(2, id);
    CONFER_TRY(bool found, k.step());
    if (found) {
      wrapped = k.column_blob(0);
    } else {
      CONFER_TRY(Statement d, db_.prepare("SELECT record FROM sync_deferred WHERE id = ?"));
      d.bind(1, key_record_id(id, view.key_id));
      CONFER_TRY(bool deferred, d.step());
      if (!deferred) return from_server(id, "is sealed under a data key the server has not sent");
      wrapped = d.column_blob(0);
    }
  }
  auto dk = keys::unwrap_key(keys.records, wrapped, dk_context(keys, id));
  if (!dk) return from_server(key_record_id(id, view.key_id), "does not open under this account's records key (another account's, or altered)");
  std::string plain;
  if (!open_record_into(*dk, view.key_id, {keys.account_id, id, RecordKind::conversation, uint64_t(revision)}, record, plain))
    return from_server(id, "does not open under this account's keys (another account's, an old revision, or altered)");
  auto parsed = parse_json(plain, "conversation " + id, JsonLimits{kMaxRecordSize, 8});
  if (!parsed || !parsed->is_object()) return from_server(id, "holds no conversation head");
  Conversation remote;
  remote.id = id;
  auto num = [&](const char* k) { const auto* v = json_detail::member(*parsed, k); return v && v->is_number_integer() ? v->get<int64_t>() : 0; };
  const auto* title = json_detail::member(*parsed, "title");
  remote.title = title && title->is_string() ? title->get<std::string>() : "";
  remote.created = num("created");
  remote.updated = num("updated");
  remote.turns = num("turns");
  read_title_clock(*parsed, remote);

  CONFER_TRY(Statement cur, db_.prepare("SELECT revision, head FROM conversations WHERE id = ?"));
  cur.bind(1, id);
  CONFER_TRY(bool exists, cur.step());
  if (!exists) {
    CONFER_TRY(Statement ins, db_.prepare("INSERT INTO conversations (id, seq, revision, head) VALUES "
                                          "(?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM conversations), ?, ?)"));
    CONFER_TRY_VOID(ins.bind(1, id).bind(2, revision).bind(3, record).run());
    // What waited for it: its data keys first, then its turns, each checked as it comes in.
    CONFER_TRY(Statement d, db_.prepare("SELECT id, kind, record FROM sync_deferred WHERE conversation_id = ? ORDER BY kind DESC, id"));
    d.bind(1, id);
    std::vector<std::tuple<std::string, int64_t, Bytes>> waiting;
    for (;;) {
      CONFER_TRY(bool row, d.step());
      if (!row) break;
      waiting.emplace_back(d.column_text(0), d.column_int(1), d.column_blob(2));
    }
    for (const auto& [wid, wkind, wrec] : waiting) {
      CONFER_TRY(ParsedId wp, parse_id(wid, int(wkind)));
      if (wkind == int(RecordKind::data_key)) CONFER_TRY_VOID(apply_key(keys, id, wp.key_id, wrec));
      else CONFER_TRY_VOID(apply_turn(keys, id, wp.index, wrec));
    }
    CONFER_TRY(Statement dd, db_.prepare("DELETE FROM sync_deferred WHERE conversation_id = ?"));
    return dd.bind(1, id).run();
  }
  int64_t local_revision = cur.column_int(0);
  Bytes local_head = cur.column_blob(1);
  CONFER_TRY(Statement pend, db_.prepare("SELECT 1 FROM sync_pending WHERE id = ?"));
  pend.bind(1, id);
  CONFER_TRY(bool pending, pend.step());
  if (!pending) {
    CONFER_TRY(Statement up, db_.prepare("UPDATE conversations SET head = ?, revision = ?, "
                                         "seq = (SELECT MAX(seq) + 1 FROM conversations) WHERE id = ?"));
    return up.bind(1, record).bind(2, revision).bind(3, id).run();
  }
  // Changed here too: merge, and push the merge.
  DataKeys cache;
  CONFER_TRY(Conversation local, read_head(keys, id, local_head, local_revision, cache));
  Conversation merged = local;
  // The title by its logical clock, the same choice on every device; the rest by max.
  if (title_wins(remote, local)) {
    merged.title = remote.title;
    merged.title_device = remote.title_device;
  }
  merged.title_clock = std::max(local.title_clock, remote.title_clock);
  merged.created = std::min(local.created, remote.created);
  merged.updated = std::max(local.updated, remote.updated);
  merged.turns = std::max(local.turns, remote.turns);
  std::string text = dump_json(head_json(merged));
  CONFER_TRY(Bytes sealed, seal_record(*dk, view.key_id, {keys.account_id, id, RecordKind::conversation, uint64_t(revision)},
                                       as_bytes(text)));
  CONFER_TRY(Statement up, db_.prepare("UPDATE conversations SET head = ?, revision = ?, "
                                       "seq = (SELECT MAX(seq) + 1 FROM conversations) WHERE id = ?"));
  return up.bind(1, ByteView(sealed)).bind(2, revision).bind(3, id).run();
}

}  // namespace confer::store
