// The SEV-SNP verifier's check names. docs/verification.md declares them an interface:
// scripts match on them in --json output, so they change only with a new name, never
// a new meaning.
#pragma once

#include <string_view>

namespace confer::attest::checks {

inline constexpr std::string_view kReportFormat = "report.format";
inline constexpr std::string_view kReportSigner = "report.signer";
inline constexpr std::string_view kReportSignature = "report.signature";
inline constexpr std::string_view kChainArk = "chain.ark";
inline constexpr std::string_view kChainAsk = "chain.ask";
inline constexpr std::string_view kChainVcek = "chain.vcek";
inline constexpr std::string_view kChainValidity = "chain.validity";
inline constexpr std::string_view kVcekProduct = "vcek.product";
inline constexpr std::string_view kVcekHwid = "vcek.hwid";
inline constexpr std::string_view kVcekTcb = "vcek.tcb";
inline constexpr std::string_view kHclRuntimeData = "hcl.runtime-data";
inline constexpr std::string_view kChannelBinding = "channel.binding";
inline constexpr std::string_view kPolicyDebug = "policy.debug";
inline constexpr std::string_view kPolicyMigrateMa = "policy.migrate-ma";
inline constexpr std::string_view kPolicyVmpl = "policy.vmpl";
inline constexpr std::string_view kPolicySmt = "policy.smt";
inline constexpr std::string_view kPolicySingleSocket = "policy.single-socket";
inline constexpr std::string_view kPolicyAbi = "policy.abi";
inline constexpr std::string_view kPolicyFirmware = "policy.firmware";
inline constexpr std::string_view kPolicyMinTcb = "policy.min-tcb";
inline constexpr std::string_view kPolicyMeasurement = "policy.measurement";
inline constexpr std::string_view kPolicyReportData = "policy.report-data";
inline constexpr std::string_view kPolicyHostData = "policy.host-data";
inline constexpr std::string_view kPolicyIdKeyDigest = "policy.id-key-digest";
inline constexpr std::string_view kPolicyAuthorKeyDigest = "policy.author-key-digest";

}  // namespace confer::attest::checks
