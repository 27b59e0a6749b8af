// A development SEV-SNP authority: a locally generated chain of AMD's shapes (ARK and
// ASK/ASVK RSA-4096 with RSASSA-PSS SHA-384, VCEK/VLEK ECDSA P-384 with AMD's
// extensions) that signs SEV-SNP-format reports. Verifiers accept its reports only
// when told to trust its root, and then say that the root is not AMD's.
#pragma once

#include <optional>
#include <string>

#include "attest/snp_report.hpp"
#include "crypto/x509.hpp"
#include "core/time.hpp"

namespace confer::dev {

using attest::Product;
using attest::SnpReport;
using attest::Tcb;

struct DevCertSpec {
  std::string product_name;  // productName extension ("Milan-B0", "Genoa", "Turin", "Milan")
  Tcb tcb;
  std::optional<Bytes> hwid;          // VCEK: 64 bytes (8 on Turin); absent for a VLEK
  bool hwid_as_octet_string = false;  // the DER-wrapped encoding instead of KDS's raw one
  std::optional<std::string> csp_id;  // VLEK
  bool vlek = false;                  // issue under the ASVK with CN SEV-VLEK
  UnixTime not_before = 0;
  UnixTime not_after = 0;
};

struct DevSigner {
  crypto::Cert cert;
  crypto::PkeyPtr key;
};

class DevAuthority {
 public:
  // Generates ARK, ASK and ASVK for `product` (three RSA-4096 keys: seconds, not ms).
  static Result<DevAuthority> create(Product product);

  Product product() const noexcept { return product_; }
  const crypto::Cert& ark() const noexcept { return ark_; }
  const crypto::Cert& ask() const noexcept { return ask_; }
  const crypto::Cert& asvk() const noexcept { return asvk_; }
  // "ASK then ARK" (or ASVK then ARK), as AMD KDS serves cert_chain.
  std::string chain_pem(bool vlek = false) const;

  Result<DevSigner> issue(const DevCertSpec& spec) const;
  // A spec matching `report` (hwID = CHIP_ID, TCB = REPORTED_TCB) valid around now.
  DevCertSpec spec_for(const SnpReport& report) const;

 private:
  Product product_ = Product::unknown;
  crypto::Cert ark_, ask_, asvk_;
  crypto::PkeyPtr ark_key_, ask_key_, asvk_key_;
};

// A plausible report for `product`: version 3, policy 0x30000, VMPL 0, the product's
// CPUID, a random CHIP_ID and REPORT_ID, SIGNING_KEY 0. The caller fills what it needs.
SnpReport dev_report_template(Product product);

// Serialises `report`, signs [0, 0x2A0) with `key` (ECDSA P-384, SHA-384) and stores
// R and S little-endian; returns the 1184 bytes.
Result<Bytes> sign_report(SnpReport report, EVP_PKEY* key);

Result<crypto::PkeyPtr> generate_p384_key();

}  // namespace confer::dev
