// confer dev-evidence: development SEV-SNP evidence from a freshly generated local chain.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "dev/snp_authority.hpp"
#include "attest/evidence.hpp"
#include "attest/snp_policy.hpp"
#include "commands/common.hpp"

namespace confer::cli {

namespace {

using namespace confer::attest;
using namespace confer::dev;

struct Options {
  std::string out;
  std::string product = "milan";
  std::string measurement;
  std::string report_data;
  unsigned vmpl = 0;
  bool force = false;
};

int run(const Options& o) {
  namespace fs = std::filesystem;
  Product product = product_from_name(o.product);
  SnpReport report = dev_report_template(product);
  report.vmpl = o.vmpl;
  if (!o.measurement.empty()) {
    auto m = parse_measurement_hex(o.measurement);
    if (!m) return fail(for_option("--measurement", m.error()));
    report.measurement = *m;
  } else {
    // A recognisable non-zero value, so that pinning it in a demo means something.
    for (size_t i = 0; i < report.measurement.size(); ++i) report.measurement[i] = uint8_t(0xd0 + i);
  }
  if (!o.report_data.empty()) {
    auto rd = parse_report_data_hex(o.report_data);
    if (!rd) return fail(for_option("--report-data", rd.error()));
    std::copy(rd->begin(), rd->end(), report.report_data.begin());
  }

  fs::path dir(o.out);
  fs::path evidence_path = dir / "evidence.json";
  fs::path root_path = dir / "dev-root.pem";
  std::error_code ec;
  if (!o.force && (fs::exists(evidence_path, ec) || fs::exists(root_path, ec)))
    return fail(make_error(Errc::io, fmt::format("{} already holds evidence.json or dev-root.pem", dir.string())),
                {"pass --force to replace them, or choose another --out"});
  fs::create_directories(dir, ec);
  if (ec) return fail(make_error(Errc::io, fmt::format("creating {}: {}", dir.string(), ec.message())));

  print_note(fmt::format("generating a development {} chain (RSA-4096 ARK and ASK, P-384 VCEK); "
                         "this is NOT AMD's",
                         product_name(product)));
  auto authority = DevAuthority::create(product);
  if (!authority) return fail(authority.error());
  auto signer = authority->issue(authority->spec_for(report));
  if (!signer) return fail(signer.error());
  auto signed_report = sign_report(report, signer->key.get());
  if (!signed_report) return fail(signed_report.error());

  std::string json = evidence_json(*signed_report, signer->cert.pem(), authority->chain_pem());
  std::string root = authority->ark().pem();
  if (auto w = write_file_atomic(evidence_path.string(), as_bytes(json)); !w) return fail(w.error());
  if (auto w = write_file_atomic(root_path.string(), as_bytes(root)); !w) return fail(w.error());
  std::printf("%s\n%s\n", evidence_path.c_str(), root_path.c_str());
  print_note(fmt::format("measurement {}", to_hex(report.measurement)));
  print_note(fmt::format("verify with: confer verify-attestation --evidence {} --trust-root {}",
                         evidence_path.string(), root_path.string()));
  return kExitOk;
}

}  // namespace

Handler setup_dev_evidence(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--out", o->out, "Directory to write evidence.json and dev-root.pem into")->required();
  app.add_option("--product", o->product, "Product line: milan, genoa or turin")
      ->check(CLI::IsMember({"milan", "genoa", "turin"}));
  app.add_option("--measurement", o->measurement, "Launch measurement to report (96 hex digits)");
  app.add_option("--report-data", o->report_data, "REPORT_DATA (up to 64 bytes hex, zero-padded)");
  app.add_option("--vmpl", o->vmpl, "VMPL to report")->check(CLI::Range(0, 3));
  app.add_flag("--force", o->force, "Replace existing files");
  return [o] { return run(*o); };
}

}  // namespace confer::cli
