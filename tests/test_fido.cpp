// Security keys: the production libfido2 code (lib/keys/fido) against the development
// fake authenticator (dev/fake_authenticator), which libfido2 reaches through its I/O
// hooks and speaks to in CTAPHID reports and CTAP2 CBOR. The W3C WebAuthn PRF vector
// must come out of it byte for byte, and every way a key can say no has its own message.
#include <doctest/doctest.h>
#include <fido.h>

#include <mutex>
#include <set>

#include "crypto/hash.hpp"
#include "dev/fake_authenticator.hpp"
#include "dev/fake_ctap.hpp"
#include "keys/fido.hpp"
#include "keys/hierarchy.hpp"
#include "support/support.hpp"

using namespace confer;
namespace fido = confer::keys::fido;

namespace {

void use_fake_scheme() {
  static std::once_flag once;
  std::call_once(once, [] { fido::register_device_scheme(dev::kFakeDevicePrefix, dev::fake_authenticator_io()); });
}

Bytes hex(const std::string& s) { return from_hex(s).value(); }

struct PrfVector {
  Bytes first_input, second_input, cred_random, first_output, second_output;
};
PrfVector prf_vector() {
  auto doc = nlohmann::json::parse(test::vector_file("webauthn-prf/prf-vectors.json"));
  return {hex(doc["prf_eval_first_hex"]), hex(doc["prf_eval_second_hex"]),
          hex(doc["authenticator_cred_random_with_uv_hex"]), hex(doc["prf_results_first_hex"]),
          hex(doc["prf_results_second_hex"])};
}

// A fake key in a state file, with one credential for confer.to.
struct FakeKey {
  test::TempDir dir;
  std::string path = dir.path() + "/key.json";
  Bytes credential_id = hex("c0ffee000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d");

  explicit FakeKey(ByteView cred_random_uv = {}) {
    use_fake_scheme();
    dev::FakeState s;
    s.pin = "1234";
    dev::FakeCredential c;
    c.id = credential_id;
    c.rp_id = "confer.to";
    c.user_id = hex("0001");
    auto key = dev::ctap::p256_generate().value();
    c.key_der = dev::ctap::p256_der(key.get()).value();
    c.cred_random_uv = cred_random_uv.empty() ? Bytes(32, 0x11) : Bytes(cred_random_uv.begin(), cred_random_uv.end());
    c.cred_random_no_uv = Bytes(32, 0x22);
    s.credentials.push_back(c);
    save(s);
  }
  dev::FakeState state() const { return dev::load_fake_state(path).value(); }
  void save(const dev::FakeState& s) const { REQUIRE(dev::save_fake_state(path, s).ok()); }
  template <typename F>
  void change(F f) const {
    auto s = state();
    f(s);
    save(s);
  }
  fido::DeviceOptions options() const {
    fido::DeviceOptions o;
    o.path = dev::kFakeDevicePrefix + path;
    o.timeout_ms = 2000;
    return o;
  }
};

// What the person at the keyboard does: types `pin` when asked; notices are kept.
struct Person {
  std::string pin = "1234";
  int asked = 0;
  std::vector<std::string> notices;
  fido::Interaction interaction() {
    fido::Interaction i;
    i.read_pin = [this](const std::string&) -> Result<crypto::SecretBytes> {
      ++asked;
      auto s = crypto::SecretBytes::allocate(pin.size()).value();
      std::memcpy(s.data(), pin.data(), pin.size());
      return s;
    };
    i.notice = [this](const std::string& n) { notices.push_back(n); };
    return i;
  }
};

std::string error_of(const Result<fido::PrfOutput>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::key);
  return r.error().message;
}

}  // namespace

TEST_CASE("fido: the W3C PRF vector through libfido2 and the fake, PIN protocols 1 and 2, CTAP 2.0 and 2.1") {
  if (!test::have_vectors()) return;
  PrfVector v = prf_vector();
  for (std::vector<int> protocols : {std::vector<int>{1}, std::vector<int>{2}, std::vector<int>{1, 2}})
    for (bool ctap21 : {false, true}) {
      CAPTURE(protocols.back());
      CAPTURE(ctap21);
      FakeKey key(v.cred_random);
      key.change([&](dev::FakeState& s) {
        s.protocols = protocols;
        s.ctap21 = ctap21;
      });
      Person person;
      auto out = fido::prf(key.options(), person.interaction(), key.credential_id, v.first_input);
      REQUIRE_MESSAGE(out.ok(), out.error().message);
      CHECK(to_hex(out->first.view()) == to_hex(v.first_output));
      CHECK_FALSE(out->second.has_value());
      CHECK(person.asked == 1);
      CHECK(std::find(person.notices.begin(), person.notices.end(), "touch your security key") != person.notices.end());
      // Two inputs at once (what rotation uses): both outputs of the vector.
      auto both = fido::prf(key.options(), person.interaction(), key.credential_id, v.first_input, v.second_input);
      REQUIRE_MESSAGE(both.ok(), both.error().message);
      CHECK(to_hex(both->first.view()) == to_hex(v.first_output));
      REQUIRE(both->second.has_value());
      CHECK(to_hex(both->second->view()) == to_hex(v.second_output));
      CHECK(key.state().credentials[0].counter == 2);
    }
}

TEST_CASE("fido: built-in user verification gives the vector without a PIN") {
  if (!test::have_vectors()) return;
  PrfVector v = prf_vector();
  for (bool ctap21 : {false, true}) {
    CAPTURE(ctap21);
    FakeKey key(v.cred_random);
    key.change([&](dev::FakeState& s) {
      s.uv = true;
      s.ctap21 = ctap21;
    });
    Person person;
    auto out = fido::prf(key.options(), person.interaction(), key.credential_id, v.first_input);
    REQUIRE_MESSAGE(out.ok(), out.error().message);
    CHECK(to_hex(out->first.view()) == to_hex(v.first_output));
    CHECK(person.asked == 0);
  }
}

TEST_CASE("fido: without user verification the key gives another secret, and confer refuses it") {
  if (!test::have_vectors()) return;
  PrfVector v = prf_vector();
  FakeKey key(v.cred_random);
  // Straight through libfido2 with no PIN: the key answers, without the UV flag and
  // from CredRandomWithoutUV, so the output is not the vector's.
  fido_dev_t* dev = fido_dev_new();
  fido::IoFunctions io = dev::fake_authenticator_io();
  fido_dev_io_t hooks{io.open, io.close, io.read, io.write};
  REQUIRE(fido_dev_set_io_functions(dev, &hooks) == FIDO_OK);
  REQUIRE(fido_dev_open(dev, key.options().path.c_str()) == FIDO_OK);
  fido_assert_t* a = fido_assert_new();
  Bytes salt = keys::prf_salt(v.first_input);
  uint8_t cdh[32] = {};
  REQUIRE(fido_assert_set_rp(a, "confer.to") == FIDO_OK);
  REQUIRE(fido_assert_allow_cred(a, key.credential_id.data(), key.credential_id.size()) == FIDO_OK);
  REQUIRE(fido_assert_set_extensions(a, FIDO_EXT_HMAC_SECRET) == FIDO_OK);
  REQUIRE(fido_assert_set_hmac_salt(a, salt.data(), salt.size()) == FIDO_OK);
  REQUIRE(fido_assert_set_clientdata_hash(a, cdh, sizeof cdh) == FIDO_OK);
  REQUIRE(fido_dev_get_assert(dev, a, nullptr) == FIDO_OK);
  CHECK((fido_assert_flags(a, 0) & 0x04) == 0);
  REQUIRE(fido_assert_hmac_secret_len(a, 0) == 32);
  Bytes without_uv(fido_assert_hmac_secret_ptr(a, 0), fido_assert_hmac_secret_ptr(a, 0) + 32);
  CHECK(to_hex(without_uv) != to_hex(v.first_output));
  fido_assert_free(&a);
  fido_dev_close(dev);
  fido_dev_free(&dev);

  // A key that takes the PIN but answers without UV: the production code refuses.
  key.change([](dev::FakeState& s) { s.behaviour = "skip-uv"; });
  Person person;
  std::string message = error_of(fido::prf(key.options(), person.interaction(), key.credential_id, v.first_input));
  CHECK(message.find("did not verify you") != std::string::npos);
}

TEST_CASE("fido: wrong PIN, PIN blocked, no device, no hmac-secret and the rest each say what happened") {
  use_fake_scheme();
  std::set<std::string> messages;
  auto expect = [&](const FakeKey& key, Person person, const std::string& part, Bytes cred = {}) {
    if (cred.empty()) cred = key.credential_id;
    std::string m = error_of(fido::prf(key.options(), person.interaction(), cred, hex("0102")));
    CHECK_MESSAGE(m.find(part) != std::string::npos, m);
    messages.insert(m);
    return m;
  };
  {
    FakeKey key;
    Person wrong;
    wrong.pin = "9999";
    expect(key, wrong, "wrong PIN for the security key (7 tries left");
    CHECK(key.state().pin_retries == 7);
    auto ok = fido::prf(key.options(), Person().interaction(), key.credential_id, hex("0102"));
    CHECK_MESSAGE(ok.ok(), ok.error().message);
    CHECK(key.state().pin_retries == 8);  // the right PIN resets the count
    for (int i = 0; i < 2; ++i) expect(key, wrong, "wrong PIN");
    expect(key, wrong, "too many wrong PINs in a row; unplug the security key");
    // The key refuses even the right PIN until it is replugged.
    expect(key, Person(), "too many wrong PINs in a row");
  }
  {
    FakeKey key;
    key.change([](dev::FakeState& s) { s.pin_retries = 1; });
    Person wrong;
    wrong.pin = "9999";
    expect(key, wrong, "PIN is blocked");
    expect(key, Person(), "PIN is blocked");
    CHECK(key.state().pin_retries == 0);
  }
  {
    FakeKey key;
    key.change([](dev::FakeState& s) { s.pin.reset(); });
    expect(key, Person(), "has no PIN and no built-in user verification");
  }
  {
    FakeKey key;
    key.change([](dev::FakeState& s) { s.hmac_secret = false; });
    expect(key, Person(), "does not offer hmac-secret");
  }
  {
    FakeKey key;
    expect(key, Person(), "not registered on this key", hex("0badc0de"));
    fido::DeviceOptions other = key.options();
    other.rp_id = "example.org";
    std::string m = error_of(fido::prf(other, Person().interaction(), key.credential_id, hex("01")));
    CHECK(m.find("not registered on this key") != std::string::npos);
  }
  {
    FakeKey key;
    key.change([](dev::FakeState& s) { s.behaviour = "timeout"; });
    expect(key, Person(), "timed out waiting for the security key");
    key.change([](dev::FakeState& s) { s.behaviour = "deny"; });
    expect(key, Person(), "denied or cancelled on the security key");
    Person short_pin;
    short_pin.pin = "12";
    key.change([](dev::FakeState& s) { s.behaviour.clear(); });
    expect(key, short_pin, "a security key PIN is 4 to 63 bytes");
  }
  {
    FakeKey key;
    fido::DeviceOptions gone = key.options();
    gone.path = std::string(dev::kFakeDevicePrefix) + key.dir.path() + "/unplugged.json";
    std::string m = error_of(fido::prf(gone, Person().interaction(), key.credential_id, hex("01")));
    CHECK(m.find("no security key found at") != std::string::npos);
    messages.insert(m);
  }
  CHECK(messages.size() >= 11);
}

TEST_CASE("fido: registration makes a resident hmac-secret credential whose PRF is stable, with one PIN entry") {
  FakeKey key;
  key.change([](dev::FakeState& s) { s.credentials.clear(); });
  Person person;
  Bytes input = hex("a1a2a3a4");
  auto reg = fido::register_credential(key.options(), person.interaction(), hex("00112233"), "confer 00112233", input);
  REQUIRE_MESSAGE(reg.ok(), reg.error().message);
  CHECK(person.asked == 1);
  CHECK(reg->discoverable);
  CHECK(reg->device == "development fake");
  auto state = key.state();
  REQUIRE(state.credentials.size() == 1);
  CHECK(state.credentials[0].id == reg->credential_id);
  CHECK(state.credentials[0].hmac_secret);
  CHECK(state.credentials[0].rk);
  CHECK(state.credentials[0].user_id == hex("00112233"));
  auto again = fido::prf(key.options(), person.interaction(), reg->credential_id, input);
  REQUIRE_MESSAGE(again.ok(), again.error().message);
  CHECK(again->first.equals(reg->prf.view()));
  auto other = fido::prf(key.options(), person.interaction(), reg->credential_id, hex("a1a2a3a5"));
  REQUIRE(other.ok());
  CHECK_FALSE(other->first.equals(reg->prf.view()));
  // A wrong PIN at registration registers nothing.
  Person wrong;
  wrong.pin = "0000";
  auto refused = fido::register_credential(key.options(), wrong.interaction(), hex("01"), "x", input);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("wrong PIN") != std::string::npos);
  CHECK(key.state().credentials.size() == 1);
}

TEST_CASE("fido: the fake's PIN protocols 1 and 2 match the W3C CTAP-layer values") {
  // W3C webauthn index.bs, "CTAP2 hmac-secret extension" test vectors (PASSKEYS.md §2.2).
  std::string seed = "WebAuthn PRF test vectors";
  auto seeded = [&](uint8_t n) {
    Bytes b(seed.begin(), seed.end());
    b.push_back(n);
    return crypto::sha256(b);
  };
  auto platform = dev::ctap::p256_from_scalar(hex("0971bc7fb1be48270adcd3d9a5fc15d5fb0f335b3071ff36a54c007fa6c76514"));
  auto authenticator = dev::ctap::p256_from_scalar(seeded(0x05));
  REQUIRE_MESSAGE(platform.ok(), platform.error().message);
  REQUIRE(authenticator.ok());
  auto xy = dev::ctap::p256_xy(authenticator->get());
  if (xy.ok()) {
    CHECK(to_hex(xy->x) == "a30522c2de402b561965c3cf949a1cab020c6f6ea36fcf7e911ac1a0f1515300");
    auto peer = dev::ctap::p256_from_xy(xy->x, xy->y).value();
    Bytes z = dev::ctap::ecdh_x(platform->get(), peer.get()).value();
    Bytes v1 = dev::ctap::shared_secret(1, z).value();
    Bytes v2 = dev::ctap::shared_secret(2, z).value();
    CHECK(to_hex(v1) == "23e5ed7157c25892b77732fb9c8a107e3518800db2af4142f9f4adfacb771d39");
    CHECK(to_hex(v2) ==
          "0c63083de8170101d38bcf8bd72309568ddb4550867e23404b35d85712f7c20d"
          "8bc911ee23c06034cbc14290b9669bec07739053c5a416e313ef905c79955876");
    Bytes salt1 = hex("527413ebb48293772df30f031c5ac4650c7de14bf9498671ae163447b6a772b3");
    Bytes enc1 = dev::ctap::encrypt(1, v1, salt1).value();
    CHECK(to_hex(enc1) == "ab8c878bb05d04700f077ed91845ec9c503c925cb12b327ddbeb4243c397f913");
    CHECK(to_hex(dev::ctap::authenticate(1, v1, enc1).value()) == "3dccd36b39c6df11dd85837ce672a9bb");
    Bytes iv = seeded(0x07);
    iv.resize(16);
    Bytes enc2 = dev::ctap::encrypt(2, v2, salt1, ByteView(iv)).value();
    CHECK(to_hex(enc2) ==
          "23dde5e3462daf36559b85c4ac5f9656aa9bfd81c1dc2bf8533c8b9f3882854786b4f500e25b4e3d81f7fc7c74236229");
    CHECK(to_hex(dev::ctap::authenticate(2, v2, enc2).value()) ==
          "8edf4c9d4770439b093d91df4e0788064a1f521c4041adb6338229b38b4f605c");
    CHECK(dev::ctap::decrypt(2, v2, enc2).value() == salt1);
    // A flipped bit changes what decrypts: the fake's saltAuth check is what catches it.
    enc2[20] ^= 1;
    CHECK(dev::ctap::decrypt(2, v2, enc2).value() != salt1);
  } else {
    FAIL(xy.error().message);
  }
}
