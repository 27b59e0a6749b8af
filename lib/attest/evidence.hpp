// What a user hands `verify-attestation --evidence`: a raw SEV-SNP report or TDX quote,
// its base64, an Azure HCL report, or an evidence JSON object (DESIGN §3); detected
// from the bytes.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "attest/evidence_document.hpp"
#include "attest/tdx_collateral.hpp"
#include "core/bytes.hpp"

namespace confer::attest {

enum class EvidenceFormat { raw, base64, hcl, json, ita };
enum class Platform { sev_snp, tdx };
const char* platform_name(Platform p) noexcept;  // "SEV-SNP", "TDX"
const char* evidence_format_name(EvidenceFormat f) noexcept;

struct HclRuntimeData {
  Bytes json;  // the runtime-data document whose SHA-256 the report binds
  uint32_t hash_type = 0;
};

struct Evidence {
  EvidenceFormat format = EvidenceFormat::raw;
  Platform platform = Platform::sev_snp;
  Bytes report;                         // exactly the report (or TDX quote) bytes, not yet parsed
  TdxCollateral tdx_collateral;         // TDX: what the evidence JSON carried
  std::optional<std::string> ita_token;  // TDX appraised by Intel Trust Authority: the JWT
  // From an evidence JSON's "gpu": [{"evidence": base64 SPDM report, "chain": PEM}, ...]
  // (at most 8): the confidential GPUs beside the CPU, each report's requester nonce
  // bound to the CPU's REPORT_DATA (gpu_nonce_for).
  struct Gpu {
    Bytes report;
    Bytes chain_pem;
  };
  std::vector<Gpu> gpus;
  std::optional<HclRuntimeData> hcl;    // when the report came in an HCL wrapper
  std::optional<Bytes> vcek;            // DER or PEM, from the JSON collateral
  std::optional<Bytes> chain;           // PEM: ASK/ASVK then ARK, from the JSON collateral
  // Saved by `verify-attestation URL --save`: the channel key the evidence must bind.
  std::optional<std::array<uint8_t, 32>> channel_key;
  // From an evidence JSON: the signed release manifest and its Sigstore bundle.
  std::optional<std::string> manifest;
  std::optional<std::string> manifest_bundle;
};

Result<Evidence> parse_evidence(ByteView bytes);

// The requester nonce a GPU report beside CPU evidence must carry:
// SHA-256("confer-gpu-v1" || the CPU evidence's 64-byte REPORT_DATA).
Bytes gpu_nonce_for(ByteView report_data);

// Three base64url parts joined by dots, the first a JSON object ('eyJ').
bool looks_like_jwt(std::string_view text) noexcept;

// Azure HCL report: "HCLA", the SNP report at [0x20, 0x4C0), runtime data at 0x4C0.
Result<Evidence> parse_hcl_report(ByteView bytes);

// Serialises report + collateral as an evidence document (what dev-evidence writes).
std::string evidence_json(ByteView report, const std::string& vcek_pem,
                          const std::string& chain_pem);

}  // namespace confer::attest
