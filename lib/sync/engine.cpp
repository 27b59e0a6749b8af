#include "sync/engine.hpp"

#include <map>

#include <fmt/format.h>

#include "crypto/hash.hpp"

namespace confer::sync {

namespace {

using store::Statement;
using store::Transaction;

constexpr int kMaxRounds = 8;

Error caught(std::string what) { return make_error(Errc::protocol, "sync refused: " + std::move(what)); }

void put_u64(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}

struct Known {
  int kind = 0;
  int64_t revision = 0;
  int64_t seq = 0;
  Bytes hash;
  bool deleted = false;
};

class Engine {
 public:
  Engine(store::HistoryStore& h, const store::Unlocked& k, Remote& r, const std::function<void(const Progress&)>& p)
      : history_(h), db_(h.database()), keys_(k), remote_(r), progress_(p) {}

  Result<Report> run() {
    CONFER_TRY(auto settings, history_.sync_settings());
    if (!settings) return make_error(Errc::usage, "this history does not sync with a server");
    device_ = settings->device;
    CONFER_TRY_VOID(load_state());
    // Checkpoints first: the log read after them must reach every one of them.
    CONFER_TRY(auto before, remote_.checkpoints());
    CONFER_TRY_VOID(take_checkpoints(before));
    CONFER_TRY_VOID(pull());
    for (int round = 0;; ++round) {
      CONFER_TRY(bool wrote, push());
      if (!wrote) break;
      CONFER_TRY_VOID(pull());
      if (round + 1 == kMaxRounds)
        return make_error(Errc::network, fmt::format("the server kept refusing this device's writes after {} rounds "
                                                     "(another device writing as fast?); run confer sync again",
                                                     kMaxRounds));
    }
    CONFER_TRY(Bytes digest, checkpoint_digest(keys_.records, device_, cursor_, chain_));
    CONFER_TRY_VOID(remote_.publish(device_, cursor_, digest));
    CONFER_TRY_VOID(set_state("published", std::to_string(cursor_)));
    report_.cursor = cursor_;
    return report_;
  }

 private:
  Result<void> load_state() {
    CONFER_TRY(Statement s, db_.prepare("SELECT key, value FROM sync_state"));
    for (;;) {
      CONFER_TRY(bool row, s.step());
      if (!row) break;
      std::string key = s.column_text(0);
      if (key == "cursor") cursor_ = std::stoll(s.column_text(1));
      if (key == "published") published_ = std::stoll(s.column_text(1));
      if (key == "chain") chain_ = s.column_blob(1);
    }
    if (chain_.size() != 32) chain_.assign(32, 0);
    return {};
  }

  Result<void> set_state(const std::string& key, const std::string& value) {
    CONFER_TRY(Statement s, db_.prepare("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)"));
    return s.bind(1, key).bind(2, value).run();
  }

  Result<std::optional<Known>> known(const std::string& id) {
    CONFER_TRY(Statement* s, db_.cached("SELECT kind, revision, seq, hash, deleted FROM sync_records WHERE id = ?"));
    s->bind(1, id);
    CONFER_TRY(bool row, s->step());
    std::optional<Known> out;
    if (row) out = Known{int(s->column_int(0)), s->column_int(1), s->column_int(2), s->column_blob(3), s->column_int(4) != 0};
    s->reset();  // no read left open between calls
    return out;
  }

  Result<void> pull() {
    for (;;) {
      CONFER_TRY(RemotePage page, remote_.changes(cursor_));
      CONFER_TRY(Transaction tx, Transaction::begin(db_));
      int64_t cursor = cursor_;
      Bytes chain = chain_;
      for (const auto& c : page.changes) {
        if (c.seq != cursor + 1)
          return caught(fmt::format("the server's change log jumps from change {} to {}: a change was withheld or "
                                    "removed",
                                    cursor, c.seq));
        CONFER_TRY_VOID(check_and_apply(c));
        chain = chain_next(chain, c);
        CONFER_TRY(Statement* link, db_.cached("INSERT OR REPLACE INTO sync_chain (seq, chain) VALUES (?, ?)"));
        CONFER_TRY_VOID(link->bind(1, c.seq).bind(2, ByteView(chain)).run());
        cursor = c.seq;
        if (c.ciphertext) report_.bytes_down += c.ciphertext->size();
      }
      CONFER_TRY_VOID(set_state("cursor", std::to_string(cursor)));
      CONFER_TRY(Statement sc, db_.prepare("INSERT OR REPLACE INTO sync_state (key, value) VALUES ('chain', ?)"));
      CONFER_TRY_VOID(sc.bind(1, ByteView(chain)).run());
      CONFER_TRY_VOID(judge_checkpoints(cursor, !page.more));
      if (!page.more) {
        if (page.head < cursor)
          return caught(fmt::format("the server's log now ends at change {}, before change {} which this device "
                                    "already checked: the server was rolled back",
                                    page.head, cursor));
        if (cursor != page.head)
          return caught(fmt::format("the server says its log ends at change {} but sent changes up to {}", page.head,
                                    cursor));
        CONFER_TRY(Statement w, db_.prepare("SELECT id, revision FROM sync_records WHERE have = 0 AND deleted = 0 "
                                            "ORDER BY seq LIMIT 1"));
        CONFER_TRY(bool withheld, w.step());
        if (withheld)
          return caught(fmt::format("the server's log has record {} at revision {} but it never sent those bytes "
                                    "(withheld, or rolled back to an older revision)",
                                    w.column_text(0), w.column_int(1)));
        // Records whose conversation's head is not in the log yet stay deferred: another
        // device may be between writing a conversation's data key and its head. A head
        // the log had and the server withheld is caught above and by the checkpoints.
      }
      CONFER_TRY_VOID(tx.commit());
      cursor_ = cursor;
      chain_ = std::move(chain);
      if (progress_) progress_({"pull", cursor_, page.head});
      if (!page.more) return {};
      if (page.changes.empty()) return caught("the server says more changes follow but sent none");
    }
  }

  Result<void> check_and_apply(const RemoteChange& c) {
    if (c.ciphertext && !equal_ct(crypto::sha256(*c.ciphertext), c.hash))
      return caught(fmt::format("record {} revision {}: the bytes sent do not match the log's hash", c.id, c.revision));
    if (c.deleted && c.ciphertext) return caught(fmt::format("record {}: a deletion that carries bytes", c.id));
    CONFER_TRY(auto k, known(c.id));
    int64_t expected = k ? k->revision + 1 : 1;
    if (c.revision != expected)
      return caught(fmt::format("record {} is at revision {} in the server's log after revision {} here: an older "
                                "revision served again, or changes reordered",
                                c.id, c.revision, expected - 1));
    if (k && k->kind != c.kind) return caught(fmt::format("record {} changed kind from {} to {}", c.id, k->kind, c.kind));
    CONFER_TRY(Statement* sent, db_.cached("SELECT id, revision, hash FROM sync_sent WHERE seq = ?"));
    sent->bind(1, c.seq);
    CONFER_TRY(bool was_sent, sent->step());
    bool ours = was_sent && sent->column_text(0) == c.id && sent->column_int(1) == c.revision &&
                equal_ct(sent->column_blob(2), c.hash);
    sent->reset();
    if (was_sent && !ours)
      return caught(fmt::format("the server numbered change {} as record {} revision {}, not the write this device "
                                "made there",
                                c.seq, c.id, c.revision));
    bool have = ours || c.deleted || c.ciphertext.has_value();
    CONFER_TRY(Statement* up, db_.cached("INSERT OR REPLACE INTO sync_records (id, kind, revision, seq, hash, deleted, have) "
                                         "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    CONFER_TRY_VOID(up->bind(1, c.id).bind(2, int64_t(c.kind)).bind(3, c.revision).bind(4, c.seq)
                        .bind(5, ByteView(c.hash)).bind(6, int64_t(c.deleted)).bind(7, int64_t(have)).run());
    if (ours) {
      CONFER_TRY(Statement* del, db_.cached("DELETE FROM sync_sent WHERE seq = ?"));
      return del->bind(1, c.seq).run();
    }
    if (!c.deleted && !c.ciphertext) return {};  // superseded: a later change brings it
    ++report_.pulled;
    static const Bytes kNone;
    return history_.apply_remote(keys_, c.id, c.kind, c.revision, c.deleted, c.ciphertext ? ByteView(*c.ciphertext) : ByteView(kNone));
  }

  // The checkpoints read before the pull: this device's own, and every other device's,
  // which must not go back nor vanish. Each is judged once the log reaches it.
  Result<void> take_checkpoints(const std::vector<RemoteCheckpoint>& cps) {
    std::map<std::string, int64_t> peers;
    {
      CONFER_TRY(Statement s, db_.prepare("SELECT device, seq FROM sync_peers"));
      for (;;) {
        CONFER_TRY(bool row, s.step());
        if (!row) break;
        peers[s.column_text(0)] = s.column_int(1);
      }
    }
    bool mine_seen = false;
    for (const auto& cp : cps) {
      if (cp.device == device_) {
        mine_seen = true;
        if (cp.seq < published_)
          return caught(fmt::format("the server returns this device's checkpoint at change {}, but it published one "
                                    "at {}: the server was rolled back",
                                    cp.seq, published_));
        continue;
      }
      if (auto it = peers.find(cp.device); it != peers.end() && cp.seq < it->second)
        return caught(fmt::format("device {}'s checkpoint went back from change {} to {}: the server was rolled back",
                                  cp.device, it->second, cp.seq));
      peers.erase(cp.device);
      waiting_.push_back(cp);
    }
    if (published_ > 0 && !mine_seen) return caught("the server no longer returns this device's checkpoint");
    if (!peers.empty())
      return caught(fmt::format("the server no longer returns device {}'s checkpoint, which this device saw before",
                                peers.begin()->first));
    // Those the log has already passed are judged now.
    return judge_checkpoints(cursor_, false);
  }

  // Judges every waiting checkpoint at or before `cursor` against this device's chain
  // (inside the pull's transaction, so a contradiction keeps its page out); at the end
  // of the log, one beyond it means the server hides changes another device has seen.
  Result<void> judge_checkpoints(int64_t cursor, bool end_of_log) {
    std::vector<RemoteCheckpoint> later;
    for (const auto& cp : waiting_) {
      if (cp.seq > cursor) {
        if (end_of_log)
          return caught(fmt::format("device {} has seen the log up to change {}, but the server's log ends at {}: "
                                    "records were dropped or rolled back, or the account was forked",
                                    cp.device, cp.seq, cursor));
        later.push_back(cp);
        continue;
      }
      Bytes chain(32, 0);
      if (cp.seq > 0) {
        CONFER_TRY(Statement s, db_.prepare("SELECT chain FROM sync_chain WHERE seq = ?"));
        s.bind(1, cp.seq);
        CONFER_TRY(bool row, s.step());
        if (!row) return caught(fmt::format("no record of change {} here to check device {} against", cp.seq, cp.device));
        chain = s.column_blob(0);
      }
      CONFER_TRY(Bytes expect, checkpoint_digest(keys_.records, cp.device, cp.seq, chain));
      if (!equal_ct(expect, cp.digest))
        return caught(fmt::format("device {} saw a different history up to change {} than this device: the server "
                                  "is showing the two devices different records (a fork)",
                                  cp.device, cp.seq));
      CONFER_TRY(Statement up, db_.prepare("INSERT OR REPLACE INTO sync_peers (device, seq) VALUES (?, ?)"));
      CONFER_TRY_VOID(up.bind(1, cp.device).bind(2, cp.seq).run());
      ++report_.devices;
    }
    waiting_ = std::move(later);
    return {};
  }

  Result<void> forget_pending(const std::string& id) {
    CONFER_TRY(Statement* d, db_.cached("DELETE FROM sync_pending WHERE id = ?"));
    return d->bind(1, id).run();
  }

  // Pushes every pending record once; true when something was written or refused (so
  // the log must be read again before the next round).
  Result<bool> push() {
    struct Pending {
      std::string id;
      int kind;
    };
    std::vector<Pending> pending;
    {
      // Data keys before the heads that need them, heads before their turns.
      CONFER_TRY(Statement s, db_.prepare("SELECT id, kind FROM sync_pending ORDER BY CASE kind WHEN 3 THEN 0 WHEN 1 "
                                          "THEN 1 ELSE 2 END, id"));
      for (;;) {
        CONFER_TRY(bool row, s.step());
        if (!row) break;
        pending.push_back({s.column_text(0), int(s.column_int(1))});
      }
    }
    // Live records first (keys, heads, turns); deletions after them, heads first, so no
    // device ever holds a live head without its data key.
    std::vector<Pending> live, deletions;
    for (const auto& p : pending) {
      CONFER_TRY(bool here, history_.has_record(p.id, p.kind));
      (here ? live : deletions).push_back(p);
    }
    std::stable_sort(deletions.begin(), deletions.end(), [](const Pending& x, const Pending& y) {
      auto rank = [](int k) { return k == int(store::RecordKind::conversation) ? 0 : k == int(store::RecordKind::turn) ? 1 : 2; };
      return rank(x.kind) < rank(y.kind);
    });
    pending = std::move(live);
    pending.insert(pending.end(), deletions.begin(), deletions.end());
    bool wrote = false;
    int64_t done = 0;
    // In batches: each batch's local bookkeeping in one transaction, its writes in one
    // request the server applies in one transaction. A batch interrupted after the
    // server applied it leaves its records pending here; the pull then brings our own
    // writes back: turns and keys are found already there, a head merges with itself and
    // is written once more at the next revision.
    size_t next = 0;
    while (next < pending.size()) {
      CONFER_TRY(Transaction tx, Transaction::begin(db_));
      std::vector<Write> writes;
      std::vector<Bytes> bodies;  // what the writes' ciphertext views point into
      bodies.reserve(kMaxBatchWrites);
      size_t batch_bytes = 0;
      for (; next < pending.size() && writes.size() < kMaxBatchWrites; ++next) {
        const auto& p = pending[next];
        CONFER_TRY(auto k, known(p.id));
        int64_t current = k ? k->revision : 0;
        bool server_has = k && !k->deleted;
        CONFER_TRY(auto bytes, history_.outgoing(keys_, p.id, p.kind, current + 1));
        // Nothing to push: gone here and there; written once and already on the server
        // (our own write, confirmed, or another device's, which the pull moved ours
        // aside for); or deleted on the server, where a deletion wins (docs/sync.md).
        bool nothing = (!bytes && !server_has) || (bytes && server_has && p.kind != int(store::RecordKind::conversation)) ||
                       (bytes && k && k->deleted);
        if (nothing) {
          CONFER_TRY_VOID(forget_pending(p.id));
          continue;
        }
        size_t size = bytes ? bytes->size() : 0;
        if (!writes.empty() && batch_bytes + size > kMaxBatchBytes) break;
        batch_bytes += size;
        bodies.push_back(bytes ? std::move(*bytes) : Bytes{});
        writes.push_back({p.id, p.kind, current, !bytes, bodies.back()});
      }
      if (writes.empty()) {
        CONFER_TRY_VOID(tx.commit());
        continue;
      }
      CONFER_TRY(auto results, remote_.put_many(writes));
      if (results.size() != writes.size())
        return make_error(Errc::protocol, fmt::format("the server answered {} of {} writes", results.size(), writes.size()));
      wrote = true;
      CONFER_TRY(Statement* sent, db_.cached("INSERT OR REPLACE INTO sync_sent (seq, id, revision, hash) VALUES (?, ?, ?, ?)"));
      for (size_t i = 0; i < writes.size(); ++i) {
        const auto& r = results[i];
        if (!r.stored) {
          ++report_.conflicts;
          continue;  // the pull brings the other write; the next round merges and retries
        }
        CONFER_TRY_VOID(sent->bind(1, r.seq).bind(2, writes[i].id).bind(3, r.revision)
                            .bind(4, ByteView(crypto::sha256(writes[i].ciphertext))).run());
        CONFER_TRY_VOID(forget_pending(writes[i].id));
        ++report_.pushed;
        report_.bytes_up += writes[i].ciphertext.size();
      }
      CONFER_TRY_VOID(tx.commit());
      done = int64_t(next);  // records dealt with, written or not
      if (progress_) progress_({"push", done, int64_t(pending.size())});
    }
    return wrote;
  }

  store::HistoryStore& history_;
  store::Database& db_;
  const store::Unlocked& keys_;
  Remote& remote_;
  const std::function<void(const Progress&)>& progress_;
  std::string device_;
  int64_t cursor_ = 0, published_ = 0;
  Bytes chain_;
  Report report_;
  std::vector<RemoteCheckpoint> waiting_;
};

}  // namespace

Bytes chain_next(ByteView previous, const RemoteChange& c) {
  std::string_view label = "confer/chain/v1";
  Bytes in(label.begin(), label.end());
  in.insert(in.end(), previous.begin(), previous.end());
  put_u64(in, uint64_t(c.seq));
  (void)append_length_prefixed(in, as_bytes(c.id));
  in.push_back(uint8_t(c.kind));
  put_u64(in, uint64_t(c.revision));
  in.push_back(c.deleted ? 1 : 0);
  in.insert(in.end(), c.hash.begin(), c.hash.end());
  return crypto::sha256(in);
}

Result<Bytes> checkpoint_digest(const crypto::SecretBytes& records_key, const std::string& device, int64_t seq,
                                ByteView chain) {
  std::string_view label = "confer/checkpoint/v1";
  Bytes in(label.begin(), label.end());
  (void)append_length_prefixed(in, as_bytes(device));
  put_u64(in, uint64_t(seq));
  in.insert(in.end(), chain.begin(), chain.end());
  Bytes out(32);
  CONFER_TRY_VOID(crypto::hmac_sha256(records_key.view(), {ByteView(in)}, out.data()));
  return out;
}

Result<Report> run(store::HistoryStore& history, const store::Unlocked& keys, Remote& remote,
                   const std::function<void(const Progress&)>& progress) {
  Engine engine(history, keys, remote, progress);
  return engine.run();
}

}  // namespace confer::sync
