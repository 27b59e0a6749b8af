#include "crypto/x509.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace confer::crypto {

namespace {

UnixTime asn1_to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<UnixTime>(timegm(&tm));
}

bool looks_like_pem(ByteView bytes) {
  std::string_view s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return s.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos;
}
}  // namespace

Cert::Cert(const Cert& other) : der_(other.der_) {
  if (other.cert_ && X509_up_ref(other.cert_.get()) == 1) cert_.reset(other.cert_.get());
}

Cert& Cert::operator=(const Cert& other) {
  if (this != &other) {
    Cert copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Result<Cert> Cert::from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509* raw = d2i_X509(nullptr, &p, long(der.size()));
  if (raw == nullptr) {
    ERR_clear_error();
    return make_error(Errc::parse, fmt::format("certificate: expected DER X.509, saw {} bytes "
                                               "that do not parse",
                                               der.size()));
  }
  if (p != der.data() + der.size()) {
    X509_free(raw);
    return make_error(Errc::parse, fmt::format("certificate: {} trailing bytes after the DER "
                                               "certificate",
                                               der.data() + der.size() - p));
  }
  Cert c;
  c.cert_.reset(raw);
  c.der_.assign(der.begin(), der.end());
  return c;
}

Result<std::vector<Cert>> Cert::all_from_pem(ByteView bytes, const std::vector<const Cert*>& known) {
  std::vector<Cert> out;
  auto one = [&](ByteView der) -> Result<Cert> {
    // A certificate already parsed (a pinned root, a signer seen before) is shared:
    // OpenSSL 3 takes ~0.2 ms to decode one.
    for (const Cert* k : known)
      if (k != nullptr && k->der().size() == der.size() && std::equal(der.begin(), der.end(), k->der().begin()))
        return *k;
    return from_der(der);
  };
  if (!looks_like_pem(bytes)) {
    CONFER_TRY(Cert c, one(bytes));
    out.push_back(std::move(c));
    return out;
  }
  BioPtr bio(BIO_new_mem_buf(bytes.data(), int(bytes.size())));
  if (!bio) return make_error(Errc::internal, "BIO_new_mem_buf failed");
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) break;
    std::string block = name != nullptr ? name : "";
    Bytes der(data, data + (len > 0 ? len : 0));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (block != "CERTIFICATE" && block != "X509 CERTIFICATE") continue;  // keys, CRLs: not ours here
    CONFER_TRY(Cert c, one(der));
    out.push_back(std::move(c));
  }
  ERR_clear_error();
  if (out.empty())
    return make_error(Errc::parse, "certificate: expected PEM certificates, found none that parse");
  return out;
}

Result<Cert> Cert::from_der_or_pem(ByteView bytes) {
  CONFER_TRY(auto all, all_from_pem(bytes));
  if (all.size() != 1)
    return make_error(Errc::parse, fmt::format("certificate: expected one certificate, saw {}",
                                               all.size()));
  return std::move(all.front());
}

std::string Cert::sha256_hex() const { return to_hex(sha256(der_)); }

std::string Cert::subject_cn() const {
  X509_NAME* name = X509_get_subject_name(cert_.get());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), size_t(len));
  OPENSSL_free(utf8);
  return out;
}

std::string Cert::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert_.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

UnixTime Cert::not_before() const { return asn1_to_unix(X509_get0_notBefore(cert_.get())); }
UnixTime Cert::not_after() const { return asn1_to_unix(X509_get0_notAfter(cert_.get())); }

Result<void> verify_issued_by(const Cert& child, const Cert& issuer) {
  if (X509_NAME_cmp(X509_get_issuer_name(child.get()), X509_get_subject_name(issuer.get())) != 0)
    return make_error(Errc::attestation,
                      fmt::format("expected issuer '{}', saw a certificate issued by someone else",
                                  issuer.subject_cn()));
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  if (key == nullptr) return make_error(Errc::attestation, "issuer public key does not parse");
  int rc = X509_verify(child.get(), key);
  if (rc != 1)
    return make_error(Errc::attestation, fmt::format("the signature on '{}' does not verify under the key of '{}'{}",
                                                     child.subject_cn(), issuer.subject_cn(), openssl_detail()));
  return {};
}

Validity validity_at(const Cert& cert, UnixTime at) {
  if (at < cert.not_before()) return Validity::not_yet_valid;
  if (at > cert.not_after()) return Validity::expired;
  return Validity::ok;
}

Result<Crl> Crl::from_der_or_pem(ByteView bytes) {
  if (bytes.size() > (1u << 20))
    return make_error(Errc::parse, fmt::format("expected a CRL of at most 1 MiB, saw {} bytes", bytes.size()));
  X509_CRL* crl = nullptr;
  if (looks_like_pem(bytes)) {
    BioPtr bio(BIO_new_mem_buf(bytes.data(), int(bytes.size())));
    if (bio) crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
  } else {
    const unsigned char* p = bytes.data();
    crl = d2i_X509_CRL(nullptr, &p, long(bytes.size()));
    if (crl != nullptr && p != bytes.data() + bytes.size()) {
      X509_CRL_free(crl);
      crl = nullptr;
    }
  }
  if (crl == nullptr) {
    clear_openssl_errors();
    return make_error(Errc::parse, fmt::format("expected a certificate revocation list (DER or PEM), saw {} bytes "
                                               "that do not parse as one",
                                               bytes.size()));
  }
  Crl out;
  out.crl_.reset(crl, X509_CRL_free);
  return out;
}

UnixTime Crl::this_update() const { return asn1_to_unix(X509_CRL_get0_lastUpdate(crl_.get())); }

UnixTime Crl::next_update() const {
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(crl_.get());
  return t != nullptr ? asn1_to_unix(t) : 0;
}

std::string Crl::issuer_cn() const {
  char cn[256] = {0};
  int n = X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl_.get()), NID_commonName, cn, sizeof cn);
  return n > 0 ? std::string(cn, size_t(n)) : std::string();
}

size_t Crl::revoked_count() const {
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  return revoked != nullptr ? size_t(sk_X509_REVOKED_num(revoked)) : 0;
}

Result<void> Crl::verify_signed_by(const Cert& issuer) const {
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl_.get()), X509_get_subject_name(issuer.get())) != 0)
    return make_error(Errc::attestation, fmt::format("the CRL is issued by '{}', not by '{}'", issuer_cn(),
                                                     issuer.subject_cn()));
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  if (key == nullptr || X509_CRL_verify(crl_.get(), key) != 1)
    return make_error(Errc::attestation,
                      fmt::format("the CRL's signature does not verify under '{}'{}", issuer.subject_cn(),
                                  openssl_detail()));
  return {};
}

bool Crl::revokes(const Cert& cert) const {
  X509_REVOKED* entry = nullptr;
  int rc = X509_CRL_get0_by_serial(crl_.get(), &entry, X509_get0_serialNumber(cert.get()));
  return rc == 1 || rc == 2;
}

}  // namespace confer::crypto
