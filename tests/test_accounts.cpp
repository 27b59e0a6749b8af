// Accounts: the WebAuthn rules confer-server applies to an assertion, its session tokens,
// and the account routes (register, login, session, credentials, records), each rule
// with the twin that breaks it. One positive case runs a real libfido2 assertion from
// the fake authenticator through the server's checks.
#include <doctest/doctest.h>
#include <sodium.h>

#include <mutex>

#include "account/auth_key.hpp"
#include "account/token.hpp"
#include "account/webauthn.hpp"
#include "core/json.hpp"
#include "crypto/hash.hpp"
#include "dev/fake_authenticator.hpp"
#include "dev/fake_ctap.hpp"
#include "keys/fido.hpp"
#include "keys/hierarchy.hpp"
#include "server/accounts.hpp"
#include "support/support.hpp"

using namespace confer;
using nlohmann::json;
namespace wa = confer::account;

namespace {

constexpr const char* kOrigin = "https://confer.to";
constexpr const char* kRp = "confer.to";

// A software credential: signs authenticator data as a security key would.
struct SoftKey {
  crypto::PkeyPtr key = dev::ctap::p256_generate().value();
  Bytes id = Bytes(16, 0xc1);
  uint32_t counter = 0;
  uint8_t flags = wa::kFlagUp | wa::kFlagUv;
  std::string rp = kRp;

  Bytes public_key() const {
    auto p = dev::ctap::p256_xy(key.get()).value();
    Bytes out = p.x;
    out.insert(out.end(), p.y.begin(), p.y.end());
    return out;
  }
  wa::Assertion sign(ByteView challenge, const std::string& type = "webauthn.get", const std::string& origin = kOrigin) {
    wa::Assertion a;
    a.credential_id = id;
    a.client_data_json = wa::client_data_json(type, challenge, origin);
    a.authenticator_data = crypto::sha256(as_bytes(rp));
    a.authenticator_data.push_back(flags);
    ++counter;
    for (int i = 3; i >= 0; --i) a.authenticator_data.push_back(uint8_t(counter >> (8 * i)));
    Bytes message = a.authenticator_data;
    Bytes h = crypto::sha256(as_bytes(a.client_data_json));
    message.insert(message.end(), h.begin(), h.end());
    a.signature = dev::ctap::ecdsa_sign(key.get(), message).value();
    return a;
  }
};

std::string refusal(const Result<wa::AssertionFacts>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::key);
  return r.error().message;
}

}  // namespace

TEST_CASE("webauthn: clientDataJSON is serialised as a browser does, and a good assertion verifies") {
  Bytes challenge(32, 0xab);
  CHECK(wa::client_data_json("webauthn.get", challenge, kOrigin) ==
        "{\"type\":\"webauthn.get\",\"challenge\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s\","
        "\"origin\":\"https://confer.to\",\"crossOrigin\":false}");
  CHECK(wa::client_data_json("t", {}, "a\"b\\c\n") == "{\"type\":\"t\",\"challenge\":\"\",\"origin\":\"a\\\"b\\\\c\\u000a\",\"crossOrigin\":false}");
  CHECK(wa::from_base64url("q6s").value() == Bytes{0xab, 0xab});
  CHECK_FALSE(wa::from_base64url("q6s="));
  CHECK_FALSE(wa::from_base64url("q6+s"));

  SoftKey k;
  auto facts = wa::verify_assertion(k.sign(challenge), {challenge, kOrigin, kRp}, wa::kCoseEs256, k.public_key());
  REQUIRE_MESSAGE(facts.ok(), facts.error().message);
  CHECK(facts->sign_count == 1);
  CHECK(facts->flags == (wa::kFlagUp | wa::kFlagUv));
}

TEST_CASE("webauthn: each rule refuses the assertion that breaks it, and says which") {
  Bytes challenge(32, 0x01);
  wa::Expected expected{challenge, kOrigin, kRp};
  SoftKey k;
  auto pk = k.public_key();
  auto check = [&](const wa::Assertion& a, const std::string& needle, ByteView key = {}) {
    auto r = wa::verify_assertion(a, expected, wa::kCoseEs256, key.empty() ? ByteView(pk) : key);
    auto m = refusal(r);
    CHECK_MESSAGE(m.find(needle) != std::string::npos, m);
  };
  check(k.sign(challenge, "webauthn.create"), "type is 'webauthn.create', expected 'webauthn.get'");
  check(k.sign(Bytes(32, 0x02)), "challenge is not the one this server issued");
  check(k.sign(challenge, "webauthn.get", "https://evil.example"), "origin is 'https://evil.example', expected 'https://confer.to'");
  {
    auto a = k.sign(challenge);
    a.client_data_json.replace(a.client_data_json.find("false"), 5, "true");
    check(a, "crossOrigin is not false");
  }
  {
    SoftKey other_rp;
    other_rp.rp = "evil.example";
    check(other_rp.sign(challenge), "another relying party", other_rp.public_key());
  }
  {
    SoftKey no_up;
    no_up.flags = wa::kFlagUv;
    check(no_up.sign(challenge), "user-present flag is not set", no_up.public_key());
    SoftKey no_uv;
    no_uv.flags = wa::kFlagUp;
    check(no_uv.sign(challenge), "user-verified flag is not set", no_uv.public_key());
    SoftKey bs;
    bs.flags = wa::kFlagUp | wa::kFlagUv | wa::kFlagBs;
    check(bs.sign(challenge), "backup state set without backup eligibility", bs.public_key());
  }
  {
    auto a = k.sign(challenge);
    a.signature[a.signature.size() - 3] ^= 1;
    check(a, "signature does not verify");
    auto b = k.sign(challenge);
    b.authenticator_data[36] ^= 1;  // the counter, after signing
    check(b, "signature does not verify");
    SoftKey stranger;
    check(k.sign(challenge), "signature does not verify", stranger.public_key());
  }
  {
    auto a = k.sign(challenge);
    a.authenticator_data.resize(36);
    check(a, "authenticator data is 36 bytes");
    auto b = k.sign(challenge);
    b.client_data_json = "[1,2]";
    check(b, "clientDataJSON");
  }
  // Keys: a point off the curve, the wrong size, an algorithm not offered.
  Bytes off = pk;
  off[63] ^= 1;
  CHECK_FALSE(wa::credential_public_key(wa::kCoseEs256, off));
  CHECK_FALSE(wa::credential_public_key(wa::kCoseEs256, Bytes(65, 4)));
  CHECK(wa::credential_public_key(-257, pk).error().message.find("COSE algorithm -257 is not accepted") != std::string::npos);

  // EdDSA credentials: a raw 64-byte signature over the same bytes.
  Bytes ed_pk(32), ed_sk(64);
  crypto_sign_keypair(ed_pk.data(), ed_sk.data());
  auto a = k.sign(challenge);
  Bytes message = a.authenticator_data;
  Bytes h = crypto::sha256(as_bytes(a.client_data_json));
  message.insert(message.end(), h.begin(), h.end());
  a.signature.assign(64, 0);
  crypto_sign_detached(a.signature.data(), nullptr, message.data(), message.size(), ed_sk.data());
  CHECK(wa::verify_assertion(a, expected, wa::kCoseEdDsa, ed_pk).ok());
  a.signature[0] ^= 1;
  CHECK_FALSE(wa::verify_assertion(a, expected, wa::kCoseEdDsa, ed_pk).ok());

  CHECK(wa::counter_acceptable(0, 0));
  CHECK(wa::counter_acceptable(4, 5));
  CHECK_FALSE(wa::counter_acceptable(5, 5));
  CHECK_FALSE(wa::counter_acceptable(5, 0));
}

TEST_CASE("tokens: HS256 JWTs with iss, sub and exp, and every wrong one refused by name") {
  Bytes key(32, 0x42);
  auto token = wa::issue_token(key, {"acct-1", 1000, 1900}).value();
  auto claims = wa::verify_token(key, token, 1899);
  REQUIRE_MESSAGE(claims.ok(), claims.error().message);
  CHECK(claims->subject == "acct-1");
  CHECK(claims->expires == 1900);
  auto err = [&](const Result<wa::TokenClaims>& r) {
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(err(wa::verify_token(key, token, 1900)) == "invalid token: it expired 0 s ago");
  CHECK(err(wa::verify_token(Bytes(32, 0x43), token, 1000)) == "invalid token: the signature does not verify");
  auto parts = [&](const std::string& t) {
    auto d1 = t.find('.'), d2 = t.find('.', d1 + 1);
    return std::array<std::string, 3>{t.substr(0, d1), t.substr(d1 + 1, d2 - d1 - 1), t.substr(d2 + 1)};
  };
  auto p = parts(token);
  auto b64 = [](const std::string& s) { return wa::base64url(as_bytes(s)); };
  // alg none, and claims changed under the old signature
  CHECK(err(wa::verify_token(key, b64("{\"alg\":\"none\"}") + "." + p[1] + ".", 1000)) ==
        "invalid token: the algorithm is not HS256");
  CHECK(err(wa::verify_token(key, p[0] + "." + b64("{\"iss\":\"kerf\",\"sub\":\"acct-2\",\"exp\":1900}") + "." + p[2],
                               1000)) == "invalid token: the signature does not verify");
  auto resign = [&](const std::string& claims_json) {
    std::string input = p[0] + "." + b64(claims_json);
    Bytes mac(32);
    REQUIRE(crypto::hmac_sha256(key, {as_bytes(input)}, mac.data()));
    return input + "." + wa::base64url(mac);
  };
  CHECK(err(wa::verify_token(key, resign("{\"iss\":\"other\",\"sub\":\"a\",\"exp\":1900}"), 1000)) ==
        "invalid token: the issuer is not \"kerf\"");
  CHECK(err(wa::verify_token(key, resign("{\"iss\":\"kerf\",\"sub\":\"a\"}"), 1000)) == "invalid token: no expiry (exp)");
  CHECK(err(wa::verify_token(key, resign("{\"iss\":\"kerf\",\"exp\":1900}"), 1000)) == "invalid token: no subject");
  CHECK(wa::verify_token(key, resign("{\"iss\":\"kerf\",\"sub\":\"a\",\"exp\":1900}"), 1000).ok());
  CHECK(err(wa::verify_token(key, "a.b", 1000)) == "invalid token: expected three dot-separated parts");
  CHECK(err(wa::verify_token(key, std::string(3000, 'a'), 1000)) == "invalid token: 3000 characters, at most 2048");
}

namespace {

// The account routes over a SQLite store, driven as a connection would drive them.
struct Service {
  test::TempDir dir;
  std::shared_ptr<server::store::Store> store = server::store::open_store("sqlite:" + dir.path() + "/s.db").value();
  Bytes server_key = Bytes(32, 0x5e);
  server::AccountConfig config = [] {
    server::AccountConfig c;
    c.token_key = Bytes(32, 0x77);
    return c;
  }();
  std::unique_ptr<server::AccountService> service =
      std::make_unique<server::AccountService>(store, config, server_key);
  int64_t now = 1'800'000'000;

  server::Reply call(server::ConnectionAuth& conn, const std::string& verb, const std::string& path, const json& body = json()) {
    std::string text = body.is_null() ? "" : dump_json(body);
    std::string log;
    auto r = service->handle(conn, verb, path, as_bytes(text), now, &log);
    CHECK_MESSAGE(log.empty(), log);
    return r;
  }
  Bytes challenge(server::ConnectionAuth& conn) {
    auto r = call(conn, "POST", "/v1/account/challenge");
    REQUIRE(r.status == 200);
    return wa::from_base64url(json::parse(r.body)["challenge"].get<std::string>()).value();
  }
  static json assertion_json(const wa::Assertion& a) {
    return {{"client_data_json", wa::base64url(as_bytes(a.client_data_json))},
            {"authenticator_data", wa::base64url(a.authenticator_data)},
            {"signature", wa::base64url(a.signature)}};
  }
  json registration(SoftKey& k, ByteView challenge, const std::string& account, ByteView auth_key) {
    return {{"account", account},
            {"auth_key", wa::base64url(auth_key)},
            {"credential", {{"id", wa::base64url(k.id)}, {"algorithm", -7}, {"public_key", wa::base64url(k.public_key())},
                            {"wrap", wa::base64url(Bytes(61, 9))}}},
            {"assertion", assertion_json(k.sign(challenge))}};
  }
};

wa::AuthKeyPair auth_pair() {
  auto root = crypto::SecretBytes::allocate(32).value();
  std::memset(root.data(), 0x40, 32);
  return wa::auth_key_pair(root).value();
}

}  // namespace

TEST_CASE("accounts: register, sign in with the passkey or the auth key, and replays, wrong origins and strangers refused") {
  Service s;
  SoftKey k;
  auto auth = auth_pair();
  server::ConnectionAuth c1;
  CHECK(s.call(c1, "GET", "/v1/store/changes").status == 401);  // not signed in

  // Register: an assertion by the credential over this connection's challenge.
  auto reg_body = s.registration(k, s.challenge(c1), "acct-1", auth.public_key);
  auto reg = s.call(c1, "POST", "/v1/account/register", reg_body);
  REQUIRE_MESSAGE(reg.status == 201, reg.body);
  auto token = json::parse(reg.body)["token"].get<std::string>();
  CHECK(wa::verify_token(s.config.token_key, token, s.now).value().subject == "acct-1");
  CHECK(s.call(c1, "GET", "/v1/store/changes").status == 200);
  // The same body again: its challenge was used.
  auto again = s.call(c1, "POST", "/v1/account/register", reg_body);
  CHECK(again.status == 401);
  CHECK(again.body.find("no challenge is open") != std::string::npos);
  // The account id is taken.
  SoftKey k2;
  k2.id = Bytes(16, 0xc2);
  auto taken = s.call(c1, "POST", "/v1/account/register", s.registration(k2, s.challenge(c1), "acct-1", auth.public_key));
  CHECK(taken.status == 409);

  // Passkey login on a new connection, returning the credential's wrap.
  server::ConnectionAuth c2;
  auto ch = s.challenge(c2);
  auto a = k.sign(ch);
  json login = {{"credential_id", wa::base64url(k.id)}, {"assertion", Service::assertion_json(a)}};
  auto in = s.call(c2, "POST", "/v1/account/login", login);
  REQUIRE_MESSAGE(in.status == 200, in.body);
  CHECK(json::parse(in.body)["account"] == "acct-1");
  CHECK(json::parse(in.body)["credential"]["wrap"] == wa::base64url(Bytes(61, 9)));
  CHECK(s.store->credential(k.id).value()->sign_count == 2);

  // Replayed on another connection with its own fresh challenge: the challenge differs.
  server::ConnectionAuth c3;
  (void)s.challenge(c3);
  auto replay = s.call(c3, "POST", "/v1/account/login", login);
  CHECK(replay.status == 401);
  CHECK(replay.body.find("challenge is not the one this server issued") != std::string::npos);
  CHECK(s.call(c3, "GET", "/v1/store/changes").status == 401);
  // A counter that goes back (a cloned key, or a replay with a fresh challenge re-signed by a clone).
  SoftKey clone;
  clone.id = k.id;
  clone.key = dev::ctap::p256_from_der(dev::ctap::p256_der(k.key.get()).value()).value();
  clone.counter = 0;
  auto ch3 = s.challenge(c3);
  auto back = s.call(c3, "POST", "/v1/account/login",
                     {{"credential_id", wa::base64url(k.id)}, {"assertion", Service::assertion_json(clone.sign(ch3))}});
  CHECK(back.status == 401);
  CHECK(back.body.find("signature counter went from 2 to 1") != std::string::npos);
  // Wrong origin, and an unknown credential.
  auto ch4 = s.challenge(c3);
  auto wrong_origin = s.call(c3, "POST", "/v1/account/login",
                             {{"credential_id", wa::base64url(k.id)},
                              {"assertion", Service::assertion_json(k.sign(ch4, "webauthn.get", "https://confer.to.evil"))}});
  CHECK(wrong_origin.status == 401);
  CHECK(wrong_origin.body.find("origin is 'https://confer.to.evil'") != std::string::npos);
  SoftKey stranger;
  stranger.id = Bytes(16, 0xee);
  auto ch5 = s.challenge(c3);
  auto unknown = s.call(c3, "POST", "/v1/account/login",
                        {{"credential_id", wa::base64url(stranger.id)}, {"assertion", Service::assertion_json(stranger.sign(ch5))}});
  CHECK(unknown.status == 401);
  CHECK(unknown.body.find("not registered with this server") != std::string::npos);

  // The auth key: a signature over (account, challenge, this server's key).
  server::ConnectionAuth c4;
  auto ch6 = s.challenge(c4);
  auto sig = wa::sign(auth, wa::login_message("acct-1", ch6, s.server_key)).value();
  auto by_key = s.call(c4, "POST", "/v1/account/login", {{"account", "acct-1"}, {"signature", wa::base64url(sig)}});
  REQUIRE_MESSAGE(by_key.status == 200, by_key.body);
  // The same signature made for another server's key is refused.
  server::ConnectionAuth c5;
  auto ch7 = s.challenge(c5);
  auto other_server = wa::sign(auth, wa::login_message("acct-1", ch7, Bytes(32, 0x11))).value();
  auto relayed = s.call(c5, "POST", "/v1/account/login", {{"account", "acct-1"}, {"signature", wa::base64url(other_server)}});
  CHECK(relayed.status == 401);
  CHECK(relayed.body.find("not the account's auth key") != std::string::npos);

  // A token from the login opens another connection (POST /v1/account/session).
  server::ConnectionAuth c6;
  CHECK(s.call(c6, "POST", "/v1/account/session", {{"token", token}}).status == 200);
  CHECK(s.call(c6, "GET", "/v1/store/checkpoints").status == 200);
  s.now += 15 * 60;
  CHECK(s.call(c6, "GET", "/v1/store/checkpoints").status == 401);  // expired with the token
  server::ConnectionAuth c7;
  auto expired = s.call(c7, "POST", "/v1/account/session", {{"token", token}});
  CHECK(expired.status == 401);
  CHECK(expired.body.find("expired") != std::string::npos);
}

TEST_CASE("accounts: failed logins are rate limited per account and per connection") {
  Service s;
  SoftKey k;
  auto auth = auth_pair();
  server::ConnectionAuth c;
  REQUIRE(s.call(c, "POST", "/v1/account/register", s.registration(k, s.challenge(c), "acct-1", auth.public_key)).status == 201);
  int refused = 0, limited = 0;
  for (int i = 0; i < 12; ++i) {
    server::ConnectionAuth attacker;  // a new connection each time: the per-account limit still holds
    auto ch = s.challenge(attacker);
    auto r = s.call(attacker, "POST", "/v1/account/login", {{"account", "acct-1"}, {"signature", wa::base64url(Bytes(64, 1))}});
    (void)ch;
    if (r.status == 401) ++refused;
    if (r.status == 429) ++limited;
  }
  CHECK(refused == 10);
  CHECK(limited == 2);
  // Even the right signature waits out the window.
  server::ConnectionAuth good;
  auto ch = s.challenge(good);
  auto sig = wa::sign(auth, wa::login_message("acct-1", ch, s.server_key)).value();
  CHECK(s.call(good, "POST", "/v1/account/login", {{"account", "acct-1"}, {"signature", wa::base64url(sig)}}).status == 429);
  s.now += 61;
  auto ch2 = s.challenge(good);
  auto sig2 = wa::sign(auth, wa::login_message("acct-1", ch2, s.server_key)).value();
  CHECK(s.call(good, "POST", "/v1/account/login", {{"account", "acct-1"}, {"signature", wa::base64url(sig2)}}).status == 200);
  // One connection gets five tries in all, whichever accounts they name.
  server::ConnectionAuth prober;
  for (int i = 0; i < 5; ++i) {
    (void)s.challenge(prober);
    CHECK(s.call(prober, "POST", "/v1/account/login",
                 {{"account", "acct-x" + std::to_string(i)}, {"signature", wa::base64url(Bytes(64, 1))}}).status == 401);
  }
  (void)s.challenge(prober);
  CHECK(s.call(prober, "POST", "/v1/account/login", {{"account", "acct-y"}, {"signature", wa::base64url(Bytes(64, 1))}}).status == 429);
}

TEST_CASE("accounts: the record routes, with malformed, oversized and conflicting writes refused and the store unchanged") {
  Service s;
  SoftKey k;
  server::ConnectionAuth c;
  REQUIRE(s.call(c, "POST", "/v1/account/register", s.registration(k, s.challenge(c), "acct-1", auth_pair().public_key)).status == 201);
  auto put = [&](const std::string& id, int64_t expected, const Bytes& ct) {
    return s.call(c, "PUT", "/v1/store/records/" + id,
                  {{"kind", 2}, {"expected_revision", expected}, {"ciphertext", wa::base64url(ct)}});
  };
  auto first = put("conv-1/turn/1", 0, Bytes(100, 1));
  REQUIRE_MESSAGE(first.status == 200, first.body);
  CHECK(json::parse(first.body)["revision"] == 1);
  auto stale = put("conv-1/turn/1", 0, Bytes(100, 2));
  CHECK(stale.status == 409);
  CHECK(json::parse(stale.body)["revision"] == 1);
  CHECK(put("conv-1/turn/1", 1, Bytes(100, 3)).status == 200);

  auto big = put("big", 0, Bytes(size_t(s.config.max_record_bytes) + 1, 1));
  CHECK(big.status == 413);
  CHECK(big.body.find("bytes of ciphertext, at most 524288") != std::string::npos);
  CHECK(s.call(c, "GET", "/v1/store/records/big").status == 404);  // nothing kept
  CHECK(s.store->changes("acct-1", 0, 100, 1 << 20).value().head == 2);
  CHECK(s.call(c, "PUT", "/v1/store/records/bad id", {{"kind", 2}, {"expected_revision", 0}, {"ciphertext", "AA"}}).status == 400);
  auto no_kind = s.call(c, "PUT", "/v1/store/records/x", {{"expected_revision", 0}, {"ciphertext", "AA"}});
  CHECK(no_kind.status == 400);
  CHECK(no_kind.body == "record: expected \"kind\", saw none");
  auto not_b64 = s.call(c, "PUT", "/v1/store/records/x", {{"kind", 2}, {"expected_revision", 0}, {"ciphertext", "!!"}});
  CHECK(not_b64.status == 400);
  std::string log;
  auto garbage = s.service->handle(c, "PUT", "/v1/store/records/x", as_bytes(std::string("{\"kind\":")), s.now, &log);
  CHECK(garbage.status == 400);
  std::string deep(100000, '[');
  CHECK(s.service->handle(c, "PUT", "/v1/store/records/x", as_bytes(deep), s.now, &log).status == 400);
  CHECK(s.call(c, "GET", "/v1/store/changes?since=abc").status == 400);
  CHECK(s.call(c, "GET", "/v1/store/changes?sinse=1").status == 400);

  auto page = json::parse(s.call(c, "GET", "/v1/store/changes?since=0").body);
  CHECK(page["head"] == 2);
  REQUIRE(page["changes"].size() == 2);
  CHECK_FALSE(page["changes"][0].contains("ciphertext"));  // superseded
  CHECK(page["changes"][1]["ciphertext"] == wa::base64url(Bytes(100, 3)));
  auto del = s.call(c, "PUT", "/v1/store/records/conv-1/turn/1", {{"kind", 2}, {"expected_revision", 2}, {"deleted", true}});
  CHECK(del.status == 200);
  auto got = json::parse(s.call(c, "GET", "/v1/store/records/conv-1/turn/1").body);
  CHECK(got["deleted"] == true);
  CHECK(s.call(c, "GET", "/v1/store/records/none").status == 404);
  CHECK(s.call(c, "PUT", "/v1/store/checkpoints/laptop", {{"seq", 3}, {"digest", wa::base64url(Bytes(32, 1))}}).status == 200);
  CHECK(s.call(c, "PUT", "/v1/store/checkpoints/laptop", {{"seq", 3}, {"digest", wa::base64url(Bytes(31, 1))}}).status == 400);
  CHECK(json::parse(s.call(c, "GET", "/v1/store/checkpoints").body)["checkpoints"].size() == 1);
  CHECK(s.call(c, "GET", "/v1/store/nothing").status == 404);
}

TEST_CASE("accounts: a batch of writes in one request, with a bad entry refusing all of it and the store unchanged") {
  Service s;
  SoftKey k;
  server::ConnectionAuth c;
  REQUIRE(s.call(c, "POST", "/v1/account/register", s.registration(k, s.challenge(c), "acct-1", auth_pair().public_key)).status == 201);
  auto rec = [](const std::string& id, int64_t expected, const Bytes& ct) {
    return json{{"id", id}, {"kind", 2}, {"expected_revision", expected}, {"ciphertext", wa::base64url(ct)}};
  };
  auto batch = s.call(c, "POST", "/v1/store/records",
                      {{"records", {rec("a", 0, Bytes(10, 1)), rec("b", 0, Bytes(10, 2)), rec("a", 0, Bytes(10, 3))}}});
  REQUIRE_MESSAGE(batch.status == 200, batch.body);
  auto results = json::parse(batch.body)["results"];
  REQUIRE(results.size() == 3);
  CHECK(results[0] == json{{"stored", true}, {"revision", 1}, {"seq", 1}});
  CHECK(results[1] == json{{"stored", true}, {"revision", 1}, {"seq", 2}});
  CHECK(results[2] == json{{"stored", false}, {"revision", 1}});
  auto head = [&] { return s.store->changes("acct-1", 0, 100, 1 << 20).value().head; };
  CHECK(head() == 2);

  // One bad entry (bad id, empty ciphertext, oversized, no id) and none of the batch is kept.
  for (const json& bad : {rec("bad id", 0, Bytes(4, 1)), rec("e", 0, Bytes()), rec("f", 0, Bytes(size_t(s.config.max_record_bytes) + 1, 1)),
                          json{{"kind", 2}, {"expected_revision", 0}, {"ciphertext", "AA"}}}) {
    auto r = s.call(c, "POST", "/v1/store/records", {{"records", {rec("c", 0, Bytes(4, 9)), bad}}});
    CHECK_MESSAGE((r.status == 400 || r.status == 413), r.body);
    CHECK(s.call(c, "GET", "/v1/store/records/c").status == 404);
    CHECK(head() == 2);
  }
  auto none = s.call(c, "POST", "/v1/store/records", {{"records", json::array()}});
  CHECK(none.status == 400);
  CHECK(none.body == "records: expected 1-256 records, saw 0");
  json many = json::array();
  for (int i = 0; i < 257; ++i) many.push_back(rec("m" + std::to_string(i), 0, Bytes(1, 1)));
  CHECK(s.call(c, "POST", "/v1/store/records", {{"records", many}}).body == "records: expected 1-256 records, saw 257");
  json other_kind = rec("a", 1, Bytes(4, 1));
  other_kind["kind"] = 3;
  CHECK(s.call(c, "POST", "/v1/store/records", {{"records", {other_kind}}}).status == 409);
  CHECK(head() == 2);
  server::ConnectionAuth stranger;
  CHECK(s.call(stranger, "POST", "/v1/store/records", {{"records", {rec("z", 0, Bytes(4, 1))}}}).status == 401);
}

TEST_CASE("accounts: a real libfido2 assertion from the fake authenticator signs in, one touch giving the PRF too") {
  static std::once_flag once;
  std::call_once(once, [] {
    keys::fido::register_device_scheme(dev::kFakeDevicePrefix, dev::fake_authenticator_io());
  });
  test::TempDir dir;
  std::string state = dir.path() + "/key.json";
  dev::FakeState fs;
  fs.pin = "1234";
  REQUIRE(dev::save_fake_state(state, fs).ok());
  keys::fido::DeviceOptions options;
  options.path = dev::kFakeDevicePrefix + state;
  options.timeout_ms = 2000;
  keys::fido::Interaction person;
  person.read_pin = [](const std::string&) -> Result<crypto::SecretBytes> {
    auto p = crypto::SecretBytes::allocate(4).value();
    std::memcpy(p.data(), "1234", 4);
    return p;
  };
  Bytes input(32, 0x33);
  auto reg = keys::fido::register_credential(options, person, Bytes{1, 2, 3}, "confer", input);
  REQUIRE_MESSAGE(reg.ok(), reg.error().message);
  REQUIRE(reg->public_key.size() == 64);

  Service s;
  server::ConnectionAuth c;
  auto ch = s.challenge(c);
  std::string cdj = wa::client_data_json("webauthn.get", ch, kOrigin);
  auto out = keys::fido::prf(options, person, reg->credential_id, input, std::nullopt, &cdj);
  REQUIRE_MESSAGE(out.ok(), out.error().message);
  REQUIRE(out->assertion);
  CHECK(out->first.equals(reg->prf.view()));  // the same touch gave the history key's PRF
  wa::Assertion a{reg->credential_id, cdj, out->assertion->authenticator_data, out->assertion->signature};
  json body = {{"account", "acct-fido"},
               {"auth_key", wa::base64url(auth_pair().public_key)},
               {"credential", {{"id", wa::base64url(reg->credential_id)}, {"algorithm", reg->algorithm},
                               {"public_key", wa::base64url(reg->public_key)}, {"wrap", wa::base64url(Bytes(61, 1))}}},
               {"assertion", Service::assertion_json(a)}};
  auto r = s.call(c, "POST", "/v1/account/register", body);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  // Its twin: the same assertion under another clientDataJSON (a different challenge) fails.
  auto ch2 = s.challenge(c);
  a.client_data_json = wa::client_data_json("webauthn.get", ch2, kOrigin);
  body["assertion"] = Service::assertion_json(a);
  body["account"] = "acct-fido-2";
  auto twin = s.call(c, "POST", "/v1/account/register", body);
  CHECK(twin.status == 401);
  CHECK(twin.body.find("signature does not verify") != std::string::npos);
}
