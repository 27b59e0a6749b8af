// Public keys and signature checks (OpenSSL 3).
#pragma once

#include <string>

#include "crypto/ossl.hpp"
#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::crypto {

// A DER SubjectPublicKeyInfo.
Result<PkeyPtr> public_key_from_spki(ByteView der);
// A PEM "PUBLIC KEY" block or DER SPKI.
Result<PkeyPtr> public_key_from_pem_or_der(ByteView bytes);
// DER SPKI of a key.
Result<Bytes> spki_of(EVP_PKEY* key);
// "ECDSA P-256", "Ed25519", "RSA 2048", ...
std::string key_description(EVP_PKEY* key);

// Verifies `sig` over `message`: ECDSA (DER signature) with SHA-256 for P-256 and
// SHA-384 for P-384 unless `digest` names one ("sha256", "sha384", "sha512"),
// Ed25519 (pure), RSA PKCS#1 v1.5 with SHA-256.
Result<void> verify_signature(EVP_PKEY* key, ByteView message, ByteView sig,
                              const std::string& digest = {});

// An EC public key from its raw affine coordinates x || y (32 bytes each for "P-256",
// 48 for "P-384"), as TDX quotes carry the attestation key.
Result<PkeyPtr> ec_public_key_from_xy(ByteView xy, const std::string& curve);

// A raw ECDSA signature r || s (big-endian halves of equal length, as TDX quotes and
// SPDM carry them) in DER, for verify_signature.
Result<Bytes> ecdsa_der_from_raw(ByteView rs);
// verify_signature with a raw r || s signature.
Result<void> verify_raw_ecdsa(EVP_PKEY* key, ByteView message, ByteView rs, const std::string& digest = {});

}  // namespace confer::crypto
