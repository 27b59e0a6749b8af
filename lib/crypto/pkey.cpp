#include "crypto/pkey.hpp"

#include <memory>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fmt/format.h>

namespace confer::crypto {

namespace {


std::string group_name(EVP_PKEY* key) {
  char name[80] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1)
    return {};
  return std::string(name, len);
}

}  // namespace

Result<PkeyPtr> public_key_from_spki(ByteView der) {
  const unsigned char* p = der.data();
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, long(der.size()));
  if (key == nullptr || p != der.data() + der.size()) {
    EVP_PKEY_free(key);
    (void)openssl_error();
    return make_error(Errc::parse, fmt::format("expected a DER SubjectPublicKeyInfo, saw {} bytes that do not "
                                               "parse as one",
                                               der.size()));
  }
  return PkeyPtr(key);
}

Result<PkeyPtr> public_key_from_pem_or_der(ByteView bytes) {
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.find("-----BEGIN") == std::string_view::npos) return public_key_from_spki(bytes);
  BioPtr bio(BIO_new_mem_buf(bytes.data(), int(bytes.size())));
  if (!bio) return make_error(Errc::internal, "BIO_new_mem_buf failed");
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    (void)openssl_error();
    return make_error(Errc::parse, "expected a PEM PUBLIC KEY block, saw one that does not parse");
  }
  return PkeyPtr(key);
}

Result<Bytes> spki_of(EVP_PKEY* key) {
  unsigned char* out = nullptr;
  int len = i2d_PUBKEY(key, &out);
  if (len <= 0) return make_error(Errc::internal, "i2d_PUBKEY failed: " + openssl_error());
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

std::string key_description(EVP_PKEY* key) {
  if (key == nullptr) return "none";
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      std::string g = group_name(key);
      if (g == "prime256v1" || g == "P-256") return "ECDSA P-256";
      if (g == "secp384r1" || g == "P-384") return "ECDSA P-384";
      if (g == "secp521r1" || g == "P-521") return "ECDSA P-521";
      return "ECDSA " + g;
    }
    case EVP_PKEY_ED25519: return "Ed25519";
    case EVP_PKEY_RSA: return fmt::format("RSA {}", EVP_PKEY_get_bits(key));
    default: return fmt::format("key type {}", EVP_PKEY_get_base_id(key));
  }
}

Result<void> verify_signature(EVP_PKEY* key, ByteView message, ByteView sig, const std::string& digest) {
  if (key == nullptr) return make_error(Errc::usage, "no public key to verify with");
  if (sig.empty()) return make_error(Errc::attestation, "expected a signature, saw an empty one");
  const EVP_MD* md = nullptr;
  int type = EVP_PKEY_get_base_id(key);
  if (type == EVP_PKEY_ED25519) {
    md = nullptr;
  } else if (!digest.empty()) {
    if (digest == "sha256") md = EVP_sha256();
    else if (digest == "sha384") md = EVP_sha384();
    else if (digest == "sha512") md = EVP_sha512();
    else return make_error(Errc::usage, "unsupported digest " + digest);
  } else if (type == EVP_PKEY_EC) {
    std::string desc = key_description(key);
    md = desc == "ECDSA P-384" ? EVP_sha384() : desc == "ECDSA P-521" ? EVP_sha512() : EVP_sha256();
  } else if (type == EVP_PKEY_RSA) {
    md = EVP_sha256();
  } else {
    return make_error(Errc::attestation,
                      fmt::format("expected an ECDSA, Ed25519 or RSA key, saw {}", key_description(key)));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return make_error(Errc::internal, "EVP_MD_CTX_new failed");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1)
    return make_error(Errc::internal, "EVP_DigestVerifyInit failed: " + openssl_error());
  int rc = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size());
  if (rc != 1)
    return make_error(Errc::attestation,
                      fmt::format("the {} signature does not verify{}", key_description(key), openssl_detail()));
  return {};
}

Result<PkeyPtr> ec_public_key_from_xy(ByteView xy, const std::string& curve) {
  size_t half = curve == "P-256" ? 32 : curve == "P-384" ? 48 : 0;
  if (half == 0) return make_error(Errc::usage, "unsupported curve " + curve);
  if (xy.size() != 2 * half)
    return make_error(Errc::parse, fmt::format("expected a {}-byte {} public key (x || y), saw {} bytes", 2 * half,
                                               curve, xy.size()));
  Bytes point;
  point.reserve(1 + xy.size());
  point.push_back(0x04);
  point.insert(point.end(), xy.begin(), xy.end());
  const char* group = half == 32 ? "prime256v1" : "secp384r1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1 || key == nullptr) {
    clear_openssl_errors();
    return make_error(Errc::parse, fmt::format("the {} public key is not a point on the curve", curve));
  }
  return PkeyPtr(key);
}

Result<Bytes> ecdsa_der_from_raw(ByteView rs) {
  if (rs.empty() || rs.size() % 2 != 0 || rs.size() > 132)
    return make_error(Errc::parse, fmt::format("expected a raw ECDSA signature r || s, saw {} bytes", rs.size()));
  size_t half = rs.size() / 2;
  BnPtr r(BN_bin2bn(rs.data(), int(half), nullptr));
  BnPtr s(BN_bin2bn(rs.data() + half, int(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1)
    return make_error(Errc::internal, "ECDSA_SIG_set0 failed: " + openssl_error());
  (void)r.release();
  (void)s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return make_error(Errc::internal, "i2d_ECDSA_SIG failed: " + openssl_error());
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<void> verify_raw_ecdsa(EVP_PKEY* key, ByteView message, ByteView rs, const std::string& digest) {
  CONFER_TRY(Bytes der, ecdsa_der_from_raw(rs));
  return verify_signature(key, message, der, digest);
}

}  // namespace confer::crypto
