#include "attest/gpu_verify.hpp"

#include "crypto/der.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/nvidia_roots.hpp"
#include "attest/vcek_ext.hpp"
#include "core/json.hpp"
#include "crypto/pkey.hpp"

namespace confer::attest {

namespace {

using crypto::Cert;
namespace name = gpu_checks;

constexpr size_t kMaxDiceExtension = 64 * 1024;
constexpr size_t kMaxFwids = 64;
constexpr size_t kMaxDigest = 64;

Error dice_error(std::string message) { return make_error(Errc::parse, "DICE extension: " + std::move(message)); }

// ----------------------------------------------------------------- DER (crypto/der)

using Tlv = crypto::DerTlv;

// crypto/der's readers, their errors named as the DICE extension's.
Error as_dice(Error e) { return dice_error(std::move(e.message)); }
Result<Tlv> read_tlv(ByteView in, std::string_view what) {
  auto t = crypto::der_read(in, what);
  if (!t) return as_dice(std::move(t).error());
  return t;
}
Result<Tlv> take_tlv(ByteView& in, uint8_t tag, std::string_view what) {
  auto t = crypto::der_take(in, tag, what);
  if (!t) return as_dice(std::move(t).error());
  return t;
}
Result<std::string> oid_text(ByteView v) {
  auto t = crypto::der_oid_text(v);
  if (!t) return as_dice(std::move(t).error());
  return t;
}

// FWID ::= SEQUENCE { hashAlg OBJECT IDENTIFIER, digest OCTET STRING }, given its contents.
Result<DiceFwid> decode_fwid(ByteView body) {
  CONFER_TRY(Tlv oid, take_tlv(body, 0x06, "FWID hashAlg"));
  CONFER_TRY(Tlv digest, take_tlv(body, 0x04, "FWID digest"));
  if (!body.empty()) return dice_error(fmt::format("FWID: {} bytes after the digest", body.size()));
  if (digest.value.empty() || digest.value.size() > kMaxDigest)
    return dice_error(fmt::format("FWID: expected a digest of 1 to {} bytes, saw {}", kMaxDigest, digest.value.size()));
  DiceFwid f;
  CONFER_TRY(f.hash_oid, oid_text(oid.value));
  f.digest.assign(digest.value.begin(), digest.value.end());
  return f;
}

Result<void> decode_fwid_list(ByteView list, DiceTcbInfo& out) {
  if (list.empty()) return dice_error("fwids: expected at least one FWID, saw none");
  while (!list.empty()) {
    if (out.fwids.size() == kMaxFwids) return dice_error(fmt::format("fwids: more than {} FWIDs", kMaxFwids));
    CONFER_TRY(Tlv seq, take_tlv(list, 0x30, "FWID"));
    CONFER_TRY(DiceFwid f, decode_fwid(seq.value));
    out.fwids.push_back(std::move(f));
  }
  return {};
}

// TCG DiceTcbInfo: [0] vendor .. [10] flagsMask, each optional, in tag order.
Result<void> decode_tcb_info_fields(ByteView body, DiceTcbInfo& out) {
  int last = -1;
  while (!body.empty()) {
    CONFER_TRY(Tlv field, read_tlv(body, "TcbInfo field"));
    if ((field.tag & 0xc0) != 0x80)
      return dice_error(fmt::format("TcbInfo: expected a context-specific field, saw tag 0x{:02x}", field.tag));
    int number = field.tag & 0x1f;
    if (number <= last)
      return dice_error(fmt::format("TcbInfo: field [{}] after field [{}]: repeated or out of order", number, last));
    last = number;
    bool constructed = (field.tag & 0x20) != 0;
    if (number == 6) {
      if (!constructed) return dice_error("TcbInfo: expected fwids [6] to be constructed (SEQUENCE OF FWID)");
      CONFER_TRY_VOID(decode_fwid_list(field.value, out));
    } else if (number <= 10 && constructed) {
      return dice_error(fmt::format("TcbInfo: expected field [{}] to be primitive", number));
    }
    body = body.subspan(field.size);
  }
  return {};
}

// Composite device ID: SEQUENCE { version INTEGER, deviceKey SubjectPublicKeyInfo, fwid FWID }.
Result<void> decode_composite(ByteView body, DiceTcbInfo& out) {
  CONFER_TRY(Tlv version, read_tlv(body, "composite version"));
  CONFER_TRY(out.version, decode_der_integer(body.first(version.size)));
  body = body.subspan(version.size);
  ByteView key_start = body;
  CONFER_TRY(Tlv key, take_tlv(body, 0x30, "composite deviceKey"));
  ByteView key_der = key_start.first(key.size);
  out.device_key_spki.assign(key_der.begin(), key_der.end());
  CONFER_TRY(Tlv fwid, take_tlv(body, 0x30, "composite FWID"));
  CONFER_TRY(DiceFwid f, decode_fwid(fwid.value));
  out.fwids.push_back(std::move(f));
  if (!body.empty()) return dice_error(fmt::format("composite device ID: {} bytes after the FWID", body.size()));
  return {};
}

// ----------------------------------------------------------------- helpers

std::string cert_name(const Cert& c) {
  std::string cn = c.subject_cn();
  return cn.empty() ? std::string("(no CN)") : cn;
}

bool is_p384(const Cert& c) {
  EVP_PKEY* key = X509_get0_pubkey(c.get());
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
    ERR_clear_error();
    return false;
  }
  char group[80] = {};
  size_t len = 0;
  bool ok = EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1 &&
            std::string_view(group, len) == "secp384r1";
  ERR_clear_error();
  return ok;
}

std::string key_of(const Cert& c) {
  EVP_PKEY* key = X509_get0_pubkey(c.get());
  ERR_clear_error();
  return key == nullptr ? std::string("no parsable key") : crypto::key_description(key);
}

std::string hash_name(const std::string& oid) {
  if (oid == "2.16.840.1.101.3.4.2.1") return "SHA-256";
  if (oid == "2.16.840.1.101.3.4.2.2") return "SHA-384";
  if (oid == "2.16.840.1.101.3.4.2.3") return "SHA-512";
  return "hash " + oid;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

const char* validity_word(crypto::Validity v) {
  return v == crypto::Validity::expired ? "expired" : "not yet valid";
}

// ----------------------------------------------------------------- checks

struct Anchor {
  std::optional<Cert> cert;
  bool development = false;
  bool in_chain = false;  // the chain's last certificate is the root itself
};

Anchor find_anchor(const Cert& last, const Result<Cert>& pinned, const std::vector<Cert>& extra) {
  Anchor a;
  if (pinned && last.der() == pinned->der()) {
    a.cert = *pinned;
    a.in_chain = true;
    return a;
  }
  for (const auto& root : extra) {
    if (last.der() == root.der()) {
      a.cert = root;
      a.development = a.in_chain = true;
      return a;
    }
  }
  if (pinned && crypto::verify_issued_by(last, *pinned).ok()) {
    a.cert = *pinned;
    return a;
  }
  for (const auto& root : extra) {
    if (crypto::verify_issued_by(last, root).ok()) {
      a.cert = root;
      a.development = true;
      return a;
    }
  }
  return a;
}

// gpu.chain: leaf first, each issued by the next, ending at (or issued by) a trusted root;
// all ECDSA P-384 and valid at the verification time.
void check_chain(const std::vector<Cert>& chain, const std::string& parse_error, const GpuVerifyOptions& opt,
                 GpuVerification& v) {
  std::string when = format_rfc3339(opt.at);
  std::string expected = fmt::format(
      "{} to {} ECDSA P-384 certificates, leaf first, each issued by the next, ending at or issued by the pinned "
      "NVIDIA Device Identity CA sha256:{}{}, all valid at {}",
      kGpuChainMin, kGpuChainMax, kNvidiaDeviceRootSha256,
      opt.extra_roots.empty() ? "" : " or a trusted development root", when);
  if (!parse_error.empty()) {
    v.checks.fail(name::kChain, expected, "the certificate chain does not parse: " + parse_error);
    return;
  }
  if (chain.empty()) {
    v.checks.fail(name::kChain, expected, "no certificates");
    return;
  }
  std::vector<std::string> problems;
  size_t n = chain.size();
  if (n < kGpuChainMin)
    problems.push_back(fmt::format("chain too short: {} certificate ('{}'), expected the signing leaf, its issuers "
                                   "and the root",
                                   n, cert_name(chain.front())));
  else if (n > kGpuChainMax)
    problems.push_back(fmt::format("chain too long: {} certificates, expected at most {}", n, kGpuChainMax));

  for (size_t i = 0; i + 1 < n; ++i) {
    auto issued = crypto::verify_issued_by(chain[i], chain[i + 1]);
    if (!issued)
      problems.push_back(fmt::format("certificate {} '{}' is not issued by certificate {} '{}' ({})", i,
                                     cert_name(chain[i]), i + 1, cert_name(chain[i + 1]), issued.error().message));
    if (X509_check_ca(chain[i + 1].get()) <= 0)
      problems.push_back(fmt::format("certificate {} '{}' is not a CA certificate", i + 1, cert_name(chain[i + 1])));
  }

  Result<Cert> pinned = nvidia_device_root();
  if (!pinned) problems.push_back(pinned.error().message);
  Anchor anchor = find_anchor(chain.back(), pinned, opt.extra_roots);
  if (!anchor.cert)
    problems.push_back(fmt::format("the chain ends at '{}' (sha256:{}), which is neither the pinned NVIDIA Device "
                                   "Identity CA{} nor issued by it",
                                   cert_name(chain.back()), chain.back().sha256_hex(),
                                   opt.extra_roots.empty() ? "" : " nor a trusted development root"));

  auto inspect = [&](const Cert& c, const std::string& role) {
    if (!is_p384(c))
      problems.push_back(fmt::format("{} '{}' holds {}, not ECDSA P-384", role, cert_name(c), key_of(c)));
    auto state = crypto::validity_at(c, opt.at);
    if (state != crypto::Validity::ok)
      problems.push_back(fmt::format("{} '{}' {} at {} (valid {} to {})", role, cert_name(c), validity_word(state),
                                     when, format_rfc3339(c.not_before()), format_rfc3339(c.not_after())));
  };
  for (size_t i = 0; i < n; ++i) inspect(chain[i], fmt::format("certificate {}", i));
  if (anchor.cert && !anchor.in_chain) inspect(*anchor.cert, "root");

  if (anchor.cert) {
    v.development_root = anchor.development;
    v.root_sha256 = anchor.cert->sha256_hex();
    v.root_subject = cert_name(*anchor.cert);
  }
  if (!problems.empty()) {
    v.checks.fail(name::kChain, expected, join(problems, "; "));
    return;
  }
  std::vector<std::string> names;
  for (const auto& c : chain) names.push_back("'" + cert_name(c) + "'");
  if (!anchor.in_chain) names.push_back("'" + v.root_subject + "' (built in)");
  std::string root = anchor.development
                         ? fmt::format("NOT NVIDIA: trusted development root '{}' sha256:{}", v.root_subject,
                                       v.root_sha256)
                         : fmt::format("root NVIDIA Device Identity CA sha256:{}", v.root_sha256);
  v.checks.pass(name::kChain, expected, fmt::format("{} certificates {}, {}", n, join(names, " <- "), root));
}

// gpu.fwid: the leaf's DICE extension holds the FWID the report states (opaque field 20).
void check_fwid(const Cert* leaf, const SpdmReport& r, CheckList& checks) {
  auto fwid = r.fwid();
  if (!fwid) {
    checks.fail(name::kFwid, "opaque field 20 (FWID) in the report", "no opaque field 20");
    return;
  }
  std::string expected = fmt::format("a FWID in the leaf's DICE extension ({}) equal to opaque field 20: {}",
                                     kDiceTcbInfoOid, to_hex(*fwid));
  if (leaf == nullptr) {
    checks.fail(name::kFwid, expected, "no leaf certificate");
    return;
  }
  auto ext = dice_tcb_info_of(*leaf);
  if (!ext) {
    checks.fail(name::kFwid, expected, fmt::format("the leaf '{}': {}", cert_name(*leaf), ext.error().message));
    return;
  }
  if (!*ext) {
    checks.fail(name::kFwid, expected,
                fmt::format("the leaf '{}' has no DICE extension ({}): not the report-signing certificate",
                            cert_name(*leaf), kDiceTcbInfoOid));
    return;
  }
  std::vector<std::string> seen;
  for (const auto& f : (*ext)->fwids) {
    if (equal_ct(f.digest, *fwid)) {
      checks.pass(name::kFwid, expected,
                  fmt::format("{} FWID {} in '{}'", hash_name(f.hash_oid), to_hex(f.digest), cert_name(*leaf)));
      return;
    }
    seen.push_back(hash_name(f.hash_oid) + " " + to_hex(f.digest));
  }
  checks.fail(name::kFwid, expected,
              seen.empty() ? fmt::format("no FWID in the leaf '{}'", cert_name(*leaf))
                           : fmt::format("the leaf '{}' holds FWID {}", cert_name(*leaf), join(seen, ", ")));
}

// gpu.signature: ECDSA P-384 / SHA-384 by the leaf over request || response before the signature.
void check_signature(const Cert* leaf, ByteView report, const SpdmReport& r, CheckList& checks) {
  std::string expected =
      fmt::format("ECDSA P-384 SHA-384 signature by the leaf over bytes [0, {}) (request || response)", r.signed_length);
  if (leaf == nullptr) {
    checks.fail(name::kSignature, expected, "no leaf certificate");
    return;
  }
  if (!is_p384(*leaf)) {
    checks.fail(name::kSignature, expected,
                fmt::format("the leaf '{}' holds {}, not ECDSA P-384", cert_name(*leaf), key_of(*leaf)));
    return;
  }
  auto sig = crypto::verify_raw_ecdsa(X509_get0_pubkey(leaf->get()), report.first(r.signed_length), r.signature,
                                      "sha384");
  checks.add(name::kSignature, sig.ok(), expected,
             sig ? fmt::format("valid, by '{}'", cert_name(*leaf))
                 : fmt::format("does not verify under the key of '{}' ({})", cert_name(*leaf), sig.error().message));
}

void check_nonce(const SpdmReport& r, const GpuVerifyOptions& opt, CheckList& checks) {
  std::string seen = "request nonce " + to_hex(r.request_nonce);
  if (!opt.expected_nonce) {
    checks.skip(name::kNonce, "an expected nonce (none given: freshness not checked)", seen);
    return;
  }
  if (opt.expected_nonce->size() != kSpdmNonceSize) {
    checks.fail(name::kNonce, fmt::format("a {}-byte expected nonce", kSpdmNonceSize),
                fmt::format("an expected nonce of {} bytes", opt.expected_nonce->size()));
    return;
  }
  checks.add(name::kNonce, equal_ct(*opt.expected_nonce, r.request_nonce),
             "request nonce " + to_hex(*opt.expected_nonce), seen);
}

void check_measurements(const SpdmReport& r, const GpuVerifyOptions& opt, CheckList& checks) {
  if (opt.expected_measurements.empty()) {
    checks.skip(name::kMeasurements, "expected measurement values (none given: no RIM comparison)",
                fmt::format("{} measurement blocks", r.blocks.size()));
    return;
  }
  std::vector<std::string> indices;
  for (const auto& [index, want] : opt.expected_measurements) {
    std::string expected = fmt::format("measurement block {} = {}", index, to_hex(want));
    const MeasurementBlock* b = r.block(index);
    if (b == nullptr) {
      checks.fail(name::kMeasurements, expected, fmt::format("no measurement block {}", index));
      return;
    }
    if (!equal_ct(want, b->digest)) {
      checks.fail(name::kMeasurements, expected, fmt::format("measurement block {} = {}", index, to_hex(b->digest)));
      return;
    }
    indices.push_back(std::to_string(index));
  }
  checks.pass(name::kMeasurements,
              fmt::format("{} measurement blocks equal to the expected values", opt.expected_measurements.size()),
              fmt::format("blocks {} equal", join(indices, ", ")));
}

}  // namespace

Result<DiceTcbInfo> decode_dice_tcb_info(ByteView value) {
  if (value.size() > kMaxDiceExtension)
    return dice_error(fmt::format("expected at most {} bytes, saw {}", kMaxDiceExtension, value.size()));
  CONFER_TRY(Tlv outer, read_tlv(value, "TcbInfo"));
  if (outer.tag != 0x30) return dice_error(fmt::format("expected a SEQUENCE, saw tag 0x{:02x}", outer.tag));
  if (outer.size != value.size())
    return dice_error(fmt::format("{} bytes after the SEQUENCE", value.size() - outer.size));
  DiceTcbInfo out;
  ByteView body = outer.value;
  if (!body.empty() && body[0] == 0x02) {
    out.layout = DiceLayout::composite_device_id;
    CONFER_TRY_VOID(decode_composite(body, out));
  } else {
    out.layout = DiceLayout::tcb_info;
    CONFER_TRY_VOID(decode_tcb_info_fields(body, out));
  }
  return out;
}

Result<std::optional<DiceTcbInfo>> dice_tcb_info_of(const crypto::Cert& cert) {
  using ObjPtr = std::unique_ptr<ASN1_OBJECT, crypto::OsslFree<ASN1_OBJECT, ASN1_OBJECT_free>>;
  ObjPtr oid(OBJ_txt2obj(kDiceTcbInfoOid, 1));
  if (!oid) return make_error(Errc::internal, "OBJ_txt2obj failed: " + crypto::openssl_error());
  int at = X509_get_ext_by_OBJ(cert.get(), oid.get(), -1);
  if (at < 0) {
    ERR_clear_error();
    return std::optional<DiceTcbInfo>();
  }
  if (X509_get_ext_by_OBJ(cert.get(), oid.get(), at) >= 0)
    return dice_error(fmt::format("the extension {} appears twice", kDiceTcbInfoOid));
  ERR_clear_error();
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert.get(), at));
  if (data == nullptr) return dice_error("the extension has no value");
  ByteView value(ASN1_STRING_get0_data(data), size_t(ASN1_STRING_length(data)));
  CONFER_TRY(DiceTcbInfo info, decode_dice_tcb_info(value));
  return std::optional<DiceTcbInfo>(std::move(info));
}

bool GpuVerification::verified() const noexcept { return report.has_value() && checks.passed(); }

const Check* GpuVerification::first_failure() const noexcept { return checks.first_failure(); }

GpuVerification verify_gpu_evidence(const GpuInput& in, const GpuVerifyOptions& opt) {
  GpuVerification v;
  v.at = opt.at;
  auto parsed = parse_spdm_report(in.report);
  std::string format_seen =
      parsed ? fmt::format("SPDM {}.{}, {} measurement blocks, {} opaque fields, signature at offset {}{}",
                           parsed->response_version >> 4, parsed->response_version & 0xf, parsed->blocks.size(),
                           parsed->opaque.size(), parsed->signed_length,
                           parsed->trailing_bytes == 0 ? std::string()
                                                       : fmt::format(", {} zero bytes after it", parsed->trailing_bytes))
             : parsed.error().message;
  if (!v.checks.add(name::kFormat, parsed.ok(),
                    "an SPDM 1.1 GET_MEASUREMENTS request (37 bytes) || MEASUREMENTS response, at most 1 MiB",
                    format_seen))
    return v;
  v.report = std::move(parsed).value();
  const SpdmReport& r = *v.report;

  std::vector<Cert> chain;
  std::string chain_error;
  auto certs = Cert::all_from_pem(in.chain_pem);
  if (certs) chain = std::move(certs).value();
  else chain_error = certs.error().message;
  for (const auto& c : chain) v.chain_subjects.push_back(cert_name(c));
  const Cert* leaf = chain.empty() ? nullptr : &chain.front();

  check_chain(chain, chain_error, opt, v);
  check_fwid(leaf, r, v.checks);
  check_signature(leaf, in.report, r, v.checks);
  check_nonce(r, opt, v.checks);
  check_measurements(r, opt, v.checks);
  return v;
}

Result<std::map<uint8_t, Bytes>> parse_gpu_measurements_json(std::string_view text) {
  constexpr std::string_view what = "GPU expected measurements";
  CONFER_TRY(nlohmann::json doc, parse_json(text, what, JsonLimits{64 * 1024, 4}));
  if (!doc.is_object())
    return make_error(Errc::parse, fmt::format("{}: expected a JSON object, saw {}", what, doc.type_name()));
  for (const auto& item : doc.items())
    if (item.key() != "measurements")
      return make_error(Errc::parse, fmt::format("{}: expected only the key 'measurements', saw '{}'", what,
                                                 item.key().substr(0, 64)));
  CONFER_TRY(const nlohmann::json* m, required_object(doc, "measurements", what));
  if (m->empty()) return make_error(Errc::parse, fmt::format("{}: expected at least one measurement, saw none", what));
  std::map<uint8_t, Bytes> out;
  for (const auto& item : m->items()) {
    const std::string& key = item.key();
    bool decimal = !key.empty() && key.size() <= 3 && (key.size() == 1 || key[0] != '0');
    unsigned index = 0;
    for (char c : key) {
      if (c < '0' || c > '9') decimal = false;
      else index = index * 10 + unsigned(c - '0');
    }
    if (!decimal || index > 255)
      return make_error(Errc::parse, fmt::format("{}: expected a measurement index 0-255 in decimal, saw '{}'", what,
                                                 key.substr(0, 64)));
    if (!item.value().is_string())
      return make_error(Errc::parse, fmt::format("{}: expected measurement {} to be a hex string, saw {}", what, index,
                                                 item.value().type_name()));
    auto digest = from_hex(item.value().get_ref<const std::string&>());
    if (!digest || digest->empty() || digest->size() > kMaxDigest)
      return make_error(Errc::parse, fmt::format("{}: expected measurement {} to be 1 to {} bytes of hex", what,
                                                 index, kMaxDigest));
    out.emplace(uint8_t(index), std::move(digest).value());
  }
  return out;
}

nlohmann::ordered_json gpu_verification_json(const GpuVerification& v) {
  using json = nlohmann::ordered_json;
  json out;
  out["verdict"] = v.verified() ? "verified" : "refused";
  const Check* first = v.first_failure();
  out["first_failure"] = first ? json(first->name) : json(nullptr);
  out["platform"] = "NVIDIA GPU (SPDM)";
  out["trust_root"] = v.development_root ? "development" : "nvidia";
  out["development_root"] = v.development_root;
  out["root_sha256"] = v.root_sha256;
  out["verification_time"] = format_rfc3339(v.at);
  auto text_or_null = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  if (v.report) {
    const SpdmReport& r = *v.report;
    auto fwid = r.fwid();
    out["driver"] = text_or_null(r.driver_version());
    out["vbios"] = text_or_null(r.vbios_version());
    out["nonce"] = to_hex(r.request_nonce);
    out["fwid"] = fwid ? json(to_hex(*fwid)) : json(nullptr);
    out["measurement_count"] = r.blocks.size();
  } else {
    for (const char* key : {"driver", "vbios", "nonce", "fwid", "measurement_count"}) out[key] = nullptr;
  }
  out["chain"] = v.chain_subjects;
  out["checks"] = checks_json(v.checks);
  return out;
}

}  // namespace confer::attest
