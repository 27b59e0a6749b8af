#include "attest/tdx_quote.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace confer::attest {

namespace {

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }

template <size_t N>
std::array<uint8_t, N> take(const uint8_t* p) {
  std::array<uint8_t, N> a{};
  std::memcpy(a.data(), p, N);
  return a;
}

Error bad(std::string what) { return make_error(Errc::parse, "TDX quote: " + std::move(what)); }

// Requires `n` bytes at `at` of a `size`-byte quote, for `field`.
Result<void> need(size_t at, size_t n, size_t size, const char* field) {
  if (at > size || n > size - at)
    return bad(fmt::format("{} needs {} bytes at offset {}, but the quote ends at {}", field, n, at, size));
  return {};
}

TdReportBody parse_body(const uint8_t* b, uint16_t type) {
  TdReportBody r;
  r.body_type = type;
  r.tee_tcb_svn = take<16>(b + 0);
  r.mrseam = take<48>(b + 16);
  r.mrsignerseam = take<48>(b + 64);
  r.seam_attributes = load_le64(b + 112);
  r.td_attributes = load_le64(b + 120);
  r.xfam = load_le64(b + 128);
  r.mrtd = take<48>(b + 136);
  r.mrconfigid = take<48>(b + 184);
  r.mrowner = take<48>(b + 232);
  r.mrownerconfig = take<48>(b + 280);
  for (size_t i = 0; i < 4; ++i) r.rtmr[i] = take<48>(b + 328 + 48 * i);
  r.report_data = take<64>(b + 520);
  if (type == 3) {
    r.tee_tcb_svn2 = take<16>(b + 584);
    r.mrservicetd = take<48>(b + 600);
  }
  return r;
}

SgxReportBody parse_sgx_report(const uint8_t* q) {
  SgxReportBody r;
  r.cpusvn = take<16>(q + 0);
  r.miscselect = load_le32(q + 16);
  r.attributes = take<16>(q + 48);
  r.mrenclave = take<32>(q + 64);
  r.mrsigner = take<32>(q + 128);
  r.isvprodid = le16(q + 256);
  r.isvsvn = le16(q + 258);
  r.report_data = take<64>(q + 320);
  return r;
}

}  // namespace

bool looks_like_tdx_quote(ByteView bytes) noexcept {
  if (bytes.size() < kTdxHeaderSize) return false;
  uint16_t version = le16(bytes.data());
  return (version == 4 || version == 5) && load_le32(bytes.data() + 4) == kTeeTypeTdx;
}

const char* td_body_name(uint16_t body_type) noexcept { return body_type == 3 ? "TD 1.5" : "TD 1.0"; }

Result<TdxQuote> parse_tdx_quote(ByteView bytes) {
  const size_t size = bytes.size();
  const uint8_t* p = bytes.data();
  if (size > kMaxTdxQuoteSize)
    return bad(fmt::format("expected at most {} bytes, saw {}", kMaxTdxQuoteSize, size));
  CONFER_TRY_VOID(need(0, kTdxHeaderSize, size, "the 48-byte header"));
  TdxQuote q;
  q.header.version = le16(p);
  q.header.att_key_type = le16(p + 2);
  q.header.tee_type = load_le32(p + 4);
  q.header.qe_vendor_id = take<16>(p + 12);
  q.header.user_data = take<20>(p + 28);
  if (q.header.version != 4 && q.header.version != 5)
    return bad(fmt::format("expected version 4 or 5, saw {}", q.header.version));
  if (q.header.tee_type != kTeeTypeTdx)
    return bad(fmt::format("expected TEE type 0x81 (TDX), saw 0x{:x}", q.header.tee_type));
  if (q.header.att_key_type != kAttKeyEcdsaP256)
    return bad(fmt::format("expected attestation key type 2 (ECDSA P-256), saw {}", q.header.att_key_type));

  size_t body_at = kTdxHeaderSize;
  uint16_t body_type = 2;
  size_t body_size = kTd10BodySize;
  if (q.header.version == 5) {
    CONFER_TRY_VOID(need(48, 6, size, "the v5 body type and size"));
    body_type = le16(p + 48);
    uint32_t declared = load_le32(p + 50);
    if (body_type != 2 && body_type != 3)
      return bad(fmt::format("expected body type 2 (TD 1.0) or 3 (TD 1.5) at offset 48, saw {}{}", body_type,
                             body_type == 1 ? " (an SGX enclave report)" : ""));
    body_size = body_type == 3 ? kTd15BodySize : kTd10BodySize;
    if (declared != body_size)
      return bad(fmt::format("expected a {} body of {} bytes at offset 50, saw size {}", td_body_name(body_type),
                             body_size, declared));
    body_at = 54;
  }
  CONFER_TRY_VOID(need(body_at, body_size, size, "the TD report body"));
  q.body = parse_body(p + body_at, body_type);
  q.signed_length = body_at + body_size;

  size_t at = q.signed_length;
  CONFER_TRY_VOID(need(at, 4, size, "the signature data length"));
  uint32_t sig_len = load_le32(p + at);
  at += 4;
  CONFER_TRY_VOID(need(at, sig_len, size, "the signature data"));
  const size_t sig_at = at;
  const size_t sig_end = at + sig_len;
  auto inside = [&](size_t off, size_t n, const char* field) -> Result<void> {
    if (off > sig_end || n > sig_end - off)
      return bad(fmt::format("{} needs {} bytes at offset {}, but the signature data ends at {}", field, n, off,
                             sig_end));
    return {};
  };
  CONFER_TRY_VOID(inside(sig_at, 134, "the quote signature, attestation key and certification header"));
  q.signature = take<64>(p + sig_at);
  q.attestation_key = take<64>(p + sig_at + 64);
  uint16_t cert_type = le16(p + sig_at + 128);
  uint32_t cert_size = load_le32(p + sig_at + 130);
  if (cert_type != 6)
    return bad(fmt::format("expected certification data type 6 (QE report) at offset {}, saw {}", sig_at + 128,
                           cert_type));
  const size_t cert_at = sig_at + 134;
  if (size_t(cert_size) != sig_end - cert_at)
    return bad(fmt::format("expected the QE report certification data to fill the signature data ({} bytes), "
                           "its size field says {}",
                           sig_end - cert_at, cert_size));
  CONFER_TRY_VOID(inside(cert_at, kSgxReportSize + 64 + 2, "the QE report, its signature and auth data length"));
  q.qe_report.assign(p + cert_at, p + cert_at + kSgxReportSize);
  q.qe = parse_sgx_report(p + cert_at);
  q.qe_report_signature = take<64>(p + cert_at + kSgxReportSize);
  size_t auth_len_at = cert_at + kSgxReportSize + 64;
  uint16_t auth_len = le16(p + auth_len_at);
  CONFER_TRY_VOID(inside(auth_len_at + 2, auth_len, "the QE authentication data"));
  q.qe_auth_data.assign(p + auth_len_at + 2, p + auth_len_at + 2 + auth_len);
  size_t inner_at = auth_len_at + 2 + auth_len;
  CONFER_TRY_VOID(inside(inner_at, 6, "the PCK certification data header"));
  uint16_t inner_type = le16(p + inner_at);
  uint32_t inner_size = load_le32(p + inner_at + 2);
  if (inner_type != 5)
    return bad(fmt::format("expected certification data type 5 (PCK certificate chain) at offset {}, saw {}",
                           inner_at, inner_type));
  if (size_t(inner_size) != sig_end - (inner_at + 6))
    return bad(fmt::format("expected the PCK chain to end the signature data ({} bytes), its size field says {}",
                           sig_end - (inner_at + 6), inner_size));
  q.pck_chain_pem.assign(p + inner_at + 6, p + sig_end);
  while (!q.pck_chain_pem.empty() && q.pck_chain_pem.back() == 0) q.pck_chain_pem.pop_back();
  if (q.pck_chain_pem.empty()) return bad("expected a PEM PCK certificate chain, saw an empty one");

  q.trailing = size - sig_end;
  q.trailing_all_zero = std::all_of(p + sig_end, p + size, [](uint8_t b) { return b == 0; });
  return q;
}

}  // namespace confer::attest
