// Time to verify one TDX quote with Intel's collateral (parse, PCK chain, CRLs, TCB
// info and QE identity, TCB evaluation, policy), against the cost of its ECDSA P-256
// signature verifications alone, measured in the same run: the quote by the attestation
// key, the QE report by the PCK, PCK by its CA, CA by the root, both CRLs, the TCB
// Signing certificate by the root (twice: TCB info and QE identity chains), the TCB info
// and the QE identity. Uses the real Tinfoil vector when $CONFER_VECTORS (or
// ../shared/vectors) holds it, else a development authority's quote.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "attest/intel_roots.hpp"
#include "attest/tdx_verify.hpp"
#include "crypto/pkey.hpp"
#include "dev/tdx_authority.hpp"

using namespace confer;
using namespace confer::attest;
using Clock = std::chrono::steady_clock;

namespace {

template <typename F>
double seconds_per_op(int iterations, F&& f) {
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) f();
  return std::chrono::duration<double>(Clock::now() - start).count() / iterations;
}

std::string vectors_dir() {
  const char* env = std::getenv("CONFER_VECTORS");
  std::string dir = env != nullptr && *env != '\0' ? env : "../shared/vectors";
  return dir + "/tdx/tinfoil-v4-90c06f-uptodate";
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 200;
  Bytes quote;
  TdxCollateral collateral;
  TdxVerifyOptions options;
  std::string source;
  std::string dir = vectors_dir();
  if (std::filesystem::exists(dir + "/quote.bin")) {
    auto q = read_file(dir + "/quote.bin");
    auto c = read_tdx_collateral_dir(dir + "/collateral");
    if (!q || !c) die("cannot read " + dir);
    quote = *q;
    collateral = *c;
    options.at = *parse_rfc3339("2026-01-20T00:00:00Z");
    source = "the Tinfoil vector (v4, real Intel collateral)";
  } else {
    auto a = dev::DevTdxAuthority::create(now_utc());
    if (!a) die("no development authority");
    dev::DevQuoteSpec spec;
    spec.body = dev::DevTdxAuthority::body_template();
    auto q = a->build_quote(spec);
    auto c = a->collateral();
    if (!q || !c) die("cannot build a development quote");
    quote = *q;
    collateral = *c;
    options.at = now_utc();
    options.extra_roots = {a->root()};
    source = "a development quote (no vectors found)";
  }
  TdxVerification first = verify_tdx_quote(quote, collateral, options);
  if (!first.verified()) die("the quote does not verify: " + first.first_failure()->name);

  // The signature verifications alone, on pre-parsed keys and bytes.
  auto parsed = parse_tdx_quote(quote);
  auto chain = crypto::Cert::all_from_pem(parsed->pck_chain_pem);
  auto info = parse_tcb_info(*collateral.tcb_info);
  auto qe = parse_qe_identity(*collateral.qe_identity);
  auto signer = crypto::Cert::all_from_pem(*collateral.tcb_info_chain);
  auto pck_crl = crypto::Crl::from_der_or_pem(*collateral.pck_crl);
  auto root_crl = crypto::Crl::from_der_or_pem(*collateral.root_crl);
  auto ak = crypto::ec_public_key_from_xy(parsed->attestation_key, "P-256");
  if (!chain || chain->size() < 2 || !info || !qe || !signer || !pck_crl || !root_crl || !ak) die("parse failed");
  const crypto::Cert& root = options.extra_roots.empty() ? intel_sgx_root() : options.extra_roots[0];
  const crypto::Cert& pck = (*chain)[0];
  const crypto::Cert& ca = (*chain)[1];
  const crypto::Cert& tcb_signer = (*signer)[0];
  EVP_PKEY* signer_key = X509_get0_pubkey(tcb_signer.get());
  auto signatures = [&] {
    bool ok = crypto::verify_raw_ecdsa(ak->get(), ByteView(quote).first(parsed->signed_length), parsed->signature,
                                       "sha256")
                  .ok();
    ok &= crypto::verify_raw_ecdsa(X509_get0_pubkey(pck.get()), parsed->qe_report, parsed->qe_report_signature,
                                   "sha256")
              .ok();
    ok &= crypto::verify_issued_by(pck, ca).ok();
    ok &= crypto::verify_issued_by(ca, root).ok();
    ok &= pck_crl->verify_signed_by(ca).ok();
    ok &= root_crl->verify_signed_by(root).ok();
    ok &= crypto::verify_issued_by(tcb_signer, root).ok();
    ok &= crypto::verify_issued_by(tcb_signer, root).ok();
    ok &= crypto::verify_raw_ecdsa(signer_key, as_bytes(info->signed_body), info->signature, "sha256").ok();
    ok &= crypto::verify_raw_ecdsa(signer_key, as_bytes(qe->signed_body), qe->signature, "sha256").ok();
    if (!ok) die("a baseline signature does not verify");
  };
  signatures();

  double base = seconds_per_op(iterations, signatures);
  double full = seconds_per_op(iterations, [&] {
    if (!verify_tdx_quote(quote, collateral, options).verified()) die("verification failed");
  });
  // Where the rest goes: the parses a verification cannot skip (the chain and the
  // collateral arrive with each quote).
  double certs = seconds_per_op(iterations, [&] { (void)crypto::Cert::all_from_pem(parsed->pck_chain_pem); });
  double signing = seconds_per_op(iterations, [&] { (void)crypto::Cert::all_from_pem(*collateral.tcb_info_chain); });
  double json = seconds_per_op(iterations, [&] {
    (void)parse_tcb_info(*collateral.tcb_info);
    (void)parse_qe_identity(*collateral.qe_identity);
  });
  double crls = seconds_per_op(iterations, [&] {
    (void)crypto::Crl::from_der_or_pem(*collateral.pck_crl);
    (void)crypto::Crl::from_der_or_pem(*collateral.root_crl);
  });
  double quote_parse = seconds_per_op(iterations, [&] { (void)parse_tdx_quote(quote); });
  std::printf("TDX quote with collateral (%s), %d iterations\n", source.c_str(), iterations);
  std::printf("  parse the quote                   %8.3f ms\n", quote_parse * 1e3);
  std::printf("  parse its PCK chain (3 certs)     %8.3f ms\n", certs * 1e3);
  std::printf("  parse a TCB Signing chain (2)     %8.3f ms\n", signing * 1e3);
  std::printf("  parse TCB info + QE identity      %8.3f ms\n", json * 1e3);
  std::printf("  parse both CRLs                   %8.3f ms\n", crls * 1e3);
  std::printf("  10 signature verifications alone  %8.3f ms\n", base * 1e3);
  std::printf("  full verification                 %8.3f ms\n", full * 1e3);
  std::printf("  ratio full / signatures           %8.2f\n", full / base);
  return 0;
}
