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

Bytes report_data_of(const Verification& v) {
  if (v.tdx) {
    if (v.tdx->quote) return Bytes(v.tdx->quote->body.report_data.begin(), v.tdx->quote->body.report_data.end());
    if (v.tdx->ita) return v.tdx->ita->report_data;
    return {};
  }
  if (v.snp && v.snp->report) return Bytes(v.snp->report->report_data.begin(), v.snp->report->report_data.end());
  return {};
}

void check_gpus(Verification& v, const std::vector<Evidence::Gpu>& gpus, bool required,
                const std::map<uint8_t, Bytes>& measurements, const std::vector<crypto::Cert>& extra_roots,
                UnixTime at) {
  CheckList& checks = v.checks();
  if (gpus.empty()) {
    if (required) checks.fail("gpu.evidence", "GPU evidence beside the CPU's (the policy requires it)", "none");
    return;
  }
  Bytes report_data = report_data_of(v);
  for (size_t i = 0; i < gpus.size(); ++i) {
    GpuVerifyOptions opt;
    opt.at = at;
    opt.extra_roots = extra_roots;
    opt.expected_measurements = measurements;
    if (report_data.size() == 64) opt.expected_nonce = gpu_nonce_for(report_data);
    GpuVerification g = verify_gpu_evidence({gpus[i].report, gpus[i].chain_pem}, opt);
    for (Check c : g.checks) {
      c.expected = fmt::format("GPU {}: {}", i, c.expected);
      checks.push(std::move(c));
    }
    if (report_data.size() != 64)
      checks.fail("gpu.nonce", fmt::format("GPU {}: a nonce bound to the CPU evidence", i), "no CPU REPORT_DATA");
  }
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
