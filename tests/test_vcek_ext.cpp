#include <doctest/doctest.h>

#include "attest/vcek_ext.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;

TEST_CASE("VCEK extension value decoders") {
  CHECK(*decode_der_integer(Bytes{0x02, 0x01, 0x73}) == 115);
  CHECK(*decode_der_integer(Bytes{0x02, 0x02, 0x00, 0xd9}) == 217);
  CHECK(*decode_der_integer(Bytes{0x02, 0x01, 0xff}) == -1);
  CHECK_FALSE(decode_der_integer(Bytes{0x02, 0x02, 0x00, 0x01}).ok());  // non-minimal
  CHECK_FALSE(decode_der_integer(Bytes{0x02, 0x02, 0x01}).ok());        // short
  CHECK_FALSE(decode_der_integer(Bytes{0x02, 0x01, 0x01, 0x00}).ok());  // trailing
  CHECK_FALSE(decode_der_integer(Bytes{0x04, 0x01, 0x01}).ok());        // wrong tag
  CHECK_FALSE(decode_der_integer(Bytes{}).ok());
  CHECK(*decode_der_ia5(Bytes{0x16, 0x05, 'M', 'i', 'l', 'a', 'n'}) == "Milan");
  CHECK_FALSE(decode_der_ia5(Bytes{0x16, 0x01, 0x80}).ok());
  CHECK_FALSE(decode_der_ia5(Bytes{0x0c, 0x01, 'a'}).ok());

  Bytes raw(64);
  for (size_t i = 0; i < 64; ++i) raw[i] = uint8_t(i);
  CHECK(*decode_hwid(raw) == raw);
  Bytes wrapped{0x04, 0x40};
  wrapped.insert(wrapped.end(), raw.begin(), raw.end());
  CHECK(*decode_hwid(wrapped) == raw);
  // A raw hwID that happens to start like an OCTET STRING header is still raw.
  Bytes tricky = raw;
  tricky[0] = 0x04;
  tricky[1] = 0x3e;
  CHECK(*decode_hwid(tricky) == tricky);
  Bytes turin{1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(*decode_hwid(turin) == turin);
  CHECK_FALSE(decode_hwid(Bytes(63)).ok());
  Bytes bad_wrap = wrapped;
  bad_wrap[0] = 0x05;
  CHECK_FALSE(decode_hwid(bad_wrap).ok());
}

TEST_CASE("VCEK extensions: duplicates and out-of-range SPLs are errors") {
  std::string p = kAmdOidPrefix;
  std::vector<RawExtension> dup{{p + "3.1", {0x02, 0x01, 0x03}}, {p + "3.1", {0x02, 0x01, 0x03}}};
  CHECK_FALSE(parse_vcek_extensions(dup).ok());
  std::vector<RawExtension> big{{p + "3.8", {0x02, 0x02, 0x01, 0x00}}};
  auto r = parse_vcek_extensions(big);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("0-255") != std::string::npos);
  std::vector<RawExtension> other{{"1.2.3.4", {0xff}}};
  CHECK(parse_vcek_extensions(other).ok());
  VcekExtensions none;
  auto tcb = none.tcb(Product::milan);
  REQUIRE_FALSE(tcb.ok());
  CHECK(tcb.error().message.find("blSPL") != std::string::npos);
}

TEST_CASE("VCEK extensions of real certificates") {
  if (!test::have_vectors()) return;
  auto cert = crypto::Cert::from_der(test::vector_file("sev-snp/milan-virtee-v2/vcek.der"));
  REQUIRE(cert.ok());
  auto ext = parse_vcek_extensions(*cert);
  REQUIRE(ext.ok());
  CHECK(*ext->product_name == "Milan-B0");
  CHECK(ext->tcb(Product::milan)->microcode == 115);
  CHECK(ext->hwid->size() == 64);
  CHECK(to_hex(*ext->hwid).rfind("d49554ec717f4e5b", 0) == 0);

  auto vlek = crypto::Cert::from_der(test::vector_file("sev-snp/milan-vlek-aws-v3/vlek.der"));
  REQUIRE(vlek.ok());
  auto vext = parse_vcek_extensions(*vlek);
  REQUIRE(vext.ok());
  CHECK_FALSE(vext->hwid.has_value());
  CHECK(*vext->csp_id == "CN=cc-us-east-2.amazonaws.com");
  CHECK(*vext->product_name == "Milan");

  auto turin = crypto::Cert::from_der(test::vector_file("sev-snp/turin-chain-only/vcek.der"));
  REQUIRE(turin.ok());
  auto text = parse_vcek_extensions(*turin);
  REQUIRE(text.ok());
  CHECK(*text->struct_version == 1);
  CHECK(to_hex(*text->hwid) == "1e550a8ee5cf9f4d");
  CHECK(text->fmc_spl.has_value());
  CHECK(*text->tcb(Product::turin) == Tcb{.fmc = 0, .bootloader = 0, .tee = 0, .snp = 0, .microcode = 9});

  Bytes counting(64);
  for (size_t i = 0; i < 64; ++i) counting[i] = uint8_t(i);
  for (const char* name : {"vcek-fake-hwid-legacy.der", "vcek-fake-hwid-octetstring.der"}) {
    auto fake = crypto::Cert::from_der(test::vector_file(std::string("sev-snp/negative-fake-vcek/") + name));
    REQUIRE(fake.ok());
    auto fext = parse_vcek_extensions(*fake);
    REQUIRE_MESSAGE(fext.ok(), name);
    CHECK_MESSAGE(*fext->hwid == counting, name);
  }
}
