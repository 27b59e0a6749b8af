#include "commands/attestation_input.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "attest/kds.hpp"
#include "commands/common.hpp"
#include "core/paths.hpp"

namespace confer::cli {

using namespace confer::attest;

namespace {

struct CollateralSource {
  std::optional<Bytes> bytes;
  std::string origin;
};

// A flag's file wins over the evidence's own collateral; neither is fine too.
Result<CollateralSource> collateral_source(const std::string& flag_path, const std::optional<Bytes>& from_evidence) {
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

}  // namespace

SnpVerification refused_at(const std::string& check, const std::string& expected, const std::string& seen,
                        UnixTime at) {
  SnpVerification v;
  v.at = at;
  v.checks.fail(check, expected, seen);
  return v;
}

std::string hint_for(const Check& c) {
  if (c.name == "chain.validity")
    return "evidence and certificates age; re-verify at the time it was produced with --at TIME";
  if (c.name == "chain.ark")
    return "confer trusts AMD's pinned roots; for a development chain you trust, pass --trust-root FILE";
  if (c.name == "report.format")
    return "--evidence takes a raw 1184-byte report, its base64, an Azure HCL report or an evidence JSON";
  if (c.name == "channel.binding")
    return "the evidence does not bind this connection's key: another machine's report was replayed";
  if (c.name == "release.manifest")
    return "pin the measurement you expect with --expect-measurement HEX";
  if (c.name.rfind("policy.", 0) == 0) return "the report is authentic but does not meet the policy";
  return "every check, with what was expected and seen, is in the report on standard output";
}

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

Result<std::optional<release::ReleaseTrust>> load_release_trust(const std::string& sigstore_root,
                                                                const std::string& identity,
                                                                const std::string& issuer) {
  if (sigstore_root.empty() && identity.empty()) return std::optional<release::ReleaseTrust>();
  if (sigstore_root.empty() || identity.empty())
    return make_error(Errc::usage, "--sigstore-root and --release-identity go together");
  CONFER_TRY(Bytes text, read_file(sigstore_root));
  auto root = sigstore::TrustedRoot::parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  if (!root) return make_error(Errc::usage, sigstore_root + ": " + root.error().message);
  return std::optional<release::ReleaseTrust>(
      release::ReleaseTrust{std::move(root).value(), {identity, issuer.empty() ? kDefaultReleaseIssuer : issuer}});
}

Result<AssembledInput> assemble_input(const Evidence& evidence, const CollateralFlags& flags, UnixTime at) {
  AssembledInput out;
  SnpInput input;
  input.report = evidence.report;
  input.hcl = evidence.hcl;

  CONFER_TRY(CollateralSource signer, collateral_source(flags.vcek, evidence.vcek));
  if (!signer.bytes) {
    CONFER_TRY(signer, vcek_from_cache_or_kds(input.report, flags.offline));
  }
  if (signer.bytes) {
    auto cert = crypto::Cert::from_der_or_pem(*signer.bytes);
    if (!cert) {
      out.refused = refused_at("chain.vcek", "a VCEK or VLEK certificate (DER or PEM)",
                               signer.origin + ": " + cert.error().message, at);
      return out;
    }
    input.signer = std::move(cert).value();
  }

  CONFER_TRY(CollateralSource chain, collateral_source(flags.chain, evidence.chain));
  if (chain.bytes) {
    auto certs = crypto::Cert::all_from_pem(*chain.bytes);
    if (!certs || certs->size() > 2) {
      out.refused = refused_at("chain.ask", "a PEM chain: ASK (or ASVK) then ARK",
                               chain.origin + ": " +
                                   (certs ? fmt::format("{} certificates", certs->size()) : certs.error().message),
                               at);
      return out;
    }
    input.chain = std::move(certs).value();
  }
  out.input = std::move(input);
  return out;
}

}  // namespace confer::cli
