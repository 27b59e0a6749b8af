#include "attest/jwt.hpp"

#include <algorithm>
#include <array>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <fmt/format.h>

#include "core/json.hpp"
#include "crypto/ossl.hpp"
#include "crypto/pkey.hpp"

namespace confer::attest {

namespace {

using nlohmann::json;

Error parse_error(std::string message) { return make_error(Errc::parse, std::move(message)); }

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string describe_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (c == '=') return "'=' padding";
  if (u > 0x20 && u < 0x7f) return fmt::format("'{}'", c);
  return fmt::format("byte 0x{:02x}", u);
}

const JsonLimits kJwtJson{kMaxJwtBytes, kMaxJwtJsonDepth};

// One of the token's parts, decoded; errors name the part.
Result<Bytes> decode_part(std::string_view text, std::string_view part) {
  auto bytes = from_base64url(text);
  if (!bytes) return parse_error(fmt::format("JWT {}: {}", part, bytes.error().message));
  return std::move(bytes).value();
}

Result<json> parse_part_object(ByteView bytes, std::string_view what) {
  CONFER_TRY(json doc, parse_json(bytes, what, kJwtJson));
  if (!doc.is_object()) return parse_error(fmt::format("{}: expected a JSON object, saw {}", what, doc.type_name()));
  return doc;
}

// --- JWKS -----------------------------------------------------------------------------

using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, crypto::OsslFree<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, crypto::OsslFree<OSSL_PARAM, OSSL_PARAM_free>>;

std::shared_ptr<EVP_PKEY> share(crypto::PkeyPtr key) { return {key.release(), EVP_PKEY_free}; }

Result<Bytes> member_base64url(const json& obj, const char* key, const std::string& where) {
  CONFER_TRY(std::string text, required_string(obj, key, where));
  auto bytes = from_base64url(text);
  if (!bytes) return parse_error(fmt::format("{}: '{}': {}", where, key, bytes.error().message));
  return std::move(bytes).value();
}

Result<crypto::PkeyPtr> rsa_public_key(ByteView n, ByteView e) {
  crypto::BnPtr bn_n(BN_bin2bn(n.data(), int(n.size()), nullptr));
  crypto::BnPtr bn_e(BN_bin2bn(e.data(), int(e.size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return make_error(Errc::internal, "building RSA key parameters failed: " + crypto::openssl_error());
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  crypto::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || key == nullptr) {
    crypto::clear_openssl_errors();
    return parse_error("the RSA public key (n, e) is not accepted by OpenSSL");
  }
  return crypto::PkeyPtr(key);
}

Result<void> parse_rsa(const json& j, const std::string& where, Jwk& out) {
  CONFER_TRY(Bytes n, member_base64url(j, "n", where));
  CONFER_TRY(Bytes e, member_base64url(j, "e", where));
  // RFC 7518 §6.3.1.1-2: the minimum number of octets.
  if (n.empty() || n[0] == 0)
    return parse_error(fmt::format("{}: expected 'n' in minimal octets, saw {}", where,
                                   n.empty() ? "none" : "a leading zero octet"));
  crypto::BnPtr bn(BN_bin2bn(n.data(), int(n.size()), nullptr));
  if (!bn) return make_error(Errc::internal, "BN_bin2bn failed");
  int bits = BN_num_bits(bn.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits)
    return parse_error(fmt::format("{}: expected an RSA modulus of {} to {} bits, saw {} bits", where, kMinRsaBits,
                                   kMaxRsaBits, bits));
  if ((n.back() & 1) == 0) return parse_error(fmt::format("{}: expected an odd RSA modulus, saw an even one", where));
  if (e.empty() || e[0] == 0 || e.size() > 8)
    return parse_error(fmt::format("{}: expected 'e' in 1 to 8 minimal octets, saw {} octets{}", where, e.size(),
                                   !e.empty() && e[0] == 0 ? " with a leading zero" : ""));
  if ((e.back() & 1) == 0 || (e.size() == 1 && e[0] < 3))
    return parse_error(fmt::format("{}: expected an odd RSA exponent of at least 3, saw 0x{}", where, to_hex(e)));
  auto key = rsa_public_key(n, e);
  if (!key) return make_error(key.error().code, fmt::format("{}: {}", where, key.error().message));
  out.type = JwkType::rsa;
  out.bits = bits;
  out.key = share(std::move(key).value());
  return {};
}

Result<void> parse_ec(const json& j, const std::string& where, Jwk& out) {
  CONFER_TRY(std::string crv, required_string(j, "crv", where));
  size_t size = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 0;
  if (size == 0) return parse_error(fmt::format("{}: expected crv P-256 or P-384, saw \"{}\"", where, crv));
  CONFER_TRY(Bytes x, member_base64url(j, "x", where));
  CONFER_TRY(Bytes y, member_base64url(j, "y", where));
  // RFC 7518 §6.2.1.2-3: the full coordinate size, leading zeros kept.
  if (x.size() != size || y.size() != size)
    return parse_error(fmt::format("{}: expected {}-byte {} coordinates x and y, saw {} and {} bytes", where, size,
                                   crv, x.size(), y.size()));
  x.insert(x.end(), y.begin(), y.end());
  auto key = crypto::ec_public_key_from_xy(x, crv);
  if (!key) return make_error(key.error().code, fmt::format("{}: {}", where, key.error().message));
  out.type = JwkType::ec;
  out.curve = crv;
  out.bits = int(size * 8);
  out.key = share(std::move(key).value());
  return {};
}

Result<Jwk> parse_jwk(const json& j, const std::string& where) {
  if (!j.is_object()) return parse_error(fmt::format("{}: expected a JSON object, saw {}", where, j.type_name()));
  Jwk out;
  CONFER_TRY(out.kid, required_string(j, "kid", where));
  if (out.kid.empty() || out.kid.size() > 256)
    return parse_error(fmt::format("{}: expected a kid of 1 to 256 characters, saw {}", where, out.kid.size()));
  CONFER_TRY(std::string kty, required_string(j, "kty", where));
  CONFER_TRY(out.alg, optional_string(j, "alg", where));
  CONFER_TRY(out.use, optional_string(j, "use", where));
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
    if (j.contains(secret))
      return parse_error(fmt::format("{}: expected a public key, saw the private parameter '{}'", where, secret));
  if (kty == "RSA") {
    CONFER_TRY_VOID(parse_rsa(j, where, out));
  } else if (kty == "EC") {
    CONFER_TRY_VOID(parse_ec(j, where, out));
  } else {
    return parse_error(fmt::format("{}: expected kty RSA or EC, saw \"{}\"", where, kty));
  }
  return out;
}

// --- verification ---------------------------------------------------------------------

struct AlgSpec {
  std::string_view name;
  JwkType type;
  std::string_view curve;  // EC only
  const char* digest;      // for crypto::verify_raw_ecdsa
  const EVP_MD* (*md)();
  bool pss;
};

constexpr std::array<AlgSpec, 4> kAlgs{{
    {"PS384", JwkType::rsa, "", "sha384", EVP_sha384, true},
    {"RS256", JwkType::rsa, "", "sha256", EVP_sha256, false},
    {"ES384", JwkType::ec, "P-384", "sha384", EVP_sha384, false},
    {"ES256", JwkType::ec, "P-256", "sha256", EVP_sha256, false},
}};

constexpr const char* kAllowed = "PS384, RS256, ES384 or ES256";

Result<const AlgSpec*> allowed_alg(const std::string& alg) {
  if (alg == "none")
    return make_error(Errc::attestation,
                      fmt::format("JWS: expected a signed token ({}), saw alg \"none\" (unsecured), which is always "
                                  "refused",
                                  kAllowed));
  if (alg.rfind("HS", 0) == 0)
    return make_error(Errc::attestation,
                      fmt::format("JWS: expected a public-key signature ({}), saw alg \"{}\" (an HMAC shared secret), "
                                  "which is always refused",
                                  kAllowed, alg));
  for (const auto& spec : kAlgs)
    if (spec.name == alg) return &spec;
  return make_error(Errc::attestation, fmt::format("JWS: expected alg {}, saw \"{}\"", kAllowed, alg));
}

std::string kid_list(const Jwks& jwks) {
  std::string out;
  size_t shown = std::min<size_t>(jwks.keys.size(), 8);
  for (size_t i = 0; i < shown; ++i) out += fmt::format("{}\"{}\"", i ? ", " : "", jwks.keys[i].kid);
  if (jwks.keys.size() > shown) out += fmt::format(" and {} more", jwks.keys.size() - shown);
  return out;
}

Result<const Jwk*> select_key(const Jwt& jwt, const Jwks& jwks) {
  if (jwks.empty()) return make_error(Errc::key, "JWKS: expected a key to verify with, saw an empty set");
  if (jwt.header.kid) {
    if (const Jwk* k = jwks.find(*jwt.header.kid)) return k;
    return make_error(Errc::key, fmt::format("JWS: expected a key with kid \"{}\" in the JWKS, saw kids {}",
                                             *jwt.header.kid, kid_list(jwks)));
  }
  if (jwks.keys.size() == 1) return &jwks.keys[0];
  return make_error(Errc::key, fmt::format("JWS: expected a kid in the header to choose among the JWKS's {} keys, "
                                           "saw none",
                                           jwks.keys.size()));
}

Result<void> check_key_fits(const AlgSpec& spec, const Jwk& key) {
  if (key.type != spec.type || (spec.type == JwkType::ec && key.curve != spec.curve))
    return make_error(Errc::attestation,
                      fmt::format("JWS: alg {} needs {}, saw {}", spec.name,
                                  spec.type == JwkType::rsa ? "an RSA key" : fmt::format("an EC {} key", spec.curve),
                                  key.description()));
  if (key.alg && *key.alg != spec.name)
    return make_error(Errc::attestation, fmt::format("JWS: expected alg {} (the {}'s own alg), saw alg {}", *key.alg,
                                                     key.description(), spec.name));
  if (key.use && *key.use != "sig")
    return make_error(Errc::attestation,
                      fmt::format("JWS: expected a key for use \"sig\", saw {} for use \"{}\"", key.description(), *key.use));
  return {};
}

Result<void> verify_rsa(const AlgSpec& spec, const Jwk& key, ByteView message, ByteView sig) {
  crypto::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, spec.md(), nullptr, key.get()) != 1)
    return make_error(Errc::internal, "EVP_DigestVerifyInit failed: " + crypto::openssl_error());
  bool set = spec.pss ? EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
                            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1
                      : EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  if (!set) return make_error(Errc::internal, "setting the RSA padding failed: " + crypto::openssl_error());
  if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size()) != 1)
    return make_error(Errc::attestation, fmt::format("JWS: the {} signature does not verify under the {}{}", spec.name,
                                                     key.description(), crypto::openssl_detail()));
  return {};
}

}  // namespace

Result<Bytes> from_base64url(std::string_view text) {
  Bytes out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int nbits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = base64url_value(text[i]);
    if (v < 0)
      return parse_error(fmt::format("expected base64url (A-Z a-z 0-9 - _, no padding), saw {} at offset {}",
                                     describe_char(text[i]), i));
    acc = ((acc << 6) | uint32_t(v)) & 0xFFFFFF;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(uint8_t(acc >> nbits));
    }
  }
  if (text.size() % 4 == 1)
    return parse_error(fmt::format("expected base64url, saw {} characters (one too many for whole bytes)", text.size()));
  if (nbits > 0 && (acc & ((1u << nbits) - 1)) != 0)
    return parse_error("expected canonical base64url, saw non-zero unused bits in the last character");
  return out;
}

std::string to_base64url(ByteView bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | bytes[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(bytes[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

Result<Jwt> parse_jwt(std::string_view token) {
  if (token.empty()) return parse_error("JWT: expected a token, saw an empty string");
  if (token.size() > kMaxJwtBytes)
    return parse_error(fmt::format("JWT: expected at most {} bytes, saw {}", kMaxJwtBytes, token.size()));
  size_t dots = size_t(std::count(token.begin(), token.end(), '.'));
  if (dots != 2)
    return parse_error(fmt::format("JWT: expected three base64url parts separated by '.' (JWS compact "
                                   "serialisation), saw {} part{}",
                                   dots + 1, dots == 0 ? "" : "s"));
  size_t d1 = token.find('.');
  size_t d2 = token.find('.', d1 + 1);
  std::string_view h = token.substr(0, d1), p = token.substr(d1 + 1, d2 - d1 - 1), s = token.substr(d2 + 1);
  if (h.empty()) return parse_error("JWT header: expected base64url JSON, saw an empty first part");
  if (p.empty()) return parse_error("JWT payload: expected base64url JSON, saw an empty second part");

  Jwt jwt;
  CONFER_TRY(Bytes header_bytes, decode_part(h, "header"));
  CONFER_TRY(Bytes payload_bytes, decode_part(p, "payload"));
  CONFER_TRY(jwt.signature, decode_part(s, "signature"));
  CONFER_TRY(jwt.header_json, parse_part_object(header_bytes, "JWT header"));
  CONFER_TRY(jwt.payload, parse_part_object(payload_bytes, "JWT payload"));

  const json& hj = jwt.header_json;
  CONFER_TRY(jwt.header.alg, required_string(hj, "alg", "JWT header"));
  if (jwt.header.alg.empty()) return parse_error("JWT header: expected a non-empty 'alg', saw \"\"");
  CONFER_TRY(jwt.header.kid, optional_string(hj, "kid", "JWT header"));
  CONFER_TRY(jwt.header.typ, optional_string(hj, "typ", "JWT header"));
  CONFER_TRY(jwt.header.jku, optional_string(hj, "jku", "JWT header"));
  if (hj.contains("crit"))
    return parse_error(fmt::format("JWT header: expected no 'crit' (no extension is understood), saw {}",
                                   dump_json(hj["crit"]).substr(0, 200)));
  jwt.signing_input = std::string(token.substr(0, d2));
  return jwt;
}

std::string Jwk::description() const {
  if (type == JwkType::ec) return fmt::format("EC {} key kid \"{}\"", curve, kid);
  return fmt::format("RSA {} key kid \"{}\"", bits, kid);
}

const Jwk* Jwks::find(std::string_view kid) const noexcept {
  for (const auto& k : keys)
    if (k.kid == kid) return &k;
  return nullptr;
}

Result<Jwks> parse_jwks(std::string_view text) {
  CONFER_TRY(json doc, parse_json_object(text, "JWKS", JsonLimits{kMaxJwksBytes, kMaxJwtJsonDepth}));
  const json* keys = member(doc, "keys");
  if (keys == nullptr) return parse_error("JWKS: expected an array 'keys', saw none");
  if (!keys->is_array())
    return parse_error(fmt::format("JWKS: expected 'keys' to be an array, saw {}", keys->type_name()));
  if (keys->size() > kMaxJwksKeys)
    return parse_error(fmt::format("JWKS: expected at most {} keys, saw {}", kMaxJwksKeys, keys->size()));
  Jwks out;
  for (size_t i = 0; i < keys->size(); ++i) {
    std::string where = fmt::format("JWKS key {}", i);
    CONFER_TRY(Jwk key, parse_jwk((*keys)[i], where));
    for (size_t k = 0; k < out.keys.size(); ++k)
      if (out.keys[k].kid == key.kid)
        return parse_error(fmt::format("{}: expected a kid of its own, saw \"{}\", key {}'s too", where, key.kid, k));
    out.keys.push_back(std::move(key));
  }
  return out;
}

Result<void> verify_jws(const Jwt& jwt, const Jwks& jwks) {
  CONFER_TRY(const AlgSpec* spec, allowed_alg(jwt.header.alg));
  CONFER_TRY(const Jwk* key, select_key(jwt, jwks));
  CONFER_TRY_VOID(check_key_fits(*spec, *key));
  ByteView message = as_bytes(jwt.signing_input);
  if (spec->type == JwkType::rsa) {
    auto want = size_t(EVP_PKEY_get_size(key->get()));
    if (jwt.signature.size() != want)
      return make_error(Errc::attestation, fmt::format("JWS: expected a {}-byte {} signature (the modulus' size), "
                                                       "saw {} bytes",
                                                       want, spec->name, jwt.signature.size()));
    return verify_rsa(*spec, *key, message, jwt.signature);
  }
  size_t want = size_t(key->bits / 8) * 2;
  if (jwt.signature.size() != want)
    return make_error(Errc::attestation, fmt::format("JWS: expected a {}-byte {} signature (r || s), saw {} bytes",
                                                     want, spec->name, jwt.signature.size()));
  auto ok = crypto::verify_raw_ecdsa(key->get(), message, jwt.signature, spec->digest);
  if (!ok && ok.error().code == Errc::attestation)
    return make_error(Errc::attestation,
                      fmt::format("JWS: the {} signature does not verify under the {}", spec->name, key->description()));
  return ok;
}

}  // namespace confer::attest
