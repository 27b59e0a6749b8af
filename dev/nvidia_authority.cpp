#include "dev/nvidia_authority.hpp"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "crypto/pkey.hpp"
#include "dev/cert_util.hpp"

namespace confer::dev {

namespace {

constexpr const char* kDevOrg = "confer development GPU chain (NOT NVIDIA)";
constexpr int64_t kDay = 86400;
// id-sha384 (2.16.840.1.101.3.4.2.2)
constexpr uint8_t kSha384Oid[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};

Bytes der(uint8_t tag, ByteView content) { return der_tlv(tag, content); }

void append(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }

// FWID ::= SEQUENCE { hashAlg OBJECT IDENTIFIER, digest OCTET STRING }
Bytes fwid_der(ByteView digest) {
  Bytes body(std::begin(kSha384Oid), std::end(kSha384Oid));
  append(body, der(0x04, digest));
  return der(0x30, body);
}

Result<Bytes> dice_extension_value(const DevGpuLeafSpec& spec, EVP_PKEY* issuer_key) {
  Bytes body;
  if (spec.layout == attest::DiceLayout::composite_device_id) {
    CONFER_TRY(Bytes spki, crypto::spki_of(issuer_key));
    append(body, Bytes{0x02, 0x01, 0x01});  // version 1
    append(body, spki);
    append(body, fwid_der(spec.fwid));
  } else {
    std::string_view vendor = "confer", model = "development GPU";
    append(body, der(0x80, as_bytes(vendor)));  // [0] vendor
    append(body, der(0x81, as_bytes(model)));   // [1] model
    append(body, der(0xA6, fwid_der(spec.fwid)));  // [6] fwids
  }
  return der(0x30, body);
}

void set_name(X509_NAME* name, const std::string& cn) { set_dev_name(name, kDevOrg, cn); }

Result<crypto::Cert> finish(X509* cert, EVP_PKEY* signer) {
  if (X509_sign(cert, signer, EVP_sha384()) <= 0)
    return make_error(Errc::internal, "signing the development GPU certificate failed: " + crypto::openssl_error());
  return encoded_cert(cert, "development GPU certificate");
}

struct Issuer {
  const crypto::Cert* cert;  // null: self-signed
  EVP_PKEY* key;
};

Result<crypto::Cert> make_ca(const std::string& cn, long serial, EVP_PKEY* subject_key, Issuer issuer, UnixTime now) {
  crypto::CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  set_name(X509_get_subject_name(cert.get()), cn);
  X509* issuer_x = issuer.cert == nullptr ? cert.get() : issuer.cert->get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_x));
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kDay, &now);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 25 * 365, 0, &now);
  X509_set_pubkey(cert.get(), subject_key);
  if (!add_v3(cert.get(), issuer_x, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_v3(cert.get(), issuer_x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_v3(cert.get(), issuer_x, NID_subject_key_identifier, "hash"))
    return make_error(Errc::internal, "building development GPU CA extensions failed");
  return finish(cert.get(), issuer.key);
}

void put_le16(Bytes& out, size_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}

}  // namespace

Result<DevGpuAuthority> DevGpuAuthority::create() {
  DevGpuAuthority a;
  UnixTime now = now_utc();
  CONFER_TRY(a.root_key_, generate_p384_key());
  CONFER_TRY(a.intermediate_key_, generate_p384_key());
  CONFER_TRY(a.root_, make_ca("confer development GPU root (NOT NVIDIA)", 1, a.root_key_.get(),
                              Issuer{nullptr, a.root_key_.get()}, now));
  CONFER_TRY(a.intermediate_, make_ca("confer development GPU intermediate", 2, a.intermediate_key_.get(),
                                      Issuer{&a.root_, a.root_key_.get()}, now));
  return a;
}

Result<DevSigner> DevGpuAuthority::issue_leaf(const DevGpuLeafSpec& spec) const {
  CONFER_TRY(crypto::PkeyPtr key, generate_p384_key());
  crypto::CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 3);
  set_name(X509_get_subject_name(cert.get()), "confer development GPU attestation leaf");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(intermediate_.get()));
  UnixTime now = now_utc();
  bool default_time = spec.not_before == 0 && spec.not_after == 0;
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(default_time ? now - kDay : spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                static_cast<time_t>(default_time ? now + 7 * 365 * kDay : spec.not_after));
  X509_set_pubkey(cert.get(), key.get());
  if (!add_v3(cert.get(), intermediate_.get(), NID_key_usage, "critical,digitalSignature"))
    return make_error(Errc::internal, "building the development GPU leaf's key usage failed");
  if (spec.dice_extension) {
    CONFER_TRY(Bytes value, dice_extension_value(spec, intermediate_key_.get()));
    if (!add_raw_ext(cert.get(), attest::kDiceTcbInfoOid, value))
      return make_error(Errc::internal, "adding the DICE extension failed: " + crypto::openssl_error());
  }
  CONFER_TRY(crypto::Cert done, finish(cert.get(), intermediate_key_.get()));
  return DevSigner{std::move(done), std::move(key)};
}

std::string DevGpuAuthority::chain_pem(const crypto::Cert& leaf) const {
  return leaf.pem() + intermediate_.pem() + root_.pem();
}

DevSpdmSpec dev_spdm_template(size_t blocks) {
  DevSpdmSpec s;
  RAND_bytes(s.nonce.data(), int(s.nonce.size()));
  RAND_bytes(s.responder_nonce.data(), int(s.responder_nonce.size()));
  for (size_t i = 0; i < blocks && i < 255; ++i) {
    attest::MeasurementBlock b;
    b.index = uint8_t(i + 1);
    b.spec = attest::kSpdmDmtfSpec;
    b.value_type = 1;
    b.digest.resize(48);
    RAND_bytes(b.digest.data(), int(b.digest.size()));
    s.blocks.push_back(std::move(b));
  }
  s.driver_version = "550.90.07";
  s.vbios = {0x00, 0x9f, 0x00, 0x96, 0x01, 0x00, 0x00, 0x00};
  s.fwid.resize(48);
  RAND_bytes(s.fwid.data(), int(s.fwid.size()));
  return s;
}

Result<Bytes> build_spdm_report(const DevSpdmSpec& spec, EVP_PKEY* leaf_key) {
  if (spec.blocks.size() > 255)
    return make_error(Errc::usage, fmt::format("SPDM report: at most 255 blocks, saw {}", spec.blocks.size()));
  Bytes record;
  for (const auto& b : spec.blocks) {
    if (b.digest.size() > 0xffff - 3)
      return make_error(Errc::usage, fmt::format("SPDM report: block {} value too large", b.index));
    record.push_back(b.index);
    record.push_back(b.spec);
    put_le16(record, b.digest.size() + 3);
    record.push_back(b.value_type);
    put_le16(record, b.digest.size());
    append(record, b.digest);
  }
  if (record.size() > 0xffffff) return make_error(Errc::usage, "SPDM report: measurement record too large");

  std::vector<attest::OpaqueField> fields;
  if (!spec.driver_version.empty()) {
    Bytes v(spec.driver_version.begin(), spec.driver_version.end());
    v.push_back(0);
    fields.push_back({attest::spdm_opaque::driver_version, std::move(v)});
  }
  if (!spec.vbios.empty()) fields.push_back({attest::spdm_opaque::vbios_version, spec.vbios});
  if (!spec.fwid.empty()) fields.push_back({attest::spdm_opaque::fwid, spec.fwid});
  fields.insert(fields.end(), spec.extra_opaque.begin(), spec.extra_opaque.end());
  Bytes opaque;
  for (const auto& f : fields) {
    if (f.value.size() > 0xffff)
      return make_error(Errc::usage, fmt::format("SPDM report: opaque field {} too large", f.type));
    put_le16(opaque, f.type);
    put_le16(opaque, f.value.size());
    append(opaque, f.value);
  }
  if (opaque.size() > 0xffff) return make_error(Errc::usage, "SPDM report: opaque data too large");

  Bytes out{attest::kSpdmVersion11, attest::kSpdmGetMeasurements, 0x01, 0xFF};
  append(out, spec.nonce);
  out.push_back(0x00);  // slot 0
  append(out, Bytes{attest::kSpdmVersion11, attest::kSpdmMeasurements, 0x00, 0x00, uint8_t(spec.blocks.size()),
                    uint8_t(record.size()), uint8_t(record.size() >> 8), uint8_t(record.size() >> 16)});
  append(out, record);
  append(out, spec.responder_nonce);
  put_le16(out, opaque.size());
  append(out, opaque);

  crypto::MdCtxPtr md(EVP_MD_CTX_new());
  size_t len = 0;
  bool ok = md && EVP_DigestSignInit(md.get(), nullptr, EVP_sha384(), nullptr, leaf_key) == 1 &&
            EVP_DigestSign(md.get(), nullptr, &len, out.data(), out.size()) == 1;
  Bytes sig_der(len);
  ok = ok && EVP_DigestSign(md.get(), sig_der.data(), &len, out.data(), out.size()) == 1;
  if (!ok) return make_error(Errc::internal, "signing the SPDM report failed: " + crypto::openssl_error());
  const unsigned char* p = sig_der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, long(len)));
  if (!sig) return make_error(Errc::internal, "decoding the SPDM report signature failed");
  size_t at = out.size();
  out.resize(at + attest::kSpdmSignatureSize);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data() + at, 48) != 48 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + at + 48, 48) != 48)
    return make_error(Errc::internal, "the SPDM report signature is not ECDSA P-384 (r or s over 48 bytes)");
  return out;
}

}  // namespace confer::dev
