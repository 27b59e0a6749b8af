#include "attest/vcek_ext.hpp"

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

namespace confer::attest {

namespace {

// DER tag + definite length; returns the value span or an error.
Result<ByteView> der_value(ByteView v, uint8_t tag, const char* what) {
  if (v.size() < 2 || v[0] != tag)
    return make_error(Errc::parse, fmt::format("{}: expected DER tag 0x{:02x}, saw {}", what, tag,
                                               v.empty() ? std::string("nothing")
                                                         : fmt::format("0x{:02x}", v[0])));
  size_t len = v[1];
  size_t header = 2;
  if (len & 0x80) {
    size_t n = len & 0x7f;
    if (n == 0 || n > 2 || v.size() < 2 + n)
      return make_error(Errc::parse, fmt::format("{}: unsupported DER length form", what));
    len = 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | v[2 + i];
    header += n;
    if (len < 0x80 || (n == 2 && len < 0x100))
      return make_error(Errc::parse, fmt::format("{}: non-minimal DER length", what));
  }
  if (header + len != v.size())
    return make_error(Errc::parse, fmt::format("{}: DER length {} does not match the {} bytes "
                                               "present",
                                               what, len, v.size() - header));
  return v.subspan(header, len);
}

Result<uint8_t> decode_spl(ByteView value, const char* name) {
  CONFER_TRY(int64_t v, decode_der_integer(value));
  if (v < 0 || v > 255)
    return make_error(Errc::parse, fmt::format("VCEK {}: expected 0-255, saw {}", name, v));
  return uint8_t(v);
}

}  // namespace

Result<int64_t> decode_der_integer(ByteView value) {
  CONFER_TRY(ByteView body, der_value(value, 0x02, "INTEGER"));
  if (body.empty() || body.size() > 8)
    return make_error(Errc::parse,
                      fmt::format("INTEGER: expected 1 to 8 content bytes, saw {}", body.size()));
  if (body.size() > 1 && ((body[0] == 0 && !(body[1] & 0x80)) ||
                          (body[0] == 0xff && (body[1] & 0x80))))
    return make_error(Errc::parse, "INTEGER: non-minimal encoding");
  uint64_t acc = (body[0] & 0x80) ? ~uint64_t(0) : 0;
  for (uint8_t b : body) acc = acc << 8 | b;
  return static_cast<int64_t>(acc);
}

Result<std::string> decode_der_ia5(ByteView value) {
  CONFER_TRY(ByteView body, der_value(value, 0x16, "IA5String"));
  for (uint8_t c : body)
    if (c > 0x7f) return make_error(Errc::parse, "IA5String: byte above 0x7f");
  return std::string(body.begin(), body.end());
}

Result<Bytes> decode_hwid(ByteView value) {
  // Raw first: a raw 64-byte hwID may begin with 0x04 by chance, so sizes decide.
  if (value.size() == 64 || value.size() == 8) return Bytes(value.begin(), value.end());
  if (value.size() == 66 || value.size() == 10) {
    CONFER_TRY(ByteView body, der_value(value, 0x04, "hwID"));
    return Bytes(body.begin(), body.end());
  }
  return make_error(Errc::parse,
                    fmt::format("VCEK hwID: expected 64 bytes (8 on Turin), raw or as a DER "
                                "OCTET STRING, saw {} bytes",
                                value.size()));
}

Result<VcekExtensions> parse_vcek_extensions(const std::vector<RawExtension>& extensions) {
  VcekExtensions out;
  for (const auto& entry : extensions) {
    const std::string& oid = entry.first;
    const Bytes& value = entry.second;
    if (oid.rfind(kAmdOidPrefix, 0) != 0) continue;
    std::string_view suffix = std::string_view(oid).substr(std::string_view(kAmdOidPrefix).size());
    auto dup = [&](bool present) -> Result<void> {
      if (present)
        return make_error(Errc::parse, fmt::format("VCEK: extension {} appears twice", oid));
      return {};
    };
    if (suffix == "1") {
      CONFER_TRY_VOID(dup(out.struct_version.has_value()));
      CONFER_TRY(out.struct_version, decode_der_integer(value));
    } else if (suffix == "2") {
      CONFER_TRY_VOID(dup(out.product_name.has_value()));
      CONFER_TRY(out.product_name, decode_der_ia5(value));
    } else if (suffix == "3.1") {
      CONFER_TRY_VOID(dup(out.bl_spl.has_value()));
      CONFER_TRY(out.bl_spl, decode_spl(value, "blSPL"));
    } else if (suffix == "3.2") {
      CONFER_TRY_VOID(dup(out.tee_spl.has_value()));
      CONFER_TRY(out.tee_spl, decode_spl(value, "teeSPL"));
    } else if (suffix == "3.3") {
      CONFER_TRY_VOID(dup(out.snp_spl.has_value()));
      CONFER_TRY(out.snp_spl, decode_spl(value, "snpSPL"));
    } else if (suffix == "3.8") {
      CONFER_TRY_VOID(dup(out.ucode_spl.has_value()));
      CONFER_TRY(out.ucode_spl, decode_spl(value, "ucodeSPL"));
    } else if (suffix == "3.9") {
      CONFER_TRY_VOID(dup(out.fmc_spl.has_value()));
      CONFER_TRY(out.fmc_spl, decode_spl(value, "fmcSPL"));
    } else if (suffix == "4") {
      CONFER_TRY_VOID(dup(out.hwid.has_value()));
      CONFER_TRY(out.hwid, decode_hwid(value));
    } else if (suffix == "5") {
      CONFER_TRY_VOID(dup(out.csp_id.has_value()));
      CONFER_TRY(out.csp_id, decode_der_ia5(value));
    }
  }
  return out;
}

Result<VcekExtensions> parse_vcek_extensions(const crypto::Cert& cert) {
  std::vector<RawExtension> raw;
  int count = X509_get_ext_count(cert.get());
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert.get(), i);
    char oid[128];
    int n = OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1);
    if (n <= 0 || n >= int(sizeof oid)) continue;
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    const uint8_t* p = ASN1_STRING_get0_data(data);
    raw.emplace_back(oid, Bytes(p, p + ASN1_STRING_length(data)));
  }
  return parse_vcek_extensions(raw);
}

Result<Tcb> VcekExtensions::tcb(Product product) const {
  auto need = [](const std::optional<uint8_t>& v, const char* name) -> Result<uint8_t> {
    if (!v) return make_error(Errc::attestation, fmt::format("VCEK lacks the {} extension", name));
    return *v;
  };
  Tcb t;
  CONFER_TRY(t.bootloader, need(bl_spl, "blSPL"));
  CONFER_TRY(t.tee, need(tee_spl, "teeSPL"));
  CONFER_TRY(t.snp, need(snp_spl, "snpSPL"));
  CONFER_TRY(t.microcode, need(ucode_spl, "ucodeSPL"));
  if (product == Product::turin) {
    CONFER_TRY(t.fmc, need(fmc_spl, "fmcSPL"));
  }
  return t;
}

}  // namespace confer::attest
