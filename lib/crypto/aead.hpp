// AES-256-GCM (OpenSSL EVP): the one AEAD confer uses, on the wire (Noise) and at rest.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::crypto {

inline constexpr size_t kAesKeySize = 32;
inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kGcmTagSize = 16;
using GcmNonce = std::array<uint8_t, kGcmNonceSize>;

// A random nonce (for keys that seal many messages, like the data keys at rest).
Result<GcmNonce> random_nonce();
// `fixed` when given (test vectors only), else random_nonce().
Result<GcmNonce> nonce_or_random(const std::optional<GcmNonce>& fixed);

// `key` is 32 bytes. `out` receives plaintext.size() + 16 bytes (ciphertext, then tag).
Result<void> aes256gcm_seal(const uint8_t* key, const GcmNonce& nonce, ByteView ad, ByteView plaintext,
                            uint8_t* out);
// `ciphertext` ends with the tag; `out` receives ciphertext.size() - 16 bytes, wiped when
// authentication fails (Errc::key: the key, nonce, data or tag are not the ones sealed).
Result<void> aes256gcm_open(const uint8_t* key, const GcmNonce& nonce, ByteView ad, ByteView ciphertext,
                            uint8_t* out);

}  // namespace confer::crypto
