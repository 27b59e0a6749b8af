// A development Sigstore for end-to-end tests: a Fulcio-style CA, a CT log and a
// Rekor v1 log, all with fresh P-256 keys. Never trusted outside tests.
#pragma once

#include <string>

#include "crypto/x509.hpp"
#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "sigstore/verify.hpp"

namespace confer::dev {

using sigstore::Identity;

class DevSigstore {
 public:
  static Result<DevSigstore> create();

  // A trusted_root.json naming the dev CA, Rekor log and CT log (valid from 2020).
  std::string trusted_root_json() const;

  // A v0.3 bundle with a messageSignature over `artifact`: a Fulcio-style leaf
  // (P-256, SAN e-mail or URI, OIDC issuer extension, embedded SCT, valid
  // at-5min..at+5min) chained to the dev CA, one hashedrekord 0.0.1 entry integrated
  // at `at` with a SET, an inclusion proof at index 5 of a tree of 7, and a
  // checkpoint signed by the dev Rekor key.
  Result<std::string> sign(ByteView artifact, const Identity& identity, UnixTime at) const;

  const Bytes& rekor_log_id() const { return rekor_id_; }

 private:
  crypto::PkeyPtr root_key_, intermediate_key_, rekor_key_, ct_key_;
  crypto::Cert root_, intermediate_;
  Bytes rekor_spki_, rekor_id_, ct_spki_, ct_id_;
};

}  // namespace confer::dev
