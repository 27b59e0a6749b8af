// The trust flags chat and verify-attestation share (--trust-root, --expect-measurement,
// --policy, --sigstore-root, --release-identity, --release-issuer), declared once, with
// the config file's defaults; and what the command layer says about verification.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/collateral.hpp"
#include "attest/verification.hpp"
#include "client/session.hpp"
#include "commands/user_config.hpp"

namespace confer::cli {

struct TrustFlags {
  std::vector<std::string> trust_roots;
  std::vector<std::string> measurements;
  bool measurements_from_config = false;  // so errors name the config, not the flag
  std::string policy;
  std::string expect_mrtd;               // TDX
  std::vector<std::string> expect_rtmr;  // TDX, N=HEX
  std::string sigstore_root;
  std::string release_identity;
  std::string release_issuer;
  std::string ita_jwks;  // Intel Trust Authority's keys (TDX evidence appraised by ITA)
};

// `subject` words the help ("the server", "the evidence").
void declare_trust_flags(CLI::App& app, TrustFlags& flags);
// Flags win; unset ones take the config file's (and CONFER_*) defaults.
void apply_config_defaults(TrustFlags& flags, const UserConfig& config);

// Reads the files the flags name: roots, policy, pinned measurements, release identity.
// Errors name the flag.
Result<client::TrustConfig> build_trust(const TrustFlags& flags);
Result<attest::SnpPolicy> load_policy(const std::string& path);

// VCEK cache and KDS base URL (CONFER_KDS_URL) for the collateral request.
void set_collateral_locations(client::TrustConfig& trust);
// Intel PCS (CONFER_PCS_URL overrides both of Intel's hosts).
attest::PcsLocation pcs_location();
client::CollateralRequest collateral_request(bool offline);
// "fetched the VCEK from ..." / "using the cached VCEK ..." on stderr, when it was.
void note_collateral(const client::CollateralSource& vcek);
void note_tdx_collateral(const attest::TdxCollateralLookup& lookup);

// The hint that goes with a refusal.
std::string hint_for(const Check& check);

// The server to talk to, from --server or the config (already merged into `server`):
// Errc::usage when there is none or it is not a ws/wss/http/https URL.
Result<transport::ServerUrl> configured_server(const std::string& server);
inline constexpr const char* kNoServerHint =
    "for a local development server, run confer-server --attestation dev --upstream demo and paste the "
    "confer chat line it prints";
// A session that did not open: a refusal names its first failed check (and the JSON
// error its check) with that check's hint; anything else asks whether the server runs.
int fail_session(const Error& error, const attest::Verification& refused, const transport::ServerUrl& url,
                 bool require_fresh);

// The full human report: the report's fields, every check with what was expected and
// seen, and the verdict (verify-attestation, and /verify in the REPL).
void print_verification(const attest::Verification& v, const std::string& evidence_format);

inline constexpr const char* kDefaultReleaseIssuer = "https://accounts.google.com";

}  // namespace confer::cli
