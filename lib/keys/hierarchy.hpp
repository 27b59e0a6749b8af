// The key hierarchy (DESIGN §5, docs/keys.md): the WebAuthn PRF salt, the key-encryption
// key a credential's PRF output gives, the account root key's wraps, and the subkeys.
// Every key is a 32-byte SecretBytes; wraps are AES-256-GCM with a context-binding AAD.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "core/bytes.hpp"
#include "crypto/aead.hpp"
#include "crypto/secret.hpp"

namespace confer::keys {

inline constexpr size_t kKeySize = 32;

// SHA-256("WebAuthn PRF" || 0x00 || input): what a browser's WebAuthn PRF sends as the
// CTAP2 hmac-secret salt for `input`, so one credential gives the same 32 bytes to both.
Bytes prf_salt(ByteView input);

// kek = HKDF-SHA256(ikm = PRF output, salt = "", info = "confer/kek/v1").
Result<crypto::SecretBytes> derive_kek(const crypto::SecretBytes& prf_output);

enum class Subkey { records, index, auth };
std::string_view subkey_label(Subkey s) noexcept;  // "confer/records/v1", ...
// HKDF-SHA256(ikm = root key, salt = "", info = the label).
Result<crypto::SecretBytes> derive_subkey(const crypto::SecretBytes& root, Subkey which);

// A fresh random key in guarded memory.
Result<crypto::SecretBytes> random_key();

// What a wrap is bound to: the purpose's label and the ids it belongs to. The AAD is
// label || u16 length || first || u16 length || second (docs/keys.md), so no two
// contexts share an encoding.
struct WrapContext {
  std::string_view label;  // kRootWrap or kDataKeyWrap
  ByteView first;          // account id
  ByteView second;         // credential id (root wraps) or conversation id (data keys)
};
inline constexpr std::string_view kRootWrap = "confer/rk-wrap/v1";
inline constexpr std::string_view kDataKeyWrap = "confer/dk-wrap/v1";

// version (1) || nonce (12) || AES-256-GCM(key) (32) || tag (16): 61 bytes.
inline constexpr uint8_t kWrapVersion = 1;
inline constexpr size_t kWrappedSize = 1 + crypto::kGcmNonceSize + kKeySize + crypto::kGcmTagSize;

// `nonce` is for test vectors only; without it a random one is drawn.
Result<Bytes> wrap_key(const crypto::SecretBytes& kek, const crypto::SecretBytes& key, const WrapContext& context,
                       const std::optional<crypto::GcmNonce>& nonce = std::nullopt);
// Errc::parse for bytes that are not a wrap (size, version); Errc::key when the wrap
// does not open under this key and context (a wrong key, or a wrap moved elsewhere).
Result<crypto::SecretBytes> unwrap_key(const crypto::SecretBytes& kek, ByteView wrapped, const WrapContext& context);

// The AAD for a context (exposed for docs/keys.md's vectors).
Result<Bytes> wrap_aad(const WrapContext& context);

}  // namespace confer::keys
