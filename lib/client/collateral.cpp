#include "client/collateral.hpp"

#include <fmt/format.h>

namespace confer::client {

using namespace confer::attest;

namespace {

struct Picked {
  std::optional<Bytes> bytes;
  CollateralSource source;
};

// What the caller supplied wins over the evidence's own collateral; neither is fine too.
Picked pick(const SuppliedCollateral& supplied, const std::optional<Bytes>& from_evidence) {
  if (supplied.bytes) return {supplied.bytes, {CollateralOrigin::supplied, supplied.label}};
  if (from_evidence) return {from_evidence, {CollateralOrigin::evidence, "the evidence's collateral"}};
  return {};
}

// For a report that parses: its VCEK from the cache, else fetched from KDS and cached.
// Nothing for a report that does not parse: verification will name that.
Result<Picked> vcek_from_cache_or_kds(ByteView report_bytes, const CollateralRequest& request) {
  auto report = parse_report(report_bytes);
  if (!report) return Picked{};
  auto req = vcek_request_for(*report, report->product_from_cpuid());
  if (!req) return make_error(Errc::io, "no VCEK given and none can be fetched: " + req.error().message);
  std::unique_ptr<Fetcher> own;
  Fetcher* fetcher = request.fetcher;
  if (fetcher == nullptr) {
    own = make_curl_fetcher();
    fetcher = own.get();
  }
  CONFER_TRY(VcekLookup found, find_or_fetch_vcek(*req, request.cache_root, request.kds_url, request.offline, *fetcher));
  bool fetched = found.origin == VcekLookup::Origin::fetched;
  return Picked{std::move(found.der),
                {fetched ? CollateralOrigin::kds : CollateralOrigin::cache, fetched ? found.url : found.cache_path}};
}

}  // namespace

const char* collateral_origin_name(CollateralOrigin o) noexcept {
  switch (o) {
    case CollateralOrigin::none: return "none";
    case CollateralOrigin::supplied: return "supplied";
    case CollateralOrigin::evidence: return "evidence";
    case CollateralOrigin::cache: return "cache";
    case CollateralOrigin::kds: return "kds";
    case CollateralOrigin::pcs_cache: return "pcs-cache";
    case CollateralOrigin::pcs: return "pcs";
  }
  return "unknown";
}

SnpVerification refused_at(std::string_view check, std::string expected, std::string seen, UnixTime at) {
  SnpVerification v;
  v.at = at;
  v.checks.fail(check, std::move(expected), std::move(seen));
  return v;
}

Result<AssembledInput> assemble_input(const Evidence& evidence, const CollateralRequest& request, UnixTime at) {
  AssembledInput out;
  SnpInput input;
  input.report = evidence.report;
  input.hcl = evidence.hcl;

  Picked signer = pick(request.vcek, evidence.vcek);
  if (!signer.bytes) {
    CONFER_TRY(signer, vcek_from_cache_or_kds(input.report, request));
  }
  out.vcek = signer.source;
  if (signer.bytes) {
    auto cert = crypto::Cert::from_der_or_pem(*signer.bytes);
    if (!cert) {
      out.refused = refused_at(attest::checks::kChainVcek, "a VCEK or VLEK certificate (DER or PEM)",
                               signer.source.where + ": " + cert.error().message, at);
      return out;
    }
    input.signer = std::move(cert).value();
  }

  Picked chain = pick(request.chain, evidence.chain);
  out.chain = chain.source;
  if (chain.bytes) {
    auto certs = crypto::Cert::all_from_pem(*chain.bytes);
    if (!certs || certs->size() > 2) {
      out.refused = refused_at(attest::checks::kChainAsk, "a PEM chain: ASK (or ASVK) then ARK",
                               chain.source.where + ": " +
                                   (certs ? fmt::format("{} certificates", certs->size()) : certs.error().message),
                               at);
      return out;
    }
    input.chain = std::move(certs).value();
  }
  out.input = std::move(input);
  return out;
}

}  // namespace confer::client
