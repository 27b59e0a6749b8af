// The policy file and the --min-tcb spec: user-supplied text.
#include <string_view>

#include "attest/snp_policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)confer::attest::parse_policy_json(text);
  (void)confer::attest::parse_tcb_spec(text);
  return 0;
}
