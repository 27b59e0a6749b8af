// NVIDIA Hopper GPU attestation: every check of ATTESTATION §4.3 that can be made
// offline, as named checks (RIM comparison only against expected values the caller
// gives; no OCSP).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "attest/spdm.hpp"
#include "core/check.hpp"
#include "core/time.hpp"
#include "crypto/x509.hpp"

namespace confer::attest {

// The GPU verifier's check names, in the order they are made. Scripts match on them in
// --json output: they change only with a new name, never a new meaning.
namespace gpu_checks {
inline constexpr std::string_view kFormat = "gpu.format";
inline constexpr std::string_view kChain = "gpu.chain";
inline constexpr std::string_view kFwid = "gpu.fwid";
inline constexpr std::string_view kSignature = "gpu.signature";
inline constexpr std::string_view kNonce = "gpu.nonce";
inline constexpr std::string_view kMeasurements = "gpu.measurements";
}  // namespace gpu_checks

inline constexpr size_t kGpuChainMin = 2;
inline constexpr size_t kGpuChainMax = 8;

// TCG DICE (tcg-dice 2.23.133.5.4) extension carrying the firmware digests.
inline constexpr const char* kDiceTcbInfoOid = "2.23.133.5.4.1";

struct DiceFwid {
  std::string hash_oid;  // dotted, e.g. 2.16.840.1.101.3.4.2.2 (SHA-384)
  Bytes digest;
};

// Two layouts share the OID. The TCG DiceTcbInfo is a SEQUENCE of context-tagged
// optional fields with fwids as [6] IMPLICIT SEQUENCE OF FWID. NVIDIA's Hopper leaves
// carry instead the DICE composite-device-ID layout SEQUENCE { version INTEGER,
// deviceKey SubjectPublicKeyInfo, fwid FWID }, where deviceKey is the issuer's key.
enum class DiceLayout { tcb_info, composite_device_id };

struct DiceTcbInfo {
  DiceLayout layout = DiceLayout::tcb_info;
  std::vector<DiceFwid> fwids;
  std::optional<int64_t> version;  // composite layout
  Bytes device_key_spki;           // composite layout: DER SubjectPublicKeyInfo
};

// Decodes the extnValue contents (bounded, strict DER, by hand).
[[nodiscard]] Result<DiceTcbInfo> decode_dice_tcb_info(ByteView extension_value);
// The certificate's extension decoded; nullopt when it has none; an error when it
// appears twice or does not decode.
[[nodiscard]] Result<std::optional<DiceTcbInfo>> dice_tcb_info_of(const crypto::Cert& cert);

struct GpuInput {
  Bytes report;     // request || response
  Bytes chain_pem;  // the GPU's certificate chain, leaf first
};

struct GpuVerifyOptions {
  UnixTime at = 0;
  std::optional<Bytes> expected_nonce;              // 32 bytes: the nonce the verifier chose
  std::map<uint8_t, Bytes> expected_measurements;   // index -> digest
  std::vector<crypto::Cert> extra_roots;            // test roots: accepted, and marked not NVIDIA's
};

struct GpuVerification {
  CheckList checks;
  std::optional<SpdmReport> report;
  std::vector<std::string> chain_subjects;  // subject CNs, leaf first
  bool development_root = false;            // the chain ended at an extra root, not NVIDIA's
  std::string root_sha256;
  std::string root_subject;
  UnixTime at = 0;

  bool verified() const noexcept;
  const Check* first_failure() const noexcept;
};

GpuVerification verify_gpu_evidence(const GpuInput& input, const GpuVerifyOptions& options);

// The expected-values file: {"measurements": {"<index decimal>": "<hex digest>", ...}}.
[[nodiscard]] Result<std::map<uint8_t, Bytes>> parse_gpu_measurements_json(std::string_view text);

// Verdict, the report's fields and every check (--json).
nlohmann::ordered_json gpu_verification_json(const GpuVerification& v);

}  // namespace confer::attest
