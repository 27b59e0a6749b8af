#include "dev/snp_authority.hpp"

#include "dev/cert_util.hpp"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstring>

#include <fmt/format.h>

#include "attest/vcek_ext.hpp"

namespace confer::dev {

using namespace confer::attest;

namespace {

constexpr const char* kDevOrg = "confer development chain (NOT AMD)";
constexpr int64_t kDay = 86400;

Result<crypto::PkeyPtr> generate_rsa4096() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(4096));
  if (key == nullptr) return make_error(Errc::internal, "RSA-4096 key generation failed: " + crypto::openssl_error());
  return crypto::PkeyPtr(key);
}

void set_name(X509_NAME* name, const std::string& cn) { set_dev_name(name, kDevOrg, cn); }

Bytes der_integer(uint8_t v) {
  if (v & 0x80) return {0x02, 0x02, 0x00, v};
  return {0x02, 0x01, v};
}

Bytes der_ia5(const std::string& s) {
  Bytes out(2 + s.size());
  out[0] = 0x16;
  out[1] = uint8_t(s.size());
  std::copy(s.begin(), s.end(), out.begin() + 2);
  return out;
}

// Signs with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD's parameters.
bool sign_pss(X509* cert, EVP_PKEY* key) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = md != nullptr && EVP_DigestSignInit(md, &pctx, EVP_sha384(), nullptr, key) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 && X509_sign_ctx(cert, md) > 0;
  EVP_MD_CTX_free(md);
  return ok;
}

Result<crypto::Cert> finish(X509* cert, EVP_PKEY* signer) {
  if (!sign_pss(cert, signer))
    return make_error(Errc::internal, "signing the development certificate failed: " + crypto::openssl_error());
  return encoded_cert(cert, "development certificate");
}

Result<crypto::Cert> make_ca(const std::string& cn, EVP_PKEY* subject_key, const crypto::Cert* issuer,
                           EVP_PKEY* issuer_key, UnixTime now) {
  crypto::CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), issuer == nullptr ? 1 : 2);
  set_name(X509_get_subject_name(cert.get()), cn);
  X509_set_issuer_name(cert.get(), issuer == nullptr ? X509_get_subject_name(cert.get())
                                                     : X509_get_subject_name(issuer->get()));
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kDay, &now);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 25 * 365, 0, &now);
  X509_set_pubkey(cert.get(), subject_key);
  X509* issuer_x = issuer == nullptr ? cert.get() : issuer->get();
  if (!add_v3(cert.get(), issuer_x, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_v3(cert.get(), issuer_x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_v3(cert.get(), issuer_x, NID_subject_key_identifier, "hash"))
    return make_error(Errc::internal, "building CA extensions failed");
  return finish(cert.get(), issuer_key);
}

}  // namespace

Result<crypto::PkeyPtr> generate_p384_key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp384r1");
  if (key == nullptr) return make_error(Errc::internal, "P-384 key generation failed");
  return crypto::PkeyPtr(key);
}

Result<DevAuthority> DevAuthority::create(Product product) {
  if (product == Product::unknown) return make_error(Errc::usage, "dev authority: unknown product");
  DevAuthority a;
  a.product_ = product;
  UnixTime now = now_utc();
  std::string name = product_name(product);
  CONFER_TRY(a.ark_key_, generate_rsa4096());
  CONFER_TRY(a.ask_key_, generate_rsa4096());
  CONFER_TRY(a.asvk_key_, generate_rsa4096());
  CONFER_TRY(a.ark_, make_ca("ARK-" + name, a.ark_key_.get(), nullptr, a.ark_key_.get(), now));
  CONFER_TRY(a.ask_, make_ca("SEV-" + name, a.ask_key_.get(), &a.ark_, a.ark_key_.get(), now));
  CONFER_TRY(a.asvk_, make_ca("SEV-VLEK-" + name, a.asvk_key_.get(), &a.ark_, a.ark_key_.get(), now));
  return a;
}

std::string DevAuthority::chain_pem(bool vlek) const {
  return (vlek ? asvk_ : ask_).pem() + ark_.pem();
}

Result<DevSigner> DevAuthority::issue(const DevCertSpec& spec) const {
  CONFER_TRY(crypto::PkeyPtr key, generate_p384_key());
  const crypto::Cert& issuer = spec.vlek ? asvk_ : ask_;
  EVP_PKEY* issuer_key = spec.vlek ? asvk_key_.get() : ask_key_.get();
  crypto::CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 0);  // AMD's VCEKs have serial 0
  set_name(X509_get_subject_name(cert.get()), spec.vlek ? "SEV-VLEK" : "SEV-VCEK");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer.get()));
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after));
  X509_set_pubkey(cert.get(), key.get());
  const std::string p = kAmdOidPrefix;
  bool ok = add_raw_ext(cert.get(), p + "1", der_integer(product_ == Product::turin ? 1 : 0)) &&
            add_raw_ext(cert.get(), p + "2", der_ia5(spec.product_name)) &&
            add_raw_ext(cert.get(), p + "3.1", der_integer(spec.tcb.bootloader)) &&
            add_raw_ext(cert.get(), p + "3.2", der_integer(spec.tcb.tee)) &&
            add_raw_ext(cert.get(), p + "3.3", der_integer(spec.tcb.snp)) &&
            add_raw_ext(cert.get(), p + "3.8", der_integer(spec.tcb.microcode));
  if (ok && product_ == Product::turin) ok = add_raw_ext(cert.get(), p + "3.9", der_integer(spec.tcb.fmc));
  if (ok && spec.hwid) {
    Bytes value;
    if (spec.hwid_as_octet_string) {
      value.push_back(0x04);
      value.push_back(uint8_t(spec.hwid->size()));
    }
    value.insert(value.end(), spec.hwid->begin(), spec.hwid->end());
    ok = add_raw_ext(cert.get(), p + "4", value);
  }
  if (ok && spec.csp_id) ok = add_raw_ext(cert.get(), p + "5", der_ia5(*spec.csp_id));
  if (!ok) return make_error(Errc::internal, "building VCEK extensions failed");
  CONFER_TRY(crypto::Cert done, finish(cert.get(), issuer_key));
  return DevSigner{std::move(done), std::move(key)};
}

DevCertSpec DevAuthority::spec_for(const SnpReport& report) const {
  DevCertSpec spec;
  spec.tcb = decode_tcb(report.reported_tcb, product_);
  spec.vlek = report.signing_key() == SigningKey::vlek;
  spec.product_name = product_ == Product::milan ? (spec.vlek ? "Milan" : "Milan-B0")
                                                 : product_name(product_);
  if (spec.vlek) {
    spec.csp_id = "CN=confer-development";
  } else {
    size_t n = product_ == Product::turin ? 8 : 64;
    spec.hwid = Bytes(report.chip_id.begin(), report.chip_id.begin() + n);
  }
  UnixTime now = now_utc();
  spec.not_before = now - kDay;
  spec.not_after = now + 7 * 365 * kDay;
  return spec;
}

SnpReport dev_report_template(Product product) {
  SnpReport r;
  r.version = 3;
  r.policy = policy_bit::smt | policy_bit::reserved_one;
  r.signature_algo = 1;
  r.vmpl = 0;
  r.platform_info = 0x25;
  switch (product) {
    case Product::genoa: r.cpuid_family = 0x19; r.cpuid_model = 0x11; r.cpuid_stepping = 0x01; break;
    case Product::turin: r.cpuid_family = 0x1A; r.cpuid_model = 0x02; r.cpuid_stepping = 0x01; break;
    default: r.cpuid_family = 0x19; r.cpuid_model = 0x01; r.cpuid_stepping = 0x01; break;
  }
  Tcb tcb{.fmc = product == Product::turin ? uint8_t(1) : uint8_t(0), .bootloader = 4, .tee = 0,
          .snp = 27, .microcode = 222};
  uint64_t raw = encode_tcb(tcb, product);
  r.current_tcb = r.reported_tcb = r.committed_tcb = r.launch_tcb = raw;
  r.current_fw = r.committed_fw = {1, 55, 35};
  RAND_bytes(r.chip_id.data(), int(r.chip_id.size()));
  if (product == Product::turin) std::fill(r.chip_id.begin() + 8, r.chip_id.end(), 0);
  RAND_bytes(r.report_id.data(), int(r.report_id.size()));
  return r;
}

Result<Bytes> sign_report(SnpReport report, EVP_PKEY* key) {
  report.sig_r.fill(0);
  report.sig_s.fill(0);
  Bytes bytes = serialize_report(report);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  bool ok = md != nullptr && EVP_DigestSignInit(md, nullptr, EVP_sha384(), nullptr, key) == 1 &&
            EVP_DigestSign(md, nullptr, &len, bytes.data(), kSignedSize) == 1;
  Bytes der(len);
  ok = ok && EVP_DigestSign(md, der.data(), &len, bytes.data(), kSignedSize) == 1;
  EVP_MD_CTX_free(md);
  if (!ok) return make_error(Errc::internal, "signing the report failed: " + crypto::openssl_error());
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(len));
  if (sig == nullptr) return make_error(Errc::internal, "decoding the report signature failed");
  const BIGNUM* r = ECDSA_SIG_get0_r(sig);
  const BIGNUM* s = ECDSA_SIG_get0_s(sig);
  ok = BN_bn2lebinpad(r, bytes.data() + 0x2A0, 72) == 72 && BN_bn2lebinpad(s, bytes.data() + 0x2E8, 72) == 72;
  ECDSA_SIG_free(sig);
  if (!ok) return make_error(Errc::internal, "encoding the report signature failed");
  return bytes;
}

}  // namespace confer::dev
