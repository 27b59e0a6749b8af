#include "sigstore/verify.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include <openssl/asn1.h>
#include <openssl/ct.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore/checkpoint.hpp"
#include "sigstore/checks.hpp"
#include "crypto/pkey.hpp"
#include "crypto/hash.hpp"
#include "core/json.hpp"
#include "sigstore/merkle.hpp"

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

struct StoreFree {
  void operator()(X509_STORE* p) const noexcept { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const noexcept { X509_STORE_CTX_free(p); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_free(p); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};

std::string asn1_string(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), size_t(ASN1_STRING_length(s)));
}

std::optional<Bytes> extension_data(const crypto::Cert& cert, const char* oid) {
  std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> obj(OBJ_txt2obj(oid, 1), ASN1_OBJECT_free);
  if (!obj) return std::nullopt;
  int idx = X509_get_ext_by_OBJ(cert.get(), obj.get(), -1);
  if (idx < 0) return std::nullopt;
  X509_EXTENSION* ext = X509_get_ext(cert.get(), idx);
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
  if (data == nullptr) return std::nullopt;
  const auto* p = ASN1_STRING_get0_data(data);
  return Bytes(p, p + ASN1_STRING_length(data));
}

struct ChainResult {
  std::string label;
  crypto::Cert issuer;  // the leaf's issuer, for the SCT's issuer_key_hash
};

// Time-checked chain to one of the trusted CAs.
Result<ChainResult> verify_chain(const crypto::Cert& leaf, const TrustedRoot& root, UnixTime at) {
  std::string reasons;
  for (const auto& ca : root.certificate_authorities) {
    std::string label = ca.uri.empty() ? ca.subject_common_name : ca.uri;
    if (ca.chain.empty()) continue;
    if (!ca.valid_for.contains(at)) {
      reasons += fmt::format("{} {} not valid at {}; ", label, ca.valid_for.describe(), format_rfc3339(at));
      continue;
    }
    std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
    std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
    std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
    if (!store || !untrusted || !ctx) return make_error(Errc::internal, "OpenSSL allocation failed");
    if (X509_STORE_add_cert(store.get(), ca.chain.back().get()) != 1)
      return make_error(Errc::internal, "X509_STORE_add_cert failed: " + crypto::openssl_error());
    for (size_t i = 0; i + 1 < ca.chain.size(); ++i) sk_X509_push(untrusted.get(), ca.chain[i].get());
    if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1)
      return make_error(Errc::internal, "X509_STORE_CTX_init failed: " + crypto::openssl_error());
    X509_STORE_CTX_set_time(ctx.get(), 0, time_t(at));
    int rc = X509_verify_cert(ctx.get());
    if (rc == 1) {
      STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
      if (built == nullptr || sk_X509_num(built) < 2) return make_error(Errc::internal, "chain without an issuer");
      X509* issuer = sk_X509_value(built, 1);
      unsigned char* der = nullptr;
      int len = i2d_X509(issuer, &der);
      if (len <= 0) return make_error(Errc::internal, "i2d_X509 failed");
      auto cert = crypto::Cert::from_der(ByteView(der, size_t(len)));
      OPENSSL_free(der);
      if (!cert) return std::move(cert).error();
      return ChainResult{label + " (" + ca.chain.back().subject_cn() + ")", std::move(cert).value()};
    }
    int err = X509_STORE_CTX_get_error(ctx.get());
    (void)crypto::openssl_error();
    reasons += fmt::format("{}: {}; ", label, X509_verify_cert_error_string(err));
  }
  if (reasons.empty()) reasons = "the trusted root lists no certificate authority";
  return make_error(Errc::attestation, reasons);
}

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


struct SctListFree {
  void operator()(STACK_OF(SCT) * p) const noexcept { SCT_LIST_free(p); }
};

void put_be(Bytes& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

Result<Bytes> precert_tbs(const crypto::Cert& leaf) {
  auto copy = crypto::Cert::from_der(leaf.der());
  if (!copy) return std::move(copy).error();
  int idx = X509_get_ext_by_NID(copy->get(), NID_ct_precert_scts, -1);
  if (idx < 0) return make_error(Errc::attestation, "the certificate has no embedded SCT extension");
  X509_EXTENSION_free(X509_delete_ext(copy->get(), idx));
  unsigned char* der = nullptr;
  int len = i2d_re_X509_tbs(copy->get(), &der);
  if (len <= 0) return make_error(Errc::internal, "i2d_re_X509_tbs failed: " + crypto::openssl_error());
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Bytes sct_signed_data(uint64_t timestamp_ms, ByteView issuer_key_hash, ByteView tbs, ByteView extensions) {
  Bytes out;
  out.push_back(0);  // version v1
  out.push_back(0);  // signature_type certificate_timestamp
  put_be(out, timestamp_ms, 8);
  put_be(out, 1, 2);  // entry_type precert_entry
  out.insert(out.end(), issuer_key_hash.begin(), issuer_key_hash.end());
  put_be(out, tbs.size(), 3);
  out.insert(out.end(), tbs.begin(), tbs.end());
  put_be(out, extensions.size(), 2);
  out.insert(out.end(), extensions.begin(), extensions.end());
  return out;
}

namespace {

// At least one embedded SCT by a trusted CT log verifies. Returns a description.
Result<std::string> verify_scts(const crypto::Cert& leaf, const crypto::Cert& issuer, const TrustedRoot& root) {
  std::unique_ptr<STACK_OF(SCT), SctListFree> scts(
      static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf.get(), NID_ct_precert_scts, nullptr, nullptr)));
  if (!scts || sk_SCT_num(scts.get()) == 0) {
    (void)crypto::openssl_error();
    return make_error(Errc::attestation, "no embedded SCT");
  }
  CONFER_TRY(Bytes tbs, precert_tbs(leaf));
  CONFER_TRY(Bytes issuer_spki, crypto::spki_of(X509_get0_pubkey(issuer.get())));
  Bytes issuer_key_hash = crypto::sha256(issuer_spki);
  std::string reasons;
  for (int i = 0; i < sk_SCT_num(scts.get()); ++i) {
    const SCT* sct = sk_SCT_value(scts.get(), i);
    unsigned char* id = nullptr;
    size_t id_len = SCT_get0_log_id(sct, &id);
    ByteView log_id(id, id_len);
    if (SCT_get_version(sct) != SCT_VERSION_V1) {
      reasons += "an SCT that is not v1; ";
      continue;
    }
    const TransparencyLog* log = nullptr;
    for (const auto& l : root.ctlogs)
      if (l.log_id.size() == log_id.size() && equal_ct(l.log_id, log_id)) log = &l;
    if (log == nullptr) {
      reasons += fmt::format("SCT from unknown CT log {}; ", to_hex(log_id));
      continue;
    }
    uint64_t ts = SCT_get_timestamp(sct);
    if (!log->valid_for.contains(UnixTime(ts / 1000))) {
      reasons += fmt::format("SCT time outside {} of {}; ", log->valid_for.describe(), log->base_url);
      continue;
    }
    auto key = crypto::public_key_from_spki(log->public_key);
    if (!key) {
      reasons += fmt::format("CT log {} key does not parse; ", log->base_url);
      continue;
    }
    unsigned char* ext = nullptr;
    size_t ext_len = SCT_get0_extensions(sct, &ext);
    unsigned char* sig = nullptr;
    size_t sig_len = SCT_get0_signature(sct, &sig);
    Bytes data = sct_signed_data(ts, issuer_key_hash, tbs, ByteView(ext, ext_len));
    auto ok = crypto::verify_signature(key->get(), data, ByteView(sig, sig_len), "sha256");
    if (ok) return fmt::format("SCT by {} at {}", log->base_url, format_rfc3339(UnixTime(ts / 1000)));
    reasons += fmt::format("SCT by {}: {}; ", log->base_url, ok.error().message);
  }
  return make_error(Errc::attestation, reasons);
}

}  // namespace

std::vector<std::string> certificate_sans(const crypto::Cert& cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_EMAIL || n->type == GEN_URI) out.push_back(asn1_string(n->d.ia5));
  }
  return out;
}

std::optional<std::string> certificate_oidc_issuer(const crypto::Cert& cert) {
  if (auto v2 = extension_data(cert, "1.3.6.1.4.1.57264.1.8")) {
    const unsigned char* p = v2->data();
    ASN1_UTF8STRING* s = d2i_ASN1_UTF8STRING(nullptr, &p, long(v2->size()));
    if (s == nullptr) {
      (void)crypto::openssl_error();
      return std::nullopt;
    }
    std::string out = asn1_string(s);
    ASN1_UTF8STRING_free(s);
    return out;
  }
  if (auto v1 = extension_data(cert, "1.3.6.1.4.1.57264.1.1")) return std::string(v1->begin(), v1->end());
  return std::nullopt;
}

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
