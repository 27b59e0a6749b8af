// confer verify-attestation: an auditor's view of a deployment's evidence.
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/evidence.hpp"
#include "attest/kds.hpp"
#include "attest/snp_verify.hpp"
#include "commands/attestation_input.hpp"
#include "commands/attested_session.hpp"
#include "commands/common.hpp"
#include "core/paths.hpp"

namespace confer::cli {

namespace {

using namespace confer::attest;

struct Options {
  std::string sigstore_root;
  std::string release_identity;
  std::string release_issuer;
  std::string url;
  std::string save;
  std::string evidence;
  std::string vcek;
  std::string chain;
  std::string at;
  std::string policy;
  std::vector<std::string> measurements;
  std::string report_data;
  std::optional<unsigned> vmpl;
  std::string min_tcb;
  std::vector<std::string> trust_roots;
  bool offline = false;
  bool json = false;
};

Result<SnpPolicy> build_policy(const Options& o) {
  SnpPolicy p;
  if (!o.policy.empty()) {
    CONFER_TRY(Bytes text, read_file(o.policy));
    auto parsed = parse_policy_json(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
    if (!parsed) return make_error(Errc::usage, o.policy + ": " + parsed.error().message);
    p = std::move(parsed).value();
  }
  if (!o.measurements.empty()) {
    p.measurements.clear();
    for (const auto& m : o.measurements) {
      CONFER_TRY(auto bytes, parse_measurement_hex(m));
      p.measurements.push_back(bytes);
    }
  }
  if (!o.report_data.empty()) {
    CONFER_TRY(p.report_data, parse_report_data_hex(o.report_data));
  }
  if (o.vmpl) p.vmpl = *o.vmpl;
  if (!o.min_tcb.empty()) {
    CONFER_TRY(p.min_tcb, parse_tcb_spec(o.min_tcb));
  }
  return p;
}

void print_human(const SnpVerification& v, const std::string& evidence_format) {
  bool c = color_stdout();
  std::string out;
  if (v.report) {
    const SnpReport& r = *v.report;
    out += fmt::format("SEV-SNP attestation report: {}, version {}, signed by {}\n",
                       product_name(v.product), r.version, signing_key_name(r.signing_key()));
    out += fmt::format("  evidence      {}\n", evidence_format);
    out += fmt::format("  measurement   {}\n", to_hex(r.measurement));
    out += fmt::format("  report data   {}\n", to_hex(r.report_data));
    out += fmt::format("  chip id       {}\n", to_hex(r.chip_id));
    out += fmt::format("  reported tcb  {}\n", tcb_string(decode_tcb(r.reported_tcb, v.product), v.product));
    out += fmt::format("  guest policy  0x{:016x}, VMPL {}\n", r.policy, r.vmpl);
    out += fmt::format("  firmware      {}.{}.{}\n", r.current_fw.major, r.current_fw.minor, r.current_fw.build);
  } else {
    out += fmt::format("SEV-SNP attestation report ({})\n", evidence_format);
  }
  out += fmt::format("  verified at   {}\n", format_rfc3339(v.at));
  if (v.development_root)
    out += paint("  WARNING: this chain ends at a development root, NOT AMD's; it proves nothing "
                 "about real hardware\n", "1;33", c);
  out += "\n";
  for (const auto& check : v.checks) {
    std::string status = check.status == CheckStatus::ok       ? paint("ok     ", "32", c)
                         : check.status == CheckStatus::failed ? paint("FAILED ", "1;31", c)
                                                               : paint("skipped", "2", c);
    out += fmt::format("  {} {}\n", status, check.name);
    out += fmt::format("            expected  {}\n", check.expected);
    out += fmt::format("            seen      {}\n", check.seen);
  }
  out += "\n";
  if (const Check* f = v.first_failure())
    out += "verdict: " + paint("refused", "1;31", c) + " (" + f->name + ")\n";
  else if (v.development_root)
    out += "verdict: " + paint("verified", "1;32", c) + " against a development root (NOT AMD)\n";
  else
    out += "verdict: " + paint("verified", "1;32", c) + "\n";
  std::fputs(out.c_str(), stdout);
}

int report_and_exit(const SnpVerification& v, const std::string& evidence_format, bool json) {
  if (json)
    std::printf("%s\n", verification_json(v, evidence_format).c_str());
  else
    print_human(v, evidence_format);
  std::fflush(stdout);
  if (v.development_root)
    print_warning("the evidence chains to a development root given with --trust-root, NOT to AMD");
  if (const Check* f = v.first_failure()) {
    print_error(fmt::format("attestation refused: {}: expected {}, seen {}", f->name, f->expected, f->seen),
                {hint_for(*f)});
    return kExitAttestation;
  }
  return kExitOk;
}

// Connects, completes the handshake only if the live evidence verifies, and reports it.
int run_live(const Options& o, SnpVerifyOptions options) {
  auto url = transport::parse_server_url(o.url);
  if (!url) return fail(url.error());
  if (!o.vcek.empty() || !o.chain.empty())
    return fail(make_error(Errc::usage, "--vcek and --chain go with --evidence; a live server sends its collateral"));
  TrustConfig trust;
  trust.extra_roots = std::move(options.extra_roots);
  trust.policy = std::move(options.policy);
  trust.offline = o.offline;
  trust.require_release = false;
  auto release = load_release_trust(o.sigstore_root, o.release_identity, o.release_issuer);
  if (!release) return fail(release.error());
  trust.release = std::move(release).value();
  SnpVerification refused;
  auto session = open_attested_session(*url, trust, &refused);
  const AttestedSession* live = session ? &*session : nullptr;
  if (!session && session.error().code != Errc::attestation) return fail(session.error());
  if (!o.save.empty() && (live != nullptr || !refused.checks.empty())) {
    std::string payload = live != nullptr ? live->evidence_json : "";
    nlohmann::json doc = nlohmann::json::parse(payload, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
      if (live != nullptr)
        doc["channel"] = {{"server_static_key", to_hex(live->channel->server_static())},
                          {"url", url->text()},
                          {"received_at", format_rfc3339(now_utc())}};
      if (auto w = write_file_atomic(o.save, as_bytes(doc.dump(2) + "\n")); !w) return fail(w.error());
      print_note("saved the evidence to " + o.save);
    }
  }
  return report_and_exit(live != nullptr ? live->verification : refused, "live evidence from " + url->text(), o.json);
}

int run(const Options& o) {
  UnixTime at = now_utc();
  if (!o.at.empty()) {
    auto parsed = parse_rfc3339(o.at);
    if (!parsed) return fail(parsed.error(), {"--at takes a time such as 2025-06-01T00:00:00Z"});
    at = *parsed;
  }
  auto policy = build_policy(o);
  if (!policy) return fail(policy.error(), {"see confer-verify-attestation(1), POLICY"});

  SnpVerifyOptions options;
  options.at = at;
  options.policy = std::move(policy).value();
  auto roots = load_trust_roots(o.trust_roots);
  if (!roots) return fail(roots.error());
  options.extra_roots = std::move(roots).value();

  if (o.url.empty() == o.evidence.empty())
    return fail(make_error(Errc::usage, "expected a server URL or --evidence FILE, and not both"),
                {"confer verify-attestation https://host, or confer verify-attestation --evidence FILE"});
  if (!o.url.empty()) return run_live(o, std::move(options));

  auto file = read_file(o.evidence);
  if (!file) return fail(file.error());
  auto evidence = parse_evidence(*file);
  if (!evidence)
    return report_and_exit(refused_at("report.format",
                                      "a 1184-byte SEV-SNP report, its base64, an HCL report or "
                                      "evidence JSON",
                                      evidence.error().message, at),
                           "unrecognised", o.json);
  std::string format = evidence_format_name(evidence->format);

  auto assembled = assemble_input(*evidence, {o.vcek, o.chain, o.offline}, at);
  if (!assembled) {
    std::string hint = "pass the signing certificate with --vcek FILE";
    if (o.offline) hint += ", or drop --offline to fetch it from AMD KDS";
    else if (assembled.error().code == Errc::network) hint += ", or check the network and HTTPS_PROXY";
    return fail(assembled.error(), {hint});
  }
  if (assembled->refused) return report_and_exit(*assembled->refused, format, o.json);
  options.channel_key = evidence->channel_key;
  return report_and_exit(verify_report(*assembled->input, options), format, o.json);
}

}  // namespace

Handler setup_verify_attestation(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("url", o->url, "A confer-server to connect to (ws://, wss://, http://, https://)");
  app.add_option("--evidence", o->evidence,
                 "Evidence: raw or base64 SEV-SNP report, Azure HCL report, or evidence JSON ('-' for stdin)");
  app.add_option("--sigstore-root", o->sigstore_root, "With a URL: Sigstore trusted_root.json for the release manifest");
  app.add_option("--release-identity", o->release_identity, "With a URL: the release signer's certificate SAN");
  app.add_option("--release-issuer", o->release_issuer, "With a URL: the release signer's OIDC issuer");
  app.add_option("--save", o->save, "With a URL: keep the server's evidence here for offline re-verification");
  app.add_option("--vcek", o->vcek, "VCEK or VLEK certificate (DER or PEM) that signed the report");
  app.add_option("--chain", o->chain, "PEM chain: ASK (or ASVK) then ARK; default: built in");
  app.add_option("--at", o->at, "Verification time, RFC 3339 (default: now)");
  app.add_option("--policy", o->policy, "JSON policy file");
  app.add_option("--expect-measurement", o->measurements, "Expected launch measurement (96 hex digits); repeatable")
      ->allow_extra_args(false);
  app.add_option("--expect-report-data", o->report_data, "Expected REPORT_DATA, or a prefix of it (hex)");
  app.add_option("--vmpl", o->vmpl, "Required VMPL")->check(CLI::Range(0, 3));
  app.add_option("--min-tcb", o->min_tcb, "Minimum reported TCB, e.g. bl=3,tee=0,snp=8,ucode=115");
  app.add_option("--trust-root", o->trust_roots, "Also trust this root certificate (development chains; NOT AMD)")
      ->allow_extra_args(false);
  app.add_flag("--offline", o->offline, "Never use the network");
  app.add_flag("--json", o->json, "Print the report as one JSON object");
  return [o] { return run(*o); };
}

}  // namespace confer::cli
