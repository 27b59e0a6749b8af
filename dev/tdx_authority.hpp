// A development Intel TDX authority: a locally generated chain of Intel's shapes (an
// SGX root, a PCK Platform CA, a PCK certificate with SGX extensions, a TCB Signing
// certificate, all ECDSA P-256) that builds DCAP quotes (v4 and v5) and signs TCB info,
// QE identity and CRLs for them. Verifiers accept them only when told to trust its root
// (--trust-root), and then say that the root is not Intel's. Tests re-sign with it to
// build each negative twin.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/pck_ext.hpp"
#include "attest/tdx_quote.hpp"
#include "attest/tdx_verify.hpp"
#include "core/time.hpp"
#include "crypto/x509.hpp"

namespace confer::dev {

struct DevQuoteSpec {
  uint16_t version = 4;          // 4, or 5 (with body type 2 or 3)
  uint16_t v5_body_type = 3;
  attest::TdReportBody body;     // body_type follows version / v5_body_type
  uint16_t qe_isvsvn = 8;
  Bytes qe_auth_data = Bytes(32, 0x5a);
  // Tampering, for negative twins: each breaks one thing and re-signs the rest.
  bool corrupt_quote_signature = false;
  bool corrupt_qe_report_signature = false;
  bool corrupt_qe_report_data = false;
  Bytes trailing;                // appended after the signature data
};

struct DevTcbSpec {
  UnixTime issued = 0;           // 0: the authority's creation time
  UnixTime next_update = 0;      // 0: issued + 30 days
  int64_t evaluation_number = 18;
  std::string fmspc;             // "": the PCK's
  std::string status = "UpToDate";
  std::string module_status = "UpToDate";
  std::string qe_status = "UpToDate";
  std::vector<std::string> advisories;
  std::string mrsigner_seam;     // "": 48 zero bytes (Intel's module)
  bool include_module_identity = true;
};

struct DevCrlSpec {
  UnixTime this_update = 0;      // 0: the authority's creation time
  UnixTime next_update = 0;      // 0: this_update + 30 days
  bool revoke_pck = false;       // list the PCK in the PCK CRL
  bool revoke_ca = false;        // list the PCK CA in the root CRL
};

class DevTdxAuthority {
 public:
  static Result<DevTdxAuthority> create(UnixTime now);

  const crypto::Cert& root() const noexcept { return root_; }
  const crypto::Cert& pck() const noexcept { return pck_; }
  const attest::PckExtensions& pck_extensions() const noexcept { return pck_ext_; }
  std::string pck_chain_pem() const;      // PCK, CA, root
  std::string signing_chain_pem() const;  // TCB Signing, root

  // A plausible TD body: TEE_TCB_SVN 07.01.03 (module TDX_01 SVN 7), SEPT_VE_DISABLE,
  // XFAM e7 02 06, random MRTD and RTMRs, REPORTDATA as given.
  static attest::TdReportBody body_template();

  Result<Bytes> build_quote(const DevQuoteSpec& spec) const;
  // Collateral matching the quotes this authority builds.
  Result<attest::TdxCollateral> collateral(const DevTcbSpec& tcb = {}, const DevCrlSpec& crl = {}) const;
  // {"<key>": inner, "signature": "<hex r||s>"} signed by the TCB Signing key (inner verbatim).
  Result<std::string> sign_collateral(const std::string& key, const std::string& inner) const;
  nlohmann::ordered_json tcb_info_value(const DevTcbSpec& tcb) const;
  nlohmann::ordered_json qe_identity_value(const DevTcbSpec& tcb) const;
  Result<Bytes> crl(bool root_crl, const DevCrlSpec& spec) const;

 private:
  UnixTime now_ = 0;
  crypto::Cert root_, ca_, pck_, signer_;
  crypto::PkeyPtr root_key_, ca_key_, pck_key_, signer_key_, attestation_key_;
  attest::PckExtensions pck_ext_;
};

Result<crypto::PkeyPtr> generate_p256_key();
// ECDSA with SHA-256 as r || s (32 + 32 bytes, big-endian).
Result<Bytes> sign_raw_p256(EVP_PKEY* key, ByteView message);

}  // namespace confer::dev
