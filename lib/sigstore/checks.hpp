// The names of the Sigstore bundle verifier's checks, in the order verify_bundle
// records them. Scripts and docs/verification.md match on these strings: they are an
// interface, never renamed.
#pragma once

#include <string_view>

namespace confer::sigstore::checks {

// The bundle's shape.
inline constexpr std::string_view kBundleMediaType = "bundle.media_type";
inline constexpr std::string_view kBundleContent = "bundle.content";
inline constexpr std::string_view kTlogEntries = "tlog.entries";
inline constexpr std::string_view kTlogKind = "tlog.kind";
inline constexpr std::string_view kTimestampRfc3161 = "timestamp.rfc3161";

// The log key and the signing time.
inline constexpr std::string_view kTlogLogKey = "tlog.log_key";
inline constexpr std::string_view kTlogLogKeyValidity = "tlog.log_key_validity";
inline constexpr std::string_view kTlogIntegratedTime = "tlog.integrated_time";

// The signer: a Fulcio leaf (its chain, SCT, validity and identity) or a managed key.
inline constexpr std::string_view kSigner = "signer";
inline constexpr std::string_view kCertBundleChain = "cert.bundle_chain";
inline constexpr std::string_view kCertChain = "cert.chain";
inline constexpr std::string_view kCertSct = "cert.sct";
inline constexpr std::string_view kCertValidity = "cert.validity";
inline constexpr std::string_view kIdentitySan = "identity.san";
inline constexpr std::string_view kIdentityIssuer = "identity.issuer";

// The signature over the artifact.
inline constexpr std::string_view kSignatureDigest = "signature.digest";
inline constexpr std::string_view kSignature = "signature";

// The log entry.
inline constexpr std::string_view kTlogBody = "tlog.body";
inline constexpr std::string_view kTlogSet = "tlog.set";
inline constexpr std::string_view kTlogInclusionProof = "tlog.inclusion_proof";
inline constexpr std::string_view kTlogCheckpoint = "tlog.checkpoint";

}  // namespace confer::sigstore::checks
