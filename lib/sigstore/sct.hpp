// Embedded SCTs of a Fulcio leaf: RFC 6962 §3.2 precertificate timestamps by the CT
// logs of the trusted root.
#pragma once

#include <cstdint>
#include <string>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/x509.hpp"
#include "sigstore/trusted_root.hpp"

namespace confer::sigstore {

// RFC 6962 §3.2 precertificate SCT input: the leaf's TBS without the SCT extension,
// and the signed structure (v1, certificate_timestamp, precert_entry).
Result<Bytes> precert_tbs(const crypto::Cert& leaf);
Bytes sct_signed_data(uint64_t timestamp_ms, ByteView issuer_key_hash, ByteView tbs, ByteView extensions);

// At least one SCT embedded in `leaf` by a CT log of `root` verifies; `issuer` is the
// leaf's verified issuer (its key hash is signed). The value describes the SCT that
// verified; the error (Errc::attestation) says why each one was refused.
Result<std::string> verify_scts(const crypto::Cert& leaf, const crypto::Cert& issuer, const TrustedRoot& root);

}  // namespace confer::sigstore
