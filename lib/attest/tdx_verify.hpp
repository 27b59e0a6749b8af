// Intel TDX DCAP quote verification, offline: every step of ATTESTATION §3.6–3.11 as a
// named check, against the Intel SGX Root CA compiled in, with the collateral (TCB info,
// QE identity, CRLs) the caller assembled and a verification time of its choosing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/ita.hpp"
#include "attest/pck_ext.hpp"
#include "attest/tdx_collateral.hpp"
#include "attest/tdx_policy.hpp"
#include "attest/tdx_quote.hpp"
#include "core/check.hpp"
#include "crypto/x509.hpp"

namespace confer::attest {

namespace tdx_checks {
inline constexpr std::string_view kFormat = "quote.format";
inline constexpr std::string_view kTrailing = "quote.trailing-data";
inline constexpr std::string_view kSignature = "quote.signature";
inline constexpr std::string_view kPckChain = "pck.chain";
inline constexpr std::string_view kQeReportSignature = "qe.report-signature";
inline constexpr std::string_view kQeReportData = "qe.report-data";
inline constexpr std::string_view kPckExtensions = "pck.extensions";
inline constexpr std::string_view kRootCrl = "crl.root";
inline constexpr std::string_view kPckCrl = "crl.pck";
inline constexpr std::string_view kTcbInfoSignature = "tcb-info.signature";
inline constexpr std::string_view kTcbInfoValidity = "tcb-info.validity";
inline constexpr std::string_view kTcbInfoPlatform = "tcb-info.platform";
inline constexpr std::string_view kTdxModule = "tdx-module.identity";
inline constexpr std::string_view kQeIdentitySignature = "qe-identity.signature";
inline constexpr std::string_view kQeIdentityValidity = "qe-identity.validity";
inline constexpr std::string_view kQeIdentity = "qe-identity.match";
inline constexpr std::string_view kTcbStatus = "tcb.status";
inline constexpr std::string_view kPolicyEvaluation = "policy.tcb-evaluation-number";
inline constexpr std::string_view kPolicyDebug = "policy.debug";
inline constexpr std::string_view kPolicyAttributes = "policy.td-attributes";
inline constexpr std::string_view kPolicyMrseam = "policy.mrseam";
inline constexpr std::string_view kPolicyTeeTcbSvn = "policy.min-tee-tcb-svn";
inline constexpr std::string_view kPolicyMrtd = "policy.mrtd";
inline constexpr std::string_view kPolicyRtmr[4] = {"policy.rtmr0", "policy.rtmr1", "policy.rtmr2", "policy.rtmr3"};
inline constexpr std::string_view kPolicyReportData = "policy.report-data";
inline constexpr std::string_view kChannelBinding = "channel.binding";
}  // namespace tdx_checks

// The collateral directory's files (docs/verification.md): tcb_info.json,
// tcb_info_issuer_chain.pem, qe_identity.json, qe_identity_issuer_chain.pem,
// pck_crl.der (or .pem), root_ca_crl.der (or .pem). Missing files stay unset; a
// directory holding none of them is an error.
Result<TdxCollateral> read_tdx_collateral_dir(const std::string& dir);

struct TdxVerifyOptions {
  UnixTime at = 0;
  TdxPolicy policy;
  std::optional<Bytes> report_data;  // REPORTDATA must start with these bytes
  std::vector<crypto::Cert> extra_roots;  // development roots (--trust-root), marked not Intel's
  // The channel's server static key: REPORTDATA must be key || 32 zero bytes (DESIGN §3).
  std::optional<std::array<uint8_t, 32>> channel_key;
  // With the channel key: REPORTDATA must be SHA-512("confer-attest-v1" || key || nonce)
  // instead (a fresh attestation, DESIGN §3).
  std::optional<Bytes> fresh_nonce;
};

struct TdxTcbEvaluation {
  std::string status;           // combined: "UpToDate", "OutOfDate", ..., "NotSupported", "TdxModuleMismatch"
  std::string platform_status;  // the TCB level matched for SGX and TDX components
  std::string platform_date;
  std::string module_status;    // empty when TEE_TCB_SVN[1] = 0 (no module identity)
  std::string module_id;
  std::string qe_status;
  std::vector<std::string> advisories;
};

struct TdxVerification {
  CheckList checks;
  std::optional<TdxQuote> quote;
  std::optional<PckExtensions> pck;
  std::optional<TdxTcbEvaluation> tcb;
  std::vector<std::string> chain_subjects;  // PCK, CA, root
  int64_t tcb_evaluation_number = 0;
  bool development_root = false;
  UnixTime at = 0;
  // "local": confer checked the quote; "intel-trust-authority": an ITA token's claims,
  // whose quote and TCB Intel checked and confer did not.
  std::string appraisal = "local";
  std::optional<ItaClaims> ita;

  bool verified() const noexcept { return checks.passed(); }
  const Check* first_failure() const noexcept { return checks.first_failure(); }
};

TdxVerification verify_tdx_quote(ByteView quote, const TdxCollateral& collateral, const TdxVerifyOptions& options);

// An Intel Trust Authority token: its signature by a key of `jwks`, issuer and expiry,
// then the same TD policy (pins, debug, report data, binding, accepted TCB status) over
// its claims. `issuers` empty: Intel's.
TdxVerification verify_ita_token(std::string_view token, const Jwks& jwks, const TdxVerifyOptions& options,
                                 const std::vector<std::string>& issuers = {});

// Intel's TCB evaluation (ATTESTATION §3.10) over parsed pieces; exposed for tests.
TdxTcbEvaluation evaluate_tdx_tcb(const TdxQuote& quote, const PckExtensions& pck, const TcbInfo& info,
                                  const QeIdentity& qe);

// The verdict, the quote's fields and every check (--json).
nlohmann::ordered_json tdx_verification_json(const TdxVerification& v, const std::string& evidence_format);

}  // namespace confer::attest
