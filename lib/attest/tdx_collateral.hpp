// Intel's TDX collateral (ATTESTATION §3.8–3.9): the TCB info (v3, id "TDX") and QE
// identity (v2, id "TD_QE") bodies as Intel PCS serves them,
// {"tcbInfo": {...}, "signature": "<hex r||s>"}. Intel signs the exact bytes of the
// inner value, so they are sliced from the body as received, never re-serialised.
// Parsing is bounded (64 KiB... 1 MiB, 16 deep, 256 levels) and strict about types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/time.hpp"

namespace confer::attest {

struct TdxTcbLevel {
  std::array<uint8_t, 16> sgx{};
  uint32_t pcesvn = 0;
  std::array<uint8_t, 16> tdx{};
  std::string date;
  std::string status;
  std::vector<std::string> advisories;
};

struct SvnLevel {  // a TDX module identity's or the QE's level
  uint32_t isvsvn = 0;
  std::string date;
  std::string status;
  std::vector<std::string> advisories;
};

struct TdxModuleIdentity {
  std::string id;  // "TDX_01", "TDX_03"
  Bytes mrsigner;
  Bytes attributes;
  Bytes attributes_mask;
  std::vector<SvnLevel> levels;
};

struct TcbInfo {
  std::string signed_body;  // the exact bytes of the tcbInfo value
  Bytes signature;          // r || s
  std::string id;
  int64_t version = 0;
  UnixTime issue_date = 0;
  UnixTime next_update = 0;
  std::string fmspc;   // lower-case hex
  std::string pce_id;  // lower-case hex
  int64_t tcb_type = 0;
  int64_t evaluation_number = 0;
  std::optional<TdxModuleIdentity> tdx_module;  // "tdxModule" (no id, no levels)
  std::vector<TdxModuleIdentity> module_identities;
  std::vector<TdxTcbLevel> levels;
};

struct QeIdentity {
  std::string signed_body;
  Bytes signature;
  std::string id;
  int64_t version = 0;
  UnixTime issue_date = 0;
  UnixTime next_update = 0;
  int64_t evaluation_number = 0;
  uint32_t miscselect = 0;
  uint32_t miscselect_mask = 0;
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 16> attributes_mask{};
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isvprodid = 0;
  std::vector<SvnLevel> levels;
};

// Intel's collateral for one quote, as PCS serves it (ATTESTATION §3.8). Absent pieces
// fail the checks that need them.
struct TdxCollateral {
  std::optional<std::string> tcb_info;      // {"tcbInfo":...,"signature":...}
  std::optional<Bytes> tcb_info_chain;      // PEM: Intel SGX TCB Signing, then the root
  std::optional<std::string> qe_identity;   // {"enclaveIdentity":...,"signature":...}
  std::optional<Bytes> qe_identity_chain;   // PEM: Intel SGX TCB Signing, then the root
  std::optional<Bytes> pck_crl;             // DER or PEM, by the PCK's issuing CA
  std::optional<Bytes> root_crl;            // DER or PEM, by the Intel SGX Root CA

  bool empty() const noexcept {
    return !tcb_info && !tcb_info_chain && !qe_identity && !qe_identity_chain && !pck_crl && !root_crl;
  }
};

Result<TcbInfo> parse_tcb_info(std::string_view body);
Result<QeIdentity> parse_qe_identity(std::string_view body);

// The exact text of the value of top-level member `key` of the JSON object `body`
// (Errc::parse when absent or the body is not one object).
Result<std::string_view> raw_member(std::string_view body, std::string_view key);

}  // namespace confer::attest
