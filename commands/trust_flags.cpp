#include "commands/trust_flags.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "commands/common.hpp"
#include "core/paths.hpp"

namespace confer::cli {

using namespace confer::attest;

void declare_trust_flags(CLI::App& app, TrustFlags& f) {
  app.add_option("--trust-root", f.trust_roots, "Also trust this root certificate (development chains; NOT AMD)")
      ->allow_extra_args(false);
  app.add_option("--expect-measurement", f.measurements, "Pin the launch measurement (96 hex digits); repeatable")
      ->allow_extra_args(false);
  app.add_option("--expect-mrtd", f.expect_mrtd, "TDX: pin MRTD (96 hex digits)");
  app.add_option("--expect-rtmr", f.expect_rtmr, "TDX: pin an RTMR, N=HEX with N 0-3; repeatable")
      ->allow_extra_args(false);
  app.add_option("--ita-jwks", f.ita_jwks, "TDX: Intel Trust Authority's JWKS to check its tokens with");
  app.add_option("--policy", f.policy, "JSON attestation policy file");
  app.add_option("--sigstore-root", f.sigstore_root, "Sigstore trusted_root.json to check release manifests with");
  app.add_option("--release-identity", f.release_identity, "The release signer's certificate SAN (e-mail or URI)");
  app.add_option("--release-issuer", f.release_issuer,
                 "The release signer's OIDC issuer (default https://accounts.google.com)");
}

void apply_config_defaults(TrustFlags& f, const UserConfig& cfg) {
  if (f.trust_roots.empty()) f.trust_roots = cfg.trust_roots;
  if (f.measurements.empty()) {
    f.measurements = cfg.measurements;
    f.measurements_from_config = !f.measurements.empty();
  }
  if (f.policy.empty()) f.policy = cfg.policy;
  if (f.sigstore_root.empty()) f.sigstore_root = cfg.sigstore_root;
  if (f.release_identity.empty()) f.release_identity = cfg.release_identity;
  if (f.release_issuer.empty()) f.release_issuer = cfg.release_issuer;
}

namespace {

Result<std::vector<crypto::Cert>> load_trust_roots(const std::vector<std::string>& paths) {
  std::vector<crypto::Cert> out;
  for (const auto& path : paths) {
    CONFER_TRY(Bytes bytes, read_file(path));
    auto certs = crypto::Cert::all_from_pem(bytes);
    if (!certs) return make_error(Errc::usage, "--trust-root " + path + ": " + certs.error().message);
    for (auto& c : *certs) out.push_back(std::move(c));
  }
  return out;
}

// Who signs releases: --sigstore-root FILE and --release-identity SAN (both or neither)
// and --release-issuer URL. Empty when neither is given.
Result<std::optional<release::ReleaseTrust>> load_release_trust(const TrustFlags& f) {
  if (f.sigstore_root.empty() && f.release_identity.empty()) return std::optional<release::ReleaseTrust>();
  if (f.sigstore_root.empty() || f.release_identity.empty())
    return make_error(Errc::usage, "--sigstore-root and --release-identity go together");
  CONFER_TRY(Bytes text, read_file(f.sigstore_root));
  auto root = sigstore::TrustedRoot::parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  if (!root) return make_error(Errc::usage, f.sigstore_root + ": " + root.error().message);
  std::string issuer = f.release_issuer.empty() ? kDefaultReleaseIssuer : f.release_issuer;
  return std::optional<release::ReleaseTrust>(release::ReleaseTrust{std::move(root).value(), {f.release_identity, issuer}});
}

}  // namespace

Result<SnpPolicy> load_policy(const std::string& path) {
  CONFER_TRY(Bytes text, read_file(path));
  auto parsed = parse_policy_json(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  if (!parsed) return make_error(Errc::usage, path + ": " + parsed.error().message);
  return std::move(parsed).value();
}

Result<client::TrustConfig> build_trust(const TrustFlags& f) {
  client::TrustConfig trust;
  CONFER_TRY(trust.release, load_release_trust(f));
  CONFER_TRY(trust.extra_roots, load_trust_roots(f.trust_roots));
  if (!f.policy.empty()) {
    CONFER_TRY(trust.policy, load_policy(f.policy));
  }
  if (!f.measurements.empty()) trust.policy.measurements.clear();
  for (const auto& m : f.measurements) {
    auto bytes = parse_measurement_hex(m);
    if (!bytes)
      return for_option(f.measurements_from_config ? "expect_measurement (config or CONFER_EXPECT_MEASUREMENT)"
                                                   : "--expect-measurement",
                        bytes.error());
    trust.policy.measurements.push_back(*bytes);
  }
  if (!f.expect_mrtd.empty()) {
    auto mrtd = parse_measurement_hex(f.expect_mrtd);
    if (!mrtd) return for_option("--expect-mrtd", mrtd.error());
    trust.policy.tdx.mrtd = *mrtd;
  }
  for (const auto& spec : f.expect_rtmr) {
    auto rtmr = parse_rtmr_spec(spec);
    if (!rtmr) return for_option("--expect-rtmr", rtmr.error());
    trust.policy.tdx.rtmr[rtmr->first] = rtmr->second;
  }
  if (!f.ita_jwks.empty()) {
    CONFER_TRY(Bytes text, read_file(f.ita_jwks));
    auto jwks = parse_jwks(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
    if (!jwks) return for_option("--ita-jwks", jwks.error());
    trust.ita_jwks = std::move(jwks).value();
  }
  set_collateral_locations(trust);
  return trust;
}

namespace {
std::string kds_url() {
  const char* base = std::getenv("CONFER_KDS_URL");
  return base != nullptr && *base != '\0' ? base : kDefaultKdsUrl;
}
}  // namespace

attest::PcsLocation pcs_location() {
  attest::PcsLocation where;
  // One override for both of Intel's hosts (tests serve them from loopback).
  const char* base = std::getenv("CONFER_PCS_URL");
  if (base != nullptr && *base != '\0') where.pcs_url = where.certificates_url = base;
  return where;
}

void set_collateral_locations(client::TrustConfig& trust) {
  trust.cache_root = cache_dir();
  trust.kds_url = kds_url();
  trust.pcs = pcs_location();
}

client::CollateralRequest collateral_request(bool offline) {
  client::CollateralRequest r;
  r.offline = offline;
  r.cache_root = cache_dir();
  r.kds_url = kds_url();
  return r;
}

void note_collateral(const client::CollateralSource& vcek) {
  if (vcek.origin == client::CollateralOrigin::kds)
    print_note(fmt::format("fetched the VCEK from {} and cached it", vcek.where));
  else if (vcek.origin == client::CollateralOrigin::cache)
    print_note("using the cached VCEK " + vcek.where);
  else if (vcek.origin == client::CollateralOrigin::pcs)
    print_note(fmt::format("fetched Intel's TDX collateral from {} and cached it", vcek.where));
  else if (vcek.origin == client::CollateralOrigin::pcs_cache)
    print_note("using the cached Intel TDX collateral in " + vcek.where);
}

void note_tdx_collateral(const attest::TdxCollateralLookup& lookup) {
  if (lookup.origin == attest::TdxCollateralLookup::Origin::fetched)
    print_note(fmt::format("fetched Intel's collateral ({} requests) and cached it in {}", lookup.urls.size(),
                           lookup.cache_dir));
  else
    print_note("using the cached Intel collateral in " + lookup.cache_dir);
}

std::string hint_for(const Check& c) {
  if (c.name == attest::checks::kChainValidity)
    return "evidence and certificates age; re-verify at the time it was produced with --at TIME";
  if (c.name == attest::checks::kChainArk && c.seen.find("wrong one") != std::string::npos)
    return "--trust-root names another chain's root: pass the root written by the confer-server (or dev-evidence) "
           "that produced this evidence";
  if (c.name == attest::checks::kChainArk)
    return "confer trusts AMD's pinned roots; for a development chain you trust, pass --trust-root FILE";
  if (c.name == attest::checks::kReportFormat)
    return "--evidence takes a raw 1184-byte report, its base64, an Azure HCL report or an evidence JSON";
  if (c.name == attest::checks::kChannelBinding)
    return "the evidence does not bind this connection's key: another machine's report was replayed";
  if (c.name == "release.manifest")
    return "pin the measurement you expect with --expect-measurement HEX, or name the release signer with "
           "--sigstore-root FILE --release-identity SAN";
  if ((c.name.rfind("crl.", 0) == 0 || c.name.find(".validity") != std::string::npos) &&
      c.seen.find("stale") != std::string::npos)
    return "Intel re-issues collateral about monthly: give current collateral with --collateral DIR, or re-verify "
           "at the time the evidence was produced with --at TIME";
  if (c.name == "pck.chain")
    return "confer trusts Intel's pinned SGX Root CA; for a development chain you trust, pass --trust-root FILE";
  if (c.name == "quote.format")
    return "--evidence takes a raw TDX quote (version 4 or 5), its base64, or evidence JSON with \"dcap:<base64>\"";
  if (c.name == "tcb.status")
    return "the platform's TCB is authentic but not a status the policy accepts (tdx.accepted_tcb_statuses in "
           "--policy FILE)";
  if (c.name == "ita.signature")
    return "no Intel Trust Authority key is built in: give ITA's published keys with --ita-jwks FILE";
  if (c.name == "ita.expiry") return "Intel Trust Authority tokens live minutes; re-verify at the time with --at TIME";
  if (c.name.rfind("tcb-info.", 0) == 0 || c.name.rfind("qe-identity.", 0) == 0)
    return "give Intel's collateral for this platform with --collateral DIR (tcb_info.json, qe_identity.json, "
           "the CRLs and the issuer chains)";
  if (c.name.rfind("gpu.", 0) == 0)
    return "--gpu-evidence takes an SPDM GET_MEASUREMENTS request and response, --gpu-chain its PEM chain leaf first";
  if (c.name.rfind("policy.", 0) == 0) return "the report is authentic but does not meet the policy";
  return "every check, with what was expected and seen, is in the report on standard output";
}

Result<transport::ServerUrl> configured_server(const std::string& server) {
  if (server.empty())
    return make_error(Errc::usage, "no server: expected --server URL, CONFER_SERVER, or server in the config file");
  return transport::parse_server_url(server);
}

int fail_session(const Error& error, const attest::Verification& refused, const transport::ServerUrl& url,
                 bool require_fresh) {
  if (error.code == Errc::network && error.message.find("--connect-timeout") != std::string::npos)
    return fail(error, {"a slow server or network may need a larger --connect-timeout"});
  if (error.code == Errc::network) return fail(error, {"is confer-server running at " + url.text() + "?"});
  if (error.code != Errc::attestation) return fail(error);
  if (const Check* f = refused.first_failure()) return fail(error, {hint_for(*f)}, f->name);
  if (require_fresh) return fail(error, {"--require-fresh refuses servers that do not offer fresh attestation"});
  return fail(error, {"see confer verify-attestation " + url.text()});
}

}  // namespace confer::cli
