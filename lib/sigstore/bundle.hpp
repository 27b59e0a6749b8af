// Sigstore bundle JSON (dev.sigstore.bundle.v1.Bundle, media types v0.1, v0.2, v0.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/x509.hpp"
#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::sigstore {

struct InclusionProof {
  int64_t log_index = 0;  // shard-local index: the one the proof is folded with
  Bytes root_hash;
  int64_t tree_size = 0;
  std::vector<Bytes> hashes;
  std::optional<std::string> checkpoint;  // checkpoint.envelope, a signed note
};

struct TlogEntry {
  int64_t log_index = 0;  // global index
  Bytes log_id;           // logId.keyId
  std::string kind;       // kindVersion.kind, e.g. "hashedrekord"
  std::string version;    // kindVersion.version, e.g. "0.0.1"
  int64_t integrated_time = 0;  // 0 when absent (Rekor v2)
  std::optional<Bytes> signed_entry_timestamp;  // inclusionPromise
  std::optional<InclusionProof> inclusion_proof;
  Bytes canonicalized_body;
};

struct MessageSignature {
  std::optional<std::string> digest_algorithm;  // "SHA2_256", ...
  std::optional<Bytes> digest;
  Bytes signature;
};

struct DsseSignature {
  std::string keyid;
  Bytes sig;
};

struct DsseEnvelope {
  Bytes payload;
  std::string payload_type;
  std::vector<DsseSignature> signatures;
};

struct Bundle {
  std::string media_type;
  int minor_version = 0;  // 1, 2 or 3 (bundle v0.x)

  // Exactly one of these three forms of verification material is set.
  std::vector<crypto::Cert> certificates;  // leaf first (x509CertificateChain or certificate)
  bool from_chain = false;               // certificates came from x509CertificateChain
  std::optional<std::string> public_key_hint;  // publicKey.hint (managed key)

  std::vector<TlogEntry> tlog_entries;
  std::vector<Bytes> rfc3161_timestamps;

  std::optional<MessageSignature> message_signature;
  std::optional<DsseEnvelope> dsse_envelope;

  // Errc::parse naming the offending field; never throws.
  static Result<Bundle> parse(std::string_view json_text);
};

// The DSSE pre-authentication encoding: "DSSEv1 <len> <type> <len> <payload>".
Bytes dsse_pae(std::string_view payload_type, ByteView payload);

}  // namespace confer::sigstore
