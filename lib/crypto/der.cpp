#include "crypto/der.hpp"

#include <cstdint>

#include <fmt/format.h>

namespace confer::crypto {

namespace {
Error bad(std::string message) { return make_error(Errc::parse, std::move(message)); }
}  // namespace

Result<DerTlv> der_read(ByteView in, std::string_view what) {
  if (in.size() < 2) return bad(fmt::format("{}: expected a DER element, saw {} bytes", what, in.size()));
  DerTlv t;
  t.tag = in[0];
  if ((t.tag & 0x1f) == 0x1f) return bad(fmt::format("{}: expected a low tag number, saw tag 0x{:02x}", what, t.tag));
  size_t len = in[1];
  size_t header = 2;
  if (len & 0x80) {
    size_t n = len & 0x7f;
    if (n == 0 || n > 3)
      return bad(fmt::format("{}: expected a definite length of at most 3 bytes, saw length byte 0x{:02x}", what,
                             in[1]));
    if (in.size() < 2 + n) return bad(fmt::format("{}: the length runs past the {} bytes present", what, in.size()));
    len = 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | in[2 + i];
    if (in[2] == 0 || len < 0x80) return bad(fmt::format("{}: non-minimal DER length", what));
    header += n;
  }
  if (len > in.size() - header)
    return bad(fmt::format("{}: expected {} content bytes, saw {}", what, len, in.size() - header));
  t.value = in.subspan(header, len);
  t.size = header + len;
  return t;
}

Result<DerTlv> der_take(ByteView& in, std::string_view what) {
  CONFER_TRY(DerTlv t, der_read(in, what));
  in = in.subspan(t.size);
  return t;
}

Result<DerTlv> der_take(ByteView& in, uint8_t tag, std::string_view what) {
  CONFER_TRY(DerTlv t, der_read(in, what));
  if (t.tag != tag) return bad(fmt::format("{}: expected tag 0x{:02x}, saw 0x{:02x}", what, tag, t.tag));
  in = in.subspan(t.size);
  return t;
}

Result<std::string> der_oid_text(ByteView v) {
  if (v.empty() || v.size() > 64) return bad(fmt::format("OID: expected 1 to 64 bytes, saw {}", v.size()));
  std::string out;
  uint64_t arc = 0;
  bool start = true, first = true;
  for (uint8_t b : v) {
    if (start && b == 0x80) return bad("OID: non-minimal sub-identifier");
    if (arc > (UINT64_MAX >> 7)) return bad("OID: sub-identifier too large");
    arc = arc << 7 | (b & 0x7f);
    start = (b & 0x80) == 0;
    if (!start) continue;
    if (first) {
      uint64_t top = arc < 40 ? 0 : arc < 80 ? 1 : 2;
      out = fmt::format("{}.{}", top, arc - 40 * top);
      first = false;
    } else {
      out += fmt::format(".{}", arc);
    }
    arc = 0;
  }
  if (!start) return bad("OID: the last sub-identifier is truncated");
  return out;
}

}  // namespace confer::crypto
