// Opening a channel to confer-server that is refused unless its evidence verifies and
// binds the channel key: what chat and verify-attestation URL share.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "attest/snp_verify.hpp"
#include "release/manifest.hpp"
#include "transport/client.hpp"

namespace confer::cli {

struct TrustConfig {
  std::vector<crypto::Cert> extra_roots;
  attest::SnpPolicy policy;
  bool offline = false;
  bool require_fresh = false;
  // chat refuses a measurement that neither a verified manifest nor the user vouches
  // for; verify-attestation reports it as skipped, as for files.
  bool require_release = true;
  std::chrono::seconds connect_timeout{15};
  std::optional<release::ReleaseTrust> release;  // who signs releases (--sigstore-root, --release-identity)
};

struct AttestedSession {
  std::unique_ptr<transport::ClientChannel> channel;
  attest::SnpVerification verification;  // of message 2's evidence
  std::string evidence_json;        // message 2's payload, as sent
  bool fresh = false;               // POST /v1/attestation answered and verified
};

// On refusal the error is Errc::attestation and `refused` (when given) receives the
// verification that failed, for a full report.
Result<AttestedSession> open_attested_session(const transport::ServerUrl& url, const TrustConfig& trust,
                                              attest::SnpVerification* refused = nullptr);

// "SEV-SNP Milan, measurement d0d1d2d3d4d5d6d7..., release: pinned measurement"
std::string session_summary(const AttestedSession& s);

// Sends one request and waits for its first response (other ids are ignored).
Result<transport::Response> round_trip(transport::ClientChannel& channel, transport::Request request,
                                       std::chrono::seconds timeout);

}  // namespace confer::cli
