#include "attest/evidence_document.hpp"

#include <fmt/format.h>

#include "core/json.hpp"

namespace confer::attest {

using nlohmann::json;

namespace {

constexpr const char* kIntelCollateral[] = {"tcb_info", "tcb_info_issuer_chain", "qe_identity",
                                            "qe_identity_issuer_chain", "pck_crl", "root_ca_crl"};

Result<std::optional<std::string>> text_field(const json& parent, const char* name, const char* what) {
  if (!parent.contains(name) || parent[name].is_null()) return std::optional<std::string>();
  const json& v = parent[name];
  if (!v.is_string())
    return make_error(Errc::parse, fmt::format("evidence JSON: expected \"{}\" to be a string ({}), saw {}", name,
                                               what, v.type_name()));
  return std::optional<std::string>(v.get<std::string>());
}

Result<std::optional<Bytes>> byte_array(const json& doc) {
  if (!doc.contains("report") || !doc["report"].is_array()) return std::optional<Bytes>();
  Bytes raw;
  for (const auto& v : doc["report"]) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 255)
      return make_error(Errc::parse, "evidence JSON: \"report\" must be an array of bytes");
    raw.push_back(v.get<uint8_t>());
  }
  return std::optional<Bytes>(std::move(raw));
}

Result<std::optional<SavedChannel>> channel_field(const json& doc) {
  if (!doc.contains("channel") || !doc["channel"].is_object()) return std::optional<SavedChannel>();
  const json& c = doc["channel"];
  SavedChannel out;
  CONFER_TRY(auto key, text_field(c, "server_static_key", "hex"));
  CONFER_TRY(auto url, text_field(c, "url", "a URL"));
  CONFER_TRY(auto at, text_field(c, "received_at", "RFC 3339"));
  if (!key) return std::optional<SavedChannel>();
  out.server_static_key = *key;
  out.url = url.value_or("");
  out.received_at = at.value_or("");
  return std::optional<SavedChannel>(std::move(out));
}

}  // namespace

Result<EvidenceDocument> EvidenceDocument::parse(std::string_view text) {
  auto parsed = parse_json(text, "evidence JSON", JsonLimits{16u << 20, 64}, Errc::parse);
  json doc = parsed ? std::move(parsed).value() : json();
  if (!doc.is_object())
    return make_error(Errc::parse, "evidence JSON: expected a JSON object, saw text that does not parse");
  EvidenceDocument d;
  d.platform.clear();
  if (doc.contains("platform")) {
    if (!doc["platform"].is_string())
      return make_error(Errc::parse, fmt::format("evidence JSON: expected platform \"SEV-SNP\", saw {}",
                                                 dump_json(doc["platform"])));
    d.platform = doc["platform"].get<std::string>();
  }
  if (doc.contains("attestation") && !doc["attestation"].is_string())
    return make_error(Errc::parse, "evidence JSON: expected \"attestation\" to be a base64 string");
  CONFER_TRY(d.attestation, text_field(doc, "attestation", "base64"));
  CONFER_TRY(d.azure_report, byte_array(doc));
  // Collateral sits under "collateral", or (Azure's form) beside the report.
  const json* collateral = doc.contains("collateral") ? &doc["collateral"] : &doc;
  if (!collateral->is_object())
    return make_error(Errc::parse, "evidence JSON: expected \"collateral\" to be an object");
  CONFER_TRY(d.vcek, text_field(*collateral, "vcek", "PEM or base64 DER"));
  CONFER_TRY(d.chain, text_field(*collateral, "chain", "PEM or base64 DER"));
  for (const char* key : kIntelCollateral) {
    CONFER_TRY(auto v, text_field(*collateral, key, "Intel collateral text, PEM or base64 DER"));
    if (v) d.intel[key] = std::move(*v);
  }
  CONFER_TRY(d.manifest, text_field(doc, "manifest", "the release manifest"));
  CONFER_TRY(d.manifest_bundle, text_field(doc, "manifestBundle", "a Sigstore bundle"));
  CONFER_TRY(d.channel, channel_field(doc));
  for (const char* known : {"platform", "attestation", "report", "collateral", "vcek", "chain", "manifest",
                            "manifestBundle", "channel"})
    doc.erase(known);
  d.extra = std::move(doc);
  return d;
}

std::string EvidenceDocument::serialize(int indent) const {
  json j = extra.is_object() ? extra : json::object();
  auto opt = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  j["manifest"] = opt(manifest);
  j["manifestBundle"] = opt(manifest_bundle);
  if (!platform.empty()) j["platform"] = platform;
  if (attestation) j["attestation"] = *attestation;
  if (azure_report) j["report"] = *azure_report;
  json collateral = json::object();
  if (vcek) collateral["vcek"] = *vcek;
  if (chain) collateral["chain"] = *chain;
  for (const auto& [key, value] : intel) collateral[key] = value;
  if (!collateral.empty()) j["collateral"] = collateral;
  if (channel)
    j["channel"] = {{"server_static_key", channel->server_static_key},
                    {"url", channel->url},
                    {"received_at", channel->received_at}};
  return dump_json(j, indent);
}

}  // namespace confer::attest
