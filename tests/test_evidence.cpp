#include <doctest/doctest.h>

#include "attest/evidence.hpp"
#include "attest/snp_report.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;
using namespace confer::dev;

namespace {
Bytes a_report() { return serialize_report(dev_report_template(Product::milan)); }
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
}  // namespace

TEST_CASE("evidence: raw, base64 and JSON are detected") {
  Bytes raw = a_report();
  auto r = parse_evidence(raw);
  REQUIRE(r.ok());
  CHECK(r->format == EvidenceFormat::raw);
  CHECK(r->report == raw);

  auto b = parse_evidence(text("  " + to_base64(raw) + "\n"));
  REQUIRE(b.ok());
  CHECK(b->format == EvidenceFormat::base64);
  CHECK(b->report == raw);

  std::string json = R"({"platform":"SEV-SNP","attestation":")" + to_base64(raw) +
         R"(","manifest":"ignored","collateral":{"vcek":")" + to_base64(Bytes{1, 2, 3}) + R"("}})";
  auto j = parse_evidence(text(json));
  REQUIRE_MESSAGE(j.ok(), j.error().message);
  CHECK(j->format == EvidenceFormat::json);
  CHECK(j->report == raw);
  CHECK(*j->vcek == Bytes{1, 2, 3});
  CHECK_FALSE(j->chain.has_value());
}

TEST_CASE("evidence: errors say what was expected and what was seen") {
  auto err = [](const Bytes& b) {
    auto e = parse_evidence(b);
    REQUIRE_FALSE(e.ok());
    return e.error().message;
  };
  Bytes raw = a_report();
  CHECK(err(Bytes(raw.begin(), raw.begin() + 100)).find("saw 100 bytes") != std::string::npos);
  CHECK(err(text(to_base64(Bytes(raw.begin(), raw.begin() + 99)))).find("saw 99 bytes") != std::string::npos);
  CHECK(err(text(R"({"platform":"SGX","attestation":"AA=="})")).find("expected platform \"SEV-SNP\" or \"TDX\"") != std::string::npos);
  CHECK(err(text(R"({"platform":"TDX","attestation":"AA=="})")).find("\"dcap:<base64 quote>\"") != std::string::npos);
  CHECK(err(text(R"({"platform":"TDX","attestation":"dcap:AAAA"})")).find("expected a TDX quote") != std::string::npos);
  CHECK(err(text(R"({"platform":"SEV-SNP"})")).find("\"attestation\"") != std::string::npos);
  CHECK(err(text(R"({"attestation":"%%%"})")).find("base64") != std::string::npos);
  CHECK(err(text(R"({"attestation":")" + to_base64(raw) + R"(","collateral":{"vcek":7}})")).find("\"vcek\"") != std::string::npos);
  CHECK(err(text("{ not json")).find("JSON object") != std::string::npos);
  CHECK(err(text("hello, world")).find("none of these") != std::string::npos);
  CHECK(err(Bytes{}).find("none of these") != std::string::npos);
}

TEST_CASE("evidence: HCL wrapper") {
  Bytes raw = a_report();
  std::string runtime = R"({"keys":[]})";
  Bytes hcl(0x20, 0);
  hcl[0] = 'H'; hcl[1] = 'C'; hcl[2] = 'L'; hcl[3] = 'A';
  hcl.insert(hcl.end(), raw.begin(), raw.end());
  Bytes header(20);
  store_le32(header.data(), uint32_t(20 + runtime.size()));
  store_le32(header.data() + 4, 1);
  store_le32(header.data() + 8, 2);
  store_le32(header.data() + 12, 1);
  store_le32(header.data() + 16, uint32_t(runtime.size()));
  hcl.insert(hcl.end(), header.begin(), header.end());
  hcl.insert(hcl.end(), runtime.begin(), runtime.end());
  auto e = parse_evidence(hcl);
  REQUIRE_MESSAGE(e.ok(), e.error().message);
  CHECK(e->format == EvidenceFormat::hcl);
  CHECK(e->report == raw);
  CHECK(e->hcl->json == text(runtime));
  CHECK(e->hcl->hash_type == 1);
  Bytes truncated(hcl.begin(), hcl.end() - 2);
  CHECK_FALSE(parse_evidence(truncated).ok());
  Bytes wrong_type = hcl;
  store_le32(wrong_type.data() + 0x4C0 + 8, 4);  // TDX
  CHECK_FALSE(parse_evidence(wrong_type).ok());
  // base64 of an HCL report is also an HCL report.
  auto b = parse_evidence(text(to_base64(hcl)));
  REQUIRE(b.ok());
  CHECK(b->format == EvidenceFormat::hcl);
}

TEST_CASE("evidence document: what the server writes, --save adds to and the client reads, round trips") {
  EvidenceDocument doc;
  doc.attestation = to_base64(a_report());
  doc.vcek = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
  doc.chain = doc.vcek;
  doc.manifest = R"({"imageVersion":"1"})";
  doc.manifest_bundle = "{}";
  doc.channel = SavedChannel{std::string(64, 'a'), "ws://127.0.0.1:1", "2026-01-01T00:00:00Z"};
  doc.extra["tdxMeasurements"] = nlohmann::json::array({"x"});
  auto back = EvidenceDocument::parse(doc.serialize(2));
  REQUIRE(back.ok());
  CHECK(back->platform == "SEV-SNP");
  CHECK(back->attestation == doc.attestation);
  CHECK(back->vcek == doc.vcek);
  CHECK(back->chain == doc.chain);
  CHECK(back->manifest == doc.manifest);
  CHECK(back->manifest_bundle == doc.manifest_bundle);
  REQUIRE(back->channel.has_value());
  CHECK(back->channel->url == "ws://127.0.0.1:1");
  CHECK(back->extra["tdxMeasurements"][0] == "x");  // unknown fields are kept, not dropped
  auto e = parse_evidence(text(doc.serialize()));
  REQUIRE(e.ok());
  CHECK(e->manifest == doc.manifest);
  CHECK(e->channel_key.has_value());

  // Absent manifest fields are null on the wire and absent after parsing.
  EvidenceDocument bare;
  bare.attestation = doc.attestation;
  CHECK(bare.serialize().find(R"("manifest":null)") != std::string::npos);
  CHECK_FALSE(EvidenceDocument::parse(bare.serialize())->manifest.has_value());

  // Negative twins: wrong types are named, and so is a wrong channel key.
  auto err = [](const std::string& s) {
    auto r = EvidenceDocument::parse(s);
    return r ? std::string() : r.error().message;
  };
  CHECK(err(R"({"manifest":7})").find("\"manifest\"") != std::string::npos);
  CHECK(err(R"({"collateral":[]})").find("\"collateral\"") != std::string::npos);
  CHECK(err(R"({"platform":1})").find("platform") != std::string::npos);
  CHECK(err("[1]").find("expected a JSON object") != std::string::npos);
  doc.channel->server_static_key = "zz";
  auto bad_key = parse_evidence(text(doc.serialize()));
  REQUIRE_FALSE(bad_key.ok());
  CHECK(bad_key.error().message.find("server_static_key") != std::string::npos);
}
