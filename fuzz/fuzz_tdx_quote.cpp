// The TDX quote parser, the PCK SGX extension decoder and the whole verifier (the
// first byte picks which one the rest of the input is fed to).
#include "attest/pck_ext.hpp"
#include "attest/tdx_quote.hpp"
#include "attest/tdx_verify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1u << 20)) return 0;
  using namespace confer::attest;
  confer::ByteView rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: (void)parse_tdx_quote(rest); break;
    case 1: (void)parse_pck_extensions(rest); break;
    default: {
      TdxVerifyOptions opt;
      opt.at = 1780000000;
      (void)verify_tdx_quote(rest, {}, opt);
    }
  }
  // Every input also as a quote, whole.
  (void)parse_tdx_quote(confer::ByteView(data, size));
  return 0;
}
