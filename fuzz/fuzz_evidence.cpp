// Evidence detection: raw, base64, HCL wrapper, evidence JSON.
#include "attest/evidence.hpp"
#include "attest/snp_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto e = confer::attest::parse_evidence({data, size});
  if (e) (void)confer::attest::parse_report(e->report);
  return 0;
}
