// What a SEV-SNP guest must look like to be trusted, beyond a valid signature chain.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/snp_report.hpp"
#include "attest/tdx_policy.hpp"

namespace confer::attest {

struct AbiVersion {
  uint8_t major = 0, minor = 0;
};

struct SnpPolicy {
  // Debug-enabled guests are always refused; there is deliberately no switch.
  bool allow_migrate_ma = false;
  bool allow_smt = true;
  bool require_single_socket = false;
  std::optional<uint32_t> vmpl;  // required VMPL, any when unset
  std::optional<Tcb> min_tcb;    // each component compared separately
  std::optional<AbiVersion> min_abi;
  std::optional<FirmwareVersion> min_firmware;
  std::vector<std::array<uint8_t, 48>> measurements;  // any one may match; empty: unpinned
  std::optional<Bytes> report_data;                   // 1..64 bytes, a prefix
  std::optional<std::array<uint8_t, 32>> host_data;
  std::optional<std::array<uint8_t, 48>> id_key_digest;
  std::optional<std::array<uint8_t, 48>> author_key_digest;
  // The file's "tdx" section: what a TDX guest must look like (report_data is shared).
  TdxPolicy tdx;
  // GPU evidence beside the CPU's: required (else checked when present), and the
  // measurement blocks it must hold ("gpu_measurements": {"INDEX": "HEX"}).
  bool require_gpu = false;
  std::map<uint8_t, Bytes> gpu_measurements;
};

// The JSON policy file (docs/policy.md). Unknown keys are errors, so typos cannot
// silently weaken a policy.
Result<SnpPolicy> parse_policy_json(std::string_view json);
// "bl=3,tee=0,snp=8,ucode=115[,fmc=0]"; every component named once, missing ones are 0.
Result<Tcb> parse_tcb_spec(std::string_view spec);
Result<std::array<uint8_t, 48>> parse_measurement_hex(std::string_view hex);
Result<Bytes> parse_report_data_hex(std::string_view hex);
// "N=HEX" (--expect-rtmr): an RTMR index 0..3 and its 48-byte value.
Result<std::pair<size_t, Register48>> parse_rtmr_spec(std::string_view spec);
// The policy file's "tdx" object.
Result<TdxPolicy> parse_tdx_policy(const nlohmann::json& v);

}  // namespace confer::attest
