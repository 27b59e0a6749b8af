// confer-server's storage: one suite, run against SQLite and against a real PostgreSQL
// server (support/postgres.hpp), so both backends keep one contract.
#include <atomic>
#include <functional>
#include <thread>

#include <doctest/doctest.h>

#include "crypto/hash.hpp"
#include "server/store/store.hpp"
#include "store/sqlite.hpp"
#include "support/postgres.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::server::store;

namespace {

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Store>(const Limits&)> open;  // a new connection to the same store
};

// Runs `body` against a fresh SQLite store and, when there is one, a fresh PostgreSQL database.
void each_backend(const std::function<void(const Backend&)>& body) {
  {
    test::TempDir dir;
    std::string path = dir.path() + "/server/store.db";
    Backend b{"sqlite", [path](const Limits& l) {
                auto s = open_store("sqlite:" + path, l);
                REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
                return std::move(s).value();
              }};
    SUBCASE("sqlite") { body(b); }
  }
  SUBCASE("postgresql") {
    auto db = test::PostgresDatabase::create();
    if (!db) return;
    std::string uri = db->uri();
    Backend b{"postgresql", [uri](const Limits& l) {
                auto s = open_store(uri, l);
                REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
                return std::move(s).value();
              }};
    body(b);
  }
}

StoredCredential credential(const std::string& account, uint8_t tag) {
  StoredCredential c;
  c.id = Bytes(16, tag);
  c.account = account;
  c.algorithm = -7;
  c.public_key = Bytes(64, uint8_t(tag + 1));
  c.wrap = Bytes(61, uint8_t(tag + 2));
  c.created = 1700000000 + tag;
  return c;
}

void make_account(Store& s, const std::string& id, uint8_t tag) {
  auto r = s.create_account(Account{id, Bytes(32, tag), 1700000000}, credential(id, tag));
  REQUIRE(r);
  REQUIRE(*r);
}

Bytes ct(const std::string& text) { return Bytes(text.begin(), text.end()); }

}  // namespace

TEST_CASE("server store: accounts and credentials, with ids and counters that cannot be taken twice") {
  each_backend([](const Backend& b) {
    Limits limits;
    limits.max_credentials = 3;
    auto s = b.open(limits);
    make_account(*s, "acct-a", 1);
    auto again = s->create_account(Account{"acct-a", Bytes(32, 9), 1}, credential("acct-a", 9));
    REQUIRE(again);
    CHECK_FALSE(*again);  // the id is taken
    auto stolen = s->create_account(Account{"acct-b", Bytes(32, 9), 1}, credential("acct-b", 1));
    REQUIRE(stolen);
    CHECK_FALSE(*stolen);  // the credential id is taken
    CHECK_FALSE(s->account("acct-b").value());

    auto a = s->account("acct-a").value();
    REQUIRE(a);
    CHECK(a->auth_key == Bytes(32, 1));
    CHECK(s->add_credential(credential("acct-a", 20)).value());
    CHECK_FALSE(s->add_credential(credential("acct-a", 20)).value());  // taken
    CHECK(s->add_credential(credential("acct-a", 30)).value());
    CHECK_FALSE(s->add_credential(credential("acct-a", 40)).value());  // the limit of 3
    CHECK_FALSE(s->add_credential(credential("nobody", 50)).value());
    auto creds = s->credentials("acct-a").value();
    REQUIRE(creds.size() == 3);
    CHECK(creds[0].id == Bytes(16, 1));
    CHECK(creds[0].public_key == Bytes(64, 2));
    CHECK(creds[0].wrap == Bytes(61, 3));

    auto c = s->credential(Bytes(16, 20)).value();
    REQUIRE(c);
    CHECK(c->account == "acct-a");
    CHECK(c->sign_count == 0);
    CHECK(s->advance_sign_count(c->id, 0, 5).value());
    CHECK_FALSE(s->advance_sign_count(c->id, 0, 6).value());  // another login moved it first
    CHECK(s->credential(c->id).value()->sign_count == 5);
    CHECK_FALSE(s->credential(Bytes(16, 99)).value());
  });
}

TEST_CASE("server store: compare-and-set writes, tombstones and the change log") {
  each_backend([](const Backend& b) {
    auto s = b.open({});
    make_account(*s, "acct-a", 1);
    make_account(*s, "acct-b", 2);

    auto first = s->put("acct-a", "c1", 1, 0, false, ct("head v1")).value();
    CHECK(first.status == PutStatus::stored);
    CHECK(first.revision == 1);
    CHECK(first.seq == 1);
    auto stale = s->put("acct-a", "c1", 1, 0, false, ct("another head v1")).value();
    CHECK(stale.status == PutStatus::conflict);
    CHECK(stale.revision == 1);
    auto ahead = s->put("acct-a", "c1", 1, 5, false, ct("head v6")).value();
    CHECK(ahead.status == PutStatus::conflict);
    CHECK(ahead.revision == 1);
    auto second = s->put("acct-a", "c1", 1, 1, false, ct("head v2")).value();
    CHECK(second.status == PutStatus::stored);
    CHECK(second.revision == 2);
    CHECK(second.seq == 2);
    auto kind = s->put("acct-a", "c1", 2, 2, false, ct("x"));
    REQUIRE_FALSE(kind);
    CHECK(kind.error().code == Errc::usage);
    CHECK(s->put("acct-a", "c1/turn/1", 2, 0, false, ct("turn 1")).value().seq == 3);
    CHECK(s->put("nobody", "c1", 1, 0, false, ct("x")).value().status == PutStatus::no_account);
    // Accounts do not see each other's records, and count their own sequence.
    CHECK(s->put("acct-b", "c1", 1, 0, false, ct("b's head")).value().seq == 1);

    auto got = s->get("acct-a", "c1").value();
    REQUIRE(got);
    CHECK(got->revision == 2);
    CHECK(got->ciphertext == ct("head v2"));
    CHECK(got->hash == crypto::sha256(ct("head v2")));
    CHECK_FALSE(s->get("acct-a", "missing").value());

    auto del = s->put("acct-a", "c1/turn/1", 2, 1, true, {}).value();
    CHECK(del.status == PutStatus::stored);
    CHECK(del.revision == 2);
    auto tomb = s->get("acct-a", "c1/turn/1").value();
    REQUIRE(tomb);
    CHECK(tomb->deleted);
    CHECK_FALSE(tomb->ciphertext);

    auto page = s->changes("acct-a", 0, 100, 1 << 20).value();
    CHECK(page.head == 4);
    CHECK_FALSE(page.more);
    REQUIRE(page.changes.size() == 4);
    CHECK(page.changes[0].seq == 1);
    CHECK(page.changes[0].revision == 1);
    CHECK_FALSE(page.changes[0].ciphertext);  // superseded by revision 2
    CHECK(page.changes[0].hash == crypto::sha256(ct("head v1")));
    CHECK(page.changes[1].ciphertext == ct("head v2"));
    CHECK(page.changes[2].id == "c1/turn/1");
    CHECK_FALSE(page.changes[2].ciphertext);  // deleted since
    CHECK(page.changes[3].deleted);
    CHECK(page.changes[3].hash == crypto::sha256(Bytes{}));

    auto since = s->changes("acct-a", 2, 100, 1 << 20).value();
    REQUIRE(since.changes.size() == 2);
    CHECK(since.changes[0].seq == 3);
    auto paged = s->changes("acct-a", 0, 2, 1 << 20).value();
    CHECK(paged.changes.size() == 2);
    CHECK(paged.more);
    CHECK(s->changes("acct-a", 4, 100, 1 << 20).value().changes.empty());
    CHECK(s->changes("nobody", 0, 100, 1 << 20).value().changes.empty());
  });
}

TEST_CASE("server store: pages are bounded by bytes, and every change still arrives once") {
  each_backend([](const Backend& b) {
    auto s = b.open({});
    make_account(*s, "acct-a", 1);
    for (int i = 0; i < 10; ++i)
      REQUIRE(s->put("acct-a", "r" + std::to_string(i), 2, 0, false, Bytes(1000, uint8_t(i))).value().status ==
              PutStatus::stored);
    int64_t cursor = 0;
    int pages = 0, seen = 0;
    for (;;) {
      auto page = s->changes("acct-a", cursor, 100, 2500).value();
      ++pages;
      for (const auto& c : page.changes) {
        CHECK(c.seq == cursor + 1);
        cursor = c.seq;
        ++seen;
      }
      if (!page.more) break;
      REQUIRE(pages < 20);
    }
    CHECK(seen == 10);
    CHECK(pages == 5);  // two 1000-byte records per 2500-byte page
    // A single record larger than the page bound still comes, alone.
    REQUIRE(s->put("acct-a", "big", 2, 0, false, Bytes(5000, 7)).value().status == PutStatus::stored);
    auto big = s->changes("acct-a", 10, 100, 2500).value();
    CHECK(big.changes.size() == 1);
  });
}

TEST_CASE("server store: quotas refuse a write and leave the store as it was") {
  each_backend([](const Backend& b) {
    Limits limits;
    limits.max_account_records = 3;
    limits.max_account_bytes = 100;
    limits.max_devices = 2;
    auto s = b.open(limits);
    make_account(*s, "acct-a", 1);
    REQUIRE(s->put("acct-a", "a", 2, 0, false, Bytes(40, 1)).value().status == PutStatus::stored);
    REQUIRE(s->put("acct-a", "b", 2, 0, false, Bytes(40, 2)).value().status == PutStatus::stored);
    auto over = s->put("acct-a", "c", 2, 0, false, Bytes(40, 3)).value();
    CHECK(over.status == PutStatus::quota);
    CHECK(over.detail == "at most 100 bytes (writing c)");
    auto grow = s->put("acct-a", "a", 2, 1, false, Bytes(80, 1)).value();
    CHECK(grow.status == PutStatus::quota);
    CHECK(s->get("acct-a", "a").value()->ciphertext == Bytes(40, 1));
    CHECK_FALSE(s->get("acct-a", "c").value());
    // Shrinking is always allowed; a third record fits by bytes but not by count... after one more.
    REQUIRE(s->put("acct-a", "a", 2, 1, false, Bytes(10, 1)).value().status == PutStatus::stored);
    REQUIRE(s->put("acct-a", "c", 2, 0, false, Bytes(10, 3)).value().status == PutStatus::stored);
    auto count = s->put("acct-a", "d", 2, 0, false, Bytes(1, 4)).value();
    CHECK(count.status == PutStatus::quota);
    CHECK(count.detail == "at most 3 records (writing d)");
    auto page = s->changes("acct-a", 0, 100, 1 << 20).value();
    CHECK(page.head == 4);  // refused writes took no sequence number
    CHECK(page.changes.size() == 4);

    CHECK(s->put_checkpoint("acct-a", Checkpoint{"dev1", 4, Bytes(32, 1), 1}).value());
    CHECK(s->put_checkpoint("acct-a", Checkpoint{"dev2", 3, Bytes(32, 2), 2}).value());
    CHECK_FALSE(s->put_checkpoint("acct-a", Checkpoint{"dev3", 3, Bytes(32, 3), 3}).value());
    CHECK(s->put_checkpoint("acct-a", Checkpoint{"dev1", 5, Bytes(32, 4), 4}).value());  // an update is not a new device
    auto cps = s->checkpoints("acct-a").value();
    REQUIRE(cps.size() == 2);
    CHECK(cps[0].device == "dev1");
    CHECK(cps[0].seq == 5);
    CHECK(cps[0].digest == Bytes(32, 4));
    CHECK(cps[1].device == "dev2");
    CHECK(s->checkpoints("nobody").value().empty());
  });
}

TEST_CASE("server store: a batch of writes is one transaction: a conflict is one write's outcome, a quota the batch's") {
  each_backend([](const Backend& b) {
    Limits limits;
    limits.max_account_records = 4;
    auto s = b.open(limits);
    make_account(*s, "acct-a", 1);
    REQUIRE(s->put("acct-a", "x", 2, 0, false, Bytes(8, 1)).value().status == PutStatus::stored);
    Bytes one(8, 2), two(8, 3), three(8, 4);
    // x is at revision 1: a write expecting 0 conflicts, the others go on; the same id
    // twice in a batch sees its own earlier write.
    std::vector<Write> batch = {{"a", 2, 0, false, one}, {"x", 2, 0, false, two}, {"a", 2, 1, false, three}};
    auto r = s->put_many("acct-a", batch).value();
    REQUIRE(r.refused == PutStatus::stored);
    REQUIRE(r.writes.size() == 3);
    CHECK(r.writes[0].status == PutStatus::stored);
    CHECK(r.writes[0].seq == 2);
    CHECK(r.writes[1].status == PutStatus::conflict);
    CHECK(r.writes[1].revision == 1);
    CHECK(r.writes[2].status == PutStatus::stored);
    CHECK(r.writes[2].revision == 2);
    CHECK(r.writes[2].seq == 3);
    CHECK(s->get("acct-a", "a").value()->ciphertext == three);
    CHECK(s->changes("acct-a", 0, 100, 1 << 20).value().head == 3);

    // Over quota at its third write: nothing of the batch is written, no number taken.
    std::vector<Write> over = {{"b", 2, 0, false, one}, {"c", 2, 0, false, one}, {"d", 2, 0, false, one}};
    auto q = s->put_many("acct-a", over).value();
    CHECK(q.refused == PutStatus::quota);
    CHECK(q.detail == "at most 4 records (writing d)");
    CHECK_FALSE(s->get("acct-a", "b").value());
    CHECK(s->changes("acct-a", 0, 100, 1 << 20).value().head == 3);

    // A write of another kind refuses the batch; so does one too many writes.
    std::vector<Write> kind = {{"b", 2, 0, false, one}, {"a", 3, 2, false, two}};
    auto k = s->put_many("acct-a", kind);
    REQUIRE_FALSE(k);
    CHECK(k.error().message == "record a is of kind 2, not 3");
    CHECK_FALSE(s->get("acct-a", "b").value());
    std::vector<Write> many(kMaxBatchWrites + 1, Write{"m", 2, 0, false, one});
    auto m = s->put_many("acct-a", many);
    REQUIRE_FALSE(m);
    CHECK(m.error().message == "257 writes in one batch, at most 256");
    CHECK(s->changes("acct-a", 0, 100, 1 << 20).value().head == 3);
    CHECK(s->put_many("nobody", batch).value().refused == PutStatus::no_account);
  });
}

TEST_CASE("server store: concurrent writers over separate connections lose nothing and number every change once") {
  each_backend([](const Backend& b) {
    auto setup = b.open({});
    make_account(*setup, "acct-a", 1);
    constexpr int kWriters = 4, kEach = 25;
    std::vector<std::unique_ptr<Store>> stores;
    for (int i = 0; i < kWriters; ++i) stores.push_back(b.open({}));
    std::atomic<int> conflicts{0}, failures{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        Store& s = *stores[size_t(w)];
        for (int done = 0; done < kEach;) {
          // Each writer appends to one shared record (read, then compare-and-set) and
          // writes one record of its own.
          auto cur = s.get("acct-a", "shared");
          if (!cur) { ++failures; return; }
          int64_t rev = *cur ? (*cur)->revision : 0;
          auto put = s.put("acct-a", "shared", 1, rev, false, Bytes(8, uint8_t(w)));
          if (!put) { ++failures; return; }
          if (put->status == PutStatus::conflict) { ++conflicts; continue; }
          auto own = s.put("acct-a", "w" + std::to_string(w) + "-" + std::to_string(done), 2, 0, false, Bytes(4, 1));
          if (!own || own->status != PutStatus::stored) { ++failures; return; }
          ++done;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    auto shared = setup->get("acct-a", "shared").value();
    REQUIRE(shared);
    CHECK(shared->revision == kWriters * kEach);
    auto page = setup->changes("acct-a", 0, 10000, 1 << 30).value();
    REQUIRE(page.changes.size() == size_t(2 * kWriters * kEach));
    for (size_t i = 0; i < page.changes.size(); ++i) CHECK(page.changes[i].seq == int64_t(i + 1));
    MESSAGE(b.name << ": " << conflicts.load() << " compare-and-set conflicts retried");
  });
}

TEST_CASE("server store: the schema migrates once, and a newer one is refused by name") {
  test::TempDir dir;
  std::string path = dir.path() + "/store.db";
  {
    auto s = open_store("sqlite:" + path);
    REQUIRE(s);
    make_account(**s, "acct-a", 1);
  }
  {
    auto s = open_store(path);  // a bare path is SQLite too
    REQUIRE(s);
    CHECK((*s)->account("acct-a").value());
    CHECK((*s)->describe() == "sqlite:" + path);
  }
  {
    auto db = confer::store::Database::open(path);
    REQUIRE(db);
    REQUIRE(db->exec("PRAGMA user_version = 99"));
  }
  auto newer = open_store("sqlite:" + path);
  REQUIRE_FALSE(newer);
  CHECK(newer.error().message.find("schema is version 99; this confer-server knows up to 1") != std::string::npos);

  auto bad = open_store("mysql://x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::usage);
  CHECK(bad.error().message == "--store: expected sqlite:PATH or postgresql://..., saw 'mysql://x'");
  CHECK_FALSE(open_store("sqlite:"));

  auto pg = test::PostgresDatabase::create();
  if (!pg) return;
  {
    auto s = open_store(pg->uri());
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
    make_account(**s, "acct-a", 1);
    CHECK((*s)->describe().rfind("postgresql://", 0) == 0);
  }
  auto again = open_store(pg->uri());
  REQUIRE(again);
  CHECK((*again)->account("acct-a").value());
  auto unreachable = open_store("postgresql://confer@127.0.0.1:1/none?connect_timeout=2");
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().message.rfind("cannot reach PostgreSQL: ", 0) == 0);
}

TEST_CASE("server store: ids are checked by the shared rules") {
  CHECK(valid_account_id("acct-1.x_y"));
  CHECK_FALSE(valid_account_id(""));
  CHECK_FALSE(valid_account_id(std::string(65, 'a')));
  CHECK_FALSE(valid_account_id("a/b"));
  CHECK(valid_record_id("conv-1/turn/12"));
  CHECK_FALSE(valid_record_id("conv 1"));
  CHECK_FALSE(valid_record_id(std::string(201, 'a')));
  CHECK(valid_device_id("laptop-1"));
  CHECK_FALSE(valid_device_id("laptop\n"));
}
