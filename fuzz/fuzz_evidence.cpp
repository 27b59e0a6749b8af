// Evidence detection: raw, base64, HCL wrapper, evidence JSON; and the evidence
// document's round trip (what parses must serialize to something that parses again).
#include <string_view>

#include "attest/evidence.hpp"
#include "attest/evidence_document.hpp"
#include "attest/snp_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  auto e = confer::attest::parse_evidence({data, size});
  if (e) (void)confer::attest::parse_report(e->report);
  auto doc = confer::attest::EvidenceDocument::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (doc && !confer::attest::EvidenceDocument::parse(doc->serialize())) __builtin_trap();
  return 0;
}
