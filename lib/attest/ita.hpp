// Intel Trust Authority (ITA) attestation tokens: the production TDX path
// (ATTESTATION §1.3). ITA appraises the TD quote and returns a JWT (PS384 by default,
// RS256 on request); the client checks it against a pinned JWKS, then reads the TDX
// claims. Appraising the claims against a policy (MRTD, RTMRs, REPORT_DATA binding,
// debug, TCB status) is the TDX policy's job, not this file's.
//
// Claims (ITA's EAT profile, https://portal.trustauthority.intel.com/eat_profile.html):
// v1 tokens carry them at the top level, v2 tokens (ver "2.0.0") nest them, with the
// attester_* claims, in a "tdx" object; "iss", "exp", "iat" and "nbf" are top-level in both.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/jwt.hpp"
#include "core/bytes.hpp"
#include "core/check.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

namespace confer::attest {

// The check names, an interface like snp_checks.hpp's: scripts match on them.
namespace ita_checks {
inline constexpr std::string_view kFormat = "ita.format";
inline constexpr std::string_view kSignature = "ita.signature";
inline constexpr std::string_view kIssuer = "ita.issuer";
inline constexpr std::string_view kExpiry = "ita.expiry";
inline constexpr std::string_view kClaims = "ita.claims";
}  // namespace ita_checks

// The "iss" of ITA's current tokens (2025 on). Older examples in Intel's documentation
// show "Intel Trust Authority"; the EU region's portal is portal.eu.trustauthority.intel.com.
inline constexpr std::string_view kItaIssuer = "https://portal.trustauthority.intel.com";
// Where ITA publishes its token-signing JWKS (never fetched by the library).
inline constexpr std::string_view kItaJwksUrl = "https://portal.trustauthority.intel.com/certs";

using TdxMeasurement = std::array<uint8_t, 48>;

struct ItaClaims {
  std::string issuer;
  UnixTime exp = 0, iat = 0, nbf = 0;  // 0 when absent
  TdxMeasurement mrtd{};
  std::array<TdxMeasurement, 4> rtmr{};
  std::optional<TdxMeasurement> mrseam;
  Bytes report_data;  // 64 bytes
  bool debuggable = true;
  std::string tcb_status;  // attester_tcb_status: "UpToDate", "OutOfDate", ...
  std::vector<std::string> advisory_ids;
  std::optional<Bytes> tee_tcb_svn;  // 16 bytes
  std::string attester_type;         // "TDX"
};

struct ItaOptions {
  UnixTime at = 0;
  std::vector<std::string> issuers{std::string(kItaIssuer)};
  int64_t leeway_seconds = 60;
};

struct ItaAppraisal {
  CheckList checks;
  // Set once the signature verified and the TDX claims are well formed, even when the
  // issuer or the validity period was refused: verified() says whether to rely on them.
  std::optional<ItaClaims> claims;

  bool verified() const noexcept;
  const Check* first_failure() const noexcept;
};

// ita.format, ita.signature (then stops at the first of these two that fails),
// ita.issuer, ita.expiry, ita.claims, in that order.
ItaAppraisal appraise_ita_token(std::string_view token, const Jwks& jwks, const ItaOptions& opt);

// The TDX claims of a token's payload, from its "tdx" object when it has one, else from
// the top level: tdx_mrtd, tdx_rtmr0..3 (96 hex digits), tdx_report_data (128 hex digits
// or standard base64 of 64 bytes), tdx_is_debuggable (a boolean), attester_tcb_status and
// attester_type (strings); optional tdx_mrseam (96 hex digits), tdx_tee_tcb_svn (32 hex
// digits), attester_advisory_ids (an array of strings). "iss" is copied when it is a
// string; exp, iat and nbf are left 0 (ita.expiry reads them). Errors (Errc::parse)
// name every claim that is missing or malformed.
Result<ItaClaims> ita_claims_from_payload(const nlohmann::json& payload);

// The compiled-in ITA JWKS. No copy of ITA's published set was available to pin, so it
// is the empty set: appraisal with it fails at ita.signature, saying that a JWKS file
// must be given.
std::string_view default_ita_jwks_json();
const Jwks& default_ita_jwks();

}  // namespace confer::attest
