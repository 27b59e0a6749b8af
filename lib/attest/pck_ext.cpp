#include "attest/pck_ext.hpp"

#include "crypto/der.hpp"

#include <cstring>
#include <string>

#include <fmt/format.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

namespace confer::attest {

namespace {

Error bad(std::string what) { return make_error(Errc::parse, "PCK certificate SGX extensions: " + std::move(what)); }

using Tlv = crypto::DerTlv;

// crypto/der's readers, their errors named as the PCK extensions'.
Result<Tlv> next_tlv(ByteView& in) {
  auto t = crypto::der_take(in, "element");
  if (!t) return bad(std::move(t).error().message);
  return t;
}

Result<std::string> oid_text(ByteView contents) {
  auto t = crypto::der_oid_text(contents);
  if (!t) return bad(std::move(t).error().message);
  return t;
}

Result<uint64_t> small_integer(const Tlv& t, const std::string& name, uint64_t max) {
  if (t.tag != 0x02 || t.value.empty() || t.value.size() > 3)
    return bad(fmt::format("{}: expected a small INTEGER, saw tag 0x{:02x} of {} bytes", name, t.tag, t.value.size()));
  if (t.value[0] & 0x80) return bad(name + ": expected a non-negative INTEGER");
  uint64_t v = 0;
  for (uint8_t b : t.value) v = (v << 8) | b;
  if (v > max) return bad(fmt::format("{}: expected at most {}, saw {}", name, max, v));
  return v;
}

template <size_t N>
Result<std::array<uint8_t, N>> octets(const Tlv& t, const std::string& name) {
  if (t.tag != 0x04 || t.value.size() != N)
    return bad(fmt::format("{}: expected an OCTET STRING of {} bytes, saw tag 0x{:02x} of {} bytes", name, N, t.tag,
                           t.value.size()));
  std::array<uint8_t, N> a{};
  std::memcpy(a.data(), t.value.data(), N);
  return a;
}

constexpr std::string_view kPrefix = "1.2.840.113741.1.13.1.";

}  // namespace

Result<PckExtensions> parse_pck_extensions(ByteView der) {
  ByteView in = der;
  CONFER_TRY(Tlv outer, next_tlv(in));
  if (outer.tag != 0x30 || !in.empty()) return bad("expected one SEQUENCE");
  PckExtensions ext;
  bool have_tcb = false, have_pce = false, have_fmspc = false, have_type = false;
  ByteView items = outer.value;
  int count = 0;
  while (!items.empty()) {
    if (++count > 32) return bad("more than 32 entries");
    CONFER_TRY(Tlv entry, next_tlv(items));
    if (entry.tag != 0x30) return bad("expected each entry to be a SEQUENCE");
    ByteView e = entry.value;
    CONFER_TRY(Tlv oid, next_tlv(e));
    if (oid.tag != 0x06) return bad("expected an entry to start with an OBJECT IDENTIFIER");
    CONFER_TRY(std::string name, oid_text(oid.value));
    CONFER_TRY(Tlv value, next_tlv(e));
    if (name.rfind(kPrefix, 0) != 0) continue;
    std::string suffix = name.substr(kPrefix.size());
    if (suffix == "2") {
      if (value.tag != 0x30) return bad("TCB: expected a SEQUENCE");
      ByteView comps = value.value;
      bool seen[18] = {};
      int n = 0;
      while (!comps.empty()) {
        if (++n > 32) return bad("TCB: more than 32 entries");
        CONFER_TRY(Tlv c, next_tlv(comps));
        if (c.tag != 0x30) return bad("TCB: expected each component to be a SEQUENCE");
        ByteView cv = c.value;
        CONFER_TRY(Tlv coid, next_tlv(cv));
        if (coid.tag != 0x06) return bad("TCB: expected a component OBJECT IDENTIFIER");
        CONFER_TRY(std::string cname, oid_text(coid.value));
        CONFER_TRY(Tlv cval, next_tlv(cv));
        std::string tcb_prefix = std::string(kPrefix) + "2.";
        if (cname.rfind(tcb_prefix, 0) != 0) continue;
        std::string idx = cname.substr(tcb_prefix.size());
        int k = idx.size() <= 2 && !idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos
                    ? std::stoi(idx)
                    : 0;
        if (k >= 1 && k <= 16) {
          CONFER_TRY(uint64_t svn, small_integer(cval, fmt::format("SGX TCB component {}", k), 255));
          ext.sgx_tcb[size_t(k - 1)] = uint8_t(svn);
        } else if (k == 17) {
          CONFER_TRY(uint64_t svn, small_integer(cval, "PCESVN", 65535));
          ext.pcesvn = uint16_t(svn);
        } else if (k == 18) {
          CONFER_TRY(ext.cpusvn, octets<16>(cval, "CPUSVN"));
        } else {
          continue;
        }
        if (seen[k - 1]) return bad(fmt::format("TCB component {} appears twice", k));
        seen[k - 1] = true;
      }
      for (int k = 0; k < 18; ++k)
        if (!seen[k]) return bad(fmt::format("TCB: expected components 1..18, component {} is missing", k + 1));
      have_tcb = true;
    } else if (suffix == "3") {
      CONFER_TRY(ext.pce_id, octets<2>(value, "PCE-ID"));
      have_pce = true;
    } else if (suffix == "4") {
      CONFER_TRY(ext.fmspc, octets<6>(value, "FMSPC"));
      have_fmspc = true;
    } else if (suffix == "5") {
      if (value.tag != 0x0a && value.tag != 0x02) return bad("SGX type: expected an ENUMERATED");
      Tlv as_int{0x02, value.value};
      CONFER_TRY(uint64_t type, small_integer(as_int, "SGX type", 2));
      ext.sgx_type = int(type);
      have_type = true;
    }
  }
  if (!have_tcb) return bad("expected a TCB entry (.2), none found");
  if (!have_pce) return bad("expected a PCE-ID entry (.3), none found");
  if (!have_fmspc) return bad("expected an FMSPC entry (.4), none found");
  (void)have_type;  // absent on old certificates: standard
  return ext;
}

Result<PckExtensions> parse_pck_extensions(const crypto::Cert& pck) {
  int count = X509_get_ext_count(pck.get());
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = X509_get_ext(pck.get(), i);
    char oid[80] = {0};
    if (OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1) <= 0) continue;
    if (std::string_view(oid) != kSgxExtensionsOid) continue;
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    return parse_pck_extensions(ByteView(ASN1_STRING_get0_data(data), size_t(ASN1_STRING_length(data))));
  }
  return bad(fmt::format("expected the extension {} in the PCK certificate, found none", kSgxExtensionsOid));
}

}  // namespace confer::attest
