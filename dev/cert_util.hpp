// What the development authorities (SEV-SNP, TDX, NVIDIA) share to build certificates.
#pragma once

#include <string>

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/bytes.hpp"
#include "crypto/x509.hpp"

namespace confer::dev {

inline void set_dev_name(X509_NAME* name, const char* org, const std::string& cn) {
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(org), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

// A standard extension from OpenSSL's config syntax ("critical,CA:TRUE").
inline bool add_v3(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A non-critical extension `oid` whose extnValue holds `der_value`.
inline bool add_raw_ext(X509* cert, const std::string& oid, ByteView der_value) {
  ASN1_OBJECT* obj = OBJ_txt2obj(oid.c_str(), 1);
  ASN1_OCTET_STRING* data = ASN1_OCTET_STRING_new();
  bool ok = obj != nullptr && data != nullptr &&
            ASN1_OCTET_STRING_set(data, der_value.data(), int(der_value.size())) == 1;
  X509_EXTENSION* ext = ok ? X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, data) : nullptr;
  ok = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  ASN1_OCTET_STRING_free(data);
  ASN1_OBJECT_free(obj);
  return ok;
}

// A DER TLV (definite length up to 65535 bytes).
inline Bytes der_tlv(uint8_t tag, ByteView content) {
  Bytes out{tag};
  size_t n = content.size();
  if (n < 0x80) {
    out.push_back(uint8_t(n));
  } else if (n <= 0xff) {
    out.push_back(0x81);
    out.push_back(uint8_t(n));
  } else {
    out.push_back(0x82);
    out.push_back(uint8_t(n >> 8));
    out.push_back(uint8_t(n));
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

// The certificate `cert`, already signed, encoded and parsed back as a crypto::Cert.
inline Result<crypto::Cert> encoded_cert(X509* cert, const char* what) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return make_error(Errc::internal, std::string("encoding the ") + what + " failed");
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  return crypto::Cert::from_der(bytes);
}

}  // namespace confer::dev
