// The little DER the attestation extensions need (Intel's PCK SGX extensions, NVIDIA's
// DICE FWIDs), read by hand with every length bounded: low tag numbers, definite
// minimal lengths. Errors are Errc::parse, "WHAT: ..." (callers add whose DER it is).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace confer::crypto {

struct DerTlv {
  uint8_t tag = 0;
  ByteView value;
  size_t size = 0;  // header + value
};

// The element at the front of `in`.
Result<DerTlv> der_read(ByteView in, std::string_view what);
// The element at the front of `in`, advancing `in` past it.
Result<DerTlv> der_take(ByteView& in, std::string_view what);
// The same, and its tag must be `tag`.
Result<DerTlv> der_take(ByteView& in, uint8_t tag, std::string_view what);
// The dotted text of an OBJECT IDENTIFIER's contents (1 to 64 bytes).
Result<std::string> der_oid_text(ByteView contents);

}  // namespace confer::crypto
