#include <doctest/doctest.h>

#include <filesystem>

#include "attest/evidence.hpp"
#include "attest/kds.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;
using namespace confer::dev;

TEST_CASE("KDS: request URL and cache name") {
  SnpReport r = dev_report_template(Product::milan);
  for (size_t i = 0; i < 64; ++i) r.chip_id[i] = uint8_t(i);
  r.reported_tcb = encode_tcb({.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115}, Product::milan);
  auto req = vcek_request_for(r, Product::milan);
  REQUIRE(req.ok());
  std::string hwid = to_hex(ByteView(r.chip_id));
  CHECK(vcek_path(*req) == "/vcek/v1/Milan/" + hwid + "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115");
  CHECK(vcek_cache_name(*req) == "kds/vcek/Milan/" + hwid + "-bl3-tee0-snp8-ucode115.der");

  SnpReport t = dev_report_template(Product::turin);
  auto treq = vcek_request_for(t, Product::turin);
  REQUIRE(treq.ok());
  CHECK(treq->hwid.size() == 8);
  CHECK(vcek_path(*treq).find("/vcek/v1/Turin/" + to_hex(ByteView(t.chip_id).first(8)) + "?") == 0);
  CHECK(vcek_path(*treq).find("&fmcSPL=1") != std::string::npos);

  SnpReport vlek = r;
  vlek.signer_info = 1u << 2;
  CHECK_FALSE(vcek_request_for(vlek, Product::milan).ok());
  SnpReport masked = r;
  masked.chip_id.fill(0);
  CHECK_FALSE(vcek_request_for(masked, Product::milan).ok());
  CHECK_FALSE(vcek_request_for(r, Product::unknown).ok());
}

TEST_CASE("KDS through the binary: fetched once from loopback, cached, then used offline") {
  const auto& authority = test::dev_authority();
  SnpReport r = dev_report_template(Product::milan);
  auto e = test::make_dev_evidence(r);
  test::TempDir dir;
  std::string report = dir.file("report.bin", e.bytes);
  std::string chain = dir.file("chain.pem", authority.chain_pem());
  std::string root = dir.file("root.pem", authority.ark().pem());
  std::string cache = dir.path() + "/cache";
  std::vector<std::string> args{"verify-attestation", "--evidence", report, "--chain", chain, "--trust-root", root};

  test::LoopbackHttp kds(200, e.signer.der());
  std::map<std::string, std::string> env{{"XDG_CACHE_HOME", cache}, {"CONFER_KDS_URL", kds.base_url()}};
  auto first = test::run_confer(args, env);
  CHECK_MESSAGE(first.exit_code == 0, first.err);
  auto targets = kds.targets();
  REQUIRE(targets.size() == 1);
  auto req = vcek_request_for(e.report, Product::milan);
  CHECK(targets[0] == vcek_path(*req));
  CHECK(first.err.find("fetched the VCEK from " + kds.base_url()) != std::string::npos);
  std::string cached = cache + "/confer/" + vcek_cache_name(*req);
  CHECK(std::filesystem::exists(cached));

  auto again_args = args;
  again_args.push_back("--offline");
  auto second = test::run_confer(again_args, env);
  CHECK_MESSAGE(second.exit_code == 0, second.err);
  CHECK(second.err.find("using the cached VCEK") != std::string::npos);
  CHECK(kds.targets().size() == 1);  // no second request

  // A damaged cache entry is fetched again and replaced; offline it is not trusted.
  REQUIRE(write_file_atomic(cached, as_bytes("not a certificate")).ok());
  auto damaged_offline = test::run_confer(again_args, env);
  CHECK(damaged_offline.exit_code == 1);
  auto refetched = test::run_confer(args, env);
  CHECK_MESSAGE(refetched.exit_code == 0, refetched.err);
  CHECK(kds.targets().size() == 2);
  CHECK(*read_file(cached) == e.signer.der());
}

TEST_CASE("KDS through the binary: offline without a cache, errors and junk are not cached") {
  auto e = test::make_dev_evidence(dev_report_template(Product::milan));
  test::TempDir dir;
  std::string report = dir.file("report.bin", e.bytes);
  std::string cache = dir.path() + "/cache";
  std::vector<std::string> args{"verify-attestation", "--evidence", report};

  auto offline = test::run_confer({"verify-attestation", "--evidence", report, "--offline"},
                                  {{"XDG_CACHE_HOME", cache}, {"CONFER_KDS_URL", "http://127.0.0.1:9"}});
  CHECK(offline.exit_code == 1);
  CHECK(offline.err.find("--offline forbids") != std::string::npos);
  CHECK(offline.out.empty());

  test::LoopbackHttp missing(404, Bytes{'n', 'o'});
  auto not_found = test::run_confer(args, {{"XDG_CACHE_HOME", cache}, {"CONFER_KDS_URL", missing.base_url()}});
  CHECK(not_found.exit_code == 1);
  CHECK(not_found.err.find("expected HTTP 200, saw 404") != std::string::npos);

  test::LoopbackHttp junk(200, Bytes{'<', 'h', 't', 'm', 'l', '>'});
  auto bad = test::run_confer(args, {{"XDG_CACHE_HOME", cache}, {"CONFER_KDS_URL", junk.base_url()}});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("not a DER certificate") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(cache + "/confer/kds"));
}
