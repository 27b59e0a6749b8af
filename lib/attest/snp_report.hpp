// AMD SEV-SNP ATTESTATION_REPORT (SEV-SNP Firmware ABI, pub. 56860, "ATTESTATION_REPORT
// Structure"): 0x4A0 bytes, little-endian. Versions 2, 3 and 5 are accepted.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/bytes.hpp"

namespace confer::attest {

inline constexpr size_t kReportSize = 0x4A0;
inline constexpr size_t kSignedSize = 0x2A0;  // the signature covers [0, 0x2A0)

enum class Product { unknown, milan, genoa, turin };
const char* product_name(Product p) noexcept;  // "Milan", "Genoa", "Turin" (KDS spelling)
Product product_from_name(std::string_view name) noexcept;  // case-insensitive; "Milan-B0" ok

enum class SigningKey : uint8_t { vcek = 0, vlek = 1, none = 7 };
const char* signing_key_name(SigningKey k) noexcept;

// The components of a TCB_VERSION. Byte layout differs on Turin (ABI 1.57, TCB_VERSION).
struct Tcb {
  uint8_t fmc = 0;  // Turin only
  uint8_t bootloader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;
  bool operator==(const Tcb&) const = default;
};
Tcb decode_tcb(uint64_t raw, Product product) noexcept;
uint64_t encode_tcb(const Tcb& tcb, Product product) noexcept;
std::string tcb_string(const Tcb& tcb, Product product);  // "bl=3 tee=0 snp=8 ucode=115"

// Guest POLICY bits (ABI "GUEST_POLICY").
namespace policy_bit {
inline constexpr uint64_t smt = 1ull << 16;
inline constexpr uint64_t reserved_one = 1ull << 17;  // must be 1
inline constexpr uint64_t migrate_ma = 1ull << 18;
inline constexpr uint64_t debug = 1ull << 19;
inline constexpr uint64_t single_socket = 1ull << 20;
inline constexpr uint64_t mbz_mask = ~((1ull << 26) - 1);  // bits 26..63
}  // namespace policy_bit

struct FirmwareVersion {
  uint8_t major = 0, minor = 0, build = 0;
  bool operator==(const FirmwareVersion&) const = default;
};

struct SnpReport {
  uint32_t version = 0;
  uint32_t guest_svn = 0;
  uint64_t policy = 0;
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  uint32_t vmpl = 0;
  uint32_t signature_algo = 0;
  uint64_t current_tcb = 0;
  uint64_t platform_info = 0;
  uint32_t signer_info = 0;  // bit0 author key, bit1 mask chip key, bits 4:2 signing key
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 48> id_key_digest{};
  std::array<uint8_t, 48> author_key_digest{};
  std::array<uint8_t, 32> report_id{};
  std::array<uint8_t, 32> report_id_ma{};
  uint64_t reported_tcb = 0;
  uint8_t cpuid_family = 0, cpuid_model = 0, cpuid_stepping = 0;  // v3+
  std::array<uint8_t, 64> chip_id{};
  uint64_t committed_tcb = 0;
  FirmwareVersion current_fw, committed_fw;
  uint64_t launch_tcb = 0;
  uint64_t launch_mit_vector = 0, current_mit_vector = 0;  // v5+
  std::array<uint8_t, 72> sig_r{};  // little-endian, zero-padded
  std::array<uint8_t, 72> sig_s{};

  SigningKey signing_key() const noexcept { return SigningKey((signer_info >> 2) & 7); }
  bool author_key_en() const noexcept { return signer_info & 1; }
  bool mask_chip_key() const noexcept { return signer_info & 2; }
  // From CPUID family/model (v3+); unknown for v2 or unrecognised parts.
  Product product_from_cpuid() const noexcept;
};

// Parses exactly kReportSize bytes, rejecting unknown versions, unknown signature
// algorithms, reserved signing keys and non-zero reserved fields.
Result<SnpReport> parse_report(ByteView bytes);
// The exact inverse of parse_report (used by the development provider and tests).
Bytes serialize_report(const SnpReport& report);

}  // namespace confer::attest
