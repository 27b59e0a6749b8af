// End to end on TDX: confer-server --attestation tsm against a directory that mimics
// configfs serving TDX quotes built from a development chain, with Intel-shaped
// collateral sent beside each quote; confer chat verifies it offline and refuses each
// tampered twin before a prompt byte leaves.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "dev/sigstore.hpp"
#include "dev/tdx_authority.hpp"
#include "support/e2e.hpp"
#include "support/support.hpp"

using namespace confer;
using test::run_confer;
using test::Upstream;

namespace {

// Plays the kernel's part of configfs-tsm for a TD: for each new entry with a 64-byte
// inblob, a DCAP quote whose REPORTDATA is the inblob, provider "tdx_guest".
class FakeTdxKernel {
 public:
  FakeTdxKernel(std::string root, const dev::DevTdxAuthority& authority, dev::DevQuoteSpec spec)
      : root_(std::move(root)), authority_(authority), spec_(std::move(spec)), thread_([this] { loop(); }) {}
  ~FakeTdxKernel() {
    stop_ = true;
    thread_.join();
  }
  int served() const { return served_; }

 private:
  void loop() {
    namespace fs = std::filesystem;
    while (!stop_) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(root_, ec)) {
        std::string dir = entry.path().string();
        if (fs::exists(dir + "/outblob", ec)) continue;
        auto in = read_file(dir + "/inblob");
        if (!in || in->size() != 64) continue;
        dev::DevQuoteSpec spec = spec_;
        std::copy(in->begin(), in->end(), spec.body.report_data.begin());
        auto quote = authority_.build_quote(spec);
        if (!quote) continue;
        (void)write_file_atomic(dir + "/generation", as_bytes("1\n"));
        (void)write_file_atomic(dir + "/provider", as_bytes("tdx_guest\n"));
        (void)write_file_atomic(dir + "/outblob", *quote);
        ++served_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::string root_;
  const dev::DevTdxAuthority& authority_;
  dev::DevQuoteSpec spec_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

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
  std::unique_ptr<FakeTdxKernel> kernel;
  std::unique_ptr<test::Process> child;
  std::string url;
  std::string root;

  TdServer(const std::string& upstream, dev::DevQuoteSpec spec, const attest::TdxCollateral* c,
           std::vector<std::string> extra = {}) {
    if (c != nullptr) write_collateral(collateral, *c);
    root = dir.file("tdx-root.pem", tdx_authority().root().pem());
    kernel = std::make_unique<FakeTdxKernel>(configfs.path(), tdx_authority(), std::move(spec));
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
