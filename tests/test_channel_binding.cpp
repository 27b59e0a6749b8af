#include <doctest/doctest.h>

#include "attest/snp_verify.hpp"

using namespace confer;

TEST_CASE("fresh attestation binding: the docs/fresh-attestation.md vector") {
  Bytes key = *from_hex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
  Bytes nonce = *from_hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
  CHECK(to_hex(attest::fresh_report_data(key, nonce)) ==
        "9bed92a92bfa1e01cb231686af930e207ea15c658ef809b5466b4d47e74ac21a8cc421fbe9cb57530a753ed8995e0de915aa2c0a84f991d8de447f323381eb2f");
  // Each input matters.
  nonce[0] ^= 1;
  CHECK(to_hex(attest::fresh_report_data(key, nonce)) != "9bed92a92bfa1e01cb231686af930e207ea15c658ef809b5466b4d47e74ac21a8cc421fbe9cb57530a753ed8995e0de915aa2c0a84f991d8de447f323381eb2f");
}
