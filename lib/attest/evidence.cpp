#include "attest/evidence.hpp"

#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "crypto/hash.hpp"

#include "attest/snp_report.hpp"
#include "attest/tdx_quote.hpp"

namespace confer::attest {

const char* evidence_format_name(EvidenceFormat f) noexcept {
  switch (f) {
    case EvidenceFormat::raw: return "raw report";
    case EvidenceFormat::base64: return "base64 report";
    case EvidenceFormat::hcl: return "Azure HCL report";
    case EvidenceFormat::json: return "evidence JSON";
    case EvidenceFormat::ita: return "Intel Trust Authority token";
  }
  return "unknown";
}

const char* platform_name(Platform p) noexcept { return p == Platform::tdx ? "TDX" : "SEV-SNP"; }

namespace {

Evidence tdx_evidence(Bytes quote, EvidenceFormat format) {
  Evidence e;
  e.format = format;
  e.platform = Platform::tdx;
  e.report = std::move(quote);
  return e;
}

Result<std::optional<Bytes>> crl_field(const std::map<std::string, std::string>& intel, const char* key) {
  auto it = intel.find(key);
  if (it == intel.end()) return std::optional<Bytes>();
  if (it->second.find("-----BEGIN") != std::string::npos) return std::optional<Bytes>(Bytes(it->second.begin(), it->second.end()));
  auto der = from_base64(it->second);
  if (!der) return make_error(Errc::parse, fmt::format("evidence JSON: \"collateral.{}\": {}", key, der.error().message));
  return std::optional<Bytes>(std::move(der).value());
}

Result<Evidence> tdx_from_document(const EvidenceDocument& doc) {
  if (doc.attestation && looks_like_jwt(*doc.attestation)) {
    Evidence e;
    e.format = EvidenceFormat::json;
    e.platform = Platform::tdx;
    e.ita_token = *doc.attestation;
    return e;
  }
  if (!doc.attestation || doc.attestation->rfind("dcap:", 0) != 0)
    return make_error(Errc::parse, "evidence JSON: expected a TDX \"attestation\" of the form \"dcap:<base64 quote>\", or an Intel Trust Authority token");
  auto quote = from_base64(std::string_view(*doc.attestation).substr(5));
  if (!quote) return make_error(Errc::parse, "evidence JSON: \"attestation\": " + quote.error().message);
  if (!looks_like_tdx_quote(*quote))
    return make_error(Errc::parse, fmt::format("evidence JSON: expected a TDX quote (version 4 or 5, TEE type 0x81) "
                                               "after \"dcap:\", saw {} bytes that are not one", quote->size()));
  Evidence e = tdx_evidence(std::move(quote).value(), EvidenceFormat::json);
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = doc.intel.find(key);
    return it == doc.intel.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto bytes = [&](const char* key) -> std::optional<Bytes> {
    auto t = text(key);
    return t ? std::optional<Bytes>(Bytes(t->begin(), t->end())) : std::nullopt;
  };
  e.tdx_collateral.tcb_info = text("tcb_info");
  e.tdx_collateral.tcb_info_chain = bytes("tcb_info_issuer_chain");
  e.tdx_collateral.qe_identity = text("qe_identity");
  e.tdx_collateral.qe_identity_chain = bytes("qe_identity_issuer_chain");
  CONFER_TRY(e.tdx_collateral.pck_crl, crl_field(doc.intel, "pck_crl"));
  CONFER_TRY(e.tdx_collateral.root_crl, crl_field(doc.intel, "root_ca_crl"));
  return e;
}

constexpr size_t kHclReportOffset = 0x20;
constexpr size_t kHclRuntimeOffset = kHclReportOffset + kReportSize;  // 0x4C0
constexpr size_t kHclRuntimeHeader = 20;  // data_size, version, report_type, hash_type, var_size

bool starts_with_hcl_magic(ByteView b) {
  return b.size() >= 4 && b[0] == 'H' && b[1] == 'C' && b[2] == 'L' && b[3] == 'A';
}

std::string_view trimmed(ByteView b) {
  std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Result<Evidence> from_report_or_hcl(Bytes bytes, EvidenceFormat format) {
  if (starts_with_hcl_magic(bytes)) return parse_hcl_report(bytes);
  if (bytes.size() != kReportSize)
    return make_error(Errc::parse,
                      fmt::format("evidence: expected a {}-byte SEV-SNP report, saw {} bytes",
                                  kReportSize, bytes.size()));
  Evidence e;
  e.format = format;
  e.report = std::move(bytes);
  return e;
}

Result<Bytes> cert_field(const std::string& s, const char* name) {
  if (s.find("-----BEGIN") != std::string::npos) return Bytes(s.begin(), s.end());
  auto der = from_base64(s);
  if (!der)
    return make_error(Errc::parse, fmt::format("evidence JSON: \"{}\": {}", name, der.error().message));
  return std::move(der).value();
}

Result<Evidence> from_document(const EvidenceDocument& doc) {
  if (!doc.platform.empty() && doc.platform != "SEV-SNP" && doc.platform != "TDX")
    return make_error(Errc::parse, fmt::format("evidence JSON: expected platform \"SEV-SNP\" or \"TDX\", saw {}",
                                               dump_json(nlohmann::json(doc.platform))));
  Evidence e;
  if (doc.platform == "TDX" || (doc.attestation && doc.attestation->rfind("dcap:", 0) == 0)) {
    CONFER_TRY(e, tdx_from_document(doc));
  } else if (doc.attestation) {
    auto raw = from_base64(*doc.attestation);
    if (!raw) return make_error(Errc::parse, "evidence JSON: \"attestation\": " + raw.error().message);
    CONFER_TRY(e, from_report_or_hcl(std::move(raw).value(), EvidenceFormat::json));
  } else if (doc.azure_report) {
    // Azure vTPM evidence (keys quote/report/vcek): the HCL report as a byte array.
    CONFER_TRY(e, from_report_or_hcl(*doc.azure_report, EvidenceFormat::json));
  } else {
    return make_error(Errc::parse, "evidence JSON: expected an \"attestation\" field (base64 report)");
  }
  e.format = EvidenceFormat::json;
  if (doc.vcek) {
    CONFER_TRY(e.vcek, cert_field(*doc.vcek, "vcek"));
  }
  if (doc.chain) {
    CONFER_TRY(e.chain, cert_field(*doc.chain, "chain"));
  }
  if (doc.channel) {
    auto key = from_hex(doc.channel->server_static_key);
    if (!key || key->size() != 32)
      return make_error(Errc::parse, "evidence JSON: channel.server_static_key must be 32 bytes of hex");
    std::array<uint8_t, 32> a{};
    std::copy(key->begin(), key->end(), a.begin());
    e.channel_key = a;
  }
  e.manifest = doc.manifest;
  e.manifest_bundle = doc.manifest_bundle;
  return e;
}

Result<std::vector<Evidence::Gpu>> gpus_of(const EvidenceDocument& doc) {
  std::vector<Evidence::Gpu> out;
  const auto* list = json_detail::member(doc.extra, "gpu");
  if (list == nullptr) return out;
  if (!list->is_array() || list->size() > 8)
    return make_error(Errc::parse, "evidence JSON: expected \"gpu\" to be an array of at most 8 GPUs");
  for (size_t i = 0; i < list->size(); ++i) {
    const auto& g = (*list)[i];
    std::string where = fmt::format("evidence JSON: gpu[{}]", i);
    CONFER_TRY(Bytes report, json_detail::required_base64(g, "evidence", where));
    CONFER_TRY(std::string chain, json_detail::required_string(g, "chain", where));
    out.push_back({std::move(report), Bytes(chain.begin(), chain.end())});
  }
  return out;
}

Result<Evidence> from_json(std::string_view text) {
  CONFER_TRY(EvidenceDocument doc, EvidenceDocument::parse(text));
  CONFER_TRY(Evidence e, from_document(doc));
  CONFER_TRY(e.gpus, gpus_of(doc));
  return e;
}

}  // namespace

Result<Evidence> parse_hcl_report(ByteView b) {
  if (b.size() < kHclRuntimeOffset + kHclRuntimeHeader)
    return make_error(Errc::parse, fmt::format("HCL report: expected at least {} bytes, saw {}",
                                               kHclRuntimeOffset + kHclRuntimeHeader, b.size()));
  const uint8_t* rt = b.data() + kHclRuntimeOffset;
  uint32_t data_size = load_le32(rt), version = load_le32(rt + 4), report_type = load_le32(rt + 8),
           hash_type = load_le32(rt + 12), var_size = load_le32(rt + 16);
  if (version != 1 || report_type != 2)
    return make_error(Errc::parse, fmt::format("HCL report: expected runtime data version 1, "
                                               "report type 2 (SEV-SNP), saw version {}, type {}",
                                               version, report_type));
  if (uint64_t(var_size) + kHclRuntimeHeader != data_size ||
      kHclRuntimeOffset + kHclRuntimeHeader + uint64_t(var_size) > b.size())
    return make_error(Errc::parse, fmt::format("HCL report: runtime data size {} (variable {}) does "
                                               "not fit the {} bytes present",
                                               data_size, var_size, b.size()));
  Evidence e;
  e.format = EvidenceFormat::hcl;
  e.report.assign(b.begin() + kHclReportOffset, b.begin() + kHclRuntimeOffset);
  const uint8_t* json = rt + kHclRuntimeHeader;
  e.hcl = HclRuntimeData{Bytes(json, json + var_size), hash_type};
  return e;
}

Result<Evidence> parse_evidence(ByteView bytes) {
  if (starts_with_hcl_magic(bytes)) return parse_hcl_report(bytes);
  if (looks_like_tdx_quote(bytes)) return tdx_evidence(Bytes(bytes.begin(), bytes.end()), EvidenceFormat::raw);
  if (bytes.size() == kReportSize) return from_report_or_hcl(Bytes(bytes.begin(), bytes.end()),
                                                             EvidenceFormat::raw);
  std::string_view text = trimmed(bytes);
  if (!text.empty() && text.front() == '{') return from_json(text);
  if (looks_like_jwt(text)) {
    Evidence e;
    e.format = EvidenceFormat::ita;
    e.platform = Platform::tdx;
    e.ita_token = std::string(text);
    return e;
  }
  auto decoded = from_base64(text);
  if (!decoded || decoded->empty())
    return make_error(Errc::parse,
                      fmt::format("evidence: expected a {}-byte SEV-SNP report, a TDX quote, their base64, an "
                                  "HCL report or an evidence JSON object; saw {} bytes of none "
                                  "of these",
                                  kReportSize, bytes.size()));
  if (looks_like_tdx_quote(*decoded)) return tdx_evidence(std::move(decoded).value(), EvidenceFormat::base64);
  CONFER_TRY(Evidence e, from_report_or_hcl(std::move(decoded).value(), EvidenceFormat::base64));
  if (e.format != EvidenceFormat::hcl) e.format = EvidenceFormat::base64;
  return e;
}

Bytes gpu_nonce_for(ByteView report_data) {
  constexpr std::string_view kLabel = "confer-gpu-v1";
  Bytes material(kLabel.begin(), kLabel.end());
  material.insert(material.end(), report_data.begin(), report_data.end());
  return crypto::sha256(material);
}

bool looks_like_jwt(std::string_view t) noexcept {
  if (t.size() < 10 || t.size() > (64u << 10) || t.substr(0, 3) != "eyJ") return false;
  size_t dots = 0;
  for (char c : t) {
    if (c == '.') ++dots;
    else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return dots == 2;
}

std::string evidence_json(ByteView report, const std::string& vcek_pem, const std::string& chain_pem) {
  EvidenceDocument doc;
  doc.attestation = to_base64(report);
  doc.vcek = vcek_pem;
  doc.chain = chain_pem;
  return doc.serialize(2) + "\n";
}

}  // namespace confer::attest
