// Fulcio certificates: the leaf's chain to a trusted CA at the signing time, and the
// identity it names (SANs and OIDC issuer).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "crypto/x509.hpp"
#include "sigstore/trusted_root.hpp"

namespace confer::sigstore {

struct ChainResult {
  std::string label;
  crypto::Cert issuer;  // the leaf's issuer, for the SCT's issuer_key_hash
};

// Time-checked chain to one of the trusted CAs. Errc::attestation says why each CA
// refused the leaf; other errors are internal.
Result<ChainResult> verify_chain(const crypto::Cert& leaf, const TrustedRoot& root, UnixTime at);

// The leaf's SANs (e-mail and URI) and OIDC issuer (1.3.6.1.4.1.57264.1.8, else .1.1).
std::vector<std::string> certificate_sans(const crypto::Cert& cert);
std::optional<std::string> certificate_oidc_issuer(const crypto::Cert& cert);

}  // namespace confer::sigstore
