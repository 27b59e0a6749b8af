#include "crypto/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <memory>

#include "crypto/ossl.hpp"

namespace confer::crypto {

namespace {

Error internal(const char* what) { return make_error(Errc::internal, what); }

// One implementation of each, fetched once per process.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}
EVP_KDF* hkdf_algorithm() {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, OsslFree<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, OsslFree<EVP_KDF_CTX, EVP_KDF_CTX_free>>;

}  // namespace

Bytes sha256(ByteView data) {
  Bytes out(SHA256_DIGEST_LENGTH);
  SHA256(data.data(), data.size(), out.data());
  return out;
}

Bytes sha384(ByteView data) {
  Bytes out(SHA384_DIGEST_LENGTH);
  SHA384(data.data(), data.size(), out.data());
  return out;
}

Bytes sha512(ByteView data) {
  Bytes out(SHA512_DIGEST_LENGTH);
  SHA512(data.data(), data.size(), out.data());
  return out;
}

Result<void> sha256_parts(std::initializer_list<ByteView> parts, uint8_t* out) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return internal("sha-256 initialisation failed");
  for (ByteView part : parts)
    if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1)
      return internal("sha-256 update failed");
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out, &len) != 1 || len != SHA256_DIGEST_LENGTH)
    return internal("sha-256 final failed");
  return {};
}

Result<void> hmac_sha256(ByteView key, std::initializer_list<ByteView> parts, uint8_t* out) {
  MacCtxPtr ctx(hmac_algorithm() != nullptr ? EVP_MAC_CTX_new(hmac_algorithm()) : nullptr);
  if (!ctx) return internal("hmac-sha256 is unavailable");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // EVP_MAC_init takes a null key as "keep the previous key"; an empty HMAC key is a
  // zero block, which a one-byte zero key produces too.
  static const uint8_t zero = 0;
  const uint8_t* key_ptr = key.empty() ? &zero : key.data();
  size_t key_len = key.empty() ? 1 : key.size();
  if (EVP_MAC_init(ctx.get(), key_ptr, key_len, params) != 1) return internal("hmac-sha256 initialisation failed");
  for (ByteView part : parts)
    if (!part.empty() && EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1)
      return internal("hmac-sha256 update failed");
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out, &len, SHA256_DIGEST_LENGTH) != 1 || len != SHA256_DIGEST_LENGTH)
    return internal("hmac-sha256 final failed");
  return {};
}

Result<SecretBytes> hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t length) {
  if (length == 0 || length > 255 * 32) return make_error(Errc::usage, "hkdf-sha256: length must be 1..8160");
  KdfCtxPtr ctx(hkdf_algorithm() != nullptr ? EVP_KDF_CTX_new(hkdf_algorithm()) : nullptr);
  if (!ctx) return internal("hkdf-sha256 is unavailable");
  CONFER_TRY(SecretBytes out, SecretBytes::allocate(length));
  char digest[] = "SHA256";
  // OSSL_PARAM takes non-const pointers; OpenSSL only reads these buffers.
  auto octets = [](const char* name, ByteView v) {
    static uint8_t empty = 0;
    return OSSL_PARAM_construct_octet_string(name, v.empty() ? &empty : const_cast<uint8_t*>(v.data()), v.size());
  };
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
                         octets(OSSL_KDF_PARAM_KEY, ikm), octets(OSSL_KDF_PARAM_SALT, salt),
                         octets(OSSL_KDF_PARAM_INFO, info), OSSL_PARAM_construct_end()};
  if (EVP_KDF_derive(ctx.get(), out.data(), length, params) != 1) {
    clear_openssl_errors();
    return internal("hkdf-sha256 derivation failed");
  }
  return out;
}

}  // namespace confer::crypto
