// Intel TDX DCAP quotes, versions 4 and 5 (TD 1.0 and TD 1.5 bodies), parsed exactly
// (ATTESTATION §3.1–3.5): header, TD report body, signature data with the QE report,
// its signature, the QE authentication data and the PCK certificate chain. Lengths,
// versions and key types that are not the format's are errors; bytes after the
// signature data are counted (kernels pad quotes to their buffer) and judged by the
// verifier's policy, not here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.hpp"

namespace confer::attest {

using Register48 = std::array<uint8_t, 48>;

inline constexpr size_t kTdxHeaderSize = 48;
inline constexpr size_t kTd10BodySize = 584;
inline constexpr size_t kTd15BodySize = 648;
inline constexpr size_t kSgxReportSize = 384;
inline constexpr uint32_t kTeeTypeTdx = 0x81;
inline constexpr uint16_t kAttKeyEcdsaP256 = 2;
inline constexpr size_t kMaxTdxQuoteSize = 1u << 20;  // real ones are 5–8 KiB

struct TdxHeader {
  uint16_t version = 0;
  uint16_t att_key_type = 0;
  uint32_t tee_type = 0;
  std::array<uint8_t, 16> qe_vendor_id{};
  std::array<uint8_t, 20> user_data{};
};

struct TdReportBody {
  uint16_t body_type = 2;  // 2: TD 1.0, 3: TD 1.5 (v4 quotes are always TD 1.0)
  std::array<uint8_t, 16> tee_tcb_svn{};
  Register48 mrseam{};
  Register48 mrsignerseam{};
  uint64_t seam_attributes = 0;
  uint64_t td_attributes = 0;
  uint64_t xfam = 0;
  Register48 mrtd{};
  Register48 mrconfigid{};
  Register48 mrowner{};
  Register48 mrownerconfig{};
  std::array<Register48, 4> rtmr{};
  std::array<uint8_t, 64> report_data{};
  std::optional<std::array<uint8_t, 16>> tee_tcb_svn2;  // TD 1.5
  std::optional<Register48> mrservicetd;                // TD 1.5
};

// The QE's SGX REPORT body (384 bytes).
struct SgxReportBody {
  std::array<uint8_t, 16> cpusvn{};
  uint32_t miscselect = 0;
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 32> mrenclave{};
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isvprodid = 0;
  uint16_t isvsvn = 0;
  std::array<uint8_t, 64> report_data{};
};

struct TdxQuote {
  TdxHeader header;
  TdReportBody body;
  size_t signed_length = 0;              // header + body (v5: with body type and size)
  std::array<uint8_t, 64> signature{};   // ECDSA P-256 r || s over [0, signed_length)
  std::array<uint8_t, 64> attestation_key{};  // P-256 x || y
  Bytes qe_report;                       // the 384 signed bytes
  SgxReportBody qe;
  std::array<uint8_t, 64> qe_report_signature{};
  Bytes qe_auth_data;
  Bytes pck_chain_pem;                   // PCK leaf, Platform/Processor CA, root (NUL-trimmed)
  size_t trailing = 0;                   // bytes after the signature data
  bool trailing_all_zero = true;
};

// True when the bytes start like a TDX quote (version 4 or 5, TEE type 0x81).
bool looks_like_tdx_quote(ByteView bytes) noexcept;
// Errc::parse naming the field, its offset, what was expected and what was seen.
Result<TdxQuote> parse_tdx_quote(ByteView bytes);

const char* td_body_name(uint16_t body_type) noexcept;  // "TD 1.0", "TD 1.5"

// TDATTRIBUTES bits (ATTESTATION §3.3).
inline constexpr uint64_t kTdAttrDebug = 1ull << 0;
inline constexpr uint64_t kTdAttrSeptVeDisable = 1ull << 28;
inline constexpr uint64_t kTdAttrPks = 1ull << 30;
inline constexpr uint64_t kTdAttrPerfmon = 1ull << 63;
// The bits a TD may have set at all; the rest are reserved and must be zero.
inline constexpr uint64_t kTdAttrAllowed = kTdAttrDebug | kTdAttrSeptVeDisable | kTdAttrPks | kTdAttrPerfmon;
// XFAM: x87 and SSE always set; only the architecturally defined features otherwise.
inline constexpr uint64_t kXfamFixed1 = 0x3;
inline constexpr uint64_t kXfamFixed0 = 0x6DBE7;

}  // namespace confer::attest
