// The sync engine (lib/sync) between two histories of one account, through the real
// server store (server/store) behind an in-process Remote, and through a Remote that
// lies in each way a server can: every lie is caught (Errc::protocol) and leaves the
// history as it was.
#include <doctest/doctest.h>

#include <functional>

#include "core/time.hpp"
#include "crypto/hash.hpp"
#include "keys/hierarchy.hpp"
#include "server/store/store.hpp"
#include "server/store/store_remote.hpp"
#include "store/history.hpp"
#include "store/sqlite.hpp"
#include "support/support.hpp"
#include "sync/engine.hpp"

using namespace confer;

namespace {

constexpr const char* kAccount = "acct-1";

// The server's store for one account, in-process; small pages so paging is exercised.
class StoreRemote : public server::store::StoreRemote {
 public:
  explicit StoreRemote(server::store::Store& s) : server::store::StoreRemote(s, kAccount, 3) {}
  size_t page_size = 3;
  Result<sync::RemotePage> changes(int64_t since) override {
    set_page_records(page_size);
    return server::store::StoreRemote::changes(since);
  }
};

// A server that lies: rewrites what the honest one would serve.
class LyingRemote : public StoreRemote {
 public:
  using StoreRemote::StoreRemote;
  std::function<void(sync::RemotePage&)> rewrite_page;
  std::function<void(std::vector<sync::RemoteCheckpoint>&)> rewrite_checkpoints;
  Result<sync::RemotePage> changes(int64_t since) override {
    CONFER_TRY(auto page, StoreRemote::changes(since));
    if (rewrite_page) rewrite_page(page);
    return page;
  }
  Result<std::vector<sync::RemoteCheckpoint>> checkpoints() override {
    CONFER_TRY(auto cps, StoreRemote::checkpoints());
    if (rewrite_checkpoints) rewrite_checkpoints(cps);
    return cps;
  }
};

// One device: its own history file, the account's root key, a device id.
struct Device {
  test::TempDir dir;
  store::HistoryStore history;
  store::Unlocked keys;

  Device(const std::string& name, const crypto::SecretBytes& root)
      : history(store::HistoryStore::open(dir.path() + "/history.db").value()) {
    crypto::SecretBytes kek = keys::random_key().value();
    store::Credential way;
    way.id = Bytes(16, uint8_t(name[0]));
    way.kind = "file";
    way.label = "test way in";
    way.salt = Bytes(32, 7);
    way.created = now_utc();
    way.wrapped_root = *keys::wrap_key(kek, root, store::root_wrap_context(kAccount, way));
    REQUIRE(history.create_account({kAccount, now_utc(), 1}, way));
    keys = history.unlock(way, kek).value();
    REQUIRE(history.enable_sync({"ws://127.0.0.1:1", name}));
  }

  store::Turn turn(const std::string& prompt) {
    store::Turn t;
    t.prompt = prompt;
    t.reply = "answer to " + prompt;
    t.model = "m";
    t.receipt = {"AMD SEV-SNP Milan", "aa", "pinned measurement", "bb", now_utc(), ""};
    return t;
  }
  // Everything a user can see, in a stable order, for comparing two devices.
  std::string view() {
    std::string out;
    auto list = history.list(keys).value();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.id < b.id; });
    for (const auto& c : list) {
      out += c.id + " '" + c.title + "' " + std::to_string(c.turns) + "\n";
      auto turns = history.turns(keys, c.id).value();
      for (const auto& t : turns) out += "  " + std::to_string(t.index) + " " + t.prompt + " | " + t.reply + "\n";
    }
    return out;
  }
  Result<sync::Report> sync_with(sync::Remote& r) { return sync::run(history, keys, r); }
  int64_t count(const std::string& table) {
    auto s = history.database().prepare("SELECT COUNT(*) FROM " + table);
    REQUIRE(s);
    REQUIRE(*s->step());
    return s->column_int(0);
  }
};

struct World {
  test::TempDir dir;
  std::unique_ptr<server::store::Store> server = server::store::open_store("sqlite:" + dir.path() + "/server.db").value();
  crypto::SecretBytes root = keys::random_key().value();
  World() {
    REQUIRE(*server->create_account({kAccount, Bytes(32, 1), now_utc()},
                                    {Bytes(16, 0xcc), kAccount, -7, Bytes(64, 2), 0, Bytes(61, 3), now_utc()}));
  }
};

std::string sync_error(Result<sync::Report> r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::protocol);
  return r.error().message;
}

}  // namespace

TEST_CASE("sync: two devices of one account end with the same history, and a second sync moves nothing") {
  World w;
  StoreRemote remote(*w.server);
  Device a("laptop", w.root), b("desktop", w.root);
  auto c = a.history.create_conversation(a.keys, std::string("conv-a")).value();
  REQUIRE(a.history.append_turn(a.keys, c.id, a.turn("first from a")));
  REQUIRE(a.history.append_turn(a.keys, c.id, a.turn("second from a")));
  auto ra = a.sync_with(remote);
  REQUIRE_MESSAGE(ra.ok(), ra.error().message);
  CHECK(ra->pushed == 4);  // data key, head, two turns
  auto rb = b.sync_with(remote);
  REQUIRE_MESSAGE(rb.ok(), rb.error().message);
  CHECK(rb->pulled == 4);
  CHECK(rb->devices == 1);  // laptop's checkpoint checked
  CHECK(b.view() == a.view());
  CHECK(b.view().find("second from a | answer to second from a") != std::string::npos);

  auto again = b.sync_with(remote);
  REQUIRE(again.ok());
  CHECK(again->pulled == 0);
  CHECK(again->pushed == 0);
  CHECK(again->bytes_down == 0);

  // B chats in the same conversation and in a new one; A gets both.
  REQUIRE(b.history.append_turn(b.keys, "conv-a", b.turn("third from b")));
  auto nb = b.history.create_conversation(b.keys, std::string("conv-b")).value();
  REQUIRE(b.history.append_turn(b.keys, nb.id, b.turn("hello from b")));
  REQUIRE(b.sync_with(remote).ok());
  auto ra2 = a.sync_with(remote);
  REQUIRE_MESSAGE(ra2.ok(), ra2.error().message);
  CHECK(a.view() == b.view());
  CHECK(a.history.find(a.keys, "conv-a").value()->turns == 3);
}

TEST_CASE("sync: concurrent turns in one conversation are both kept, and a deletion reaches the other device") {
  World w;
  StoreRemote remote(*w.server);
  Device a("laptop", w.root), b("desktop", w.root);
  REQUIRE(a.history.create_conversation(a.keys, std::string("conv")).ok());
  REQUIRE(a.history.append_turn(a.keys, "conv", a.turn("one")));
  REQUIRE(a.sync_with(remote).ok());
  REQUIRE(b.sync_with(remote).ok());
  // Both append turn 2 (and A a turn 3) before either syncs.
  REQUIRE(a.history.append_turn(a.keys, "conv", a.turn("two from a")));
  REQUIRE(a.history.append_turn(a.keys, "conv", a.turn("three from a")));
  REQUIRE(b.history.append_turn(b.keys, "conv", b.turn("two from b")));
  REQUIRE(a.sync_with(remote).ok());
  auto rb = b.sync_with(remote);
  REQUIRE_MESSAGE(rb.ok(), rb.error().message);
  auto ra = a.sync_with(remote);
  REQUIRE_MESSAGE(ra.ok(), ra.error().message);
  CHECK(a.view() == b.view());
  std::string v = a.view();
  for (const char* t : {"1 one", "2 two from a", "3 three from a", "4 two from b"})
    CHECK_MESSAGE(v.find(t) != std::string::npos, v);
  CHECK(a.history.find(a.keys, "conv").value()->turns == 4);
  // A new turn on either side goes after all four.
  REQUIRE(b.history.append_turn(b.keys, "conv", b.turn("five")).value() == 5);

  REQUIRE(a.history.remove_conversation("conv"));
  REQUIRE(a.sync_with(remote).ok());
  auto gone = b.sync_with(remote);
  REQUIRE_MESSAGE(gone.ok(), gone.error().message);
  CHECK(b.view().empty());
  CHECK(b.count("turns") == 0);
  CHECK(b.count("data_keys") == 0);
  REQUIRE(a.sync_with(remote).ok());
  CHECK(a.view() == b.view());
  // The server keeps tombstones only: no conversation bytes are left on it.
  auto page = w.server->changes(kAccount, 0, 1000, 1 << 30).value();
  for (const auto& c : page.changes) CHECK_FALSE(c.ciphertext);
}

TEST_CASE("sync: titles are last-writer-wins by a logical clock, so every device settles on the same one") {
  World w;
  StoreRemote remote(*w.server);
  Device a("laptop", w.root), b("desktop", w.root);
  REQUIRE(a.history.create_conversation(a.keys, std::string("conv")).ok());
  REQUIRE(a.sync_with(remote).ok());
  REQUIRE(b.sync_with(remote).ok());
  // Both add the first turn before either syncs: two first-prompt titles, at the same
  // logical time. Whatever the wall clocks say, both settle on the same one.
  REQUIRE(a.history.append_turn(a.keys, "conv", a.turn("from the laptop")));
  REQUIRE(b.history.append_turn(b.keys, "conv", b.turn("from the desktop")));
  REQUIRE(a.sync_with(remote).ok());
  REQUIRE(b.sync_with(remote).ok());
  REQUIRE(a.sync_with(remote).ok());
  CHECK(a.view() == b.view());
  CHECK(a.history.find(a.keys, "conv").value()->title == "from the laptop");  // (1, "laptop") > (1, "desktop")

  // A rename made after seeing the other's title wins, though B's clock says earlier.
  REQUIRE(b.history.rename_conversation(b.keys, "conv", "  renamed on the desktop "));
  REQUIRE(b.sync_with(remote).ok());
  REQUIRE(a.sync_with(remote).ok());
  CHECK(a.history.find(a.keys, "conv").value()->title == "renamed on the desktop");
  // Concurrent renames: the one with the later logical clock wins on both; a turn added
  // meanwhile changes no title.
  REQUIRE(a.history.rename_conversation(a.keys, "conv", "laptop, once"));
  REQUIRE(a.history.rename_conversation(a.keys, "conv", "laptop, twice"));
  REQUIRE(b.history.rename_conversation(b.keys, "conv", "desktop, once"));
  REQUIRE(b.history.append_turn(b.keys, "conv", b.turn("more")));
  REQUIRE(b.sync_with(remote).ok());
  REQUIRE(a.sync_with(remote).ok());
  REQUIRE(b.sync_with(remote).ok());
  CHECK(a.view() == b.view());
  auto head = b.history.find(b.keys, "conv").value();
  CHECK(head->title == "laptop, twice");
  CHECK(head->turns == 3);
  // And the next rename anywhere goes past every clock seen.
  REQUIRE(b.history.rename_conversation(b.keys, "conv", "final"));
  REQUIRE(b.sync_with(remote).ok());
  REQUIRE(a.sync_with(remote).ok());
  CHECK(a.history.find(a.keys, "conv").value()->title == "final");

  // Bad titles are refused and change nothing.
  for (const char* bad : {"", "   ", "two\nlines", "tab\tin"}) {
    auto r = a.history.rename_conversation(a.keys, "conv", bad);
    CHECK_FALSE(r.ok());
  }
  CHECK_FALSE(a.history.rename_conversation(a.keys, "conv", std::string(201, 'x')).ok());
  CHECK_FALSE(a.history.rename_conversation(a.keys, "conv", "bad \xff utf-8").ok());
  CHECK_FALSE(a.history.rename_conversation(a.keys, "nope", "x").ok());
  CHECK(a.history.find(a.keys, "conv").value()->title == "final");
}

TEST_CASE("sync: an interrupted sync resumes from its cursor and converges") {
  World w;
  StoreRemote remote(*w.server);
  remote.page_size = 2;
  Device a("laptop", w.root), b("desktop", w.root);
  for (int i = 0; i < 4; ++i) {
    auto c = a.history.create_conversation(a.keys, "conv-" + std::to_string(i)).value();
    REQUIRE(a.history.append_turn(a.keys, c.id, a.turn("turn " + std::to_string(i))));
  }
  REQUIRE(a.sync_with(remote).ok());
  // B's connection breaks after two pages.
  LyingRemote flaky(*w.server);
  flaky.page_size = 2;
  int pages = 0;
  flaky.rewrite_page = [&](sync::RemotePage&) {
    if (++pages > 2) throw std::runtime_error("connection lost");
  };
  CHECK_THROWS(b.sync_with(flaky));
  auto cursor = b.history.database().prepare("SELECT value FROM sync_state WHERE key = 'cursor'").value();
  REQUIRE(*cursor.step());
  CHECK(cursor.column_text(0) == "4");  // two pages of two, kept
  auto rb = b.sync_with(remote);
  REQUIRE_MESSAGE(rb.ok(), rb.error().message);
  CHECK(b.view() == a.view());
}

TEST_CASE("sync: a server that lies is caught, and the history is left as it was") {
  World w;
  StoreRemote honest(*w.server);
  honest.page_size = 100;
  Device a("laptop", w.root);
  auto c = a.history.create_conversation(a.keys, std::string("conv")).value();
  REQUIRE(a.history.append_turn(a.keys, c.id, a.turn("one")));
  REQUIRE(a.history.append_turn(a.keys, c.id, a.turn("two")));
  REQUIRE(a.sync_with(honest).ok());
  // The server's state now, as a backup it could later restore (rolling records back).
  std::string backup_path = w.dir.path() + "/backup.db";
  {
    auto db = store::Database::open(w.dir.path() + "/server.db").value();
    REQUIRE(db.exec("VACUUM INTO '" + backup_path + "'"));
  }
  REQUIRE(a.history.append_turn(a.keys, c.id, a.turn("three")));
  REQUIRE(a.sync_with(honest).ok());  // the head is now at revision 2 on the server
  auto backup = server::store::open_store("sqlite:" + backup_path).value();

  auto fresh_device = [&](const char* name) { return std::make_unique<Device>(name, w.root); };
  auto expect_caught = [&](LyingRemote& liar, const std::string& needle) {
    auto b = fresh_device("desktop");
    auto before = b->view();
    auto msg = sync_error(b->sync_with(liar));
    CHECK_MESSAGE(msg.find(needle) != std::string::npos, msg);
    CHECK(b->view() == before);
    CHECK(b->count("sync_records") == 0);
  };

  SUBCASE("the head's bytes swapped for other bytes") {
    LyingRemote liar(*w.server);
    liar.page_size = 100;
    liar.rewrite_page = [&](sync::RemotePage& p) {
      for (auto& ch : p.changes)
        if (ch.id == "conv" && ch.revision == 2) ch.ciphertext = Bytes(100, 1);
    };
    expect_caught(liar, "the bytes sent do not match the log's hash");
  }
  SUBCASE("the whole store rolled back to a backup: the device that wrote since sees it") {
    StoreRemote restored(*backup);
    auto before = a.view();
    auto msg = sync_error(a.sync_with(restored));
    CHECK_MESSAGE(msg.find("the server was rolled back") != std::string::npos, msg);
    CHECK(a.view() == before);
  }
  SUBCASE("a fork: another device is shown the old records with the current checkpoints") {
    LyingRemote fork(*backup);
    fork.page_size = 100;
    fork.rewrite_checkpoints = [&](std::vector<sync::RemoteCheckpoint>& cps) {
      cps.clear();
      auto current = w.server->checkpoints(kAccount).value();
      for (auto& cp : current) cps.push_back({cp.device, cp.seq, cp.digest});
    };
    expect_caught(fork, "device laptop has seen the log up to change 6, but the server's log ends at 4");
  }
  SUBCASE("a record dropped from the log") {
    LyingRemote liar(*w.server);
    liar.page_size = 100;
    liar.rewrite_page = [&](sync::RemotePage& p) {
      p.changes.erase(std::remove_if(p.changes.begin(), p.changes.end(), [](auto& ch) { return ch.id == "conv/turn/2"; }),
                      p.changes.end());
    };
    expect_caught(liar, "a change was withheld or removed");
  }
  SUBCASE("a record's bytes withheld") {
    LyingRemote liar(*w.server);
    liar.page_size = 100;
    liar.rewrite_page = [&](sync::RemotePage& p) {
      for (auto& ch : p.changes)
        if (ch.id == "conv/turn/3") ch.ciphertext.reset();
    };
    expect_caught(liar, "record conv/turn/3 at revision 1 but it never sent those bytes");
  }
  SUBCASE("the log reordered") {
    LyingRemote liar(*w.server);
    liar.page_size = 100;
    liar.rewrite_page = [&](sync::RemotePage& p) {
      // revision 2 of the head before revision 1, numbers kept in order
      size_t i1 = 0, i2 = 0;
      for (size_t i = 0; i < p.changes.size(); ++i) {
        if (p.changes[i].id == "conv" && p.changes[i].revision == 1) i1 = i;
        if (p.changes[i].id == "conv" && p.changes[i].revision == 2) i2 = i;
      }
      std::swap(p.changes[i1], p.changes[i2]);
      std::swap(p.changes[i1].seq, p.changes[i2].seq);
    };
    expect_caught(liar, "record conv is at revision 2 in the server's log after revision 0 here");
  }
  SUBCASE("another account's record") {
    World other;
    Device stranger("x", other.root);  // the same account id under another root key
    REQUIRE(stranger.history.create_conversation(stranger.keys, std::string("conv")).ok());
    StoreRemote theirs(*other.server);
    REQUIRE(stranger.sync_with(theirs).ok());
    auto foreign = other.server->changes(kAccount, 0, 10, 1 << 20).value();
    LyingRemote liar(*w.server);
    liar.page_size = 100;
    liar.rewrite_page = [&](sync::RemotePage& p) {
      for (auto& ch : p.changes)
        for (auto& f : foreign.changes)
          if (ch.id.rfind("conv/key/", 0) == 0 && f.id.rfind("conv/key/", 0) == 0 && f.ciphertext) {
            ch.ciphertext = f.ciphertext;
            ch.hash = f.hash;
          }
    };
    expect_caught(liar, "does not open under this account's records key");
  }
  SUBCASE("a fork with the checkpoint forged to match") {
    LyingRemote liar(*w.server);
    liar.page_size = 100;
    liar.rewrite_checkpoints = [&](std::vector<sync::RemoteCheckpoint>& cps) {
      for (auto& cp : cps) cp.digest[0] ^= 1;
    };
    expect_caught(liar, "device laptop saw a different history up to change 6 than this device");
  }
  SUBCASE("a checkpoint this device saw before is withheld") {
    auto b = fresh_device("desktop");
    REQUIRE(b->sync_with(honest).ok());
    LyingRemote liar(*w.server);
    liar.rewrite_checkpoints = [&](std::vector<sync::RemoteCheckpoint>& cps) {
      cps.erase(std::remove_if(cps.begin(), cps.end(), [](auto& cp) { return cp.device == "laptop"; }), cps.end());
    };
    auto msg = sync_error(b->sync_with(liar));
    CHECK(msg.find("no longer returns device laptop's checkpoint") != std::string::npos);
    // and its own checkpoint rolled back
    LyingRemote liar2(*w.server);
    liar2.rewrite_checkpoints = [&](std::vector<sync::RemoteCheckpoint>& cps) {
      for (auto& cp : cps)
        if (cp.device == "desktop") cp.seq = 1;
    };
    CHECK(sync_error(b->sync_with(liar2)).find("this device's checkpoint at change 1") != std::string::npos);
  }
}

namespace {

// A connection that breaks after `writes` successful writes.
class BreakingRemote : public StoreRemote {
 public:
  BreakingRemote(server::store::Store& s, int writes) : StoreRemote(s), left_(writes) {}
  // The server applies the first `writes` of what it is sent (as if the batch had been
  // cut there), then the connection is lost.
  Result<std::vector<sync::PutResult>> put_many(std::span<const sync::Write> writes) override {
    size_t n = std::min(writes.size(), size_t(std::max(left_, 0)));
    left_ -= int(n);
    if (n == 0) return make_error(Errc::network, "connection lost");
    auto applied = StoreRemote::put_many(writes.first(n));
    if (!applied || n < writes.size() || left_ <= 0) return make_error(Errc::network, "connection lost");
    return applied;
  }

 private:
  int left_;
};

}  // namespace

TEST_CASE("sync: a batch's answer that does not match what was sent is a lie, named") {
  Bytes ct(10, 1);
  std::vector<sync::Write> writes = {{"a", 2, 0, false, ct}, {"b", 2, 3, false, ct}};
  auto good = sync::parse_put_results(
      as_bytes(std::string(R"({"results":[{"stored":true,"revision":1,"seq":7},{"stored":false,"revision":5}]})")), writes);
  REQUIRE_MESSAGE(good.ok(), good.error().message);
  CHECK((*good)[0].stored);
  CHECK((*good)[0].seq == 7);
  CHECK_FALSE((*good)[1].stored);
  CHECK((*good)[1].revision == 5);
  auto lie = [&](const std::string& body, const std::string& needle) {
    auto r = sync::parse_put_results(as_bytes(body), writes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol);
    CHECK_MESSAGE(r.error().message.find(needle) != std::string::npos, r.error().message);
  };
  lie(R"({"results":[{"stored":true,"revision":1,"seq":7}]})", "writing 2 records: 1 results");
  lie(R"({"results":[{"stored":true,"revision":2,"seq":7},{"stored":false,"revision":5}]})",
      "record a written at revision 2 (seq 7), expected revision 1");
  lie(R"({"results":[{"stored":true,"revision":1,"seq":7},{"stored":false,"revision":3}]})",
      "record b: a conflict at the revision it expected (3)");
  lie(R"({"results":[{"stored":"yes","revision":1,"seq":7},{"stored":false,"revision":5}]})", "expected \"stored\"");
  lie(R"({"results":{}})", "expected \"results\" as an array");
  lie(std::string(100000, '['), "malformed");
}

TEST_CASE("sync: another device syncing between a conversation's writes sees no lie and no half conversation") {
  World w;
  StoreRemote remote(*w.server);
  Device a("laptop", w.root), b("desktop", w.root);
  REQUIRE(a.history.create_conversation(a.keys, std::string("conv")).ok());
  REQUIRE(a.history.append_turn(a.keys, "conv", a.turn("one")));
  // A's connection breaks after the data key: B syncs in between.
  BreakingRemote after_key(*w.server, 1);
  CHECK_FALSE(a.sync_with(after_key).ok());
  auto mid = b.sync_with(remote);
  REQUIRE_MESSAGE(mid.ok(), mid.error().message);
  CHECK(b.view().empty());
  CHECK(b.history.list(b.keys).ok());
  REQUIRE(a.sync_with(remote).ok());
  REQUIRE(b.sync_with(remote).ok());
  CHECK(b.view() == a.view());

  // Deleting: the head's tombstone goes first, so B never holds a head without its key.
  REQUIRE(a.history.remove_conversation("conv"));
  BreakingRemote after_head(*w.server, 1);
  CHECK_FALSE(a.sync_with(after_head).ok());
  auto gone = b.sync_with(remote);
  REQUIRE_MESSAGE(gone.ok(), gone.error().message);
  CHECK(b.view().empty());
  CHECK(b.history.list(b.keys).ok());
  REQUIRE(a.sync_with(remote).ok());
  REQUIRE(b.sync_with(remote).ok());
  CHECK(a.view() == b.view());
}

TEST_CASE("sync: a deletion here wins over a turn another device added meanwhile") {
  World w;
  StoreRemote remote(*w.server);
  Device a("laptop", w.root), b("desktop", w.root);
  REQUIRE(a.history.create_conversation(a.keys, std::string("conv")).ok());
  REQUIRE(a.history.append_turn(a.keys, "conv", a.turn("one")));
  REQUIRE(a.sync_with(remote).ok());
  REQUIRE(b.sync_with(remote).ok());
  REQUIRE(b.history.append_turn(b.keys, "conv", b.turn("two from b")));
  REQUIRE(b.sync_with(remote).ok());
  REQUIRE(a.history.remove_conversation("conv"));  // before A has seen B's turn
  auto ra = a.sync_with(remote);
  REQUIRE_MESSAGE(ra.ok(), ra.error().message);
  CHECK(a.view().empty());
  auto rb = b.sync_with(remote);
  REQUIRE_MESSAGE(rb.ok(), rb.error().message);
  CHECK(b.view().empty());
  // A third device sees nothing of it either.
  Device c("tablet", w.root);
  auto rc = c.sync_with(remote);
  REQUIRE_MESSAGE(rc.ok(), rc.error().message);
  CHECK(c.view().empty());
}
