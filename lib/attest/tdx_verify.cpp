#include "attest/tdx_verify.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "attest/intel_roots.hpp"
#include "attest/snp_verify.hpp"
#include "core/json.hpp"
#include "crypto/hash.hpp"
#include "crypto/pkey.hpp"

namespace confer::attest {

namespace name = tdx_checks;
using crypto::Cert;

bool is_tcb_status_name(std::string_view s) noexcept {
  for (std::string_view known : {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
                                 "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded",
                                 "Revoked"})
    if (s == known) return true;
  return false;
}

namespace {

std::string when(UnixTime t) { return format_rfc3339(t); }

const char* validity_word(crypto::Validity v) {
  return v == crypto::Validity::expired ? "expired" : "not yet valid";
}

// "issueDate <= at <= nextUpdate" for a piece of collateral.
bool fresh(CheckList& checks, std::string_view check, const std::string& what, UnixTime issued, UnixTime next,
           UnixTime at) {
  std::string expected = fmt::format("{} current at {}", what, when(at));
  std::string window = fmt::format("issued {}, next update {}", when(issued), next != 0 ? when(next) : "none");
  if (at < issued) return checks.add(check, false, expected, "not yet issued: " + window);
  if (next == 0 || at > next) return checks.add(check, false, expected, "stale: " + window);
  return checks.add(check, true, expected, window);
}

struct Roots {
  const Cert* intel = nullptr;
  const std::vector<Cert>* extra = nullptr;
};

// The trust anchor `cert` is issued by (or is): the Intel root, or an extra root.
const Cert* anchor_for(const Cert& cert, const Roots& roots, bool& development) {
  auto issued = [&](const Cert& root) {
    return cert.der() == root.der() || crypto::verify_issued_by(cert, root).ok();
  };
  if (issued(*roots.intel)) {
    development = false;
    return roots.intel;
  }
  for (const auto& r : *roots.extra)
    if (issued(r)) {
      development = true;
      return &r;
    }
  crypto::clear_openssl_errors();
  return nullptr;
}

// A signing chain of [signer, (root)]: the signer must be issued by a trusted root and
// valid at `at`. Returns the signer or an explanation.
Result<Cert> signing_chain(const Bytes& pem, const Roots& roots, UnixTime at, const std::string& role,
                           bool& development) {
  auto certs = Cert::all_from_pem(pem, {roots.intel});
  if (!certs || certs->empty()) return make_error(Errc::parse, role + " chain: no certificate in it");
  Cert signer = (*certs)[0];
  const Cert* root = anchor_for(signer, roots, development);
  if (root == nullptr)
    return make_error(Errc::attestation, fmt::format("'{}' is not issued by the Intel SGX Root CA",
                                                     signer.subject_cn()));
  if (certs->size() > 1 && (*certs)[1].der() != root->der())
    return make_error(Errc::attestation, fmt::format("the chain's root '{}' is not the pinned Intel SGX Root CA",
                                                     (*certs)[1].subject_cn()));
  for (const Cert* c : std::initializer_list<const Cert*>{&signer, root}) {
    auto state = crypto::validity_at(*c, at);
    if (state != crypto::Validity::ok)
      return make_error(Errc::attestation, fmt::format("'{}' {} at {} (valid {} to {})", c->subject_cn(),
                                                       validity_word(state), when(at), when(c->not_before()),
                                                       when(c->not_after())));
  }
  return signer;
}

// Status convergence (QVL TcbLevelCheck): an OutOfDate or Revoked part taints the whole.
std::string converge(const std::string& base, const std::string& part) {
  if (part == "Revoked" || base == "Revoked") return "Revoked";
  if (part == "NotSupported" || part == "TdxModuleMismatch") return part;
  if (part == "OutOfDate" || part == "OutOfDateConfigurationNeeded") {
    if (base == "UpToDate" || base == "SWHardeningNeeded") return "OutOfDate";
    if (base == "ConfigurationNeeded" || base == "ConfigurationAndSWHardeningNeeded")
      return "OutOfDateConfigurationNeeded";
  }
  return base;
}

void add_advisories(std::vector<std::string>& out, const std::vector<std::string>& more) {
  for (const auto& a : more)
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
}

const SvnLevel* first_level_at_most(const std::vector<SvnLevel>& levels, uint32_t svn) {
  for (const auto& l : levels)
    if (l.isvsvn <= svn) return &l;
  return nullptr;
}

std::string module_id_of(const TdxQuote& q) { return fmt::format("TDX_{:02X}", q.body.tee_tcb_svn[1]); }

bool masked_equal(ByteView value, ByteView mask, ByteView expected) {
  if (value.size() != mask.size() || mask.size() != expected.size()) return false;
  for (size_t i = 0; i < value.size(); ++i)
    if ((value[i] & mask[i]) != expected[i]) return false;
  return true;
}

std::array<uint8_t, 8> le_bytes(uint64_t v) {
  std::array<uint8_t, 8> out{};
  store_le64(out.data(), v);
  return out;
}

void check_pin(CheckList& checks, std::string_view check, const std::string& what, ByteView seen,
               const std::optional<Register48>& pin) {
  if (!pin) {
    checks.skip(check, what + " pinned by the policy", "not pinned (" + to_hex(seen) + ")");
    return;
  }
  checks.add(check, equal_ct(seen, *pin), what + " " + to_hex(*pin), to_hex(seen));
}

// The facts about a TD the policy judges, from a quote's body or an ITA token's claims.
struct TdFacts {
  std::optional<uint64_t> td_attributes;  // ITA: only whether the TD is debuggable
  std::optional<uint64_t> xfam;
  bool debuggable = true;
  std::optional<Register48> mrseam;
  std::optional<std::array<uint8_t, 16>> tee_tcb_svn;
  Register48 mrtd{};
  std::array<Register48, 4> rtmr{};
  std::array<uint8_t, 64> report_data{};
  // ITA: the binding is tdx_report_data[0:32] = the channel key (the rest is the
  // attester's business); a quote's is the whole 64 bytes, key || 32 zero bytes.
  bool key_prefix_binding = false;
};

void add_td_policy_checks(CheckList& checks, const TdFacts& f, const TdxVerifyOptions& opt) {
  if (f.td_attributes) {
    uint64_t attrs = *f.td_attributes;
    checks.add(name::kPolicyDebug, (attrs & kTdAttrDebug) == 0, "TDATTRIBUTES.DEBUG = 0 (debug TDs are never trusted)",
               fmt::format("TDATTRIBUTES {:016x}, DEBUG {}", attrs, attrs & kTdAttrDebug));
    std::string problem;
    uint64_t xfam = f.xfam.value_or(kXfamFixed1);
    if (attrs & ~kTdAttrAllowed)
      problem = fmt::format("reserved TDATTRIBUTES bits {:016x} set", attrs & ~kTdAttrAllowed);
    else if ((xfam & kXfamFixed1) != kXfamFixed1 || (xfam & ~kXfamFixed0) != 0)
      problem = fmt::format("XFAM {:016x} outside the architectural bits", xfam);
    checks.add(name::kPolicyAttributes, problem.empty(),
               "TDATTRIBUTES without reserved bits, XFAM within the architectural features",
               problem.empty() ? fmt::format("TDATTRIBUTES {:016x}, XFAM {:016x}", attrs, xfam) : problem);
  } else {
    checks.add(name::kPolicyDebug, !f.debuggable, "a TD that is not debuggable (debug TDs are never trusted)",
               f.debuggable ? "tdx_is_debuggable: true" : "tdx_is_debuggable: false");
    checks.skip(name::kPolicyAttributes, "TDATTRIBUTES and XFAM", "not in the token");
  }
  if (opt.policy.mrseam_allowlist.empty()) {
    checks.skip(name::kPolicyMrseam, "an MRSEAM allowlist",
                "none set" + (f.mrseam ? " (MRSEAM " + to_hex(*f.mrseam) + ")" : std::string()));
  } else {
    bool ok = f.mrseam && std::any_of(opt.policy.mrseam_allowlist.begin(), opt.policy.mrseam_allowlist.end(),
                                      [&](const Register48& m) { return equal_ct(m, *f.mrseam); });
    checks.add(name::kPolicyMrseam, ok, fmt::format("MRSEAM one of {} allowed", opt.policy.mrseam_allowlist.size()),
               f.mrseam ? to_hex(*f.mrseam) : "no MRSEAM");
  }
  if (opt.policy.min_tee_tcb_svn) {
    const auto& min = *opt.policy.min_tee_tcb_svn;
    bool ok = f.tee_tcb_svn.has_value();
    for (size_t k = 0; k < 16 && ok; ++k) ok = (*f.tee_tcb_svn)[k] >= min[k];
    checks.add(name::kPolicyTeeTcbSvn, ok, "TEE_TCB_SVN at least " + to_hex(min) + " in every byte",
               f.tee_tcb_svn ? to_hex(*f.tee_tcb_svn) : "no TEE_TCB_SVN");
  } else {
    checks.skip(name::kPolicyTeeTcbSvn, "a minimum TEE_TCB_SVN",
                "none set" + (f.tee_tcb_svn ? " (" + to_hex(*f.tee_tcb_svn) + ")" : std::string()));
  }
  check_pin(checks, name::kPolicyMrtd, "MRTD", f.mrtd, opt.policy.mrtd);
  for (size_t k = 0; k < 4; ++k)
    check_pin(checks, name::kPolicyRtmr[k], fmt::format("RTMR{}", k), f.rtmr[k], opt.policy.rtmr[k]);
  if (opt.report_data) {
    const Bytes& want = *opt.report_data;
    bool ok = want.size() <= 64 && equal_ct(want, ByteView(f.report_data).first(want.size()));
    checks.add(name::kPolicyReportData, ok, "REPORTDATA starting with " + to_hex(want), to_hex(f.report_data));
  }
  if (opt.channel_key && opt.fresh_nonce) {
    Bytes want = fresh_report_data(*opt.channel_key, *opt.fresh_nonce);
    checks.add(name::kChannelBinding, equal_ct(want, f.report_data),
               "REPORTDATA = SHA-512(\"confer-attest-v1\" || server key || our nonce) = " + to_hex(want),
               to_hex(f.report_data));
  } else if (opt.channel_key && f.key_prefix_binding) {
    Bytes want(opt.channel_key->begin(), opt.channel_key->end());
    checks.add(name::kChannelBinding, equal_ct(want, ByteView(f.report_data).first(32)),
               "tdx_report_data[0:32] = the channel's server key " + to_hex(want), to_hex(f.report_data));
  } else if (opt.channel_key) {
    Bytes want(opt.channel_key->begin(), opt.channel_key->end());
    want.resize(64, 0);
    checks.add(name::kChannelBinding, equal_ct(want, f.report_data),
               "REPORTDATA = the channel's server key || 32 zero bytes: " + to_hex(want), to_hex(f.report_data));
  }
}

}  // namespace

TdxTcbEvaluation evaluate_tdx_tcb(const TdxQuote& q, const PckExtensions& pck, const TcbInfo& info,
                                  const QeIdentity& qe) {
  TdxTcbEvaluation e;
  const auto& svn = q.body.tee_tcb_svn;
  const bool has_module = svn[1] > 0;
  // 1. The SGX level: every PCK component and PCESVN at least the level's.
  size_t i = 0;
  for (; i < info.levels.size(); ++i) {
    const auto& l = info.levels[i];
    bool ok = pck.pcesvn >= l.pcesvn;
    for (size_t k = 0; k < 16 && ok; ++k) ok = pck.sgx_tcb[k] >= l.sgx[k];
    if (ok) break;
  }
  if (i == info.levels.size()) {
    e.status = e.platform_status = "NotSupported";
  } else {
    // 2. From there, the TDX level: TEE_TCB_SVN at least the level's (0 and 1 are the
    // module identity's when a module version is reported).
    for (; i < info.levels.size(); ++i) {
      const auto& l = info.levels[i];
      bool ok = true;
      for (size_t k = has_module ? 2 : 0; k < 16 && ok; ++k) ok = svn[k] >= l.tdx[k];
      if (ok) break;
    }
    if (i == info.levels.size()) {
      e.status = e.platform_status = "NotSupported";
    } else {
      e.platform_status = info.levels[i].status;
      e.platform_date = info.levels[i].date;
      e.status = e.platform_status;
      add_advisories(e.advisories, info.levels[i].advisories);
    }
  }
  // 3. The TDX module's own level.
  if (has_module) {
    e.module_id = module_id_of(q);
    const TdxModuleIdentity* id = nullptr;
    for (const auto& m : info.module_identities)
      if (m.id == e.module_id) id = &m;
    if (id == nullptr) {
      e.module_status = "TdxModuleMismatch";
    } else if (const SvnLevel* l = first_level_at_most(id->levels, svn[0])) {
      e.module_status = l->status;
      add_advisories(e.advisories, l->advisories);
    } else {
      e.module_status = "NotSupported";
    }
    if (e.status != "NotSupported") e.status = converge(e.status, e.module_status);
  }
  // 4. The QE's level.
  if (const SvnLevel* l = first_level_at_most(qe.levels, q.qe.isvsvn)) {
    e.qe_status = l->status;
    add_advisories(e.advisories, l->advisories);
  } else {
    e.qe_status = "NotSupported";
  }
  if (e.status != "NotSupported" && e.status != "TdxModuleMismatch") e.status = converge(e.status, e.qe_status);
  return e;
}

Result<TdxCollateral> read_tdx_collateral_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return make_error(Errc::io, fmt::format("{}: expected a directory of Intel collateral, saw {}", dir,
                                            fs::exists(dir, ec) ? "a file" : "nothing there"));
  TdxCollateral c;
  auto read = [&](const char* file) -> Result<std::optional<Bytes>> {
    std::string path = (fs::path(dir) / file).string();
    if (!fs::exists(path, ec)) return std::optional<Bytes>{};
    if (fs::file_size(path, ec) > (4u << 20))
      return make_error(Errc::parse, path + ": expected at most 4 MiB of collateral");
    CONFER_TRY(Bytes b, read_file(path));
    return std::optional<Bytes>(std::move(b));
  };
  auto text = [](std::optional<Bytes> b) -> std::optional<std::string> {
    if (!b) return std::nullopt;
    return std::string(b->begin(), b->end());
  };
  CONFER_TRY(auto tcb, read("tcb_info.json"));
  c.tcb_info = text(std::move(tcb));
  CONFER_TRY(c.tcb_info_chain, read("tcb_info_issuer_chain.pem"));
  CONFER_TRY(auto qe, read("qe_identity.json"));
  c.qe_identity = text(std::move(qe));
  CONFER_TRY(c.qe_identity_chain, read("qe_identity_issuer_chain.pem"));
  CONFER_TRY(c.pck_crl, read("pck_crl.der"));
  if (!c.pck_crl) {
    CONFER_TRY(c.pck_crl, read("pck_crl.pem"));
  }
  CONFER_TRY(c.root_crl, read("root_ca_crl.der"));
  if (!c.root_crl) {
    CONFER_TRY(c.root_crl, read("root_ca_crl.pem"));
  }
  if (c.empty())
    return make_error(Errc::parse, dir + ": expected Intel collateral (tcb_info.json, qe_identity.json, "
                                         "pck_crl.der, root_ca_crl.der and the issuer chains), found none of them");
  return c;
}

TdxVerification verify_tdx_quote(ByteView bytes, const TdxCollateral& col, const TdxVerifyOptions& opt) {
  TdxVerification v;
  v.at = opt.at;
  CheckList& checks = v.checks;
  const UnixTime at = opt.at;
  auto parsed = parse_tdx_quote(bytes);
  if (!parsed) {
    checks.fail(name::kFormat, "a TDX quote, version 4 or 5, ECDSA P-256", parsed.error().message);
    return v;
  }
  v.quote = std::move(parsed).value();
  const TdxQuote& q = *v.quote;
  checks.pass(name::kFormat, "a TDX quote, version 4 or 5, ECDSA P-256",
              fmt::format("version {}, {} body, {} bytes", q.header.version, td_body_name(q.body.body_type),
                          bytes.size()));
  // Trailing bytes: zeros are buffer padding; anything else is the policy's call.
  if (q.trailing == 0)
    checks.pass(name::kTrailing, "nothing after the signature data, or zero padding", "nothing");
  else if (q.trailing_all_zero)
    checks.pass(name::kTrailing, "nothing after the signature data, or zero padding",
                fmt::format("{} zero bytes of padding", q.trailing));
  else
    checks.add(name::kTrailing, opt.policy.allow_nonzero_trailing,
               opt.policy.allow_nonzero_trailing ? "any bytes after the signature data (the policy allows them)"
                                                 : "nothing after the signature data, or zero padding",
               fmt::format("{} bytes after the signature data, not all zero", q.trailing));

  // quote.signature: the attestation key over header and body.
  {
    auto key = crypto::ec_public_key_from_xy(q.attestation_key, "P-256");
    std::string expected = "an ECDSA P-256 signature by the quote's attestation key over header and body";
    if (!key) {
      checks.fail(name::kSignature, expected, key.error().message);
    } else {
      auto ok = crypto::verify_raw_ecdsa(key->get(), bytes.first(q.signed_length), q.signature, "sha256");
      checks.add(name::kSignature, ok.ok(), expected, ok ? "verified" : "does not verify");
    }
  }

  // pck.chain: PCK <- Platform/Processor CA <- the pinned Intel root.
  Roots roots{&intel_sgx_root(), &opt.extra_roots};
  std::optional<Cert> pck, pck_ca;
  const Cert* root = nullptr;
  {
    std::string expected = fmt::format("PCK <- Intel SGX PCK CA <- Intel SGX Root CA (SHA-256 {}...), valid at {}",
                                       kIntelSgxRootSha256.substr(0, 16), when(at));
    auto certs = Cert::all_from_pem(q.pck_chain_pem, {&intel_sgx_root()});
    std::string problem;
    if (!certs || certs->size() < 2 || certs->size() > 3) {
      problem = certs ? fmt::format("{} certificates in the quote, expected PCK, CA and root", certs->size())
                      : "the quote's PCK chain is not PEM certificates";
    } else {
      for (const auto& c : *certs) v.chain_subjects.push_back(c.subject_cn());
      pck = (*certs)[0];
      pck_ca = (*certs)[1];
      root = anchor_for(*pck_ca, roots, v.development_root);
      if (!crypto::verify_issued_by(*pck, *pck_ca)) {
        crypto::clear_openssl_errors();
        problem = fmt::format("'{}' is not issued by '{}'", pck->subject_cn(), pck_ca->subject_cn());
      } else if (root == nullptr) {
        problem = fmt::format("'{}' is not issued by the Intel SGX Root CA", pck_ca->subject_cn());
      } else if (certs->size() == 3 && (*certs)[2].der() != root->der()) {
        problem = fmt::format("the quote's root '{}' (SHA-256 {}...) is not the pinned Intel SGX Root CA",
                              (*certs)[2].subject_cn(), (*certs)[2].sha256_hex().substr(0, 16));
      } else {
        for (const Cert* c : std::initializer_list<const Cert*>{&*pck, &*pck_ca, root}) {
          auto state = crypto::validity_at(*c, at);
          if (state != crypto::Validity::ok && problem.empty())
            problem = fmt::format("'{}' {} (valid {} to {})", c->subject_cn(), validity_word(state),
                                  when(c->not_before()), when(c->not_after()));
        }
      }
    }
    bool ok = problem.empty();
    checks.add(name::kPckChain, ok, expected,
               ok ? fmt::format("{} <- {} <- {}{}", pck->subject_cn(), pck_ca->subject_cn(), root->subject_cn(),
                                v.development_root ? " (a development root, NOT Intel's)" : "")
                  : problem);
    if (!ok) root = nullptr;
  }

  // qe.report-signature: the QE report signed by the PCK key.
  if (pck) {
    auto ok = crypto::verify_raw_ecdsa(X509_get0_pubkey(pck->get()), q.qe_report, q.qe_report_signature, "sha256");
    checks.add(name::kQeReportSignature, ok.ok(), "the QE report signed by the PCK certificate's key",
               ok ? "verified" : "does not verify");
  } else {
    checks.fail(name::kQeReportSignature, "the QE report signed by the PCK certificate's key", "no PCK certificate");
  }
  // qe.report-data: binds the attestation key to the QE.
  {
    Bytes material(q.attestation_key.begin(), q.attestation_key.end());
    material.insert(material.end(), q.qe_auth_data.begin(), q.qe_auth_data.end());
    Bytes expected = crypto::sha256(material);
    expected.resize(64, 0);
    bool ok = equal_ct(expected, q.qe.report_data);
    checks.add(name::kQeReportData, ok, "SHA-256(attestation key || QE auth data) || 32 zero bytes = " + to_hex(expected),
               to_hex(q.qe.report_data));
  }
  // pck.extensions
  if (pck) {
    auto ext = parse_pck_extensions(*pck);
    if (ext) {
      v.pck = *ext;
      checks.pass(name::kPckExtensions, "the PCK certificate's SGX extensions (FMSPC, PCE-ID, TCB)",
                  fmt::format("FMSPC {}, PCE-ID {}, PCESVN {}, SGX type {}", to_hex(ext->fmspc), to_hex(ext->pce_id),
                              ext->pcesvn, ext->sgx_type));
    } else {
      checks.fail(name::kPckExtensions, "the PCK certificate's SGX extensions (FMSPC, PCE-ID, TCB)",
                  ext.error().message);
    }
  } else {
    checks.fail(name::kPckExtensions, "the PCK certificate's SGX extensions", "no PCK certificate");
  }

  // crl.root and crl.pck: signed, current, and not listing the chain.
  auto check_crl = [&](std::string_view check, const std::optional<Bytes>& der, const Cert* issuer,
                       const std::optional<Cert>& subject, const std::string& what) {
    std::string expected = fmt::format("{} signed by its CA, current at {}, not revoking '{}'", what, when(at),
                                       subject ? subject->subject_cn() : "?");
    if (!der) return checks.fail(check, expected, "none given (the collateral's " + what + ")");
    if (issuer == nullptr || !subject) return checks.fail(check, expected, "no verified chain to check it against");
    auto crl = crypto::Crl::from_der_or_pem(*der);
    if (!crl) return checks.fail(check, expected, crl.error().message);
    if (auto s = crl->verify_signed_by(*issuer); !s) return checks.fail(check, expected, s.error().message);
    std::string window = fmt::format("issued {}, next update {}", when(crl->this_update()),
                                     crl->next_update() != 0 ? when(crl->next_update()) : "none");
    if (at < crl->this_update()) return checks.fail(check, expected, "not yet issued: " + window);
    if (crl->next_update() == 0 || at > crl->next_update()) return checks.fail(check, expected, "stale: " + window);
    if (crl->revokes(*subject))
      return checks.fail(check, expected, fmt::format("'{}' is revoked ({})", subject->subject_cn(), window));
    checks.pass(check, expected, fmt::format("{} revoked certificate(s), not this one; {}", crl->revoked_count(), window));
  };
  check_crl(name::kRootCrl, col.root_crl, root, pck_ca, "Intel SGX Root CA CRL");
  check_crl(name::kPckCrl, col.pck_crl, root != nullptr && pck_ca ? &*pck_ca : nullptr, pck, "PCK CRL");

  // TCB info: signature over the exact bytes, freshness, the platform it describes.
  std::optional<TcbInfo> info;
  std::optional<Bytes> last_chain;
  std::optional<Result<Cert>> last_signer;
  bool last_dev = false;
  auto signed_by_tcb_signer = [&](std::string_view check, const std::optional<Bytes>& chain, const std::string& body,
                                  const Bytes& sig, const std::string& what) {
    std::string expected = what + " signed by Intel SGX TCB Signing under the Intel SGX Root CA";
    if (!chain) return checks.add(check, false, expected, "no issuer chain given (" + what + " issuer chain)");
    bool dev = false;
    // The TCB info and the QE identity come with the same chain: parsed once.
    if (!last_chain || *last_chain != *chain) {
      last_signer = signing_chain(*chain, roots, at, what, dev);
      last_chain = *chain;
      last_dev = dev;
    }
    dev = last_dev;
    const Result<Cert>& signer = *last_signer;
    if (!signer) return checks.add(check, false, expected, signer.error().message);
    auto ok = crypto::verify_raw_ecdsa(X509_get0_pubkey(signer->get()), as_bytes(body), sig, "sha256");
    if (dev) v.development_root = true;
    return checks.add(check, ok.ok(), expected,
                      ok ? fmt::format("verified by '{}'", signer->subject_cn()) : "does not verify over the exact bytes");
  };
  if (!col.tcb_info) {
    checks.fail(name::kTcbInfoSignature, "Intel's signed TCB info for the platform",
                "none given (--collateral DIR with tcb_info.json, or let confer fetch it from Intel's PCS)");
  } else if (auto parsed_info = parse_tcb_info(*col.tcb_info); !parsed_info) {
    checks.fail(name::kTcbInfoSignature, "Intel's signed TCB info for the platform", parsed_info.error().message);
  } else {
    info = std::move(parsed_info).value();
    if (!signed_by_tcb_signer(name::kTcbInfoSignature, col.tcb_info_chain, info->signed_body, info->signature,
                              "the TCB info"))
      info.reset();
  }
  if (info) {
    v.tcb_evaluation_number = info->evaluation_number;
    fresh(checks, name::kTcbInfoValidity, "TCB info", info->issue_date, info->next_update, at);
    if (v.pck) {
      std::string fmspc = to_hex(v.pck->fmspc), pce = to_hex(v.pck->pce_id);
      checks.add(name::kTcbInfoPlatform, info->fmspc == fmspc && info->pce_id == pce,
                 fmt::format("TCB info for FMSPC {}, PCE-ID {} (the PCK's)", fmspc, pce),
                 fmt::format("FMSPC {}, PCE-ID {}", info->fmspc, info->pce_id));
    } else {
      checks.fail(name::kTcbInfoPlatform, "TCB info for the PCK's FMSPC", "no PCK extensions");
    }
    // The TDX module: Intel's signer and attributes, and the module identity when one is reported.
    std::string problem;
    std::string seen = fmt::format("MRSIGNERSEAM {}, SEAMATTRIBUTES {:016x}", to_hex(q.body.mrsignerseam),
                                   q.body.seam_attributes);
    auto attrs = le_bytes(q.body.seam_attributes);
    auto matches = [&](const TdxModuleIdentity& m, const std::string& label) {
      if (!equal_ct(m.mrsigner, q.body.mrsignerseam))
        problem = fmt::format("{} mrsigner {} differs from MRSIGNERSEAM", label, to_hex(m.mrsigner));
      else if (!masked_equal(attrs, m.attributes_mask, m.attributes))
        problem = fmt::format("SEAMATTRIBUTES & {} mask differ from {}", label, to_hex(m.attributes));
    };
    if (info->tdx_module) matches(*info->tdx_module, "tdxModule");
    else problem = "the TCB info has no tdxModule";
    if (problem.empty() && q.body.tee_tcb_svn[1] > 0) {
      std::string id = module_id_of(q);
      auto it = std::find_if(info->module_identities.begin(), info->module_identities.end(),
                             [&](const TdxModuleIdentity& m) { return m.id == id; });
      if (it == info->module_identities.end()) problem = "the TCB info has no module identity " + id;
      else matches(*it, id);
    }
    checks.add(name::kTdxModule, problem.empty(), "the TDX module Intel's TCB info describes", problem.empty() ? seen : problem);
  } else {
    checks.fail(name::kTcbInfoValidity, "TCB info current at " + when(at), "no verified TCB info");
  }

  // QE identity.
  std::optional<QeIdentity> qe;
  if (!col.qe_identity) {
    checks.fail(name::kQeIdentitySignature, "Intel's signed TD QE identity", "none given (qe_identity.json)");
  } else if (auto parsed_qe = parse_qe_identity(*col.qe_identity); !parsed_qe) {
    checks.fail(name::kQeIdentitySignature, "Intel's signed TD QE identity", parsed_qe.error().message);
  } else {
    qe = std::move(parsed_qe).value();
    if (!signed_by_tcb_signer(name::kQeIdentitySignature, col.qe_identity_chain, qe->signed_body, qe->signature,
                              "the QE identity"))
      qe.reset();
  }
  if (qe) {
    fresh(checks, name::kQeIdentityValidity, "QE identity", qe->issue_date, qe->next_update, at);
    std::string problem;
    if (!equal_ct(qe->mrsigner, q.qe.mrsigner))
      problem = fmt::format("MRSIGNER {}, expected {}", to_hex(q.qe.mrsigner), to_hex(qe->mrsigner));
    else if (qe->isvprodid != q.qe.isvprodid)
      problem = fmt::format("ISVPRODID {}, expected {}", q.qe.isvprodid, qe->isvprodid);
    else if ((q.qe.miscselect & qe->miscselect_mask) != qe->miscselect)
      problem = fmt::format("MISCSELECT {:08x} under mask {:08x}, expected {:08x}", q.qe.miscselect,
                            qe->miscselect_mask, qe->miscselect);
    else if (!masked_equal(q.qe.attributes, qe->attributes_mask, qe->attributes))
      problem = fmt::format("ATTRIBUTES {} under mask {}, expected {}", to_hex(q.qe.attributes),
                            to_hex(qe->attributes_mask), to_hex(qe->attributes));
    checks.add(name::kQeIdentity, problem.empty(), "Intel's TD quoting enclave (MRSIGNER, ISVPRODID, MISCSELECT, ATTRIBUTES)",
               problem.empty() ? fmt::format("MRSIGNER {}..., ISVPRODID {}, ISVSVN {}", to_hex(q.qe.mrsigner).substr(0, 16),
                                             q.qe.isvprodid, q.qe.isvsvn)
                               : problem);
  } else {
    checks.fail(name::kQeIdentityValidity, "QE identity current at " + when(at), "no verified QE identity");
  }

  // tcb.status: Intel's evaluation, the worst of platform, module and QE.
  {
    std::string accepted = fmt::format("{}", fmt::join(opt.policy.accepted_statuses, " or "));
    if (info && qe && v.pck) {
      v.tcb = evaluate_tdx_tcb(q, *v.pck, *info, *qe);
      const auto& e = *v.tcb;
      bool ok = std::find(opt.policy.accepted_statuses.begin(), opt.policy.accepted_statuses.end(), e.status) !=
                opt.policy.accepted_statuses.end();
      std::string seen = fmt::format("{} (platform {}{}, QE {}){}", e.status, e.platform_status,
                                     e.module_id.empty() ? "" : fmt::format(", module {} {}", e.module_id, e.module_status),
                                     e.qe_status,
                                     e.advisories.empty() ? "" : "; advisories " + fmt::format("{}", fmt::join(e.advisories, ", ")));
      checks.add(name::kTcbStatus, ok, "Intel TCB status " + accepted, seen);
    } else {
      checks.fail(name::kTcbStatus, "Intel TCB status " + accepted, "not evaluated: no verified TCB info and QE identity");
    }
  }

  // Policy over the TD.
  const TdReportBody& b = q.body;
  if (opt.policy.min_tcb_evaluation_number) {
    int64_t min = *opt.policy.min_tcb_evaluation_number;
    int64_t seen_tcb = info ? info->evaluation_number : -1;
    int64_t seen_qe = qe ? qe->evaluation_number : -1;
    checks.add(name::kPolicyEvaluation, seen_tcb >= min && seen_qe >= min,
               fmt::format("TCB evaluation data number at least {}", min),
               fmt::format("TCB info {}, QE identity {}", seen_tcb, seen_qe));
  } else {
    checks.skip(name::kPolicyEvaluation, "a minimum TCB evaluation data number", "none set");
  }
  TdFacts facts;
  facts.td_attributes = b.td_attributes;
  facts.xfam = b.xfam;
  facts.mrseam = b.mrseam;
  facts.tee_tcb_svn = b.tee_tcb_svn;
  facts.mrtd = b.mrtd;
  facts.rtmr = b.rtmr;
  std::copy(b.report_data.begin(), b.report_data.end(), facts.report_data.begin());
  add_td_policy_checks(checks, facts, opt);
  return v;
}

TdxVerification verify_ita_token(std::string_view token, const Jwks& jwks, const TdxVerifyOptions& opt,
                                 const std::vector<std::string>& issuers) {
  TdxVerification v;
  v.at = opt.at;
  v.appraisal = "intel-trust-authority";
  ItaOptions ita;
  ita.at = opt.at;
  if (!issuers.empty()) ita.issuers = issuers;
  ItaAppraisal a = appraise_ita_token(token, jwks, ita);
  const bool appraised = a.verified();
  v.checks = std::move(a.checks);
  if (!a.claims || !appraised) {
    if (a.claims) v.ita = std::move(a.claims);
    return v;
  }
  v.ita = std::move(a.claims);
  const ItaClaims& c = *v.ita;
  // Intel's appraisal of the TCB, taken on trust: ITA checked it, confer did not.
  std::string accepted = fmt::format("{}", fmt::join(opt.policy.accepted_statuses, " or "));
  bool ok = std::find(opt.policy.accepted_statuses.begin(), opt.policy.accepted_statuses.end(), c.tcb_status) !=
            opt.policy.accepted_statuses.end();
  v.checks.add(name::kTcbStatus, ok, "Intel TCB status " + accepted + " (as Intel Trust Authority appraised it)",
               c.tcb_status + (c.advisory_ids.empty() ? "" : "; advisories " + fmt::format("{}", fmt::join(c.advisory_ids, ", "))));
  TdFacts facts;
  facts.key_prefix_binding = true;
  facts.debuggable = c.debuggable;
  facts.mrseam = c.mrseam;
  if (c.tee_tcb_svn && c.tee_tcb_svn->size() == 16) {
    std::array<uint8_t, 16> svn{};
    std::copy(c.tee_tcb_svn->begin(), c.tee_tcb_svn->end(), svn.begin());
    facts.tee_tcb_svn = svn;
  }
  facts.mrtd = c.mrtd;
  facts.rtmr = c.rtmr;
  if (c.report_data.size() == 64) std::copy(c.report_data.begin(), c.report_data.end(), facts.report_data.begin());
  add_td_policy_checks(v.checks, facts, opt);
  return v;
}

nlohmann::ordered_json tdx_verification_json(const TdxVerification& v, const std::string& evidence_format) {
  nlohmann::ordered_json j;
  const Check* f = v.first_failure();
  j["verdict"] = f != nullptr ? "refused" : "verified";
  j["first_failure"] = f != nullptr ? nlohmann::ordered_json(f->name) : nlohmann::ordered_json(nullptr);
  j["platform"] = "TDX";
  j["appraisal"] = v.appraisal;
  j["evidence_format"] = evidence_format;
  j["trust_root"] = v.development_root ? "development" : "intel";
  j["verification_time"] = format_rfc3339(v.at);
  if (v.quote) {
    const auto& q = *v.quote;
    const auto& b = q.body;
    nlohmann::ordered_json t;
    t["version"] = q.header.version;
    t["body"] = td_body_name(b.body_type);
    t["tee_tcb_svn"] = to_hex(b.tee_tcb_svn);
    t["mrseam"] = to_hex(b.mrseam);
    t["mrsignerseam"] = to_hex(b.mrsignerseam);
    t["seam_attributes"] = fmt::format("{:016x}", b.seam_attributes);
    t["td_attributes"] = fmt::format("{:016x}", b.td_attributes);
    t["xfam"] = fmt::format("{:016x}", b.xfam);
    t["mrtd"] = to_hex(b.mrtd);
    t["mrconfigid"] = to_hex(b.mrconfigid);
    t["mrowner"] = to_hex(b.mrowner);
    t["mrownerconfig"] = to_hex(b.mrownerconfig);
    for (size_t k = 0; k < 4; ++k) t[fmt::format("rtmr{}", k)] = to_hex(b.rtmr[k]);
    t["report_data"] = to_hex(b.report_data);
    if (b.tee_tcb_svn2) t["tee_tcb_svn2"] = to_hex(*b.tee_tcb_svn2);
    if (b.mrservicetd) t["mrservicetd"] = to_hex(*b.mrservicetd);
    t["qe_isvsvn"] = q.qe.isvsvn;
    t["trailing_bytes"] = q.trailing;
    j["quote"] = std::move(t);
  }
  if (v.ita) {
    const auto& c = *v.ita;
    nlohmann::ordered_json t;
    t["issuer"] = c.issuer;
    t["expires"] = format_rfc3339(c.exp);
    t["mrtd"] = to_hex(c.mrtd);
    for (size_t k = 0; k < 4; ++k) t[fmt::format("rtmr{}", k)] = to_hex(c.rtmr[k]);
    t["report_data"] = to_hex(c.report_data);
    t["debuggable"] = c.debuggable;
    t["tcb_status"] = c.tcb_status;
    t["advisory_ids"] = c.advisory_ids;
    j["token"] = std::move(t);
  }
  if (v.pck) {
    j["pck"] = {{"fmspc", to_hex(v.pck->fmspc)}, {"pce_id", to_hex(v.pck->pce_id)}, {"pcesvn", v.pck->pcesvn},
                {"sgx_type", v.pck->sgx_type}, {"chain", v.chain_subjects}};
  }
  if (v.tcb) {
    const auto& e = *v.tcb;
    j["tcb"] = {{"status", e.status},          {"platform", e.platform_status}, {"platform_date", e.platform_date},
                {"module_id", e.module_id},    {"module", e.module_status},     {"qe", e.qe_status},
                {"advisory_ids", e.advisories}, {"evaluation_data_number", v.tcb_evaluation_number}};
  }
  j["checks"] = checks_json(v.checks);
  return j;
}

}  // namespace confer::attest
