// Time to verify one SEV-SNP report with its chain, against the cost of the three
// signature verifications alone (ASK by ARK, VCEK by ASK, report by VCEK), measured in
// the same run. Reports the ratio; prints nothing else on stdout.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <filesystem>

#include "attest/amd_roots.hpp"
#include "dev/snp_authority.hpp"
#include "attest/snp_verify.hpp"

using namespace confer;
using namespace confer::attest;
using namespace confer::dev;
using Clock = std::chrono::steady_clock;

namespace {

template <typename F>
double seconds_per_op(int iterations, F&& f) {
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) f();
  return std::chrono::duration<double>(Clock::now() - start).count() / iterations;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 200;
  auto authority = DevAuthority::create(Product::milan);
  if (!authority) return 1;
  SnpReport report = dev_report_template(Product::milan);
  auto signer = authority->issue(authority->spec_for(report));
  if (!signer) return 1;
  auto bytes = sign_report(report, signer->key.get());
  if (!bytes) return 1;

  SnpInput input;
  input.report = *bytes;
  input.signer = signer->cert;
  input.chain = {authority->ask(), authority->ark()};
  SnpVerifyOptions options;
  options.at = now_utc();
  options.extra_roots = {authority->ark()};

  if (!verify_report(input, options).verified()) {
    std::fprintf(stderr, "bench: the development report does not verify\n");
    return 1;
  }
  // Warm up both paths.
  for (int i = 0; i < 5; ++i) {
    (void)verify_report(input, options);
    (void)verify_report_signature(*bytes, signer->cert);
  }
  double sigs = seconds_per_op(iterations, [&] {
    bool ok = crypto::verify_issued_by(authority->ask(), authority->ark()).ok() &&
              crypto::verify_issued_by(signer->cert, authority->ask()).ok() &&
              verify_report_signature(*bytes, signer->cert).ok();
    if (!ok) std::abort();
  });
  double full = seconds_per_op(iterations, [&] {
    if (!verify_report(input, options).verified()) std::abort();
  });
  std::printf("iterations                     %d\n", iterations);
  std::printf("three signature checks alone   %.1f us\n", sigs * 1e6);
  std::printf("full report + chain verify     %.1f us\n", full * 1e6);
  std::printf("ratio full / signatures        %.3f\n", full / sigs);

  // The production path: a real Milan report, AMD's built-in chain parsed per call.
  const char* env = std::getenv("CONFER_VECTORS");
  std::string dir = std::string(env != nullptr ? env : "../shared/vectors") + "/sev-snp/milan-virtee-v2";
  if (!std::filesystem::is_directory(dir)) {
    std::printf("real-vector path skipped: %s not found\n", dir.c_str());
    return 0;
  }
  SnpInput real;
  real.report = *read_file(dir + "/report.bin");
  real.signer = *crypto::Cert::from_der(*read_file(dir + "/vcek.der"));
  SnpVerifyOptions real_opt;
  real_opt.at = now_utc();
  auto ark = crypto::Cert::from_der_or_pem(as_bytes(amd_roots(Product::milan)->ark_pem));
  auto ask = crypto::Cert::from_der_or_pem(as_bytes(amd_roots(Product::milan)->ask_pem));
  if (!ark || !ask || !verify_report(real, real_opt).verified()) return 1;
  double real_sigs = seconds_per_op(iterations, [&] {
    bool ok = crypto::verify_issued_by(*ask, *ark).ok() && crypto::verify_issued_by(*real.signer, *ask).ok() &&
              verify_report_signature(real.report, *real.signer).ok();
    if (!ok) std::abort();
  });
  double real_full = seconds_per_op(iterations, [&] {
    if (!verify_report(real, real_opt).verified()) std::abort();
  });
  std::printf("AMD milan-virtee-v2: signatures %.1f us, full %.1f us, ratio %.3f\n", real_sigs * 1e6,
              real_full * 1e6, real_full / real_sigs);
  return 0;
}
