#include "client/session.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/evidence.hpp"
#include "attest/evidence_document.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "crypto/secret.hpp"

namespace confer::client {

using namespace confer::attest;
using nlohmann::json;

namespace {

constexpr std::string_view kRelease = release::kCheckReleaseManifest;

// The release the measurement belongs to: a pinned measurement, or a release manifest
// whose Sigstore bundle verifies with the pinned release identity and lists it.
void check_release(const attest::Evidence& evidence, const TrustConfig& trust, SnpVerification& v, UnixTime at) {
  const auto& manifest = evidence.manifest;
  const auto& bundle = evidence.manifest_bundle;
  bool has_manifest = manifest && bundle;
  std::string measurement = v.report ? to_hex(v.report->measurement) : "";
  CheckStatus refuse = trust.require_release ? CheckStatus::failed : CheckStatus::skipped;
  if (!trust.policy.measurements.empty()) {
    v.checks.skip(kRelease, "measurement pinned by the user",
                  has_manifest ? "manifest present, not needed" : "no manifest");
    return;
  }
  if (!has_manifest) {
    v.checks.push({std::string(kRelease), refuse, "a signed release manifest, or a pinned measurement",
                   "no manifest (measurement " + measurement + ")", {}});
    return;
  }
  if (!trust.release) {
    v.checks.push({std::string(kRelease), refuse, "a release identity to check the manifest against",
                   "a manifest, but no release identity is configured", {}});
    return;
  }
  if (!v.report) return;
  v.checks.push(release::check_release(as_bytes(*manifest), *bundle, *trust.release, v.report->measurement, at));
}

Error refusal(const Verification& v) {
  const Check* f = v.first_failure();
  return make_error(Errc::attestation, f ? fmt::format("attestation refused: {}: expected {}, seen {}", f->name,
                                                       f->expected, f->seen)
                                         : "attestation refused");
}

Result<transport::Request> fresh_request(Bytes& nonce) {
  nonce.assign(32, 0);
  CONFER_TRY_VOID(crypto::fill_random(nonce.data(), nonce.size()));
  transport::Request req;
  req.id = transport::random_id();
  req.verb = "POST";
  req.path = "/v1/attestation";
  std::string body = json{{"nonce", to_hex(nonce)}}.dump();
  req.body.assign(body.begin(), body.end());
  return req;
}

// Fresh evidence for a nonce of ours, when the server offers it (DESIGN §3).
Result<void> fresh_round(AttestedSession& s, const TrustConfig& trust, Verification* refused) {
  Bytes nonce;
  CONFER_TRY(transport::Request req, fresh_request(nonce));
  CONFER_TRY(auto response, round_trip(*s.channel, req, std::chrono::seconds(30)));
  if (response.status == 404) {
    if (trust.require_fresh)
      return make_error(Errc::attestation, "attestation refused: fresh: expected a server that answers POST "
                                           "/v1/attestation, seen 404");
    return {};
  }
  if (response.status != 200)
    return make_error(Errc::protocol, fmt::format("POST /v1/attestation answered {}: {}", response.status,
                                                  std::string(response.body.begin(), response.body.end())));
  CONFER_TRY(Verification fresh, verify_payload(response.body, s.channel->server_static(), trust, nonce));
  if (!fresh.verified()) {
    if (refused != nullptr) *refused = fresh;
    return refusal(fresh);
  }
  s.fresh = true;
  return {};
}

// A TDX quote (with the collateral the server sent) or an ITA token, bound to `key`
// (or to our nonce), then its release: pinned MRTD/RTMRs, or a signed manifest whose
// tdxMeasurements list the TD's registers.
Result<TdxVerification> verify_tdx(const attest::Evidence& evidence, const noise::PublicKey& key,
                                   const TrustConfig& trust, std::optional<Bytes> nonce, UnixTime at,
                                   CollateralSource* source) {
  TdxVerifyOptions o;
  o.at = at;
  o.policy = trust.policy.tdx;
  o.report_data = trust.policy.report_data;
  o.extra_roots = trust.extra_roots;
  o.channel_key = key;
  o.fresh_nonce = std::move(nonce);
  TdxCollateral collateral = evidence.tdx_collateral;
  if (!evidence.ita_token && collateral.empty()) {
    // The server sent none: Intel's PCS (or the cache), unless offline.
    auto quote = parse_tdx_quote(evidence.report);
    if (quote) {
      std::unique_ptr<PcsFetcher> curl;
      PcsFetcher* fetcher = trust.pcs_fetcher;
      if (fetcher == nullptr) {
        curl = make_curl_pcs_fetcher();
        fetcher = curl.get();
      }
      auto lookup = find_or_fetch_tdx_collateral(*quote, at, trust.cache_root, trust.pcs, trust.offline, *fetcher);
      if (lookup) {
        collateral = std::move(lookup->collateral);
        if (source != nullptr)
          *source = CollateralSource{lookup->origin == TdxCollateralLookup::Origin::fetched ? CollateralOrigin::pcs
                                                                                            : CollateralOrigin::pcs_cache,
                                     lookup->origin == TdxCollateralLookup::Origin::fetched ? trust.pcs.pcs_url
                                                                                            : lookup->cache_dir};
      } else if (!trust.offline) {
        return std::move(lookup).error();
      }
    }
  }
  TdxVerification v = evidence.ita_token ? verify_ita_token(*evidence.ita_token, trust.ita_jwks, o)
                                         : verify_tdx_quote(evidence.report, collateral, o);
  auto registers = td_registers(v);
  CheckStatus refuse = trust.require_release ? CheckStatus::failed : CheckStatus::skipped;
  const auto& pins = trust.policy.tdx;
  bool pinned = pins.mrtd || pins.rtmr[0] || pins.rtmr[1] || pins.rtmr[2];
  bool has_manifest = evidence.manifest && evidence.manifest_bundle;
  if (pinned) {
    v.checks.skip(kRelease, "MRTD or RTMRs pinned by the user", has_manifest ? "manifest present, not needed" : "no manifest");
  } else if (!has_manifest) {
    v.checks.push({std::string(kRelease), refuse, "a signed release manifest, or pinned MRTD/RTMRs (--expect-mrtd, "
                                                  "--expect-rtmr)",
                   "no manifest", {}});
  } else if (!trust.release) {
    v.checks.push({std::string(kRelease), refuse, "a release identity to check the manifest against",
                   "a manifest, but no release identity is configured", {}});
  } else if (registers) {
    v.checks.push(release::check_release_tdx(as_bytes(*evidence.manifest), *evidence.manifest_bundle, *trust.release,
                                             registers->mrtd, registers->rtmr, at));
  }
  return v;
}

}  // namespace

Result<Verification> verify_payload(ByteView payload, const noise::PublicKey& key, const TrustConfig& trust,
                                    std::optional<Bytes> nonce, CollateralSource* vcek_source, UnixTime when,
                                    Bytes* signer_der) {
  UnixTime at = when != 0 ? when : now_utc();
  auto evidence = parse_evidence(payload);
  if (!evidence)
    return Verification(
        refused_at(attest::checks::kReportFormat, "SEV-SNP or TDX evidence JSON", evidence.error().message, at));
  if (evidence->platform == Platform::tdx) {
    CONFER_TRY(TdxVerification tdx, verify_tdx(*evidence, key, trust, std::move(nonce), at, vcek_source));
    Verification v(std::move(tdx));
    check_gpus(v, evidence->gpus, trust.policy.require_gpu, trust.policy.gpu_measurements, trust.extra_roots, at);
    return v;
  }
  CollateralRequest request;
  request.offline = trust.offline;
  request.cache_root = trust.cache_root;
  request.kds_url = trust.kds_url;
  CONFER_TRY(AssembledInput assembled, assemble_input(*evidence, request, at));
  if (vcek_source != nullptr) *vcek_source = assembled.vcek;
  if (assembled.refused) return Verification(std::move(*assembled.refused));
  if (signer_der != nullptr && assembled.input->signer) *signer_der = assembled.input->signer->der();
  SnpVerifyOptions options;
  options.at = at;
  options.policy = trust.policy;
  options.extra_roots = trust.extra_roots;
  options.channel_key = key;
  options.fresh_nonce = std::move(nonce);
  SnpVerification v = verify_report(*assembled.input, options);
  check_release(*evidence, trust, v, at);
  Verification out(std::move(v));
  check_gpus(out, evidence->gpus, trust.policy.require_gpu, trust.policy.gpu_measurements, trust.extra_roots, at);
  return out;
}

Result<transport::Response> round_trip(transport::ClientChannel& channel, transport::Request request,
                                       std::chrono::seconds timeout) {
  channel.send(request);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    CONFER_TRY(auto next, channel.next(std::chrono::milliseconds(100)));
    if (next && next->id == request.id) return std::move(*next);
  }
  return make_error(Errc::protocol, fmt::format("{} {}: no answer within {} s", request.verb, request.path,
                                                timeout.count()));
}

Result<transport::Response> request(transport::ClientChannel& channel, const std::string& verb, const std::string& path,
                                    std::string_view body, std::chrono::seconds timeout) {
  transport::Request req;
  req.id = transport::random_id();
  req.verb = verb;
  req.path = path;
  req.body.assign(body.begin(), body.end());
  return round_trip(channel, std::move(req), timeout);
}

std::string answer_text(const transport::Response& response) {
  std::string s(response.body.begin(), response.body.end());
  if (s.size() > 300) s = s.substr(0, 300) + "...";
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s;
}

Result<AttestedSession> open_attested_session(const transport::ServerUrl& url, const TrustConfig& trust,
                                              Verification* refused) {
  AttestedSession s;
  auto verifier = [&](const noise::PublicKey& key, ByteView payload) -> Result<void> {
    s.evidence_json.assign(payload.begin(), payload.end());
    auto v = verify_payload(payload, key, trust, std::nullopt, &s.vcek, 0, &s.signer_der);
    if (!v) return std::move(v).error();
    s.verification = std::move(v).value();
    if (!s.verification.verified()) {
      if (refused != nullptr) *refused = s.verification;
      return refusal(s.verification);
    }
    return {};
  };
  transport::ChannelOptions options;
  options.proxy = transport::proxy_for(url);
  options.connect_timeout = trust.connect_timeout;
  CONFER_TRY(s.channel, transport::connect_channel(url, verifier, options));
  CONFER_TRY_VOID(fresh_round(s, trust, refused));
  return s;
}

Result<std::string> saved_evidence(const AttestedSession& s, const std::string& url, UnixTime received) {
  CONFER_TRY(attest::EvidenceDocument doc, attest::EvidenceDocument::parse(s.evidence_json));
  if (s.channel) doc.channel = attest::SavedChannel{to_hex(s.channel->server_static()), url, format_rfc3339(received)};
  if (!doc.vcek && !s.signer_der.empty() && !s.verification.tdx) doc.vcek = to_base64(s.signer_der);
  return doc.serialize();
}

std::string session_summary(const AttestedSession& s) {
  const auto& v = s.verification;
  std::string m = v.measurement();
  m = m.empty() ? "?" : m.substr(0, 16) + "...";
  const Check* rel = v.checks().find(kRelease);
  std::string release = rel != nullptr && rel->ok() ? "signed manifest" : v.tdx ? "pinned MRTD/RTMRs" : "pinned measurement";
  return fmt::format("verified {}, {} {}, release: {}, {}{}", v.summary(), v.tdx ? "MRTD" : "measurement", m, release,
                     s.fresh ? "fresh evidence" : "handshake evidence",
                     !v.development_root() ? "" : v.tdx ? " (development root, NOT Intel)" : " (development root, NOT AMD)");
}

}  // namespace confer::client
