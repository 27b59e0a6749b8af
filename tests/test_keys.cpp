// The key hierarchy and the record format against docs/keys.md's vectors, each with its
// negative twins.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "keys/file_authenticator.hpp"
#include "keys/hierarchy.hpp"
#include "keys/recovery.hpp"
#include "store/record.hpp"
#include "support/support.hpp"

using namespace confer;
using crypto::SecretBytes;

namespace {

SecretBytes key_from(ByteView bytes) {
  auto k = SecretBytes::allocate(bytes.size());
  REQUIRE(k.ok());
  std::copy(bytes.begin(), bytes.end(), k->data());
  return std::move(k).value();
}

Bytes counting(uint8_t from, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(from + i);
  return b;
}

template <size_t N>
std::array<uint8_t, N> counting_array(uint8_t from) {
  std::array<uint8_t, N> a{};
  for (size_t i = 0; i < N; ++i) a[i] = static_cast<uint8_t>(from + i);
  return a;
}

std::string hex(const SecretBytes& k) { return to_hex(k.view()); }

const Bytes kCredential = counting(0xc0, 16);
const std::string kAccount = "acct-1";

keys::WrapContext root_context(ByteView credential = kCredential) {
  return {keys::kRootWrap, as_bytes(kAccount), credential};
}

store::RecordContext turn_context() { return {kAccount, "turn-1", store::RecordKind::turn, 3}; }

}  // namespace

TEST_CASE("keys: docs/keys.md derivation vectors") {
  CHECK(to_hex(keys::prf_salt(as_bytes("confer"))) == "7e8d24c4ac9049c5860756b059706b9c59f0fafc5a14a545fc7e6c4e5a25a75a");
  SecretBytes prf = key_from(counting(0x00, 32));
  CHECK(hex(*keys::derive_kek(prf)) == "b1a3aeb1c6fa361bd9b79bcb79689071bf0b32ec4c1670c637551575b12213e5");
  SecretBytes root = key_from(counting(0x40, 32));
  CHECK(hex(*keys::derive_subkey(root, keys::Subkey::records)) ==
        "d04e07e3602ef6f8ccc3e8a2c5d9989a1fe63bf81119c602173d5fd0dfc5cad0");
  CHECK(hex(*keys::derive_subkey(root, keys::Subkey::index)) ==
        "52d2d3075477194f7580cc246c64f03f4d8f868765f019e90969c0b33a7fb14a");
  CHECK(hex(*keys::derive_subkey(root, keys::Subkey::auth)) ==
        "0f07645a6567543de507e38fdf7a154c97f04f73087d406626e3c4d17f69c22f");
  // Negative twins: another PRF output gives another kek; a short one is refused.
  SecretBytes other = key_from(counting(0x01, 32));
  CHECK(hex(*keys::derive_kek(other)) != "b1a3aeb1c6fa361bd9b79bcb79689071bf0b32ec4c1670c637551575b12213e5");
  SecretBytes short_prf = key_from(counting(0x00, 16));
  auto refused = keys::derive_kek(short_prf);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("expected 32 bytes, saw 16") != std::string::npos);
}

TEST_CASE("keys: the PRF salt rule reproduces the W3C WebAuthn PRF vector") {
  if (!test::have_vectors()) return;
  auto doc = nlohmann::json::parse(test::vector_file("webauthn-prf/prf-vectors.json"));
  Bytes input = *from_hex(doc["prf_eval_first_hex"].get<std::string>());
  CHECK(to_hex(keys::prf_salt(input)) == doc["salt1_hex"].get<std::string>());
  Bytes second = *from_hex(doc["prf_eval_second_hex"].get<std::string>());
  CHECK(to_hex(keys::prf_salt(second)) == doc["salt2_hex"].get<std::string>());
  CHECK(to_hex(keys::prf_salt(second)) != doc["salt1_hex"].get<std::string>());
}

TEST_CASE("keys: root and data-key wraps match the vectors and open only in their context") {
  SecretBytes kek = keys::derive_kek(key_from(counting(0x00, 32))).value();
  SecretBytes root = key_from(counting(0x40, 32));
  CHECK(to_hex(*keys::wrap_aad(root_context())) ==
        "636f6e6665722f726b2d777261702f76310006616363742d310010c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
  auto wrapped = keys::wrap_key(kek, root, root_context(), counting_array<12>(0x00));
  REQUIRE(wrapped.ok());
  CHECK(to_hex(*wrapped) == "01000102030405060708090a0be210548915010387dca186d8f96aaf525ed52fa1d984c5d52252f6c8166a6782"
                            "48f289206caa5709db57fa9b3bd745a7");
  auto opened = keys::unwrap_key(kek, *wrapped, root_context());
  REQUIRE(opened.ok());
  CHECK(opened->equals(root.view()));

  SecretBytes records = keys::derive_subkey(root, keys::Subkey::records).value();
  SecretBytes data = key_from(counting(0x80, 32));
  keys::WrapContext conv{keys::kDataKeyWrap, as_bytes(kAccount), as_bytes("conv-1")};
  CHECK(to_hex(*keys::wrap_key(records, data, conv, counting_array<12>(0x10))) ==
        "01101112131415161718191a1b0803eb25acfaee4b2df3e40108d2cd004a1ca2103db5c35a80b7426ad060f8f11c72e6cbd8e2556478c2d2"
        "c18fc0d670");

  // Negative twins: another credential, account or purpose; a wrong key; any flipped
  // byte; a wrong size or version.
  Bytes other_cred = counting(0xd0, 16);
  CHECK(keys::unwrap_key(kek, *wrapped, root_context(other_cred)).error().code == Errc::key);
  CHECK(keys::unwrap_key(kek, *wrapped, {keys::kRootWrap, as_bytes("acct-2"), kCredential}).error().code == Errc::key);
  CHECK(keys::unwrap_key(kek, *wrapped, {keys::kDataKeyWrap, as_bytes(kAccount), kCredential}).error().code ==
        Errc::key);
  auto wrong = keys::unwrap_key(records, *wrapped, root_context());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("does not open with this key") != std::string::npos);
  for (size_t i = 1; i < wrapped->size(); ++i) {
    Bytes flipped = *wrapped;
    flipped[i] ^= 0x01;
    CHECK_MESSAGE(keys::unwrap_key(kek, flipped, root_context()).error().code == Errc::key, "byte ", i);
  }
  Bytes v2 = *wrapped;
  v2[0] = 2;
  CHECK(keys::unwrap_key(kek, v2, root_context()).error().message == "wrapped key: expected version 1, saw 2");
  Bytes cut(wrapped->begin(), wrapped->end() - 1);
  CHECK(keys::unwrap_key(kek, cut, root_context()).error().message == "wrapped key: expected 61 bytes, saw 60");
  // Random nonces: two wraps of one key differ, and both open.
  auto a = keys::wrap_key(kek, root, root_context());
  auto b = keys::wrap_key(kek, root, root_context());
  CHECK(*a != *b);
  CHECK(keys::unwrap_key(kek, *b, root_context()).ok());
}

TEST_CASE("records: the vector, and a moved, replayed, altered or wrongly keyed record fails clearly") {
  SecretBytes data = key_from(counting(0x80, 32));
  store::KeyId kid = counting_array<16>(0xa0);
  CHECK(to_hex(*store::record_aad(turn_context(), kid)) ==
        "636f6e6665722f7265636f72642f76310006616363742d3100067475726e2d31020000000000000003a0a1a2a3a4a5a6a7a8a9aaabac"
        "adaeaf");
  auto sealed = store::seal_record(data, kid, turn_context(), as_bytes("hello, confer"), counting_array<12>(0x20));
  REQUIRE(sealed.ok());
  CHECK(to_hex(*sealed) == "01a0a1a2a3a4a5a6a7a8a9aaabacadaeaf202122232425262728292a2bf3dbb7e83914908b7e0f6cd82c7058"
                           "75fac0d0d1b7f367632f6d1f7650");
  auto plain = store::open_record(data, kid, turn_context(), *sealed);
  REQUIRE(plain.ok());
  CHECK(std::string(plain->view().begin(), plain->view().end()) == "hello, confer");

  auto fails = [&](const store::RecordContext& c, ByteView record, const SecretBytes& key, const store::KeyId& id) {
    auto r = store::open_record(key, id, c, record);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == (record.size() < store::kRecordOverhead || record[0] != 1 ? Errc::parse : Errc::key));
    return r.error().message;
  };
  store::RecordContext other = turn_context();
  other.account_id = "acct-2";  // another account
  CHECK(fails(other, *sealed, data, kid).find("does not decrypt under this key") != std::string::npos);
  other = turn_context();
  other.record_id = "turn-2";  // moved within the conversation
  CHECK(fails(other, *sealed, data, kid).find("record turn-2 (turn revision 3)") != std::string::npos);
  other = turn_context();
  other.revision = 2;  // an older revision
  CHECK(fails(other, *sealed, data, kid).find("revision 2") != std::string::npos);
  other = turn_context();
  other.kind = store::RecordKind::conversation;
  fails(other, *sealed, data, kid);
  // Another conversation's data key (and id): refused by key id before decrypting.
  store::KeyId other_kid = counting_array<16>(0xb0);
  CHECK(fails(turn_context(), *sealed, key_from(counting(0x81, 32)), other_kid).find("sealed under key a0a1") !=
        std::string::npos);
  // The right key id with a wrong key.
  fails(turn_context(), *sealed, key_from(counting(0x81, 32)), kid);
  for (size_t i = 0; i < sealed->size(); ++i) {
    Bytes flipped = *sealed;
    flipped[i] ^= 0x80;
    CHECK_FALSE_MESSAGE(store::open_record(data, kid, turn_context(), flipped).ok(), "byte ", i);
  }
  CHECK(store::parse_record(Bytes(44, 1)).error().message == "record: expected at least 45 bytes, saw 44");
  CHECK(store::parse_record(Bytes((16u << 20) + 1, 1)).error().message.find("at most 16777216 bytes") !=
        std::string::npos);
  // An empty plaintext seals and opens; random nonces differ.
  auto empty = store::seal_record(data, kid, turn_context(), {});
  REQUIRE(empty.ok());
  CHECK(empty->size() == store::kRecordOverhead);
  CHECK(store::open_record(data, kid, turn_context(), *empty)->empty());
  CHECK(*store::seal_record(data, kid, turn_context(), as_bytes("x")) !=
        *store::seal_record(data, kid, turn_context(), as_bytes("x")));
}

TEST_CASE("file authenticator: sealed under a passphrase, 0600, never overwritten, refused when wrong") {
  test::TempDir dir;
  std::string path = dir.path() + "/authenticator.json";
  keys::Argon2Params fast{1, 1u << 20};  // the tests' cost; the default is libsodium's MODERATE
  auto made = keys::FileAuthenticator::create(path, as_bytes("correct horse"), fast);
  REQUIRE(made.ok());
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  Bytes salt = keys::prf_salt(as_bytes("confer"));
  std::string first = to_hex(made->prf(salt)->view());

  auto again = keys::FileAuthenticator::open(path, as_bytes("correct horse"));
  REQUIRE(again.ok());
  CHECK(to_hex(again->prf(salt)->view()) == first);
  CHECK(again->credential_id() == made->credential_id());
  CHECK(to_hex(again->prf(keys::prf_salt(as_bytes("other")))->view()) != first);

  auto wrong = keys::FileAuthenticator::open(path, as_bytes("correct horsf"));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::key);
  CHECK(wrong.error().message.find("wrong passphrase") != std::string::npos);
  CHECK(wrong.error().message.find("correct") == std::string::npos);  // the passphrase is never echoed

  auto twice = keys::FileAuthenticator::create(path, as_bytes("x"), fast);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().message.find("never overwritten") != std::string::npos);
  CHECK(keys::FileAuthenticator::open(path, as_bytes("correct horse")).ok());  // untouched

  // Another file: another secret. An altered file or limits out of range are refused.
  auto other = keys::FileAuthenticator::create(dir.path() + "/b.json", as_bytes("correct horse"), fast);
  REQUIRE(other.ok());
  CHECK(to_hex(other->prf(salt)->view()) != first);
  auto doc = nlohmann::json::parse(*read_file(path));
  auto edit = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json d = doc;
    change(d);
    std::string p = dir.file("edited.json", d.dump());
    auto r = keys::FileAuthenticator::open(p, as_bytes("correct horse"));
    std::filesystem::remove(p);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(edit([](nlohmann::json& d) { d["credential_id"] = std::string(32, '0'); }).code == Errc::key);
  CHECK(edit([](nlohmann::json& d) { d["memlimit"] = 1ull << 40; }).message.find("out of range") != std::string::npos);
  CHECK(edit([](nlohmann::json& d) { d["kdf"] = "scrypt"; }).code == Errc::parse);
  CHECK(edit([](nlohmann::json& d) { d["salt"] = "AAAA"; }).message.find("\"salt\" of 16 bytes") != std::string::npos);
  CHECK(made->prf(Bytes(31, 0)).error().message == "PRF salt: expected 32 bytes, saw 31");
}

TEST_CASE("file authenticator: check_file names what is wrong before any Argon2id work") {
  CHECK(keys::FileAuthenticator::check_file(as_bytes("[]")).error().message.find("expected format") !=
        std::string::npos);
  CHECK(keys::FileAuthenticator::check_file(as_bytes(std::string(70000, ' '))).error().code == Errc::parse);
  CHECK(keys::FileAuthenticator::check_file(as_bytes(R"({"format":"confer-file-authenticator","version":1,)"
                                                     R"("kdf":"argon2id13","opslimit":99,"memlimit":1048576})"))
            .error()
            .message.find("out of range") != std::string::npos);
}

TEST_CASE("recovery code: 14 groups, read back forgivingly, a typo fails the checksum") {
  auto secret = keys::new_recovery_secret();
  REQUIRE(secret.ok());
  std::string code = keys::format_recovery_code(*secret);
  MESSAGE("shape: ", code.size(), " characters");
  REQUIRE(code.size() == 14 * 4 + 13);
  for (size_t i = 4; i < code.size(); i += 5) CHECK(code[i] == '-');
  auto back = keys::parse_recovery_code(code);
  REQUIRE(back.ok());
  CHECK(back->equals(secret->view()));

  // Lower case, spaces instead of dashes, O for 0 and I/L for 1 read the same.
  std::string loose;
  for (char c : code) loose.push_back(c == '-' ? ' ' : c == '0' ? 'o' : c == '1' ? 'l' : static_cast<char>(std::tolower(c)));
  auto forgiving = keys::parse_recovery_code(loose);
  REQUIRE(forgiving.ok());
  CHECK(forgiving->equals(secret->view()));

  // Every single-character substitution fails: the checksum, never a wrong key.
  size_t caught = 0;
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '-') continue;
    std::string typo = code;
    typo[i] = typo[i] == 'A' ? 'B' : 'A';
    auto r = keys::parse_recovery_code(typo);
    if (!r.ok() && r.error().message.find("checksum") != std::string::npos) ++caught;
  }
  CHECK(caught == 56);
  CHECK(keys::parse_recovery_code(code.substr(0, code.size() - 1)).error().message.find("saw 55") !=
        std::string::npos);
  auto bad = keys::parse_recovery_code("U" + code.substr(1));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "recovery code: character 1 is not one of 0-9 A-Z (without U)");

  // The recovery kek wraps the root key; another code (or salt) does not open it.
  keys::Argon2Params fast{1, 1u << 20};
  Bytes salt(16, 7);
  auto kek = keys::recovery_kek(*secret, salt, fast);
  REQUIRE(kek.ok());
  SecretBytes root = key_from(counting(0x40, 32));
  keys::WrapContext ctx{keys::kRecoveryWrap, as_bytes(kAccount), {}};
  auto wrapped = keys::wrap_key(*kek, root, ctx);
  REQUIRE(wrapped.ok());
  CHECK(keys::unwrap_key(*keys::recovery_kek(*back, salt, fast), *wrapped, ctx)->equals(root.view()));
  auto other = keys::new_recovery_secret();
  CHECK(keys::unwrap_key(*keys::recovery_kek(*other, salt, fast), *wrapped, ctx).error().code == Errc::key);
  CHECK(keys::unwrap_key(*keys::recovery_kek(*secret, Bytes(16, 8), fast), *wrapped, ctx).error().code == Errc::key);
}
