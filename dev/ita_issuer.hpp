// A development Intel Trust Authority: a locally generated key that mints tokens of
// ITA's shape, for tests and the development server. Verifiers accept them only with
// its JWKS, given in place of ITA's.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "attest/ita.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "crypto/ossl.hpp"

namespace confer::dev {

class DevItaIssuer {
 public:
  // PS384 or RS256 (RSA-3072), ES384 (P-384) or ES256 (P-256), with a random kid.
  static Result<DevItaIssuer> create(std::string alg = "PS384");

  const std::string& alg() const noexcept { return alg_; }
  const std::string& kid() const noexcept { return kid_; }
  EVP_PKEY* key() const noexcept { return key_.get(); }

  // {"keys":[{"kty", "kid", "alg", "use":"sig", public parameters}]}
  std::string jwks_json() const;

  // A compact JWS over `payload` with header {"alg", "kid", "typ":"JWT"}; `kid_override`
  // names another kid in the header (the signature is still this issuer's).
  Result<std::string> mint(const nlohmann::json& payload, std::optional<std::string> kid_override = {}) const;
  // The same with a header of the caller's (which may name any alg: the signature is
  // made with this issuer's own algorithm whatever the header says).
  Result<std::string> mint_with_header(const nlohmann::json& header, const nlohmann::json& payload) const;
  // This issuer's signature over `signing_input` (raw r || s for ECDSA).
  Result<Bytes> sign(std::string_view signing_input) const;

 private:
  std::string alg_;
  std::string kid_;
  crypto::PkeyPtr key_;
};

// A plausible ITA v1 claims set (TDX claims at the top level): iss `issuer`, iat and
// nbf `at`, exp `at` + `lifetime`, tdx_* values of the right sizes (REPORT_DATA
// 0x01..0x20 || 32 zero bytes, as confer binds a key), tdx_is_debuggable false,
// attester_tcb_status "UpToDate", attester_type "TDX".
nlohmann::json tdx_claims_template(UnixTime at, const std::string& issuer = std::string(attest::kItaIssuer),
                                   int64_t lifetime = 300);
// The same claims in a v2 token's shape: TDX and attester_* claims in a "tdx" object.
nlohmann::json tdx_claims_template_v2(UnixTime at, const std::string& issuer = std::string(attest::kItaIssuer),
                                      int64_t lifetime = 300);

}  // namespace confer::dev
