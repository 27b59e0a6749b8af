#include "crypto/aead.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>
#include <string>

#include "crypto/ossl.hpp"
#include "crypto/secret.hpp"

namespace confer::crypto {

Result<GcmNonce> random_nonce() {
  GcmNonce n{};
  CONFER_TRY_VOID(fill_random(n.data(), n.size()));
  return n;
}

Result<GcmNonce> nonce_or_random(const std::optional<GcmNonce>& fixed) {
  if (fixed) return *fixed;
  return random_nonce();
}

namespace {
Error internal(const char* what) { return make_error(Errc::internal, std::string("aes-256-gcm: ") + what); }

Result<CipherCtxPtr> init(bool encrypt, const uint8_t* key, const GcmNonce& nonce) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());  // EVP_CIPHER_CTX_free cleanses the key schedule
  int rc = ctx ? EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) : 0;
  if (rc == 1) rc = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int(nonce.size()), nullptr);
  if (rc == 1) rc = EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key, nonce.data(), encrypt ? 1 : 0);
  if (rc != 1) {
    clear_openssl_errors();
    return internal("initialisation failed");
  }
  return ctx;
}
}  // namespace

Result<void> aes256gcm_seal(const uint8_t* key, const GcmNonce& nonce, ByteView ad, ByteView plaintext,
                            uint8_t* out) {
  if (ad.size() > INT_MAX || plaintext.size() > INT_MAX) return internal("input too large");
  CONFER_TRY(CipherCtxPtr ctx, init(true, key, nonce));
  int len = 0;
  if (!ad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, ad.data(), int(ad.size())) != 1)
    return internal("associated data failed");
  size_t written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), out, &len, plaintext.data(), int(plaintext.size())) != 1)
      return internal("encryption failed");
    written = size_t(len);
  }
  if (EVP_EncryptFinal_ex(ctx.get(), out + written, &len) != 1) return internal("encryption failed");
  written += size_t(len);
  if (written != plaintext.size()) return internal("wrote an unexpected length");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kGcmTagSize), out + written) != 1)
    return internal("tag failed");
  return {};
}

Result<void> aes256gcm_open(const uint8_t* key, const GcmNonce& nonce, ByteView ad, ByteView ciphertext,
                            uint8_t* out) {
  if (ciphertext.size() < kGcmTagSize)
    return make_error(Errc::key, "aes-256-gcm: expected a ciphertext of at least 16 bytes, saw " +
                                     std::to_string(ciphertext.size()));
  if (ad.size() > INT_MAX || ciphertext.size() > INT_MAX) return internal("input too large");
  size_t body = ciphertext.size() - kGcmTagSize;
  CONFER_TRY(CipherCtxPtr ctx, init(false, key, nonce));
  int len = 0;
  if (!ad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, ad.data(), int(ad.size())) != 1)
    return internal("associated data failed");
  size_t written = 0;
  if (body > 0) {
    if (EVP_DecryptUpdate(ctx.get(), out, &len, ciphertext.data(), int(body)) != 1)
      return internal("decryption failed");
    written = size_t(len);
  }
  // The tag buffer is not modified; OpenSSL's prototype is just not const.
  uint8_t tag[kGcmTagSize];
  std::memcpy(tag, ciphertext.data() + body, kGcmTagSize);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(kGcmTagSize), tag) != 1)
    return internal("tag failed");
  if (EVP_DecryptFinal_ex(ctx.get(), out + written, &len) != 1) {
    if (body > 0) OPENSSL_cleanse(out, body);
    clear_openssl_errors();
    return make_error(Errc::key, "aes-256-gcm: authentication failed");
  }
  return {};
}

}  // namespace confer::crypto
