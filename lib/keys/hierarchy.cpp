#include "keys/hierarchy.hpp"

#include <fmt/format.h>

#include "crypto/hash.hpp"

namespace confer::keys {

Bytes prf_salt(ByteView input) {
  static constexpr std::string_view kPrefix = "WebAuthn PRF";
  Bytes message(kPrefix.begin(), kPrefix.end());
  message.push_back(0x00);
  message.insert(message.end(), input.begin(), input.end());
  return crypto::sha256(message);
}

Result<crypto::SecretBytes> derive_kek(const crypto::SecretBytes& prf_output) {
  if (prf_output.size() != kKeySize)
    return make_error(Errc::key, fmt::format("PRF output: expected {} bytes, saw {}", kKeySize, prf_output.size()));
  return crypto::hkdf_sha256(prf_output.view(), {}, as_bytes("confer/kek/v1"), kKeySize);
}

std::string_view subkey_label(Subkey s) noexcept {
  switch (s) {
    case Subkey::records: return "confer/records/v1";
    case Subkey::index: return "confer/index/v1";
    case Subkey::auth: return "confer/auth/v1";
  }
  return "";
}

Result<crypto::SecretBytes> derive_subkey(const crypto::SecretBytes& root, Subkey which) {
  if (root.size() != kKeySize)
    return make_error(Errc::key, fmt::format("root key: expected {} bytes, saw {}", kKeySize, root.size()));
  return crypto::hkdf_sha256(root.view(), {}, as_bytes(subkey_label(which)), kKeySize);
}

Result<crypto::SecretBytes> random_key() { return crypto::SecretBytes::random(kKeySize); }

Result<Bytes> wrap_aad(const WrapContext& context) {
  Bytes aad(context.label.begin(), context.label.end());
  if (!append_length_prefixed(aad, context.first) || !append_length_prefixed(aad, context.second))
    return make_error(Errc::usage, "wrap context: expected ids of at most 65535 bytes");
  return aad;
}

Result<Bytes> wrap_key(const crypto::SecretBytes& kek, const crypto::SecretBytes& key, const WrapContext& context,
                       const std::optional<crypto::GcmNonce>& nonce) {
  if (kek.size() != kKeySize || key.size() != kKeySize)
    return make_error(Errc::key, fmt::format("wrap: expected {}-byte keys", kKeySize));
  CONFER_TRY(Bytes aad, wrap_aad(context));
  CONFER_TRY(crypto::GcmNonce n, crypto::nonce_or_random(nonce));
  Bytes out(kWrappedSize);
  out[0] = kWrapVersion;
  std::copy(n.begin(), n.end(), out.begin() + 1);
  CONFER_TRY_VOID(crypto::aes256gcm_seal(kek.data(), n, aad, key.view(), out.data() + 1 + n.size()));
  return out;
}

Result<crypto::SecretBytes> unwrap_key(const crypto::SecretBytes& kek, ByteView wrapped, const WrapContext& context) {
  if (wrapped.size() != kWrappedSize)
    return make_error(Errc::parse, fmt::format("wrapped key: expected {} bytes, saw {}", kWrappedSize, wrapped.size()));
  if (wrapped[0] != kWrapVersion)
    return make_error(Errc::parse, fmt::format("wrapped key: expected version {}, saw {}", kWrapVersion, wrapped[0]));
  if (kek.size() != kKeySize) return make_error(Errc::key, fmt::format("unwrap: expected a {}-byte key", kKeySize));
  CONFER_TRY(Bytes aad, wrap_aad(context));
  crypto::GcmNonce n{};
  std::copy(wrapped.begin() + 1, wrapped.begin() + 1 + n.size(), n.begin());
  CONFER_TRY(crypto::SecretBytes key, crypto::SecretBytes::allocate(kKeySize));
  auto opened = crypto::aes256gcm_open(kek.data(), n, aad, wrapped.subspan(1 + n.size()), key.data());
  if (!opened)
    return make_error(Errc::key, fmt::format("wrapped key ({}): does not open with this key for this account and "
                                             "id (a wrong key, or a wrap moved from elsewhere)",
                                             context.label));
  return key;
}

}  // namespace confer::keys
