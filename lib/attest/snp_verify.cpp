#include "attest/snp_verify.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/amd_roots.hpp"
#include "attest/vcek_ext.hpp"
#include "core/json.hpp"
#include "crypto/hash.hpp"

namespace confer::attest {

bool SnpVerification::verified() const noexcept { return report.has_value() && checks.passed(); }

const Check* SnpVerification::first_failure() const noexcept { return checks.first_failure(); }

Result<void> verify_report_signature(ByteView report_bytes, const crypto::Cert& signer) {
  if (report_bytes.size() != kReportSize)
    return make_error(Errc::attestation, "report has the wrong size");
  EVP_PKEY* key = X509_get0_pubkey(signer.get());
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 384)
    return make_error(Errc::attestation, "signing certificate does not hold an ECDSA P-384 key");
  BIGNUM* r = BN_lebin2bn(report_bytes.data() + 0x2A0, 72, nullptr);
  BIGNUM* s = BN_lebin2bn(report_bytes.data() + 0x2E8, 72, nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return make_error(Errc::internal, "building the ECDSA signature failed");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (der_len <= 0) return make_error(Errc::internal, "encoding the ECDSA signature failed");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int rc = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha384(), nullptr, key) == 1
               ? EVP_DigestVerify(ctx, der, size_t(der_len), report_bytes.data(), kSignedSize)
               : -1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  if (rc != 1) {
    ERR_clear_error();
    return make_error(Errc::attestation, "ECDSA P-384 signature over bytes 0x000-0x29F does not verify");
  }
  return {};
}

namespace {

using crypto::Cert;

using Checks = CheckList;
namespace name = checks;  // the check names (snp_checks.hpp)

std::string short_hex(ByteView b) { return to_hex(b); }

const char* validity_word(crypto::Validity v) {
  return v == crypto::Validity::expired ? "expired" : "not yet valid";
}

struct Chain {
  std::optional<Cert> intermediate;
  std::optional<Cert> ark;
  std::string source;
};

Chain select_chain(const SnpInput& in, Product product, SigningKey key) {
  Chain c;
  if (!in.chain.empty()) {
    c.intermediate = in.chain[0];
    if (in.chain.size() > 1) c.ark = in.chain[1];
    c.source = "supplied chain";
  }
  if (const AmdCerts* amd = amd_certs(product)) {
    if (!c.intermediate) {
      c.intermediate = key == SigningKey::vlek ? amd->asvk : amd->ask;
      c.source = "built-in AMD chain";
    }
    if (!c.ark) c.ark = amd->ark;
  }
  return c;
}

// Picks the product line: CPUID (v3+) first, then the VCEK's productName, then its issuer.
Product identify_product(const SnpReport& r, const std::optional<VcekExtensions>& ext,
                         const std::optional<Cert>& signer, std::string& how) {
  if (Product p = r.product_from_cpuid(); p != Product::unknown) {
    how = fmt::format("CPUID family 0x{:02x} model 0x{:02x}", r.cpuid_family, r.cpuid_model);
    return p;
  }
  if (ext && ext->product_name) {
    if (Product p = product_from_name(*ext->product_name); p != Product::unknown) {
      how = "VCEK productName " + *ext->product_name;
      return p;
    }
  }
  if (signer) {
    X509_NAME* issuer = X509_get_issuer_name(signer->get());
    char cn[128] = {};
    if (X509_NAME_get_text_by_NID(issuer, NID_commonName, cn, sizeof cn) > 0) {
      std::string_view name(cn);
      if (name.rfind("SEV-VLEK-", 0) == 0) name.remove_prefix(9);
      else if (name.rfind("SEV-", 0) == 0) name.remove_prefix(4);
      if (Product p = product_from_name(name); p != Product::unknown) {
        how = std::string("VCEK issuer ") + cn;
        return p;
      }
    }
  }
  how = "no CPUID (report version 2), productName or issuer names a known product";
  return Product::unknown;
}

// chain.ark: the root must be AMD's pinned ARK for this product, or a root the user
// explicitly trusts (development chains).
void check_ark(const Chain& chain, const SnpVerifyOptions& opt, SnpVerification& v, Checks& checks) {
  if (!chain.ark) {
    checks.add(name::kChainArk, false, "an ARK (from the chain or built in)",
               "no ARK: the product is unknown and no chain was supplied");
    return;
  }
  v.root_sha256 = chain.ark->sha256_hex();
  v.root_subject = chain.ark->subject_cn();
  Product pinned = product_of_pinned_ark(v.root_sha256);
  const AmdRootSet* want = amd_roots(v.product);
  std::string expected = want != nullptr
                             ? fmt::format("AMD ARK-{} sha256:{}", product_name(v.product), want->ark_sha256)
                             : "a pinned AMD ARK";
  if (pinned != Product::unknown && pinned == v.product) {
    checks.add(name::kChainArk, true, expected, fmt::format("AMD {} sha256:{}", v.root_subject, v.root_sha256));
    return;
  }
  if (pinned != Product::unknown) {
    checks.add(name::kChainArk, false, expected,
               fmt::format("the ARK of {} (sha256:{})", product_name(pinned), v.root_sha256));
    return;
  }
  bool trusted = false;
  for (const auto& root : opt.extra_roots) trusted |= root.der() == chain.ark->der();
  if (trusted) {
    // Trusted by identity (the exact DER the user named), like AMD's pinned roots.
    v.development_root = true;
    checks.add(name::kChainArk, true, expected + " or a trusted development root certificate",
               fmt::format("NOT AMD: trusted development root '{}' sha256:{}", v.root_subject, v.root_sha256));
  } else if (!opt.extra_roots.empty()) {
    // A trusted root was given and it is not this chain's: that root is the wrong one.
    std::string given;
    for (const auto& root : opt.extra_roots)
      given += std::string(given.empty() ? "" : ", ") + "sha256:" + root.sha256_hex();
    checks.add(name::kChainArk, false, expected + " or the trusted root given (" + given + ")",
               fmt::format("root '{}' sha256:{}, which is neither: the trusted root given is the wrong one for this "
                           "evidence",
                           v.root_subject, v.root_sha256));
  } else {
    checks.add(name::kChainArk, false, expected,
               fmt::format("unpinned root '{}' sha256:{}", v.root_subject, v.root_sha256));
  }
}

struct ChainNames {
  SigningKey key;
  const char* signer;        // VCEK or VLEK
  const char* intermediate;  // ASK or ASVK
};

// chain.ask: the intermediate is signed by the ARK and is the kind this signer needs.
void check_intermediate(const Chain& chain, const ChainNames& n, Checks& checks) {
  if (!chain.intermediate) {
    checks.add(name::kChainAsk, false, std::string(n.intermediate) + " certificate", "none");
    return;
  }
  if (!chain.ark) {
    checks.add(name::kChainAsk, false, std::string(n.intermediate) + " signed by the ARK", "no ARK");
    return;
  }
  std::string cn = chain.intermediate->subject_cn();
  bool kind_ok = n.key == SigningKey::vlek ? cn.rfind("SEV-VLEK-", 0) == 0
                                           : (cn.rfind("SEV-", 0) == 0 && cn.rfind("SEV-VLEK-", 0) != 0);
  auto signed_ok = crypto::verify_issued_by(*chain.intermediate, *chain.ark);
  bool ca_ok = X509_check_ca(chain.intermediate->get()) > 0;
  std::string seen = fmt::format("'{}' ({})", cn, chain.source);
  if (!kind_ok) seen += fmt::format(", not an {} for a {}-signed report", n.intermediate, n.signer);
  if (!signed_ok) seen += fmt::format(", but the {}'s signature does not verify under the ARK ({})", n.intermediate,
                                      signed_ok.error().message);
  if (!ca_ok) seen += ", not a CA certificate";
  checks.add(name::kChainAsk, kind_ok && signed_ok.ok() && ca_ok,
             fmt::format("{} signed by the ARK (RSASSA-PSS SHA-384)", n.intermediate), seen);
}

// chain.vcek: the report's signing certificate is signed by the intermediate.
void check_signer_cert(const SnpInput& in, const Chain& chain, const ChainNames& n, Checks& checks) {
  std::string expected = fmt::format("{} signed by the {}", n.signer, n.intermediate);
  if (!in.signer) {
    checks.add(name::kChainVcek, false, expected, fmt::format("no {} certificate", n.signer));
    return;
  }
  if (!chain.intermediate) {
    checks.add(name::kChainVcek, false, expected, fmt::format("no {}", n.intermediate));
    return;
  }
  auto signed_ok = crypto::verify_issued_by(*in.signer, *chain.intermediate);
  checks.add(name::kChainVcek, signed_ok.ok(), expected + " (RSASSA-PSS SHA-384)",
             signed_ok ? fmt::format("'{}' signed by '{}'", in.signer->subject_cn(), chain.intermediate->subject_cn())
                       : fmt::format("the {}'s signature does not verify under the {} ({})", n.signer,
                                     n.intermediate, signed_ok.error().message));
}

// chain.validity: every certificate at the verification time.
void check_chain_validity(const SnpInput& in, const Chain& chain, const ChainNames& n, UnixTime at,
                          Checks& checks) {
  std::string problems;
  std::string when = format_rfc3339(at);
  auto validity = [&](const std::optional<Cert>& c, const char* role) {
    if (!c) return;
    auto state = crypto::validity_at(*c, at);
    if (state == crypto::Validity::ok) return;
    if (!problems.empty()) problems += "; ";
    problems += fmt::format("{} {} (valid {} to {})", role, validity_word(state), format_rfc3339(c->not_before()),
                            format_rfc3339(c->not_after()));
  };
  validity(chain.ark, "ARK");
  validity(chain.intermediate, n.intermediate);
  validity(in.signer, n.signer);
  checks.add(name::kChainValidity, problems.empty(), "every certificate valid at " + when,
             problems.empty() ? "all valid at " + when : problems);
}

void check_chain(const SnpInput& in, const SnpVerifyOptions& opt, const SnpReport& r, SnpVerification& v,
                 Checks& checks) {
  SigningKey key = r.signing_key();
  ChainNames n{key, key == SigningKey::vlek ? "VLEK" : "VCEK", key == SigningKey::vlek ? "ASVK" : "ASK"};
  Chain chain = select_chain(in, v.product, key);
  check_ark(chain, opt, v, checks);
  check_intermediate(chain, n, checks);
  check_signer_cert(in, chain, n, checks);
  check_chain_validity(in, chain, n, opt.at, checks);
}

void check_signer_extensions(const SnpReport& r, const std::optional<VcekExtensions>& ext,
                             const std::string& ext_error, SnpVerification& v, Checks& checks) {
  bool vlek = r.signing_key() == SigningKey::vlek;
  if (!ext) {
    checks.add(name::kVcekProduct, false, "VCEK extensions that parse", ext_error);
    checks.add(name::kVcekHwid, false, "VCEK hwID", ext_error);
    checks.add(name::kVcekTcb, false, "VCEK TCB extensions", ext_error);
    return;
  }
  // vcek.product
  Product named = ext->product_name ? product_from_name(*ext->product_name) : Product::unknown;
  checks.add(name::kVcekProduct, named != Product::unknown && named == v.product,
             fmt::format("productName for {}", product_name(v.product)),
             ext->product_name ? "productName " + *ext->product_name : "no productName extension");
  // vcek.hwid
  if (vlek) {
    checks.skip(name::kVcekHwid, "a VLEK carries no hwID",
                ext->csp_id ? "cspID " + *ext->csp_id : "no cspID");
  } else {
    size_t n = v.product == Product::turin ? 8 : 64;
    ByteView chip = ByteView(r.chip_id).first(n);
    if (all_zero(r.chip_id)) {
      checks.add(name::kVcekHwid, false, "CHIP_ID set (VCEK-signed report)", "CHIP_ID all zero");
    } else if (!ext->hwid) {
      checks.add(name::kVcekHwid, false, "hwID == CHIP_ID " + short_hex(chip),
                 "the certificate has no hwID extension (a VLEK?)");
    } else {
      bool same = equal_ct(*ext->hwid, chip);
      checks.add(name::kVcekHwid, same, "hwID == CHIP_ID " + short_hex(chip),
                 "hwID " + short_hex(*ext->hwid));
    }
  }
  // vcek.tcb: the certificate is issued for REPORTED_TCB, never CURRENT_TCB.
  Tcb reported = decode_tcb(r.reported_tcb, v.product);
  auto cert_tcb = ext->tcb(v.product);
  if (!cert_tcb) {
    checks.add(name::kVcekTcb, false, "REPORTED_TCB " + tcb_string(reported, v.product),
               cert_tcb.error().message);
  } else {
    checks.add(name::kVcekTcb, *cert_tcb == reported,
               "REPORTED_TCB " + tcb_string(reported, v.product),
               "certificate " + tcb_string(*cert_tcb, v.product));
  }
}

void check_hcl(const SnpInput& in, const SnpReport& r, Checks& checks) {
  if (!in.hcl) return;
  Bytes digest;
  std::string alg;
  switch (in.hcl->hash_type) {
    case 1: digest = crypto::sha256(in.hcl->json); alg = "SHA-256"; break;
    case 2: digest = crypto::sha384(in.hcl->json); alg = "SHA-384"; break;
    default: break;
  }
  if (digest.empty()) {
    checks.add(name::kHclRuntimeData, false, "hash type 1 (SHA-256) or 2 (SHA-384)",
               fmt::format("hash type {}", in.hcl->hash_type));
    return;
  }
  Bytes want = digest;
  want.resize(64, 0);
  checks.add(name::kHclRuntimeData, equal_ct(want, r.report_data),
             fmt::format("REPORT_DATA = {}(runtime data) || zeros: {}", alg, to_hex(want)),
             "REPORT_DATA " + to_hex(r.report_data));
}

// The guest policy bits and the platform: debug, migration agent, VMPL, SMT, sockets.
void check_policy_bits(const SnpReport& r, const SnpPolicy& p, Checks& checks) {
  auto pol = fmt::format("policy 0x{:016x}", r.policy);
  checks.add(name::kPolicyDebug, !(r.policy & policy_bit::debug), "debug disallowed by guest policy",
             (r.policy & policy_bit::debug) ? "debug allowed by guest policy (" + pol + ")"
                                            : "debug disallowed (" + pol + ")");
  bool ma = r.policy & policy_bit::migrate_ma;
  if (p.allow_migrate_ma)
    checks.skip(name::kPolicyMigrateMa, "migration agent allowed by policy", ma ? "allowed" : "disallowed");
  else
    checks.add(name::kPolicyMigrateMa, !ma, "migration agent disallowed",
               ma ? "migration agent allowed (" + pol + ")" : "disallowed");
  if (p.vmpl)
    checks.add(name::kPolicyVmpl, r.vmpl == *p.vmpl, fmt::format("VMPL {}", *p.vmpl),
               fmt::format("VMPL {}", r.vmpl));
  else
    checks.skip(name::kPolicyVmpl, "any VMPL (not pinned)", fmt::format("VMPL {}", r.vmpl));
  bool smt_on = r.platform_info & 1;
  if (!p.allow_smt)
    checks.add(name::kPolicySmt, !smt_on, "SMT disabled on the platform",
               smt_on ? "SMT enabled" : "SMT disabled");
  else
    checks.skip(name::kPolicySmt, "SMT allowed", smt_on ? "SMT enabled" : "SMT disabled");
  bool single = r.policy & policy_bit::single_socket;
  if (p.require_single_socket)
    checks.add(name::kPolicySingleSocket, single, "single-socket guest policy",
               single ? "single socket required" : "not required (" + pol + ")");
  else
    checks.skip(name::kPolicySingleSocket, "not required", single ? "single socket" : "any socket");
}

// The minimum versions: ABI, firmware and REPORTED_TCB.
void check_policy_versions(const SnpReport& r, const SnpPolicy& p, Product product, Checks& checks) {
  unsigned abi_major = (r.policy >> 8) & 0xff, abi_minor = r.policy & 0xff;
  if (p.min_abi) {
    bool ok = std::pair(abi_major, abi_minor) >= std::pair(unsigned(p.min_abi->major), unsigned(p.min_abi->minor));
    checks.add(name::kPolicyAbi, ok, fmt::format("ABI >= {}.{}", p.min_abi->major, p.min_abi->minor),
               fmt::format("ABI {}.{}", abi_major, abi_minor));
  } else {
    checks.skip(name::kPolicyAbi, "no minimum", fmt::format("ABI {}.{}", abi_major, abi_minor));
  }
  const auto& fw = r.current_fw;
  std::string fw_seen = fmt::format("firmware {}.{}.{}", fw.major, fw.minor, fw.build);
  if (p.min_firmware) {
    const auto& m = *p.min_firmware;
    bool ok = std::tuple(fw.major, fw.minor, fw.build) >= std::tuple(m.major, m.minor, m.build);
    checks.add(name::kPolicyFirmware, ok, fmt::format("firmware >= {}.{}.{}", m.major, m.minor, m.build),
               fw_seen);
  } else {
    checks.skip(name::kPolicyFirmware, "no minimum", fw_seen);
  }
  Tcb reported = decode_tcb(r.reported_tcb, product);
  if (p.min_tcb) {
    const Tcb& m = *p.min_tcb;
    bool ok = reported.bootloader >= m.bootloader && reported.tee >= m.tee &&
              reported.snp >= m.snp && reported.microcode >= m.microcode &&
              (product != Product::turin || reported.fmc >= m.fmc);
    checks.add(name::kPolicyMinTcb, ok, "REPORTED_TCB >= " + tcb_string(m, product),
               tcb_string(reported, product));
  } else {
    checks.skip(name::kPolicyMinTcb, "no minimum", tcb_string(reported, product));
  }
}

// The pinned values: measurement, REPORT_DATA, HOST_DATA and the ID/author key digests.
void check_policy_pins(const SnpReport& r, const SnpPolicy& p, Checks& checks) {
  if (!p.measurements.empty()) {
    bool any = false;
    std::string expected;
    for (const auto& m : p.measurements) {
      any |= equal_ct(m, r.measurement);
      expected += (expected.empty() ? "" : " or ") + to_hex(m);
    }
    checks.add(name::kPolicyMeasurement, any, expected, to_hex(r.measurement));
  } else {
    checks.skip(name::kPolicyMeasurement, "not pinned", to_hex(r.measurement));
  }
  if (p.report_data) {
    ByteView seen = ByteView(r.report_data).first(p.report_data->size());
    std::string label = p.report_data->size() < 64
                            ? fmt::format("REPORT_DATA[0:{}] = ", p.report_data->size())
                            : "REPORT_DATA = ";
    checks.add(name::kPolicyReportData, equal_ct(*p.report_data, seen), label + to_hex(*p.report_data),
               to_hex(r.report_data));
  } else {
    checks.skip(name::kPolicyReportData, "not pinned", to_hex(r.report_data));
  }
  auto pin = [&](std::string_view check, const auto& want, ByteView seen) {
    if (want)
      checks.add(check, equal_ct(*want, seen), to_hex(*want), to_hex(seen));
    else
      checks.skip(check, "not pinned", to_hex(seen));
  };
  pin(name::kPolicyHostData, p.host_data, r.host_data);
  pin(name::kPolicyIdKeyDigest, p.id_key_digest, r.id_key_digest);
  pin(name::kPolicyAuthorKeyDigest, p.author_key_digest, r.author_key_digest);
}

void check_policy(const SnpReport& r, const SnpPolicy& p, Product product, Checks& checks) {
  check_policy_bits(r, p, checks);
  check_policy_versions(r, p, product, checks);
  check_policy_pins(r, p, checks);
}

}  // namespace

Bytes fresh_report_data(ByteView server_static, ByteView nonce) {
  static constexpr std::string_view kLabel = "confer-attest-v1";
  Bytes msg(kLabel.begin(), kLabel.end());
  msg.insert(msg.end(), server_static.begin(), server_static.end());
  msg.insert(msg.end(), nonce.begin(), nonce.end());
  return crypto::sha512(msg);
}

SnpVerification verify_report(const SnpInput& in, const SnpVerifyOptions& opt) {
  SnpVerification v;
  v.at = opt.at;
  Checks& checks = v.checks;

  auto parsed = parse_report(in.report);
  if (!checks.add(name::kReportFormat, parsed.ok(), "a 1184-byte SEV-SNP report, version 2, 3 or 5",
                  parsed ? fmt::format("version {}", parsed->version) : parsed.error().message))
    return v;
  const SnpReport& r = *parsed;
  v.report = r;

  SigningKey key = r.signing_key();
  if (!checks.add(name::kReportSigner, key == SigningKey::vcek || key == SigningKey::vlek,
                  "signed by a VCEK or VLEK", signing_key_name(key)))
    return v;

  std::optional<VcekExtensions> ext;
  std::string ext_error = "no signing certificate";
  if (in.signer) {
    auto parsed_ext = parse_vcek_extensions(*in.signer);
    if (parsed_ext) ext = std::move(parsed_ext).value();
    else ext_error = parsed_ext.error().message;
  }
  std::string how;
  v.product = identify_product(r, ext, in.signer, how);

  check_chain(in, opt, r, v, checks);
  check_signer_extensions(r, ext, ext_error, v, checks);

  if (in.signer) {
    auto sig = verify_report_signature(in.report, *in.signer);
    checks.add(name::kReportSignature, sig.ok(),
               fmt::format("ECDSA P-384 SHA-384 by the {}", signing_key_name(key)),
               sig ? "valid" : sig.error().message);
  } else {
    checks.add(name::kReportSignature, false, "a signing certificate", "none");
  }
  check_hcl(in, r, checks);
  if (opt.channel_key) {
    Bytes want = opt.fresh_nonce ? fresh_report_data(*opt.channel_key, *opt.fresh_nonce) : Bytes(64, 0);
    if (!opt.fresh_nonce) std::copy(opt.channel_key->begin(), opt.channel_key->end(), want.begin());
    checks.add(name::kChannelBinding, equal_ct(want, r.report_data),
               opt.fresh_nonce ? "REPORT_DATA = SHA-512(\"confer-attest-v1\" || server key || nonce) = " + to_hex(want)
                               : "REPORT_DATA = server static key || zeros = " + to_hex(want),
               "REPORT_DATA " + to_hex(r.report_data));
  }
  check_policy(r, opt.policy, v.product, checks);
  return v;
}

}  // namespace confer::attest
