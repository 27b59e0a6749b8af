#include "dev/fake_ctap.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "crypto/hash.hpp"
#include "crypto/pkey.hpp"
#include "crypto/secret.hpp"

namespace confer::dev::ctap {

namespace {

Error ossl_failure(const char* what) {
  return make_error(Errc::internal, std::string(what) + ": " + crypto::openssl_error());
}

using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, crypto::OsslFree<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, crypto::OsslFree<OSSL_PARAM, OSSL_PARAM_free>>;

Result<Bytes> cbc(bool enc, ByteView key, ByteView iv, ByteView in) {
  if (in.size() % 16 != 0 || key.size() != 32 || iv.size() != 16)
    return make_error(Errc::parse, "CTAP CBC: a multiple of 16 bytes under a 32-byte key was expected");
  crypto::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Bytes out(in.size() + 16);
  int n = 0, m = 0;
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv.data(), enc ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + n, &m) != 1)
    return ossl_failure("AES-256-CBC");
  out.resize(static_cast<size_t>(n + m));
  return out;
}

}  // namespace

Result<crypto::PkeyPtr> p256_generate() {
  crypto::PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return ossl_failure("P-256 key generation");
  return key;
}

Result<crypto::PkeyPtr> p256_from_scalar(ByteView scalar) {
  if (scalar.size() != 32) return make_error(Errc::parse, "a P-256 private scalar is 32 bytes");
  crypto::BnPtr priv(BN_bin2bn(scalar.data(), 32, nullptr));
  // The public point too (d·G): OpenSSL 3.0 does not derive it on import.
  using GroupPtr = std::unique_ptr<EC_GROUP, crypto::OsslFree<EC_GROUP, EC_GROUP_free>>;
  using PointPtr = std::unique_ptr<EC_POINT, crypto::OsslFree<EC_POINT, EC_POINT_free>>;
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  PointPtr pub(group ? EC_POINT_new(group.get()) : nullptr);
  uint8_t point[65];
  if (!priv || !pub || EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point, sizeof point, nullptr) != 65)
    return ossl_failure("P-256 public point");
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
    return ossl_failure("P-256 parameters");
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  crypto::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1)
    return ossl_failure("P-256 private key");
  return crypto::PkeyPtr(raw);
}

Result<crypto::PkeyPtr> p256_from_der(ByteView der) {
  const unsigned char* p = der.data();
  crypto::PkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  if (!key) return ossl_failure("P-256 private key (DER)");
  return key;
}

Result<Bytes> p256_der(EVP_PKEY* key) {
  unsigned char* buf = nullptr;
  int n = i2d_PrivateKey(key, &buf);
  if (n <= 0) return ossl_failure("P-256 private key encoding");
  Bytes out(buf, buf + n);
  OPENSSL_clear_free(buf, static_cast<size_t>(n));
  return out;
}

Result<crypto::PkeyPtr> p256_from_xy(ByteView x, ByteView y) {
  if (x.size() != 32 || y.size() != 32) return make_error(Errc::parse, "a P-256 coordinate is 32 bytes");
  // SubjectPublicKeyInfo for id-ecPublicKey / prime256v1, uncompressed point.
  static const uint8_t kPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                                    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
  Bytes der(std::begin(kPrefix), std::end(kPrefix));
  der.insert(der.end(), x.begin(), x.end());
  der.insert(der.end(), y.begin(), y.end());
  return crypto::public_key_from_spki(der);
}

Result<Point> p256_xy(EVP_PKEY* key) {
  uint8_t buf[65];
  size_t n = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof buf, &n) != 1 ||
      n != 65 || buf[0] != 0x04)
    return ossl_failure("P-256 public point");
  return Point{Bytes(buf + 1, buf + 33), Bytes(buf + 33, buf + 65)};
}

Result<Bytes> ecdh_x(EVP_PKEY* ours, EVP_PKEY* peer) {
  crypto::PkeyCtxPtr ctx(EVP_PKEY_CTX_new(ours, nullptr));
  size_t n = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &n) != 1)
    return ossl_failure("ECDH");
  Bytes z(n);
  if (EVP_PKEY_derive(ctx.get(), z.data(), &n) != 1) return ossl_failure("ECDH");
  z.resize(n);
  return z;
}

Result<Bytes> ecdsa_sign(EVP_PKEY* key, ByteView message) {
  crypto::MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t n = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &n, message.data(), message.size()) != 1)
    return ossl_failure("ECDSA");
  Bytes sig(n);
  if (EVP_DigestSign(ctx.get(), sig.data(), &n, message.data(), message.size()) != 1) return ossl_failure("ECDSA");
  sig.resize(n);
  return sig;
}

Result<Bytes> shared_secret(int protocol, ByteView z) {
  if (protocol == 1) return crypto::sha256(z);
  if (protocol != 2) return make_error(Errc::parse, "PIN/UV auth protocol 1 or 2 expected");
  const Bytes zero(32, 0);
  const std::string hmac_info = "CTAP2 HMAC key", aes_info = "CTAP2 AES key";
  CONFER_TRY(crypto::SecretBytes hmac_key,
             crypto::hkdf_sha256(z, zero, ByteView(reinterpret_cast<const uint8_t*>(hmac_info.data()), hmac_info.size()), 32));
  CONFER_TRY(crypto::SecretBytes aes_key,
             crypto::hkdf_sha256(z, zero, ByteView(reinterpret_cast<const uint8_t*>(aes_info.data()), aes_info.size()), 32));
  Bytes out(hmac_key.data(), hmac_key.data() + 32);
  out.insert(out.end(), aes_key.data(), aes_key.data() + 32);
  return out;
}

Result<Bytes> encrypt(int protocol, ByteView shared, ByteView plain, std::optional<ByteView> iv) {
  if (protocol == 1) {
    const Bytes zero_iv(16, 0);
    return cbc(true, shared.first(std::min<size_t>(shared.size(), 32)), zero_iv, plain);
  }
  if (shared.size() != 64) return make_error(Errc::parse, "a protocol 2 shared secret is 64 bytes");
  Bytes fresh(16);
  if (iv) {
    fresh.assign(iv->begin(), iv->end());
  } else {
    CONFER_TRY_VOID(crypto::fill_random(fresh.data(), fresh.size()));
  }
  CONFER_TRY(Bytes ct, cbc(true, shared.subspan(32), fresh, plain));
  fresh.insert(fresh.end(), ct.begin(), ct.end());
  return fresh;
}

Result<Bytes> decrypt(int protocol, ByteView shared, ByteView cipher) {
  if (protocol == 1) {
    const Bytes zero_iv(16, 0);
    return cbc(false, shared.first(std::min<size_t>(shared.size(), 32)), zero_iv, cipher);
  }
  if (shared.size() != 64 || cipher.size() < 16)
    return make_error(Errc::parse, "protocol 2: a 64-byte secret and IV || ciphertext expected");
  return cbc(false, shared.subspan(32), cipher.first(16), cipher.subspan(16));
}

Result<Bytes> authenticate(int protocol, ByteView key, ByteView message) {
  Bytes mac(32);
  ByteView k = protocol == 2 ? key.first(std::min<size_t>(key.size(), 32)) : key;
  CONFER_TRY_VOID(crypto::hmac_sha256(k, {message}, mac.data()));
  if (protocol == 1) mac.resize(16);
  return mac;
}

}  // namespace confer::dev::ctap
