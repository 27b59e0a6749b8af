// NVIDIA Hopper GPU attestation report: an SPDM 1.1 GET_MEASUREMENTS request (37 bytes)
// followed by the MEASUREMENTS response (ATTESTATION §4.1, DMTF DSP0274 1.1 §10.11).
// Parsed by structure, never by "the last 96 bytes": real evidence carries padding.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::attest {

inline constexpr size_t kSpdmRequestSize = 37;
inline constexpr size_t kSpdmNonceSize = 32;
inline constexpr size_t kSpdmSignatureSize = 96;  // ECDSA P-384 r || s, big-endian
inline constexpr size_t kSpdmMaxReportSize = size_t(1) << 20;
inline constexpr uint8_t kSpdmVersion11 = 0x11;
inline constexpr uint8_t kSpdmGetMeasurements = 0xE0;
inline constexpr uint8_t kSpdmMeasurements = 0x60;
inline constexpr uint8_t kSpdmDmtfSpec = 0x01;  // MeasurementSpecification: DMTF

// The opaque TLV types NVIDIA's responder emits (ATTESTATION §4.1).
namespace spdm_opaque {
inline constexpr uint16_t driver_version = 3;
inline constexpr uint16_t gpu_info = 4;
inline constexpr uint16_t sku = 5;
inline constexpr uint16_t vbios_version = 6;
inline constexpr uint16_t board_id = 14;
inline constexpr uint16_t fwid = 20;
inline constexpr uint16_t opaque_data_version = 34;
inline constexpr uint16_t chip_info = 35;
}  // namespace spdm_opaque

struct MeasurementBlock {
  uint8_t index = 0;
  uint8_t spec = kSpdmDmtfSpec;  // MeasurementSpecification
  uint8_t value_type = 0;        // DMTFSpecMeasurementValueType
  Bytes digest;                  // DMTFSpecMeasurementValue (SHA-384 on Hopper)
};

struct OpaqueField {
  uint16_t type = 0;
  Bytes value;
};

struct SpdmReport {
  // Request
  uint8_t request_version = 0;
  uint8_t request_param1 = 0;  // bit 0: signature requested
  uint8_t request_param2 = 0;  // 0xFF: all blocks
  std::array<uint8_t, kSpdmNonceSize> request_nonce{};  // the verifier's nonce
  uint8_t slot_id = 0;
  // Response
  uint8_t response_version = 0;
  uint8_t response_param1 = 0;
  uint8_t response_param2 = 0;
  uint8_t number_of_blocks = 0;
  uint32_t measurement_record_length = 0;  // L
  std::vector<MeasurementBlock> blocks;
  std::array<uint8_t, kSpdmNonceSize> responder_nonce{};
  uint16_t opaque_length = 0;  // O
  std::vector<OpaqueField> opaque;
  std::array<uint8_t, kSpdmSignatureSize> signature{};
  size_t signed_length = 0;   // request || response up to the signature
  size_t trailing_bytes = 0;  // zero bytes after the signature

  const OpaqueField* opaque_field(uint16_t type) const noexcept;
  const MeasurementBlock* block(uint8_t index) const noexcept;
  // Opaque type 3 as ASCII with the trailing NULs cut; null when absent or not printable.
  std::optional<std::string> driver_version() const;
  // Opaque type 6 (8 bytes, little-endian) as "yy.zz.ww.vv.xx" of its 10 hex digits
  // xxyyzzwwvv (00a5009601000000 -> "96.00.A5.00.01"); null when absent or malformed.
  std::optional<std::string> vbios_version() const;
  // Opaque type 20; null when absent.
  std::optional<Bytes> fwid() const;
};

// Strict and bounded: versions and codes, every length inside the input, blocks that
// exactly fill the measurement record and match NumberOfBlocks, TLVs that exactly fill
// the opaque data, at most 1 MiB, only zero bytes after the signature.
[[nodiscard]] Result<SpdmReport> parse_spdm_report(ByteView bytes);

// "96.00.A5.00.01" from the 8 raw bytes of opaque field 6; error when not 8 bytes or
// when it does not fit 10 hex digits.
[[nodiscard]] Result<std::string> format_vbios_version(ByteView raw);

}  // namespace confer::attest
