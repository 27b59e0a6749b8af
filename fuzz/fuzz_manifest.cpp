// The release manifest: JSON fetched next to its Sigstore bundle, parsed after the
// bundle verifies but from bytes a release pipeline (or an attacker's mirror) wrote.
#include "release/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (128 << 10)) return 0;  // parse_manifest refuses past 64 KiB; a little beyond exercises that
  (void)confer::release::parse_manifest({data, size});
  return 0;
}
