// The account's auth key (docs/keys.md: HKDF(root, "confer/auth/v1")) as an Ed25519
// seed: a device that holds the root key (an unlocked session) signs in without a touch
// by signing the server's challenge, bound to the channel's server key so a signature
// made for one connection is worthless on another.
#pragma once

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/secret.hpp"

namespace confer::account {

struct AuthKeyPair {
  Bytes public_key;            // 32 bytes, registered with the account
  crypto::SecretBytes secret;  // libsodium's 64-byte Ed25519 secret key
};

Result<AuthKeyPair> auth_key_pair(const crypto::SecretBytes& root);

// "confer/login/v1" || u16 len || account || u16 len || challenge || u16 len || server key
Bytes login_message(std::string_view account, ByteView challenge, ByteView server_key);
Result<Bytes> sign(const AuthKeyPair& key, ByteView message);
bool verify(ByteView public_key, ByteView message, ByteView signature) noexcept;

}  // namespace confer::account
