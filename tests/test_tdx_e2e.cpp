// End to end on TDX: confer-server --attestation tsm against a directory that mimics
// configfs serving TDX quotes built from a development chain, with Intel-shaped
// collateral sent beside each quote; confer chat verifies it offline and refuses each
// tampered twin before a prompt byte leaves.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "dev/ita_issuer.hpp"
#include "dev/sigstore.hpp"
#include "dev/tdx_authority.hpp"
#include "support/e2e.hpp"
#include "support/machine.hpp"
#include "support/support.hpp"

using namespace confer;
using test::run_confer;
using test::Upstream;

namespace {

// A DCAP quote over each inblob (its REPORTDATA), provider "tdx_guest".
test::FakeTsmKernel::Answer tdx_kernel(const dev::DevTdxAuthority& authority, dev::DevQuoteSpec spec) {
  return [&authority, spec](const Bytes& in) -> std::optional<test::FakeTsmKernel::Entry> {
    dev::DevQuoteSpec s = spec;
    std::copy(in.begin(), in.end(), s.body.report_data.begin());
    auto quote = authority.build_quote(s);
    if (!quote) return std::nullopt;
    return test::FakeTsmKernel::Entry{"tdx_guest", std::move(quote).value(), {}};
  };
}

const dev::DevTdxAuthority& tdx_authority() {
  static const dev::DevTdxAuthority a = [] {
    auto made = dev::DevTdxAuthority::create(now_utc());
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return a;
}

void write_collateral(const test::TempDir& dir, const attest::TdxCollateral& c) {
  dir.file("tcb_info.json", *c.tcb_info);
  dir.file("tcb_info_issuer_chain.pem", *c.tcb_info_chain);
  dir.file("qe_identity.json", *c.qe_identity);
  dir.file("qe_identity_issuer_chain.pem", *c.qe_identity_chain);
  dir.file("pck_crl.der", *c.pck_crl);
  dir.file("root_ca_crl.der", *c.root_crl);
}

// One TD behind confer-server: its quote spec, its collateral, its release manifest.
struct TdServer {
  test::TempDir configfs, collateral, dir;
  std::unique_ptr<test::FakeTsmKernel> kernel;
  std::unique_ptr<test::Process> child;
  std::string url;
  std::string root;

  TdServer(const std::string& upstream, dev::DevQuoteSpec spec, const attest::TdxCollateral* c,
           std::vector<std::string> extra = {}) {
    if (c != nullptr) write_collateral(collateral, *c);
    root = dir.file("tdx-root.pem", tdx_authority().root().pem());
    kernel = std::make_unique<test::FakeTsmKernel>(configfs.path(), tdx_kernel(tdx_authority(), std::move(spec)));
    std::vector<std::string> args{"--listen", "127.0.0.1:0", "--attestation", "tsm", "--tsm-root", configfs.path(),
                                  "--upstream", upstream, "--port-file", dir.path() + "/port"};
    if (c != nullptr) {
      args.push_back("--tdx-collateral");
      args.push_back(collateral.path());
    }
    args.insert(args.end(), extra.begin(), extra.end());
    child = std::make_unique<test::Process>(CONFER_SERVER_BIN, args);
    url = "ws://127.0.0.1:" + Upstream::trim(test::wait_for_file(dir.path() + "/port"));
  }
};

dev::DevQuoteSpec td_spec() {
  dev::DevQuoteSpec spec;
  spec.body = dev::DevTdxAuthority::body_template();
  return spec;
}

}  // namespace

TEST_CASE("e2e TDX: confer chat verifies a TD's quote and Intel-shaped collateral offline, then answers") {
  Upstream upstream;
  auto collateral = tdx_authority().collateral();
  REQUIRE(collateral.ok());
  dev::DevQuoteSpec spec = td_spec();
  TdServer td(upstream.url, spec, &*collateral);
  std::string mrtd = to_hex(spec.body.mrtd);
  auto r = run_confer({"chat", "--server", td.url, "--trust-root", td.root, "--expect-mrtd", mrtd, "--offline",
                       "hello TD"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "echo: hello TD\n");
  CHECK(r.err.find("verified TDX (DCAP quote v4), TCB UpToDate, MRTD " + mrtd.substr(0, 16)) != std::string::npos);
  CHECK(r.err.find("fresh evidence") != std::string::npos);
  CHECK(td.kernel->served() >= 2);  // message 2 and the fresh, nonce-bound quote
  // verify-attestation against the live server, and its saved evidence offline.
  std::string saved = td.dir.path() + "/saved.json";
  auto live = run_confer({"verify-attestation", td.url, "--trust-root", td.root, "--save", saved, "--json"});
  CHECK_MESSAGE(live.exit_code == 0, live.err);
  CHECK(nlohmann::json::parse(live.out)["platform"] == "TDX");
  auto offline = run_confer({"verify-attestation", "--evidence", saved, "--trust-root", td.root});
  CHECK_MESSAGE(offline.exit_code == 0, offline.err);
  CHECK(offline.out.find("ok      channel.binding") != std::string::npos);
}

TEST_CASE("e2e TDX: every tampered twin is refused before a prompt byte is sent") {
  Upstream upstream;
  auto good = tdx_authority().collateral();
  REQUIRE(good.ok());
  dev::DevCrlSpec revoked_spec;
  revoked_spec.revoke_pck = true;
  auto revoked = tdx_authority().collateral({}, revoked_spec);
  REQUIRE(revoked.ok());
  dev::DevTcbSpec old_tcb;
  old_tcb.status = "OutOfDate";
  auto outdated = tdx_authority().collateral(old_tcb);
  REQUIRE(outdated.ok());

  struct Twin {
    const char* what;
    dev::DevQuoteSpec spec;
    const attest::TdxCollateral* collateral;
    const char* check;
  };
  auto with = [](auto change) {
    dev::DevQuoteSpec s = td_spec();
    change(s);
    return s;
  };
  std::vector<Twin> twins = {
      {"quote signature", with([](auto& s) { s.corrupt_quote_signature = true; }), &*good, "quote.signature"},
      {"QE report signature", with([](auto& s) { s.corrupt_qe_report_signature = true; }), &*good, "qe.report-signature"},
      {"QE report data", with([](auto& s) { s.corrupt_qe_report_data = true; }), &*good, "qe.report-data"},
      {"debug TD", with([](auto& s) { s.body.td_attributes |= attest::kTdAttrDebug; }), &*good, "policy.debug"},
      {"revoked PCK", td_spec(), &*revoked, "crl.pck"},
      {"OutOfDate TCB", td_spec(), &*outdated, "tcb.status"},
      {"no collateral", td_spec(), nullptr, "crl.root"},
  };
  for (auto& twin : twins) {
    CAPTURE(twin.what);
    std::string mrtd = to_hex(twin.spec.body.mrtd);
    TdServer td(upstream.url, twin.spec, twin.collateral);
    auto r = run_confer({"chat", "--server", td.url, "--trust-root", td.root, "--expect-mrtd", mrtd, "--offline",
                         std::string("secret ") + twin.what});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find(std::string("attestation refused: ") + twin.check) != std::string::npos);
    CHECK(r.out.empty());
  }
  // A pin that does not match, and no pin and no manifest.
  dev::DevQuoteSpec spec = td_spec();
  TdServer td(upstream.url, spec, &*good);
  auto wrong = run_confer({"chat", "--server", td.url, "--trust-root", td.root, "--expect-mrtd", std::string(96, '0'),
                           "secret pin"});
  CHECK(wrong.exit_code == 3);
  CHECK(wrong.err.find("attestation refused: policy.mrtd") != std::string::npos);
  auto rtmr = run_confer({"chat", "--server", td.url, "--trust-root", td.root, "--expect-rtmr",
                          "2=" + std::string(96, '0'), "secret rtmr"});
  CHECK(rtmr.exit_code == 3);
  CHECK(rtmr.err.find("attestation refused: policy.rtmr2") != std::string::npos);
  auto unpinned = run_confer({"chat", "--server", td.url, "--trust-root", td.root, "secret unpinned"});
  CHECK(unpinned.exit_code == 3);
  CHECK(unpinned.err.find("attestation refused: release.manifest") != std::string::npos);
  auto untrusted = run_confer({"chat", "--server", td.url, "--expect-mrtd", to_hex(spec.body.mrtd), "secret root"});
  CHECK(untrusted.exit_code == 3);
  CHECK(untrusted.err.find("attestation refused: pck.chain") != std::string::npos);
  // Not one of those prompts reached the model.
  CHECK(upstream.requests().empty());
}

TEST_CASE("e2e TDX: a signed manifest's tdxMeasurements vouch for the TD's RTMR1 and RTMR2, or it is refused") {
  Upstream upstream;
  auto sigstore = dev::DevSigstore::create();
  REQUIRE(sigstore.ok());
  sigstore::Identity releases{"releases@confer.test", "https://accounts.google.com"};
  auto collateral = tdx_authority().collateral();
  REQUIRE(collateral.ok());
  test::TempDir dir;
  std::string trusted_root = dir.file("trusted_root.json", sigstore->trusted_root_json());
  dev::DevQuoteSpec spec = td_spec();
  auto release = [&](const std::string& name, const std::string& rtmr1, const std::string& rtmr2) {
    std::string manifest = "{\n  \"imageVersion\": \"0.1.8\",\n  \"proxyVersion\": \"0.1.14\",\n"
                           "  \"tdxMeasurements\": {\n    \"rtmr1\": \"" + rtmr1 + "\",\n    \"rtmr2\": \"" + rtmr2 +
                           "\"\n  }\n}\n";
    auto bundle = sigstore->sign(as_bytes(manifest), releases, now_utc());
    REQUIRE(bundle.ok());
    return std::vector<std::string>{"--manifest", dir.file(name + ".json", manifest), "--manifest-bundle",
                                    dir.file(name + ".bundle.json", *bundle)};
  };
  std::string r1 = to_hex(spec.body.rtmr[1]), r2 = to_hex(spec.body.rtmr[2]);
  TdServer listed(upstream.url, spec, &*collateral, release("listed", r1, r2));
  auto ok = run_confer({"chat", "--server", listed.url, "--trust-root", listed.root, "--sigstore-root", trusted_root,
                        "--release-identity", releases.san, "vouched TD"});
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  CHECK(ok.out == "echo: vouched TD\n");
  CHECK(ok.err.find("release: signed manifest") != std::string::npos);
  std::string other = r2;
  other[0] = other[0] == '0' ? '1' : '0';
  TdServer unlisted(upstream.url, spec, &*collateral, release("unlisted", r1, other));
  auto refused = run_confer({"chat", "--server", unlisted.url, "--trust-root", unlisted.root, "--sigstore-root",
                             trusted_root, "--release-identity", releases.san, "secret unlisted"});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("attestation refused: release.manifest") != std::string::npos);
  CHECK(refused.err.find("not in the signed manifest") != std::string::npos);
  REQUIRE(upstream.requests().size() == 1);
  CHECK(upstream.requests()[0].find("vouched TD") != std::string::npos);
}

namespace {

// A stand-in for Intel Trust Authority on loopback: POST /appraisal/v1/attest with
// {"quote": base64} answers {"token": JWT} whose TDX claims are the quote's, signed by
// `issuer`; `tamper` changes the claims (or `signer` signs with another key).
struct FakeIta {
  const dev::DevItaIssuer& issuer;
  const dev::DevItaIssuer* signer;
  std::function<void(nlohmann::json&)> tamper;
  std::atomic<int> appraised{0};
  std::atomic<bool> saw_key{false};
  test::LoopbackHttp http;

  FakeIta(const dev::DevItaIssuer& i, std::function<void(nlohmann::json&)> t = {}, const dev::DevItaIssuer* other = nullptr)
      : issuer(i), signer(other), tamper(std::move(t)),
        http([this](const std::string& target, const std::string& body) { return answer(target, body); }) {}

  test::LoopbackHttp::Reply answer(const std::string& target, const std::string& body) {
    if (target != "/appraisal/v1/attest") return {404, "{}", {}};
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (!doc.is_object() || !doc.contains("quote") || !doc["quote"].is_string()) return {400, "{}", {}};
    auto quote = from_base64(doc["quote"].get<std::string>());
    if (!quote) return {400, "{}", {}};
    auto q = attest::parse_tdx_quote(*quote);
    if (!q) return {400, "{}", {}};
    nlohmann::json claims = dev::tdx_claims_template(now_utc());
    claims["tdx_mrtd"] = to_hex(q->body.mrtd);
    for (size_t k = 0; k < 4; ++k) claims["tdx_rtmr" + std::to_string(k)] = to_hex(q->body.rtmr[k]);
    claims["tdx_report_data"] = to_hex(q->body.report_data);
    claims["tdx_is_debuggable"] = (q->body.td_attributes & attest::kTdAttrDebug) != 0;
    if (tamper) tamper(claims);
    auto token = (signer != nullptr ? *signer : issuer).mint(claims, signer != nullptr ? std::optional<std::string>(issuer.kid()) : std::nullopt);
    if (!token) return {500, "{}", {}};
    ++appraised;
    return {200, nlohmann::json{{"token", *token}}.dump(), {"Content-Type: application/json"}};
  }
};

}  // namespace

TEST_CASE("e2e TDX with Intel Trust Authority: the server sends ITA's token, chat checks it and its claims") {
  Upstream upstream;
  auto issuer = dev::DevItaIssuer::create("PS384");
  REQUIRE(issuer.ok());
  auto stranger = dev::DevItaIssuer::create("PS384");
  REQUIRE(stranger.ok());
  test::TempDir dir;
  std::string jwks = dir.file("ita-jwks.json", issuer->jwks_json());
  std::string key_file = dir.file("ita-key", std::string("test-api-key\n"));
  dev::DevQuoteSpec spec = td_spec();
  std::string mrtd = to_hex(spec.body.mrtd);
  auto serve = [&](FakeIta& ita) {
    return std::make_unique<TdServer>(upstream.url, spec, nullptr,
                                      std::vector<std::string>{"--ita-url", ita.http.base_url(), "--ita-api-key-file", key_file});
  };
  {
    FakeIta ita(*issuer);
    auto td = serve(ita);
    auto r = run_confer({"chat", "--server", td->url, "--ita-jwks", jwks, "--expect-mrtd", mrtd, "hello ITA"});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out == "echo: hello ITA\n");
    CHECK(r.err.find("verified TDX appraised by Intel Trust Authority, TCB UpToDate") != std::string::npos);
    CHECK(ita.appraised >= 2);  // message 2 and the fresh round
  }
  struct Twin {
    const char* what;
    std::function<void(nlohmann::json&)> tamper;
    bool other_key;
    const char* check;
  };
  std::vector<Twin> twins = {
      {"signed by another key", {}, true, "ita.signature"},
      {"expired", [](nlohmann::json& c) { c["exp"] = now_utc() - 3600; c["iat"] = c["nbf"] = now_utc() - 7200; }, false, "ita.expiry"},
      {"another issuer", [](nlohmann::json& c) { c["iss"] = "https://attacker.example"; }, false, "ita.issuer"},
      {"debuggable", [](nlohmann::json& c) { c["tdx_is_debuggable"] = true; }, false, "policy.debug"},
      {"OutOfDate", [](nlohmann::json& c) { c["attester_tcb_status"] = "OutOfDate"; }, false, "tcb.status"},
      {"another key's report data", [](nlohmann::json& c) { c["tdx_report_data"] = std::string(128, '7'); }, false, "channel.binding"},
      {"another MRTD", [](nlohmann::json& c) { c["tdx_mrtd"] = std::string(96, '1'); }, false, "policy.mrtd"},
      {"a missing claim", [](nlohmann::json& c) { c.erase("tdx_rtmr2"); }, false, "ita.claims"},
  };
  for (auto& twin : twins) {
    CAPTURE(twin.what);
    FakeIta ita(*issuer, twin.tamper, twin.other_key ? &*stranger : nullptr);
    auto td = serve(ita);
    auto r = run_confer({"chat", "--server", td->url, "--ita-jwks", jwks, "--expect-mrtd", mrtd,
                         std::string("secret ") + twin.what});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find(std::string("attestation refused: ") + twin.check) != std::string::npos);
  }
  // Without ITA's keys nothing verifies: none is built in.
  FakeIta ita(*issuer);
  auto td = serve(ita);
  auto no_keys = run_confer({"chat", "--server", td->url, "--expect-mrtd", mrtd, "secret no keys"});
  CHECK(no_keys.exit_code == 3);
  CHECK(no_keys.err.find("attestation refused: ita.signature") != std::string::npos);
  REQUIRE(upstream.requests().size() == 1);
  CHECK(upstream.requests()[0].find("hello ITA") != std::string::npos);
}

TEST_CASE("e2e TDX: a turn answered by a TD keeps a receipt that verify-attestation --receipt re-checks offline") {
  Upstream upstream;
  auto collateral = tdx_authority().collateral();
  REQUIRE(collateral.ok());
  dev::DevQuoteSpec spec = td_spec();
  std::string mrtd = to_hex(spec.body.mrtd);
  test::Machine m;
  m.register_account();
  std::string root;
  {
    TdServer td(upstream.url, spec, &*collateral);
    root = m.home.file("tdx-root.pem", tdx_authority().root().pem());
    auto r = m.run({"chat", "--server", td.url, "--trust-root", root, "--expect-mrtd", mrtd, "--offline", "-q",
                    "TD receipt marker"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }  // the server is gone: what follows needs only the export
  auto exported = m.run({"export", "--format", "jsonl"});
  REQUIRE(exported.exit_code == 0);
  auto turn = nlohmann::json::parse(exported.out.substr(0, exported.out.find('\n')));
  CHECK(turn["receipt"]["platform"].get<std::string>().rfind("Intel TDX", 0) == 0);
  CHECK(turn["receipt"]["measurement"] == mrtd);
  std::string file = m.home.file("turn.jsonl", turn.dump() + "\n");
  auto ok = m.run({"verify-attestation", "--receipt", file, "--trust-root", root});
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  CHECK(ok.out.find("Intel TDX quote") != std::string::npos);
  CHECK(ok.out.find("ok      receipt.measurement") != std::string::npos);
  auto altered = turn;
  altered["receipt"]["measurement"] = std::string(96, '0');
  auto refused = m.run({"verify-attestation", "--receipt", m.home.file("altered.jsonl", altered.dump() + "\n"),
                        "--trust-root", root});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("refused: receipt.measurement") != std::string::npos);
}
