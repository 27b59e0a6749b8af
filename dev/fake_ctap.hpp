// The cryptography a CTAP2 authenticator does, for the development fake: P-256 keys,
// ECDH and ECDSA, and the two PIN/UV auth protocols (CTAP 2.1 §6.5.6, §6.5.7):
//   protocol 1: shared = SHA-256(Z); encrypt = AES-256-CBC, zero IV, no padding;
//               authenticate = first 16 bytes of HMAC-SHA-256
//   protocol 2: shared = HKDF(0^32, Z, "CTAP2 HMAC key") || HKDF(0^32, Z, "CTAP2 AES key");
//               encrypt = IV || AES-256-CBC under bytes 32..63; authenticate = HMAC-SHA-256
//               under bytes 0..31
// Never production code: these keys live in a JSON file.
#pragma once

#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/ossl.hpp"

namespace confer::dev::ctap {

Result<crypto::PkeyPtr> p256_generate();
// From the 32-byte private scalar (test vectors) or PKCS#8 DER (the state file).
Result<crypto::PkeyPtr> p256_from_scalar(ByteView scalar);
Result<crypto::PkeyPtr> p256_from_der(ByteView der);
Result<Bytes> p256_der(EVP_PKEY* key);
Result<crypto::PkeyPtr> p256_from_xy(ByteView x, ByteView y);
struct Point {
  Bytes x, y;
};
Result<Point> p256_xy(EVP_PKEY* key);

// The x-coordinate of the ECDH shared point.
Result<Bytes> ecdh_x(EVP_PKEY* ours, EVP_PKEY* peer);
// DER ECDSA P-256 with SHA-256.
Result<Bytes> ecdsa_sign(EVP_PKEY* key, ByteView message);

Result<Bytes> shared_secret(int protocol, ByteView z);
// `iv` only for protocol 2 (random when absent); plaintexts are multiples of 16 bytes.
Result<Bytes> encrypt(int protocol, ByteView shared, ByteView plain, std::optional<ByteView> iv = std::nullopt);
Result<Bytes> decrypt(int protocol, ByteView shared, ByteView cipher);
// `key`: the shared secret or a pinUvAuthToken.
Result<Bytes> authenticate(int protocol, ByteView key, ByteView message);

}  // namespace confer::dev::ctap
