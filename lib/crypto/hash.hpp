// Hashes, HMAC and HKDF (OpenSSL 3 EVP).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/secret.hpp"

namespace confer::crypto {

Bytes sha256(ByteView data);
Bytes sha384(ByteView data);
Bytes sha512(ByteView data);
// SHA-256 over the concatenation of `parts`, into 32 bytes at `out`.
Result<void> sha256_parts(std::initializer_list<ByteView> parts, uint8_t* out);

// HMAC-SHA256(key, parts...) into 32 bytes at `out`. An empty key is allowed.
Result<void> hmac_sha256(ByteView key, std::initializer_list<ByteView> parts, uint8_t* out);

// RFC 5869 HKDF-SHA256 (extract then expand): `length` bytes in guarded memory.
Result<SecretBytes> hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t length);

}  // namespace confer::crypto
