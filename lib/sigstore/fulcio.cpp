#include "sigstore/fulcio.hpp"

#include <memory>

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace confer::sigstore {

namespace {

struct StoreFree {
  void operator()(X509_STORE* p) const noexcept { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const noexcept { X509_STORE_CTX_free(p); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_free(p); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};

std::string asn1_string(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), size_t(ASN1_STRING_length(s)));
}

std::optional<Bytes> extension_data(const crypto::Cert& cert, const char* oid) {
  std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> obj(OBJ_txt2obj(oid, 1), ASN1_OBJECT_free);
  if (!obj) return std::nullopt;
  int idx = X509_get_ext_by_OBJ(cert.get(), obj.get(), -1);
  if (idx < 0) return std::nullopt;
  X509_EXTENSION* ext = X509_get_ext(cert.get(), idx);
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
  if (data == nullptr) return std::nullopt;
  const auto* p = ASN1_STRING_get0_data(data);
  return Bytes(p, p + ASN1_STRING_length(data));
}

}  // namespace

Result<ChainResult> verify_chain(const crypto::Cert& leaf, const TrustedRoot& root, UnixTime at) {
  std::string reasons;
  for (const auto& ca : root.certificate_authorities) {
    std::string label = ca.uri.empty() ? ca.subject_common_name : ca.uri;
    if (ca.chain.empty()) continue;
    if (!ca.valid_for.contains(at)) {
      reasons += fmt::format("{} {} not valid at {}; ", label, ca.valid_for.describe(), format_rfc3339(at));
      continue;
    }
    std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
    std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
    std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
    if (!store || !untrusted || !ctx) return make_error(Errc::internal, "OpenSSL allocation failed");
    if (X509_STORE_add_cert(store.get(), ca.chain.back().get()) != 1)
      return make_error(Errc::internal, "X509_STORE_add_cert failed: " + crypto::openssl_error());
    for (size_t i = 0; i + 1 < ca.chain.size(); ++i) sk_X509_push(untrusted.get(), ca.chain[i].get());
    if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1)
      return make_error(Errc::internal, "X509_STORE_CTX_init failed: " + crypto::openssl_error());
    X509_STORE_CTX_set_time(ctx.get(), 0, time_t(at));
    int rc = X509_verify_cert(ctx.get());
    if (rc == 1) {
      STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
      if (built == nullptr || sk_X509_num(built) < 2) return make_error(Errc::internal, "chain without an issuer");
      X509* issuer = sk_X509_value(built, 1);
      unsigned char* der = nullptr;
      int len = i2d_X509(issuer, &der);
      if (len <= 0) return make_error(Errc::internal, "i2d_X509 failed");
      auto cert = crypto::Cert::from_der(ByteView(der, size_t(len)));
      OPENSSL_free(der);
      if (!cert) return std::move(cert).error();
      return ChainResult{label + " (" + ca.chain.back().subject_cn() + ")", std::move(cert).value()};
    }
    int err = X509_STORE_CTX_get_error(ctx.get());
    (void)crypto::openssl_error();
    reasons += fmt::format("{}: {}; ", label, X509_verify_cert_error_string(err));
  }
  if (reasons.empty()) reasons = "the trusted root lists no certificate authority";
  return make_error(Errc::attestation, reasons);
}

std::vector<std::string> certificate_sans(const crypto::Cert& cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_EMAIL || n->type == GEN_URI) out.push_back(asn1_string(n->d.ia5));
  }
  return out;
}

std::optional<std::string> certificate_oidc_issuer(const crypto::Cert& cert) {
  if (auto v2 = extension_data(cert, "1.3.6.1.4.1.57264.1.8")) {
    const unsigned char* p = v2->data();
    ASN1_UTF8STRING* s = d2i_ASN1_UTF8STRING(nullptr, &p, long(v2->size()));
    if (s == nullptr) {
      (void)crypto::openssl_error();
      return std::nullopt;
    }
    std::string out = asn1_string(s);
    ASN1_UTF8STRING_free(s);
    return out;
  }
  if (auto v1 = extension_data(cert, "1.3.6.1.4.1.57264.1.1")) return std::string(v1->begin(), v1->end());
  return std::nullopt;
}

}  // namespace confer::sigstore
