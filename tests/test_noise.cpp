// Noise_XX_25519_AESGCM_SHA256: the cacophony vectors byte for byte, then the ways a
// handshake or a transport message must be refused.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "crypto/secret.hpp"
#include "noise/noise.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::noise;

namespace {

Bytes unhex(const std::string& hex) {
  auto b = from_hex(hex);
  REQUIRE_MESSAGE(b.ok(), hex);
  return std::move(b).value();
}

KeyPair keypair(ByteView priv) {
  auto kp = KeyPair::from_private(priv);
  REQUIRE_MESSAGE(kp.ok(), kp.error().message);
  return std::move(kp).value();
}

KeyPair keypair_filled(uint8_t fill) { return keypair(Bytes(32, fill)); }

KeyPair generated() {
  auto kp = KeyPair::generate();
  REQUIRE_MESSAGE(kp.ok(), kp.error().message);
  return std::move(kp).value();
}

HandshakeState handshake(Role role, KeyPair s, ByteView prologue = {}, std::optional<KeyPair> e = std::nullopt) {
  auto hs = HandshakeState::create(role, std::move(s), prologue, std::move(e));
  REQUIRE_MESSAGE(hs.ok(), hs.error().message);
  return std::move(hs).value();
}

Bytes write(HandshakeState& hs, ByteView payload) {
  auto m = hs.write_message(payload);
  REQUIRE_MESSAGE(m.ok(), m.error().message);
  return std::move(m).value();
}

Bytes read(HandshakeState& hs, ByteView message) {
  auto p = hs.read_message(message);
  REQUIRE_MESSAGE(p.ok(), p.error().message);
  return std::move(p).value();
}

TransportState split(HandshakeState& hs) {
  auto t = hs.split();
  REQUIRE_MESSAGE(t.ok(), t.error().message);
  return std::move(t).value();
}

struct Pair {
  HandshakeState init;
  HandshakeState resp;
  PublicKey init_pub;
  PublicKey resp_pub;
};

// Fixed keys, so a failing case repeats exactly.
Pair fixed_pair() {
  KeyPair is = keypair_filled(0x11), rs = keypair_filled(0x22);
  PublicKey ip = is.pub, rp = rs.pub;
  return Pair{handshake(Role::initiator, std::move(is), as_bytes("prologue"), keypair_filled(0x33)),
              handshake(Role::responder, std::move(rs), as_bytes("prologue"), keypair_filled(0x44)), ip, rp};
}

// The three handshake messages of a fixed pair, each with a small payload.
std::vector<Bytes> fixed_messages() {
  Pair p = fixed_pair();
  std::vector<Bytes> m;
  m.push_back(write(p.init, as_bytes("one")));
  read(p.resp, m[0]);
  m.push_back(write(p.resp, as_bytes("two")));
  read(p.init, m[1]);
  m.push_back(write(p.init, as_bytes("three")));
  read(p.resp, m[2]);
  return m;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("noise: cacophony vectors for Noise_XX_25519_AESGCM_SHA256") {
  if (!test::have_vectors()) return;
  Bytes raw = test::vector_file("noise/cacophony.txt");
  auto doc = nlohmann::json::parse(raw.begin(), raw.end());
  int run = 0;
  for (const auto& v : doc.at("vectors")) {
    if (v.value("protocol_name", std::string()) != kProtocolName) continue;
    ++run;
    CAPTURE(run);
    auto field = [&](const char* key) { return unhex(v.at(key).get<std::string>()); };
    // This protocol has no pre-messages and no PSKs; a vector that had them would not
    // be this protocol.
    CHECK_FALSE(v.contains("init_remote_static"));
    CHECK_FALSE(v.contains("resp_remote_static"));
    CHECK_FALSE(v.contains("init_psks"));

    KeyPair init_static = keypair(field("init_static"));
    KeyPair resp_static = keypair(field("resp_static"));
    PublicKey init_pub = init_static.pub, resp_pub = resp_static.pub;
    Bytes init_prologue = field("init_prologue"), resp_prologue = field("resp_prologue");
    HandshakeState init = handshake(Role::initiator, std::move(init_static), init_prologue,
                                    keypair(field("init_ephemeral")));
    HandshakeState resp = handshake(Role::responder, std::move(resp_static), resp_prologue,
                                    keypair(field("resp_ephemeral")));

    const auto& messages = v.at("messages");
    REQUIRE(messages.size() >= 3);
    std::optional<TransportState> init_t, resp_t;
    for (size_t i = 0; i < messages.size(); ++i) {
      CAPTURE(i);
      Bytes payload = unhex(messages[i].at("payload").get<std::string>());
      Bytes expected = unhex(messages[i].at("ciphertext").get<std::string>());
      // Cacophony alternates senders through the whole list, handshake and transport
      // alike: even indexes are the initiator's.
      const bool from_initiator = i % 2 == 0;
      if (i < 3) {
        HandshakeState& sender = from_initiator ? init : resp;
        HandshakeState& receiver = from_initiator ? resp : init;
        Bytes ct = write(sender, payload);
        CHECK(to_hex(ct) == to_hex(expected));
        CHECK(read(receiver, expected) == payload);
        if (i == 2) {
          REQUIRE(init.complete());
          REQUIRE(resp.complete());
          CHECK(to_hex(init.handshake_hash()) == v.at("handshake_hash").get<std::string>());
          CHECK(resp.handshake_hash() == init.handshake_hash());
          CHECK(init.remote_static() == resp_pub);
          CHECK(resp.remote_static() == init_pub);
          init_t.emplace(split(init));
          resp_t.emplace(split(resp));
        }
      } else {
        TransportState& sender = from_initiator ? *init_t : *resp_t;
        TransportState& receiver = from_initiator ? *resp_t : *init_t;
        auto ct = sender.encrypt(payload);
        REQUIRE(ct.ok());
        CHECK(to_hex(*ct) == to_hex(expected));
        auto pt = receiver.decrypt(expected);
        REQUIRE_MESSAGE(pt.ok(), pt.error().message);
        CHECK(*pt == payload);
      }
    }
  }
  MESSAGE("cacophony vectors run: " << run);
  CHECK(run > 0);
}

TEST_CASE("noise: hkdf is rfc 5869 hkdf with the chaining key as salt") {
  // RFC 5869 test case 3: empty salt (HMAC treats it as 32 zero bytes) and empty info.
  auto okm = noise::detail::hkdf(Bytes(32, 0), Bytes(22, 0x0b), 2);
  REQUIRE(okm.ok());
  CHECK(to_hex(okm->view().first(42)) ==
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  auto three = noise::detail::hkdf(Bytes(32, 0), Bytes(22, 0x0b), 3);
  REQUIRE(three.ok());
  CHECK(three->size() == 96);
  CHECK(three->view().first(64).size() == 64);
  CHECK(equal_ct(three->view().first(64), okm->view()));
  CHECK_FALSE(noise::detail::hkdf(Bytes(32, 0), {}, 4).ok());
}

TEST_CASE("noise: secret bytes") {
  auto a = SecretBytes::allocate(32);
  REQUIRE(a.ok());
  CHECK(a->size() == 32);
  CHECK(a->equals(Bytes(32, 0)));
  a->data()[0] = 7;
  CHECK_FALSE(a->equals(Bytes(32, 0)));
  CHECK_FALSE(a->equals(Bytes(31, 0)));
  SecretBytes moved = std::move(a).value();
  CHECK(moved.size() == 32);
  CHECK(moved.view()[0] == 7);
  moved.wipe();
  CHECK(moved.equals(Bytes(32, 0)));
  auto empty = SecretBytes::allocate(0);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  CHECK(empty->equals({}));
}

TEST_CASE("noise: round trip with generated keys") {
  KeyPair is = generated(), rs = generated();
  PublicKey ip = is.pub, rp = rs.pub;
  CHECK(ip != rp);
  HandshakeState init = handshake(Role::initiator, std::move(is), as_bytes("confer"));
  HandshakeState resp = handshake(Role::responder, std::move(rs), as_bytes("confer"));
  CHECK_FALSE(init.has_remote_static());
  CHECK(read(resp, write(init, {})).empty());
  CHECK_FALSE(resp.has_remote_static());
  CHECK(read(init, write(resp, as_bytes("hello initiator"))) == Bytes(as_bytes("hello initiator").begin(), as_bytes("hello initiator").end()));
  CHECK(init.has_remote_static());
  CHECK(init.remote_static() == rp);
  CHECK_FALSE(init.complete());
  read(resp, write(init, as_bytes("last")));
  CHECK(init.complete());
  CHECK(resp.complete());
  CHECK(resp.remote_static() == ip);
  CHECK(init.handshake_hash() == resp.handshake_hash());

  TransportState ti = split(init), tr = split(resp);
  for (int round = 0; round < 5; ++round) {
    Bytes msg(static_cast<size_t>(round) * 100, static_cast<uint8_t>(round));
    auto c = ti.encrypt(msg);
    REQUIRE(c.ok());
    CHECK(c->size() == msg.size() + kTagSize);
    CHECK(*tr.decrypt(*c) == msg);
    auto back = tr.encrypt(msg);
    REQUIRE(back.ok());
    CHECK(*ti.decrypt(*back) == msg);
  }
  // Each side's keys are directional: our own ciphertext does not decrypt for us.
  auto own = ti.encrypt(as_bytes("x"));
  REQUIRE(own.ok());
  CHECK_FALSE(ti.decrypt(*own).ok());
  CHECK(tr.decrypt(*own).ok());
  // A replayed message fails: the receive nonce has moved on.
  auto first = ti.encrypt(as_bytes("once"));
  REQUIRE(first.ok());
  CHECK(tr.decrypt(*first).ok());
  CHECK(tr.decrypt(*first).error().code == Errc::protocol);
}

TEST_CASE("noise: different prologues do not agree") {
  HandshakeState init = handshake(Role::initiator, generated(), as_bytes("a"));
  HandshakeState resp = handshake(Role::responder, generated(), as_bytes("b"));
  read(resp, write(init, {}));
  auto r = init.read_message(write(resp, {}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::protocol);
}

TEST_CASE("noise: a flipped bit in any handshake message is rejected") {
  const std::vector<Bytes> good = fixed_messages();
  for (size_t which = 0; which < 3; ++which) {
    for (size_t byte = 0; byte < good[which].size(); ++byte) {
      CAPTURE(which);
      CAPTURE(byte);
      Bytes bad = good[which];
      bad[byte] ^= static_cast<uint8_t>(1u << (byte % 8));
      Pair p = fixed_pair();
      if (which == 0) {
        // Message 1 is in the clear; the change is caught by the hash when the
        // initiator reads message 2.
        auto got = p.resp.read_message(bad);
        if (got.ok()) {
          auto m2 = p.resp.write_message(as_bytes("two"));
          if (m2.ok()) {
            auto r = p.init.read_message(*m2);
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().code == Errc::protocol);
          }
        }
        CHECK_FALSE(p.init.complete());
        continue;
      }
      read(p.resp, write(p.init, as_bytes("one")));
      if (which == 1) {
        write(p.resp, as_bytes("two"));
        auto r = p.init.read_message(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::protocol);
        // The handshake is dead now, even for the genuine message.
        CHECK_FALSE(p.init.read_message(good[1]).ok());
        CHECK_FALSE(p.init.write_message({}).ok());
        CHECK_FALSE(p.init.split().ok());
        continue;
      }
      read(p.init, write(p.resp, as_bytes("two")));
      write(p.init, as_bytes("three"));
      auto r = p.resp.read_message(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::protocol);
      CHECK_FALSE(p.resp.complete());
      CHECK_FALSE(p.resp.split().ok());
    }
  }
}

TEST_CASE("noise: the same messages are produced again with the same keys") {
  CHECK(fixed_messages() == fixed_messages());
}

TEST_CASE("noise: a flipped bit in a transport message is rejected") {
  Pair p = fixed_pair();
  read(p.resp, write(p.init, {}));
  read(p.init, write(p.resp, {}));
  read(p.resp, write(p.init, {}));
  TransportState ti = split(p.init), tr = split(p.resp);
  auto c = ti.encrypt(as_bytes("attack at dawn"));
  REQUIRE(c.ok());
  for (size_t byte = 0; byte < c->size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = *c;
      bad[byte] ^= static_cast<uint8_t>(1u << bit);
      auto r = tr.decrypt(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::protocol);
    }
  }
  // Failures did not advance the nonce: the genuine message still decrypts.
  auto good = tr.decrypt(*c);
  REQUIRE_MESSAGE(good.ok(), good.error().message);
  CHECK(to_hex(*good) == to_hex(as_bytes("attack at dawn")));
}

TEST_CASE("noise: turns are enforced") {
  {
    Pair p = fixed_pair();
    auto w = p.resp.write_message({});
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().code == Errc::usage);
    CHECK(contains(w.error().message, "expected to read message 1"));
    auto r = p.init.read_message(Bytes(32, 9));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol);
    CHECK(contains(r.error().message, "expected to write message 1"));
    // Neither refusal spoiled the handshake.
    Bytes m1 = write(p.init, {});
    CHECK_FALSE(p.init.write_message({}).ok());  // message 2 is the responder's
    CHECK_FALSE(p.resp.write_message({}).ok());  // it has not read message 1 yet
    read(p.resp, m1);
    CHECK_FALSE(p.resp.read_message(m1).ok());   // its turn to write
    Bytes m2 = write(p.resp, {});
    CHECK_FALSE(p.resp.write_message({}).ok());
    read(p.init, m2);
    CHECK_FALSE(p.init.split().ok());  // not complete yet
    Bytes m3 = write(p.init, {});
    CHECK(p.init.complete());
    CHECK_FALSE(p.init.write_message({}).ok());
    CHECK_FALSE(p.init.read_message(m3).ok());
    read(p.resp, m3);
    CHECK(p.resp.complete());
    CHECK(p.init.split().ok());
    auto again = p.init.split();
    REQUIRE_FALSE(again.ok());
    CHECK(contains(again.error().message, "twice"));
  }
}

TEST_CASE("noise: truncated messages are errors") {
  const std::vector<Bytes> good = fixed_messages();
  const size_t minimum[] = {32, 96, 64};
  for (size_t which = 0; which < 3; ++which) {
    CAPTURE(which);
    for (size_t cut : {size_t(0), size_t(1), minimum[which] - 1, good[which].size() - 1}) {
      CAPTURE(cut);
      Pair p = fixed_pair();
      Bytes bad(good[which].begin(), good[which].begin() + static_cast<std::ptrdiff_t>(cut));
      Result<Bytes> r = Bytes{};
      if (which == 0) {
        r = p.resp.read_message(bad);
        if (r.ok()) {  // a shorter clear payload parses; the hash catches it at message 2
          auto m2 = p.resp.write_message({});
          REQUIRE(m2.ok());
          r = p.init.read_message(*m2);
        }
      } else {
        read(p.resp, write(p.init, as_bytes("one")));
        if (which == 1) {
          write(p.resp, as_bytes("two"));
          r = p.init.read_message(bad);
        } else {
          read(p.init, write(p.resp, as_bytes("two")));
          write(p.init, as_bytes("three"));
          r = p.resp.read_message(bad);
        }
      }
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::protocol);
      if (cut < minimum[which])
        CHECK(contains(r.error().message, "expected message " + std::to_string(which + 1) + " of at least " +
                                              std::to_string(minimum[which]) + " bytes, saw " + std::to_string(cut)));
    }
  }
  Pair p = fixed_pair();
  read(p.resp, write(p.init, {}));
  read(p.init, write(p.resp, {}));
  read(p.resp, write(p.init, {}));
  TransportState ti = split(p.init), tr = split(p.resp);
  auto c = ti.encrypt(as_bytes("hello"));
  REQUIRE(c.ok());
  for (size_t cut = 0; cut < c->size(); ++cut) {
    auto r = tr.decrypt(ByteView(*c).first(cut));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol);
  }
  CHECK(tr.decrypt(*c).ok());
}

TEST_CASE("noise: messages larger than 65535 bytes are refused") {
  Pair p = fixed_pair();
  // Message 1 is 32 bytes of key and a clear payload.
  auto big = p.init.write_message(Bytes(kMaxMessage - 32 + 1, 0));
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == Errc::usage);
  CHECK(contains(big.error().message, "65535"));
  // The refusal changed nothing: the largest allowed message goes through.
  Bytes m1 = write(p.init, Bytes(kMaxMessage - 32, 0x5a));
  CHECK(m1.size() == kMaxMessage);
  CHECK(read(p.resp, m1).size() == kMaxMessage - 32);
  // Message 2: 32 + 48 + payload + 16.
  CHECK_FALSE(p.resp.write_message(Bytes(kMaxMessage - 96 + 1, 0)).ok());
  Bytes m2 = write(p.resp, Bytes(kMaxMessage - 96, 1));
  CHECK(m2.size() == kMaxMessage);
  read(p.init, m2);
  CHECK_FALSE(p.init.write_message(Bytes(kMaxMessage - 64 + 1, 0)).ok());
  Bytes m3 = write(p.init, Bytes(kMaxMessage - 64, 2));
  CHECK(m3.size() == kMaxMessage);
  read(p.resp, m3);

  TransportState ti = split(p.init), tr = split(p.resp);
  auto too_big = ti.encrypt(Bytes(kMaxMessage - kTagSize + 1, 0));
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == Errc::usage);
  auto largest = ti.encrypt(Bytes(kMaxMessage - kTagSize, 3));
  REQUIRE(largest.ok());
  CHECK(largest->size() == kMaxMessage);
  CHECK(tr.decrypt(*largest).ok());
  auto r = tr.decrypt(Bytes(kMaxMessage + 1, 0));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::protocol);

  // Reading an oversized handshake message.
  Pair q = fixed_pair();
  auto huge = q.resp.read_message(Bytes(kMaxMessage + 1, 0));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code == Errc::protocol);
  CHECK(contains(huge.error().message, "at most 65535 bytes, saw 65536"));
}

TEST_CASE("noise: low-order public keys are refused") {
  // u = 0 and u = 1 are points of small order: X25519 with them is all zero.
  for (uint8_t u : {uint8_t(0), uint8_t(1)}) {
    CAPTURE(int(u));
    Pair p = fixed_pair();
    Bytes m1(32, 0);
    m1[0] = u;
    read(p.resp, m1);  // no DH in message 1
    auto w = p.resp.write_message({});
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().code == Errc::protocol);
    CHECK(contains(w.error().message, "low-order"));
    CHECK_FALSE(p.resp.write_message({}).ok());  // dead

    Pair q = fixed_pair();
    read(q.resp, write(q.init, {}));
    Bytes m2 = write(q.resp, {});
    std::fill(m2.begin(), m2.begin() + 32, uint8_t(0));
    m2[0] = u;
    auto r = q.init.read_message(m2);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol);
    CHECK(contains(r.error().message, "low-order"));
  }
}

TEST_CASE("noise: keys and nonces") {
  CHECK(KeyPair::from_private(Bytes(31, 1)).error().code == Errc::usage);
  CHECK_FALSE(KeyPair::from_private(Bytes(33, 1)).ok());
  // RFC 7748 section 6.1: Alice's key pair.
  KeyPair alice = keypair(unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  CHECK(to_hex(alice.pub) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  CHECK(alice.priv.size() == 32);
  CHECK(generated().pub != generated().pub);

  auto cs = noise::detail::CipherState::create();
  REQUIRE(cs.ok());
  Bytes out;
  CHECK_FALSE(cs->has_key());
  REQUIRE(cs->encrypt_with_ad({}, as_bytes("clear"), out).ok());
  CHECK(out == Bytes(as_bytes("clear").begin(), as_bytes("clear").end()));  // no key: identity
  REQUIRE(cs->initialize_key(Bytes(32, 7)).ok());
  cs->set_nonce(UINT64_MAX - 1);
  out.clear();
  CHECK(cs->encrypt_with_ad({}, as_bytes("last"), out).ok());
  CHECK(cs->nonce() == UINT64_MAX);
  out.clear();
  auto reserved = cs->encrypt_with_ad({}, as_bytes("too many"), out);
  REQUIRE_FALSE(reserved.ok());
  CHECK(contains(reserved.error().message, "reserved"));
  CHECK(out.empty());
  CHECK_FALSE(cs->decrypt_with_ad({}, Bytes(16, 0)).ok());
}
