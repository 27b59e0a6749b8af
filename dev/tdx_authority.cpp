#include "dev/tdx_authority.hpp"

#include <cstring>

#include <fmt/format.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "crypto/hash.hpp"
#include "crypto/ossl.hpp"
#include "dev/cert_util.hpp"

namespace confer::dev {

using namespace confer::attest;
using nlohmann::ordered_json;

namespace {

constexpr const char* kDevOrg = "confer development TDX chain (NOT Intel)";
constexpr long kDay = 24 * 3600;
constexpr const char* kQeMrsigner = "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5";
const uint8_t kIntelQeVendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                    0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

Bytes tlv(uint8_t tag, ByteView value) { return der_tlv(tag, value); }

Bytes oid(const std::string& text) {
  ASN1_OBJECT* obj = OBJ_txt2obj(text.c_str(), 1);
  unsigned char* der = nullptr;
  int len = obj != nullptr ? i2d_ASN1_OBJECT(obj, &der) : 0;
  Bytes out;
  if (len > 0) out.assign(der, der + len);
  OPENSSL_free(der);
  ASN1_OBJECT_free(obj);
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes entry(const std::string& suffix, const Bytes& value) {
  return tlv(0x30, cat({oid(std::string(kSgxExtensionsOid) + "." + suffix), value}));
}

Bytes der_uint(unsigned v) {
  Bytes b;
  if (v >= 0x100) b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
  if (b[0] & 0x80) b.insert(b.begin(), 0);
  return tlv(0x02, b);
}

Bytes sgx_extension(const PckExtensions& e) {
  Bytes tcb;
  for (unsigned k = 1; k <= 16; ++k) {
    Bytes one = entry(fmt::format("2.{}", k), der_uint(e.sgx_tcb[k - 1]));
    tcb.insert(tcb.end(), one.begin(), one.end());
  }
  Bytes pcesvn = entry("2.17", der_uint(e.pcesvn));
  Bytes cpusvn = entry("2.18", tlv(0x04, e.cpusvn));
  tcb = cat({tcb, pcesvn, cpusvn});
  Bytes ppid(16, 0x42);
  return tlv(0x30, cat({entry("1", tlv(0x04, ppid)), entry("2", tlv(0x30, tcb)), entry("3", tlv(0x04, e.pce_id)),
                        entry("4", tlv(0x04, e.fmspc)), entry("5", tlv(0x0a, Bytes{uint8_t(e.sgx_type)}))}));
}

Result<crypto::Cert> finish(X509* cert, EVP_PKEY* signer) {
  if (X509_sign(cert, signer, EVP_sha256()) <= 0)
    return make_error(Errc::internal, "signing the development certificate failed: " + crypto::openssl_error());
  return encoded_cert(cert, "development certificate");
}

Result<crypto::Cert> make_cert(const std::string& cn, EVP_PKEY* subject_key, const crypto::Cert* issuer,
                               EVP_PKEY* issuer_key, UnixTime now, long serial, bool ca,
                               const std::optional<Bytes>& sgx_ext) {
  crypto::CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  set_dev_name(X509_get_subject_name(cert.get()), kDevOrg, cn);
  X509_set_issuer_name(cert.get(), issuer == nullptr ? X509_get_subject_name(cert.get())
                                                     : X509_get_subject_name(issuer->get()));
  time_t t = time_t(now);
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), -400, 0, &t);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 20 * 365, 0, &t);
  X509_set_pubkey(cert.get(), subject_key);
  X509* issuer_x = issuer == nullptr ? cert.get() : issuer->get();
  bool ok = ca ? add_v3(cert.get(), issuer_x, NID_basic_constraints, "critical,CA:TRUE") &&
                     add_v3(cert.get(), issuer_x, NID_key_usage, "critical,keyCertSign,cRLSign")
               : add_v3(cert.get(), issuer_x, NID_basic_constraints, "critical,CA:FALSE") &&
                     add_v3(cert.get(), issuer_x, NID_key_usage, "critical,digitalSignature,nonRepudiation");
  ok = ok && add_v3(cert.get(), issuer_x, NID_subject_key_identifier, "hash");
  if (sgx_ext) ok = ok && add_raw_ext(cert.get(), kSgxExtensionsOid, *sgx_ext);
  if (!ok) return make_error(Errc::internal, "building development certificate extensions failed");
  return finish(cert.get(), issuer_key);
}

void put_body(uint8_t* b, const TdReportBody& r) {
  std::memcpy(b + 0, r.tee_tcb_svn.data(), 16);
  std::memcpy(b + 16, r.mrseam.data(), 48);
  std::memcpy(b + 64, r.mrsignerseam.data(), 48);
  store_le64(b + 112, r.seam_attributes);
  store_le64(b + 120, r.td_attributes);
  store_le64(b + 128, r.xfam);
  std::memcpy(b + 136, r.mrtd.data(), 48);
  std::memcpy(b + 184, r.mrconfigid.data(), 48);
  std::memcpy(b + 232, r.mrowner.data(), 48);
  std::memcpy(b + 280, r.mrownerconfig.data(), 48);
  for (size_t i = 0; i < 4; ++i) std::memcpy(b + 328 + 48 * i, r.rtmr[i].data(), 48);
  std::memcpy(b + 520, r.report_data.data(), 64);
  if (r.body_type == 3) {
    if (r.tee_tcb_svn2) std::memcpy(b + 584, r.tee_tcb_svn2->data(), 16);
    if (r.mrservicetd) std::memcpy(b + 600, r.mrservicetd->data(), 48);
  }
}

void put16(Bytes& out, uint16_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}
void put32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

ordered_json components(const std::array<uint8_t, 16>& svns) {
  ordered_json a = ordered_json::array();
  for (uint8_t s : svns) a.push_back({{"svn", s}});
  return a;
}

}  // namespace

Result<crypto::PkeyPtr> generate_p256_key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "prime256v1");
  if (key == nullptr) return make_error(Errc::internal, "P-256 key generation failed");
  return crypto::PkeyPtr(key);
}

Result<Bytes> sign_raw_p256(EVP_PKEY* key, ByteView message) {
  crypto::MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1)
    return make_error(Errc::internal, "ECDSA signing failed: " + crypto::openssl_error());
  Bytes der(len);
  if (EVP_DigestSign(ctx.get(), der.data(), &len, message.data(), message.size()) != 1)
    return make_error(Errc::internal, "ECDSA signing failed: " + crypto::openssl_error());
  const unsigned char* p = der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, long(len)));
  if (!sig) return make_error(Errc::internal, "decoding the ECDSA signature failed");
  Bytes out(64, 0);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + 32, 32);
  return out;
}

Result<DevTdxAuthority> DevTdxAuthority::create(UnixTime now) {
  DevTdxAuthority a;
  a.now_ = now;
  CONFER_TRY(a.root_key_, generate_p256_key());
  CONFER_TRY(a.ca_key_, generate_p256_key());
  CONFER_TRY(a.pck_key_, generate_p256_key());
  CONFER_TRY(a.signer_key_, generate_p256_key());
  CONFER_TRY(a.attestation_key_, generate_p256_key());
  a.pck_ext_.sgx_tcb = {5, 5, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
  a.pck_ext_.pcesvn = 13;
  a.pck_ext_.fmspc = {0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00};
  a.pck_ext_.pce_id = {0, 0};
  CONFER_TRY(a.root_, make_cert("Development SGX Root CA", a.root_key_.get(), nullptr, a.root_key_.get(), now, 1,
                                true, std::nullopt));
  CONFER_TRY(a.ca_, make_cert("Development SGX PCK Platform CA", a.ca_key_.get(), &a.root_, a.root_key_.get(), now,
                              2, true, std::nullopt));
  CONFER_TRY(a.pck_, make_cert("Development SGX PCK Certificate", a.pck_key_.get(), &a.ca_, a.ca_key_.get(), now, 3,
                               false, sgx_extension(a.pck_ext_)));
  CONFER_TRY(a.signer_, make_cert("Development SGX TCB Signing", a.signer_key_.get(), &a.root_, a.root_key_.get(),
                                  now, 4, false, std::nullopt));
  return a;
}

std::string DevTdxAuthority::pck_chain_pem() const { return pck_.pem() + ca_.pem() + root_.pem(); }
std::string DevTdxAuthority::signing_chain_pem() const { return signer_.pem() + root_.pem(); }

TdReportBody DevTdxAuthority::body_template() {
  TdReportBody b;
  b.tee_tcb_svn = {7, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  RAND_bytes(b.mrseam.data(), 48);
  b.td_attributes = kTdAttrSeptVeDisable;
  b.xfam = 0x602e7;
  RAND_bytes(b.mrtd.data(), 48);
  for (auto& r : b.rtmr) RAND_bytes(r.data(), 48);
  b.rtmr[3] = {};
  return b;
}

Result<Bytes> DevTdxAuthority::build_quote(const DevQuoteSpec& spec) const {
  TdReportBody body = spec.body;
  body.body_type = spec.version == 5 ? spec.v5_body_type : 2;
  if (body.body_type == 3) {
    if (!body.tee_tcb_svn2) body.tee_tcb_svn2 = body.tee_tcb_svn;
    if (!body.mrservicetd) body.mrservicetd = Register48{};
  }
  size_t body_size = body.body_type == 3 ? kTd15BodySize : kTd10BodySize;
  Bytes q;
  put16(q, spec.version);
  put16(q, kAttKeyEcdsaP256);
  put32(q, kTeeTypeTdx);
  put32(q, 0);
  q.insert(q.end(), kIntelQeVendor, kIntelQeVendor + 16);
  q.resize(kTdxHeaderSize, 0);
  if (spec.version == 5) {
    put16(q, body.body_type);
    put32(q, uint32_t(body_size));
  }
  size_t body_at = q.size();
  q.resize(body_at + body_size, 0);
  put_body(q.data() + body_at, body);

  // The attestation key, raw x || y.
  Bytes ak(64, 0);
  {
    size_t len = 0;
    Bytes point(65);
    if (EVP_PKEY_get_octet_string_param(attestation_key_.get(), "encoded-pub-key", point.data(), point.size(), &len) !=
            1 ||
        len != 65)
      return make_error(Errc::internal, "reading the development attestation key failed");
    std::copy(point.begin() + 1, point.end(), ak.begin());
  }
  CONFER_TRY(Bytes quote_sig, sign_raw_p256(attestation_key_.get(), q));
  if (spec.corrupt_quote_signature) quote_sig[10] ^= 0x01;

  Bytes qe(kSgxReportSize, 0);
  qe[0] = 0x0c;                   // CPUSVN
  qe[48] = 0x11;                  // ATTRIBUTES: INIT | MODE64BIT
  RAND_bytes(qe.data() + 64, 32);  // MRENCLAVE
  CONFER_TRY(Bytes mrsigner, from_hex(kQeMrsigner));
  std::copy(mrsigner.begin(), mrsigner.end(), qe.begin() + 128);
  qe[256] = 2;  // ISVPRODID
  qe[258] = uint8_t(spec.qe_isvsvn);
  qe[259] = uint8_t(spec.qe_isvsvn >> 8);
  Bytes bound = cat({ak, spec.qe_auth_data});
  Bytes digest = crypto::sha256(bound);
  if (spec.corrupt_qe_report_data) digest[0] ^= 0x01;
  std::copy(digest.begin(), digest.end(), qe.begin() + 320);
  CONFER_TRY(Bytes qe_sig, sign_raw_p256(pck_key_.get(), qe));
  if (spec.corrupt_qe_report_signature) qe_sig[10] ^= 0x01;

  std::string chain = pck_chain_pem();
  Bytes cert_data;
  cert_data.insert(cert_data.end(), qe.begin(), qe.end());
  cert_data.insert(cert_data.end(), qe_sig.begin(), qe_sig.end());
  put16(cert_data, uint16_t(spec.qe_auth_data.size()));
  cert_data.insert(cert_data.end(), spec.qe_auth_data.begin(), spec.qe_auth_data.end());
  put16(cert_data, 5);
  put32(cert_data, uint32_t(chain.size() + 1));
  cert_data.insert(cert_data.end(), chain.begin(), chain.end());
  cert_data.push_back(0);

  Bytes sig_data = cat({quote_sig, ak});
  put16(sig_data, 6);
  put32(sig_data, uint32_t(cert_data.size()));
  sig_data.insert(sig_data.end(), cert_data.begin(), cert_data.end());
  put32(q, uint32_t(sig_data.size()));
  q.insert(q.end(), sig_data.begin(), sig_data.end());
  q.insert(q.end(), spec.trailing.begin(), spec.trailing.end());
  return q;
}

ordered_json DevTdxAuthority::tcb_info_value(const DevTcbSpec& s) const {
  UnixTime issued = s.issued != 0 ? s.issued : now_;
  UnixTime next = s.next_update != 0 ? s.next_update : issued + 30 * kDay;
  std::string zeros48(96, '0');
  std::string mrsigner = s.mrsigner_seam.empty() ? zeros48 : s.mrsigner_seam;
  ordered_json t;
  t["id"] = "TDX";
  t["version"] = 3;
  t["issueDate"] = format_rfc3339(issued);
  t["nextUpdate"] = format_rfc3339(next);
  t["fmspc"] = s.fmspc.empty() ? to_hex(pck_ext_.fmspc) : s.fmspc;
  t["pceId"] = to_hex(pck_ext_.pce_id);
  t["tcbType"] = 0;
  t["tcbEvaluationDataNumber"] = s.evaluation_number;
  t["tdxModule"] = {{"mrsigner", mrsigner}, {"attributes", "0000000000000000"}, {"attributesMask", "FFFFFFFFFFFFFFFF"}};
  if (s.include_module_identity) {
    ordered_json level = {{"tcb", {{"isvsvn", 6}}}, {"tcbDate", "2024-11-13T00:00:00Z"}, {"tcbStatus", s.module_status}};
    if (s.module_status != "UpToDate") level["advisoryIDs"] = {"INTEL-SA-DEV-MODULE"};
    t["tdxModuleIdentities"] = ordered_json::array(
        {{{"id", "TDX_01"}, {"mrsigner", mrsigner}, {"attributes", "0000000000000000"},
          {"attributesMask", "FFFFFFFFFFFFFFFF"}, {"tcbLevels", ordered_json::array({level})}}});
  } else {
    t["tdxModuleIdentities"] = ordered_json::array();
  }
  std::array<uint8_t, 16> tdx{};
  tdx[2] = 3;
  ordered_json level;
  level["tcb"] = {{"sgxtcbcomponents", components(pck_ext_.sgx_tcb)}, {"pcesvn", pck_ext_.pcesvn},
                  {"tdxtcbcomponents", components(tdx)}};
  level["tcbDate"] = "2024-11-13T00:00:00Z";
  level["tcbStatus"] = s.status;
  if (!s.advisories.empty()) level["advisoryIDs"] = s.advisories;
  t["tcbLevels"] = ordered_json::array({level});
  return t;
}

ordered_json DevTdxAuthority::qe_identity_value(const DevTcbSpec& s) const {
  UnixTime issued = s.issued != 0 ? s.issued : now_;
  UnixTime next = s.next_update != 0 ? s.next_update : issued + 30 * kDay;
  ordered_json e;
  e["id"] = "TD_QE";
  e["version"] = 2;
  e["issueDate"] = format_rfc3339(issued);
  e["nextUpdate"] = format_rfc3339(next);
  e["tcbEvaluationDataNumber"] = s.evaluation_number;
  e["miscselect"] = "00000000";
  e["miscselectMask"] = "FFFFFFFF";
  e["attributes"] = "11000000000000000000000000000000";
  e["attributesMask"] = "FBFFFFFFFFFFFFFF0000000000000000";
  e["mrsigner"] = kQeMrsigner;
  e["isvprodid"] = 2;
  e["tcbLevels"] = ordered_json::array(
      {{{"tcb", {{"isvsvn", 8}}}, {"tcbDate", "2024-03-13T00:00:00Z"}, {"tcbStatus", s.qe_status}},
       {{"tcb", {{"isvsvn", 0}}}, {"tcbDate", "2018-01-04T00:00:00Z"}, {"tcbStatus", "OutOfDate"}}});
  return e;
}

Result<std::string> DevTdxAuthority::sign_collateral(const std::string& key, const std::string& inner) const {
  CONFER_TRY(Bytes sig, sign_raw_p256(signer_key_.get(), as_bytes(inner)));
  return fmt::format("{{\"{}\":{},\"signature\":\"{}\"}}", key, inner, to_hex(sig));
}

Result<Bytes> DevTdxAuthority::crl(bool root_crl, const DevCrlSpec& spec) const {
  const crypto::Cert& issuer = root_crl ? root_ : ca_;
  EVP_PKEY* key = root_crl ? root_key_.get() : ca_key_.get();
  UnixTime this_update = spec.this_update != 0 ? spec.this_update : now_;
  UnixTime next = spec.next_update != 0 ? spec.next_update : this_update + 30 * kDay;
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), X509_CRL_free);
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get()));
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> t1(ASN1_TIME_set(nullptr, time_t(this_update)), ASN1_TIME_free);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> t2(ASN1_TIME_set(nullptr, time_t(next)), ASN1_TIME_free);
  X509_CRL_set1_lastUpdate(crl.get(), t1.get());
  X509_CRL_set1_nextUpdate(crl.get(), t2.get());
  auto revoke = [&](const crypto::Cert& c, long other_serial) {
    X509_REVOKED* r = X509_REVOKED_new();
    if (other_serial != 0) {
      ASN1_INTEGER* serial = ASN1_INTEGER_new();
      ASN1_INTEGER_set(serial, other_serial);
      X509_REVOKED_set_serialNumber(r, serial);
      ASN1_INTEGER_free(serial);
    } else {
      X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(c.get()));
    }
    X509_REVOKED_set_revocationDate(r, t1.get());
    X509_CRL_add0_revoked(crl.get(), r);
  };
  revoke(issuer, 9999);  // always one unrelated entry
  if (root_crl && spec.revoke_ca) revoke(ca_, 0);
  if (!root_crl && spec.revoke_pck) revoke(pck_, 0);
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), key, EVP_sha256()) <= 0)
    return make_error(Errc::internal, "signing the development CRL failed: " + crypto::openssl_error());
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl.get(), &der);
  if (len <= 0) return make_error(Errc::internal, "encoding the development CRL failed");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<TdxCollateral> DevTdxAuthority::collateral(const DevTcbSpec& tcb, const DevCrlSpec& crl_spec) const {
  TdxCollateral c;
  CONFER_TRY(c.tcb_info, sign_collateral("tcbInfo", tcb_info_value(tcb).dump()));
  CONFER_TRY(c.qe_identity, sign_collateral("enclaveIdentity", qe_identity_value(tcb).dump()));
  std::string chain = signing_chain_pem();
  c.tcb_info_chain = Bytes(chain.begin(), chain.end());
  c.qe_identity_chain = c.tcb_info_chain;
  CONFER_TRY(c.pck_crl, crl(false, crl_spec));
  CONFER_TRY(c.root_crl, crl(true, crl_spec));
  return c;
}

}  // namespace confer::dev
