#include "sigstore/verify.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore/checkpoint.hpp"
#include "sigstore/checks.hpp"
#include "crypto/pkey.hpp"
#include "crypto/hash.hpp"
#include "core/json.hpp"
#include "sigstore/merkle.hpp"
#include "sigstore/sct.hpp"

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

}  // namespace

Result<Verification> verify_bundle(const Bundle& bundle, ByteView artifact, const TrustedRoot& root,
                                   const Identity& expected, UnixTime now) {
  VerifyOptions options;
  options.now = now;
  return verify_bundle(bundle, artifact, root, expected, options);
}

Result<Verification> verify_bundle(const Bundle& bundle, ByteView artifact, const TrustedRoot& root,
                                   const Identity& expected, const VerifyOptions& options) {
  Verification v;
  CheckList& rec = v.checks;
  const UnixTime now = options.now.value_or(now_utc());

  // --- the bundle's shape -------------------------------------------------------
  rec.add(checks::kBundleMediaType, bundle.minor_version >= 1 && bundle.minor_version <= 3, "bundle v0.1, v0.2 or v0.3",
            bundle.media_type);
  if (bundle.dsse_envelope)
    rec.fail(checks::kBundleContent, "messageSignature", "dsseEnvelope (DSSE verification is not supported)");
  else if (bundle.message_signature)
    rec.pass(checks::kBundleContent, "messageSignature", "messageSignature");
  else
    rec.fail(checks::kBundleContent, "messageSignature", "none");

  const TlogEntry* entry = nullptr;
  if (bundle.tlog_entries.size() == 1) {
    entry = &bundle.tlog_entries[0];
    rec.pass(checks::kTlogEntries, "exactly one tlog entry", "1");
  } else {
    rec.fail(checks::kTlogEntries, "exactly one tlog entry", std::to_string(bundle.tlog_entries.size()));
  }
  bool v1_entry = false;
  if (entry != nullptr) {
    v1_entry = entry->kind == "hashedrekord" && entry->version == "0.0.1";
    std::string seen = entry->kind + " " + entry->version;
    if (entry->kind == "hashedrekord" && entry->version == "0.0.2") seen += " (Rekor v2 is not supported)";
    rec.add(checks::kTlogKind, v1_entry, "hashedrekord 0.0.1 (Rekor v1)", seen);
    v.log_index = entry->log_index;
    v.integrated_time = entry->integrated_time;
  } else {
    rec.skip(checks::kTlogKind, "hashedrekord 0.0.1 (Rekor v1)", "no entry");
  }
  if (bundle.rfc3161_timestamps.empty())
    rec.skip(checks::kTimestampRfc3161, "none needed for Rekor v1", "none");
  else
    rec.skip(checks::kTimestampRfc3161, "not verified: the SET-signed integratedTime is the signing time",
             fmt::format("{} timestamp(s) ignored", bundle.rfc3161_timestamps.size()));

  // --- the log key and the signing time -------------------------------------------
  const TransparencyLog* log = nullptr;
  crypto::PkeyPtr log_key;
  const UnixTime t = entry != nullptr ? entry->integrated_time : 0;
  if (entry != nullptr) {
    log = root.find_tlog(entry->log_id);
    if (log == nullptr) {
      rec.fail(checks::kTlogLogKey, "a transparency log of the trusted root", "unknown logId " + to_hex(entry->log_id));
    } else {
      auto key = crypto::public_key_from_spki(log->public_key);
      if (!key) {
        rec.fail(checks::kTlogLogKey, "a parseable log key", key.error().message);
        log = nullptr;
      } else {
        log_key = std::move(key).value();
        rec.pass(checks::kTlogLogKey, "a transparency log of the trusted root",
               fmt::format("{} ({})", log->base_url, crypto::key_description(log_key.get())));
      }
    }
  } else {
    rec.skip(checks::kTlogLogKey, "a transparency log of the trusted root", "no entry");
  }
  if (log != nullptr)
    rec.add(checks::kTlogLogKeyValidity, t > 0 && log->valid_for.contains(t),
              "integratedTime within " + log->valid_for.describe(), t > 0 ? format_rfc3339(t) : "none");
  else
    rec.skip(checks::kTlogLogKeyValidity, "the log key valid at integratedTime", "no log key");
  if (entry != nullptr)
    rec.add(checks::kTlogIntegratedTime, t > 0 && t <= now, "an integratedTime not after " + format_rfc3339(now),
              t > 0 ? format_rfc3339(t) : "none");
  else
    rec.skip(checks::kTlogIntegratedTime, "an integratedTime", "no entry");

  // --- the signer: Fulcio leaf or managed key ---------------------------------------
  const crypto::Cert* leaf = nullptr;
  crypto::PkeyPtr managed;
  EVP_PKEY* signer_key = nullptr;
  if (bundle.public_key_hint) {
    if (!options.public_key) {
      rec.fail(checks::kSigner, "a Fulcio certificate, or a managed key supplied by the caller",
               "a publicKey bundle and no key to verify it with");
    } else {
      auto key = crypto::public_key_from_pem_or_der(*options.public_key);
      if (!key) {
        rec.fail(checks::kSigner, "a parseable managed key", key.error().message);
      } else {
        managed = std::move(key).value();
        signer_key = managed.get();
        rec.pass(checks::kSigner, "a managed key", crypto::key_description(signer_key));
      }
    }
  } else if (bundle.certificates.empty()) {
    rec.fail(checks::kSigner, "a Fulcio certificate", "none");
  } else if (options.public_key) {
    rec.fail(checks::kSigner, "a publicKey bundle for the supplied managed key", "a certificate bundle");
  } else {
    leaf = &bundle.certificates.front();
    EVP_PKEY* key = X509_get0_pubkey(leaf->get());
    std::string desc = crypto::key_description(key);
    bool is_ca = X509_check_ca(leaf->get()) != 0;
    uint32_t xku = (X509_get_extension_flags(leaf->get()) & EXFLAG_XKUSAGE) ? X509_get_extended_key_usage(leaf->get()) : 0;
    bool code_signing = (xku & XKU_CODE_SIGN) != 0;
    if (key == nullptr || (desc != "ECDSA P-256" && desc != "ECDSA P-384"))
      rec.fail(checks::kSigner, "a Fulcio leaf with an ECDSA P-256 or P-384 key", desc);
    else if (is_ca)
      rec.fail(checks::kSigner, "a Fulcio leaf (not a CA)", "a CA certificate: " + leaf->subject_cn());
    else if (!code_signing)
      rec.fail(checks::kSigner, "a Fulcio leaf with the codeSigning extended key usage", "no codeSigning EKU");
    else {
      signer_key = key;
      rec.pass(checks::kSigner, "a Fulcio leaf", desc + " leaf " + leaf->sha256_hex());
    }
    v.leaf_sha256 = leaf->sha256_hex();
  }

  if (leaf != nullptr) {
    // The bundle's chain may carry intermediates (ignored: the trusted root supplies
    // them) but never a self-signed root.
    std::string roots;
    for (size_t i = 0; i < bundle.certificates.size(); ++i) {
      X509* c = bundle.certificates[i].get();
      if (X509_check_issued(c, c) == X509_V_OK) roots += fmt::format("certificates[{}] ", i);
    }
    rec.add(checks::kCertBundleChain, roots.empty(), "no self-signed certificate in the bundle",
              roots.empty() ? fmt::format("{} certificate(s)", bundle.certificates.size()) : "root at " + roots);
    if (t > 0) {
      auto chain = verify_chain(*leaf, root, t);
      rec.add(checks::kCertChain, chain.ok(), "a chain to a trusted Fulcio CA at " + format_rfc3339(t),
                chain.ok() ? chain->label : chain.error().message);
      if (!chain) {
        rec.fail(checks::kCertSct, "an embedded SCT by a trusted CT log", "no verified issuer");
      } else if (root.ctlogs.empty()) {
        rec.skip(checks::kCertSct, "an embedded SCT by a trusted CT log", "the trusted root lists no CT logs");
      } else {
        auto sct = verify_scts(*leaf, chain->issuer, root);
        rec.add(checks::kCertSct, sct.ok(), "an embedded SCT by a trusted CT log",
                  sct.ok() ? sct.value() : sct.error().message);
      }
    } else {
      rec.fail(checks::kCertChain, "a chain to a trusted Fulcio CA at integratedTime", "no integratedTime");
    }
    rec.add(checks::kCertValidity, t > 0 && crypto::validity_at(*leaf, t) == crypto::Validity::ok,
              fmt::format("integratedTime within [{}, {}]", format_rfc3339(leaf->not_before()),
                          format_rfc3339(leaf->not_after())),
              t > 0 ? format_rfc3339(t) : "none");
    auto sans = certificate_sans(*leaf);
    v.san = sans.empty() ? std::string() : sans.front();
    bool san_ok = !expected.san.empty() && std::find(sans.begin(), sans.end(), expected.san) != sans.end();
    std::string seen_sans;
    for (const auto& s : sans) seen_sans += (seen_sans.empty() ? "" : ", ") + s;
    rec.add(checks::kIdentitySan, san_ok, expected.san, seen_sans.empty() ? "no e-mail or URI SAN" : seen_sans);
    auto issuer = certificate_oidc_issuer(*leaf);
    v.issuer = issuer.value_or("");
    rec.add(checks::kIdentityIssuer, !expected.issuer.empty() && issuer && *issuer == expected.issuer, expected.issuer,
              issuer ? *issuer : "no OIDC issuer extension");
  } else if (managed) {
    rec.skip(checks::kCertChain, "a Fulcio chain", "managed key: no certificate");
    rec.skip(checks::kIdentitySan, expected.san, "managed key: no certificate");
  } else {
    rec.skip(checks::kCertChain, "a Fulcio chain", "no signer");
  }

  // --- the signature over the artifact --------------------------------------------
  std::string digest_alg = "sha256";
  if (bundle.message_signature) {
    const auto& ms = *bundle.message_signature;
    if (ms.digest_algorithm) digest_alg = digest_name(*ms.digest_algorithm);
    if (digest_alg.empty()) {
      rec.fail(checks::kSignatureDigest, "messageDigest SHA2_256, SHA2_384 or SHA2_512", *ms.digest_algorithm);
      digest_alg = "sha256";
    } else if (ms.digest) {
      Bytes d = digest_of(digest_alg, artifact);
      rec.add(checks::kSignatureDigest, d.size() == ms.digest->size() && equal_ct(d, *ms.digest),
                digest_alg + " of the artifact " + to_hex(d), to_hex(*ms.digest));
    } else {
      rec.skip(checks::kSignatureDigest, "a messageDigest", "none (the signature is checked over the artifact)");
    }
    if (signer_key != nullptr) {
      auto ok = crypto::verify_signature(signer_key, artifact, ms.signature, digest_alg);
      rec.add(checks::kSignature, ok.ok(), "a valid signature over the artifact by the signer's key",
                ok.ok() ? "valid" : ok.error().message);
    } else {
      rec.fail(checks::kSignature, "a valid signature over the artifact", "no signer key");
    }
  } else {
    rec.skip(checks::kSignature, "a messageSignature", "none");
  }

  // --- the log entry ---------------------------------------------------------------
  if (entry != nullptr && v1_entry && bundle.message_signature && (leaf != nullptr || managed)) {
    Bytes d = digest_of(digest_alg, artifact);
    std::string mismatch = hashedrekord_mismatch(entry->canonicalized_body, digest_alg, d,
                                                 bundle.message_signature->signature, leaf, managed.get());
    rec.add(checks::kTlogBody, mismatch.empty(), "the hashedrekord body names this artifact, signature and signer",
              mismatch.empty() ? "matches" : mismatch);
  } else {
    rec.fail(checks::kTlogBody, "a hashedrekord 0.0.1 body to compare", "not comparable");
  }

  if (entry == nullptr || log_key == nullptr) {
    rec.fail(checks::kTlogSet, "a signed entry timestamp by the log key", "no entry or no log key");
  } else if (!entry->signed_entry_timestamp) {
    rec.fail(checks::kTlogSet, "a signed entry timestamp (inclusionPromise)", "none");
  } else {
    std::string payload = set_payload(entry->canonicalized_body, entry->integrated_time, entry->log_id,
                                      entry->log_index);
    auto ok = crypto::verify_signature(log_key.get(), as_bytes(payload), *entry->signed_entry_timestamp);
    rec.add(checks::kTlogSet, ok.ok(), "a valid SET by the log key over integratedTime and the body",
              ok.ok() ? "valid" : ok.error().message);
  }

  const InclusionProof* proof = entry != nullptr && entry->inclusion_proof ? &*entry->inclusion_proof : nullptr;
  if (entry == nullptr) {
    rec.fail(checks::kTlogInclusionProof, "an inclusion proof", "no entry");
  } else if (proof == nullptr) {
    if (bundle.minor_version >= 2)
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

  if (proof == nullptr) {
    if (entry != nullptr && bundle.minor_version < 2)
      rec.skip(checks::kTlogCheckpoint, "a checkpoint", "no inclusion proof");
    else
      rec.fail(checks::kTlogCheckpoint, "a checkpoint", "no inclusion proof");
  } else if (!proof->checkpoint) {
    if (bundle.minor_version >= 2)
      rec.fail(checks::kTlogCheckpoint, "a signed checkpoint (required from bundle v0.2)", "none");
    else
      rec.skip(checks::kTlogCheckpoint, "a signed checkpoint (optional in bundle v0.1)", "none");
  } else if (log_key == nullptr) {
    rec.fail(checks::kTlogCheckpoint, "a checkpoint signed by the log key", "no log key");
  } else {
    auto cp = Checkpoint::parse(*proof->checkpoint);
    if (!cp) {
      rec.fail(checks::kTlogCheckpoint, "a well-formed signed checkpoint", cp.error().message);
    } else if (cp->size != uint64_t(proof->tree_size) || cp->root_hash != proof->root_hash) {
      rec.fail(checks::kTlogCheckpoint,
               fmt::format("the proof's tree size {} and root {}", proof->tree_size, to_hex(proof->root_hash)),
               fmt::format("size {} root {}", cp->size, to_hex(cp->root_hash)));
    } else {
      ByteView hint(entry->log_id.data(), std::min<size_t>(4, entry->log_id.size()));
      auto ok = verify_checkpoint(*cp, log_key.get(), hint);
      rec.add(checks::kTlogCheckpoint, ok.ok(), "a checkpoint signed by the log key, equal to the proof",
                ok.ok() ? cp->origin : ok.error().message);
    }
  }
  return v;
}

}  // namespace confer::sigstore
