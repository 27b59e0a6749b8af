// confer verify-attestation with TDX quotes, ITA tokens and NVIDIA GPU evidence,
// through the real binary: exit codes, the named check, --json.
#include <doctest/doctest.h>

#include <atomic>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/tdx_verify.hpp"
#include "dev/ita_issuer.hpp"
#include "dev/tdx_authority.hpp"
#include "support/support.hpp"

using namespace confer;

namespace {

std::string vpath(const std::string& rel) { return test::vectors_dir() + "/" + rel; }

const char* kTinfoil = "tdx/tinfoil-v4-90c06f-uptodate";
const char* kTinfoilAt = "2026-01-20T00:00:00Z";

test::Run confer_run(const std::vector<std::string>& args) { return test::run_confer(args); }

// The collateral directory layout (docs/verification.md) from a development authority.
void write_collateral(const test::TempDir& dir, const attest::TdxCollateral& c) {
  dir.file("tcb_info.json", *c.tcb_info);
  dir.file("tcb_info_issuer_chain.pem", *c.tcb_info_chain);
  dir.file("qe_identity.json", *c.qe_identity);
  dir.file("qe_identity_issuer_chain.pem", *c.qe_identity_chain);
  dir.file("pck_crl.der", *c.pck_crl);
  dir.file("root_ca_crl.der", *c.root_crl);
}

}  // namespace

TEST_CASE("TDX vectors through the binary: verified in the window, refused today for stale collateral, pins") {
  if (!test::have_vectors()) return;
  std::string quote = vpath(std::string(kTinfoil) + "/quote.bin");
  std::string collateral = vpath(std::string(kTinfoil) + "/collateral");
  auto ok = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral, "--at", kTinfoilAt});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("Intel TDX quote: version 4, TD 1.0 body") != std::string::npos);
  CHECK(ok.out.find("verdict: verified") != std::string::npos);
  CHECK(ok.err.empty());

  auto json = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral, "--at", kTinfoilAt,
                          "--json"});
  REQUIRE(json.exit_code == 0);
  auto j = nlohmann::json::parse(json.out);
  CHECK(j["verdict"] == "verified");
  CHECK(j["platform"] == "TDX");
  CHECK(j["appraisal"] == "local");
  CHECK(j["trust_root"] == "intel");
  CHECK(j["tcb"]["status"] == "UpToDate");
  CHECK(j["quote"]["mrtd"] ==
        "7357a10d2e2724dffe68813e3cc4cfcde6814d749f2fb62e3953e54f6e0b50a219786afe2cd478f684b52c61837e1114");

  auto today = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral});
  CHECK(today.exit_code == 3);
  CHECK(today.err.find("attestation refused: crl.root") != std::string::npos);
  CHECK(today.err.find("stale") != std::string::npos);
  CHECK(today.err.find("--at TIME") != std::string::npos);

  std::string rtmr1 = "896d8b9138548e63779a121b8c2b1a087ddaa39901e1fd096319ff0005b9699fe04dd13adb33063a1d65dd4bcdc2f5b1";
  auto pinned = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral, "--at", kTinfoilAt,
                            "--expect-rtmr", "1=" + rtmr1, "--expect-mrtd",
                            "7357a10d2e2724dffe68813e3cc4cfcde6814d749f2fb62e3953e54f6e0b50a219786afe2cd478f684b52c61837e1114"});
  CHECK(pinned.exit_code == 0);
  CHECK(pinned.out.find("ok      policy.rtmr1") != std::string::npos);
  auto wrong_mrtd = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral, "--at",
                                kTinfoilAt, "--expect-mrtd", std::string(96, 'a')});
  CHECK(wrong_mrtd.exit_code == 3);
  CHECK(wrong_mrtd.err.find("attestation refused: policy.mrtd") != std::string::npos);
  auto wrong_rtmr = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral, "--at",
                                kTinfoilAt, "--expect-rtmr", "2=" + rtmr1});
  CHECK(wrong_rtmr.exit_code == 3);
  CHECK(wrong_rtmr.err.find("policy.rtmr2") != std::string::npos);
  auto bad_spec = confer_run({"verify-attestation", "--evidence", quote, "--expect-rtmr", "4=" + rtmr1});
  CHECK(bad_spec.exit_code == 2);
  CHECK(bad_spec.err.find("--expect-rtmr") != std::string::npos);
  // --vcek is SEV-SNP collateral.
  auto vcek = confer_run({"verify-attestation", "--evidence", quote, "--vcek", quote});
  CHECK(vcek.exit_code == 2);

  // The OutOfDate vector: refused by default, accepted by a policy that says so.
  std::string trustee = "tdx/trustee-v4-00a06d-outofdate";
  auto old = confer_run({"verify-attestation", "--evidence", vpath(trustee + "/quote.bin"), "--collateral",
                         vpath(trustee + "/collateral"), "--at", kTinfoilAt});
  CHECK(old.exit_code == 3);
  CHECK(old.err.find("tcb.status") != std::string::npos);
  test::TempDir dir;
  std::string policy = dir.file("policy.json", std::string(R"({"tdx": {"accepted_tcb_statuses": ["UpToDate", "OutOfDate"]}})"));
  auto lenient = confer_run({"verify-attestation", "--evidence", vpath(trustee + "/quote.bin"), "--collateral",
                             vpath(trustee + "/collateral"), "--at", kTinfoilAt, "--policy", policy});
  CHECK(lenient.exit_code == 0);
  std::string typo = dir.file("typo.json", std::string(R"({"tdx": {"acepted_tcb_statuses": ["OutOfDate"]}})"));
  auto refused_policy = confer_run({"verify-attestation", "--evidence", vpath(trustee + "/quote.bin"), "--policy", typo});
  CHECK(refused_policy.exit_code == 2);
  CHECK(refused_policy.err.find("tdx.acepted_tcb_statuses") != std::string::npos);
}

TEST_CASE("TDX evidence JSON with dcap: and the collateral inside verifies offline, and base64 quotes are read") {
  if (!test::have_vectors()) return;
  auto dir_c = attest::read_tdx_collateral_dir(vpath(std::string(kTinfoil) + "/collateral"));
  REQUIRE(dir_c.ok());
  Bytes quote = test::vector_file(std::string(kTinfoil) + "/quote.bin");
  nlohmann::json doc = {
      {"platform", "TDX"},
      {"attestation", "dcap:" + to_base64(quote)},
      {"collateral",
       {{"tcb_info", *dir_c->tcb_info},
        {"tcb_info_issuer_chain", std::string(dir_c->tcb_info_chain->begin(), dir_c->tcb_info_chain->end())},
        {"qe_identity", *dir_c->qe_identity},
        {"qe_identity_issuer_chain", std::string(dir_c->qe_identity_chain->begin(), dir_c->qe_identity_chain->end())},
        {"pck_crl", to_base64(*dir_c->pck_crl)},
        {"root_ca_crl", to_base64(*dir_c->root_crl)}}}};
  test::TempDir dir;
  auto r = confer_run({"verify-attestation", "--evidence", dir.file("evidence.json", doc.dump()), "--at", kTinfoilAt});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("evidence      evidence JSON") != std::string::npos);
  auto b64 = confer_run({"verify-attestation", "--evidence", dir.file("quote.b64", to_base64(quote) + "\n"),
                         "--collateral", vpath(std::string(kTinfoil) + "/collateral"), "--at", kTinfoilAt});
  CHECK(b64.exit_code == 0);
  CHECK(b64.out.find("base64 quote") != std::string::npos);
  // Without collateral the quote still names what is missing.
  auto bare = confer_run({"verify-attestation", "--evidence", vpath(std::string(kTinfoil) + "/quote.bin"), "--at",
                          kTinfoilAt, "--offline"});
  CHECK(bare.exit_code == 3);
  CHECK(bare.err.find("crl.root") != std::string::npos);
  CHECK(bare.out.find("none given") != std::string::npos);
}

TEST_CASE("a development TDX quote through the binary: accepted only with --trust-root, and flagged") {
  auto authority = dev::DevTdxAuthority::create(now_utc());
  REQUIRE(authority.ok());
  dev::DevQuoteSpec spec;
  spec.body = dev::DevTdxAuthority::body_template();
  auto quote = authority->build_quote(spec);
  REQUIRE(quote.ok());
  auto collateral = authority->collateral();
  REQUIRE(collateral.ok());
  test::TempDir dir, col;
  write_collateral(col, *collateral);
  std::string q = dir.file("quote.bin", *quote);
  std::string root = dir.file("root.pem", authority->root().pem());
  auto trusted = confer_run({"verify-attestation", "--evidence", q, "--collateral", col.path(), "--trust-root", root});
  CHECK(trusted.exit_code == 0);
  CHECK(trusted.out.find("development root (NOT Intel)") != std::string::npos);
  CHECK(trusted.err.find("NOT to Intel") != std::string::npos);
  auto untrusted = confer_run({"verify-attestation", "--evidence", q, "--collateral", col.path()});
  CHECK(untrusted.exit_code == 3);
  CHECK(untrusted.err.find("attestation refused: pck.chain") != std::string::npos);
  CHECK(untrusted.err.find("--trust-root") != std::string::npos);
  spec.corrupt_qe_report_data = true;
  auto tampered = authority->build_quote(spec);
  REQUIRE(tampered.ok());
  auto bad = confer_run({"verify-attestation", "--evidence", dir.file("bad.bin", *tampered), "--collateral", col.path(),
                         "--trust-root", root, "--json"});
  CHECK(bad.exit_code == 3);
  CHECK(nlohmann::json::parse(bad.out)["first_failure"] == "qe.report-data");
}

TEST_CASE("an Intel Trust Authority token through the binary: checked with --ita-jwks, and labelled") {
  auto issuer = dev::DevItaIssuer::create("PS384");
  REQUIRE(issuer.ok());
  UnixTime now = now_utc();
  auto token = issuer->mint(dev::tdx_claims_template(now));
  REQUIRE(token.ok());
  test::TempDir dir;
  std::string jwks = dir.file("jwks.json", issuer->jwks_json());
  std::string file = dir.file("token.jwt", *token + "\n");
  auto ok = confer_run({"verify-attestation", "--evidence", file, "--ita-jwks", jwks, "--json"});
  CHECK(ok.exit_code == 0);
  auto j = nlohmann::json::parse(ok.out);
  CHECK(j["appraisal"] == "intel-trust-authority");
  CHECK(j["verdict"] == "verified");
  CHECK(ok.err.find("Intel checked the quote") != std::string::npos);
  // In evidence JSON too.
  nlohmann::json doc = {{"platform", "TDX"}, {"attestation", *token}};
  auto in_json = confer_run({"verify-attestation", "--evidence", dir.file("e.json", doc.dump()), "--ita-jwks", jwks});
  CHECK(in_json.exit_code == 0);
  CHECK(in_json.out.find("appraised by Intel Trust Authority") != std::string::npos);
  // No key built in; a wrong key; an expired token; a pin on the claims.
  auto no_key = confer_run({"verify-attestation", "--evidence", file});
  CHECK(no_key.exit_code == 3);
  CHECK(no_key.err.find("ita.signature") != std::string::npos);
  CHECK(no_key.err.find("--ita-jwks") != std::string::npos);
  auto stranger = dev::DevItaIssuer::create("PS384");
  REQUIRE(stranger.ok());
  auto wrong = confer_run({"verify-attestation", "--evidence", file, "--ita-jwks",
                           dir.file("other.json", stranger->jwks_json())});
  CHECK(wrong.exit_code == 3);
  CHECK(wrong.err.find("ita.signature") != std::string::npos);
  auto later = confer_run({"verify-attestation", "--evidence", file, "--ita-jwks", jwks, "--at",
                           format_rfc3339(now + 3600)});
  CHECK(later.exit_code == 3);
  CHECK(later.err.find("ita.expiry") != std::string::npos);
  auto pinned = confer_run({"verify-attestation", "--evidence", file, "--ita-jwks", jwks, "--expect-mrtd",
                            std::string(96, '0')});
  CHECK(pinned.exit_code == 3);
  CHECK(pinned.err.find("policy.mrtd") != std::string::npos);
}

TEST_CASE("NVIDIA GPU evidence through the binary: alone and beside the CPU's, with its nonce") {
  if (!test::have_vectors()) return;
  std::string report = vpath("nvidia/h100-nvtrust-sample/report.bin");
  std::string chain = vpath("nvidia/h100-nvtrust-sample/cert_chain.pem");
  std::string nonce = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";
  auto ok = confer_run({"verify-attestation", "--gpu-evidence", report, "--gpu-chain", chain, "--gpu-nonce", nonce});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("driver 550.90.07, VBIOS 96.00.9F.00.01") != std::string::npos);
  auto wrong = confer_run({"verify-attestation", "--gpu-evidence", report, "--gpu-chain", chain, "--gpu-nonce",
                           std::string(64, '0')});
  CHECK(wrong.exit_code == 3);
  CHECK(wrong.err.find("GPU attestation refused: gpu.nonce") != std::string::npos);
  auto short_chain = confer_run({"verify-attestation", "--gpu-evidence", report, "--gpu-chain",
                                 vpath("nvidia/h100-nvtrust-sample/negative_cert_chain_case3.pem")});
  CHECK(short_chain.exit_code == 3);
  CHECK(short_chain.err.find("gpu.chain") != std::string::npos);
  auto alone = confer_run({"verify-attestation", "--gpu-evidence", report});
  CHECK(alone.exit_code == 2);
  // Beside a TDX quote: both reported, and the exit status is the worse one.
  std::string quote = vpath(std::string(kTinfoil) + "/quote.bin");
  std::string collateral = vpath(std::string(kTinfoil) + "/collateral");
  auto both = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral, "--at", kTinfoilAt,
                          "--gpu-evidence", report, "--gpu-chain", chain, "--gpu-nonce", nonce});
  CHECK(both.exit_code == 0);
  CHECK(both.out.find("Intel TDX quote") != std::string::npos);
  CHECK(both.out.find("NVIDIA GPU attestation report") != std::string::npos);
  auto gpu_refused = confer_run({"verify-attestation", "--evidence", quote, "--collateral", collateral, "--at",
                                 kTinfoilAt, "--gpu-evidence", report, "--gpu-chain", chain, "--gpu-nonce",
                                 std::string(64, '1')});
  CHECK(gpu_refused.exit_code == 3);
}

namespace {

// Percent-encodes everything but unreserved characters, as PCS encodes issuer chains.
std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out.push_back(char(c));
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace

TEST_CASE("TDX collateral fetched from Intel PCS when not given, cached, and never fetched with --offline") {
  if (!test::have_vectors()) return;
  auto c = attest::read_tdx_collateral_dir(vpath(std::string(kTinfoil) + "/collateral"));
  REQUIRE(c.ok());
  std::atomic<int> fail_tcb{0};
  test::LoopbackHttp pcs([&](const std::string& target, const std::string&) -> test::LoopbackHttp::Reply {
    auto text = [](const std::optional<Bytes>& b) { return std::string(b->begin(), b->end()); };
    if (target == "/tdx/certification/v4/tcb?fmspc=90c06f000000") {
      if (fail_tcb) return {503, "busy", {}};
      return {200, *c->tcb_info, {"TCB-Info-Issuer-Chain: " + url_encode(text(c->tcb_info_chain))}};
    }
    if (target == "/tdx/certification/v4/qe/identity")
      return {200, *c->qe_identity, {"SGX-Enclave-Identity-Issuer-Chain: " + url_encode(text(c->qe_identity_chain))}};
    if (target == "/sgx/certification/v4/pckcrl?ca=platform&encoding=der") return {200, text(c->pck_crl), {}};
    if (target == "/IntelSGXRootCA.der") return {200, text(c->root_crl), {}};
    return {404, "", {}};
  });
  test::TempDir cache;
  std::map<std::string, std::string> env{{"CONFER_PCS_URL", pcs.base_url()}, {"XDG_CACHE_HOME", cache.path()}};
  std::vector<std::string> args{"verify-attestation", "--evidence", vpath(std::string(kTinfoil) + "/quote.bin"), "--at",
                                kTinfoilAt};
  auto first = test::run_confer(args, env);
  CHECK_MESSAGE(first.exit_code == 0, first.err);
  CHECK(first.err.find("fetched Intel's collateral (4 requests)") != std::string::npos);
  CHECK(pcs.targets().size() == 4);
  // The cache entry is itself a collateral directory.
  std::string entry = cache.path() + "/confer/pcs/tdx/90c06f000000-platform";
  CHECK(std::filesystem::exists(entry + "/tcb_info.json"));
  auto second = test::run_confer(args, env);
  CHECK(second.exit_code == 0);
  CHECK(second.err.find("using the cached Intel collateral") != std::string::npos);
  CHECK(pcs.targets().size() == 4);  // nothing fetched again while current
  auto as_dir = confer_run({"verify-attestation", "--evidence", vpath(std::string(kTinfoil) + "/quote.bin"), "--at",
                            kTinfoilAt, "--collateral", entry});
  CHECK(as_dir.exit_code == 0);
  // Past its next update, the cache is refetched; PCS failing is an error, not a verdict.
  fail_tcb = 1;
  std::vector<std::string> later = args;
  later[4] = "2026-03-01T00:00:00Z";
  auto refetch = test::run_confer(later, env);
  CHECK(refetch.exit_code == 1);
  CHECK(refetch.err.find("HTTP 200, saw 503") != std::string::npos);
  // --offline never fetches: a stale cache is judged as it is, no cache is refused.
  auto offline = test::run_confer({"verify-attestation", "--evidence", vpath(std::string(kTinfoil) + "/quote.bin"),
                                   "--at", "2026-03-01T00:00:00Z", "--offline"}, env);
  CHECK(offline.exit_code == 3);
  CHECK(offline.err.find("stale") != std::string::npos);
  test::TempDir empty;
  size_t before = pcs.targets().size();
  auto none = test::run_confer({"verify-attestation", "--evidence", vpath(std::string(kTinfoil) + "/quote.bin"),
                                "--at", kTinfoilAt, "--offline"},
                               {{"CONFER_PCS_URL", pcs.base_url()}, {"XDG_CACHE_HOME", empty.path()}});
  CHECK(none.exit_code == 3);
  CHECK(pcs.targets().size() == before);
}
