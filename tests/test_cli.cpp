// The real `confer` binary: streams, exit codes, --json, and the development round trip.
#include <doctest/doctest.h>

#include <filesystem>

#include "attest/evidence.hpp"
#include "support/support.hpp"

using namespace confer;
using test::run_confer;

TEST_CASE("cli: usage errors exit 2 with a hint") {
  auto none = run_confer({});
  CHECK(none.exit_code == 2);
  auto unknown = run_confer({"verify-attestation", "--evidence", "x", "--bogus"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.rfind("confer: error: ", 0) == 0);
  CHECK(unknown.err.find("confer: hint: run 'confer help verify-attestation'") != std::string::npos);
  CHECK(unknown.out.empty());
  CHECK(run_confer({"verify-attestation"}).exit_code == 2);             // --evidence is required
  CHECK(run_confer({"frobnicate"}).exit_code == 2);
  auto at = run_confer({"verify-attestation", "--evidence", "x", "--at", "2025-06-01"});
  CHECK(at.exit_code == 2);
  CHECK(at.err.find("RFC 3339") != std::string::npos);
  auto m = run_confer({"verify-attestation", "--evidence", "x", "--expect-measurement", "abcd"});
  CHECK(m.exit_code == 2);
  CHECK(m.err.find("--expect-measurement: expected 96 hex digits (SHA-384), saw 4: 'abcd'") != std::string::npos);
  auto long_m = run_confer({"verify-attestation", "--evidence", "x", "--expect-measurement", "7a1e5c26abc"});
  CHECK(long_m.err.find("saw 11: '7a1e5c26...'") != std::string::npos);
  auto bad_digit = run_confer({"verify-attestation", "--evidence", "x", "--expect-measurement", std::string(95, 'a') + "g"});
  CHECK(bad_digit.err.find("saw 'g' at position 96") != std::string::npos);
  // Unknown commands and options: the nearest real one, in the order typed.
  auto typo = run_confer({"chta"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.find("unknown command 'chta'") != std::string::npos);
  CHECK(typo.err.find("did you mean chat?") != std::string::npos);
  auto opts = run_confer({"chat", "--servr", "x", "--modle", "y"});
  CHECK(opts.exit_code == 2);
  size_t first = opts.err.find("unknown option '--servr'"), second = opts.err.find("unknown option '--modle'");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(first < second);
  CHECK(opts.err.find("did you mean --server?") != std::string::npos);
  CHECK(opts.err.find("did you mean --model?") != std::string::npos);
  CHECK(run_confer({"help", "chat"}).out.find("Usage: confer chat [OPTIONS]") != std::string::npos);
  CHECK(run_confer({"keys", "list", "--help"}).out.find("Usage: confer keys list") != std::string::npos);
  CHECK(run_confer({"verify-attestation", "--evidence", "x", "--vmpl", "4"}).exit_code == 2);
  CHECK(run_confer({"verify-attestation", "--evidence", "x", "--min-tcb", "bl=x"}).exit_code == 2);
  test::TempDir dir;
  auto bad_policy = run_confer({"verify-attestation", "--evidence", "x", "--policy", dir.file("p.json", "{\"allow_debug\":true}")});
  CHECK(bad_policy.exit_code == 2);
  CHECK(bad_policy.err.find("unknown key \"allow_debug\"") != std::string::npos);
  CHECK(run_confer({"help", "nope"}).exit_code == 2);
}

TEST_CASE("cli: help, version, paths") {
  auto help = run_confer({"help", "verify-attestation"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--evidence") != std::string::npos);
  auto top = run_confer({"--help"});
  CHECK(top.exit_code == 0);
  CHECK(top.out.find("verify-attestation") != std::string::npos);
  auto sub = run_confer({"verify-attestation", "--help"});
  CHECK(sub.exit_code == 0);
  CHECK(sub.out.find("--trust-root") != std::string::npos);
  auto version = run_confer({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("confer " CONFER_VERSION, 0) == 0);
  CHECK(version.out.find("OpenSSL") != std::string::npos);
  auto paths = run_confer({"paths"}, {{"XDG_CONFIG_HOME", "/x/config"}, {"XDG_DATA_HOME", "relative"},
                                      {"XDG_CACHE_HOME", "/x/cache"}, {"HOME", "/home/u"}});
  CHECK(paths.exit_code == 0);
  CHECK(paths.out == "config  /x/config/confer\ndata    /home/u/.local/share/confer\ncache   /x/cache/confer\n");
}

TEST_CASE("cli: unreadable and malformed evidence") {
  test::TempDir dir;
  auto missing = run_confer({"verify-attestation", "--evidence", dir.path() + "/nope"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nope") != std::string::npos);
  // Bytes that are not evidence are an input error (exit 1), not a refusal (3) of a machine.
  auto garbage = run_confer({"verify-attestation", "--evidence", dir.file("g", "hello, world")});
  CHECK(garbage.exit_code == 1);
  CHECK(garbage.err.find("not attestation evidence: expected a 1184-byte SEV-SNP report") != std::string::npos);
  CHECK(garbage.err.find("refused") == std::string::npos);
  CHECK(garbage.out.find("verified at") == std::string::npos);
  auto empty = run_confer({"verify-attestation", "--evidence", dir.file("empty", "")});
  CHECK(empty.exit_code == 1);
  CHECK(empty.err.find("the file is empty") != std::string::npos);
  // --json: the error is a JSON event on stdout too.
  auto json = run_confer({"verify-attestation", "--evidence", dir.file("g2", "hello"), "--json"});
  CHECK(json.exit_code == 1);
  auto j = nlohmann::json::parse(json.out);
  CHECK(j["type"] == "error");
  CHECK(j["code"] == 1);
  CHECK(j["check"] == "report.format");
  CHECK(j["message"].get<std::string>().find("not attestation evidence") != std::string::npos);
  // Flags that cannot apply are refused.
  CHECK(run_confer({"verify-attestation", "ws://127.0.0.1:9", "--at", "2025-01-01T00:00:00Z"}).exit_code == 2);
  CHECK(run_confer({"verify-attestation", "--evidence", dir.path() + "/g", "--save", dir.path() + "/s"}).exit_code == 2);
  CHECK(run_confer({"chat", "--no-stdin", "--server", "ws://127.0.0.1:9"}).exit_code == 2);
  CHECK(j["report"].is_null());
}

TEST_CASE("cli: development evidence round trip") {
  test::TempDir dir;
  std::string out = dir.path() + "/dev";
  auto made = run_confer({"dev-evidence", "--out", out});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  std::string evidence = out + "/evidence.json";
  std::string root = out + "/dev-root.pem";
  CHECK(made.out == evidence + "\n" + root + "\n");
  CHECK(made.err.find("NOT AMD") != std::string::npos);
  auto before = read_file(evidence);
  REQUIRE(before.ok());

  // Refuses to overwrite without --force, and leaves the files as they were.
  auto again = run_confer({"dev-evidence", "--out", out});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(*read_file(evidence) == *before);

  auto ok = run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root});
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  CHECK(ok.out.find("NOT AMD") != std::string::npos);
  CHECK(ok.out.find("verdict: verified against a development root (NOT AMD)") != std::string::npos);
  CHECK(ok.err.find("confer: warning:") != std::string::npos);
  CHECK(ok.out.find("\033[") == std::string::npos);  // not a terminal: no colour

  auto untrusted = run_confer({"verify-attestation", "--evidence", evidence});
  CHECK(untrusted.exit_code == 3);
  CHECK(untrusted.err.find("attestation refused: chain.ark") != std::string::npos);
  CHECK(untrusted.err.find("--trust-root") != std::string::npos);

  // The measurement dev-evidence prints can be pinned; another cannot.
  auto ev = attest::parse_evidence(*before);
  REQUIRE(ev.ok());
  auto report = attest::parse_report(ev->report);
  REQUIRE(report.ok());
  std::string m = to_hex(report->measurement);
  CHECK(made.err.find(m) != std::string::npos);
  CHECK(run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--expect-measurement", m}).exit_code == 0);
  std::string other = m;
  other[0] = other[0] == '0' ? '1' : '0';
  auto wrong = run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--expect-measurement", other});
  CHECK(wrong.exit_code == 3);
  CHECK(wrong.err.find("policy.measurement") != std::string::npos);
  CHECK(run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--expect-measurement", other,
                    "--expect-measurement", m}).exit_code == 0);
  CHECK(run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--vmpl", "1"}).exit_code == 3);
  CHECK(run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--min-tcb", "snp=200"}).exit_code == 3);

  // --json: one object, the same checks, on stdout alone.
  auto json = run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--json"});
  CHECK(json.exit_code == 0);
  CHECK(std::count(json.out.begin(), json.out.end(), '\n') == 1);
  auto j = nlohmann::json::parse(json.out);
  CHECK(j["verdict"] == "verified");
  CHECK(j["trust_root"] == "development");
  CHECK(j["first_failure"].is_null());
  CHECK(j["report"]["measurement"] == m);
  CHECK(j["checks"].size() >= 20);
  for (const auto& c : j["checks"]) {
    CHECK(c.contains("name"));
    CHECK(c.contains("expected"));
    CHECK(c.contains("seen"));
    CHECK((c["status"] == "ok" || c["status"] == "skipped"));
  }

  // Evidence on standard input; colour only when asked.
  auto piped = run_confer({"verify-attestation", "--evidence", "-", "--trust-root", root, "--color", "always"}, {},
                          std::string(before->begin(), before->end()));
  CHECK(piped.exit_code == 0);
  CHECK(piped.out.find("\033[") != std::string::npos);

  // A tampered report inside the JSON is refused.
  Bytes raw = ev->report;
  raw[0x90] ^= 1;  // measurement
  std::string tampered = R"({"platform":"SEV-SNP","attestation":")" + to_base64(raw) +
                         R"(","collateral":{"vcek":)" + nlohmann::json(std::string(ev->vcek->begin(), ev->vcek->end())).dump() +
                         R"(,"chain":)" + nlohmann::json(std::string(ev->chain->begin(), ev->chain->end())).dump() + "}}";
  auto t = run_confer({"verify-attestation", "--evidence", dir.file("t.json", tampered), "--trust-root", root});
  CHECK(t.exit_code == 3);
  CHECK(t.err.find("report.signature") != std::string::npos);

  auto forced = run_confer({"dev-evidence", "--out", out, "--force", "--product", "genoa", "--vmpl", "1"});
  CHECK(forced.exit_code == 0);
  auto genoa = run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--json"});
  CHECK(genoa.exit_code == 0);
  CHECK(nlohmann::json::parse(genoa.out)["product"] == "Genoa");
  // The old root does not verify the new chain.
  CHECK(run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", dir.file("old.pem", "junk")}).exit_code == 2);
}

TEST_CASE("cli: reports fit the terminal's width (COLUMNS), long hex wrapped in groups") {
  test::TempDir dir;
  auto made = run_confer({"dev-evidence", "--out", dir.path() + "/dev"});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  for (const char* cols : {"80", "60"}) {
    auto r = run_confer({"verify-attestation", "--evidence", dir.path() + "/dev/evidence.json", "--trust-root",
                         dir.path() + "/dev/dev-root.pem"},
                        {{"COLUMNS", cols}});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    std::istringstream lines(r.out);
    size_t longest = 0;
    for (std::string line; std::getline(lines, line);) {
      size_t width = 0;  // display columns (UTF-8 code points)
      for (unsigned char ch : line) width += (ch & 0xc0) != 0x80;
      longest = std::max(longest, width);
    }
    CHECK(longest <= size_t(std::stoi(cols)));
    // The measurement is still all there, in 16-digit groups joined by line breaks.
    CHECK(r.out.find("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf") != std::string::npos);
  }
}

TEST_CASE("cli: another chain's root or VCEK is named for what it is") {
  test::TempDir dir;
  auto made = run_confer({"dev-evidence", "--out", dir.path() + "/dev"});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  std::string evidence = dir.path() + "/dev/evidence.json";
  std::string root = dir.path() + "/dev/dev-root.pem";
  // Another chain's root given: called wrong, with both roots' SHA-256.
  const crypto::Cert& other_ark = test::dev_authority().ark();
  std::string other_root = dir.file("other-root.der", other_ark.der());
  auto wrong_root = run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", other_root});
  CHECK(wrong_root.exit_code == 3);
  CHECK(wrong_root.err.find("the trusted root given is the wrong one") != std::string::npos);
  CHECK(wrong_root.err.find("sha256:" + other_ark.sha256_hex()) != std::string::npos);
  auto own = crypto::Cert::from_der_or_pem(*read_file(root));
  REQUIRE(own.ok());
  CHECK(wrong_root.err.find("sha256:" + own->sha256_hex()) != std::string::npos);
  // A VCEK from another chain: said in words; OpenSSL's own text only with --verbose.
  const auto& authority = test::dev_authority();
  auto foreign = authority.issue(authority.spec_for(dev::dev_report_template(attest::Product::milan)));
  REQUIRE(foreign.ok());
  std::string foreign_vcek = dir.file("foreign-vcek.der", foreign->cert.der());
  auto mixed = run_confer({"verify-attestation", "--evidence", evidence, "--trust-root", root, "--vcek", foreign_vcek});
  CHECK(mixed.exit_code == 3);
  CHECK(mixed.err.find("the VCEK's signature does not verify under the ASK") != std::string::npos);
  CHECK(mixed.err.find("OpenSSL") == std::string::npos);
  auto verbose = run_confer(
      {"verify-attestation", "--evidence", evidence, "--trust-root", root, "--vcek", foreign_vcek, "--verbose"});
  CHECK(verbose.exit_code == 3);
  CHECK(verbose.err.find("[OpenSSL: error:") != std::string::npos);
}
