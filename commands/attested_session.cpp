#include "commands/attested_session.hpp"

#include <openssl/rand.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/evidence.hpp"
#include "commands/attestation_input.hpp"

namespace confer::cli {

using namespace confer::attest;
using nlohmann::json;

namespace {

// The release the measurement belongs to: a pinned measurement, or a release manifest
// whose Sigstore bundle verifies with the pinned release identity and lists it.
void check_release(ByteView payload, const TrustConfig& trust, SnpVerification& v) {
  json doc = json::parse(payload.begin(), payload.end(), nullptr, false);
  bool has_manifest = !doc.is_discarded() && doc.is_object() && doc.contains("manifest") &&
                      doc["manifest"].is_string() && doc.contains("manifestBundle") &&
                      doc["manifestBundle"].is_string();
  std::string measurement = v.report ? to_hex(v.report->measurement) : "";
  CheckStatus refuse = trust.require_release ? CheckStatus::failed : CheckStatus::skipped;
  if (!trust.policy.measurements.empty()) {
    v.checks.push({"release.manifest", CheckStatus::skipped, "measurement pinned by the user",
                        has_manifest ? "manifest present, not needed" : "no manifest", {}});
    return;
  }
  if (!has_manifest) {
    v.checks.push({"release.manifest", refuse, "a signed release manifest, or a pinned measurement",
                        "no manifest (measurement " + measurement + ")", {}});
    return;
  }
  if (!trust.release) {
    v.checks.push({"release.manifest", refuse,
                        "a release identity to check the manifest against (--release-identity, --sigstore-root)",
                        "a manifest, but no release identity is configured", {}});
    return;
  }
  if (!v.report) return;
  const std::string& manifest = doc["manifest"].get_ref<const std::string&>();
  v.checks.push(release::check_release(as_bytes(manifest), doc["manifestBundle"].get_ref<const std::string&>(),
                                            *trust.release, v.report->measurement, now_utc()));
}

Result<SnpVerification> verify_payload(ByteView payload, const noise::PublicKey& key, const TrustConfig& trust,
                                    std::optional<Bytes> nonce) {
  UnixTime at = now_utc();
  auto evidence = parse_evidence(payload);
  if (!evidence)
    return refused_at("report.format", "SEV-SNP evidence JSON", evidence.error().message, at);
  CONFER_TRY(AssembledInput assembled, assemble_input(*evidence, {"", "", trust.offline}, at));
  if (assembled.refused) return std::move(*assembled.refused);
  SnpVerifyOptions options;
  options.at = at;
  options.policy = trust.policy;
  options.extra_roots = trust.extra_roots;
  options.channel_key = key;
  options.fresh_nonce = std::move(nonce);
  SnpVerification v = verify_report(*assembled.input, options);
  check_release(payload, trust, v);
  return v;
}

Error refusal(const SnpVerification& v) {
  const Check* f = v.first_failure();
  return make_error(Errc::attestation, f ? fmt::format("attestation refused: {}: expected {}, seen {}", f->name,
                                                       f->expected, f->seen)
                                         : "attestation refused");
}

}  // namespace

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

Result<AttestedSession> open_attested_session(const transport::ServerUrl& url, const TrustConfig& trust,
                                              SnpVerification* refused) {
  AttestedSession s;
  std::optional<Error> verify_error;
  auto verifier = [&](const noise::PublicKey& key, ByteView payload) -> Result<void> {
    s.evidence_json.assign(payload.begin(), payload.end());
    auto v = verify_payload(payload, key, trust, std::nullopt);
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

  // Fresh evidence for a nonce of ours, when the server offers it (DESIGN §3).
  Bytes nonce(32);
  if (RAND_bytes(nonce.data(), 32) != 1) return make_error(Errc::internal, "RAND_bytes failed");
  transport::Request req;
  req.id = transport::random_id();
  req.verb = "POST";
  req.path = "/v1/attestation";
  std::string body = json{{"nonce", to_hex(nonce)}}.dump();
  req.body.assign(body.begin(), body.end());
  CONFER_TRY(auto response, round_trip(*s.channel, req, std::chrono::seconds(30)));
  if (response.status == 404) {
    if (trust.require_fresh)
      return make_error(Errc::attestation, "attestation refused: fresh: expected a server that answers POST "
                                           "/v1/attestation (--require-fresh), seen 404");
    return s;
  }
  if (response.status != 200)
    return make_error(Errc::protocol, fmt::format("POST /v1/attestation answered {}: {}", response.status,
                                                  std::string(response.body.begin(), response.body.end())));
  CONFER_TRY(SnpVerification fresh, verify_payload(response.body, s.channel->server_static(), trust, nonce));
  if (!fresh.verified()) {
    if (refused != nullptr) *refused = fresh;
    return refusal(fresh);
  }
  s.fresh = true;
  return s;
}

std::string session_summary(const AttestedSession& s) {
  const auto& v = s.verification;
  std::string m = v.report ? to_hex(v.report->measurement).substr(0, 16) + "..." : "?";
  std::string release = "pinned measurement";
  for (const auto& c : v.checks)
    if (c.name == "release.manifest" && c.status == CheckStatus::ok) release = "signed manifest";
  return fmt::format("verified SEV-SNP {}, measurement {}, release: {}{}{}", product_name(v.product), m, release,
                     s.fresh ? ", fresh" : "", v.development_root ? " (development root, NOT AMD)" : "");
}

}  // namespace confer::cli
