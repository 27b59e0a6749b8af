// Sigstore bundle verification (ATTESTATION §5.3) as a list of named checks.
//
// Supported: Rekor v1 entries of kind hashedrekord 0.0.1 with a messageSignature,
// signed by a Fulcio certificate (v0.1 x509CertificateChain, v0.2, v0.3 certificate)
// or by a managed key given in VerifyOptions. Refused with a named failed check:
// DSSE envelopes, Rekor v2 (hashedrekord 0.0.2), other entry kinds. RFC 3161
// timestamps are not verified (reported as skipped); embedded SCTs are
// required when the trusted root lists CT logs. The signing
// time is the integratedTime authenticated by the SET.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/check.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "sigstore/bundle.hpp"
#include "sigstore/fulcio.hpp"  // certificate_sans, certificate_oidc_issuer
#include "sigstore/sct.hpp"  // precert_tbs, sct_signed_data
#include "sigstore/trusted_root.hpp"

namespace confer::sigstore {

// Exact match of the Fulcio leaf's SAN (e-mail or URI) and OIDC issuer.
struct Identity {
  std::string san;
  std::string issuer;
};

struct Verification {
  CheckList checks;  // names: sigstore/checks.hpp ("bundle.media_type", "tlog.set", ...)
  std::string san;       // from the leaf, when parsed
  std::string issuer;    // from the leaf, when parsed
  UnixTime integrated_time = 0;
  int64_t log_index = -1;
  std::string leaf_sha256;

  // Every check passed (none failed) and there was at least one.
  bool verified() const noexcept;
  const Check* first_failure() const noexcept;
};

struct VerifyOptions {
  // "Now": integratedTime after this is refused. Unset: the wall clock.
  std::optional<UnixTime> now;
  // A managed key (PEM or DER SPKI) for bundles whose material is a publicKey; such
  // bundles are refused without one, and certificate bundles are refused with one.
  std::optional<Bytes> public_key;
};

// Errors are reserved for internal failures; a refused bundle is a Verification whose
// verified() is false and whose first_failure() names the check.
Result<Verification> verify_bundle(const Bundle& bundle, ByteView artifact, const TrustedRoot& root,
                                   const Identity& expected, const VerifyOptions& options = {});
Result<Verification> verify_bundle(const Bundle& bundle, ByteView artifact, const TrustedRoot& root,
                                   const Identity& expected, UnixTime now);

// The canonical JSON the Rekor v1 SET signs.
std::string set_payload(ByteView canonicalized_body, int64_t integrated_time, ByteView log_id,
                        int64_t log_index);

}  // namespace confer::sigstore
