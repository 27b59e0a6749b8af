#include "attest/spdm.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace confer::attest {

namespace {

Error spdm_error(std::string message) { return make_error(Errc::parse, "SPDM report: " + std::move(message)); }

uint16_t le16(const uint8_t* p) noexcept { return uint16_t(p[0] | p[1] << 8); }
uint32_t le24(const uint8_t* p) noexcept { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16; }

// A cursor over the whole report: every error names the absolute offset.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  size_t offset() const noexcept { return off_; }
  size_t left() const noexcept { return bytes_.size() - off_; }

  Result<ByteView> take(size_t n, std::string_view what) {
    if (n > left())
      return spdm_error(fmt::format("expected {} ({} bytes) at offset {}, saw {} bytes left", what, n, off_, left()));
    ByteView out = bytes_.subspan(off_, n);
    off_ += n;
    return out;
  }

 private:
  ByteView bytes_;
  size_t off_ = 0;
};

Result<void> expect_byte(uint8_t seen, uint8_t want, size_t offset, std::string_view what) {
  if (seen != want)
    return spdm_error(fmt::format("expected {} 0x{:02x} at offset {}, saw 0x{:02x}", what, want, offset, seen));
  return {};
}

Result<void> parse_request(ByteView req, SpdmReport& out) {
  CONFER_TRY_VOID(expect_byte(req[0], kSpdmVersion11, 0, "request SPDMVersion"));
  CONFER_TRY_VOID(expect_byte(req[1], kSpdmGetMeasurements, 1, "request code GET_MEASUREMENTS"));
  out.request_version = req[0];
  out.request_param1 = req[2];
  out.request_param2 = req[3];
  if ((out.request_param1 & 0x01) == 0)
    return spdm_error(fmt::format("expected request Param1 bit 0 (signature requested) at offset 2, saw 0x{:02x}",
                                  out.request_param1));
  std::copy_n(req.begin() + 4, kSpdmNonceSize, out.request_nonce.begin());
  out.slot_id = req[36];
  return {};
}

// The record: {Index u8, MeasurementSpecification u8, MeasurementSize u16 LE, Measurement},
// each Measurement a DMTF {ValueType u8, ValueSize u16 LE, Value}. `base` is its offset.
Result<void> parse_record(ByteView rec, size_t base, SpdmReport& out) {
  std::array<bool, 256> seen{};
  size_t p = 0;
  while (p < rec.size()) {
    size_t at = base + p;
    size_t rest = rec.size() - p;
    if (rest < 4)
      return spdm_error(fmt::format("expected a 4-byte measurement block header at offset {}, saw {} bytes left "
                                    "in the {}-byte measurement record",
                                    at, rest, rec.size()));
    uint8_t index = rec[p];
    uint8_t spec = rec[p + 1];
    size_t size = le16(&rec[p + 2]);
    if (size > rest - 4)
      return spdm_error(fmt::format("measurement block {} at offset {}: expected MeasurementSize within the "
                                    "record ({} bytes left), saw {}",
                                    index, at, rest - 4, size));
    if (spec != kSpdmDmtfSpec)
      return spdm_error(fmt::format("measurement block {} at offset {}: expected MeasurementSpecification "
                                    "0x01 (DMTF), saw 0x{:02x}",
                                    index, at + 1, spec));
    if (size < 3)
      return spdm_error(fmt::format("measurement block {} at offset {}: expected a DMTF measurement of at least "
                                    "3 bytes, saw MeasurementSize {}",
                                    index, at + 2, size));
    size_t value_size = le16(&rec[p + 5]);
    if (value_size + 3 != size)
      return spdm_error(fmt::format("measurement block {} at offset {}: expected ValueSize {} (MeasurementSize "
                                    "{} - 3), saw {}",
                                    index, at + 5, size - 3, size, value_size));
    if (seen[index]) return spdm_error(fmt::format("measurement block {} at offset {} appears twice", index, at));
    seen[index] = true;
    if (out.blocks.size() == out.number_of_blocks)
      return spdm_error(fmt::format("expected NumberOfBlocks {} blocks, saw another block (index {}) at offset {}",
                                    out.number_of_blocks, index, at));
    MeasurementBlock block;
    block.index = index;
    block.spec = spec;
    block.value_type = rec[p + 4];
    block.digest.assign(rec.begin() + ptrdiff_t(p + 7), rec.begin() + ptrdiff_t(p + 4 + size));
    out.blocks.push_back(std::move(block));
    p += 4 + size;
  }
  if (out.blocks.size() != out.number_of_blocks)
    return spdm_error(fmt::format("expected NumberOfBlocks {} blocks in the {}-byte measurement record at "
                                  "offset {}, saw {}",
                                  out.number_of_blocks, rec.size(), base, out.blocks.size()));
  return {};
}

// The opaque data: {type u16 LE, length u16 LE, value} until it is exactly used up.
Result<void> parse_opaque(ByteView data, size_t base, SpdmReport& out) {
  size_t p = 0;
  while (p < data.size()) {
    size_t at = base + p;
    size_t rest = data.size() - p;
    if (rest < 4)
      return spdm_error(fmt::format("expected a 4-byte opaque TLV header at offset {}, saw {} bytes left in the "
                                    "{}-byte opaque data",
                                    at, rest, data.size()));
    uint16_t type = le16(&data[p]);
    size_t len = le16(&data[p + 2]);
    if (len > rest - 4)
      return spdm_error(fmt::format("opaque field type {} at offset {}: expected a length within the opaque data "
                                    "({} bytes left), saw {}",
                                    type, at, rest - 4, len));
    // The fields we interpret must be unambiguous.
    bool interpreted = type == spdm_opaque::driver_version || type == spdm_opaque::vbios_version ||
                       type == spdm_opaque::fwid;
    if (interpreted && out.opaque_field(type) != nullptr)
      return spdm_error(fmt::format("opaque field type {} at offset {} appears twice", type, at));
    out.opaque.push_back({type, Bytes(data.begin() + ptrdiff_t(p + 4), data.begin() + ptrdiff_t(p + 4 + len))});
    p += 4 + len;
  }
  return {};
}

}  // namespace

const OpaqueField* SpdmReport::opaque_field(uint16_t type) const noexcept {
  for (const auto& f : opaque)
    if (f.type == type) return &f;
  return nullptr;
}

const MeasurementBlock* SpdmReport::block(uint8_t index) const noexcept {
  for (const auto& b : blocks)
    if (b.index == index) return &b;
  return nullptr;
}

std::optional<std::string> SpdmReport::driver_version() const {
  const OpaqueField* f = opaque_field(spdm_opaque::driver_version);
  if (f == nullptr) return std::nullopt;
  size_t n = f->value.size();
  while (n > 0 && f->value[n - 1] == 0) --n;
  if (n == 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = f->value[i];
    if (c < 0x20 || c > 0x7e) return std::nullopt;
    out.push_back(char(c));
  }
  return out;
}

std::optional<std::string> SpdmReport::vbios_version() const {
  const OpaqueField* f = opaque_field(spdm_opaque::vbios_version);
  if (f == nullptr) return std::nullopt;
  auto text = format_vbios_version(f->value);
  if (!text) return std::nullopt;
  return std::move(text).value();
}

std::optional<Bytes> SpdmReport::fwid() const {
  const OpaqueField* f = opaque_field(spdm_opaque::fwid);
  if (f == nullptr) return std::nullopt;
  return f->value;
}

Result<std::string> format_vbios_version(ByteView raw) {
  if (raw.size() != 8)
    return make_error(Errc::parse, fmt::format("VBIOS version: expected 8 bytes, saw {}", raw.size()));
  uint64_t v = load_le64(raw.data());
  if (v > 0xFFFFFFFFFFull)
    return make_error(Errc::parse, fmt::format("VBIOS version: expected a value of at most 10 hex digits, saw "
                                               "0x{:x}",
                                               v));
  std::string hex = fmt::format("{:010X}", v);  // xxyyzzwwvv
  return fmt::format("{}.{}.{}.{}.{}", hex.substr(2, 2), hex.substr(4, 2), hex.substr(6, 2), hex.substr(8, 2),
                     hex.substr(0, 2));
}

Result<SpdmReport> parse_spdm_report(ByteView bytes) {
  if (bytes.size() > kSpdmMaxReportSize)
    return spdm_error(fmt::format("expected at most {} bytes, saw {}", kSpdmMaxReportSize, bytes.size()));
  SpdmReport out;
  Reader r(bytes);
  CONFER_TRY(ByteView req, r.take(kSpdmRequestSize, "the GET_MEASUREMENTS request"));
  CONFER_TRY_VOID(parse_request(req, out));

  size_t response = r.offset();
  CONFER_TRY(ByteView head, r.take(8, "the MEASUREMENTS response header"));
  CONFER_TRY_VOID(expect_byte(head[0], kSpdmVersion11, response, "response SPDMVersion"));
  CONFER_TRY_VOID(expect_byte(head[1], kSpdmMeasurements, response + 1, "response code MEASUREMENTS"));
  out.response_version = head[0];
  out.response_param1 = head[2];
  out.response_param2 = head[3];
  out.number_of_blocks = head[4];
  out.measurement_record_length = le24(&head[5]);

  size_t record_at = r.offset();
  CONFER_TRY(ByteView record, r.take(out.measurement_record_length, "the measurement record"));
  CONFER_TRY_VOID(parse_record(record, record_at, out));

  CONFER_TRY(ByteView nonce, r.take(kSpdmNonceSize, "the responder nonce"));
  std::copy(nonce.begin(), nonce.end(), out.responder_nonce.begin());
  CONFER_TRY(ByteView opaque_len, r.take(2, "OpaqueLength"));
  out.opaque_length = le16(opaque_len.data());
  size_t opaque_at = r.offset();
  CONFER_TRY(ByteView opaque, r.take(out.opaque_length, "the opaque data"));
  CONFER_TRY_VOID(parse_opaque(opaque, opaque_at, out));

  out.signed_length = r.offset();
  CONFER_TRY(ByteView sig, r.take(kSpdmSignatureSize, "the ECDSA P-384 signature r || s"));
  std::copy(sig.begin(), sig.end(), out.signature.begin());

  size_t end = r.offset();
  out.trailing_bytes = r.left();
  for (size_t i = end; i < bytes.size(); ++i)
    if (bytes[i] != 0)
      return spdm_error(fmt::format("expected only zero bytes after the signature (from offset {}), saw 0x{:02x} "
                                    "at offset {}",
                                    end, bytes[i], i));
  return out;
}

}  // namespace confer::attest
