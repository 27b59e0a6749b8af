// The encrypted archive (lib/store/archive, docs/archive.md): a round trip into another
// account's history; a wrong passphrase; every way of cutting, altering, reordering,
// splicing or extending an archive refused with the history left as it was; and the
// committed version-1 vector, which pins the format.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "core/time.hpp"
#include "keys/hierarchy.hpp"
#include "store/archive.hpp"
#include "store/history.hpp"
#include "support/support.hpp"

using namespace confer;

namespace {

constexpr const char* kPassphrase = "correct horse battery staple";
const keys::Argon2Params kCheap{1, 8u << 20};  // tests only: libsodium's minimum passes, 8 MiB

struct Machine {
  test::TempDir dir;
  store::HistoryStore history;
  store::Unlocked keys;
  explicit Machine(const std::string& account)
      : history(store::HistoryStore::open(dir.path() + "/history.db").value()) {
    crypto::SecretBytes kek = keys::random_key().value();
    crypto::SecretBytes root = keys::random_key().value();
    store::Credential way;
    way.id = Bytes(16, 1);
    way.kind = "file";
    way.label = "test";
    way.salt = Bytes(32, 7);
    way.created = now_utc();
    way.wrapped_root = *keys::wrap_key(kek, root, store::root_wrap_context(account, way));
    REQUIRE(history.create_account({account, now_utc(), 1}, way));
    keys = history.unlock(way, kek).value();
  }
  std::string view() {
    std::string out;
    auto list = history.list(keys).value();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.id < b.id; });
    for (const auto& c : list) {
      out += c.id + " '" + c.title + "' created " + std::to_string(c.created) + " updated " + std::to_string(c.updated) + "\n";
      auto turns = history.turns(keys, c.id).value();
      for (const auto& t : turns)
        out += "  " + std::to_string(t.index) + " @" + std::to_string(t.time) + " " + t.prompt + " | " + t.reply + " | " +
               t.model + " | " + t.receipt.platform + " " + t.receipt.measurement + " " + t.receipt.release + " " +
               t.receipt.server_key + " " + std::to_string(t.receipt.verified) + "\n";
    }
    return out;
  }
};

store::Turn turn(const std::string& prompt, int64_t time) {
  store::Turn t;
  t.prompt = prompt;
  t.reply = "answer to " + prompt;
  t.model = "m";
  t.time = time;
  t.receipt = {"AMD SEV-SNP Milan", "aa11", "release sha256:77", "bb22", time - 1, ""};
  return t;
}

void fill(Machine& m) {
  REQUIRE(m.history.create_conversation(m.keys, std::string("first"), 1700000000));
  REQUIRE(m.history.append_turn(m.keys, "first", turn("hello there", 1700000100)));
  REQUIRE(m.history.append_turn(m.keys, "first", turn("and again", 1700000200)));
  REQUIRE(m.history.rename_conversation(m.keys, "first", "A renamed one"));
  REQUIRE(m.history.create_conversation(m.keys, std::string("second"), 1700001000));
  REQUIRE(m.history.append_turn(m.keys, "second", turn("ünïcode ✓ prompt\nwith two lines", 1700001100)));
}

Bytes archive_of(Machine& m, const keys::Argon2Params& params = kCheap, const std::string& passphrase = kPassphrase) {
  Bytes out;
  auto r = store::write_archive(m.history, m.keys, {}, as_bytes(passphrase), params, [&](ByteView b) -> Result<void> {
    out.insert(out.end(), b.begin(), b.end());
    return {};
  });
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return out;
}

store::ArchiveReader reader_of(const Bytes& bytes) {
  auto at = std::make_shared<size_t>(0);
  return [&bytes, at](uint8_t* into, size_t n) -> Result<size_t> {
    size_t k = std::min(n, bytes.size() - *at);
    std::copy_n(bytes.begin() + long(*at), k, into);
    *at += k;
    return k;
  };
}

Result<store::ArchiveCounts> import(Machine& m, const Bytes& bytes, const std::string& passphrase = kPassphrase) {
  return store::import_archive(m.history, m.keys, reader_of(bytes), as_bytes(passphrase));
}

// The archive's messages: offset and size (length field included) of each after the header.
std::vector<std::pair<size_t, size_t>> messages(const Bytes& a) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t at = store::kArchiveHeaderSize; at + 4 <= a.size();) {
    size_t len = size_t(a[at]) << 24 | size_t(a[at + 1]) << 16 | size_t(a[at + 2]) << 8 | a[at + 3];
    out.emplace_back(at, 4 + len);
    at += 4 + len;
  }
  return out;
}

}  // namespace

TEST_CASE("archive: an export read back into another account's history on another machine holds the same conversations") {
  Machine a("acct-a"), b("acct-b");
  fill(a);
  Bytes archive = archive_of(a);
  auto counts = import(b, archive);
  REQUIRE_MESSAGE(counts.ok(), counts.error().message);
  CHECK(counts->conversations == 2);
  CHECK(counts->turns == 3);
  CHECK(counts->skipped == 0);
  CHECK(b.view() == a.view());
  CHECK(b.view().find("'A renamed one' created 1700000000 updated 1700000200") != std::string::npos);
  // The evidence a receipt names travels with it.
  Machine c("acct-c"), d("acct-d");
  std::string doc = R"({"platform":"SEV-SNP","attestation":"AAAA"})";
  std::string digest = c.history.put_evidence(c.keys, doc).value();
  REQUIRE(c.history.create_conversation(c.keys, std::string("with-evidence"), 1700000000));
  store::Turn answered = turn("with evidence", 1700000100);
  answered.receipt.evidence = digest;
  REQUIRE(c.history.append_turn(c.keys, "with-evidence", answered));
  REQUIRE(import(d, archive_of(c)).ok());
  CHECK(d.history.turns(d.keys, "with-evidence").value().at(0).receipt.evidence == digest);
  CHECK(d.history.evidence(d.keys, digest).value() == std::optional<std::string>(doc));
  // Again: everything is there already, nothing changes.
  auto again = import(b, archive);
  REQUIRE(again.ok());
  CHECK(again->skipped == 2);
  CHECK(b.view() == a.view());
  // The archive holds no plaintext.
  std::string raw(archive.begin(), archive.end());
  for (const char* canary : {"hello there", "renamed", "answer to", "SEV-SNP", "first"})
    CHECK(raw.find(canary) == std::string::npos);
  // A passphrase too short to be one is refused before anything is written.
  Bytes none;
  auto short_one = store::write_archive(a.history, a.keys, {}, as_bytes(std::string("short")), kCheap,
                                        [&](ByteView x) -> Result<void> { none.insert(none.end(), x.begin(), x.end()); return {}; });
  CHECK_FALSE(short_one.ok());
  CHECK(none.empty());
}

TEST_CASE("archive: a wrong passphrase, and every cut, flip, reorder, splice or extension, is refused and imports nothing") {
  Machine a("acct-a"), other("acct-o");
  fill(a);
  REQUIRE(other.history.create_conversation(other.keys, std::string("elsewhere"), 1700000000));
  REQUIRE(other.history.append_turn(other.keys, "elsewhere", turn("from another archive", 1700000100)));
  Bytes archive = archive_of(a);
  Bytes foreign = archive_of(other);
  auto msgs = messages(archive);
  REQUIRE(msgs.size() == 3);  // two conversations and the final count

  auto refused = [&](const Bytes& bytes, Errc code, const std::string& needle, const std::string& passphrase = kPassphrase) {
    Machine b("acct-b");
    auto r = import(b, bytes, passphrase);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code);
    CHECK_MESSAGE(r.error().message.find(needle) != std::string::npos, r.error().message);
    CHECK(b.view().empty());
  };
  refused(archive, Errc::key, "wrong passphrase", "correct horse battery stapler");
  refused(Bytes(), Errc::parse, "is empty");
  // Cut anywhere: inside the header, a length, a message, or just before the final message.
  for (size_t cut : {size_t(10), store::kArchiveHeaderSize, store::kArchiveHeaderSize + 2, msgs[1].first + 7,
                     msgs[2].first, archive.size() - 1})
    refused(Bytes(archive.begin(), archive.begin() + long(cut)), Errc::parse, "the archive");
  // One byte flipped in each part.
  auto flip = [&](size_t at) {
    Bytes x = archive;
    x[at] ^= 0x01;
    return x;
  };
  refused(flip(0), Errc::parse, "not a confer archive");
  refused(flip(8), Errc::parse, "version");
  refused(flip(9), Errc::parse, "key derivation");
  refused(flip(12), Errc::parse, "outside what confer spends");  // 2^24 + 1 passes
  refused(flip(21), Errc::key, "does not open");                  // salt: another key
  refused(flip(40), Errc::key, "does not open");                  // stream header
  refused(flip(msgs[1].first + 20), Errc::parse, "message 2 does not open");
  refused(flip(msgs[1].first + 3), Errc::parse, "message 2");     // its length
  refused(flip(archive.size() - 1), Errc::parse, "message 3 does not open");
  // Messages dropped, swapped, repeated, taken from another archive; bytes after the end.
  auto join = [&](std::initializer_list<std::pair<const Bytes*, std::pair<size_t, size_t>>> parts) {
    Bytes x(archive.begin(), archive.begin() + long(store::kArchiveHeaderSize));
    for (const auto& [from, span] : parts) x.insert(x.end(), from->begin() + long(span.first), from->begin() + long(span.first + span.second));
    return x;
  };
  refused(join({{&archive, msgs[0]}, {&archive, msgs[2]}}), Errc::parse, "message 2 does not open");
  refused(join({{&archive, msgs[1]}, {&archive, msgs[0]}, {&archive, msgs[2]}}), Errc::key, "does not open");
  refused(join({{&archive, msgs[0]}, {&archive, msgs[0]}, {&archive, msgs[2]}}), Errc::parse, "message 2 does not open");
  refused(join({{&archive, msgs[0]}, {&foreign, messages(foreign)[0]}}), Errc::parse, "message 2 does not open");
  Bytes longer = archive;
  longer.push_back(0);
  refused(longer, Errc::parse, "goes on after its final message");
  Bytes header_only(archive.begin(), archive.begin() + long(store::kArchiveHeaderSize));
  refused(header_only, Errc::parse, "without its final message");
  // A length claiming more than a conversation may be.
  Bytes huge = archive;
  huge[msgs[0].first] = 0x7f;
  refused(huge, Errc::parse, "claims");
}

TEST_CASE("archive: the committed version-1 vector opens to what it was written from") {
  std::string path = std::string(CONFER_SOURCE_DIR) + "/tests/data/archive-v1.confer";
  if (const char* write_to = std::getenv("CONFER_WRITE_ARCHIVE_VECTOR")) {
    // How the vector was made: this machine's fill(), written once and committed.
    Machine a("acct-vector");
    fill(a);
    Bytes bytes = archive_of(a);
    std::ofstream(write_to, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
  }
  auto bytes = read_file(path);
  REQUIRE_MESSAGE(bytes, "missing " << path);
  Bytes archive = std::move(bytes).value();
  std::vector<store::ArchivedConversation> seen;
  auto counts = store::read_archive(reader_of(archive), as_bytes(std::string(kPassphrase)),
                                    [&](store::ArchivedConversation&& c) -> Result<void> {
                                      seen.push_back(std::move(c));
                                      return {};
                                    });
  REQUIRE_MESSAGE(counts.ok(), counts.error().message);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].head.id == "first");
  CHECK(seen[0].head.title == "A renamed one");
  CHECK(seen[0].head.title_clock == 2);
  CHECK(seen[0].head.created == 1700000000);
  REQUIRE(seen[0].turns.size() == 2);
  CHECK(seen[0].turns[1].prompt == "and again");
  CHECK(seen[0].turns[1].time == 1700000200);
  CHECK(seen[0].turns[1].receipt.release == "release sha256:77");
  CHECK(seen[1].head.id == "second");
  CHECK(seen[1].turns[0].prompt == "ünïcode ✓ prompt\nwith two lines");
  auto wrong = store::read_archive(reader_of(archive), as_bytes(std::string("not the passphrase")),
                                   [](store::ArchivedConversation&&) -> Result<void> { return {}; });
  CHECK_FALSE(wrong.ok());
}
