// TDX quote verification against a development authority: a valid quote with its
// collateral, and one negative twin per check, each built by re-signing with test keys
// and refused with that check named first.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/tdx_verify.hpp"
#include "client/session.hpp"
#include "crypto/hash.hpp"
#include "dev/ita_issuer.hpp"
#include "dev/nvidia_authority.hpp"
#include "dev/tdx_authority.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;
using confer::dev::DevCrlSpec;
using confer::dev::DevQuoteSpec;
using confer::dev::DevTcbSpec;
using confer::dev::DevTdxAuthority;

namespace {

constexpr UnixTime kNow = 1780000000;  // 2026-05-28

const DevTdxAuthority& authority() {
  static const DevTdxAuthority a = [] {
    auto made = DevTdxAuthority::create(kNow);
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return a;
}

const DevTdxAuthority& other_authority() {
  static const DevTdxAuthority a = [] {
    auto made = DevTdxAuthority::create(kNow);
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return a;
}

struct Case {
  DevQuoteSpec quote;
  DevTcbSpec tcb;
  DevCrlSpec crl;
  TdxVerifyOptions options;
  bool trust_dev_root = true;
};

Case base_case() {
  Case c;
  c.quote.body = DevTdxAuthority::body_template();
  c.options.at = kNow + 3600;
  return c;
}

TdxVerification run(Case c, TdxCollateral* collateral_override = nullptr) {
  auto quote = authority().build_quote(c.quote);
  REQUIRE(quote.ok());
  auto collateral = authority().collateral(c.tcb, c.crl);
  REQUIRE(collateral.ok());
  if (c.trust_dev_root) c.options.extra_roots.push_back(authority().root());
  return verify_tdx_quote(*quote, collateral_override != nullptr ? *collateral_override : *collateral, c.options);
}

std::string failure(const TdxVerification& v) {
  const Check* f = v.first_failure();
  return f != nullptr ? f->name : std::string();
}

std::string dump(const TdxVerification& v) {
  std::string out;
  for (const auto& c : v.checks)
    out += fmt::format("{} {}: expected {}; seen {}\n", check_status_name(c.status), c.name, c.expected, c.seen);
  return out;
}

#define REFUSED_AT(v, name)   \
  do {                        \
    auto v_ = (v);            \
    INFO(dump(v_));           \
    CHECK(failure(v_) == (name)); \
  } while (0)

}  // namespace

TEST_CASE("a development TDX quote with its collateral verifies against the development root, and says so") {
  TdxVerification v = run(base_case());
  INFO(dump(v));
  CHECK(v.verified());
  CHECK(v.development_root);
  REQUIRE(v.tcb);
  CHECK(v.tcb->status == "UpToDate");
  CHECK(v.tcb->module_id == "TDX_01");
  auto j = tdx_verification_json(v, "raw");
  CHECK(j["verdict"] == "verified");
  CHECK(j["platform"] == "TDX");
  CHECK(j["appraisal"] == "local");
  CHECK(j["quote"]["mrtd"] == to_hex(v.quote->body.mrtd));
}

TEST_CASE("a development v5 quote with a TD 1.5 body, and one with a TD 1.0 body, verify") {
  for (uint16_t type : {uint16_t(2), uint16_t(3)}) {
    Case c = base_case();
    c.quote.version = 5;
    c.quote.v5_body_type = type;
    TdxVerification v = run(c);
    INFO(dump(v));
    CHECK(v.verified());
    REQUIRE(v.quote);
    CHECK(v.quote->body.body_type == type);
    CHECK(v.quote->body.tee_tcb_svn2.has_value() == (type == 3));
  }
}

TEST_CASE("without --trust-root the development chain is refused at pck.chain") {
  Case c = base_case();
  c.trust_dev_root = false;
  REFUSED_AT(run(c), "pck.chain");
}

TEST_CASE("TDX negative twins: the quote's own signatures and binding") {
  Case c = base_case();
  c.quote.corrupt_quote_signature = true;
  REFUSED_AT(run(c), "quote.signature");
  c = base_case();
  c.quote.corrupt_qe_report_signature = true;
  REFUSED_AT(run(c), "qe.report-signature");
  c = base_case();
  c.quote.corrupt_qe_report_data = true;
  REFUSED_AT(run(c), "qe.report-data");
  // A body byte changed after signing.
  Case d = base_case();
  auto quote = authority().build_quote(d.quote);
  REQUIRE(quote.ok());
  (*quote)[48 + 136] ^= 0x01;  // MRTD
  auto col = authority().collateral();
  REQUIRE(col.ok());
  d.options.extra_roots.push_back(authority().root());
  REFUSED_AT(verify_tdx_quote(*quote, *col, d.options), "quote.signature");
}

TEST_CASE("TDX negative twins: a chain to another root, revoked certificates and CRLs") {
  // Trusting another development root does not make this chain verify.
  Case c = base_case();
  c.trust_dev_root = false;
  c.options.extra_roots.push_back(other_authority().root());
  REFUSED_AT(run(c), "pck.chain");
  c = base_case();
  c.crl.revoke_pck = true;
  TdxVerification revoked = run(c);
  REFUSED_AT(revoked, "crl.pck");
  CHECK(revoked.checks.find("crl.pck")->seen.find("revoked") != std::string::npos);
  c = base_case();
  c.crl.revoke_ca = true;
  REFUSED_AT(run(c), "crl.root");
  // CRLs signed by another authority's keys (same names).
  auto col = authority().collateral();
  auto other = other_authority().collateral();
  REQUIRE(col.ok());
  REQUIRE(other.ok());
  TdxCollateral swapped = *col;
  swapped.pck_crl = other->pck_crl;
  REFUSED_AT(run(base_case(), &swapped), "crl.pck");
  swapped = *col;
  swapped.root_crl = other->root_crl;
  REFUSED_AT(run(base_case(), &swapped), "crl.root");
  // A stale CRL, and a missing one.
  c = base_case();
  c.crl.this_update = kNow - 40 * 86400;
  REFUSED_AT(run(c), "crl.root");
  swapped = *col;
  swapped.pck_crl.reset();
  REFUSED_AT(run(base_case(), &swapped), "crl.pck");
}

TEST_CASE("TDX negative twins: TCB info and QE identity signatures, expiry and contents") {
  auto col = authority().collateral();
  REQUIRE(col.ok());
  // Signed bytes changed after signing (the status of the only level).
  TdxCollateral t = *col;
  size_t at = t.tcb_info->find("\"tcbDate\":\"2024-11-13T00:00:00Z\",\"tcbStatus\"");
  REQUIRE(at != std::string::npos);
  t.tcb_info->replace(at, 20, "\"tcbDate\":\"2024-11-14");
  REFUSED_AT(run(base_case(), &t), "tcb-info.signature");
  // Whitespace is bytes too: the signature covers the exact text, not the JSON's meaning.
  t = *col;
  t.tcb_info->replace(t.tcb_info->find("\"id\":\"TDX\""), 10, "\"id\": \"TDX\"");
  REFUSED_AT(run(base_case(), &t), "tcb-info.signature");
  // Signed by another authority's TCB Signing key.
  auto other = other_authority().collateral();
  REQUIRE(other.ok());
  t = *col;
  t.tcb_info = other->tcb_info;
  REFUSED_AT(run(base_case(), &t), "tcb-info.signature");
  t = *col;
  t.qe_identity = other->qe_identity;
  REFUSED_AT(run(base_case(), &t), "qe-identity.signature");
  t = *col;
  t.tcb_info_chain.reset();
  REFUSED_AT(run(base_case(), &t), "tcb-info.signature");
  // Expired and not yet issued.
  Case c = base_case();
  c.tcb.issued = kNow - 40 * 86400;
  REFUSED_AT(run(c), "tcb-info.validity");
  c = base_case();
  c.tcb.issued = kNow + 7200;
  REFUSED_AT(run(c), "tcb-info.validity");
  // Another platform's TCB info.
  c = base_case();
  c.tcb.fmspc = "00a06d080000";
  REFUSED_AT(run(c), "tcb-info.platform");
  // A module not signed by Intel (MRSIGNERSEAM differs), and no identity for the module.
  c = base_case();
  c.tcb.mrsigner_seam = std::string(95, '0') + "1";
  REFUSED_AT(run(c), "tdx-module.identity");
  c = base_case();
  c.tcb.include_module_identity = false;
  TdxVerification no_module = run(c);
  REFUSED_AT(no_module, "tdx-module.identity");
  REQUIRE(no_module.tcb);
  CHECK(no_module.tcb->module_status == "TdxModuleMismatch");
  // A QE identity for another enclave signer, re-signed.
  auto qe = authority().qe_identity_value({});
  qe["mrsigner"] = std::string(64, 'a');
  t = *col;
  auto resigned = authority().sign_collateral("enclaveIdentity", qe.dump());
  REQUIRE(resigned.ok());
  t.qe_identity = *resigned;
  REFUSED_AT(run(base_case(), &t), "qe-identity.match");
  c = base_case();
  c.tcb.next_update = kNow + 1800;  // before the verification time
  TdxVerification stale = run(c);
  REFUSED_AT(stale, "tcb-info.validity");
  CHECK(stale.checks.find("qe-identity.validity")->failed());
}

TEST_CASE("TDX TCB status: the worst of platform, module and QE, against the accepted statuses") {
  Case c = base_case();
  c.tcb.status = "OutOfDate";
  c.tcb.advisories = {"INTEL-SA-00001"};
  TdxVerification v = run(c);
  REFUSED_AT(v, "tcb.status");
  REQUIRE(v.tcb);
  CHECK(v.tcb->advisories == std::vector<std::string>{"INTEL-SA-00001"});
  CHECK(v.checks.find("tcb.status")->seen.find("INTEL-SA-00001") != std::string::npos);
  c.options.policy.accepted_statuses = {"UpToDate", "OutOfDate"};
  CHECK(run(c).verified());

  c = base_case();
  c.tcb.module_status = "OutOfDate";
  v = run(c);
  REFUSED_AT(v, "tcb.status");
  CHECK(v.tcb->status == "OutOfDate");
  CHECK(v.tcb->platform_status == "UpToDate");

  c = base_case();
  c.tcb.status = "ConfigurationNeeded";
  c.tcb.module_status = "OutOfDate";
  CHECK(run(c).tcb->status == "OutOfDateConfigurationNeeded");

  c = base_case();
  c.quote.qe_isvsvn = 7;  // below the QE identity's UpToDate level
  v = run(c);
  REFUSED_AT(v, "tcb.status");
  CHECK(v.tcb->qe_status == "OutOfDate");
  CHECK(v.tcb->status == "OutOfDate");

  c = base_case();
  c.tcb.qe_status = "Revoked";
  CHECK(run(c).tcb->status == "Revoked");

  c = base_case();
  c.quote.body.tee_tcb_svn[2] = 2;  // below every level's TDX component
  v = run(c);
  REFUSED_AT(v, "tcb.status");
  CHECK(v.tcb->status == "NotSupported");

  c = base_case();
  c.quote.body.tee_tcb_svn[0] = 5;  // module SVN below TDX_01's only level
  CHECK(run(c).tcb->module_status == "NotSupported");

  c = base_case();
  c.tcb.evaluation_number = 17;
  c.options.policy.min_tcb_evaluation_number = 18;
  REFUSED_AT(run(c), "policy.tcb-evaluation-number");
  c.options.policy.min_tcb_evaluation_number = 17;
  CHECK(run(c).verified());
}

TEST_CASE("TDX policy twins: debug, attributes, MRSEAM, TEE_TCB_SVN, each pin, report data, binding") {
  Case c = base_case();
  c.quote.body.td_attributes |= kTdAttrDebug;
  REFUSED_AT(run(c), "policy.debug");
  c = base_case();
  c.quote.body.td_attributes |= 1ull << 5;
  REFUSED_AT(run(c), "policy.td-attributes");
  c = base_case();
  c.quote.body.xfam = 0x1;  // SSE missing
  REFUSED_AT(run(c), "policy.td-attributes");

  c = base_case();
  c.options.policy.mrseam_allowlist.push_back(Register48{});
  REFUSED_AT(run(c), "policy.mrseam");
  c.options.policy.mrseam_allowlist.push_back(c.quote.body.mrseam);
  CHECK(run(c).verified());

  c = base_case();
  c.options.policy.min_tee_tcb_svn = std::array<uint8_t, 16>{8, 1, 3};
  REFUSED_AT(run(c), "policy.min-tee-tcb-svn");
  c.options.policy.min_tee_tcb_svn = std::array<uint8_t, 16>{7, 1, 3};
  CHECK(run(c).verified());

  c = base_case();
  c.options.policy.mrtd = c.quote.body.mrtd;
  CHECK(run(c).checks.find("policy.mrtd")->ok());
  (*c.options.policy.mrtd)[47] ^= 1;
  REFUSED_AT(run(c), "policy.mrtd");
  for (size_t k = 0; k < 4; ++k) {
    CAPTURE(k);
    c = base_case();
    c.options.policy.rtmr[k] = c.quote.body.rtmr[k];
    TdxVerification pinned = run(c);
    CHECK(pinned.verified());
    CHECK(pinned.checks.find(tdx_checks::kPolicyRtmr[k])->ok());
    (*c.options.policy.rtmr[k])[0] ^= 1;
    REFUSED_AT(run(c), std::string(tdx_checks::kPolicyRtmr[k]));
  }

  c = base_case();
  c.quote.body.report_data[0] = 0xab;
  c.options.report_data = Bytes{0xab};
  CHECK(run(c).verified());
  c.options.report_data = Bytes{0xac};
  REFUSED_AT(run(c), "policy.report-data");

  c = base_case();
  std::array<uint8_t, 32> key{};
  key.fill(0x33);
  std::copy(key.begin(), key.end(), c.quote.body.report_data.begin());
  c.options.channel_key = key;
  CHECK(run(c).verified());
  c.quote.body.report_data[40] = 1;  // the second half must be zero
  REFUSED_AT(run(c), "channel.binding");
  c = base_case();
  c.options.channel_key = key;  // a quote for another key
  REFUSED_AT(run(c), "channel.binding");
}

TEST_CASE("TDX quote format: trailing bytes, truncation, versions, types and lengths") {
  Case c = base_case();
  c.quote.trailing = Bytes(70, 0);
  TdxVerification padded = run(c);
  CHECK(padded.verified());
  CHECK(padded.quote->trailing == 70);
  c.quote.trailing = Bytes{'x'};
  REFUSED_AT(run(c), "quote.trailing-data");
  c.options.policy.allow_nonzero_trailing = true;
  CHECK(run(c).verified());

  auto good = authority().build_quote(base_case().quote);
  REQUIRE(good.ok());
  auto format_error = [](Bytes q) {
    auto parsed = parse_tdx_quote(q);
    return parsed ? std::string() : parsed.error().message;
  };
  CHECK(format_error(*good).empty());
  for (size_t cut : {size_t(0), size_t(47), size_t(48), size_t(631), size_t(636), good->size() - 1}) {
    CAPTURE(cut);
    CHECK_FALSE(format_error(Bytes(good->begin(), good->begin() + long(cut))).empty());
  }
  Bytes q = *good;
  q[0] = 3;
  CHECK(format_error(q).find("version 4 or 5") != std::string::npos);
  q = *good;
  q[4] = 0;
  CHECK(format_error(q).find("TEE type") != std::string::npos);
  q = *good;
  q[2] = 3;
  CHECK(format_error(q).find("key type") != std::string::npos);
  // The certification data type and the sizes that must add up.
  q = *good;
  size_t sig_at = 48 + 584 + 4;
  q[sig_at + 128] = 5;
  CHECK(format_error(q).find("type 6") != std::string::npos);
  q = *good;
  q[sig_at + 130] ^= 0x01;
  CHECK(format_error(q).find("QE report certification data") != std::string::npos);
  q = *good;
  q[48 + 584] ^= 0x01;  // signature data length
  CHECK_FALSE(format_error(q).empty());

  Case v5 = base_case();
  v5.quote.version = 5;
  auto five = authority().build_quote(v5.quote);
  REQUIRE(five.ok());
  q = *five;
  q[48] = 1;  // an SGX body
  CHECK(format_error(q).find("SGX") != std::string::npos);
  q = *five;
  q[50] = 0x80;  // 648 -> 640
  CHECK(format_error(q).find("body of 648 bytes") != std::string::npos);
  TdxVerifyOptions opt;
  opt.at = kNow;
  REFUSED_AT(verify_tdx_quote(Bytes(10, 0), {}, opt), "quote.format");
}

TEST_CASE("an ITA token's claims go through the same TD policy, and --json says Intel appraised it") {
  auto issuer = confer::dev::DevItaIssuer::create("PS384");
  REQUIRE(issuer.ok());
  auto jwks = parse_jwks(issuer->jwks_json());
  REQUIRE(jwks.ok());
  auto claims = confer::dev::tdx_claims_template(kNow);
  std::array<uint8_t, 32> key{};
  key.fill(0x44);
  Bytes rd(key.begin(), key.end());
  rd.resize(64, 0);
  auto payload = claims;
  payload["tdx_report_data"] = to_hex(rd);
  auto token = issuer->mint(payload);
  REQUIRE(token.ok());
  TdxVerifyOptions opt;
  opt.at = kNow + 10;
  opt.channel_key = key;
  TdxVerification v = verify_ita_token(*token, *jwks, opt);
  INFO(dump(v));
  CHECK(v.verified());
  CHECK(v.appraisal == "intel-trust-authority");
  CHECK(tdx_verification_json(v, "ITA token")["appraisal"] == "intel-trust-authority");
  REQUIRE(v.ita);
  // Each pin over the claims, and the binding.
  opt.policy.mrtd = v.ita->mrtd;
  CHECK(verify_ita_token(*token, *jwks, opt).verified());
  (*opt.policy.mrtd)[0] ^= 1;
  REFUSED_AT(verify_ita_token(*token, *jwks, opt), "policy.mrtd");
  opt.policy.mrtd.reset();
  for (size_t k = 0; k < 4; ++k) {
    TdxVerifyOptions pinned = opt;
    pinned.policy.rtmr[k] = v.ita->rtmr[k];
    (*pinned.policy.rtmr[k])[5] ^= 1;
    REFUSED_AT(verify_ita_token(*token, *jwks, pinned), std::string(tdx_checks::kPolicyRtmr[k]));
  }
  TdxVerifyOptions other_key = opt;
  other_key.channel_key->fill(0x45);
  REFUSED_AT(verify_ita_token(*token, *jwks, other_key), "channel.binding");
  // A debuggable TD and an OutOfDate TCB, as Intel reported them.
  auto debug = payload;
  debug["tdx_is_debuggable"] = true;
  REFUSED_AT(verify_ita_token(*issuer->mint(debug), *jwks, opt), "policy.debug");
  auto old = payload;
  old["attester_tcb_status"] = "OutOfDate";
  REFUSED_AT(verify_ita_token(*issuer->mint(old), *jwks, opt), "tcb.status");
  // Signature, expiry and key failures come first.
  REFUSED_AT(verify_ita_token(*token, *jwks, [&] { auto o = opt; o.at = kNow + 86400; return o; }()), "ita.expiry");
  auto stranger = confer::dev::DevItaIssuer::create("PS384");
  REQUIRE(stranger.ok());
  REFUSED_AT(verify_ita_token(*token, *parse_jwks(stranger->jwks_json()), opt), "ita.signature");
  REFUSED_AT(verify_ita_token(*token, default_ita_jwks(), opt), "ita.signature");
}

namespace {

// A TD's evidence JSON (quote and collateral) for `key`, with `gpus` GPU reports beside
// it whose nonce is bound to the quote's REPORT_DATA unless `wrong_nonce`.
struct GpuCase {
  std::string json;
  std::string gpu_root_pem;
  Bytes measurement_1;
};

// The GPU authority's certificates start a day before now: a TDX authority of today too.
const DevTdxAuthority& today_authority() {
  static const DevTdxAuthority a = [] {
    auto made = DevTdxAuthority::create(now_utc());
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return a;
}

GpuCase td_with_gpus(const std::array<uint8_t, 32>& key, size_t gpus, bool wrong_nonce) {
  static const confer::dev::DevGpuAuthority gpu = [] {
    auto made = confer::dev::DevGpuAuthority::create();
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  DevQuoteSpec spec;
  spec.body = DevTdxAuthority::body_template();
  std::copy(key.begin(), key.end(), spec.body.report_data.begin());
  auto quote = today_authority().build_quote(spec);
  REQUIRE(quote.ok());
  auto col = today_authority().collateral();
  REQUIRE(col.ok());
  nlohmann::json doc = {{"platform", "TDX"},
                        {"attestation", "dcap:" + to_base64(*quote)},
                        {"collateral",
                         {{"tcb_info", *col->tcb_info},
                          {"tcb_info_issuer_chain", std::string(col->tcb_info_chain->begin(), col->tcb_info_chain->end())},
                          {"qe_identity", *col->qe_identity},
                          {"qe_identity_issuer_chain",
                           std::string(col->qe_identity_chain->begin(), col->qe_identity_chain->end())},
                          {"pck_crl", to_base64(*col->pck_crl)},
                          {"root_ca_crl", to_base64(*col->root_crl)}}}};
  GpuCase out;
  out.gpu_root_pem = gpu.root().pem();
  Bytes nonce = gpu_nonce_for(spec.body.report_data);
  if (wrong_nonce) nonce[0] ^= 1;
  for (size_t i = 0; i < gpus; ++i) {
    auto s = confer::dev::dev_spdm_template(8);
    std::copy(nonce.begin(), nonce.end(), s.nonce.begin());
    confer::dev::DevGpuLeafSpec leaf;
    leaf.fwid = s.fwid;
    auto signer = gpu.issue_leaf(leaf);
    REQUIRE(signer.ok());
    auto report = confer::dev::build_spdm_report(s, signer->key.get());
    REQUIRE(report.ok());
    out.measurement_1 = s.blocks[0].digest;
    doc["gpu"].push_back({{"evidence", to_base64(*report)}, {"chain", gpu.chain_pem(signer->cert)}});
  }
  out.json = doc.dump();
  return out;
}

}  // namespace

TEST_CASE("the GPU nonce binding is SHA-256 of confer-gpu-v1 and the CPU's REPORT_DATA") {
  Bytes rd(64, 0x5c);
  std::string label = "confer-gpu-v1";
  Bytes material(label.begin(), label.end());
  material.insert(material.end(), rd.begin(), rd.end());
  CHECK(gpu_nonce_for(rd) == crypto::sha256(material));
  CHECK(to_hex(gpu_nonce_for(Bytes(64, 0))).size() == 64);
  CHECK(gpu_nonce_for(rd) != gpu_nonce_for(Bytes(64, 0x5d)));
}

TEST_CASE("GPU evidence beside a TD's, in the evidence JSON: checked by the session, bound to its REPORT_DATA") {
  std::array<uint8_t, 32> key{};
  key.fill(0x61);
  client::TrustConfig trust;
  trust.offline = true;
  trust.policy.tdx.mrtd.reset();
  trust.require_release = false;
  trust.extra_roots.push_back(today_authority().root());
  auto run = [&](const GpuCase& c, const client::TrustConfig& t) {
    auto v = client::verify_payload(as_bytes(c.json), key, t, std::nullopt, nullptr, now_utc() + 60);
    REQUIRE(v.ok());
    return std::move(v).value();
  };
  GpuCase two = td_with_gpus(key, 2, false);
  auto roots = trust;
  auto gpu_root = crypto::Cert::from_der_or_pem(as_bytes(two.gpu_root_pem));
  REQUIRE(gpu_root.ok());
  roots.extra_roots.push_back(*gpu_root);
  attest::Verification ok = run(two, roots);
  std::string all;
  for (const auto& c : ok.checks()) all += c.name + ": " + c.seen + "\n";
  INFO(all);
  CHECK(ok.verified());
  size_t gpu_checks = 0;
  for (const auto& c : ok.checks()) gpu_checks += c.name.rfind("gpu.", 0) == 0;
  CHECK(gpu_checks == 12);  // six per GPU
  // Without the GPU root, at gpu.chain; a nonce for other CPU evidence, at gpu.nonce.
  CHECK(run(two, trust).first_failure()->name == "gpu.chain");
  CHECK(run(td_with_gpus(key, 1, true), roots).first_failure()->name == "gpu.nonce");
  // The policy: GPU evidence required, and expected measurement blocks.
  auto required = roots;
  required.policy.require_gpu = true;
  CHECK(run(td_with_gpus(key, 0, false), required).first_failure()->name == "gpu.evidence");
  CHECK(run(td_with_gpus(key, 0, false), roots).verified());
  auto pinned = roots;
  pinned.policy.gpu_measurements[1] = Bytes(48, 0x00);
  CHECK(run(two, pinned).first_failure()->name == "gpu.measurements");
  pinned.policy.gpu_measurements[1] = two.measurement_1;
  CHECK(run(td_with_gpus(key, 1, false), pinned).first_failure()->name == "gpu.measurements");  // another GPU's digest
}
