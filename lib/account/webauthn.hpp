// WebAuthn as a relying party checks it (PASSKEYS.md §7), for confer-server's accounts,
// and the client's side of it: clientDataJSON in the specification's serialisation.
// libfido2 does not check clientDataJSON, the challenge, the origin or the counter, so
// every rule is here, and each failure names the rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/ossl.hpp"

namespace confer::account {

inline constexpr int64_t kCoseEs256 = -7;
inline constexpr int64_t kCoseEdDsa = -8;
inline constexpr uint8_t kFlagUp = 0x01, kFlagUv = 0x04, kFlagBe = 0x08, kFlagBs = 0x10;
inline constexpr size_t kMaxClientDataJson = 4096;
inline constexpr size_t kMaxAuthenticatorData = 4096;

std::string base64url(ByteView bytes);               // no padding
Result<Bytes> from_base64url(std::string_view text);  // Errc::parse; padding refused

// {"type":TYPE,"challenge":B64URL,"origin":ORIGIN,"crossOrigin":false}, exactly as a
// browser serialises it (WebAuthn L3 §5.8.1.1).
std::string client_data_json(std::string_view type, ByteView challenge, std::string_view origin);

// A public key as COSE gives it: ES256 x || y (64 bytes, the point checked on the curve)
// or EdDSA (Ed25519, 32 bytes). Errc::key for anything else.
Result<crypto::PkeyPtr> credential_public_key(int64_t algorithm, ByteView raw);

struct Assertion {
  Bytes credential_id;
  std::string client_data_json;
  Bytes authenticator_data;
  Bytes signature;  // ES256: DER Ecdsa-Sig-Value; EdDSA: 64 bytes
};

struct Expected {
  Bytes challenge;     // the server's, single use
  std::string origin;  // "https://confer.to"
  std::string rp_id;   // "confer.to"
};

struct AssertionFacts {
  uint8_t flags = 0;
  uint32_t sign_count = 0;
};

// type "webauthn.get", challenge, origin, crossOrigin not true, rpIdHash, UP and UV set,
// BS only with BE, then the signature over authData || SHA-256(clientDataJSON).
// Errc::key naming the first rule broken. The counter is the caller's (it needs state).
Result<AssertionFacts> verify_assertion(const Assertion& assertion, const Expected& expected, int64_t algorithm,
                                        ByteView public_key);

// The counter rule (§7.2 step 8): when either is non-zero, the new one must be larger.
bool counter_acceptable(uint32_t stored, uint32_t seen) noexcept;

}  // namespace confer::account
