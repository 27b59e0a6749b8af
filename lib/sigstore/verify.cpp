#include "sigstore/verify.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include <openssl/x509.h>

#include "sigstore/bundle_context.hpp"
#include "sigstore/checkpoint.hpp"
#include "sigstore/checks.hpp"
#include "crypto/pkey.hpp"
#include "crypto/hash.hpp"
#include "core/json.hpp"
#include "sigstore/merkle.hpp"
#include "sigstore/signer.hpp"

namespace confer::sigstore {

using nlohmann::json;

bool Verification::verified() const noexcept { return checks.passed(); }

const Check* Verification::first_failure() const noexcept { return checks.first_failure(); }

std::string set_payload(ByteView body, int64_t integrated_time, ByteView log_id, int64_t log_index) {
  // Keys sorted, no whitespace, integers bare: what Rekor v1 signs.
  json j = json::object();
  j["body"] = to_base64(body);
  j["integratedTime"] = integrated_time;
  j["logID"] = to_hex(log_id);
  j["logIndex"] = log_index;
  return j.dump();
}

namespace {

std::string digest_name(const std::string& algorithm) {
  if (algorithm == "SHA2_256" || algorithm == "sha256") return "sha256";
  if (algorithm == "SHA2_384" || algorithm == "sha384") return "sha384";
  if (algorithm == "SHA2_512" || algorithm == "sha512") return "sha512";
  return {};
}

Bytes digest_of(const std::string& name, ByteView data) {
  if (name == "sha384") return crypto::sha384(data);
  if (name == "sha512") return crypto::sha512(data);
  return crypto::sha256(data);
}

// Compares the hashedrekord 0.0.1 body with the bundle. Empty on success.
std::string hashedrekord_mismatch(ByteView body_bytes, const std::string& digest_alg, ByteView artifact_digest,
                                  ByteView signature, const crypto::Cert* leaf, EVP_PKEY* managed_key) {
  std::string_view text(reinterpret_cast<const char*>(body_bytes.data()), body_bytes.size());
  auto parsed = parse_json_object(text, "tlog body");
  if (!parsed) return "the body is not a JSON object";
  const json& body = *parsed;
  auto str = [](const json& j, std::initializer_list<const char*> path) -> std::optional<std::string> {
    const json* cur = &j;
    for (const char* k : path) {
      cur = member(*cur, k);
      if (cur == nullptr) return std::nullopt;
    }
    if (!cur->is_string()) return std::nullopt;
    return cur->get<std::string>();
  };
  auto kind = str(body, {"kind"});
  auto api = str(body, {"apiVersion"});
  if (kind != "hashedrekord" || api != "0.0.1")
    return fmt::format("body kind {} {}, expected hashedrekord 0.0.1", kind.value_or("?"), api.value_or("?"));
  auto alg = str(body, {"spec", "data", "hash", "algorithm"});
  auto value = str(body, {"spec", "data", "hash", "value"});
  if (!alg || digest_name(*alg) != digest_alg)
    return fmt::format("body hash algorithm {}, expected {}", alg.value_or("none"), digest_alg);
  std::string want = to_hex(artifact_digest);
  std::string seen = value.value_or("");
  std::transform(seen.begin(), seen.end(), seen.begin(), [](char c) { return char(std::tolower(c)); });
  if (seen != want) return fmt::format("body artifact digest {}, expected {}", value.value_or("none"), want);
  auto sig = str(body, {"spec", "signature", "content"});
  auto sig_bytes = sig ? from_base64(*sig) : Result<Bytes>(make_error(Errc::parse, ""));
  if (!sig_bytes || sig_bytes->size() != signature.size() || !equal_ct(*sig_bytes, signature))
    return "body signature differs from the bundle's messageSignature";
  auto pk = str(body, {"spec", "signature", "publicKey", "content"});
  auto pk_bytes = pk ? from_base64(*pk) : Result<Bytes>(make_error(Errc::parse, ""));
  if (!pk_bytes) return "body public key is missing or not base64";
  if (leaf != nullptr) {
    auto cert = crypto::Cert::from_der_or_pem(*pk_bytes);
    if (!cert) return "body public key is not a certificate";
    if (cert->der() != leaf->der())
      return fmt::format("body certificate sha256 {}, expected the bundle's leaf {}", cert->sha256_hex(),
                         leaf->sha256_hex());
  } else {
    auto key = crypto::public_key_from_pem_or_der(*pk_bytes);
    if (!key) return "body public key does not parse";
    auto a = crypto::spki_of(key->get());
    auto b = crypto::spki_of(managed_key);
    if (!a || !b || *a != *b) return "body public key differs from the managed key";
  }
  return {};
}

// --- the bundle's shape -------------------------------------------------------
void check_shape(BundleContext& c) {
  const Bundle& bundle = c.bundle;
  CheckList& rec = c.rec;
  rec.add(checks::kBundleMediaType, bundle.minor_version >= 1 && bundle.minor_version <= 3,
          "bundle v0.1, v0.2 or v0.3", bundle.media_type);
  if (bundle.dsse_envelope)
    rec.fail(checks::kBundleContent, "messageSignature", "dsseEnvelope (DSSE verification is not supported)");
  else if (bundle.message_signature)
    rec.pass(checks::kBundleContent, "messageSignature", "messageSignature");
  else
    rec.fail(checks::kBundleContent, "messageSignature", "none");

  if (bundle.tlog_entries.size() == 1) {
    c.entry = &bundle.tlog_entries[0];
    rec.pass(checks::kTlogEntries, "exactly one tlog entry", "1");
  } else {
    rec.fail(checks::kTlogEntries, "exactly one tlog entry", std::to_string(bundle.tlog_entries.size()));
  }
  if (const TlogEntry* entry = c.entry; entry != nullptr) {
    c.v1_entry = entry->kind == "hashedrekord" && entry->version == "0.0.1";
    std::string seen = entry->kind + " " + entry->version;
    if (entry->kind == "hashedrekord" && entry->version == "0.0.2") seen += " (Rekor v2 is not supported)";
    rec.add(checks::kTlogKind, c.v1_entry, "hashedrekord 0.0.1 (Rekor v1)", seen);
    c.v.log_index = entry->log_index;
    c.v.integrated_time = entry->integrated_time;
    c.t = entry->integrated_time;
  } else {
    rec.skip(checks::kTlogKind, "hashedrekord 0.0.1 (Rekor v1)", "no entry");
  }
  if (bundle.rfc3161_timestamps.empty())
    rec.skip(checks::kTimestampRfc3161, "none needed for Rekor v1", "none");
  else
    rec.skip(checks::kTimestampRfc3161, "not verified: the SET-signed integratedTime is the signing time",
             fmt::format("{} timestamp(s) ignored", bundle.rfc3161_timestamps.size()));
}

// --- the log key and the signing time -------------------------------------------
void check_log_key(BundleContext& c) {
  CheckList& rec = c.rec;
  const TlogEntry* entry = c.entry;
  const UnixTime t = c.t;
  if (entry != nullptr) {
    c.log = c.root.find_tlog(entry->log_id);
    if (c.log == nullptr) {
      rec.fail(checks::kTlogLogKey, "a transparency log of the trusted root", "unknown logId " + to_hex(entry->log_id));
    } else {
      auto key = crypto::public_key_from_spki(c.log->public_key);
      if (!key) {
        rec.fail(checks::kTlogLogKey, "a parseable log key", key.error().message);
        c.log = nullptr;
      } else {
        c.log_key = std::move(key).value();
        rec.pass(checks::kTlogLogKey, "a transparency log of the trusted root",
                 fmt::format("{} ({})", c.log->base_url, crypto::key_description(c.log_key.get())));
      }
    }
  } else {
    rec.skip(checks::kTlogLogKey, "a transparency log of the trusted root", "no entry");
  }
  if (c.log != nullptr)
    rec.add(checks::kTlogLogKeyValidity, t > 0 && c.log->valid_for.contains(t),
            "integratedTime within " + c.log->valid_for.describe(), t > 0 ? format_rfc3339(t) : "none");
  else
    rec.skip(checks::kTlogLogKeyValidity, "the log key valid at integratedTime", "no log key");
  if (entry != nullptr)
    rec.add(checks::kTlogIntegratedTime, t > 0 && t <= c.now, "an integratedTime not after " + format_rfc3339(c.now),
            t > 0 ? format_rfc3339(t) : "none");
  else
    rec.skip(checks::kTlogIntegratedTime, "an integratedTime", "no entry");
}

// --- the signature over the artifact --------------------------------------------
void check_artifact_signature(BundleContext& c) {
  CheckList& rec = c.rec;
  if (!c.bundle.message_signature) {
    rec.skip(checks::kSignature, "a messageSignature", "none");
    return;
  }
  const auto& ms = *c.bundle.message_signature;
  std::string& digest_alg = c.digest_alg;
  if (ms.digest_algorithm) digest_alg = digest_name(*ms.digest_algorithm);
  if (digest_alg.empty()) {
    rec.fail(checks::kSignatureDigest, "messageDigest SHA2_256, SHA2_384 or SHA2_512", *ms.digest_algorithm);
    digest_alg = "sha256";
  } else if (ms.digest) {
    Bytes d = digest_of(digest_alg, c.artifact);
    rec.add(checks::kSignatureDigest, d.size() == ms.digest->size() && equal_ct(d, *ms.digest),
            digest_alg + " of the artifact " + to_hex(d), to_hex(*ms.digest));
  } else {
    rec.skip(checks::kSignatureDigest, "a messageDigest", "none (the signature is checked over the artifact)");
  }
  if (c.signer_key != nullptr) {
    auto ok = crypto::verify_signature(c.signer_key, c.artifact, ms.signature, digest_alg);
    rec.add(checks::kSignature, ok.ok(), "a valid signature over the artifact by the signer's key",
            ok.ok() ? "valid" : ok.error().message);
  } else {
    rec.fail(checks::kSignature, "a valid signature over the artifact", "no signer key");
  }
}

// --- the log entry ---------------------------------------------------------------
void check_tlog_body(BundleContext& c) {
  const Bundle& bundle = c.bundle;
  if (c.entry != nullptr && c.v1_entry && bundle.message_signature && (c.leaf != nullptr || c.managed)) {
    Bytes d = digest_of(c.digest_alg, c.artifact);
    std::string mismatch = hashedrekord_mismatch(c.entry->canonicalized_body, c.digest_alg, d,
                                                 bundle.message_signature->signature, c.leaf, c.managed.get());
    c.rec.add(checks::kTlogBody, mismatch.empty(), "the hashedrekord body names this artifact, signature and signer",
              mismatch.empty() ? "matches" : mismatch);
  } else {
    c.rec.fail(checks::kTlogBody, "a hashedrekord 0.0.1 body to compare", "not comparable");
  }
}

void check_set(BundleContext& c) {
  const TlogEntry* entry = c.entry;
  if (entry == nullptr || c.log_key == nullptr) {
    c.rec.fail(checks::kTlogSet, "a signed entry timestamp by the log key", "no entry or no log key");
  } else if (!entry->signed_entry_timestamp) {
    c.rec.fail(checks::kTlogSet, "a signed entry timestamp (inclusionPromise)", "none");
  } else {
    std::string payload = set_payload(entry->canonicalized_body, entry->integrated_time, entry->log_id,
                                      entry->log_index);
    auto ok = crypto::verify_signature(c.log_key.get(), as_bytes(payload), *entry->signed_entry_timestamp);
    c.rec.add(checks::kTlogSet, ok.ok(), "a valid SET by the log key over integratedTime and the body",
              ok.ok() ? "valid" : ok.error().message);
  }
}

void check_inclusion_proof(BundleContext& c) {
  CheckList& rec = c.rec;
  const TlogEntry* entry = c.entry;
  c.proof = entry != nullptr && entry->inclusion_proof ? &*entry->inclusion_proof : nullptr;
  const InclusionProof* proof = c.proof;
  if (entry == nullptr) {
    rec.fail(checks::kTlogInclusionProof, "an inclusion proof", "no entry");
  } else if (proof == nullptr) {
    if (c.bundle.minor_version >= 2)
      rec.fail(checks::kTlogInclusionProof, "an inclusion proof (required from bundle v0.2)", "none");
    else
      rec.skip(checks::kTlogInclusionProof, "an inclusion proof (optional in bundle v0.1)", "none");
  } else {
    Bytes leaf_h = leaf_hash(entry->canonicalized_body);
    auto ok = verify_inclusion(uint64_t(proof->log_index), uint64_t(proof->tree_size), leaf_h, proof->hashes,
                               proof->root_hash);
    rec.add(checks::kTlogInclusionProof, ok.ok(),
            fmt::format("index {} in a tree of size {} with root {}", proof->log_index, proof->tree_size,
                        to_hex(proof->root_hash)),
            ok.ok() ? "valid" : ok.error().message);
  }
}

// A proof's checkpoint, present and signed by the log key.
void check_signed_checkpoint(BundleContext& c) {
  const InclusionProof& proof = *c.proof;
  auto cp = Checkpoint::parse(*proof.checkpoint);
  if (!cp) {
    c.rec.fail(checks::kTlogCheckpoint, "a well-formed signed checkpoint", cp.error().message);
  } else if (cp->size != uint64_t(proof.tree_size) || cp->root_hash != proof.root_hash) {
    c.rec.fail(checks::kTlogCheckpoint,
               fmt::format("the proof's tree size {} and root {}", proof.tree_size, to_hex(proof.root_hash)),
               fmt::format("size {} root {}", cp->size, to_hex(cp->root_hash)));
  } else {
    ByteView hint(c.entry->log_id.data(), std::min<size_t>(4, c.entry->log_id.size()));
    auto ok = verify_checkpoint(*cp, c.log_key.get(), hint);
    c.rec.add(checks::kTlogCheckpoint, ok.ok(), "a checkpoint signed by the log key, equal to the proof",
              ok.ok() ? cp->origin : ok.error().message);
  }
}

void check_checkpoint(BundleContext& c) {
  CheckList& rec = c.rec;
  const InclusionProof* proof = c.proof;
  if (proof == nullptr) {
    if (c.entry != nullptr && c.bundle.minor_version < 2)
      rec.skip(checks::kTlogCheckpoint, "a checkpoint", "no inclusion proof");
    else
      rec.fail(checks::kTlogCheckpoint, "a checkpoint", "no inclusion proof");
  } else if (!proof->checkpoint) {
    if (c.bundle.minor_version >= 2)
      rec.fail(checks::kTlogCheckpoint, "a signed checkpoint (required from bundle v0.2)", "none");
    else
      rec.skip(checks::kTlogCheckpoint, "a signed checkpoint (optional in bundle v0.1)", "none");
  } else if (c.log_key == nullptr) {
    rec.fail(checks::kTlogCheckpoint, "a checkpoint signed by the log key", "no log key");
  } else {
    check_signed_checkpoint(c);
  }
}

}  // namespace

Result<Verification> verify_bundle(const Bundle& bundle, ByteView artifact, const TrustedRoot& root,
                                   const Identity& expected, UnixTime now) {
  VerifyOptions options;
  options.now = now;
  return verify_bundle(bundle, artifact, root, expected, options);
}

// The steps, in the order their checks are recorded.
Result<Verification> verify_bundle(const Bundle& bundle, ByteView artifact, const TrustedRoot& root,
                                   const Identity& expected, const VerifyOptions& options) {
  Verification v;
  BundleContext c(bundle, artifact, root, expected, options, options.now.value_or(now_utc()), v);
  check_shape(c);
  check_log_key(c);
  check_signer(c);
  check_certificate(c);
  check_artifact_signature(c);
  check_tlog_body(c);
  check_set(c);
  check_inclusion_proof(c);
  check_checkpoint(c);
  return v;
}

}  // namespace confer::sigstore
