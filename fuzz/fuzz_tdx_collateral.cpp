// Intel's collateral parsers: TCB info, QE identity, the raw-member slicer, CRLs.
#include <string_view>

#include "attest/tdx_collateral.hpp"
#include "crypto/x509.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  using namespace confer::attest;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_tcb_info(text);
  (void)parse_qe_identity(text);
  (void)raw_member(text, "tcbInfo");
  (void)confer::crypto::Crl::from_der_or_pem(confer::ByteView(data, size));
  return 0;
}
