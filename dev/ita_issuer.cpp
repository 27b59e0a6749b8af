#include "dev/ita_issuer.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <fmt/format.h>

#include "attest/jwt.hpp"
#include "core/json.hpp"

namespace confer::dev {

namespace {

using nlohmann::json;

bool is_rsa(const std::string& alg) { return alg == "PS384" || alg == "RS256"; }

Result<crypto::PkeyPtr> generate(const std::string& alg) {
  EVP_PKEY* key = nullptr;
  if (is_rsa(alg)) key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(3072));
  else if (alg == "ES384") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp384r1");
  else if (alg == "ES256") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "prime256v1");
  else return make_error(Errc::usage, fmt::format("dev ITA issuer: expected alg PS384, RS256, ES384 or ES256, saw {}", alg));
  if (key == nullptr) return make_error(Errc::internal, "dev ITA issuer: key generation failed: " + crypto::openssl_error());
  return crypto::PkeyPtr(key);
}

Result<Bytes> bn_param(EVP_PKEY* key, const char* param, size_t pad = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &raw) != 1 || raw == nullptr)
    return make_error(Errc::internal, fmt::format("reading {} failed: {}", param, crypto::openssl_error()));
  crypto::BnPtr bn(raw);
  Bytes out(pad != 0 ? pad : size_t(BN_num_bytes(bn.get())));
  if (BN_bn2binpad(bn.get(), out.data(), int(out.size())) < 0)
    return make_error(Errc::internal, fmt::format("encoding {} failed", param));
  return out;
}

Result<Bytes> raw_from_der(ByteView der, size_t half) {
  const unsigned char* p = der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, long(der.size())));
  if (!sig) return make_error(Errc::internal, "decoding the ECDSA signature failed");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes out(2 * half);
  if (BN_bn2binpad(r, out.data(), int(half)) < 0 || BN_bn2binpad(s, out.data() + half, int(half)) < 0)
    return make_error(Errc::internal, "encoding the ECDSA signature failed");
  return out;
}

json measurement(uint8_t fill) { return to_hex(Bytes(48, fill)); }

}  // namespace

Result<DevItaIssuer> DevItaIssuer::create(std::string alg) {
  DevItaIssuer issuer;
  CONFER_TRY(issuer.key_, generate(alg));
  issuer.alg_ = std::move(alg);
  Bytes id(8);
  if (RAND_bytes(id.data(), int(id.size())) != 1) return make_error(Errc::internal, "RAND_bytes failed");
  issuer.kid_ = "dev-ita-" + to_hex(id);
  return issuer;
}

std::string DevItaIssuer::jwks_json() const {
  json jwk = {{"kid", kid_}, {"alg", alg_}, {"use", "sig"}};
  if (is_rsa(alg_)) {
    auto n = bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N);
    auto e = bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) return R"({"keys":[]})";
    jwk["kty"] = "RSA";
    jwk["n"] = attest::to_base64url(*n);
    jwk["e"] = attest::to_base64url(*e);
  } else {
    size_t size = alg_ == "ES384" ? 48 : 32;
    auto x = bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, size);
    auto y = bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, size);
    if (!x || !y) return R"({"keys":[]})";
    jwk["kty"] = "EC";
    jwk["crv"] = alg_ == "ES384" ? "P-384" : "P-256";
    jwk["x"] = attest::to_base64url(*x);
    jwk["y"] = attest::to_base64url(*y);
  }
  return dump_json(json{{"keys", json::array({jwk})}});
}

Result<Bytes> DevItaIssuer::sign(std::string_view signing_input) const {
  const EVP_MD* md = alg_ == "RS256" || alg_ == "ES256" ? EVP_sha256() : EVP_sha384();
  crypto::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key_.get()) != 1)
    return make_error(Errc::internal, "EVP_DigestSignInit failed: " + crypto::openssl_error());
  if (alg_ == "PS384" && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
                          EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1))
    return make_error(Errc::internal, "setting RSA-PSS parameters failed: " + crypto::openssl_error());
  ByteView msg = as_bytes(signing_input);
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) != 1)
    return make_error(Errc::internal, "EVP_DigestSign failed: " + crypto::openssl_error());
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1)
    return make_error(Errc::internal, "EVP_DigestSign failed: " + crypto::openssl_error());
  sig.resize(len);
  if (is_rsa(alg_)) return sig;
  return raw_from_der(sig, alg_ == "ES384" ? 48 : 32);
}

Result<std::string> DevItaIssuer::mint_with_header(const json& header, const json& payload) const {
  std::string input = attest::to_base64url(as_bytes(dump_json(header))) + "." +
                      attest::to_base64url(as_bytes(dump_json(payload)));
  CONFER_TRY(Bytes sig, sign(input));
  return input + "." + attest::to_base64url(sig);
}

Result<std::string> DevItaIssuer::mint(const json& payload, std::optional<std::string> kid_override) const {
  json header = {{"alg", alg_}, {"kid", kid_override ? *kid_override : kid_}, {"typ", "JWT"},
                 {"jku", std::string(attest::kItaJwksUrl)}};
  return mint_with_header(header, payload);
}

json tdx_claims_template(UnixTime at, const std::string& issuer, int64_t lifetime) {
  Bytes report_data(64, 0);
  for (size_t i = 0; i < 32; ++i) report_data[i] = uint8_t(i + 1);
  return json{
      {"iss", issuer},
      {"iat", at},
      {"nbf", at},
      {"exp", at + lifetime},
      {"jti", "00000000-0000-4000-8000-000000000000"},
      {"ver", "1.0.0"},
      {"eat_profile", "https://portal.trustauthority.intel.com/eat_profile.html"},
      {"intuse", "generic"},
      {"dbgstat", "disabled"},
      {"attester_type", "TDX"},
      {"attester_tcb_status", "UpToDate"},
      {"attester_tcb_date", "2025-05-14T00:00:00Z"},
      {"attester_advisory_ids", json::array()},
      {"tdx_mrtd", measurement(0xa1)},
      {"tdx_rtmr0", measurement(0xb0)},
      {"tdx_rtmr1", measurement(0xb1)},
      {"tdx_rtmr2", measurement(0xb2)},
      {"tdx_rtmr3", measurement(0x00)},
      {"tdx_mrseam", measurement(0xc5)},
      {"tdx_mrsignerseam", measurement(0x00)},
      {"tdx_mrconfigid", measurement(0x00)},
      {"tdx_mrowner", measurement(0x00)},
      {"tdx_mrownerconfig", measurement(0x00)},
      {"tdx_seamsvn", 267},
      {"tdx_td_attributes", "0000001000000000"},
      {"tdx_xfam", "e702060000000000"},
      {"tdx_tee_tcb_svn", "0b010300000000000000000000000000"},
      {"tdx_report_data", to_hex(report_data)},
      {"tdx_is_debuggable", false},
  };
}

json tdx_claims_template_v2(UnixTime at, const std::string& issuer, int64_t lifetime) {
  json flat = tdx_claims_template(at, issuer, lifetime);
  json out = json::object();
  json tdx = json::object();
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    const std::string& key = it.key();
    bool nested = key.rfind("tdx_", 0) == 0 || key.rfind("attester_", 0) == 0 || key == "dbgstat";
    (nested ? tdx : out)[key] = it.value();
  }
  out["tdx"] = std::move(tdx);
  out["ver"] = "2.0.0";
  return out;
}

}  // namespace confer::dev
