// X.509 certificates (OpenSSL): parsing, issuer signatures, validity.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/bytes.hpp"
#include "core/time.hpp"
#include "crypto/hash.hpp"
#include "crypto/ossl.hpp"

namespace confer::crypto {


// A parsed certificate that keeps its DER encoding.
class Cert {
 public:
  Cert() = default;
  Cert(const Cert& other);
  Cert& operator=(const Cert& other);
  Cert(Cert&&) noexcept = default;
  Cert& operator=(Cert&&) noexcept = default;

  static Result<Cert> from_der(ByteView der);
  // One certificate, DER or PEM.
  static Result<Cert> from_der_or_pem(ByteView bytes);
  // Every certificate in a PEM bundle, in order (or one DER certificate). A certificate
  // whose DER equals one of `known` is that one, shared rather than parsed again.
  static Result<std::vector<Cert>> all_from_pem(ByteView bytes, const std::vector<const Cert*>& known = {});

  X509* get() const noexcept { return cert_.get(); }
  const Bytes& der() const noexcept { return der_; }
  std::string sha256_hex() const;
  std::string subject_cn() const;
  std::string pem() const;
  UnixTime not_before() const;
  UnixTime not_after() const;

 private:
  CertPtr cert_;
  Bytes der_;
};

// Whether `child` carries a valid signature by `issuer`'s key (RSA-PSS parameters
// are taken from the certificate) and names `issuer` as its issuer.
Result<void> verify_issued_by(const Cert& child, const Cert& issuer);

enum class Validity { ok, not_yet_valid, expired };
Validity validity_at(const Cert& cert, UnixTime at);

// A certificate revocation list (DER or PEM), bounded to 1 MiB.
class Crl {
 public:
  static Result<Crl> from_der_or_pem(ByteView bytes);

  X509_CRL* get() const noexcept { return crl_.get(); }
  UnixTime this_update() const;
  UnixTime next_update() const;  // 0 when the CRL has none
  std::string issuer_cn() const;
  size_t revoked_count() const;
  // The CRL names `issuer` as its issuer and carries a valid signature by its key.
  Result<void> verify_signed_by(const Cert& issuer) const;
  // `cert`'s serial is listed (the caller checks that `cert` is issued by this CRL's issuer).
  bool revokes(const Cert& cert) const;

 private:
  std::shared_ptr<X509_CRL> crl_;
};


}  // namespace confer::crypto
