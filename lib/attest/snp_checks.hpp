// The SEV-SNP verifier's check names. docs/verification.md declares them an interface:
// scripts match on them in --json output, so they change only with a new name, never
// a new meaning.
#pragma once

#include <string_view>

namespace confer::attest::checks {

inline constexpr std::string_view report_format = "report.format";
inline constexpr std::string_view report_signer = "report.signer";
inline constexpr std::string_view report_signature = "report.signature";
inline constexpr std::string_view chain_ark = "chain.ark";
inline constexpr std::string_view chain_ask = "chain.ask";
inline constexpr std::string_view chain_vcek = "chain.vcek";
inline constexpr std::string_view chain_validity = "chain.validity";
inline constexpr std::string_view vcek_product = "vcek.product";
inline constexpr std::string_view vcek_hwid = "vcek.hwid";
inline constexpr std::string_view vcek_tcb = "vcek.tcb";
inline constexpr std::string_view hcl_runtime_data = "hcl.runtime-data";
inline constexpr std::string_view channel_binding = "channel.binding";
inline constexpr std::string_view policy_debug = "policy.debug";
inline constexpr std::string_view policy_migrate_ma = "policy.migrate-ma";
inline constexpr std::string_view policy_vmpl = "policy.vmpl";
inline constexpr std::string_view policy_smt = "policy.smt";
inline constexpr std::string_view policy_single_socket = "policy.single-socket";
inline constexpr std::string_view policy_abi = "policy.abi";
inline constexpr std::string_view policy_firmware = "policy.firmware";
inline constexpr std::string_view policy_min_tcb = "policy.min-tcb";
inline constexpr std::string_view policy_measurement = "policy.measurement";
inline constexpr std::string_view policy_report_data = "policy.report-data";
inline constexpr std::string_view policy_host_data = "policy.host-data";
inline constexpr std::string_view policy_id_key_digest = "policy.id-key-digest";
inline constexpr std::string_view policy_author_key_digest = "policy.author-key-digest";

}  // namespace confer::attest::checks
