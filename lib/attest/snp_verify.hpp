// SEV-SNP verification: every step of ATTESTATION §2.6 as a named check.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attest/evidence.hpp"
#include "attest/snp_policy.hpp"
#include "attest/snp_report.hpp"
#include "crypto/x509.hpp"
#include "attest/snp_checks.hpp"
#include "core/check.hpp"
#include "core/time.hpp"

namespace confer::attest {

struct SnpInput {
  Bytes report;                          // the raw report
  std::optional<HclRuntimeData> hcl;     // set when the report came in an HCL wrapper
  std::optional<crypto::Cert> signer;      // VCEK or VLEK
  std::vector<crypto::Cert> chain;         // [ASK or ASVK] or [ASK or ASVK, ARK]; empty: built in
};

struct SnpVerifyOptions {
  UnixTime at = 0;
  SnpPolicy policy;
  std::vector<crypto::Cert> extra_roots;  // --trust-root: accepted, and marked not AMD's
  // The channel's server static key: REPORT_DATA must be exactly key || 32 zero bytes
  // (DESIGN §3), or, with `fresh_nonce`, SHA-512("confer-attest-v1" || key || nonce).
  std::optional<std::array<uint8_t, 32>> channel_key;
  std::optional<Bytes> fresh_nonce;
};

struct SnpVerification {
  CheckList checks;
  std::optional<SnpReport> report;
  Product product = Product::unknown;
  bool development_root = false;  // the chain ended at an extra root, not AMD's
  std::string root_sha256;
  std::string root_subject;
  UnixTime at = 0;

  bool verified() const noexcept;
  const Check* first_failure() const noexcept;
};

SnpVerification verify_report(const SnpInput& input, const SnpVerifyOptions& options);

// ECDSA P-384 / SHA-384 over [0, 0x2A0) with the report's little-endian R and S.
Result<void> verify_report_signature(ByteView report_bytes, const crypto::Cert& signer);

// The fresh-attestation binding (DESIGN §3): SHA-512("confer-attest-v1" || key || nonce).
Bytes fresh_report_data(ByteView server_static, ByteView nonce);

// One JSON object with the verdict, the report's fields and every check (--json).
std::string verification_json(const SnpVerification& v, const std::string& evidence_format);

}  // namespace confer::attest
