#include "account/webauthn.hpp"

#include <sodium.h>

#include <fmt/format.h>

#include "core/json.hpp"
#include "crypto/hash.hpp"
#include "crypto/pkey.hpp"

namespace confer::account {

namespace {

Error refuse(std::string message) { return make_error(Errc::key, "assertion refused: " + std::move(message)); }

// JSON string escaping as CCDToString does: quote, backslash and control characters.
void append_ccd_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace

std::string base64url(ByteView bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<Bytes> from_base64url(std::string_view text) {
  Bytes out(text.size() * 3 / 4 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size())
    return make_error(Errc::parse, fmt::format("expected base64url without padding, saw {} characters that are not", text.size()));
  out.resize(len);
  return out;
}

std::string client_data_json(std::string_view type, ByteView challenge, std::string_view origin) {
  std::string out = "{\"type\":";
  append_ccd_string(out, type);
  out += ",\"challenge\":";
  append_ccd_string(out, base64url(challenge));
  out += ",\"origin\":";
  append_ccd_string(out, origin);
  out += ",\"crossOrigin\":false}";
  return out;
}

Result<crypto::PkeyPtr> credential_public_key(int64_t algorithm, ByteView raw) {
  static const uint8_t kP256Prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                                        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
  static const uint8_t kEd25519Prefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  Bytes spki;
  if (algorithm == kCoseEs256) {
    if (raw.size() != 64)
      return make_error(Errc::key, fmt::format("an ES256 public key is 64 bytes (x || y), saw {}", raw.size()));
    spki.assign(std::begin(kP256Prefix), std::end(kP256Prefix));
  } else if (algorithm == kCoseEdDsa) {
    if (raw.size() != 32)
      return make_error(Errc::key, fmt::format("an Ed25519 public key is 32 bytes, saw {}", raw.size()));
    spki.assign(std::begin(kEd25519Prefix), std::end(kEd25519Prefix));
  } else {
    return make_error(Errc::key, fmt::format("COSE algorithm {} is not accepted (ES256 -7 or EdDSA -8)", algorithm));
  }
  spki.insert(spki.end(), raw.begin(), raw.end());
  // OpenSSL checks that an EC point lies on the curve when it decodes it.
  auto key = crypto::public_key_from_spki(spki);
  if (!key) return make_error(Errc::key, "the credential's public key is not a valid point or key");
  return key;
}

Result<AssertionFacts> verify_assertion(const Assertion& a, const Expected& expected, int64_t algorithm,
                                        ByteView public_key) {
  if (a.client_data_json.size() > kMaxClientDataJson)
    return refuse(fmt::format("clientDataJSON is {} bytes, at most {} accepted", a.client_data_json.size(),
                              kMaxClientDataJson));
  std::string_view cdj = a.client_data_json;
  if (cdj.substr(0, 3) == "\xEF\xBB\xBF") cdj.remove_prefix(3);
  auto parsed = parse_json_object(cdj, "clientDataJSON", JsonLimits{kMaxClientDataJson, 4});
  if (!parsed) return refuse(parsed.error().message);
  const auto& cd = *parsed;
  auto text = [&](const char* key) -> std::string {
    const auto* v = member(cd, key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : std::string("(absent)");
  };
  if (text("type") != "webauthn.get")
    return refuse(fmt::format("clientDataJSON type is '{}', expected 'webauthn.get'", text("type")));
  if (text("challenge") != base64url(expected.challenge))
    return refuse("clientDataJSON challenge is not the one this server issued on this connection");
  if (text("origin") != expected.origin)
    return refuse(fmt::format("clientDataJSON origin is '{}', expected '{}'", text("origin"), expected.origin));
  if (const auto* co = member(cd, "crossOrigin"); co != nullptr && !(co->is_boolean() && !co->get<bool>()))
    return refuse("clientDataJSON crossOrigin is not false");
  if (member(cd, "topOrigin") != nullptr) return refuse("clientDataJSON has a topOrigin (an embedded request)");

  const Bytes& ad = a.authenticator_data;
  if (ad.size() < 37 || ad.size() > kMaxAuthenticatorData)
    return refuse(fmt::format("authenticator data is {} bytes, expected 37 to {}", ad.size(), kMaxAuthenticatorData));
  if (!equal_ct(ByteView(ad.data(), 32), crypto::sha256(as_bytes(expected.rp_id))))
    return refuse(fmt::format("authenticator data is for another relying party (rpIdHash is not SHA-256(\"{}\"))",
                              expected.rp_id));
  AssertionFacts facts;
  facts.flags = ad[32];
  facts.sign_count = (uint32_t(ad[33]) << 24) | (uint32_t(ad[34]) << 16) | (uint32_t(ad[35]) << 8) | ad[36];
  if (!(facts.flags & kFlagUp)) return refuse("the user-present flag is not set");
  if (!(facts.flags & kFlagUv)) return refuse("the user-verified flag is not set (a PIN or built-in UV is required)");
  if ((facts.flags & kFlagBs) && !(facts.flags & kFlagBe)) return refuse("backup state set without backup eligibility");

  CONFER_TRY(auto key, credential_public_key(algorithm, public_key));
  Bytes message = ad;
  Bytes cd_hash = crypto::sha256(as_bytes(a.client_data_json));
  message.insert(message.end(), cd_hash.begin(), cd_hash.end());
  if (algorithm == kCoseEdDsa && a.signature.size() != 64)
    return refuse(fmt::format("an Ed25519 signature is 64 bytes, saw {}", a.signature.size()));
  if (auto ok = crypto::verify_signature(key.get(), message, a.signature, algorithm == kCoseEs256 ? "sha256" : "");
      !ok)
    return refuse("the signature does not verify under the credential's public key");
  return facts;
}

bool counter_acceptable(uint32_t stored, uint32_t seen) noexcept {
  if (stored == 0 && seen == 0) return true;
  return seen > stored;
}

}  // namespace confer::account
