// The file authenticator, for machines without a security key: a random 32-byte secret
// sealed under a passphrase (Argon2id, libsodium), answering the PRF as a security
// key's hmac-secret does: HMAC-SHA-256(secret, salt). It is weaker than a security key
// (whoever copies the file can guess passphrases offline), and says so where it is used.
//
// The file (JSON, 0600):
//   {"format": "confer-file-authenticator", "version": 1, "kdf": "argon2id13",
//    "opslimit": N, "memlimit": BYTES, "salt": b64 (16), "nonce": b64 (12),
//    "sealed": b64 (AES-256-GCM(secret) || tag, 48), "credential_id": hex (16)}
// AAD: "confer/file-authenticator/v1" || credential id.
#pragma once

#include <string>

#include "core/bytes.hpp"
#include "crypto/secret.hpp"

namespace confer::keys {

struct Argon2Params {
  unsigned long long opslimit = 3;         // libsodium's MODERATE
  size_t memlimit = 256u << 20;
};
// Files naming more than this are refused, so a planted file cannot make us allocate
// without bound.
inline constexpr size_t kMaxArgon2Memory = 1u << 30;
inline constexpr unsigned long long kMaxArgon2Ops = 16;
bool argon2_params_in_range(const Argon2Params& p) noexcept;

// Argon2id (libsodium, ALG_ARGON2ID13) of `secret` into a 32-byte key: the file
// authenticator's passphrase key and the recovery kek. Errc::usage for a salt that is
// not 16 bytes or limits out of range.
Result<crypto::SecretBytes> argon2id_key(ByteView secret, ByteView salt, const Argon2Params& p);

class FileAuthenticator {
 public:
  // A new secret sealed under `passphrase`, written atomically to `path` (0600); an
  // existing file is never overwritten (Errc::usage).
  static Result<FileAuthenticator> create(const std::string& path, ByteView passphrase, Argon2Params params = {});
  // Errc::parse for a file that is not one; Errc::key for a wrong passphrase.
  static Result<FileAuthenticator> open(const std::string& path, ByteView passphrase);

  // The file's structure and limits only (no passphrase, no Argon2id): what open()
  // checks before it spends anything. For fuzzing and `confer keys list`.
  static Result<void> check_file(ByteView text);

  const Bytes& credential_id() const { return credential_id_; }
  // HMAC-SHA-256(secret, salt): the same shape as CTAP2 hmac-secret.
  Result<crypto::SecretBytes> prf(ByteView salt) const;

 private:
  FileAuthenticator(crypto::SecretBytes secret, Bytes credential_id)
      : secret_(std::move(secret)), credential_id_(std::move(credential_id)) {}
  crypto::SecretBytes secret_;
  Bytes credential_id_;
};

}  // namespace confer::keys
