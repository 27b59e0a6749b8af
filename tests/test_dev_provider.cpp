// The development provider's reports, and the negative twins the real vectors cannot give:
// each policy bit, each TCB field, each extension mismatch.
#include <doctest/doctest.h>

#include "dev/snp_authority.hpp"
#include "attest/snp_verify.hpp"
#include "attest/vcek_ext.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;
using namespace confer::dev;

namespace {

SnpVerification verify_dev(const test::DevEvidence& e, Product product = Product::milan, const SnpPolicy& policy = {},
                        bool trust_root = true, std::optional<UnixTime> at = std::nullopt) {
  const auto& authority = test::dev_authority(product);
  SnpInput in;
  in.report = e.bytes;
  in.signer = e.signer;
  bool vlek = e.report.signing_key() == SigningKey::vlek;
  in.chain = {vlek ? authority.asvk() : authority.ask(), authority.ark()};
  SnpVerifyOptions opt;
  opt.at = at.value_or(now_utc());
  opt.policy = policy;
  if (trust_root) opt.extra_roots = {authority.ark()};
  return verify_report(in, opt);
}

std::string failure(const SnpVerification& v) {
  const Check* f = v.first_failure();
  return f ? f->name : std::string("(none)");
}

SnpReport base(Product product = Product::milan) { return dev_report_template(product); }

}  // namespace

TEST_CASE("dev provider: a report verifies only against the trusted development root") {
  auto e = test::make_dev_evidence(base());
  auto trusted = verify_dev(e);
  CHECK_MESSAGE(trusted.verified(), failure(trusted));
  CHECK(trusted.development_root);
  bool marked = false;
  for (const auto& c : trusted.checks)
    if (c.name == "chain.ark") marked = c.seen.find("NOT AMD") != std::string::npos;
  CHECK(marked);
  auto untrusted = verify_dev(e, Product::milan, {}, false);
  CHECK_FALSE(untrusted.verified());
  CHECK(failure(untrusted) == "chain.ark");
  // Another development authority's root is not this one.
  auto other = DevAuthority::create(Product::milan);
  REQUIRE(other.ok());
  SnpInput in;
  in.report = e.bytes;
  in.signer = e.signer;
  in.chain = {test::dev_authority().ask(), test::dev_authority().ark()};
  SnpVerifyOptions opt;
  opt.at = now_utc();
  opt.extra_roots = {other->ark()};
  CHECK(failure(verify_report(in, opt)) == "chain.ark");
  // Without the supplied chain, the built-in AMD chain cannot have issued this VCEK.
  in.chain.clear();
  opt.extra_roots = {test::dev_authority().ark()};
  CHECK(failure(verify_report(in, opt)) == "chain.vcek");
}

TEST_CASE("dev provider: the chain has AMD's shapes") {
  const auto& a = test::dev_authority();
  for (const crypto::Cert* c : {&a.ark(), &a.ask(), &a.asvk()}) {
    EVP_PKEY* key = X509_get0_pubkey(c->get());
    CHECK(EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA);
    CHECK(EVP_PKEY_get_bits(key) == 4096);
    CHECK(X509_get_signature_nid(c->get()) == NID_rsassaPss);
  }
  CHECK(a.ask().subject_cn() == "SEV-Milan");
  CHECK(a.asvk().subject_cn() == "SEV-VLEK-Milan");
  auto e = test::make_dev_evidence(base());
  EVP_PKEY* vcek_key = X509_get0_pubkey(e.signer.get());
  CHECK(EVP_PKEY_get_base_id(vcek_key) == EVP_PKEY_EC);
  CHECK(EVP_PKEY_get_bits(vcek_key) == 384);
  auto ext = parse_vcek_extensions(e.signer);
  REQUIRE(ext.ok());
  CHECK(*ext->product_name == "Milan-B0");
  CHECK(*ext->hwid == Bytes(e.report.chip_id.begin(), e.report.chip_id.end()));
  CHECK(*ext->tcb(Product::milan) == decode_tcb(e.report.reported_tcb, Product::milan));
  CHECK(a.chain_pem().find("BEGIN CERTIFICATE") != std::string::npos);
}

TEST_CASE("dev provider: Genoa, Turin (its own TCB layout) and VLEK-signed reports") {
  for (Product p : {Product::genoa, Product::turin}) {
    auto e = test::make_dev_evidence(base(p), nullptr, p);
    auto v = verify_dev(e, p);
    CHECK_MESSAGE(v.verified(), product_name(p) << " " << failure(v));
    CHECK(v.product == p);
  }
  // Turin: the fmc component is checked, and its hwID is 8 bytes.
  SnpReport turin = base(Product::turin);
  auto spec = test::dev_authority(Product::turin).spec_for(turin);
  CHECK(spec.hwid->size() == 8);
  spec.tcb.fmc += 1;
  auto bad_fmc = test::make_dev_evidence(turin, &spec, Product::turin);
  CHECK(failure(verify_dev(bad_fmc, Product::turin)) == "vcek.tcb");

  SnpReport vlek = base();
  vlek.signer_info = uint32_t(SigningKey::vlek) << 2;
  vlek.chip_id.fill(0);
  auto ev = test::make_dev_evidence(vlek);
  auto v = verify_dev(ev);
  CHECK_MESSAGE(v.verified(), failure(v));
  // A VLEK-signed report whose certificate came from the VCEK path is refused.
  auto vcek_spec = test::dev_authority().spec_for(base());
  auto wrong_kind = test::make_dev_evidence(vlek, &vcek_spec);
  CHECK_FALSE(verify_dev(wrong_kind).verified());
}

TEST_CASE("negative twins: guest policy") {
  auto with_policy = [](uint64_t set, uint64_t clear = 0) {
    SnpReport r = base();
    r.policy = (r.policy | set) & ~clear;
    return test::make_dev_evidence(r);
  };
  CHECK(failure(verify_dev(with_policy(policy_bit::debug))) == "policy.debug");
  CHECK(failure(verify_dev(with_policy(policy_bit::migrate_ma))) == "policy.migrate-ma");
  SnpPolicy allow_ma;
  allow_ma.allow_migrate_ma = true;
  CHECK(verify_dev(with_policy(policy_bit::migrate_ma), Product::milan, allow_ma).verified());

  SnpPolicy single;
  single.require_single_socket = true;
  CHECK(failure(verify_dev(with_policy(0), Product::milan, single)) == "policy.single-socket");
  CHECK(verify_dev(with_policy(policy_bit::single_socket), Product::milan, single).verified());

  SnpPolicy no_smt;
  no_smt.allow_smt = false;
  SnpReport smt = base();
  smt.platform_info |= 1;
  CHECK(failure(verify_dev(test::make_dev_evidence(smt), Product::milan, no_smt)) == "policy.smt");
  smt.platform_info &= ~uint64_t(1);
  CHECK(verify_dev(test::make_dev_evidence(smt), Product::milan, no_smt).verified());

  SnpPolicy abi;
  abi.min_abi = AbiVersion{1, 51};
  SnpReport old_abi = base();
  old_abi.policy |= (1u << 8) | 50u;
  CHECK(failure(verify_dev(test::make_dev_evidence(old_abi), Product::milan, abi)) == "policy.abi");
  old_abi.policy = (old_abi.policy & ~uint64_t(0xffff)) | (1u << 8) | 51u;
  CHECK(verify_dev(test::make_dev_evidence(old_abi), Product::milan, abi).verified());

  SnpPolicy vmpl;
  vmpl.vmpl = 0;
  SnpReport r1 = base();
  r1.vmpl = 1;
  CHECK(failure(verify_dev(test::make_dev_evidence(r1), Product::milan, vmpl)) == "policy.vmpl");
  vmpl.vmpl = 1;
  CHECK(verify_dev(test::make_dev_evidence(r1), Product::milan, vmpl).verified());
}

TEST_CASE("negative twins: minimum TCB, each component, and firmware") {
  auto e = test::make_dev_evidence(base());
  Tcb seen = decode_tcb(e.report.reported_tcb, Product::milan);
  SnpPolicy at_least;
  at_least.min_tcb = seen;
  CHECK(verify_dev(e, Product::milan, at_least).verified());
  for (uint8_t Tcb::*field : {&Tcb::bootloader, &Tcb::tee, &Tcb::snp, &Tcb::microcode}) {
    SnpPolicy p;
    Tcb higher = seen;
    higher.*field = uint8_t(higher.*field + 1);
    p.min_tcb = higher;
    CHECK(failure(verify_dev(e, Product::milan, p)) == "policy.min-tcb");
  }
  // Components are compared one by one, never as one number: a higher microcode does
  // not make up for a lower SNP version.
  SnpPolicy mixed;
  Tcb m = seen;
  m.snp = uint8_t(seen.snp + 1);
  m.microcode = 0;
  mixed.min_tcb = m;
  CHECK(failure(verify_dev(e, Product::milan, mixed)) == "policy.min-tcb");

  SnpPolicy fw;
  fw.min_firmware = FirmwareVersion{1, 55, 35};
  CHECK(verify_dev(e, Product::milan, fw).verified());
  fw.min_firmware = FirmwareVersion{1, 55, 36};
  CHECK(failure(verify_dev(e, Product::milan, fw)) == "policy.firmware");
  fw.min_firmware = FirmwareVersion{2, 0, 0};
  CHECK(failure(verify_dev(e, Product::milan, fw)) == "policy.firmware");
}

TEST_CASE("negative twins: pinned values") {
  SnpReport r = base();
  for (size_t i = 0; i < 48; ++i) {
    r.measurement[i] = uint8_t(i);
    r.id_key_digest[i] = uint8_t(100 + i);
    r.author_key_digest[i] = uint8_t(200 - i);
  }
  for (size_t i = 0; i < 32; ++i) r.host_data[i] = uint8_t(50 + i);
  for (size_t i = 0; i < 64; ++i) r.report_data[i] = uint8_t(i * 3);
  auto e = test::make_dev_evidence(r);

  SnpPolicy all;
  all.measurements = {r.measurement};
  all.report_data = Bytes(r.report_data.begin(), r.report_data.end());
  all.host_data = r.host_data;
  all.id_key_digest = r.id_key_digest;
  all.author_key_digest = r.author_key_digest;
  CHECK(verify_dev(e, Product::milan, all).verified());

  auto flipped = [](auto array) {
    array[array.size() - 1] ^= 1;
    return array;
  };
  SnpPolicy p = all;
  p.measurements = {flipped(r.measurement)};
  CHECK(failure(verify_dev(e, Product::milan, p)) == "policy.measurement");
  p.measurements = {flipped(r.measurement), r.measurement};  // any one may match
  CHECK(verify_dev(e, Product::milan, p).verified());
  p = all;
  p.report_data = Bytes(r.report_data.begin(), r.report_data.begin() + 32);  // a prefix
  CHECK(verify_dev(e, Product::milan, p).verified());
  p.report_data->at(31) ^= 1;
  CHECK(failure(verify_dev(e, Product::milan, p)) == "policy.report-data");
  p = all;
  p.host_data = flipped(r.host_data);
  CHECK(failure(verify_dev(e, Product::milan, p)) == "policy.host-data");
  p = all;
  p.id_key_digest = flipped(r.id_key_digest);
  CHECK(failure(verify_dev(e, Product::milan, p)) == "policy.id-key-digest");
  p = all;
  p.author_key_digest = flipped(r.author_key_digest);
  CHECK(failure(verify_dev(e, Product::milan, p)) == "policy.author-key-digest");
}

TEST_CASE("negative twins: VCEK extensions against the report") {
  SnpReport r = base();
  const auto& a = test::dev_authority();
  auto twin = [&](auto&& edit) {
    DevCertSpec spec = a.spec_for(r);
    edit(spec);
    return verify_dev(test::make_dev_evidence(r, &spec));
  };
  for (uint8_t Tcb::*field : {&Tcb::bootloader, &Tcb::tee, &Tcb::snp, &Tcb::microcode})
    CHECK(failure(twin([&](DevCertSpec& s) { s.tcb.*field = uint8_t(s.tcb.*field + 1); })) == "vcek.tcb");
  CHECK(failure(twin([](DevCertSpec& s) { s.hwid->at(5) ^= 1; })) == "vcek.hwid");
  CHECK(failure(twin([](DevCertSpec& s) { s.hwid.reset(); })) == "vcek.hwid");
  CHECK(failure(twin([](DevCertSpec& s) { s.product_name = "Genoa"; })) == "vcek.product");
  CHECK(failure(twin([](DevCertSpec& s) { s.product_name = "Rome"; })) == "vcek.product");
  // The DER-wrapped hwID encoding is equally accepted.
  auto wrapped = twin([](DevCertSpec& s) { s.hwid_as_octet_string = true; });
  CHECK_MESSAGE(wrapped.verified(), failure(wrapped));
  // Validity at the verification time.
  UnixTime now = now_utc();
  CHECK(failure(twin([&](DevCertSpec& s) { s.not_after = now - 10; })) == "chain.validity");
  CHECK(failure(twin([&](DevCertSpec& s) { s.not_before = now + 3600; })) == "chain.validity");
  // A masked CHIP_ID cannot be matched by a VCEK.
  SnpReport masked = base();
  masked.chip_id.fill(0);
  DevCertSpec spec = a.spec_for(base());
  CHECK(failure(verify_dev(test::make_dev_evidence(masked, &spec))) == "vcek.hwid");
}

TEST_CASE("negative twins: signature and signer") {
  SnpReport r = base();
  auto e = test::make_dev_evidence(r);
  // Signed by a different key than the certificate's.
  auto other = test::make_dev_evidence(r);
  test::DevEvidence swapped{e.report, e.bytes, other.signer};
  CHECK(failure(verify_dev(swapped)) == "report.signature");
  // SIGNING_KEY 7: no signer.
  SnpReport none = r;
  none.signer_info = uint32_t(SigningKey::none) << 2;
  CHECK(failure(verify_dev(test::make_dev_evidence(none))) == "report.signer");
  // Every single-bit flip of a development report is refused too.
  size_t accepted = 0;
  for (size_t i = 0; i < e.bytes.size(); ++i) {
    test::DevEvidence t = e;
    t.bytes[i] ^= uint8_t(1u << (7 - i % 8));
    if (verify_dev(t).verified()) ++accepted;
  }
  CHECK(accepted == 0);
}
