#include "sigstore/sct.hpp"

#include <memory>

#include <fmt/format.h>
#include <openssl/ct.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/hash.hpp"
#include "crypto/pkey.hpp"

namespace confer::sigstore {

namespace {

struct SctListFree {
  void operator()(STACK_OF(SCT) * p) const noexcept { SCT_LIST_free(p); }
};

void put_be(Bytes& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

Result<Bytes> precert_tbs(const crypto::Cert& leaf) {
  auto copy = crypto::Cert::from_der(leaf.der());
  if (!copy) return std::move(copy).error();
  int idx = X509_get_ext_by_NID(copy->get(), NID_ct_precert_scts, -1);
  if (idx < 0) return make_error(Errc::attestation, "the certificate has no embedded SCT extension");
  X509_EXTENSION_free(X509_delete_ext(copy->get(), idx));
  unsigned char* der = nullptr;
  int len = i2d_re_X509_tbs(copy->get(), &der);
  if (len <= 0) return make_error(Errc::internal, "i2d_re_X509_tbs failed: " + crypto::openssl_error());
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Bytes sct_signed_data(uint64_t timestamp_ms, ByteView issuer_key_hash, ByteView tbs, ByteView extensions) {
  Bytes out;
  out.push_back(0);  // version v1
  out.push_back(0);  // signature_type certificate_timestamp
  put_be(out, timestamp_ms, 8);
  put_be(out, 1, 2);  // entry_type precert_entry
  out.insert(out.end(), issuer_key_hash.begin(), issuer_key_hash.end());
  put_be(out, tbs.size(), 3);
  out.insert(out.end(), tbs.begin(), tbs.end());
  put_be(out, extensions.size(), 2);
  out.insert(out.end(), extensions.begin(), extensions.end());
  return out;
}

Result<std::string> verify_scts(const crypto::Cert& leaf, const crypto::Cert& issuer, const TrustedRoot& root) {
  std::unique_ptr<STACK_OF(SCT), SctListFree> scts(
      static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf.get(), NID_ct_precert_scts, nullptr, nullptr)));
  if (!scts || sk_SCT_num(scts.get()) == 0) {
    (void)crypto::openssl_error();
    return make_error(Errc::attestation, "no embedded SCT");
  }
  CONFER_TRY(Bytes tbs, precert_tbs(leaf));
  CONFER_TRY(Bytes issuer_spki, crypto::spki_of(X509_get0_pubkey(issuer.get())));
  Bytes issuer_key_hash = crypto::sha256(issuer_spki);
  std::string reasons;
  for (int i = 0; i < sk_SCT_num(scts.get()); ++i) {
    const SCT* sct = sk_SCT_value(scts.get(), i);
    unsigned char* id = nullptr;
    size_t id_len = SCT_get0_log_id(sct, &id);
    ByteView log_id(id, id_len);
    if (SCT_get_version(sct) != SCT_VERSION_V1) {
      reasons += "an SCT that is not v1; ";
      continue;
    }
    const TransparencyLog* log = nullptr;
    for (const auto& l : root.ctlogs)
      if (l.log_id.size() == log_id.size() && equal_ct(l.log_id, log_id)) log = &l;
    if (log == nullptr) {
      reasons += fmt::format("SCT from unknown CT log {}; ", to_hex(log_id));
      continue;
    }
    uint64_t ts = SCT_get_timestamp(sct);
    if (!log->valid_for.contains(UnixTime(ts / 1000))) {
      reasons += fmt::format("SCT time outside {} of {}; ", log->valid_for.describe(), log->base_url);
      continue;
    }
    auto key = crypto::public_key_from_spki(log->public_key);
    if (!key) {
      reasons += fmt::format("CT log {} key does not parse; ", log->base_url);
      continue;
    }
    unsigned char* ext = nullptr;
    size_t ext_len = SCT_get0_extensions(sct, &ext);
    unsigned char* sig = nullptr;
    size_t sig_len = SCT_get0_signature(sct, &sig);
    Bytes data = sct_signed_data(ts, issuer_key_hash, tbs, ByteView(ext, ext_len));
    auto ok = crypto::verify_signature(key->get(), data, ByteView(sig, sig_len), "sha256");
    if (ok) return fmt::format("SCT by {} at {}", log->base_url, format_rfc3339(UnixTime(ts / 1000)));
    reasons += fmt::format("SCT by {}: {}; ", log->base_url, ok.error().message);
  }
  return make_error(Errc::attestation, reasons);
}

}  // namespace confer::sigstore
