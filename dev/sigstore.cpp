#include "dev/sigstore.hpp"

#include <memory>

#include <openssl/asn1.h>
#include <openssl/ct.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/pkey.hpp"
#include "sigstore/merkle.hpp"

namespace confer::dev {

using namespace confer::sigstore;

using nlohmann::json;

namespace {

constexpr UnixTime kValidFrom = 1577836800;  // 2020-01-01T00:00:00Z
constexpr uint64_t kTreeSize = 7;
constexpr uint64_t kLeafIndex = 5;
constexpr int64_t kGlobalOffset = 1'000'000;  // global logIndex = offset + shard index
constexpr const char* kLogName = "rekor.dev.confer.invalid";

struct X509Deleter {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct NameFree {
  void operator()(X509_NAME* p) const noexcept { X509_NAME_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
};
struct SctListFree {
  void operator()(STACK_OF(SCT) * p) const noexcept { SCT_LIST_free(p); }
};

Error ossl(const char* what) { return make_error(Errc::internal, fmt::format("{}: {}", what, crypto::openssl_error())); }

Result<crypto::PkeyPtr> p256() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (k == nullptr) return ossl("EVP_EC_gen");
  return crypto::PkeyPtr(k);
}

Result<Bytes> sign_bytes(EVP_PKEY* key, ByteView msg) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return ossl("DigestSignInit");
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) != 1) return ossl("DigestSign");
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1) return ossl("DigestSign");
  sig.resize(len);
  return sig;
}

Result<crypto::Cert> to_cert(X509* x) {
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  if (len <= 0) return ossl("i2d_X509");
  auto c = crypto::Cert::from_der(ByteView(der, size_t(len)));
  OPENSSL_free(der);
  return c;
}

Result<void> add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return ossl("X509_add_ext");
  return {};
}

// A certificate skeleton: version 3, random serial, validity, subject, issuer, key.
Result<std::unique_ptr<X509, X509Deleter>> skeleton(const char* subject_cn, X509_NAME* issuer, EVP_PKEY* key,
                                                    UnixTime from, UnixTime to) {
  std::unique_ptr<X509, X509Deleter> x(X509_new());
  if (!x) return ossl("X509_new");
  X509_set_version(x.get(), 2);
  uint8_t serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr), BN_free);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()));
  ASN1_TIME_set(X509_getm_notBefore(x.get()), time_t(from));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), time_t(to));
  std::unique_ptr<X509_NAME, NameFree> name(X509_NAME_new());
  if (subject_cn != nullptr) {
    X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("confer-dev"), -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(subject_cn), -1,
                               -1, 0);
  }
  X509_set_subject_name(x.get(), name.get());
  X509_set_issuer_name(x.get(), issuer != nullptr ? issuer : name.get());
  X509_set_pubkey(x.get(), key);
  return x;
}

Result<crypto::Cert> make_ca(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, int pathlen) {
  CONFER_TRY(auto x, skeleton(cn, issuer != nullptr ? X509_get_subject_name(issuer) : nullptr, key, kValidFrom,
                              kValidFrom + 20LL * 365 * 86400));
  X509* iss = issuer != nullptr ? issuer : x.get();
  std::string bc = pathlen >= 0 ? fmt::format("critical,CA:TRUE,pathlen:{}", pathlen) : "critical,CA:TRUE";
  CONFER_TRY_VOID(add_ext(x.get(), iss, NID_basic_constraints, bc.c_str()));
  CONFER_TRY_VOID(add_ext(x.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign"));
  CONFER_TRY_VOID(add_ext(x.get(), iss, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr) CONFER_TRY_VOID(add_ext(x.get(), iss, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) <= 0) return ossl("X509_sign");
  return to_cert(x.get());
}

// MTH over leaf hashes [lo, hi) and the RFC 6962 audit path.
uint64_t split(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
Bytes mth(const std::vector<Bytes>& hashes, uint64_t lo, uint64_t hi) {
  if (hi - lo == 1) return hashes[lo];
  uint64_t k = split(hi - lo);
  return node_hash(mth(hashes, lo, lo + k), mth(hashes, lo + k, hi));
}
void audit_path(const std::vector<Bytes>& hashes, uint64_t m, uint64_t lo, uint64_t hi, std::vector<Bytes>& out) {
  if (hi - lo <= 1) return;
  uint64_t k = split(hi - lo);
  if (m < k) {
    audit_path(hashes, m, lo, lo + k, out);
    out.push_back(mth(hashes, lo + k, hi));
  } else {
    audit_path(hashes, m - k, lo + k, hi, out);
    out.push_back(mth(hashes, lo, lo + k));
  }
}

std::string pem_of(X509* x) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), x);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

json range_json(UnixTime start) { return json{{"start", format_rfc3339(start)}}; }

}  // namespace

Result<DevSigstore> DevSigstore::create() {
  DevSigstore d;
  CONFER_TRY(d.root_key_, p256());
  CONFER_TRY(d.intermediate_key_, p256());
  CONFER_TRY(d.rekor_key_, p256());
  CONFER_TRY(d.ct_key_, p256());
  CONFER_TRY(d.root_, make_ca("confer-dev-fulcio-root", d.root_key_.get(), nullptr, nullptr, -1));
  CONFER_TRY(d.intermediate_,
             make_ca("confer-dev-fulcio-intermediate", d.intermediate_key_.get(), d.root_.get(), d.root_key_.get(), 0));
  CONFER_TRY(d.rekor_spki_, crypto::spki_of(d.rekor_key_.get()));
  CONFER_TRY(d.ct_spki_, crypto::spki_of(d.ct_key_.get()));
  d.rekor_id_ = crypto::sha256(d.rekor_spki_);
  d.ct_id_ = crypto::sha256(d.ct_spki_);
  return d;
}

std::string DevSigstore::trusted_root_json() const {
  json tlog = {{"baseUrl", std::string("https://") + kLogName},
               {"hashAlgorithm", "SHA2_256"},
               {"publicKey",
                {{"rawBytes", to_base64(rekor_spki_)},
                 {"keyDetails", "PKIX_ECDSA_P256_SHA_256"},
                 {"validFor", range_json(kValidFrom)}}},
               {"logId", {{"keyId", to_base64(rekor_id_)}}}};
  json ctlog = {{"baseUrl", "https://ct.dev.confer.invalid"},
                {"hashAlgorithm", "SHA2_256"},
                {"publicKey",
                 {{"rawBytes", to_base64(ct_spki_)},
                  {"keyDetails", "PKIX_ECDSA_P256_SHA_256"},
                  {"validFor", range_json(kValidFrom)}}},
                {"logId", {{"keyId", to_base64(ct_id_)}}}};
  json ca = {{"subject", {{"organization", "confer-dev"}, {"commonName", "confer-dev-fulcio-root"}}},
             {"uri", "https://fulcio.dev.confer.invalid"},
             {"certChain",
              {{"certificates", json::array({{{"rawBytes", to_base64(intermediate_.der())}},
                                             {{"rawBytes", to_base64(root_.der())}}})}}},
             {"validFor", range_json(kValidFrom)}};
  json root = {{"mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1"},
               {"tlogs", json::array({tlog})},
               {"certificateAuthorities", json::array({ca})},
               {"ctlogs", json::array({ctlog})},
               {"timestampAuthorities", json::array()}};
  return root.dump(2);
}

Result<std::string> DevSigstore::sign(ByteView artifact, const Identity& identity, UnixTime at) const {
  if (identity.san.empty() || identity.issuer.empty())
    return make_error(Errc::usage, "dev sigstore: expected a SAN and an issuer, saw an empty one");
  if (at <= kValidFrom) return make_error(Errc::usage, "dev sigstore: expected a signing time after 2020-01-01");

  // --- the Fulcio-style leaf ---
  CONFER_TRY(crypto::PkeyPtr leaf_key, p256());
  CONFER_TRY(auto x, skeleton(nullptr, X509_get_subject_name(intermediate_.get()), leaf_key.get(), at - 300, at + 300));
  X509* iss = intermediate_.get();
  CONFER_TRY_VOID(add_ext(x.get(), iss, NID_key_usage, "critical,digitalSignature"));
  CONFER_TRY_VOID(add_ext(x.get(), iss, NID_ext_key_usage, "codeSigning"));
  CONFER_TRY_VOID(add_ext(x.get(), iss, NID_subject_key_identifier, "hash"));
  CONFER_TRY_VOID(add_ext(x.get(), iss, NID_authority_key_identifier, "keyid:always"));
  {
    bool uri = identity.san.find("://") != std::string::npos;
    std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> names(GENERAL_NAMES_new(), GENERAL_NAMES_free);
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    ASN1_STRING_set(ia5, identity.san.data(), int(identity.san.size()));
    GENERAL_NAME_set0_value(gn, uri ? GEN_URI : GEN_EMAIL, ia5);
    sk_GENERAL_NAME_push(names.get(), gn);
    if (X509_add1_ext_i2d(x.get(), NID_subject_alt_name, names.get(), 1, X509V3_ADD_DEFAULT) != 1)
      return ossl("SAN");
  }
  {
    // 1.3.6.1.4.1.57264.1.8: the OIDC issuer as a DER UTF8String.
    ASN1_UTF8STRING* s = ASN1_UTF8STRING_new();
    ASN1_STRING_set(s, identity.issuer.data(), int(identity.issuer.size()));
    unsigned char* der = nullptr;
    int len = i2d_ASN1_UTF8STRING(s, &der);
    ASN1_UTF8STRING_free(s);
    if (len <= 0) return ossl("issuer extension");
    std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)> os(ASN1_OCTET_STRING_new(),
                                                                              ASN1_OCTET_STRING_free);
    ASN1_OCTET_STRING_set(os.get(), der, len);
    OPENSSL_free(der);
    std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> oid(OBJ_txt2obj("1.3.6.1.4.1.57264.1.8", 1),
                                                                  ASN1_OBJECT_free);
    std::unique_ptr<X509_EXTENSION, ExtFree> ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, os.get()));
    if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1) return ossl("issuer extension");
  }
  // Sign once so the TBS carries its signature algorithm, take the precert TBS, then
  // embed an SCT by the dev CT log and sign again.
  if (X509_sign(x.get(), intermediate_key_.get(), EVP_sha256()) <= 0) return ossl("X509_sign");
  unsigned char* tbs_der = nullptr;
  int tbs_len = i2d_re_X509_tbs(x.get(), &tbs_der);
  if (tbs_len <= 0) return ossl("i2d_re_X509_tbs");
  Bytes tbs(tbs_der, tbs_der + tbs_len);
  OPENSSL_free(tbs_der);
  CONFER_TRY(Bytes issuer_spki, crypto::spki_of(intermediate_key_.get()));
  uint64_t sct_ms = uint64_t(at) * 1000;
  Bytes sct_data = sct_signed_data(sct_ms, crypto::sha256(issuer_spki), tbs, {});
  CONFER_TRY(Bytes sct_sig, sign_bytes(ct_key_.get(), sct_data));
  {
    std::unique_ptr<STACK_OF(SCT), SctListFree> list(sk_SCT_new_null());
    SCT* sct = SCT_new();
    SCT_set_version(sct, SCT_VERSION_V1);
    SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_PRECERT);
    SCT_set1_log_id(sct, ct_id_.data(), ct_id_.size());
    SCT_set_timestamp(sct, sct_ms);
    SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256);
    SCT_set1_signature(sct, sct_sig.data(), sct_sig.size());
    sk_SCT_push(list.get(), sct);
    if (X509_add1_ext_i2d(x.get(), NID_ct_precert_scts, list.get(), 0, X509V3_ADD_DEFAULT) != 1)
      return ossl("SCT extension");
  }
  if (X509_sign(x.get(), intermediate_key_.get(), EVP_sha256()) <= 0) return ossl("X509_sign");
  CONFER_TRY(crypto::Cert leaf, to_cert(x.get()));

  // --- the message signature and the hashedrekord entry ---
  CONFER_TRY(Bytes signature, sign_bytes(leaf_key.get(), artifact));
  Bytes digest = crypto::sha256(artifact);
  std::string leaf_pem = pem_of(x.get());
  json body = {{"apiVersion", "0.0.1"},
               {"kind", "hashedrekord"},
               {"spec",
                {{"data", {{"hash", {{"algorithm", "sha256"}, {"value", to_hex(digest)}}}}},
                 {"signature",
                  {{"content", to_base64(signature)}, {"publicKey", {{"content", to_base64(as_bytes(leaf_pem))}}}}}}}};
  std::string body_text = body.dump();
  Bytes body_bytes(body_text.begin(), body_text.end());
  const int64_t global_index = kGlobalOffset + int64_t(kLeafIndex);
  std::string set = set_payload(body_bytes, at, rekor_id_, global_index);
  CONFER_TRY(Bytes set_sig, sign_bytes(rekor_key_.get(), as_bytes(set)));

  // --- a small tree holding the entry, its proof and a checkpoint ---
  std::vector<Bytes> leaves;
  for (uint64_t i = 0; i < kTreeSize; ++i)
    leaves.push_back(i == kLeafIndex ? leaf_hash(body_bytes) : leaf_hash(as_bytes(fmt::format("dev-entry-{}", i))));
  Bytes root = mth(leaves, 0, kTreeSize);
  std::vector<Bytes> proof;
  audit_path(leaves, kLeafIndex, 0, kTreeSize, proof);
  std::string note = fmt::format("{} - 1\n{}\n{}\n", kLogName, kTreeSize, to_base64(root));
  CONFER_TRY(Bytes note_sig, sign_bytes(rekor_key_.get(), as_bytes(note)));
  Bytes hint_sig(rekor_id_.begin(), rekor_id_.begin() + 4);
  hint_sig.insert(hint_sig.end(), note_sig.begin(), note_sig.end());
  std::string envelope = note + "\n\xE2\x80\x94 " + kLogName + " " + to_base64(hint_sig) + "\n";

  json hashes = json::array();
  for (const auto& h : proof) hashes.push_back(to_base64(h));
  json entry = {{"logIndex", std::to_string(global_index)},
                {"logId", {{"keyId", to_base64(rekor_id_)}}},
                {"kindVersion", {{"kind", "hashedrekord"}, {"version", "0.0.1"}}},
                {"integratedTime", std::to_string(at)},
                {"inclusionPromise", {{"signedEntryTimestamp", to_base64(set_sig)}}},
                {"inclusionProof",
                 {{"logIndex", std::to_string(kLeafIndex)},
                  {"rootHash", to_base64(root)},
                  {"treeSize", std::to_string(kTreeSize)},
                  {"hashes", hashes},
                  {"checkpoint", {{"envelope", envelope}}}}},
                {"canonicalizedBody", to_base64(body_bytes)}};
  json bundle = {{"mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
                 {"verificationMaterial",
                  {{"certificate", {{"rawBytes", to_base64(leaf.der())}}}, {"tlogEntries", json::array({entry})}}},
                 {"messageSignature",
                  {{"messageDigest", {{"algorithm", "SHA2_256"}, {"digest", to_base64(digest)}}},
                   {"signature", to_base64(signature)}}}};
  return bundle.dump();
}

}  // namespace confer::dev
