#include "server/attestation.hpp"


#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/dev_provider.hpp"
#include "attest/tsm.hpp"

namespace confer::server {

using nlohmann::json;

namespace {

json manifest_fields(const std::optional<ReleaseManifest>& m) {
  json j;
  j["manifest"] = m ? json(m->manifest) : json(nullptr);
  j["manifestBundle"] = m ? json(m->bundle) : json(nullptr);
  return j;
}

class DevProvider final : public AttestationProvider {
 public:
  DevProvider(snp::DevAuthority authority, std::array<uint8_t, 48> measurement, std::optional<ReleaseManifest> m)
      : authority_(std::move(authority)), measurement_(measurement), manifest_(std::move(m)) {
    template_ = snp::dev_report_template(authority_.product());
    template_.measurement = measurement_;
  }

  Result<std::string> evidence(ByteView report_data) override {
    if (report_data.size() != 64) return make_error(Errc::internal, "report_data must be 64 bytes");
    snp::Report r = template_;
    std::copy(report_data.begin(), report_data.end(), r.report_data.begin());
    // One VCEK per process, as on a real chip at one TCB.
    if (!signer_) {
      CONFER_TRY(signer_, authority_.issue(authority_.spec_for(r)));
    }
    CONFER_TRY(Bytes report, snp::sign_report(r, signer_->key.get()));
    json j = manifest_fields(manifest_);
    j["platform"] = "SEV-SNP";
    j["attestation"] = to_base64(report);
    j["collateral"] = {{"vcek", signer_->cert.pem()}, {"chain", authority_.chain_pem()}};
    return j.dump();
  }

  std::string describe() const override {
    return fmt::format("development SEV-SNP ({}; NOT AMD), measurement {}", snp::product_name(authority_.product()),
                       to_hex(measurement_));
  }

 private:
  snp::DevAuthority authority_;
  std::array<uint8_t, 48> measurement_;
  std::optional<ReleaseManifest> manifest_;
  snp::Report template_;
  std::optional<snp::DevSigner> signer_;
};

class TsmProvider final : public AttestationProvider {
 public:
  TsmProvider(std::string root, std::optional<ReleaseManifest> m) : root_(std::move(root)), manifest_(std::move(m)) {}

  Result<std::string> evidence(ByteView report_data) override {
    CONFER_TRY(attest::TsmReport report, attest::tsm_report(root_, report_data));
    json j = manifest_fields(manifest_);
    if (report.provider.rfind("sev_guest", 0) == 0) {
      j["platform"] = "SEV-SNP";
      j["attestation"] = to_base64(report.outblob);
      CONFER_TRY(auto vcek, vcek_from_cert_table(report.auxblob));
      if (vcek) j["collateral"] = {{"vcek", to_base64(*vcek)}};
    } else if (report.provider.rfind("tdx_guest", 0) == 0) {
      j["platform"] = "TDX";
      j["attestation"] = "dcap:" + to_base64(report.outblob);
    } else {
      return make_error(Errc::attestation,
                        fmt::format("configfs-tsm: expected provider sev_guest or tdx_guest, saw '{}'", report.provider));
    }
    return j.dump();
  }

  std::string describe() const override { return "configfs-tsm at " + root_; }

 private:
  std::string root_;
  std::optional<ReleaseManifest> manifest_;
};

}  // namespace

Result<std::optional<Bytes>> vcek_from_cert_table(ByteView aux) {
  // GUIDs in RFC 4122 byte order, as go-sev-guest and virtee/sev read the table:
  // VCEK 63da758d-e664-4564-adc5-f4b93be8accd, VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1.
  static const Bytes kVcek = *from_hex("63da758de6644564adc5f4b93be8accd");
  static const Bytes kVlek = *from_hex("a8074bc2a25a483eaae639c045a0b8a1");
  for (size_t at = 0; at + 24 <= aux.size(); at += 24) {
    ByteView guid = aux.subspan(at, 16);
    uint32_t offset = load_le32(aux.data() + at + 16), length = load_le32(aux.data() + at + 20);
    if (all_zero(guid)) break;
    if (!equal_ct(guid, kVcek) && !equal_ct(guid, kVlek)) continue;
    if (uint64_t(offset) + length > aux.size())
      return make_error(Errc::attestation, fmt::format("certificate table: entry at {} points past the {} bytes",
                                                       at, aux.size()));
    return std::optional<Bytes>(Bytes(aux.begin() + offset, aux.begin() + offset + length));
  }
  return std::optional<Bytes>();
}

Result<std::unique_ptr<AttestationProvider>> make_dev_provider(const std::string& product,
                                                               const std::string& dev_root_path,
                                                               ByteView measurement,
                                                               std::optional<ReleaseManifest> manifest) {
  snp::Product p = snp::product_from_name(product);
  if (p == snp::Product::unknown)
    return make_error(Errc::usage, fmt::format("expected product milan, genoa or turin, saw '{}'", product));
  if (measurement.size() != 48) return make_error(Errc::internal, "measurement must be 48 bytes");
  CONFER_TRY(auto authority, snp::DevAuthority::create(p));
  if (!dev_root_path.empty()) {
    std::string pem = authority.ark().pem();
    CONFER_TRY_VOID(write_file_atomic(dev_root_path, as_bytes(pem), 0644));
  }
  std::array<uint8_t, 48> m{};
  std::copy(measurement.begin(), measurement.end(), m.begin());
  return std::unique_ptr<AttestationProvider>(std::make_unique<DevProvider>(std::move(authority), m, std::move(manifest)));
}

std::unique_ptr<AttestationProvider> make_tsm_provider(const std::string& root, std::optional<ReleaseManifest> manifest) {
  return std::make_unique<TsmProvider>(root, std::move(manifest));
}

}  // namespace confer::server
