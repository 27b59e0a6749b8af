#include "account/auth_key.hpp"

#include <sodium.h>

#include "keys/hierarchy.hpp"

namespace confer::account {

Result<AuthKeyPair> auth_key_pair(const crypto::SecretBytes& root) {
  CONFER_TRY(auto seed, keys::derive_subkey(root, keys::Subkey::auth));
  AuthKeyPair pair;
  pair.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  CONFER_TRY(pair.secret, crypto::SecretBytes::allocate(crypto_sign_SECRETKEYBYTES));
  if (crypto_sign_seed_keypair(pair.public_key.data(), pair.secret.data(), seed.data()) != 0)
    return make_error(Errc::internal, "libsodium could not derive the auth key");
  return pair;
}

Bytes login_message(std::string_view account, ByteView challenge, ByteView server_key) {
  std::string_view label = "confer/login/v1";
  Bytes out(label.begin(), label.end());
  (void)append_length_prefixed(out, as_bytes(account));
  (void)append_length_prefixed(out, challenge);
  (void)append_length_prefixed(out, server_key);
  return out;
}

Result<Bytes> sign(const AuthKeyPair& key, ByteView message) {
  Bytes sig(crypto_sign_BYTES);
  if (crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), key.secret.data()) != 0)
    return make_error(Errc::internal, "libsodium could not sign");
  return sig;
}

bool verify(ByteView public_key, ByteView message, ByteView signature) noexcept {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), public_key.data()) == 0;
}

}  // namespace confer::account
