// JSON Web Signatures in compact serialisation (RFC 7515 §7.1) and JSON Web Key Sets
// (RFC 7517 §5): a strict, bounded parser and a verifier that takes its keys only from
// a JWKS the caller pinned. Header parameters that point at keys (jku, x5u, jwk, x5c)
// are recorded or ignored, never followed: a token cannot choose its own key.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::attest {

inline constexpr size_t kMaxJwtBytes = 64 * 1024;
inline constexpr size_t kMaxJwtJsonDepth = 16;
inline constexpr size_t kMaxJwksBytes = 256 * 1024;
inline constexpr size_t kMaxJwksKeys = 64;
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;

// base64url (RFC 4648 §5) without padding, as JWS uses it (RFC 7515 §2): only the
// URL-safe alphabet, no '=', no whitespace, and the unused low bits of the last
// character zero, so that every byte string has exactly one encoding.
Result<Bytes> from_base64url(std::string_view text);
std::string to_base64url(ByteView bytes);

struct JwsHeader {
  std::string alg;
  std::optional<std::string> kid;
  std::optional<std::string> typ;
  std::optional<std::string> jku;  // recorded, never fetched
};

struct Jwt {
  JwsHeader header;
  nlohmann::json header_json;  // the whole protected header (an object)
  nlohmann::json payload;      // the claims set (an object)
  // ASCII(BASE64URL(header) || '.' || BASE64URL(payload)) exactly as received: the
  // bytes the signature covers (RFC 7515 §5.2 step 8), never re-encoded.
  std::string signing_input;
  Bytes signature;  // may be empty here; verify_jws refuses an empty one
};

// Three base64url parts separated by '.', at most kMaxJwtBytes in all; header and
// payload JSON objects nested at most kMaxJwtJsonDepth deep; the header has a string
// "alg", optional string "kid", "typ" and "jku", and no "crit" (no extension is
// understood, RFC 7515 §4.1.11). The algorithm is not judged here: verify_jws does.
// Errors are Errc::parse and name the part.
Result<Jwt> parse_jwt(std::string_view token);

enum class JwkType { rsa, ec };

struct Jwk {
  std::string kid;
  JwkType type = JwkType::rsa;
  std::optional<std::string> alg;  // the key's own "alg": when present, the only one allowed
  std::optional<std::string> use;  // "sig" or absent to sign; any other value is never used
  std::string curve;               // "P-256" or "P-384" for EC, empty for RSA
  int bits = 0;                    // RSA modulus or EC group size
  std::shared_ptr<EVP_PKEY> key;   // public only; shared so that a Jwks copies cheaply

  EVP_PKEY* get() const noexcept { return key.get(); }
  std::string description() const;  // "RSA 3072 kid \"k1\"", "EC P-384 kid \"k2\""
};

struct Jwks {
  std::vector<Jwk> keys;

  const Jwk* find(std::string_view kid) const noexcept;
  bool empty() const noexcept { return keys.empty(); }
};

// {"keys": [...]} with at most kMaxJwksKeys keys, each with a unique "kid":
//   RSA: "n" and "e" base64url, minimal (no leading zero octet), a 2048..8192-bit odd
//        modulus and an odd exponent of at least 3;
//   EC:  "crv" P-256 or P-384, "x" and "y" base64url of the curve's full size, a point
//        on the curve.
// A private member ("d", ...) and any other "kty" are refused. "x5c" is ignored: the
// set is trusted as a whole, not by its certificates. Errors are Errc::parse and name
// the key's index. An empty "keys" array parses (to a set that verifies nothing).
Result<Jwks> parse_jwks(std::string_view json);

// Verifies `jwt`'s signature with a key of `jwks`:
//   - the key is the one whose kid is the header's kid; a header without kid is
//     accepted only when the JWKS holds exactly one key (else Errc::key);
//   - the algorithm is PS384 (RSASSA-PSS, SHA-384, MGF1-SHA-384, 48-byte salt),
//     RS256 (RSASSA-PKCS1-v1_5, SHA-256), ES384 (P-384, SHA-384) or ES256 (P-256,
//     SHA-256), matching the key's type and curve and the key's own "alg" when present;
//     "none", HS256/384/512 and any other algorithm are always refused (Errc::attestation);
//   - an RSA signature is exactly the modulus' size, an ECDSA one exactly r || s of
//     the curve's size (RFC 7518 §3.4);
//   - a signature that does not verify is Errc::attestation.
Result<void> verify_jws(const Jwt& jwt, const Jwks& jwks);

}  // namespace confer::attest
