// Real TDX quotes with Intel's collateral (../shared/vectors/tdx): each vector's stated
// conclusion inside its collateral window, and the stale-collateral refusal at the
// vectors' audit date.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "attest/intel_roots.hpp"
#include "attest/tdx_verify.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;

namespace {

struct TdxVector {
  const char* dir;
  uint16_t version;
  const char* at;  // inside every collateral window
  const char* status;
  const char* mrtd;
};

const TdxVector kVectors[] = {
    {"tinfoil-v4-90c06f-uptodate", 4, "2026-01-20T00:00:00Z", "UpToDate",
     "7357a10d2e2724dffe68813e3cc4cfcde6814d749f2fb62e3953e54f6e0b50a219786afe2cd478f684b52c61837e1114"},
    {"phala-v4-b0c06f-uptodate", 4, "2025-07-01T00:00:00Z", "UpToDate",
     "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"},
    {"gtg-v5-90c06f-uptodate", 5, "2026-02-05T00:00:00Z", "UpToDate",
     "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876"},
    {"trustee-v4-00a06d-outofdate", 4, "2026-01-20T00:00:00Z", "OutOfDate",
     "21e8dead92d6c69d7cbba79816686c03a48485c7df0c11f6f04792d5e1d378f6b8c46615ba6946adccac6becffbb1e88"},
    {"phala-v5-90c06f-nomatch", 5, "2026-03-01T00:00:00Z", "NotSupported",
     "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd"},
    {"gtg-v4-50806f-spr-e4-tcb-notsupported", 4, "2023-06-25T00:00:00Z", "NotSupported",
     "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"},
};

TdxCollateral collateral_of(const std::string& dir) {
  auto c = read_tdx_collateral_dir(test::vectors_dir() + "/tdx/" + dir + "/collateral");
  REQUIRE_MESSAGE(c.ok(), (c ? "" : c.error().message));
  return std::move(c).value();
}

TdxVerification verify_vector(const TdxVector& vec, const std::string& at, TdxPolicy policy = {}) {
  Bytes quote = test::vector_file(std::string("tdx/") + vec.dir + "/quote.bin");
  TdxVerifyOptions opt;
  opt.at = *parse_rfc3339(at);
  opt.policy = std::move(policy);
  return verify_tdx_quote(quote, collateral_of(vec.dir), opt);
}

std::string failure(const TdxVerification& v) {
  const Check* f = v.first_failure();
  return f != nullptr ? f->name : std::string();
}

std::string dump(const TdxVerification& v) {
  std::string out;
  for (const auto& c : v.checks)
    out += fmt::format("{} {}: expected {}; seen {}\n", check_status_name(c.status), c.name, c.expected, c.seen);
  return out;
}

}  // namespace

TEST_CASE("the compiled-in Intel SGX Root CA is the vectors' root and matches its pin") {
  CHECK(intel_sgx_root().sha256_hex() == kIntelSgxRootSha256);
  if (!test::have_vectors()) return;
  CHECK(intel_sgx_root().der() == test::vector_file("tdx/intel-root/Intel_SGX_Root_CA.der"));
}

TEST_CASE("every full TDX vector gives its stated TCB conclusion inside its collateral window") {
  if (!test::have_vectors()) return;
  for (const auto& vec : kVectors) {
    CAPTURE(vec.dir);
    TdxPolicy policy;
    // go-tdx-guest appended 39 ASCII bytes to the SPR sample: refused by default (below).
    if (std::string(vec.dir).find("spr-e4") != std::string::npos) policy.allow_nonzero_trailing = true;
    TdxVerification v = verify_vector(vec, vec.at, policy);
    INFO(dump(v));
    REQUIRE(v.quote);
    CHECK(v.quote->header.version == vec.version);
    CHECK(to_hex(v.quote->body.mrtd) == vec.mrtd);
    REQUIRE(v.tcb);
    CHECK(v.tcb->status == vec.status);
    // Every cryptographic and collateral check passes; only the TCB status decides.
    for (const auto& c : v.checks)
      if (c.name != tdx_checks::kTcbStatus) CHECK_MESSAGE(!c.failed(), c.name);
    if (std::string(vec.status) == "UpToDate") {
      CHECK(v.verified());
    } else {
      CHECK(failure(v) == "tcb.status");
    }
    CHECK_FALSE(v.development_root);
  }
}

TEST_CASE("the OutOfDate TDX vector: platform OutOfDate, module TDX_03 and QE UpToDate, accepted only when the policy says so") {
  if (!test::have_vectors()) return;
  const TdxVector& vec = kVectors[3];
  TdxVerification v = verify_vector(vec, vec.at);
  REQUIRE(v.tcb);
  CHECK(v.tcb->platform_status == "OutOfDate");
  CHECK(v.tcb->module_id == "TDX_03");
  CHECK(v.tcb->module_status == "UpToDate");
  CHECK(v.tcb->qe_status == "UpToDate");
  TdxPolicy lenient;
  lenient.accepted_statuses = {"UpToDate", "OutOfDate"};
  CHECK(verify_vector(vec, vec.at, lenient).verified());
}

TEST_CASE("every TDX vector is refused at the audit date for stale collateral") {
  if (!test::have_vectors()) return;
  for (const auto& vec : kVectors) {
    CAPTURE(vec.dir);
    TdxPolicy policy;
    policy.allow_nonzero_trailing = true;
    TdxVerification v = verify_vector(vec, "2026-11-30T00:00:00Z", policy);
    INFO(dump(v));
    CHECK_FALSE(v.verified());
    // The quote itself still verifies: the refusal is the collateral's age.
    CHECK(v.checks.find("quote.signature")->ok());
    CHECK(v.checks.find("qe.report-signature")->ok());
    CHECK(failure(v) == "crl.root");
    bool old_signer = std::string(vec.dir).find("gtg-v4") == 0;
    for (const char* stale : {"crl.root", "crl.pck", "tcb-info.validity", "qe-identity.validity"}) {
      const Check* c = v.checks.find(stale);
      REQUIRE(c != nullptr);
      CHECK(c->failed());
      // The 2023 collateral is signed by the TCB Signing certificate that expired on
      // 2025-05-21: its TCB info and QE identity are refused before their age is read.
      if (!old_signer || std::string(stale).rfind("crl.", 0) == 0) CHECK(c->seen.find("stale") != std::string::npos);
    }
    if (old_signer) {
      CHECK(v.checks.find("tcb-info.signature")->seen.find("expired") != std::string::npos);
      CHECK(v.checks.find("qe-identity.signature")->seen.find("expired") != std::string::npos);
    }
  }
}

TEST_CASE("the SPR vector's 39 non-zero trailing bytes are refused by default and allowed by policy") {
  if (!test::have_vectors()) return;
  const TdxVector& vec = kVectors[5];
  TdxVerification strict = verify_vector(vec, vec.at);
  CHECK(failure(strict) == "quote.trailing-data");
  REQUIRE(strict.quote);
  CHECK(strict.quote->trailing == 39);
  CHECK_FALSE(strict.quote->trailing_all_zero);
  // Zero padding (70 bytes on the Tinfoil quote) is never a failure.
  TdxVerification tinfoil = verify_vector(kVectors[0], kVectors[0].at);
  CHECK(tinfoil.checks.find("quote.trailing-data")->ok());
  CHECK(tinfoil.quote->trailing == 70);
}

TEST_CASE("the signature-only TDX quotes verify their crypto and PCK chain and are refused without collateral") {
  if (!test::have_vectors()) return;
  for (const char* file : {"gtg_cos-113-tdx-quote.bin", "teekit_tdx-v4-edgeless.bin", "teekit_tdx-v4-moemahhouk.bin",
                           "trustee_az_td-quote.bin", "trustee_tdx_quote_4.bin", "trustee_tdx_quote_5.bin"}) {
    CAPTURE(file);
    Bytes quote = test::vector_file(std::string("tdx/signature-only/") + file);
    TdxVerifyOptions opt;
    opt.at = *parse_rfc3339("2026-11-30T00:00:00Z");
    TdxVerification v = verify_tdx_quote(quote, {}, opt);
    INFO(dump(v));
    for (const char* ok : {"quote.format", "quote.trailing-data", "quote.signature", "pck.chain", "qe.report-signature",
                           "qe.report-data", "pck.extensions"})
      CHECK_MESSAGE(v.checks.find(ok)->ok(), ok);
    CHECK(failure(v) == "crl.root");
    CHECK(v.checks.find("tcb-info.signature")->failed());
  }
}
