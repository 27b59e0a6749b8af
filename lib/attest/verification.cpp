#include "attest/verification.hpp"

#include <fmt/format.h>

namespace confer::attest {

std::optional<TdRegisters> td_registers(const TdxVerification& v) {
  TdRegisters r;
  if (v.quote) {
    r.mrtd = v.quote->body.mrtd;
    r.rtmr = v.quote->body.rtmr;
    return r;
  }
  if (v.ita) {
    r.mrtd = v.ita->mrtd;
    r.rtmr = v.ita->rtmr;
    return r;
  }
  return std::nullopt;
}

std::string Verification::measurement() const {
  if (tdx) {
    auto r = td_registers(*tdx);
    return r ? to_hex(r->mrtd) : "";
  }
  return snp->report ? to_hex(snp->report->measurement) : "";
}

std::string Verification::platform_label() const {
  if (tdx) {
    std::string label = tdx->appraisal == "intel-trust-authority" ? "Intel TDX (Intel Trust Authority)" : "Intel TDX";
    if (tdx->development_root) label += " (development root, NOT Intel)";
    return label;
  }
  std::string label = fmt::format("AMD SEV-SNP {}", product_name(snp->product));
  if (snp->development_root) label += " (development root, NOT AMD)";
  return label;
}

std::string Verification::summary() const {
  if (tdx) {
    if (tdx->ita) return fmt::format("TDX appraised by Intel Trust Authority, TCB {}", tdx->ita->tcb_status);
    return fmt::format("TDX (DCAP quote v{}){}", tdx->quote ? tdx->quote->header.version : 0,
                       tdx->tcb ? ", TCB " + tdx->tcb->status : "");
  }
  std::string tcb = snp->report ? ", TCB " + tcb_string(decode_tcb(snp->report->reported_tcb, snp->product), snp->product)
                                : "";
  return fmt::format("SEV-SNP {}{}", product_name(snp->product), tcb);
}

}  // namespace confer::attest
