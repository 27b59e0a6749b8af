// The VCEK extension decoders, and the whole certificate path: the first byte picks
// which one the rest of the input is fed to.
#include "attest/vcek_ext.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  using namespace confer::attest;
  if (size == 0) return 0;
  confer::ByteView rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: (void)decode_der_integer(rest); break;
    case 1: (void)decode_der_ia5(rest); break;
    case 2: (void)decode_hwid(rest); break;
    default: {
      auto cert = confer::crypto::Cert::from_der(rest);
      if (cert) {
        auto ext = parse_vcek_extensions(*cert);
        if (ext) (void)ext->tcb(Product::turin);
      }
      // The same bytes as one AMD extension of each kind.
      for (const char* suffix : {"1", "2", "3.1", "3.8", "3.9", "4", "5"}) {
        std::vector<RawExtension> one{{std::string(kAmdOidPrefix) + suffix, confer::Bytes(rest.begin(), rest.end())}};
        (void)parse_vcek_extensions(one);
      }
    }
  }
  return 0;
}
