// Sigstore trusted_root.json (dev.sigstore.trustroot.v1.TrustedRoot, protobuf JSON).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/x509.hpp"
#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

namespace confer::sigstore {

// A closed interval [start, end]; no end means open-ended. A start is required.
struct TimeRange {
  UnixTime start = 0;
  std::optional<UnixTime> end;
  bool contains(UnixTime t) const noexcept { return t >= start && (!end || t <= *end); }
  std::string describe() const;
};

// A transparency log (Rekor) or CT log key.
struct TransparencyLog {
  std::string base_url;
  std::string hash_algorithm;  // "SHA2_256"
  Bytes public_key;            // DER SubjectPublicKeyInfo
  std::string key_details;     // "PKIX_ECDSA_P256_SHA_256", "PKIX_ED25519", ...
  TimeRange valid_for;
  Bytes log_id;                // logId.keyId
};

// A Fulcio CA or an RFC 3161 timestamp authority.
struct CertificateAuthority {
  std::string uri;
  std::string subject_common_name;
  std::vector<crypto::Cert> chain;  // as listed: leaf-most (intermediate) first, root last
  TimeRange valid_for;
};

struct TrustedRoot {
  std::string media_type;
  std::vector<TransparencyLog> tlogs;
  std::vector<CertificateAuthority> certificate_authorities;
  std::vector<TransparencyLog> ctlogs;
  std::vector<CertificateAuthority> timestamp_authorities;

  // Errc::parse with a message naming the field when anything is malformed.
  static Result<TrustedRoot> parse(std::string_view json_text);

  const TransparencyLog* find_tlog(ByteView log_id) const noexcept;
};

}  // namespace confer::sigstore
