// The attested session every client command uses (chat, verify-attestation URL, and
// later login and sync): a channel to confer-server that is refused unless message 2's
// evidence verifies, binds the channel key, and belongs to a vouched-for release; then
// a fresh-nonce round when the server offers it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attest/jwt.hpp"
#include "attest/pcs.hpp"
#include "attest/snp_verify.hpp"
#include "attest/verification.hpp"
#include "client/collateral.hpp"
#include "release/manifest.hpp"
#include "transport/client.hpp"

namespace confer::client {

// Everything that decides whether a server is trusted.
struct TrustConfig {
  std::vector<crypto::Cert> extra_roots;  // development roots the user trusts (NOT AMD)
  attest::SnpPolicy policy;               // including pinned measurements (and .tdx)
  attest::Jwks ita_jwks = attest::default_ita_jwks();  // Intel Trust Authority's keys
  std::optional<release::ReleaseTrust> release;  // who signs releases
  bool offline = false;                   // never fetch collateral
  bool require_fresh = false;             // refuse servers without POST /v1/attestation
  // true: a measurement that neither a verified manifest nor a pin vouches for is
  // refused; false (auditing): reported as skipped.
  bool require_release = true;
  std::chrono::seconds connect_timeout{15};
  std::string cache_root;                 // VCEK cache ("" = none)
  std::string kds_url = attest::kDefaultKdsUrl;
  attest::PcsLocation pcs;                // Intel PCS, for TDX collateral the evidence lacks
  attest::PcsFetcher* pcs_fetcher = nullptr;  // null: libcurl
};

struct AttestedSession {
  std::unique_ptr<transport::ClientChannel> channel;
  attest::Verification verification;     // of message 2's evidence
  std::string evidence_json;             // message 2's payload, as sent
  bool fresh = false;                    // POST /v1/attestation answered and verified
  CollateralSource vcek;                 // where message 2's VCEK (or TDX collateral) came from
  Bytes signer_der;                      // the VCEK (or VLEK) that signed message 2's report
};

// On refusal the error is Errc::attestation and `refused` (when given) receives the
// verification that failed, for a full report.
Result<AttestedSession> open_attested_session(const transport::ServerUrl& url, const TrustConfig& trust,
                                              attest::Verification* refused = nullptr);

// Verifies one evidence payload (message 2 or a fresh-attestation answer) for `key`,
// with the nonce binding when `nonce` is set, and the release check.
// `at` 0: now; a receipt is re-checked at the time it was verified. `signer_der`
// receives the VCEK that signed the report.
Result<attest::Verification> verify_payload(ByteView payload, const noise::PublicKey& key,
                                               const TrustConfig& trust, std::optional<Bytes> nonce,
                                               CollateralSource* vcek_source = nullptr, UnixTime at = 0,
                                               Bytes* signer_der = nullptr);

// The evidence of message 2 as `verify-attestation --evidence` and `--receipt` read it
// back offline: the document as sent, with the channel (server key, url, time) and the
// VCEK that signed it when the server did not send one.
Result<std::string> saved_evidence(const AttestedSession& s, const std::string& url, UnixTime received);

// "verified SEV-SNP Milan, measurement d0d1d2d3d4d5d6d7..., release: pinned measurement"
// (TDX: "verified TDX (DCAP quote v4), TCB UpToDate, MRTD ...")
std::string session_summary(const AttestedSession& s);

// One request with a fresh id and `body`, sent with round_trip.
Result<transport::Response> request(transport::ClientChannel& channel, const std::string& verb, const std::string& path,
                                    std::string_view body, std::chrono::seconds timeout);
// A response's body for an error message: at most 300 bytes, control characters as spaces.
std::string answer_text(const transport::Response& response);

// Sends one request and waits for its first response (other ids are ignored).
Result<transport::Response> round_trip(transport::ClientChannel& channel, transport::Request request,
                                       std::chrono::seconds timeout);

}  // namespace confer::client
