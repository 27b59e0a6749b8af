// confer verify-attestation: an auditor's view of a deployment's evidence.
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "crypto/ossl.hpp"
#include "attest/evidence.hpp"
#include "attest/kds.hpp"
#include "attest/gpu_verify.hpp"
#include "attest/snp_verify.hpp"
#include "attest/tdx_verify.hpp"
#include "attest/verification.hpp"
#include "client/collateral.hpp"
#include "client/session.hpp"
#include "commands/common.hpp"
#include "commands/trust_flags.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "crypto/hash.hpp"
#include "attest/evidence_document.hpp"

namespace confer::cli {

namespace {

using namespace confer::attest;

struct Options {
  TrustFlags trust;
  std::string url;
  std::string save;
  std::string evidence;
  std::string receipt;
  std::string vcek;
  std::string chain;
  std::string at;
  std::string report_data;
  std::optional<unsigned> vmpl;
  std::string min_tcb;
  std::string collateral;        // TDX: Intel collateral directory
  std::string gpu_evidence;      // NVIDIA SPDM report
  std::string gpu_chain;
  std::string gpu_nonce;
  std::string gpu_measurements;
  bool offline = false;
  bool json = false;
  bool verbose = false;
};

// The shared trust flags, plus the policy flags only an auditor's report takes.
Result<client::TrustConfig> build_auditor_trust(const Options& o) {
  CONFER_TRY(client::TrustConfig trust, build_trust(o.trust));
  SnpPolicy& p = trust.policy;
  if (!o.report_data.empty()) {
    auto rd = parse_report_data_hex(o.report_data);
    if (!rd) return for_option("--report-data", rd.error());
    p.report_data = std::move(*rd);
  }
  if (o.vmpl) p.vmpl = *o.vmpl;
  if (!o.min_tcb.empty()) {
    auto tcb = parse_tcb_spec(o.min_tcb);
    if (!tcb) return for_option("--min-tcb", tcb.error());
    p.min_tcb = *tcb;
  }
  trust.offline = o.offline;
  trust.require_release = false;
  return trust;
}

int report_tdx(const TdxVerification& v, const std::string& format, bool json);

// --json: one object for either platform.
std::string json_of(const Verification& v, const std::string& evidence_format) {
  if (v.tdx) return dump_json(tdx_verification_json(*v.tdx, evidence_format));
  return verification_json(*v.snp, evidence_format);
}

int report_and_exit(const Verification& any, const std::string& evidence_format, bool json) {
  if (any.tdx) return report_tdx(*any.tdx, evidence_format, json);
  const SnpVerification& v = *any.snp;
  if (json)
    std::printf("%s\n", verification_json(v, evidence_format).c_str());
  else
    print_verification(any, evidence_format);
  std::fflush(stdout);
  if (v.development_root)
    print_warning("the evidence chains to a development root given with --trust-root, NOT to AMD");
  if (const Check* f = v.first_failure()) {
    print_error(fmt::format("attestation refused: {}: expected {}, seen {}", f->name, f->expected, f->seen),
                {hint_for(*f)});
    return kExitAttestation;
  }
  return kExitOk;
}

void save_live_evidence(const Options& o, const transport::ServerUrl& url, const client::AttestedSession* live) {
  std::string payload = live != nullptr ? live->evidence_json : "";
  auto doc = attest::EvidenceDocument::parse(payload);
  if (!doc) return;
  if (live != nullptr)
    doc->channel = attest::SavedChannel{to_hex(live->channel->server_static()), url.text(),
                                        format_rfc3339(now_utc())};
  if (auto w = write_file_atomic(o.save, as_bytes(doc->serialize(2) + "\n")); !w) {
    fail(w.error());
    return;
  }
  print_note("saved the evidence to " + o.save);
}

// Connects, completes the handshake only if the live evidence verifies, and reports it.
int run_live(const Options& o, const client::TrustConfig& trust) {
  auto url = transport::parse_server_url(o.url);
  if (!url) return fail(url.error());
  if (!o.vcek.empty() || !o.chain.empty())
    return fail(make_error(Errc::usage, "--vcek and --chain go with --evidence; a live server sends its collateral"));
  Verification refused;
  auto session = client::open_attested_session(*url, trust, &refused);
  const client::AttestedSession* live = session ? &*session : nullptr;
  if (!session && session.error().code != Errc::attestation) return fail(session.error());
  if (live != nullptr) note_collateral(live->vcek);
  if (!o.save.empty() && (live != nullptr || !refused.checks().empty())) save_live_evidence(o, *url, live);
  return report_and_exit(live != nullptr ? live->verification : refused, "live evidence from " + url->text(), o.json);
}

Result<client::SuppliedCollateral> supplied(const std::string& path) {
  client::SuppliedCollateral s;
  if (path.empty()) return s;
  CONFER_TRY(s.bytes, read_file(path));
  s.label = path;
  return s;
}

std::string strip_prefix(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s;
}

void print_checks(std::string& out, const CheckList& checks, bool c, size_t width) {
  for (const auto& check : checks) {
    std::string status = check.status == CheckStatus::ok       ? paint("ok     ", "32", c)
                         : check.status == CheckStatus::failed ? paint("FAILED ", "1;31", c)
                                                               : paint("skipped", "2", c);
    out += fmt::format("  {} {}\n", status, check.name);
    out += "            expected  " + wrap_value(check.expected, 22, width) + "\n";
    out += "            seen      " + wrap_value(check.seen, 22, width) + "\n";
    for (const auto& child : check.children) {
      std::string cs = child.status == CheckStatus::ok       ? "ok     "
                       : child.status == CheckStatus::failed ? "FAILED "
                                                             : "skipped";
      out += fmt::format("              {} {}: {}\n", cs, child.name, child.seen);
    }
  }
}

void print_verdict(std::string& out, const Check* failed, bool development, const char* vendor, bool c) {
  if (failed != nullptr)
    out += "verdict: " + paint("refused", "1;31", c) + " (" + failed->name + ")\n";
  else if (development)
    out += "verdict: " + paint("verified", "1;32", c) + fmt::format(" against a development root (NOT {})\n", vendor);
  else
    out += "verdict: " + paint("verified", "1;32", c) + "\n";
}

void print_tdx_verification(const TdxVerification& v, const std::string& evidence_format) {
  const size_t width = output_columns();
  bool c = color_stdout();
  std::string out;
  auto reg = [&](const char* label, ByteView value) {
    out += fmt::format("  {:<13} ", label) + wrap_value(to_hex(value), 16, width) + "\n";
  };
  if (v.quote) {
    const auto& q = *v.quote;
    const auto& b = q.body;
    out += fmt::format("Intel TDX quote: version {}, {} body, QE SVN {}\n", q.header.version, td_body_name(b.body_type),
                       q.qe.isvsvn);
    out += fmt::format("  evidence      {}\n", evidence_format);
    reg("mrtd", b.mrtd);
    for (size_t k = 0; k < 4; ++k) reg(fmt::format("rtmr{}", k).c_str(), b.rtmr[k]);
    reg("report data", b.report_data);
    reg("mrseam", b.mrseam);
    out += fmt::format("  tee tcb svn   {}\n", to_hex(b.tee_tcb_svn));
    out += fmt::format("  attributes    TD {:016x}, XFAM {:016x}\n", b.td_attributes, b.xfam);
    if (v.pck) out += fmt::format("  platform      FMSPC {}, PCESVN {}\n", to_hex(v.pck->fmspc), v.pck->pcesvn);
    if (v.tcb) {
      out += fmt::format("  tcb status    {}\n", v.tcb->status);
      if (!v.tcb->advisories.empty()) out += fmt::format("  advisories    {}\n", fmt::join(v.tcb->advisories, ", "));
    }
  } else if (v.ita) {
    const auto& t = *v.ita;
    out += "Intel TDX, appraised by Intel Trust Authority (the quote and TCB were checked by Intel, not by confer)\n";
    out += fmt::format("  evidence      {}\n", evidence_format);
    reg("mrtd", t.mrtd);
    for (size_t k = 0; k < 4; ++k) reg(fmt::format("rtmr{}", k).c_str(), t.rtmr[k]);
    reg("report data", t.report_data);
    out += fmt::format("  tcb status    {} (Intel's appraisal)\n", t.tcb_status);
    out += fmt::format("  token expires {}\n", format_rfc3339(t.exp));
  } else {
    out += fmt::format("Intel TDX evidence ({})\n", evidence_format);
  }
  out += fmt::format("  {}{}\n", v.first_failure() ? "checked at    " : "verified at   ", format_rfc3339(v.at));
  if (v.development_root)
    out += "  " + paint(wrap_value("WARNING: this chain ends at a development root, NOT Intel's; it proves nothing "
                                   "about real hardware", 2, width), "1;33", c) + "\n";
  out += "\n";
  print_checks(out, v.checks, c, width);
  out += "\n";
  print_verdict(out, v.first_failure(), v.development_root, "Intel", c);
  std::fputs(out.c_str(), stdout);
}

void print_gpu_verification(const GpuVerification& v, const std::string& label) {
  const size_t width = output_columns();
  bool c = color_stdout();
  std::string out;
  if (v.report) {
    out += fmt::format("NVIDIA GPU attestation report (SPDM 1.1): driver {}, VBIOS {}, {} measurement blocks\n",
                       v.report->driver_version().value_or("?"), v.report->vbios_version().value_or("?"),
                       v.report->blocks.size());
    out += "  nonce         " + wrap_value(to_hex(v.report->request_nonce), 16, width) + "\n";
  } else {
    out += "NVIDIA GPU attestation report\n";
  }
  out += fmt::format("  evidence      {}\n", label);
  out += fmt::format("  {}{}\n", v.first_failure() ? "checked at    " : "verified at   ", format_rfc3339(v.at));
  out += "\n";
  print_checks(out, v.checks, c, width);
  out += "\n";
  print_verdict(out, v.first_failure(), v.development_root, "NVIDIA", c);
  std::fputs(out.c_str(), stdout);
}

// GPU evidence given beside (or instead of) the CPU's: verified on its own.
Result<std::optional<GpuVerification>> gpu_verification(const Options& o, const client::TrustConfig& trust, UnixTime at) {
  if (o.gpu_evidence.empty() && o.gpu_chain.empty()) {
    if (!o.gpu_nonce.empty() || !o.gpu_measurements.empty())
      return make_error(Errc::usage, "--gpu-nonce and --gpu-measurements go with --gpu-evidence and --gpu-chain");
    return std::optional<GpuVerification>();
  }
  if (o.gpu_evidence.empty() || o.gpu_chain.empty())
    return make_error(Errc::usage, "--gpu-evidence and --gpu-chain go together");
  GpuInput in;
  CONFER_TRY(in.report, read_file(o.gpu_evidence));
  CONFER_TRY(in.chain_pem, read_file(o.gpu_chain));
  GpuVerifyOptions opt;
  opt.at = at;
  opt.extra_roots = trust.extra_roots;
  if (!o.gpu_nonce.empty()) {
    auto nonce = from_hex(o.gpu_nonce);
    if (!nonce || nonce->size() != 32)
      return make_error(Errc::usage, fmt::format("--gpu-nonce: expected 64 hex digits (32 bytes), saw '{}'",
                                                 o.gpu_nonce.substr(0, 80)));
    opt.expected_nonce = std::move(nonce).value();
  }
  if (!o.gpu_measurements.empty()) {
    CONFER_TRY(Bytes text, read_file(o.gpu_measurements));
    auto m = parse_gpu_measurements_json(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
    if (!m) return make_error(Errc::usage, "--gpu-measurements " + o.gpu_measurements + ": " + m.error().message);
    opt.expected_measurements = std::move(m).value();
  }
  return std::optional<GpuVerification>(verify_gpu_evidence(in, opt));
}

// Prints the GPU's verification after the CPU's; 3 when it refused.
int report_gpu(const std::optional<GpuVerification>& gpu, const std::string& label, bool json, int cpu_code) {
  if (!gpu) return cpu_code;
  if (json) {
    std::printf("%s\n", dump_json(gpu_verification_json(*gpu)).c_str());
  } else {
    std::printf("\n");
    print_gpu_verification(*gpu, label);
  }
  std::fflush(stdout);
  if (const Check* f = gpu->first_failure()) {
    print_error(fmt::format("GPU attestation refused: {}: expected {}, seen {}", f->name, f->expected, f->seen),
                {hint_for(*f)});
    return kExitAttestation;
  }
  return cpu_code;
}

int report_tdx(const TdxVerification& v, const std::string& format, bool json) {
  if (json)
    std::printf("%s\n", dump_json(tdx_verification_json(v, format)).c_str());
  else
    print_tdx_verification(v, format);
  std::fflush(stdout);
  if (v.development_root)
    print_warning("the evidence chains to a development root given with --trust-root, NOT to Intel");
  if (v.appraisal == "intel-trust-authority")
    print_note("this TDX evidence is an Intel Trust Authority token: Intel checked the quote and its TCB; confer "
               "checked Intel's signature and the claims");
  if (const Check* f = v.first_failure()) {
    print_error(fmt::format("attestation refused: {}: expected {}, seen {}", f->name, f->expected, f->seen),
                {hint_for(*f)});
    return kExitAttestation;
  }
  return kExitOk;
}

int run_tdx_file(const Options& o, const client::TrustConfig& trust, UnixTime at, const Evidence& evidence,
                 const std::optional<GpuVerification>& gpu) {
  if (!o.vcek.empty() || !o.chain.empty())
    return fail(make_error(Errc::usage, "--vcek and --chain are SEV-SNP collateral; a TDX quote carries its PCK "
                                        "chain, and Intel's collateral comes with --collateral DIR"));
  TdxVerifyOptions options;
  options.at = at;
  options.policy = trust.policy.tdx;
  options.report_data = trust.policy.report_data;
  options.extra_roots = trust.extra_roots;
  options.channel_key = evidence.channel_key;
  std::string format = evidence.format == EvidenceFormat::raw      ? "raw quote"
                       : evidence.format == EvidenceFormat::base64 ? "base64 quote"
                                                                   : evidence_format_name(evidence.format);
  if (evidence.ita_token) {
    if (!o.collateral.empty())
      return fail(make_error(Errc::usage, "--collateral goes with a TDX quote; an Intel Trust Authority token has none"));
    Verification v(verify_ita_token(*evidence.ita_token, trust.ita_jwks, options));
    check_gpus(v, evidence.gpus, trust.policy.require_gpu, trust.policy.gpu_measurements, trust.extra_roots, at);
    int code = report_tdx(*v.tdx, format, o.json);
    return report_gpu(gpu, o.gpu_evidence, o.json, code);
  }
  TdxCollateral collateral = evidence.tdx_collateral;
  if (!o.collateral.empty()) {
    auto dir = read_tdx_collateral_dir(o.collateral);
    if (!dir) return fail(for_option("--collateral", dir.error()));
    collateral = std::move(dir).value();
  } else if (collateral.empty()) {
    // Neither given nor in the evidence: the cache, or Intel's PCS unless --offline.
    auto quote = parse_tdx_quote(evidence.report);
    if (quote) {
      auto fetcher = make_curl_pcs_fetcher();
      auto lookup = find_or_fetch_tdx_collateral(*quote, at, trust.cache_root, trust.pcs, o.offline, *fetcher);
      if (lookup) {
        note_tdx_collateral(*lookup);
        collateral = std::move(lookup->collateral);
      } else if (!o.offline) {
        return fail(lookup.error(), {"give Intel's collateral with --collateral DIR, or check the network and "
                                     "HTTPS_PROXY"});
      }
    }
  }
  Verification v(verify_tdx_quote(evidence.report, collateral, options));
  check_gpus(v, evidence.gpus, trust.policy.require_gpu, trust.policy.gpu_measurements, trust.extra_roots, at);
  int code = report_tdx(*v.tdx, format, o.json);
  return report_gpu(gpu, o.gpu_evidence, o.json, code);
}

int run_file(const Options& o, const client::TrustConfig& trust, UnixTime at) {
  auto file = read_file(o.evidence);
  if (!file) return fail(file.error());
  auto evidence = parse_evidence(*file);
  // Bytes that are not evidence are an input error, not a verdict on a machine.
  if (!evidence)
    return fail(make_error(Errc::parse,
                           fmt::format("{}: not attestation evidence: {}", o.evidence == "-" ? "standard input" : o.evidence,
                                       file->empty() ? "the file is empty; expected a 1184-byte SEV-SNP report, its "
                                                       "base64, an Azure HCL report or evidence JSON"
                                                     : strip_prefix(evidence.error().message, "evidence: "))),
                {"confer verify-attestation URL --save FILE keeps a server's evidence in a form this reads"},
                std::string(attest::checks::kReportFormat));
  auto gpu = gpu_verification(o, trust, at);
  if (!gpu) return fail(gpu.error());
  if (evidence->platform == Platform::tdx) return run_tdx_file(o, trust, at, *evidence, *gpu);
  if (!o.collateral.empty())
    return fail(make_error(Errc::usage, "--collateral goes with TDX evidence; this is a SEV-SNP report"));
  std::string format = evidence_format_name(evidence->format);
  client::CollateralRequest request = collateral_request(o.offline);
  auto vcek = supplied(o.vcek);
  if (!vcek) return fail(vcek.error());
  auto chain = supplied(o.chain);
  if (!chain) return fail(chain.error());
  request.vcek = std::move(vcek).value();
  request.chain = std::move(chain).value();
  auto assembled = client::assemble_input(*evidence, request, at);
  if (!assembled) {
    std::string hint = "pass the signing certificate with --vcek FILE";
    if (o.offline) hint = "--offline forbids fetching it from AMD KDS: " + hint + ", or drop --offline";
    else if (assembled.error().code == Errc::network) hint += ", or check the network and HTTPS_PROXY";
    return fail(assembled.error(), {hint});
  }
  note_collateral(assembled->vcek);
  if (assembled->refused) return report_and_exit(*assembled->refused, format, o.json);
  SnpVerifyOptions options;
  options.at = at;
  options.policy = trust.policy;
  options.extra_roots = trust.extra_roots;
  options.channel_key = evidence->channel_key;
  Verification v(verify_report(*assembled->input, options));
  check_gpus(v, evidence->gpus, trust.policy.require_gpu, trust.policy.gpu_measurements, trust.extra_roots, at);
  int code = report_and_exit(v, format, o.json);
  return report_gpu(*gpu, o.gpu_evidence, o.json, code);
}

// One exported turn to re-check: its receipt and the saved evidence the export carried.
struct ReceiptItem {
  std::string label;
  nlohmann::json receipt;
  std::optional<std::string> document;
};

Result<std::vector<ReceiptItem>> receipt_items(const std::string& path) {
  CONFER_TRY(Bytes file, read_file(path));
  std::string text(file.begin(), file.end());
  std::vector<nlohmann::json> docs;
  constexpr JsonLimits kLimits{256u << 20, 16};
  if (auto whole = parse_json(text, path, kLimits, Errc::parse); whole) {
    docs.push_back(std::move(whole).value());
  } else {
    // JSON Lines: one exported turn per line.
    size_t at = 0, line_no = 0;
    while (at < text.size()) {
      size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      std::string_view line(text.data() + at, end - at);
      ++line_no;
      at = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto one = parse_json(line, fmt::format("{} line {}", path, line_no), kLimits, Errc::parse);
      if (!one) return std::move(one).error();
      docs.push_back(std::move(one).value());
    }
  }
  std::vector<ReceiptItem> items;
  auto doc_of = [](const nlohmann::json& holder, const char* key) -> std::optional<std::string> {
    const auto* d = json_detail::member(holder, key);
    if (d != nullptr && d->is_string()) return d->get<std::string>();
    return std::nullopt;
  };
  auto add_turn = [&](const nlohmann::json& turn, const std::string& conversation, std::optional<std::string> document) {
    const auto* r = json_detail::member(turn, "receipt");
    const auto* index = json_detail::member(turn, "index");
    std::string label = fmt::format("conversation {}, turn {}", conversation, index != nullptr ? index->dump() : "?");
    items.push_back({label, r != nullptr ? *r : nlohmann::json(), std::move(document)});
  };
  for (const auto& d : docs) {
    if (d.is_array()) {  // confer export (JSON): conversations, each with its evidence by digest
      for (const auto& c : d) {
        if (!c.is_object()) return make_error(Errc::parse, path + ": expected conversations as objects");
        const auto* turns = json_detail::member(c, "turns");
        const auto* id = json_detail::member(c, "id");
        const auto* evidence = json_detail::member(c, "evidence");
        if (turns == nullptr || !turns->is_array())
          return make_error(Errc::parse, path + ": a conversation without \"turns\"");
        for (const auto& t : *turns) {
          std::optional<std::string> document;
          const auto* r = t.is_object() ? json_detail::member(t, "receipt") : nullptr;
          const auto* digest = r != nullptr && r->is_object() ? json_detail::member(*r, "evidence") : nullptr;
          if (evidence != nullptr && evidence->is_object() && digest != nullptr && digest->is_string())
            document = doc_of(*evidence, digest->get<std::string>().c_str());
          add_turn(t, id != nullptr && id->is_string() ? id->get<std::string>() : "?", std::move(document));
        }
      }
    } else if (d.is_object() && json_detail::member(d, "receipt") != nullptr) {  // --format jsonl: one turn
      const auto* c = json_detail::member(d, "conversation");
      add_turn(d, c != nullptr && c->is_string() ? c->get<std::string>() : "?", doc_of(d, "evidence_document"));
    } else {
      return make_error(Errc::parse, path + ": expected turns exported by confer export (--format json or jsonl)");
    }
  }
  if (items.empty()) return make_error(Errc::parse, path + ": no exported turn in it");
  return items;
}

// Re-checks one receipt offline at the time it was verified: the evidence it names
// (by SHA-256) as the export carried it, bound to the receipt's server key, verified as
// --evidence would be, and its measurement the receipt's.
Verification check_receipt(const ReceiptItem& item, const client::TrustConfig& trust) {
  auto str = [&](const char* key) {
    const auto* v = item.receipt.is_object() ? json_detail::member(item.receipt, key) : nullptr;
    return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
  };
  UnixTime at = now_utc();
  auto verified = parse_rfc3339(str("verified"));
  if (!item.receipt.is_object() || !verified)
    return client::refused_at("receipt.format", "a receipt with platform, measurement, server_key, verified and evidence",
                              item.receipt.is_object() ? "a receipt without a verification time" : "no receipt", at);
  at = *verified;
  std::string digest = str("evidence");
  if (digest.empty())
    return client::refused_at("receipt.evidence", "the digest of the evidence the turn was answered under",
                              "none (a turn saved before receipts kept their evidence)", at);
  if (!item.document)
    return client::refused_at("receipt.evidence", "the saved evidence " + digest.substr(0, 16) + "... in the export",
                              "none (answered on another device, whose evidence stays there)", at);
  std::string seen = to_hex(crypto::sha256(as_bytes(*item.document)));
  if (seen != digest)
    return client::refused_at("receipt.evidence", "evidence hashing to " + digest, "evidence hashing to " + seen, at);
  auto key_bytes = from_hex(str("server_key"));
  if (!key_bytes || key_bytes->size() != 32)
    return client::refused_at("receipt.format", "a 32-byte server key in hex", "'" + str("server_key") + "'", at);
  noise::PublicKey key{};
  std::copy(key_bytes->begin(), key_bytes->end(), key.begin());
  auto doc = attest::EvidenceDocument::parse(*item.document);
  if (doc && doc->channel && doc->channel->server_static_key != str("server_key"))
    return client::refused_at("receipt.server_key", "the receipt's server key " + str("server_key"),
                              "evidence saved for " + doc->channel->server_static_key, at);
  client::TrustConfig offline = trust;
  offline.offline = true;
  auto v = client::verify_payload(as_bytes(*item.document), key, offline, std::nullopt, nullptr, at);
  if (!v) return client::refused_at("receipt.evidence", "saved evidence that verifies", v.error().message, at);
  std::string m = v->measurement();
  if (!m.empty())
    v->checks().add("receipt.measurement", m == str("measurement"), "the receipt's measurement " + str("measurement"), m);
  return std::move(v).value();
}

int run_receipts(const Options& o, const client::TrustConfig& trust) {
  auto items = receipt_items(o.receipt);
  if (!items) return fail(items.error(), {"confer export (--format json or jsonl) writes turns with their receipts"});
  int refused = 0;
  for (const auto& item : *items) {
    Verification v = check_receipt(item, trust);
    std::string label = "receipt of " + item.label;
    if (o.json) {
      std::printf("%s\n", json_of(v, label).c_str());
    } else {
      print_verification(v, label);
      std::printf("\n");
    }
    if (v.first_failure() != nullptr) {
      ++refused;
      const Check* f = v.first_failure();
      print_error(fmt::format("{}: refused: {}: expected {}, seen {}", item.label, f->name, f->expected, f->seen));
    }
  }
  std::fflush(stdout);
  if (refused > 0) {
    print_error(fmt::format("{} of {} receipt(s) refused", refused, items->size()));
    return kExitAttestation;
  }
  print_note(fmt::format("{} receipt(s) re-checked against their saved evidence: all verified", items->size()));
  return kExitOk;
}

int run(Options o) {
  if (o.json) set_json_errors(true);
  crypto::keep_openssl_detail(o.verbose);
  // Flags that cannot apply are refused, never ignored.
  if (!o.url.empty() && !o.at.empty())
    return fail(make_error(Errc::usage, "--at goes with --evidence: a live server is verified now"));
  if (!o.evidence.empty() && !o.save.empty())
    return fail(make_error(Errc::usage, "--save goes with a server URL: the evidence is already in " + o.evidence));
  UnixTime at = now_utc();
  if (!o.at.empty()) {
    auto parsed = parse_rfc3339(o.at);
    if (!parsed) return fail(for_option("--at", parsed.error()), {"--at takes a time such as 2025-06-01T00:00:00Z"});
    at = *parsed;
  }
  auto cfg = load_user_config();
  if (!cfg) return fail(cfg.error());
  apply_config_defaults(o.trust, *cfg);
  auto trust = build_auditor_trust(o);
  if (!trust) return fail(trust.error(), {"see confer-verify-attestation(1), OPTIONS, for --policy and the --expect flags"});
  if (!o.receipt.empty()) {
    if (!o.url.empty() || !o.evidence.empty() || !o.at.empty() || !o.vcek.empty() || !o.chain.empty() || !o.save.empty())
      return fail(make_error(Errc::usage, "--receipt takes its evidence and time from the export; not with a URL, "
                                          "--evidence, --at, --vcek, --chain or --save"));
    return run_receipts(o, *trust);
  }
  if (o.url.empty() && o.evidence.empty() && (!o.gpu_evidence.empty() || !o.gpu_chain.empty())) {
    auto gpu = gpu_verification(o, *trust, at);
    if (!gpu) return fail(gpu.error());
    return report_gpu(*gpu, o.gpu_evidence, o.json, kExitOk);
  }
  if (!o.url.empty() && (!o.gpu_evidence.empty() || !o.collateral.empty()))
    return fail(make_error(Errc::usage, "--gpu-evidence and --collateral go with --evidence; a live server sends "
                                        "its own"));
  if (o.url.empty() == o.evidence.empty())
    return fail(make_error(Errc::usage, "expected a server URL or --evidence FILE, and not both"),
                {"confer verify-attestation https://host, or confer verify-attestation --evidence FILE"});
  if (!o.url.empty()) return run_live(o, *trust);
  return run_file(o, *trust, at);
}

}  // namespace

Handler setup_verify_attestation(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("url", o->url, "A confer-server to connect to (ws://, wss://, http://, https://)");
  app.add_option("--evidence", o->evidence,
                 "Evidence: raw or base64 SEV-SNP report or TDX quote, Azure HCL report, an Intel Trust Authority "
                 "token, or evidence JSON ('-' for stdin)");
  app.add_option("--receipt", o->receipt,
                 "Re-check exported turns' receipts (confer export) offline against the evidence saved with them");
  app.add_flag("--verbose", o->verbose, "After each failure in words, OpenSSL's own text");
  app.add_option("--save", o->save, "With a URL: keep the server's evidence here for offline re-verification");
  app.add_option("--vcek", o->vcek, "VCEK or VLEK certificate (DER or PEM) that signed the report");
  app.add_option("--chain", o->chain, "PEM chain: ASK (or ASVK) then ARK; default: built in");
  app.add_option("--at", o->at, "Verification time, RFC 3339 (default: now)");
  app.add_option("--expect-report-data", o->report_data, "Expected REPORT_DATA, or a prefix of it (hex)");
  app.add_option("--vmpl", o->vmpl, "Required VMPL")->check(CLI::Range(0, 3));
  app.add_option("--min-tcb", o->min_tcb, "Minimum reported TCB, e.g. bl=3,tee=0,snp=8,ucode=115");
  app.add_option("--collateral", o->collateral,
                 "TDX: a directory of Intel collateral (tcb_info.json, qe_identity.json, CRLs, issuer chains)");
  app.add_option("--gpu-evidence", o->gpu_evidence, "NVIDIA GPU attestation report (SPDM request and response)");
  app.add_option("--gpu-chain", o->gpu_chain, "The GPU's PEM certificate chain, leaf first");
  app.add_option("--gpu-nonce", o->gpu_nonce, "The nonce the GPU report must answer (64 hex digits)");
  app.add_option("--gpu-measurements", o->gpu_measurements,
                 "JSON file of expected GPU measurement blocks: {\"measurements\": {\"INDEX\": \"HEX\"}}");
  declare_trust_flags(app, o->trust);
  app.add_flag("--offline", o->offline, "Never use the network");
  app.add_flag("--json", o->json, "Print the report as one JSON object");
  return [o] { return run(*o); };
}

void print_verification(const attest::Verification& any, const std::string& evidence_format) {
  using namespace confer::attest;
  if (any.tdx) {
    print_tdx_verification(*any.tdx, evidence_format);
    return;
  }
  const SnpVerification& v = *any.snp;
  const size_t width = output_columns();
  bool c = color_stdout();
  std::string out;
  if (v.report) {
    const SnpReport& r = *v.report;
    out += fmt::format("SEV-SNP attestation report: {}, version {}, signed by {}\n",
                       product_name(v.product), r.version, signing_key_name(r.signing_key()));
    out += fmt::format("  evidence      {}\n", evidence_format);
    out += "  measurement   " + wrap_value(to_hex(r.measurement), 16, width) + "\n";
    out += "  report data   " + wrap_value(to_hex(r.report_data), 16, width) + "\n";
    out += "  chip id       " + wrap_value(to_hex(r.chip_id), 16, width) + "\n";
    out += fmt::format("  reported tcb  {}\n", tcb_string(decode_tcb(r.reported_tcb, v.product), v.product));
    out += fmt::format("  guest policy  0x{:016x}, VMPL {}\n", r.policy, r.vmpl);
    out += fmt::format("  firmware      {}.{}.{}\n", r.current_fw.major, r.current_fw.minor, r.current_fw.build);
  } else {
    out += fmt::format("SEV-SNP attestation report ({})\n", evidence_format);
  }
  // A refused report was checked, never "verified".
  out += fmt::format("  {}{}\n", v.first_failure() ? "checked at    " : "verified at   ", format_rfc3339(v.at));
  if (v.development_root)
    out += "  " + paint(wrap_value("WARNING: this chain ends at a development root, NOT AMD's; it proves nothing "
                                   "about real hardware", 2, width), "1;33", c) + "\n";
  out += "\n";
  print_checks(out, v.checks, c, width);
  out += "\n";
  print_verdict(out, v.first_failure(), v.development_root, "AMD", c);
  std::fputs(out.c_str(), stdout);
}

}  // namespace confer::cli
