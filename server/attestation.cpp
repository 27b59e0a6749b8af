#include "server/attestation.hpp"


#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"

#include "dev/snp_authority.hpp"
#include "attest/evidence_document.hpp"
#include "attest/evidence.hpp"
#include "attest/tdx_verify.hpp"
#include "net/http.hpp"
#include "attest/tsm.hpp"
#include "crypto/x509.hpp"

namespace confer::server {

using nlohmann::json;

namespace {

attest::EvidenceDocument document_with(const std::optional<ReleaseManifest>& m) {
  attest::EvidenceDocument doc;
  if (m) {
    doc.manifest = m->manifest;
    doc.manifest_bundle = m->bundle;
  }
  return doc;
}

class DevProvider final : public AttestationProvider {
 public:
  DevProvider(dev::DevAuthority authority, std::array<uint8_t, 48> measurement, std::optional<ReleaseManifest> m)
      : authority_(std::move(authority)), measurement_(measurement), manifest_(std::move(m)) {
    template_ = dev::dev_report_template(authority_.product());
    template_.measurement = measurement_;
  }

  Result<std::string> evidence(ByteView report_data) override {
    if (report_data.size() != 64) return make_error(Errc::internal, "report_data must be 64 bytes");
    attest::SnpReport r = template_;
    std::copy(report_data.begin(), report_data.end(), r.report_data.begin());
    // One VCEK per process, as on a real chip at one TCB.
    if (!signer_) {
      CONFER_TRY(signer_, authority_.issue(authority_.spec_for(r)));
    }
    CONFER_TRY(Bytes report, dev::sign_report(r, signer_->key.get()));
    attest::EvidenceDocument doc = document_with(manifest_);
    doc.attestation = to_base64(report);
    doc.vcek = signer_->cert.pem();
    doc.chain = authority_.chain_pem();
    return doc.serialize();
  }

  std::string describe() const override {
    return fmt::format("development SEV-SNP ({}; NOT AMD), measurement {}", attest::product_name(authority_.product()),
                       to_hex(measurement_));
  }

 private:
  dev::DevAuthority authority_;
  std::array<uint8_t, 48> measurement_;
  std::optional<ReleaseManifest> manifest_;
  attest::SnpReport template_;
  std::optional<dev::DevSigner> signer_;
};

class TsmProvider final : public AttestationProvider {
 public:
  TsmProvider(std::string root, std::optional<ReleaseManifest> m, TsmOptions options)
      : root_(std::move(root)), manifest_(std::move(m)), options_(std::move(options)) {}

  Result<std::string> evidence(ByteView report_data) override {
    CONFER_TRY(attest::TsmReport report, attest::tsm_report(root_, report_data));
    attest::EvidenceDocument doc = document_with(manifest_);
    if (report.provider.rfind("sev_guest", 0) == 0) {
      doc.platform = "SEV-SNP";
      doc.attestation = to_base64(report.outblob);
      if (!report.auxblob.empty()) {
        CONFER_TRY(CertTable table, parse_cert_table(report.auxblob));
        if (table.vcek) doc.vcek = to_base64(*table.vcek);
        if (table.ask && table.ark) {
          auto ask = crypto::Cert::from_der(*table.ask);
          auto ark = crypto::Cert::from_der(*table.ark);
          if (ask && ark) doc.chain = ask->pem() + ark->pem();
        }
      }
    } else if (report.provider.rfind("tdx_guest", 0) == 0) {
      doc.platform = "TDX";
      doc.attestation = "dcap:" + to_base64(report.outblob);
      if (!options_.ita_url.empty()) {
        CONFER_TRY(doc.attestation, ita_token(report.outblob));
      } else if (!options_.tdx_collateral.empty()) {
        CONFER_TRY(attest::TdxCollateral c, attest::read_tdx_collateral_dir(options_.tdx_collateral));
        auto text = [](const std::optional<Bytes>& b) { return std::string(b->begin(), b->end()); };
        if (c.tcb_info) doc.intel["tcb_info"] = *c.tcb_info;
        if (c.tcb_info_chain) doc.intel["tcb_info_issuer_chain"] = text(c.tcb_info_chain);
        if (c.qe_identity) doc.intel["qe_identity"] = *c.qe_identity;
        if (c.qe_identity_chain) doc.intel["qe_identity_issuer_chain"] = text(c.qe_identity_chain);
        if (c.pck_crl) doc.intel["pck_crl"] = to_base64(*c.pck_crl);
        if (c.root_crl) doc.intel["root_ca_crl"] = to_base64(*c.root_crl);
      }
    } else {
      return make_error(Errc::attestation,
                        fmt::format("configfs-tsm: expected provider sev_guest or tdx_guest, saw '{}'", report.provider));
    }
    return doc.serialize();
  }

  std::string describe() const override {
    return "configfs-tsm at " + root_ + (options_.ita_url.empty() ? "" : ", TDX quotes appraised by " + options_.ita_url);
  }

  // A token is re-requested well inside ITA's lifetime (minutes); the collateral
  // directory is re-read hourly, so an operator's monthly refresh reaches message 2.
  int64_t evidence_lifetime_s() const override {
    if (!options_.ita_url.empty()) return 60;
    if (!options_.tdx_collateral.empty()) return 3600;
    return 0;
  }

 private:
  // Intel Trust Authority's token for `quote` (its appraisal API v1).
  Result<std::string> ita_token(ByteView quote) const {
    net::HttpRequest request;
    request.url = options_.ita_url + "/appraisal/v1/attest";
    request.method = "POST";
    request.body = nlohmann::json{{"quote", to_base64(quote)}}.dump();
    request.headers = {"Content-Type: application/json", "Accept: application/json"};
    if (!options_.ita_api_key.empty()) request.headers.push_back("x-api-key: " + options_.ita_api_key);
    request.max_body = 64u << 10;
    request.total_timeout_s = 30;
    CONFER_TRY(net::HttpResponse response, net::http_request(request));
    if (response.status != 200)
      return make_error(Errc::network, fmt::format("Intel Trust Authority answered {} to an attestation request",
                                                   response.status));
    CONFER_TRY(auto answer, parse_json_object(response.body, "Intel Trust Authority's answer", JsonLimits{64u << 10, 8}));
    const auto* token = json_detail::member(answer, "token");
    if (token == nullptr || !token->is_string() || !attest::looks_like_jwt(token->get<std::string>()))
      return make_error(Errc::protocol, "Intel Trust Authority's answer holds no token");
    return token->get<std::string>();
  }

  std::string root_;
  std::optional<ReleaseManifest> manifest_;
  TsmOptions options_;
};

}  // namespace

namespace {

// GUIDs in RFC 4122 byte order, as go-sev-guest and virtee/sev read the table.
const Bytes& guid_vcek() { static const Bytes g = *from_hex("63da758de6644564adc5f4b93be8accd"); return g; }
const Bytes& guid_vlek() { static const Bytes g = *from_hex("a8074bc2a25a483eaae639c045a0b8a1"); return g; }
const Bytes& guid_ask() { static const Bytes g = *from_hex("4ab7b379bbac4fe4a02f05aef327c782"); return g; }
const Bytes& guid_ark() { static const Bytes g = *from_hex("c0b406a4a803495297433fb6014cd0ae"); return g; }

}  // namespace

Result<CertTable> parse_cert_table(ByteView aux) {
  CertTable t;
  constexpr size_t kEntry = 24;
  for (size_t at = 0;; at += kEntry) {
    if (at + kEntry > aux.size())
      return make_error(Errc::attestation, "certificate table: expected an all-zero terminating entry");
    ByteView guid = aux.subspan(at, 16);
    if (all_zero(guid)) break;
    uint32_t offset = load_le32(aux.data() + at + 16), length = load_le32(aux.data() + at + 20);
    if (uint64_t(offset) + length > aux.size())
      return make_error(Errc::attestation, fmt::format("certificate table: entry at {} points past the {} bytes",
                                                       at, aux.size()));
    Bytes der(aux.begin() + offset, aux.begin() + offset + length);
    if (equal_ct(guid, guid_vcek()) || equal_ct(guid, guid_vlek())) t.vcek = std::move(der);
    else if (equal_ct(guid, guid_ask())) t.ask = std::move(der);
    else if (equal_ct(guid, guid_ark())) t.ark = std::move(der);
  }
  return t;
}

Bytes make_cert_table(const CertTable& table) {
  std::vector<std::pair<const Bytes*, const Bytes*>> entries;
  if (table.vcek) entries.emplace_back(&guid_vcek(), &*table.vcek);
  if (table.ask) entries.emplace_back(&guid_ask(), &*table.ask);
  if (table.ark) entries.emplace_back(&guid_ark(), &*table.ark);
  size_t header = (entries.size() + 1) * 24;
  Bytes out(header, 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    std::copy(entries[i].first->begin(), entries[i].first->end(), out.begin() + i * 24);
    store_le32(out.data() + i * 24 + 16, uint32_t(out.size()));
    store_le32(out.data() + i * 24 + 20, uint32_t(entries[i].second->size()));
    out.insert(out.end(), entries[i].second->begin(), entries[i].second->end());
  }
  return out;
}

Result<std::unique_ptr<AttestationProvider>> make_dev_provider(const std::string& product,
                                                               const std::string& dev_root_path,
                                                               ByteView measurement,
                                                               std::optional<ReleaseManifest> manifest) {
  attest::Product p = attest::product_from_name(product);
  if (p == attest::Product::unknown)
    return make_error(Errc::usage, fmt::format("expected product milan, genoa or turin, saw '{}'", product));
  if (measurement.size() != 48) return make_error(Errc::internal, "measurement must be 48 bytes");
  CONFER_TRY(auto authority, dev::DevAuthority::create(p));
  if (!dev_root_path.empty()) {
    std::string pem = authority.ark().pem();
    CONFER_TRY_VOID(write_file_atomic(dev_root_path, as_bytes(pem), 0644));
  }
  std::array<uint8_t, 48> m{};
  std::copy(measurement.begin(), measurement.end(), m.begin());
  return std::unique_ptr<AttestationProvider>(std::make_unique<DevProvider>(std::move(authority), m, std::move(manifest)));
}

std::unique_ptr<AttestationProvider> make_tsm_provider(const std::string& root, std::optional<ReleaseManifest> manifest,
                                                       TsmOptions options) {
  return std::make_unique<TsmProvider>(root, std::move(manifest), std::move(options));
}

}  // namespace confer::server
