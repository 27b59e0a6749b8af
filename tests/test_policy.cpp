#include <doctest/doctest.h>

#include "attest/snp_policy.hpp"

using namespace confer;
using namespace confer::attest;

TEST_CASE("policy file: every key") {
  std::string m(96, 'a');
  auto p = parse_policy_json(R"({"vmpl":0,"allow_migrate_ma":true,"allow_smt":false,
    "require_single_socket":true,"min_tcb":{"bl":3,"tee":0,"snp":8,"ucode":115,"fmc":1},
    "min_abi":"1.51","min_firmware":"1.55.35","measurements":[")" + m + R"("],
    "report_data":"0102","host_data":")" + std::string(64, 'b') + R"(",
    "id_key_digest":")" + std::string(96, 'c') + R"(","author_key_digest":")" + std::string(96, 'd') + R"("})");
  REQUIRE_MESSAGE(p.ok(), p.error().message);
  CHECK(*p->vmpl == 0);
  CHECK(p->allow_migrate_ma);
  CHECK_FALSE(p->allow_smt);
  CHECK(p->require_single_socket);
  CHECK(*p->min_tcb == Tcb{.fmc = 1, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115});
  CHECK(p->min_abi->major == 1);
  CHECK(p->min_abi->minor == 51);
  CHECK(*p->min_firmware == FirmwareVersion{1, 55, 35});
  CHECK(p->measurements.size() == 1);
  CHECK(*p->report_data == Bytes{1, 2});
  CHECK(p->host_data->at(0) == 0xbb);
  CHECK(p->id_key_digest->at(0) == 0xcc);
  CHECK(p->author_key_digest->at(0) == 0xdd);
  // A single measurement string is accepted too.
  CHECK(parse_policy_json(R"({"measurement":")" + m + R"("})")->measurements.size() == 1);
}

TEST_CASE("policy file: errors name what was expected") {
  auto err = [](const std::string& json) {
    auto p = parse_policy_json(json);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code == Errc::usage);
    return p.error().message;
  };
  CHECK(err(R"({"allow_debug":true})").find("unknown key \"allow_debug\"") != std::string::npos);
  CHECK(err(R"({"vmpl":4})").find("0-3") != std::string::npos);
  CHECK(err(R"({"vmpl":"0"})").find("0-3") != std::string::npos);
  CHECK(err(R"({"min_tcb":{"microcode":1}})").find("expected bl, tee") != std::string::npos);
  CHECK(err(R"({"min_tcb":{"bl":256}})").find("0-255") != std::string::npos);
  CHECK(err(R"({"min_abi":"1"})").find("2 dot-separated") != std::string::npos);
  CHECK(err(R"({"min_firmware":"1.x.3"})").find("0-255") != std::string::npos);
  CHECK(err(R"({"measurements":["abcd"]})").find("expected 96 hex digits (SHA-384), saw 4") != std::string::npos);
  CHECK(err(R"({"report_data":""})").find("1 to 64") != std::string::npos);
  CHECK(err(R"({"allow_smt":"no"})").find("true or false") != std::string::npos);
  CHECK(err("[1]").find("JSON object") != std::string::npos);
  CHECK(err("{").find("JSON object") != std::string::npos);
}

TEST_CASE("--min-tcb spec") {
  CHECK(*parse_tcb_spec("bl=3,tee=0,snp=8,ucode=115") == Tcb{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115});
  CHECK(*parse_tcb_spec("snp=8") == Tcb{.fmc = 0, .bootloader = 0, .tee = 0, .snp = 8, .microcode = 0});
  CHECK(parse_tcb_spec("fmc=2")->fmc == 2);
  CHECK_FALSE(parse_tcb_spec("bl=3,bl=4").ok());
  CHECK_FALSE(parse_tcb_spec("bl=300").ok());
  CHECK_FALSE(parse_tcb_spec("bl").ok());
  CHECK_FALSE(parse_tcb_spec("rom=1").ok());
  CHECK_FALSE(parse_tcb_spec("").ok());
  CHECK_FALSE(parse_tcb_spec("bl=3,").ok());
}
