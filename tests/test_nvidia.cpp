// NVIDIA Hopper GPU evidence (../shared/vectors/nvidia): every real report verifies with
// its request nonce, the negative chains are refused at the check named, and negatives
// derived from the real vectors and from the development GPU authority.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "attest/gpu_verify.hpp"
#include "attest/nvidia_roots.hpp"
#include "attest/spdm.hpp"
#include "crypto/pkey.hpp"
#include "dev/nvidia_authority.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;

namespace {

const char* kInside = "2026-11-30T00:00:00Z";  // the vectors' audit date

struct VectorCase {
  std::string dir;
  std::string nonce;
  std::string driver;
  std::string vbios;
};

std::vector<VectorCase> vector_cases() {
  std::vector<VectorCase> out{
      {"h100-nvtrust-sample", "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb", "550.90.07",
       "96.00.9F.00.01"},
      {"h100-trustee-coco", "87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fec", "580.95.05",
       "96.00.74.00.1A"},
  };
  for (int i = 0; i < 8; ++i) {
    std::string dir = "h100-ppcie-8gpu/gpu" + std::to_string(i);
    Bytes meta_bytes = test::vector_file("nvidia/" + dir + "/meta.json");
    auto meta = nlohmann::json::parse(std::string(meta_bytes.begin(), meta_bytes.end()));
    out.push_back({dir, meta.at("nonce").get<std::string>(), meta.at("driver_version").get<std::string>(),
                   meta.at("vbios_version").get<std::string>()});
  }
  return out;
}

GpuInput vector_input(const std::string& dir, const std::string& chain = "cert_chain.pem") {
  GpuInput in;
  in.report = test::vector_file("nvidia/" + dir + "/report.bin");
  in.chain_pem = test::vector_file("nvidia/" + dir + "/" + chain);
  return in;
}

GpuVerifyOptions vector_options(const std::string& nonce_hex = {}) {
  GpuVerifyOptions opt;
  opt.at = *parse_rfc3339(kInside);
  if (!nonce_hex.empty()) opt.expected_nonce = *from_hex(nonce_hex);
  return opt;
}

std::string failure(const GpuVerification& v) {
  const Check* f = v.first_failure();
  return f ? f->name : std::string();
}

std::string seen_of(const GpuVerification& v, std::string_view name) {
  const Check* c = v.checks.find(name);
  return c ? c->seen : std::string("(no such check)");
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

const char* kSample = "h100-nvtrust-sample";
const char* kSampleNonce = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";

// A development chain and a report signed by its leaf, verified at now.
struct DevGpuCase {
  dev::DevSpdmSpec spec;
  dev::DevSigner leaf;
  GpuInput input;
  GpuVerifyOptions options;
};

const dev::DevGpuAuthority& gpu_authority() {
  static const dev::DevGpuAuthority authority = [] {
    auto a = dev::DevGpuAuthority::create();
    REQUIRE(a.ok());
    return std::move(a).value();
  }();
  return authority;
}

DevGpuCase dev_case(dev::DevGpuLeafSpec leaf_spec = {}, bool same_fwid = true) {
  DevGpuCase c;
  c.spec = dev::dev_spdm_template();
  if (same_fwid) leaf_spec.fwid = c.spec.fwid;
  auto leaf = gpu_authority().issue_leaf(leaf_spec);
  REQUIRE(leaf.ok());
  c.leaf = std::move(leaf).value();
  auto report = dev::build_spdm_report(c.spec, c.leaf.key.get());
  REQUIRE(report.ok());
  c.input.report = *report;
  std::string pem = gpu_authority().chain_pem(c.leaf.cert);
  c.input.chain_pem.assign(pem.begin(), pem.end());
  c.options.at = now_utc();
  c.options.expected_nonce = Bytes(c.spec.nonce.begin(), c.spec.nonce.end());
  c.options.extra_roots = {gpu_authority().root()};
  return c;
}

Bytes dev_report_bytes(const dev::DevSpdmSpec& spec) {
  auto key = dev::generate_p384_key();
  REQUIRE(key.ok());
  auto report = dev::build_spdm_report(spec, key->get());
  REQUIRE(report.ok());
  return *report;
}

// The parse error for `bytes`, or "" when it parses.
std::string parse_failure(ByteView bytes) {
  auto r = parse_spdm_report(bytes);
  if (r) return {};
  CHECK(r.error().code == Errc::parse);
  return r.error().message;
}

Bytes der(uint8_t tag, const Bytes& content) {
  REQUIRE(content.size() < 0x80);
  Bytes out{tag, uint8_t(content.size())};
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Bytes kSha384Oid{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};

Bytes fwid_der(const Bytes& digest) { return der(0x30, cat({kSha384Oid, der(0x04, digest)})); }

}  // namespace

TEST_CASE("nvidia: the compiled-in root hashes to its pin") {
  auto root = nvidia_device_root();
  REQUIRE(root.ok());
  CHECK(root->sha256_hex() == kNvidiaDeviceRootSha256);
  CHECK(root->subject_cn() == "NVIDIA Device Identity CA");
  if (!test::have_vectors()) return;
  auto file = crypto::Cert::from_der_or_pem(test::vector_file("nvidia/roots/NVIDIA_Device_Identity_CA.pem"));
  REQUIRE(file.ok());
  CHECK(file->der() == root->der());
}

TEST_CASE("nvidia vectors: every report verifies with its request nonce") {
  if (!test::have_vectors()) return;
  for (const auto& c : vector_cases()) {
    auto v = verify_gpu_evidence(vector_input(c.dir), vector_options(c.nonce));
    CHECK_MESSAGE(v.verified(), c.dir << " failed " << failure(v) << ": " << (v.first_failure() ? v.first_failure()->seen : ""));
    REQUIRE_MESSAGE(v.report.has_value(), c.dir);
    const SpdmReport& r = *v.report;
    CHECK_MESSAGE(r.driver_version().value_or("") == c.driver, c.dir);
    CHECK_MESSAGE(r.vbios_version().value_or("") == c.vbios, c.dir);
    CHECK(to_hex(r.request_nonce) == c.nonce);
    CHECK(r.blocks.size() == 64);
    CHECK(r.number_of_blocks == 64);
    CHECK(r.measurement_record_length == 3520);
    CHECK(r.fwid().value_or(Bytes()).size() == 48);
    CHECK_FALSE(v.development_root);
    CHECK(v.root_sha256 == kNvidiaDeviceRootSha256);
    REQUIRE(v.chain_subjects.size() == 5);
    CHECK(v.chain_subjects.front() == "GH100 A01 GSP FMC LF");
    CHECK(v.chain_subjects.back() == "NVIDIA Device Identity CA");
    for (auto name : {gpu_checks::kFormat, gpu_checks::kChain, gpu_checks::kFwid, gpu_checks::kSignature,
                      gpu_checks::kNonce})
      CHECK_MESSAGE(v.checks.find(name)->status == CheckStatus::ok, c.dir << " " << name);
    CHECK(v.checks.find(gpu_checks::kMeasurements)->status == CheckStatus::skipped);
    CHECK(r.trailing_bytes == (c.dir == "h100-trustee-coco" ? 1u : 0u));
  }
}

TEST_CASE("nvidia vectors: the checks come in their stated order") {
  if (!test::have_vectors()) return;
  auto v = verify_gpu_evidence(vector_input(kSample), vector_options(kSampleNonce));
  std::vector<std::string> names;
  for (const auto& c : v.checks) names.push_back(c.name);
  CHECK(names == std::vector<std::string>{"gpu.format", "gpu.chain", "gpu.fwid", "gpu.signature", "gpu.nonce",
                                          "gpu.measurements"});
  auto j = gpu_verification_json(v);
  CHECK(j["verdict"] == "verified");
  CHECK(j["driver"] == "550.90.07");
  CHECK(j["vbios"] == "96.00.9F.00.01");
  CHECK(j["nonce"] == kSampleNonce);
  CHECK(j["fwid"].get<std::string>().size() == 96);
  CHECK(j["measurement_count"] == 64);
  CHECK(j["development_root"] == false);
  CHECK(j["checks"].size() == 6);
  CHECK(j["checks"][0]["name"] == "gpu.format");
}

TEST_CASE("nvidia vectors: the trustee report is only valid when parsed by structure") {
  if (!test::have_vectors()) return;
  Bytes report = test::vector_file("nvidia/h100-trustee-coco/report.bin");
  auto r = parse_spdm_report(report);
  REQUIRE(r.ok());
  CHECK(r->trailing_bytes == 1);
  CHECK(r->signed_length + kSpdmSignatureSize + 1 == report.size());
  // "The last 96 bytes" are not the signature.
  CHECK_FALSE(std::equal(r->signature.begin(), r->signature.end(), report.end() - 96));
}

TEST_CASE("nvidia vectors: the negative chains are refused at the check named") {
  if (!test::have_vectors()) return;
  auto case2 = verify_gpu_evidence(vector_input(kSample, "negative_cert_chain_case2.pem"), vector_options(kSampleNonce));
  CHECK(failure(case2) == "gpu.chain");
  CHECK(contains(seen_of(case2, gpu_checks::kChain), "chain too short"));
  auto case3 = verify_gpu_evidence(vector_input(kSample, "negative_cert_chain_case3.pem"), vector_options(kSampleNonce));
  CHECK(failure(case3) == "gpu.chain");
  CHECK(contains(seen_of(case3, gpu_checks::kChain), "is not issued by"));
  auto case4 = verify_gpu_evidence(vector_input(kSample, "negative_cert_chain_case4.pem"), vector_options(kSampleNonce));
  CHECK(failure(case4) == "gpu.fwid");
  CHECK(contains(seen_of(case4, gpu_checks::kFwid), "GH100 A01 GSP BROM"));
  CHECK(case4.checks.find(gpu_checks::kSignature)->failed());
  for (const auto* v : {&case2, &case3, &case4}) CHECK_FALSE(v->verified());
}

TEST_CASE("nvidia vectors: a chain from another GPU does not sign this report") {
  if (!test::have_vectors()) return;
  GpuInput in = vector_input(kSample);
  in.chain_pem = test::vector_file("nvidia/h100-trustee-coco/cert_chain.pem");
  auto v = verify_gpu_evidence(in, vector_options(kSampleNonce));
  CHECK(failure(v) == "gpu.fwid");
  CHECK(v.checks.find(gpu_checks::kSignature)->failed());
}

TEST_CASE("nvidia vectors: flipped bytes are refused at gpu.signature") {
  if (!test::have_vectors()) return;
  GpuInput in = vector_input(kSample);
  auto parsed = parse_spdm_report(in.report);
  REQUIRE(parsed.ok());
  size_t sig_at = parsed->signed_length;
  GpuInput bad_sig = in;
  bad_sig.report[sig_at + 20] ^= 0x01;
  auto v1 = verify_gpu_evidence(bad_sig, vector_options(kSampleNonce));
  CHECK(failure(v1) == "gpu.signature");
  GpuInput bad_s = in;
  bad_s.report[sig_at + 95] ^= 0x80;
  CHECK(failure(verify_gpu_evidence(bad_s, vector_options(kSampleNonce))) == "gpu.signature");
  // A byte of block 1's digest: the record starts at 37 + 8, the digest 7 bytes in.
  GpuInput bad_measurement = in;
  bad_measurement.report[kSpdmRequestSize + 8 + 7 + 5] ^= 0x01;
  auto v2 = verify_gpu_evidence(bad_measurement, vector_options(kSampleNonce));
  CHECK(failure(v2) == "gpu.signature");
  CHECK(v2.checks.find(gpu_checks::kFormat)->ok());
  // The request nonce is signed too.
  GpuInput bad_nonce = in;
  bad_nonce.report[4] ^= 0x01;
  CHECK(failure(verify_gpu_evidence(bad_nonce, vector_options())) == "gpu.signature");
}

TEST_CASE("nvidia vectors: a wrong expected nonce is refused at gpu.nonce") {
  if (!test::have_vectors()) return;
  std::string wrong = kSampleNonce;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  auto v = verify_gpu_evidence(vector_input(kSample), vector_options(wrong));
  CHECK(failure(v) == "gpu.nonce");
  CHECK(contains(seen_of(v, gpu_checks::kNonce), kSampleNonce));
  GpuVerifyOptions short_nonce = vector_options();
  short_nonce.expected_nonce = Bytes(16, 0);
  CHECK(failure(verify_gpu_evidence(vector_input(kSample), short_nonce)) == "gpu.nonce");
  auto none = verify_gpu_evidence(vector_input(kSample), vector_options());
  CHECK(none.verified());
  CHECK(none.checks.find(gpu_checks::kNonce)->status == CheckStatus::skipped);
}

TEST_CASE("nvidia vectors: expected measurements are compared block by block") {
  if (!test::have_vectors()) return;
  GpuInput in = vector_input(kSample);
  auto parsed = parse_spdm_report(in.report);
  REQUIRE(parsed.ok());
  GpuVerifyOptions all = vector_options(kSampleNonce);
  for (const auto& b : parsed->blocks) all.expected_measurements[b.index] = b.digest;
  auto ok = verify_gpu_evidence(in, all);
  CHECK(ok.verified());
  CHECK(ok.checks.find(gpu_checks::kMeasurements)->ok());

  GpuVerifyOptions mismatch = all;
  const Bytes& seven = parsed->block(7)->digest;
  mismatch.expected_measurements[7][0] ^= 0xff;
  mismatch.expected_measurements[9][0] ^= 0xff;
  auto bad = verify_gpu_evidence(in, mismatch);
  CHECK(failure(bad) == "gpu.measurements");
  const Check* c = bad.checks.find(gpu_checks::kMeasurements);
  CHECK(contains(c->expected, "measurement block 7 = " + to_hex(mismatch.expected_measurements[7])));
  CHECK(c->seen == "measurement block 7 = " + to_hex(seven));

  GpuVerifyOptions absent = vector_options(kSampleNonce);
  absent.expected_measurements[200] = Bytes(48, 0);
  auto missing = verify_gpu_evidence(in, absent);
  CHECK(failure(missing) == "gpu.measurements");
  CHECK(seen_of(missing, gpu_checks::kMeasurements) == "no measurement block 200");
}

TEST_CASE("nvidia vectors: truncated reports and non-zero trailing bytes are refused at gpu.format") {
  if (!test::have_vectors()) return;
  Bytes report = test::vector_file("nvidia/h100-nvtrust-sample/report.bin");
  for (size_t n = 0; n < report.size(); ++n)
    CHECK_MESSAGE(!parse_failure(ByteView(report).first(n)).empty(), "truncated to " << n);
  GpuInput truncated = vector_input(kSample);
  truncated.report.pop_back();
  CHECK(failure(verify_gpu_evidence(truncated, vector_options(kSampleNonce))) == "gpu.format");

  GpuInput zeros = vector_input(kSample);
  zeros.report.insert(zeros.report.end(), 7, 0x00);
  CHECK(verify_gpu_evidence(zeros, vector_options(kSampleNonce)).verified());
  GpuInput nonzero = vector_input(kSample);
  nonzero.report.push_back(0x00);
  nonzero.report.push_back(0x01);
  auto v = verify_gpu_evidence(nonzero, vector_options(kSampleNonce));
  CHECK(failure(v) == "gpu.format");
  CHECK(contains(seen_of(v, gpu_checks::kFormat), "offset 4118"));
  GpuInput trustee = vector_input("h100-trustee-coco");
  trustee.report.back() = 0x01;
  CHECK(failure(verify_gpu_evidence(trustee, vector_options())) == "gpu.format");
}

TEST_CASE("nvidia vectors: the leaf's DICE extension holds opaque field 20") {
  if (!test::have_vectors()) return;
  auto chain = crypto::Cert::all_from_pem(test::vector_file("nvidia/h100-nvtrust-sample/cert_chain.pem"));
  REQUIRE(chain.ok());
  auto ext = dice_tcb_info_of(chain->front());
  REQUIRE(ext.ok());
  REQUIRE(ext->has_value());
  const DiceTcbInfo& info = **ext;
  CHECK(info.layout == DiceLayout::composite_device_id);
  CHECK(info.version.value_or(0) == 1);
  REQUIRE(info.fwids.size() == 1);
  CHECK(info.fwids[0].hash_oid == "2.16.840.1.101.3.4.2.2");
  CHECK(to_hex(info.fwids[0].digest) ==
        "f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f7275494ba94bb5cdfdb3055ee051762b1f75d");
  // The composite layout names the issuer's (BROM's) key.
  auto spki = crypto::spki_of(X509_get0_pubkey((*chain)[1].get()));
  REQUIRE(spki.ok());
  CHECK(info.device_key_spki == *spki);
  // The other certificates carry no DICE extension.
  auto brom = dice_tcb_info_of((*chain)[1]);
  REQUIRE(brom.ok());
  CHECK_FALSE(brom->has_value());
}

TEST_CASE("SPDM report: structural errors name what was expected and where") {
  dev::DevSpdmSpec spec = dev::dev_spdm_template();
  Bytes good = dev_report_bytes(spec);
  REQUIRE(parse_failure(good).empty());
  auto parsed = parse_spdm_report(good);
  REQUIRE(parsed.ok());
  CHECK(parsed->blocks.size() == 64);
  CHECK(parsed->measurement_record_length == 64 * 55);
  CHECK(parsed->driver_version().value_or("") == "550.90.07");
  CHECK(parsed->vbios_version().value_or("") == "96.00.9F.00.01");
  CHECK(parsed->fwid().value_or(Bytes()) == spec.fwid);
  CHECK(parsed->block(64)->digest == spec.blocks.back().digest);
  CHECK(parsed->block(65) == nullptr);
  CHECK(parsed->trailing_bytes == 0);

  const size_t record = kSpdmRequestSize + 8;          // 45
  const size_t opaque_len = record + 64 * 55 + 32;     // OpaqueLength
  auto mutated = [&](size_t at, uint8_t value) {
    Bytes b = good;
    b[at] = value;
    return parse_failure(b);
  };
  CHECK(contains(mutated(0, 0x12), "offset 0"));
  CHECK(contains(mutated(1, 0xE1), "GET_MEASUREMENTS"));
  CHECK(contains(mutated(2, 0x00), "signature requested"));
  CHECK(contains(mutated(kSpdmRequestSize, 0x10), "offset 37"));
  CHECK(contains(mutated(kSpdmRequestSize + 1, 0x61), "MEASUREMENTS"));
  CHECK(contains(mutated(kSpdmRequestSize + 4, 63), "NumberOfBlocks 63"));
  CHECK(contains(mutated(kSpdmRequestSize + 4, 65), "NumberOfBlocks 65"));
  // MeasurementRecordLength one more or one less than the blocks fill.
  uint8_t l0 = good[kSpdmRequestSize + 5];
  CHECK(contains(mutated(kSpdmRequestSize + 5, uint8_t(l0 + 1)), "measurement block header"));
  CHECK(contains(mutated(kSpdmRequestSize + 5, uint8_t(l0 - 1)), "within the record"));
  CHECK(contains(mutated(kSpdmRequestSize + 7, 0xFF), "the measurement record"));
  CHECK(contains(mutated(record + 1, 0x02), "MeasurementSpecification"));
  CHECK(contains(mutated(record + 5, 0x31), "ValueSize"));
  CHECK(contains(mutated(record + 55, good[record]), "appears twice"));
  CHECK(contains(mutated(opaque_len + 1, 0xFF), "the opaque data"));
  CHECK(contains(mutated(opaque_len + 2 + 3, 0xFF), "opaque field type 3"));  // the first TLV's length
  // A TLV header cut short: OpaqueLength 2.
  {
    Bytes b = good;
    b[opaque_len] = 2;
    b[opaque_len + 1] = 0;
    CHECK(contains(parse_failure(b), "4-byte opaque TLV header"));
  }
  // Trailing bytes: zeros are padding, anything else is refused.
  Bytes padded = good;
  padded.insert(padded.end(), 3, 0x00);
  CHECK(parse_spdm_report(padded)->trailing_bytes == 3);
  padded.back() = 0x55;
  CHECK(contains(parse_failure(padded), "zero bytes after the signature"));
  // Size bound.
  Bytes huge(kSpdmMaxReportSize + 1, 0);
  CHECK(contains(parse_failure(huge), "at most 1048576"));
  CHECK_FALSE(parse_failure(Bytes{}).empty());
}

TEST_CASE("SPDM report: block counts, empty records and duplicate opaque fields") {
  dev::DevSpdmSpec one = dev::dev_spdm_template(1);
  auto r1 = parse_spdm_report(dev_report_bytes(one));
  REQUIRE(r1.ok());
  CHECK(r1->blocks.size() == 1);
  dev::DevSpdmSpec none = dev::dev_spdm_template(0);
  none.driver_version.clear();
  none.vbios.clear();
  none.fwid.clear();
  auto r0 = parse_spdm_report(dev_report_bytes(none));
  REQUIRE(r0.ok());
  CHECK(r0->blocks.empty());
  CHECK(r0->opaque.empty());
  CHECK_FALSE(r0->driver_version().has_value());
  CHECK_FALSE(r0->fwid().has_value());
  dev::DevSpdmSpec dup = dev::dev_spdm_template(2);
  dup.extra_opaque.push_back({spdm_opaque::fwid, Bytes(48, 1)});
  CHECK(contains(parse_failure(dev_report_bytes(dup)), "opaque field type 20"));
  dev::DevSpdmSpec other = dev::dev_spdm_template(2);
  other.extra_opaque.push_back({99, Bytes{1}});
  other.extra_opaque.push_back({99, Bytes{2}});
  CHECK(parse_spdm_report(dev_report_bytes(other)).ok());
  dev::DevSpdmSpec bad_driver = dev::dev_spdm_template(1);
  bad_driver.driver_version = std::string("5\x01", 2);
  CHECK_FALSE(parse_spdm_report(dev_report_bytes(bad_driver))->driver_version().has_value());
}

TEST_CASE("SPDM report: VBIOS version formatting") {
  CHECK(*format_vbios_version(*from_hex("00a5009601000000")) == "96.00.A5.00.01");
  CHECK(*format_vbios_version(*from_hex("007400961a000000")) == "96.00.74.00.1A");
  CHECK(*format_vbios_version(*from_hex("009f009601000000")) == "96.00.9F.00.01");
  CHECK_FALSE(format_vbios_version(*from_hex("00a50096010000")).ok());
  CHECK_FALSE(format_vbios_version(*from_hex("00a5009601000100")).ok());
}

TEST_CASE("DICE extension: both layouts decode, malformed DER is refused") {
  Bytes digest(48);
  for (size_t i = 0; i < digest.size(); ++i) digest[i] = uint8_t(i);
  // TCG DiceTcbInfo: [0] vendor, [3] svn, [6] fwids.
  Bytes tcb = der(0x30, cat({der(0x80, {'n', 'v'}), der(0x83, {0x01}), der(0xA6, fwid_der(digest))}));
  auto info = decode_dice_tcb_info(tcb);
  REQUIRE(info.ok());
  CHECK(info->layout == DiceLayout::tcb_info);
  REQUIRE(info->fwids.size() == 1);
  CHECK(info->fwids[0].digest == digest);
  CHECK(info->fwids[0].hash_oid == "2.16.840.1.101.3.4.2.2");
  // Two FWIDs in the list.
  Bytes two = der(0x30, der(0xA6, cat({fwid_der(Bytes(32, 7)), fwid_der(Bytes(16, 8))})));
  REQUIRE(decode_dice_tcb_info(two).ok());
  CHECK(decode_dice_tcb_info(two)->fwids.size() == 2);
  // No fields at all: decodes, with no FWID (the verifier then refuses).
  CHECK(decode_dice_tcb_info(Bytes{0x30, 0x00})->fwids.empty());

  CHECK_FALSE(decode_dice_tcb_info(cat({tcb, Bytes{0x00}})).ok());                        // trailing
  CHECK_FALSE(decode_dice_tcb_info(Bytes{0x31, 0x00}).ok());                              // not a SEQUENCE
  CHECK_FALSE(decode_dice_tcb_info(Bytes{0x30, 0x80, 0x00, 0x00}).ok());                  // indefinite
  CHECK_FALSE(decode_dice_tcb_info(Bytes{0x30, 0x81, 0x02, 0x80, 0x00}).ok());            // non-minimal
  CHECK_FALSE(decode_dice_tcb_info(Bytes{0x30, 0x05, 0x80, 0x00}).ok());                  // overrun
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, der(0xA6, {}))).ok());                      // empty fwids
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, der(0x86, fwid_der(digest)))).ok());        // fwids primitive
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, cat({der(0x83, {1}), der(0x80, {'a'})}))).ok());  // out of order
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, cat({der(0x80, {'a'}), der(0x80, {'b'})}))).ok());  // repeated
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, der(0x04, {1}))).ok());                     // universal tag
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, der(0xA6, der(0x30, kSha384Oid)))).ok());   // FWID without digest
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, der(0xA6, der(0x30, cat({kSha384Oid, der(0x04, {})}))))).ok());
  Bytes bad_oid{0x06, 0x02, 0x2a, 0x86};  // last sub-identifier cut short
  CHECK_FALSE(decode_dice_tcb_info(der(0x30, der(0xA6, der(0x30, cat({bad_oid, der(0x04, {1})}))))).ok());

  // Composite: version, a SEQUENCE standing in for the key, one FWID, nothing else.
  Bytes composite = der(0x30, cat({Bytes{0x02, 0x01, 0x01}, der(0x30, {0x05, 0x00}), fwid_der(digest)}));
  auto c = decode_dice_tcb_info(composite);
  REQUIRE(c.ok());
  CHECK(c->layout == DiceLayout::composite_device_id);
  CHECK(c->device_key_spki == Bytes{0x30, 0x02, 0x05, 0x00});
  CHECK(c->fwids.size() == 1);
  Bytes extra = der(0x30, cat({Bytes{0x02, 0x01, 0x01}, der(0x30, {0x05, 0x00}), fwid_der(digest), Bytes{0x05, 0x00}}));
  CHECK_FALSE(decode_dice_tcb_info(extra).ok());
  Bytes no_fwid = der(0x30, cat({Bytes{0x02, 0x01, 0x01}, der(0x30, {0x05, 0x00})}));
  CHECK_FALSE(decode_dice_tcb_info(no_fwid).ok());
}

TEST_CASE("nvidia dev authority: its evidence verifies only with its root, marked as development") {
  DevGpuCase c = dev_case();
  auto v = verify_gpu_evidence(c.input, c.options);
  CHECK_MESSAGE(v.verified(), failure(v) << ": " << (v.first_failure() ? v.first_failure()->seen : ""));
  CHECK(v.development_root);
  CHECK(contains(seen_of(v, gpu_checks::kChain), "NOT NVIDIA"));
  CHECK(gpu_verification_json(v)["trust_root"] == "development");
  CHECK(gpu_verification_json(v)["development_root"] == true);

  GpuVerifyOptions untrusted = c.options;
  untrusted.extra_roots.clear();
  auto refused = verify_gpu_evidence(c.input, untrusted);
  CHECK(failure(refused) == "gpu.chain");
  CHECK_FALSE(refused.development_root);
  CHECK(contains(seen_of(refused, gpu_checks::kChain), "neither the pinned NVIDIA Device Identity CA"));

  // The root may be left out of the chain when it is trusted.
  std::string without_root = c.leaf.cert.pem() + gpu_authority().intermediate().pem();
  GpuInput short_chain = c.input;
  short_chain.chain_pem.assign(without_root.begin(), without_root.end());
  auto v2 = verify_gpu_evidence(short_chain, c.options);
  CHECK(v2.verified());
  CHECK(v2.development_root);
  // The leaf alone is too short, even under a trusted root.
  std::string leaf_only = c.leaf.cert.pem();
  GpuInput lone = c.input;
  lone.chain_pem.assign(leaf_only.begin(), leaf_only.end());
  CHECK(contains(seen_of(verify_gpu_evidence(lone, c.options), gpu_checks::kChain), "chain too short"));
}

TEST_CASE("nvidia dev authority: FWID mismatch and a leaf without the extension fail gpu.fwid") {
  dev::DevGpuLeafSpec other;
  other.fwid = Bytes(48, 0x42);
  DevGpuCase c = dev_case(other, false);
  auto v = verify_gpu_evidence(c.input, c.options);
  CHECK(failure(v) == "gpu.fwid");
  CHECK(contains(seen_of(v, gpu_checks::kFwid), to_hex(other.fwid)));
  CHECK(v.checks.find(gpu_checks::kSignature)->ok());

  dev::DevGpuLeafSpec bare;
  bare.dice_extension = false;
  DevGpuCase b = dev_case(bare);
  CHECK(failure(verify_gpu_evidence(b.input, b.options)) == "gpu.fwid");

  // A report without opaque field 20.
  DevGpuCase n = dev_case();
  n.spec.fwid.clear();
  n.input.report = *dev::build_spdm_report(n.spec, n.leaf.key.get());
  auto nv = verify_gpu_evidence(n.input, n.options);
  CHECK(failure(nv) == "gpu.fwid");
  CHECK(seen_of(nv, gpu_checks::kFwid) == "no opaque field 20");

  // TCG's DiceTcbInfo layout carries the FWID just as well.
  dev::DevGpuLeafSpec tcg;
  tcg.layout = DiceLayout::tcb_info;
  DevGpuCase t = dev_case(tcg);
  auto tv = verify_gpu_evidence(t.input, t.options);
  CHECK_MESSAGE(tv.verified(), failure(tv));
}

TEST_CASE("nvidia dev authority: an expired or not yet valid leaf fails gpu.chain") {
  UnixTime now = now_utc();
  dev::DevGpuLeafSpec expired;
  expired.not_before = now - 10 * 86400;
  expired.not_after = now - 86400;
  DevGpuCase c = dev_case(expired);
  auto v = verify_gpu_evidence(c.input, c.options);
  CHECK(failure(v) == "gpu.chain");
  CHECK(contains(seen_of(v, gpu_checks::kChain), "expired"));
  CHECK(v.checks.find(gpu_checks::kSignature)->ok());

  dev::DevGpuLeafSpec future;
  future.not_before = now + 86400;
  future.not_after = now + 10 * 86400;
  DevGpuCase f = dev_case(future);
  auto fv = verify_gpu_evidence(f.input, f.options);
  CHECK(failure(fv) == "gpu.chain");
  CHECK(contains(seen_of(fv, gpu_checks::kChain), "not yet valid"));
}

TEST_CASE("nvidia dev authority: a report signed by another key fails gpu.signature") {
  DevGpuCase c = dev_case();
  auto other = dev::generate_p384_key();
  REQUIRE(other.ok());
  c.input.report = *dev::build_spdm_report(c.spec, other->get());
  CHECK(failure(verify_gpu_evidence(c.input, c.options)) == "gpu.signature");
  GpuInput garbage = c.input;
  garbage.chain_pem = Bytes{'n', 'o', 't', ' ', 'p', 'e', 'm'};
  auto g = verify_gpu_evidence(garbage, c.options);
  CHECK(failure(g) == "gpu.chain");
  CHECK(g.checks.find(gpu_checks::kSignature)->failed());
}

TEST_CASE("GPU expected measurements file") {
  auto ok = parse_gpu_measurements_json(R"({"measurements": {"1": "00ff", "64": "AB", "0": "01"}})");
  REQUIRE(ok.ok());
  CHECK(ok->size() == 3);
  CHECK(ok->at(1) == Bytes{0x00, 0xff});
  CHECK(ok->at(64) == Bytes{0xab});
  for (const char* bad : {
           R"([])",
           R"({})",
           R"({"measurements": {}})",
           R"({"measurements": [], "x": 1})",
           R"({"measurements": {"1": "00"}, "extra": true})",
           R"({"measurements": {"256": "00"}})",
           R"({"measurements": {"01": "00"}})",
           R"({"measurements": {"-1": "00"}})",
           R"({"measurements": {"one": "00"}})",
           R"({"measurements": {"1": "0"}})",
           R"({"measurements": {"1": "zz"}})",
           R"({"measurements": {"1": ""}})",
           R"({"measurements": {"1": 5}})",
           R"({"measurements": "1"})",
           "not json",
       }) {
    auto r = parse_gpu_measurements_json(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.error().code == Errc::parse);
  }
  std::string deep(100, '[');
  CHECK_FALSE(parse_gpu_measurements_json(deep).ok());
  std::string big = R"({"measurements": {"1": ")" + std::string(200000, 'a') + "\"}}";
  CHECK_FALSE(parse_gpu_measurements_json(big).ok());
}
