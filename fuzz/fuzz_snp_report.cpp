// The SEV-SNP report parser: any bytes in, a report or an error out; a parsed report
// must serialise back to the same bytes.
#include <cstdlib>
#include <cstring>

#include "attest/snp_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  auto r = confer::attest::parse_report({data, size});
  if (r) {
    auto bytes = confer::attest::serialize_report(*r);
    if (bytes.size() != size || std::memcmp(bytes.data(), data, size) != 0) std::abort();
    (void)r->product_from_cpuid();
    (void)confer::attest::decode_tcb(r->reported_tcb, confer::attest::Product::turin);
  }
  return 0;
}
