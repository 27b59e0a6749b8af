// Internal to verify_bundle: what its steps share. Each check_* step records its checks
// in order and leaves what it found for the later steps.
#pragma once

#include <string>

#include "core/bytes.hpp"
#include "core/check.hpp"
#include "core/time.hpp"
#include "crypto/ossl.hpp"
#include "crypto/x509.hpp"
#include "sigstore/bundle.hpp"
#include "sigstore/trusted_root.hpp"
#include "sigstore/verify.hpp"

namespace confer::sigstore {

struct BundleContext {
  BundleContext(const Bundle& bundle_, ByteView artifact_, const TrustedRoot& root_, const Identity& expected_,
                const VerifyOptions& options_, UnixTime now_, Verification& v_)
      : bundle(bundle_), artifact(artifact_), root(root_), expected(expected_), options(options_), now(now_),
        v(v_), rec(v_.checks) {}

  // The inputs.
  const Bundle& bundle;
  ByteView artifact;
  const TrustedRoot& root;
  const Identity& expected;
  const VerifyOptions& options;
  const UnixTime now;

  // The outcome: the checks, and the facts read on the way.
  Verification& v;
  CheckList& rec;

  // The bundle's shape.
  const TlogEntry* entry = nullptr;  // the one tlog entry
  bool v1_entry = false;             // it is hashedrekord 0.0.1
  UnixTime t = 0;                    // its integratedTime, 0 without an entry

  // The log key.
  const TransparencyLog* log = nullptr;  // the entry's log, when its key parses
  crypto::PkeyPtr log_key;

  // The signer.
  const crypto::Cert* leaf = nullptr;  // the Fulcio leaf of a certificate bundle
  crypto::PkeyPtr managed;             // the caller's key for a publicKey bundle
  EVP_PKEY* signer_key = nullptr;      // the accepted signer's key

  // The signature.
  std::string digest_alg = "sha256";

  // The log entry's proof.
  const InclusionProof* proof = nullptr;
};

}  // namespace confer::sigstore
