// confer verify-attestation: an auditor's view of a deployment's evidence.
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "attest/evidence.hpp"
#include "attest/kds.hpp"
#include "attest/snp_verify.hpp"
#include "commands/common.hpp"
#include "core/paths.hpp"

namespace confer::cli {

namespace {

using namespace confer::snp;

struct Options {
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

// Evidence or collateral that fails to parse is refused like any other failed check.
Verification refused_at(const std::string& check, const std::string& expected,
                        const std::string& seen, UnixTime at) {
  Verification v;
  v.at = at;
  v.checks.push_back({check, CheckStatus::failed, expected, seen});
  return v;
}

Result<Policy> build_policy(const Options& o) {
  Policy p;
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

std::string hint_for(const Check& c) {
  if (c.name == "chain.validity")
    return "evidence and certificates age; re-verify at the time it was produced with --at TIME";
  if (c.name == "chain.ark")
    return "confer trusts AMD's pinned roots; for a development chain you trust, pass --trust-root FILE";
  if (c.name == "report.format")
    return "--evidence takes a raw 1184-byte report, its base64, an Azure HCL report or an evidence JSON";
  if (c.name.rfind("policy.", 0) == 0) return "the report is authentic but does not meet the policy";
  return "every check, with what was expected and seen, is in the report on standard output";
}

void print_human(const Verification& v, const std::string& evidence_format) {
  bool c = color_stdout();
  std::string out;
  if (v.report) {
    const Report& r = *v.report;
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

int report_and_exit(const Verification& v, const std::string& evidence_format, bool json) {
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

Result<std::vector<x509::Cert>> load_certs(const std::string& path) {
  CONFER_TRY(Bytes bytes, read_file(path));
  auto certs = x509::Cert::all_from_pem(bytes);
  if (!certs) return make_error(Errc::attestation, path + ": " + certs.error().message);
  return certs;
}

struct CollateralSource {
  std::optional<Bytes> bytes;
  std::string origin;
};

// A flag's file wins over the evidence's own collateral; neither is fine too.
Result<CollateralSource> collateral_source(const std::string& flag_path,
                                           const std::optional<Bytes>& from_evidence) {
  if (!flag_path.empty()) {
    CONFER_TRY(Bytes bytes, read_file(flag_path));
    return CollateralSource{std::move(bytes), flag_path};
  }
  if (from_evidence) return CollateralSource{from_evidence, "the evidence's collateral"};
  return CollateralSource{};
}

// For a report that parses: its VCEK from the cache, else fetched from AMD KDS (or
// CONFER_KDS_URL) and cached. Says on stderr which. Empty for a report that does not
// parse: verification will name that.
Result<CollateralSource> vcek_from_cache_or_kds(ByteView report_bytes, bool offline) {
  auto report = parse_report(report_bytes);
  if (!report) return CollateralSource{};
  auto req = vcek_request_for(*report, report->product_from_cpuid());
  if (!req) return make_error(Errc::io, "no VCEK given and none can be fetched: " + req.error().message);
  const char* base = std::getenv("CONFER_KDS_URL");
  auto fetcher = make_curl_fetcher();
  CONFER_TRY(VcekLookup found, find_or_fetch_vcek(*req, cache_dir(),
                                                  base != nullptr && *base != '\0' ? base : kDefaultKdsUrl,
                                                  offline, *fetcher));
  if (found.origin == VcekLookup::Origin::fetched)
    print_note(fmt::format("fetched the VCEK from {} and cached it at {}", found.url, found.cache_path));
  else
    print_note("using the cached VCEK " + found.cache_path);
  return CollateralSource{std::move(found.der), found.cache_path};
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

  VerifyOptions options;
  options.at = at;
  options.policy = std::move(policy).value();
  for (const auto& path : o.trust_roots) {
    auto roots = load_certs(path);
    if (!roots) return fail(make_error(Errc::usage, "--trust-root " + roots.error().message));
    for (auto& r : *roots) options.extra_roots.push_back(std::move(r));
  }

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

  VerifyInput input;
  input.report = evidence->report;
  input.hcl = evidence->hcl;

  // The signing certificate: --vcek, then the evidence's collateral, then the cache or KDS.
  auto signer_source = collateral_source(o.vcek, evidence->vcek);
  if (signer_source && !signer_source->bytes) signer_source = vcek_from_cache_or_kds(input.report, o.offline);
  if (!signer_source) {
    std::string hint = "pass the signing certificate with --vcek FILE";
    if (o.offline) hint += ", or drop --offline to fetch it from AMD KDS";
    else if (signer_source.error().code == Errc::network) hint += ", or check the network and HTTPS_PROXY";
    return fail(signer_source.error(), {hint});
  }
  const std::optional<Bytes>& signer_bytes = signer_source->bytes;
  const std::string& signer_origin = signer_source->origin;
  if (signer_bytes) {
    auto cert = x509::Cert::from_der_or_pem(*signer_bytes);
    if (!cert)
      return report_and_exit(refused_at("chain.vcek", "a VCEK or VLEK certificate (DER or PEM)",
                                        signer_origin + ": " + cert.error().message, at),
                             format, o.json);
    input.signer = std::move(cert).value();
  }

  auto chain_source = collateral_source(o.chain, evidence->chain);
  if (!chain_source) return fail(chain_source.error());
  if (const auto& chain_bytes = chain_source->bytes) {
    const std::string& chain_origin = chain_source->origin;
    auto certs = x509::Cert::all_from_pem(*chain_bytes);
    if (!certs || certs->size() > 2)
      return report_and_exit(refused_at("chain.ask", "a PEM chain: ASK (or ASVK) then ARK",
                                        chain_origin + ": " +
                                            (certs ? fmt::format("{} certificates", certs->size())
                                                   : certs.error().message),
                                        at),
                             format, o.json);
    input.chain = std::move(certs).value();
  }

  return report_and_exit(verify_report(input, options), format, o.json);
}

}  // namespace

Handler setup_verify_attestation(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--evidence", o->evidence,
                 "Evidence: raw or base64 SEV-SNP report, Azure HCL report, or evidence JSON ('-' for stdin)")
      ->required();
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
