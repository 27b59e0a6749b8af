#include "sigstore/signer.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/pkey.hpp"
#include "sigstore/checks.hpp"
#include "sigstore/fulcio.hpp"
#include "sigstore/sct.hpp"

namespace confer::sigstore {

namespace {

// A publicKey bundle: the caller's managed key.
void check_managed_signer(BundleContext& c) {
  if (!c.options.public_key) {
    c.rec.fail(checks::kSigner, "a Fulcio certificate, or a managed key supplied by the caller",
               "a publicKey bundle and no key to verify it with");
    return;
  }
  auto key = crypto::public_key_from_pem_or_der(*c.options.public_key);
  if (!key) {
    c.rec.fail(checks::kSigner, "a parseable managed key", key.error().message);
    return;
  }
  c.managed = std::move(key).value();
  c.signer_key = c.managed.get();
  c.rec.pass(checks::kSigner, "a managed key", crypto::key_description(c.signer_key));
}

// A certificate bundle: its first certificate is the Fulcio leaf.
void check_fulcio_signer(BundleContext& c) {
  c.leaf = &c.bundle.certificates.front();
  const crypto::Cert* leaf = c.leaf;
  EVP_PKEY* key = X509_get0_pubkey(leaf->get());
  std::string desc = crypto::key_description(key);
  bool is_ca = X509_check_ca(leaf->get()) != 0;
  uint32_t xku =
      (X509_get_extension_flags(leaf->get()) & EXFLAG_XKUSAGE) ? X509_get_extended_key_usage(leaf->get()) : 0;
  bool code_signing = (xku & XKU_CODE_SIGN) != 0;
  if (key == nullptr || (desc != "ECDSA P-256" && desc != "ECDSA P-384"))
    c.rec.fail(checks::kSigner, "a Fulcio leaf with an ECDSA P-256 or P-384 key", desc);
  else if (is_ca)
    c.rec.fail(checks::kSigner, "a Fulcio leaf (not a CA)", "a CA certificate: " + leaf->subject_cn());
  else if (!code_signing)
    c.rec.fail(checks::kSigner, "a Fulcio leaf with the codeSigning extended key usage", "no codeSigning EKU");
  else {
    c.signer_key = key;
    c.rec.pass(checks::kSigner, "a Fulcio leaf", desc + " leaf " + leaf->sha256_hex());
  }
  c.v.leaf_sha256 = leaf->sha256_hex();
}

// The bundle's chain may carry intermediates (ignored: the trusted root supplies
// them) but never a self-signed root. Then the chain to a trusted CA at the signing
// time, and the SCT by a trusted CT log.
void check_leaf_chain(BundleContext& c) {
  const Bundle& bundle = c.bundle;
  std::string roots;
  for (size_t i = 0; i < bundle.certificates.size(); ++i) {
    X509* cert = bundle.certificates[i].get();
    if (X509_check_issued(cert, cert) == X509_V_OK) roots += fmt::format("certificates[{}] ", i);
  }
  c.rec.add(checks::kCertBundleChain, roots.empty(), "no self-signed certificate in the bundle",
            roots.empty() ? fmt::format("{} certificate(s)", bundle.certificates.size()) : "root at " + roots);
  if (c.t <= 0) {
    c.rec.fail(checks::kCertChain, "a chain to a trusted Fulcio CA at integratedTime", "no integratedTime");
    return;
  }
  auto chain = verify_chain(*c.leaf, c.root, c.t);
  c.rec.add(checks::kCertChain, chain.ok(), "a chain to a trusted Fulcio CA at " + format_rfc3339(c.t),
            chain.ok() ? chain->label : chain.error().message);
  if (!chain) {
    c.rec.fail(checks::kCertSct, "an embedded SCT by a trusted CT log", "no verified issuer");
  } else if (c.root.ctlogs.empty()) {
    c.rec.skip(checks::kCertSct, "an embedded SCT by a trusted CT log", "the trusted root lists no CT logs");
  } else {
    auto sct = verify_scts(*c.leaf, chain->issuer, c.root);
    c.rec.add(checks::kCertSct, sct.ok(), "an embedded SCT by a trusted CT log",
              sct.ok() ? sct.value() : sct.error().message);
  }
}

// The leaf's validity at the signing time, and the identity it names.
void check_leaf_identity(BundleContext& c) {
  const crypto::Cert& leaf = *c.leaf;
  const Identity& expected = c.expected;
  const UnixTime t = c.t;
  c.rec.add(checks::kCertValidity, t > 0 && crypto::validity_at(leaf, t) == crypto::Validity::ok,
            fmt::format("integratedTime within [{}, {}]", format_rfc3339(leaf.not_before()),
                        format_rfc3339(leaf.not_after())),
            t > 0 ? format_rfc3339(t) : "none");
  auto sans = certificate_sans(leaf);
  c.v.san = sans.empty() ? std::string() : sans.front();
  bool san_ok = !expected.san.empty() && std::find(sans.begin(), sans.end(), expected.san) != sans.end();
  std::string seen_sans;
  for (const auto& s : sans) seen_sans += (seen_sans.empty() ? "" : ", ") + s;
  c.rec.add(checks::kIdentitySan, san_ok, expected.san, seen_sans.empty() ? "no e-mail or URI SAN" : seen_sans);
  auto issuer = certificate_oidc_issuer(leaf);
  c.v.issuer = issuer.value_or("");
  c.rec.add(checks::kIdentityIssuer, !expected.issuer.empty() && issuer && *issuer == expected.issuer,
            expected.issuer, issuer ? *issuer : "no OIDC issuer extension");
}

}  // namespace

void check_signer(BundleContext& c) {
  if (c.bundle.public_key_hint)
    check_managed_signer(c);
  else if (c.bundle.certificates.empty())
    c.rec.fail(checks::kSigner, "a Fulcio certificate", "none");
  else if (c.options.public_key)
    c.rec.fail(checks::kSigner, "a publicKey bundle for the supplied managed key", "a certificate bundle");
  else
    check_fulcio_signer(c);
}

void check_certificate(BundleContext& c) {
  if (c.leaf != nullptr) {
    check_leaf_chain(c);
    check_leaf_identity(c);
  } else if (c.managed) {
    c.rec.skip(checks::kCertChain, "a Fulcio chain", "managed key: no certificate");
    c.rec.skip(checks::kIdentitySan, c.expected.san, "managed key: no certificate");
  } else {
    c.rec.skip(checks::kCertChain, "a Fulcio chain", "no signer");
  }
}

}  // namespace confer::sigstore
