// The verification's JSON form (verify-attestation --json): verdict first, then the
// report's fields and every check.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/snp_verify.hpp"
#include "core/json.hpp"
#include "core/time.hpp"

namespace confer::attest {

std::string verification_json(const SnpVerification& v, const std::string& evidence_format) {
  using json = nlohmann::ordered_json;  // verdict first, as a reader expects
  json out;
  out["verdict"] = v.verified() ? "verified" : "refused";
  const Check* first = v.first_failure();
  out["first_failure"] = first ? json(first->name) : json(nullptr);
  out["platform"] = "SEV-SNP";
  out["evidence_format"] = evidence_format;
  out["product"] = product_name(v.product);
  out["trust_root"] = v.development_root ? "development" : "amd";
  out["root_sha256"] = v.root_sha256;
  out["verification_time"] = format_rfc3339(v.at);
  if (v.report) {
    const SnpReport& r = *v.report;
    json rep;
    rep["version"] = r.version;
    rep["guest_svn"] = r.guest_svn;
    rep["policy"] = fmt::format("0x{:016x}", r.policy);
    rep["vmpl"] = r.vmpl;
    rep["signing_key"] = signing_key_name(r.signing_key());
    rep["measurement"] = to_hex(r.measurement);
    rep["report_data"] = to_hex(r.report_data);
    rep["host_data"] = to_hex(r.host_data);
    rep["id_key_digest"] = to_hex(r.id_key_digest);
    rep["author_key_digest"] = to_hex(r.author_key_digest);
    rep["family_id"] = to_hex(r.family_id);
    rep["image_id"] = to_hex(r.image_id);
    rep["report_id"] = to_hex(r.report_id);
    rep["chip_id"] = to_hex(r.chip_id);
    rep["platform_info"] = fmt::format("0x{:016x}", r.platform_info);
    auto tcb = [&](uint64_t raw) {
      Tcb t = decode_tcb(raw, v.product);
      json j = {{"raw", fmt::format("{:016x}", raw)}, {"bl", t.bootloader}, {"tee", t.tee},
                {"snp", t.snp}, {"ucode", t.microcode}};
      if (v.product == Product::turin) j["fmc"] = t.fmc;
      return j;
    };
    rep["current_tcb"] = tcb(r.current_tcb);
    rep["reported_tcb"] = tcb(r.reported_tcb);
    rep["committed_tcb"] = tcb(r.committed_tcb);
    rep["launch_tcb"] = tcb(r.launch_tcb);
    rep["current_firmware"] = fmt::format("{}.{}.{}", r.current_fw.major, r.current_fw.minor,
                                          r.current_fw.build);
    if (r.version >= 3)
      rep["cpuid"] = fmt::format("{:02x}/{:02x}/{:02x}", r.cpuid_family, r.cpuid_model,
                                 r.cpuid_stepping);
    out["report"] = rep;
  } else {
    out["report"] = nullptr;
  }
  out["checks"] = checks_json(v.checks);
  // Messages can quote file names, which need not be UTF-8: never throw over that.
  return dump_json(out);
}

}  // namespace confer::attest
