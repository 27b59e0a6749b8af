// The recovery code: 32 random bytes shown once to the user, so that losing every
// security key does not lose the history. It is written as 14 groups of 4 Crockford
// base32 characters (32 bytes and a 3-byte checksum: 280 bits), and read back
// forgivingly (any case, spaces or dashes, O for 0, I and L for 1); a mistyped
// character fails the checksum instead of giving a wrong key.
#pragma once

#include <string>

#include "core/bytes.hpp"
#include "crypto/secret.hpp"
#include "keys/file_authenticator.hpp"

namespace confer::keys {

inline constexpr size_t kRecoveryGroups = 14;

// A fresh recovery secret.
Result<crypto::SecretBytes> new_recovery_secret();
// "XXXX-XXXX-…" (14 groups). The text is as secret as the key it opens.
std::string format_recovery_code(const crypto::SecretBytes& secret);
// Errc::usage naming what is wrong: a character outside the alphabet (and where), the
// length, or the checksum.
Result<crypto::SecretBytes> parse_recovery_code(std::string_view text);

// The key that wraps the root key for recovery: Argon2id(secret, salt) with the stored
// parameters (salt 16 bytes).
Result<crypto::SecretBytes> recovery_kek(const crypto::SecretBytes& secret, ByteView salt, const Argon2Params& params);
inline constexpr std::string_view kRecoveryWrap = "confer/recovery-wrap/v1";

}  // namespace confer::keys
