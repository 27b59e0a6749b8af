// The history store: records bound to their place, rotation, files and their modes,
// migrations; and the unlocked session's payload and keyring round trip.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>

#include "keys/hierarchy.hpp"
#include "keys/session.hpp"
#include "core/time.hpp"
#include "store/history.hpp"
#include "support/support.hpp"

using namespace confer;

namespace {

struct Fixture {
  test::TempDir dir;
  std::string path = dir.path() + "/data/confer/history.db";
  store::HistoryStore history = store::HistoryStore::open(path).value();
  crypto::SecretBytes kek = keys::random_key().value();
  store::Credential way;
  store::Unlocked keys;

  Fixture(const Fixture&) = delete;

  explicit Fixture(const std::string& account_id = "acct-1") {
    crypto::SecretBytes root = keys::random_key().value();
    way.id = Bytes(16, 0xc1);
    way.kind = "file";
    way.label = "test way in";
    way.salt = Bytes(32, 7);
    way.created = now_utc();
    way.wrapped_root = *keys::wrap_key(kek, root, store::root_wrap_context(account_id, way));
    REQUIRE(history.create_account({account_id, now_utc(), 1}, way));
    keys = history.unlock(way, kek).value();
  }

  store::Turn turn(const std::string& prompt) {
    store::Turn t;
    t.prompt = prompt;
    t.reply = "answer to " + prompt;
    t.model = "m";
    t.receipt = {"AMD SEV-SNP Milan", "aa", "pinned measurement", "bb", now_utc(), ""};
    return t;
  }

  Bytes column(const std::string& sql) {
    auto s = history.database().prepare(sql);
    REQUIRE(s);
    REQUIRE(*s->step());
    return s->column_blob(0);
  }
  void exec(const std::string& sql, ByteView blob) {
    auto s = history.database().prepare(sql);
    REQUIRE(s);
    REQUIRE(s->bind(1, blob).run());
  }
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("store: turns saved, listed, read back and searched, across a reopen") {
  Fixture f;
  auto a = f.history.create_conversation(f.keys);
  REQUIRE(a);
  CHECK(*f.history.append_turn(f.keys, a->id, f.turn("first question\nsecond line")) == 1);
  CHECK(*f.history.append_turn(f.keys, a->id, f.turn("a follow-up about Zebras")) == 2);
  auto b = f.history.create_conversation(f.keys, std::string("named-one"));
  REQUIRE(b);
  REQUIRE(f.history.append_turn(f.keys, "named-one", f.turn("other")));
  CHECK(f.history.create_conversation(f.keys, std::string("named-one")).error().code == Errc::usage);
  CHECK(f.history.create_conversation(f.keys, std::string("no/slashes")).error().code == Errc::usage);

  auto reopened = store::HistoryStore::open(f.path);
  REQUIRE(reopened);
  auto keys = reopened->unlock(f.way, f.kek);
  REQUIRE(keys);
  auto list = reopened->list(*keys);
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].id == "named-one");  // the most recently updated first
  CHECK((*list)[1].title == "first question");
  CHECK((*list)[1].turns == 2);
  CHECK(*reopened->last_conversation_id() == std::optional<std::string>("named-one"));
  auto turns = reopened->turns(*keys, a->id);
  REQUIRE(turns);
  REQUIRE(turns->size() == 2);
  CHECK((*turns)[1].prompt == "a follow-up about Zebras");
  CHECK((*turns)[1].receipt.platform == "AMD SEV-SNP Milan");
  auto hits = reopened->search(*keys, "zebra");
  REQUIRE(hits);
  REQUIRE(hits->size() == 1);
  CHECK((*hits)[0].turn == 2);
  CHECK(reopened->search(*keys, "no such text")->empty());

  REQUIRE(reopened->remove_conversation(a->id));
  CHECK(reopened->remove_conversation(a->id).error().code == Errc::usage);
  CHECK(reopened->list(*keys)->size() == 1);
  auto left = reopened->database().prepare("SELECT COUNT(*) FROM data_keys WHERE conversation_id = ?");
  left->bind(1, a->id);
  REQUIRE(*left->step());
  CHECK(left->column_int(0) == 0);
}

TEST_CASE("store: a record moved, replayed, altered or opened with the wrong key does not decrypt") {
  Fixture f;
  auto a = *f.history.create_conversation(f.keys, std::string("conv-a"));
  auto b = *f.history.create_conversation(f.keys, std::string("conv-b"));
  REQUIRE(f.history.append_turn(f.keys, a.id, f.turn("alpha one")));
  REQUIRE(f.history.append_turn(f.keys, a.id, f.turn("alpha two")));
  REQUIRE(f.history.append_turn(f.keys, b.id, f.turn("beta one")));
  Bytes a1 = f.column("SELECT record FROM turns WHERE conversation_id = 'conv-a' AND idx = 1");
  Bytes b1 = f.column("SELECT record FROM turns WHERE conversation_id = 'conv-b' AND idx = 1");

  SUBCASE("moved to another conversation") {
    f.exec("UPDATE turns SET record = ? WHERE conversation_id = 'conv-b' AND idx = 1", a1);
    auto r = f.history.turns(f.keys, b.id);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::key);
    CHECK(r.error().message.find("no data key") != std::string::npos);
  }
  SUBCASE("moved to another turn of the same conversation") {
    f.exec("UPDATE turns SET record = ? WHERE conversation_id = 'conv-a' AND idx = 2", a1);
    auto r = f.history.turns(f.keys, a.id);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::key);
    CHECK(r.error().message.find("conv-a/turn/2") != std::string::npos);
  }
  SUBCASE("an older revision of the conversation's record") {
    Bytes old_head = f.column("SELECT head FROM conversations WHERE id = 'conv-a'");
    REQUIRE(f.history.append_turn(f.keys, a.id, f.turn("alpha three")));
    f.exec("UPDATE conversations SET head = ? WHERE id = 'conv-a'", old_head);
    auto r = f.history.find(f.keys, a.id);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::key);
    CHECK(r.error().message.find("older revision") != std::string::npos);
  }
  SUBCASE("a flipped bit") {
    Bytes flipped = b1;
    flipped[flipped.size() / 2] ^= 0x01;
    f.exec("UPDATE turns SET record = ? WHERE conversation_id = 'conv-b' AND idx = 1", flipped);
    auto r = f.history.turns(f.keys, b.id);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::key);
    CHECK(r.error().message.find("does not decrypt") != std::string::npos);
  }
  SUBCASE("the wrong key") {
    auto other = store::unlocked_from_root("acct-1", {}, keys::random_key().value());
    auto r = f.history.list(*other);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::key);
    CHECK(r.error().message.find("data key does not open") != std::string::npos);
    crypto::SecretBytes wrong_kek = keys::random_key().value();
    auto u = f.history.unlock(f.way, wrong_kek);
    REQUIRE_FALSE(u);
    CHECK(u.error().code == Errc::key);
    CHECK(u.error().message.find("did not open") != std::string::npos);
  }
  SUBCASE("another account") {
    // The same keys under another account id: every wrap and record names the account.
    auto same_root = store::unlocked_from_root("acct-2", {}, std::move(f.keys.root));
    auto r = f.history.list(*same_root);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::key);
  }
}

TEST_CASE("store: rotation keeps the history readable and the old root opens nothing") {
  Fixture f;
  auto a = *f.history.create_conversation(f.keys);
  REQUIRE(f.history.append_turn(f.keys, a.id, f.turn("before rotation")));
  std::string evidence = f.history.put_evidence(f.keys, "{\"platform\":\"SEV-SNP\"}").value();
  crypto::SecretBytes old_root = keys::random_key().value();
  std::memcpy(old_root.data(), f.keys.root.data(), keys::kKeySize);
  auto old_records = keys::derive_subkey(old_root, keys::Subkey::records).value();

  auto next = store::unlocked_from_root(f.keys.account_id, f.way.id, keys::random_key().value()).value();
  crypto::SecretBytes new_kek = keys::random_key().value();
  store::Credential rewrapped = f.way;
  rewrapped.wrapped_root = *keys::wrap_key(new_kek, next.root, store::root_wrap_context(next.account_id, rewrapped));
  CHECK(f.history.rotate(f.keys, next, {}).error().code == Errc::usage);
  REQUIRE(f.history.rotate(f.keys, next, {rewrapped}));
  REQUIRE(f.history.append_turn(next, a.id, f.turn("after rotation")));

  auto reopened = store::HistoryStore::open(f.path);
  auto keys = reopened->unlock(rewrapped, new_kek);
  REQUIRE(keys);
  auto turns = reopened->turns(*keys, a.id);
  REQUIRE(turns);
  CHECK(turns->size() == 2);
  CHECK(reopened->account()->value().epoch == 2);
  // The old kek no longer opens the way in; the old root opens no data key, old or new.
  CHECK_FALSE(reopened->unlock(reopened->credentials()->at(0), f.kek));
  auto wraps = reopened->database().prepare("SELECT conversation_id, wrapped FROM data_keys");
  int n = 0;
  while (*wraps->step()) {
    ++n;
    std::string conversation = wraps->column_text(0);
    keys::WrapContext ctx{keys::kDataKeyWrap, as_bytes(f.keys.account_id), as_bytes(conversation)};
    CHECK_FALSE(keys::unwrap_key(old_records, wraps->column_blob(1), ctx));
    CHECK(keys::unwrap_key(keys->records, wraps->column_blob(1), ctx));
  }
  CHECK(n == 2);  // the conversation's first key, rewrapped, and the one added at rotation
  auto old = store::unlocked_from_root(f.keys.account_id, {}, std::move(old_root));
  CHECK_FALSE(reopened->turns(*old, a.id));
  CHECK_FALSE(reopened->list(*old));
  // The saved evidence is re-sealed: the new keys open it, the old ones do not.
  auto kept = reopened->evidence(*keys, evidence);
  REQUIRE_MESSAGE(kept, kept.error().message);
  CHECK(kept->value() == "{\"platform\":\"SEV-SNP\"}");
  CHECK_FALSE(reopened->evidence(*old, evidence));
}

TEST_CASE("store: the last way in cannot be removed, and files are private") {
  Fixture f;
  CHECK(f.history.remove_credential(f.way.id).error().code == Errc::usage);
  store::Credential second = f.way;
  second.id = Bytes(16, 0xc2);
  second.label = "second";
  REQUIRE(f.history.add_credential(second));
  CHECK(f.history.remove_credential(Bytes(16, 0x99)).error().code == Errc::usage);
  REQUIRE(f.history.remove_credential(f.way.id));
  CHECK(f.history.credentials()->size() == 1);
  REQUIRE(f.history.create_conversation(f.keys));
  CHECK(mode_of(f.path) == 0600);
  CHECK(mode_of(std::filesystem::path(f.path).parent_path()) == 0700);
  // While the database is open in WAL mode its -wal and -shm files exist, with its mode.
  CHECK(mode_of(f.path + "-wal") == 0600);
  CHECK(mode_of(f.path + "-shm") == 0600);
}

TEST_CASE("store: a database from a newer confer is refused with its version") {
  test::TempDir dir;
  std::string path = dir.path() + "/h.db";
  {
    auto db = store::Database::open(path);
    REQUIRE(db);
    REQUIRE(db->exec("PRAGMA user_version = 99"));
  }
  auto r = store::HistoryStore::open(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::parse);
  CHECK(r.error().message.find("version 99") != std::string::npos);
  auto fresh = store::HistoryStore::open(dir.path() + "/new.db");
  REQUIRE(fresh);
  auto v = fresh->database().prepare("PRAGMA user_version");
  REQUIRE(*v->step());
  CHECK(v->column_int(0) == store::kSchemaVersion);
}

TEST_CASE("session: payload round trip, malformed payloads, durations, and the kernel keyring") {
  keys::Session s;
  s.account_id = "acct";
  s.credential_id = Bytes{1, 2, 3};
  s.credential_label = "key";
  s.expires = now_utc() + 60;
  s.root = keys::random_key().value();
  auto payload = keys::encode_session(s);
  REQUIRE(payload);
  auto back = keys::decode_session(payload->view());
  REQUIRE(back);
  CHECK(back->account_id == "acct");
  CHECK(back->root.equals(s.root.view()));
  for (size_t cut : {size_t(0), size_t(1), size_t(9), payload->size() - 1}) {
    auto bad = keys::decode_session(payload->view().subspan(0, cut));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::parse);
  }
  Bytes longer(payload->view().begin(), payload->view().end());
  longer.push_back(0);
  CHECK(keys::decode_session(longer).error().message.find("after the root key") != std::string::npos);

  CHECK(keys::parse_duration("15m")->count() == 900);
  CHECK(keys::parse_duration("1h30m")->count() == 5400);
  CHECK(keys::parse_duration("90s")->count() == 90);
  for (const char* bad : {"", "15", "m", "15x", "25h", "0m", "-5m"})
    CHECK_MESSAGE(keys::parse_duration(bad).error().code == Errc::usage, bad);

  test::TempDir dir;
  std::string store_path = dir.path() + "/history.db";
  REQUIRE(keys::remember_session(store_path, s));
  auto recalled = keys::recall_session(store_path);
  REQUIRE(recalled);
  REQUIRE(recalled->has_value());
  CHECK((*recalled)->root.equals(s.root.view()));
  CHECK((*recalled)->credential_label == "key");
  CHECK_FALSE(keys::recall_session(store_path + "-other")->has_value());
  CHECK(*keys::forget_session(store_path));
  CHECK_FALSE(keys::recall_session(store_path)->has_value());
  CHECK_FALSE(*keys::forget_session(store_path));
  s.expires = now_utc() - 1;
  CHECK(keys::remember_session(store_path, s).error().code == Errc::usage);
}
