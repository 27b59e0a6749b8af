// What a TDX guest must look like to be trusted beyond a valid quote (ATTESTATION
// §3.10–3.11). Debug TDs are always refused: there is deliberately no switch.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "attest/tdx_quote.hpp"

namespace confer::attest {

struct TdxPolicy {
  // Intel TCB statuses accepted (after platform, module and QE are combined).
  std::vector<std::string> accepted_statuses{"UpToDate"};
  // Collateral older than this evaluation (rollback to stale TCB info) is refused.
  std::optional<int64_t> min_tcb_evaluation_number;
  std::vector<Register48> mrseam_allowlist;  // empty: any Intel-signed module
  std::optional<Register48> mrtd;
  std::array<std::optional<Register48>, 4> rtmr;
  std::optional<std::array<uint8_t, 16>> min_tee_tcb_svn;  // each byte compared separately
  // Bytes after the signature data other than zeros (kernels pad with zeros).
  bool allow_nonzero_trailing = false;
};

// Known Intel statuses, for validating a policy's list.
bool is_tcb_status_name(std::string_view s) noexcept;

}  // namespace confer::attest
