#include <doctest/doctest.h>

#include "dev/snp_authority.hpp"
#include "attest/snp_report.hpp"

using namespace confer;
using namespace confer::attest;
using namespace confer::dev;

namespace {
Bytes template_bytes(uint32_t version = 3) {
  SnpReport r = dev_report_template(Product::milan);
  r.version = version;
  if (version >= 5) r.launch_mit_vector = r.current_mit_vector = 0xb;
  if (version < 3) r.cpuid_family = r.cpuid_model = r.cpuid_stepping = 0;
  return serialize_report(r);
}
std::string parse_error(const Bytes& b) {
  auto r = parse_report(b);
  return r ? std::string() : r.error().message;
}
}  // namespace

TEST_CASE("report: serialise and parse are inverses for versions 2, 3 and 5") {
  for (uint32_t v : {2u, 3u, 5u}) {
    Bytes b = template_bytes(v);
    auto r = parse_report(b);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->version == v);
    CHECK(serialize_report(*r) == b);
  }
}

TEST_CASE("report: sizes, versions, algorithms and signing keys") {
  Bytes b = template_bytes();
  CHECK(parse_error(Bytes(b.begin(), b.end() - 1)).find("expected 1184 bytes, saw 1183") != std::string::npos);
  Bytes longer = b;
  longer.push_back(0);
  CHECK_FALSE(parse_report(longer).ok());
  for (uint32_t v : {0u, 1u, 4u, 6u, 0xffffffffu}) {
    Bytes x = b;
    store_le32(x.data(), v);
    CHECK(parse_error(x).find("expected version 2, 3 or 5") != std::string::npos);
  }
  for (uint32_t alg : {0u, 2u, 0x100u}) {
    Bytes x = b;
    store_le32(x.data() + 0x34, alg);
    CHECK(parse_error(x).find("signature algorithm") != std::string::npos);
  }
  for (uint32_t key : {2u, 3u, 4u, 5u, 6u}) {
    Bytes x = b;
    store_le32(x.data() + 0x48, key << 2);
    CHECK(parse_error(x).find("reserved value") != std::string::npos);
  }
  Bytes x = b;
  store_le32(x.data() + 0x48, 1u << 5);
  CHECK(parse_error(x).find("bits 31:5") != std::string::npos);
  x = b;
  store_le32(x.data() + 0x30, 4);
  CHECK(parse_error(x).find("VMPL") != std::string::npos);
}

TEST_CASE("report: policy reserved bits") {
  Bytes b = template_bytes();
  Bytes x = b;
  store_le64(x.data() + 8, load_le64(b.data() + 8) & ~policy_bit::reserved_one);
  CHECK(parse_error(x).find("bit 17 must be 1") != std::string::npos);
  for (int bit : {26, 40, 63}) {
    x = b;
    store_le64(x.data() + 8, load_le64(b.data() + 8) | (1ull << bit));
    CHECK(parse_error(x).find("bits 63:26") != std::string::npos);
  }
}

TEST_CASE("report: every reserved byte must be zero") {
  struct Range { size_t begin, end; uint32_t version; };
  // CPUID bytes are reserved in v2; the mitigation vectors before v5.
  const Range ranges[] = {{0x04C, 0x050, 3}, {0x188, 0x18B, 2}, {0x18B, 0x1A0, 3}, {0x1EB, 0x1EC, 3},
                          {0x1EF, 0x1F0, 3}, {0x1F8, 0x208, 3}, {0x208, 0x2A0, 5}, {0x2A0 + 48, 0x2E8, 3},
                          {0x2E8 + 48, 0x330, 3}, {0x330, 0x4A0, 3}};
  for (const auto& range : ranges) {
    Bytes b = template_bytes(range.version);
    for (size_t at = range.begin; at < range.end; ++at) {
      Bytes x = b;
      x[at] ^= 0x01;
      CHECK_MESSAGE(!parse_report(x).ok(), "byte 0x" << std::hex << at);
    }
  }
  // The same bytes carry data in the versions that define them.
  Bytes v3 = template_bytes(3);
  CHECK(parse_report(v3)->cpuid_family == 0x19);
  Bytes v5 = template_bytes(5);
  CHECK(parse_report(v5)->launch_mit_vector == 0xb);
}

TEST_CASE("report: TCB byte layouts differ on Turin") {
  // Milan example from the ABI vectors: bytes 02 00 00 00 00 00 05 44.
  uint64_t raw = 0x4405000000000002ull;
  Tcb milan = decode_tcb(raw, Product::milan);
  CHECK(milan == Tcb{.fmc = 0, .bootloader = 2, .tee = 0, .snp = 5, .microcode = 0x44});
  CHECK(encode_tcb(milan, Product::milan) == raw);
  CHECK(tcb_string(milan, Product::milan) == "bl=2 tee=0 snp=5 ucode=68");
  Tcb turin{.fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 9};
  uint64_t t = encode_tcb(turin, Product::turin);
  CHECK(t == 0x0900000004030201ull);
  CHECK(decode_tcb(t, Product::turin) == turin);
  CHECK(decode_tcb(t, Product::milan) != turin);
  CHECK(tcb_string(turin, Product::turin) == "bl=2 tee=3 snp=4 ucode=9 fmc=1");
}

TEST_CASE("report: product line from CPUID") {
  SnpReport r = dev_report_template(Product::milan);
  auto product = [&](uint8_t fam, uint8_t model) {
    r.cpuid_family = fam;
    r.cpuid_model = model;
    return r.product_from_cpuid();
  };
  CHECK(product(0x19, 0x01) == Product::milan);
  CHECK(product(0x19, 0x11) == Product::genoa);
  CHECK(product(0x19, 0xA0) == Product::genoa);
  CHECK(product(0x1A, 0x02) == Product::turin);
  CHECK(product(0x19, 0x30) == Product::unknown);
  CHECK(product(0x17, 0x01) == Product::unknown);
  r.version = 2;
  CHECK(product(0x19, 0x01) == Product::unknown);
  CHECK(product_from_name("Milan-B0") == Product::milan);
  CHECK(product_from_name("genoa") == Product::genoa);
  CHECK(product_from_name("Rome") == Product::unknown);
}
