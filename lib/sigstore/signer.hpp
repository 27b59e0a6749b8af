// verify_bundle's signer steps: a managed key or a Fulcio leaf, and the leaf's chain,
// SCT, validity and identity.
#pragma once

#include "sigstore/bundle_context.hpp"

namespace confer::sigstore {

// "signer": sets leaf, managed and signer_key (and the Verification's leaf_sha256).
void check_signer(BundleContext& c);
// "cert.bundle_chain", "cert.chain", "cert.sct", "cert.validity", "identity.san",
// "identity.issuer" for a leaf (setting the Verification's san and issuer); skips
// without one.
void check_certificate(BundleContext& c);

}  // namespace confer::sigstore
