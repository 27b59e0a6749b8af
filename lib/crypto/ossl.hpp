// OpenSSL ownership in one place: a deleter per type we hold, and the error queue
// drained into one line (OpenSSL leaves errors queued; a later call must not see them).
#pragma once

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace confer::crypto {

template <typename T, void (*Free)(T*)>
struct OsslFree {
  void operator()(T* p) const noexcept { Free(p); }
};

using CertPtr = std::unique_ptr<X509, OsslFree<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OsslFree<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OsslFree<BIO, BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslFree<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OsslFree<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslFree<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, OsslFree<BIGNUM, BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslFree<ECDSA_SIG, ECDSA_SIG_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OsslFree<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslFree<X509_STORE_CTX, X509_STORE_CTX_free>>;
using NamePtr = std::unique_ptr<X509_NAME, OsslFree<X509_NAME, X509_NAME_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OsslFree<X509_EXTENSION, X509_EXTENSION_free>>;

// Drains the OpenSSL error queue into one line ("no OpenSSL detail" when empty).
std::string openssl_error();
// Drains it and forgets it (after a failure that is reported in our own words).
void clear_openssl_errors() noexcept;
// Failures are reported in our words ("the VCEK's signature does not verify under the
// ASK"); with keep_openssl_detail(true) (--verbose) OpenSSL's own text follows them.
void keep_openssl_detail(bool on) noexcept;
// Drains the queue: " [OpenSSL: ...]" when kept, else "".
std::string openssl_detail();

}  // namespace confer::crypto
