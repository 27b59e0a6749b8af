// One verification result for every platform: what attest::verify returns, what the
// attested session holds and what the commands print. The checks are the platform
// verifier's own; the platform's details (the SEV-SNP report, the TDX quote or ITA
// claims) ride along.
#pragma once

#include <map>
#include <optional>
#include <vector>
#include <string>

#include "attest/evidence.hpp"
#include "attest/gpu_verify.hpp"
#include "attest/snp_verify.hpp"
#include "attest/tdx_verify.hpp"

namespace confer::attest {

struct Verification {
  Verification() : snp(SnpVerification{}) {}
  Verification(SnpVerification v) : platform(Platform::sev_snp), snp(std::move(v)) {}  // NOLINT
  Verification(TdxVerification v) : platform(Platform::tdx), tdx(std::move(v)) {}      // NOLINT

  Platform platform = Platform::sev_snp;
  std::optional<SnpVerification> snp;
  std::optional<TdxVerification> tdx;

  CheckList& checks() { return tdx ? tdx->checks : snp->checks; }
  const CheckList& checks() const { return tdx ? tdx->checks : snp->checks; }
  bool verified() const noexcept { return checks().passed(); }
  const Check* first_failure() const noexcept { return checks().first_failure(); }
  bool development_root() const noexcept { return tdx ? tdx->development_root : snp->development_root; }
  UnixTime at() const noexcept { return tdx ? tdx->at : snp->at; }
  // The SEV-SNP launch measurement, or the TD's MRTD (from the quote or the ITA token), in
  // hex; "" when the evidence never parsed.
  std::string measurement() const;
  // "AMD SEV-SNP Milan", "Intel TDX", "Intel TDX (Intel Trust Authority)"
  std::string platform_label() const;
  // "Milan, TCB bl=..." / "TDX (DCAP), TCB UpToDate": the one-line description of what verified.
  std::string summary() const;
};

// The REPORT_DATA the CPU evidence carried (empty when it never parsed).
Bytes report_data_of(const Verification& v);

// GPU evidence beside the CPU's (Evidence::gpus): each GPU's checks (gpu.format ...
// gpu.measurements, their expectations naming the GPU) appended to `v`'s, its nonce
// bound to the CPU's REPORT_DATA; "gpu.evidence" fails when `required` and there is none.
void check_gpus(Verification& v, const std::vector<Evidence::Gpu>& gpus, bool required,
                const std::map<uint8_t, Bytes>& measurements, const std::vector<crypto::Cert>& extra_roots,
                UnixTime at);

// The TD's registers, from a quote's body or an ITA token's claims (null when neither).
struct TdRegisters {
  Register48 mrtd{};
  std::array<Register48, 4> rtmr{};
};
std::optional<TdRegisters> td_registers(const TdxVerification& v);

}  // namespace confer::attest
