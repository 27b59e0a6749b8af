// Real hardware evidence (../shared/vectors/sev-snp): each vector's stated conclusion,
// through the library and through the real binary, plus derived negatives.
#include <doctest/doctest.h>

#include <openssl/sha.h>

#include "attest/amd_roots.hpp"
#include "attest/evidence.hpp"
#include "attest/snp_verify.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;

namespace {

const char* kInside = "2026-11-30T00:00:00Z";  // the vectors' audit date

SnpVerification verify_vector(const std::string& report, const std::string& signer,
                           const std::string& at = kInside, const SnpPolicy& policy = {}) {
  SnpInput in;
  in.report = test::vector_file(report);
  auto cert = crypto::Cert::from_der_or_pem(test::vector_file(signer));
  REQUIRE(cert.ok());
  in.signer = std::move(cert).value();
  SnpVerifyOptions opt;
  opt.at = *parse_rfc3339(at);
  opt.policy = policy;
  return verify_report(in, opt);
}

std::string failure(const SnpVerification& v) {
  const Check* f = v.first_failure();
  return f ? f->name : std::string();
}

const Check* find(const SnpVerification& v, const std::string& name) {
  for (const auto& c : v.checks)
    if (c.name == name) return &c;
  return nullptr;
}

std::string vpath(const std::string& rel) { return test::vectors_dir() + "/" + rel; }

}  // namespace

TEST_CASE("vectors: every valid SEV-SNP report verifies") {
  if (!test::have_vectors()) return;
  struct Case { const char* report; const char* signer; const char* at; Product product; };
  const Case cases[] = {
      {"milan-virtee-v2/report.bin", "milan-virtee-v2/vcek.der", kInside, Product::milan},
      {"milan-trustee-v2/report.bin", "milan-trustee-v2/vcek.der", kInside, Product::milan},
      {"milan-vlek-aws-v3/report.bin", "milan-vlek-aws-v3/vlek.der", "2025-06-01T00:00:00Z", Product::milan},
      {"milan-gcp-v5/report-zero-reportdata.bin", "milan-gcp-v5/vcek.der", kInside, Product::milan},
      {"milan-gcp-v5/report-vmpl1-reportdata.bin", "milan-gcp-v5/vcek.der", kInside, Product::milan},
      {"milan-gcp-v5/report-x25519-bound.bin", "milan-gcp-v5/vcek.der", kInside, Product::milan},
      {"milan-gcp-v5/report-zero-reportdata.bin", "milan-gcp-v5/vcek-alt.der", kInside, Product::milan},
      {"milan-gcp-v5/report-vmpl1-reportdata.bin", "milan-gcp-v5/vcek-alt.der", kInside, Product::milan},
      {"milan-gcp-v5/report-x25519-bound.bin", "milan-gcp-v5/vcek-alt.der", kInside, Product::milan},
      {"milan-azure-hcl-v2/report.bin", "milan-azure-hcl-v2/vcek.der", kInside, Product::milan},
      {"genoa-azure-hcl-v3/report.bin", "genoa-azure-hcl-v3/vcek.der", kInside, Product::genoa},
      {"genoa-trustee-e2e-v3/report.bin", "genoa-trustee-e2e-v3/vcek.der", kInside, Product::genoa},
  };
  for (const auto& c : cases) {
    auto v = verify_vector(std::string("sev-snp/") + c.report, std::string("sev-snp/") + c.signer, c.at);
    CHECK_MESSAGE(v.verified(), c.report << " failed " << failure(v));
    CHECK(v.product == c.product);
    CHECK_FALSE(v.development_root);
    for (const char* must_pass : {"chain.ark", "chain.ask", "chain.vcek", "chain.validity", "vcek.tcb",
                                  "report.signature", "policy.debug"})
      CHECK_MESSAGE(find(v, must_pass)->status == CheckStatus::ok, c.report << " " << must_pass);
  }
}

TEST_CASE("vectors: stated field values") {
  if (!test::have_vectors()) return;
  auto v = verify_vector("sev-snp/milan-virtee-v2/report.bin", "sev-snp/milan-virtee-v2/vcek.der");
  REQUIRE(v.report);
  CHECK(to_hex(v.report->measurement) ==
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f");
  CHECK(tcb_string(decode_tcb(v.report->reported_tcb, Product::milan), Product::milan) == "bl=3 tee=0 snp=8 ucode=115");
  // milan-trustee-v2: the VCEK is for REPORTED_TCB, which differs from CURRENT_TCB.
  auto t = verify_vector("sev-snp/milan-trustee-v2/report.bin", "sev-snp/milan-trustee-v2/vcek.der");
  REQUIRE(t.report);
  CHECK(t.report->current_tcb != t.report->reported_tcb);
  CHECK(find(t, "vcek.tcb")->status == CheckStatus::ok);
  // Parse-only Genoa report (no VCEK available offline).
  auto tin = parse_report(test::vector_file("sev-snp/parse-only-tinfoil-genoa/report.bin"));
  REQUIRE(tin.ok());
  CHECK(tin->version == 3);
  CHECK(tin->product_from_cpuid() == Product::genoa);
  CHECK(to_hex(tin->measurement) ==
        "2dedaee13b84dc618efc73f685b16de46826380a2dd45df15da3dd8badbc9822cadf7bfc7595912c4517ba6fab1b52c0");
  CHECK(to_hex(tin->report_data) ==
        "10ca85437a8e7353494bd4fce763b0aad25107cd8ab5e4a051c28b454f01063e"
        "be5a9c84f5b53a4ed9abcf7cf7fd533718ca132c9fb5873b02a97d2e2081f80d");
  CHECK(to_hex(ByteView(tin->chip_id)).size() == 128);
}

TEST_CASE("vectors: the debug report is refused by policy although its crypto is valid") {
  if (!test::have_vectors()) return;
  auto v = verify_vector("sev-snp/milan-gsg-v2-debug/report.bin", "sev-snp/milan-gsg-v2-debug/vcek.der");
  CHECK_FALSE(v.verified());
  CHECK(failure(v) == "policy.debug");
  CHECK(find(v, "report.signature")->status == CheckStatus::ok);
  CHECK(find(v, "chain.vcek")->status == CheckStatus::ok);
  CHECK(find(v, "vcek.hwid")->status == CheckStatus::ok);
  CHECK(find(v, "policy.debug")->seen.find("debug allowed") != std::string::npos);
}

TEST_CASE("vectors: the AWS VLEK expires, and VMPL 1 fails a VMPL-0 policy") {
  if (!test::have_vectors()) return;
  auto today = verify_vector("sev-snp/milan-vlek-aws-v3/report.bin", "sev-snp/milan-vlek-aws-v3/vlek.der", kInside);
  CHECK(failure(today) == "chain.validity");
  CHECK(find(today, "chain.validity")->seen.find("VLEK expired") != std::string::npos);
  auto before = verify_vector("sev-snp/milan-vlek-aws-v3/report.bin", "sev-snp/milan-vlek-aws-v3/vlek.der",
                              "2024-12-01T00:00:00Z");
  CHECK(failure(before) == "chain.validity");
  CHECK(find(before, "chain.validity")->seen.find("not yet valid") != std::string::npos);
  SnpPolicy vmpl0;
  vmpl0.vmpl = 0;
  auto p = verify_vector("sev-snp/milan-vlek-aws-v3/report.bin", "sev-snp/milan-vlek-aws-v3/vlek.der",
                         "2025-06-01T00:00:00Z", vmpl0);
  CHECK(failure(p) == "policy.vmpl");
  // A VLEK-signed report cannot be verified with the VCEK path's ASK.
  SnpInput in;
  in.report = test::vector_file("sev-snp/milan-vlek-aws-v3/report.bin");
  in.signer = *crypto::Cert::from_der(test::vector_file("sev-snp/milan-vlek-aws-v3/vlek.der"));
  in.chain = *crypto::Cert::all_from_pem(test::vector_file("sev-snp/amd-roots/milan_cert_chain_kds.pem"));
  SnpVerifyOptions opt;
  opt.at = *parse_rfc3339("2025-06-01T00:00:00Z");
  CHECK(failure(verify_report(in, opt)) == "chain.ask");
}

TEST_CASE("vectors: the x25519 binding of the GCP v5 report") {
  if (!test::have_vectors()) return;
  Bytes nonce = *from_hex("df82306ff38a9da023854af947d02a878cfab1b40a793823ff41dc51213b96aa");
  Bytes key = *from_hex("03a8107030fabeac06b0df4ef865763918b5e2a9fa030e20025a4315dab4b2a6");
  Bytes msg = nonce;
  msg.insert(msg.end(), key.begin(), key.end());
  Bytes digest(64);
  SHA512(msg.data(), msg.size(), digest.data());
  SnpPolicy p;
  p.report_data = digest;
  auto v = verify_vector("sev-snp/milan-gcp-v5/report-x25519-bound.bin", "sev-snp/milan-gcp-v5/vcek.der", kInside, p);
  CHECK(v.verified());
  digest[63] ^= 1;
  p.report_data = digest;
  auto bad = verify_vector("sev-snp/milan-gcp-v5/report-x25519-bound.bin", "sev-snp/milan-gcp-v5/vcek.der", kInside, p);
  CHECK(failure(bad) == "policy.report-data");
}

TEST_CASE("vectors: Azure HCL wrappers bind their runtime data") {
  if (!test::have_vectors()) return;
  for (const char* dir : {"milan-azure-hcl-v2", "genoa-azure-hcl-v3"}) {
    Bytes hcl = test::vector_file(std::string("sev-snp/") + dir + "/hcl-report.bin");
    auto ev = parse_evidence(hcl);
    REQUIRE(ev.ok());
    CHECK(ev->format == EvidenceFormat::hcl);
    CHECK(ev->report == test::vector_file(std::string("sev-snp/") + dir + "/report.bin"));
    SnpInput in;
    in.report = ev->report;
    in.hcl = ev->hcl;
    in.signer = *crypto::Cert::from_der(test::vector_file(std::string("sev-snp/") + dir + "/vcek.der"));
    SnpVerifyOptions opt;
    opt.at = *parse_rfc3339(kInside);
    auto v = verify_report(in, opt);
    CHECK_MESSAGE(v.verified(), dir << " " << failure(v));
    CHECK(find(v, "hcl.runtime-data")->status == CheckStatus::ok);
    in.hcl->json.back() ^= 0x01;  // the runtime JSON no longer matches REPORT_DATA
    CHECK(failure(verify_report(in, opt)) == "hcl.runtime-data");
  }
  // The Azure evidence JSON (keys quote/report/vcek) carries the HCL report and VCEK.
  auto ev = parse_evidence(test::vector_file("sev-snp/genoa-azure-hcl-v3/evidence.json"));
  REQUIRE(ev.ok());
  CHECK(ev->hcl.has_value());
  CHECK(ev->vcek.has_value());
}

TEST_CASE("vectors: derived negatives from milan-virtee-v2") {
  if (!test::have_vectors()) return;
  Bytes report = test::vector_file("sev-snp/milan-virtee-v2/report.bin");
  Bytes vcek = test::vector_file("sev-snp/milan-virtee-v2/vcek.der");
  SnpVerifyOptions opt;
  opt.at = *parse_rfc3339(kInside);
  SnpInput in;
  in.signer = *crypto::Cert::from_der(vcek);
  // Flip bit 7 of byte 21: the signature fails.
  in.report = report;
  in.report[21] ^= 0x80;
  CHECK(failure(verify_report(in, opt)) == "report.signature");
  // Flip byte 40 of the VCEK: the chain fails (or the certificate no longer parses).
  Bytes bad = vcek;
  bad[40] ^= 0xff;
  auto cert = crypto::Cert::from_der(bad);
  if (cert) {
    in.report = report;
    in.signer = *cert;
    CHECK_FALSE(verify_report(in, opt).verified());
    CHECK(failure(verify_report(in, opt)).rfind("chain.", 0) == 0);
  }
  // Another chip's VCEK: hwID and signature disagree.
  in.report = report;
  in.signer = *crypto::Cert::from_der(test::vector_file("sev-snp/milan-trustee-v2/vcek.der"));
  auto other = verify_report(in, opt);
  CHECK(find(other, "vcek.hwid")->status == CheckStatus::failed);
  CHECK(find(other, "report.signature")->status == CheckStatus::failed);
  // A Genoa VCEK for a Milan report: wrong chain and product.
  in.signer = *crypto::Cert::from_der(test::vector_file("sev-snp/genoa-trustee-e2e-v3/vcek.der"));
  CHECK_FALSE(verify_report(in, opt).verified());
}

TEST_CASE("vectors: fake VCEKs do not chain to AMD") {
  if (!test::have_vectors()) return;
  for (const char* name : {"vcek-fake-hwid-legacy.der", "vcek-fake-hwid-octetstring.der"}) {
    auto v = verify_vector("sev-snp/milan-virtee-v2/report.bin", std::string("sev-snp/negative-fake-vcek/") + name);
    CHECK_FALSE(v.verified());
    CHECK_MESSAGE(failure(v) == "chain.vcek", name);
  }
}

TEST_CASE("vectors: the Turin VCEK chains to the Turin ASK and ARK only") {
  if (!test::have_vectors()) return;
  auto vcek = crypto::Cert::from_der(test::vector_file("sev-snp/turin-chain-only/vcek.der"));
  REQUIRE(vcek.ok());
  auto turin = crypto::Cert::from_der_or_pem(as_bytes(amd_roots(Product::turin)->ask_pem));
  auto milan = crypto::Cert::from_der_or_pem(as_bytes(amd_roots(Product::milan)->ask_pem));
  CHECK(crypto::verify_issued_by(*vcek, *turin).ok());
  CHECK_FALSE(crypto::verify_issued_by(*vcek, *milan).ok());
  CHECK(crypto::validity_at(*vcek, *parse_rfc3339(kInside)) == crypto::Validity::ok);
  CHECK(crypto::validity_at(*vcek, *parse_rfc3339("2032-01-01T00:00:00Z")) == crypto::Validity::expired);
}

TEST_CASE("vectors: flipping any single bit of a valid report is refused") {
  if (!test::have_vectors()) return;
  for (const char* dir : {"milan-virtee-v2", "genoa-trustee-e2e-v3"}) {
    Bytes report = test::vector_file(std::string("sev-snp/") + dir + "/report.bin");
    SnpInput in;
    in.signer = *crypto::Cert::from_der(test::vector_file(std::string("sev-snp/") + dir + "/vcek.der"));
    SnpVerifyOptions opt;
    opt.at = *parse_rfc3339(kInside);
    in.report = report;
    REQUIRE(verify_report(in, opt).verified());
    size_t accepted = 0;
    for (size_t i = 0; i < report.size(); ++i) {
      in.report = report;
      in.report[i] ^= uint8_t(1u << (i % 8));
      if (verify_report(in, opt).verified()) {
        ++accepted;
        FAIL_CHECK(dir << ": accepted with byte 0x" << std::hex << i << " flipped");
      }
    }
    CHECK(accepted == 0);
  }
}

TEST_CASE("vectors through the binary: exit codes and the named check") {
  if (!test::have_vectors()) return;
  std::map<std::string, std::string> env{{"CONFER_KDS_URL", "http://127.0.0.1:9"}};
  auto run = [&](std::vector<std::string> args) { return test::run_confer(args, env); };
  auto ok = run({"verify-attestation", "--evidence", vpath("sev-snp/milan-virtee-v2/report.bin"), "--vcek",
                 vpath("sev-snp/milan-virtee-v2/vcek.der"), "--offline"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("verdict: verified") != std::string::npos);
  CHECK(ok.err.empty());

  auto debug = run({"verify-attestation", "--evidence", vpath("sev-snp/milan-gsg-v2-debug/report.bin"), "--vcek",
                    vpath("sev-snp/milan-gsg-v2-debug/vcek.der"), "--offline"});
  CHECK(debug.exit_code == 3);
  CHECK(debug.err.find("confer: error: attestation refused: policy.debug") != std::string::npos);
  CHECK(debug.out.find("verdict: refused (policy.debug)") != std::string::npos);

  auto vlek_then = run({"verify-attestation", "--evidence", vpath("sev-snp/milan-vlek-aws-v3/report.bin"), "--vcek",
                        vpath("sev-snp/milan-vlek-aws-v3/vlek.der"), "--at", "2025-06-01T00:00:00Z"});
  CHECK(vlek_then.exit_code == 0);
  auto vlek_now = run({"verify-attestation", "--evidence", vpath("sev-snp/milan-vlek-aws-v3/report.bin"), "--vcek",
                       vpath("sev-snp/milan-vlek-aws-v3/vlek.der")});  // today's date
  CHECK(vlek_now.exit_code == 3);
  CHECK(vlek_now.err.find("chain.validity") != std::string::npos);
  CHECK(vlek_now.err.find("--at") != std::string::npos);

  for (const char* fake : {"vcek-fake-hwid-legacy.der", "vcek-fake-hwid-octetstring.der"}) {
    auto r = run({"verify-attestation", "--evidence", vpath("sev-snp/milan-virtee-v2/report.bin"), "--vcek",
                  vpath(std::string("sev-snp/negative-fake-vcek/") + fake)});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("attestation refused: chain.vcek") != std::string::npos);
  }

  auto hcl = run({"verify-attestation", "--evidence", vpath("sev-snp/milan-azure-hcl-v2/hcl-report.bin"), "--vcek",
                  vpath("sev-snp/milan-azure-hcl-v2/vcek.der"), "--json"});
  CHECK(hcl.exit_code == 0);
  auto j = nlohmann::json::parse(hcl.out);
  CHECK(j["verdict"] == "verified");
  CHECK(j["evidence_format"] == "Azure HCL report");

  auto azure_json = run({"verify-attestation", "--evidence", vpath("sev-snp/genoa-azure-hcl-v3/evidence.json")});
  CHECK(azure_json.exit_code == 0);

  // The parse-only report has no VCEK; offline, nothing can be fetched: an error, not a pass.
  test::TempDir cache;
  auto parse_only = test::run_confer({"verify-attestation", "--evidence", vpath("sev-snp/parse-only-tinfoil-genoa/report.bin"),
                                      "--offline"},
                                     {{"XDG_CACHE_HOME", cache.path()}});
  CHECK(parse_only.exit_code == 1);
  CHECK(parse_only.err.find("--offline") != std::string::npos);
  CHECK(parse_only.out.empty());
}
