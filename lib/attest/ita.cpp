#include "attest/ita.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/json.hpp"

namespace confer::attest {

namespace {

using nlohmann::json;
namespace name = ita_checks;

// 9999-12-31T23:59:59Z: a NumericDate past it is malformed, and time arithmetic on the
// ones below it cannot overflow.
constexpr int64_t kMaxNumericDate = 253402300799;

std::string quoted_list(const std::vector<std::string>& items) {
  if (items.empty()) return "(none configured)";
  std::string out;
  for (const auto& s : items) out += fmt::format("{}\"{}\"", out.empty() ? "" : ", ", s);
  return out;
}

std::string clip(std::string s, size_t max = 120) {
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

std::string seen_value(const json& v) {
  return v.is_string() ? fmt::format("\"{}\"", clip(v.get<std::string>())) : clip(dump_json(v));
}

// A NumericDate (RFC 7519 §2) that ITA writes as an integer: absent is nullopt.
Result<std::optional<int64_t>> numeric_date(const json& payload, const char* key) {
  auto it = payload.find(key);
  if (it == payload.end()) return std::optional<int64_t>{};
  const json& v = *it;
  int64_t t = -1;
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    t = u > uint64_t(kMaxNumericDate) ? kMaxNumericDate + 1 : int64_t(u);
  } else if (v.is_number_integer()) {
    t = v.get<int64_t>();
  } else {
    return make_error(Errc::parse, fmt::format("{}: expected an integer NumericDate, saw {}", key,
                                               v.is_number() ? "the number " + dump_json(v)
                                               : v.is_string() ? "the string " + seen_value(v)
                                                               : std::string("a ") + v.type_name()));
  }
  if (t < 0 || t > kMaxNumericDate)
    return make_error(Errc::parse, fmt::format("{}: expected seconds since 1970 up to the year 9999, saw {}", key,
                                               dump_json(v)));
  return std::optional<int64_t>(t);
}

std::string time_or_none(const std::optional<int64_t>& t) { return t ? format_rfc3339(*t) : "none"; }

// ita.expiry: exp required and after `at` less the leeway; nbf and iat, when present,
// not after `at` plus the leeway.
void check_expiry(const json& payload, const ItaOptions& opt, ItaClaims& times, CheckList& checks) {
  int64_t leeway = std::clamp<int64_t>(opt.leeway_seconds, 0, 86400);
  UnixTime early = opt.at - leeway, late = opt.at + leeway;
  std::string expected = fmt::format("valid at {}: exp after {}, nbf and iat not after {} ({} s leeway)",
                                     format_rfc3339(opt.at), format_rfc3339(early), format_rfc3339(late), leeway);
  auto exp = numeric_date(payload, "exp");
  auto nbf = numeric_date(payload, "nbf");
  auto iat = numeric_date(payload, "iat");
  std::vector<std::string> problems;
  for (const auto* r : {&exp, &nbf, &iat})
    if (!*r) problems.push_back(r->error().message);
  if (exp && !exp->has_value()) problems.push_back("exp: expected an expiry time, saw none");
  if (exp && exp->has_value() && **exp <= early)
    problems.push_back(fmt::format("expired: exp {} is not after {} (the verification time {} less {} s)",
                                   format_rfc3339(**exp), format_rfc3339(early), format_rfc3339(opt.at), leeway));
  if (nbf && nbf->has_value() && **nbf > late)
    problems.push_back(fmt::format("not yet valid: nbf {} is after {} (the verification time {} plus {} s)",
                                   format_rfc3339(**nbf), format_rfc3339(late), format_rfc3339(opt.at), leeway));
  if (iat && iat->has_value() && **iat > late)
    problems.push_back(fmt::format("issued in the future: iat {} is after {} (the verification time {} plus {} s)",
                                   format_rfc3339(**iat), format_rfc3339(late), format_rfc3339(opt.at), leeway));
  if (exp) times.exp = exp->value_or(0);
  if (nbf) times.nbf = nbf->value_or(0);
  if (iat) times.iat = iat->value_or(0);
  if (problems.empty()) {
    checks.pass(name::kExpiry, expected,
                fmt::format("iat {}, nbf {}, exp {}", time_or_none(*iat), time_or_none(*nbf), time_or_none(*exp)));
    return;
  }
  std::string seen;
  for (const auto& p : problems) seen += (seen.empty() ? "" : "; ") + p;
  checks.fail(name::kExpiry, expected, seen);
}

// Reads the TDX claims of one object, noting every problem rather than the first.
class ClaimReader {
 public:
  explicit ClaimReader(const json& src) : src_(src) {}

  const json* get(const char* key, bool required, const char* what) {
    auto it = src_.find(key);
    if (it == src_.end() || it->is_null()) {
      if (required) problem(key, what, "none");
      return nullptr;
    }
    return &*it;
  }

  void problem(const char* key, std::string_view expected, std::string_view seen) {
    problems_.push_back(fmt::format("{}: expected {}, saw {}", key, expected, seen));
  }

  std::optional<Bytes> hex(const char* key, size_t bytes, bool required) {
    std::string what = fmt::format("{} hex digits ({} bytes)", bytes * 2, bytes);
    const json* v = get(key, required, what.c_str());
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return bad(key, what, fmt::format("a {}", v->type_name()));
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() != bytes * 2) return bad(key, what, fmt::format("{} characters", s.size()));
    auto decoded = from_hex(s);
    if (!decoded) return bad(key, what, fmt::format("non-hex characters in {}", seen_value(*v)));
    return std::move(decoded).value();
  }

  std::optional<TdxMeasurement> measurement(const char* key, bool required) {
    auto b = hex(key, 48, required);
    if (!b) return std::nullopt;
    TdxMeasurement m{};
    std::copy(b->begin(), b->end(), m.begin());
    return m;
  }

  // ITA writes REPORT_DATA as hex; some deployments have seen standard base64.
  std::optional<Bytes> report_data(const char* key) {
    const char* what = "128 hex digits or standard base64 of 64 bytes";
    const json* v = get(key, true, what);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return bad(key, what, fmt::format("a {}", v->type_name()));
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() == 128) {
      if (auto decoded = from_hex(s)) return std::move(decoded).value();
    } else if (s.size() == 88 || s.size() == 86) {
      size_t pad = s.size() == 88 ? 2 : 0;
      bool alphabet = std::all_of(s.begin(), s.end() - long(pad), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
      });
      if (alphabet && (pad == 0 || s.compare(86, 2, "==") == 0)) {
        auto decoded = from_base64(s);
        if (decoded && decoded->size() == 64) return std::move(decoded).value();
      }
    }
    return bad(key, what, fmt::format("{} characters that are neither", s.size()));
  }

  std::optional<bool> boolean(const char* key) {
    const json* v = get(key, true, "true or false");
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
      problem(key, "true or false", fmt::format("a {} {}", v->type_name(), seen_value(*v)));
      return std::nullopt;
    }
    return v->get<bool>();
  }

  std::optional<std::string> text(const char* key) {
    const char* what = "a non-empty string";
    const json* v = get(key, true, what);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string() || v->get_ref<const std::string&>().empty()) {
      problem(key, what, v->is_string() ? "\"\"" : fmt::format("a {}", v->type_name()));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  std::vector<std::string> strings(const char* key) {
    const char* what = "an array of strings";
    const json* v = get(key, false, what);
    std::vector<std::string> out;
    if (v == nullptr) return out;
    if (!v->is_array()) {
      problem(key, what, fmt::format("a {}", v->type_name()));
      return out;
    }
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        problem(key, what, fmt::format("a {} at index {}", (*v)[i].type_name(), i));
        return {};
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }

  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::nullopt_t bad(const char* key, std::string_view expected, const std::string& seen) {
    problem(key, expected, seen);
    return std::nullopt;
  }

  const json& src_;
  std::vector<std::string> problems_;
};

std::string claims_summary(const ItaClaims& c, bool nested) {
  return fmt::format("{}: attester_type {}, MRTD {}, attester_tcb_status {}, tdx_is_debuggable {}, "
                     "REPORT_DATA {}",
                     nested ? "in the \"tdx\" object" : "at the top level", c.attester_type, to_hex(c.mrtd),
                     c.tcb_status, c.debuggable, to_hex(c.report_data));
}

}  // namespace

bool ItaAppraisal::verified() const noexcept { return claims.has_value() && checks.passed(); }

const Check* ItaAppraisal::first_failure() const noexcept { return checks.first_failure(); }

Result<ItaClaims> ita_claims_from_payload(const json& payload) {
  if (!payload.is_object())
    return make_error(Errc::parse, fmt::format("ITA claims: expected a JSON object, saw {}", payload.type_name()));
  const json* src = &payload;
  auto tdx = payload.find("tdx");
  if (tdx != payload.end()) {
    if (!tdx->is_object())
      return make_error(Errc::parse, fmt::format("ITA claims: expected \"tdx\" to be an object (a v2 token's TDX "
                                                 "claims), saw {}",
                                                 tdx->type_name()));
    src = &*tdx;
  }
  ClaimReader r(*src);
  ItaClaims c;
  auto mrtd = r.measurement("tdx_mrtd", true);
  std::array<std::optional<TdxMeasurement>, 4> rtmr;
  static constexpr std::array<const char*, 4> kRtmr{"tdx_rtmr0", "tdx_rtmr1", "tdx_rtmr2", "tdx_rtmr3"};
  for (size_t i = 0; i < 4; ++i) rtmr[i] = r.measurement(kRtmr[i], true);
  auto report_data = r.report_data("tdx_report_data");
  auto debuggable = r.boolean("tdx_is_debuggable");
  auto tcb_status = r.text("attester_tcb_status");
  auto attester_type = r.text("attester_type");
  c.mrseam = r.measurement("tdx_mrseam", false);
  c.tee_tcb_svn = r.hex("tdx_tee_tcb_svn", 16, false);
  c.advisory_ids = r.strings("attester_advisory_ids");
  if (!r.problems().empty()) {
    std::string all;
    for (const auto& p : r.problems()) all += (all.empty() ? "" : "; ") + p;
    return make_error(Errc::parse, fmt::format("ITA claims ({}): {}",
                                               src == &payload ? "at the top level" : "in the \"tdx\" object", all));
  }
  c.mrtd = *mrtd;
  for (size_t i = 0; i < 4; ++i) c.rtmr[i] = *rtmr[i];
  c.report_data = std::move(*report_data);
  c.debuggable = *debuggable;
  c.tcb_status = std::move(*tcb_status);
  c.attester_type = std::move(*attester_type);
  if (auto iss = payload.find("iss"); iss != payload.end() && iss->is_string()) c.issuer = iss->get<std::string>();
  return c;
}

ItaAppraisal appraise_ita_token(std::string_view token, const Jwks& jwks, const ItaOptions& opt) {
  ItaAppraisal a;
  CheckList& checks = a.checks;

  auto jwt = parse_jwt(token);
  if (!checks.add(name::kFormat, jwt.ok(), "a JWS compact token: three base64url parts, JSON header and claims",
                  jwt ? fmt::format("alg {}, kid {}", jwt->header.alg,
                                    jwt->header.kid ? "\"" + *jwt->header.kid + "\"" : std::string("none"))
                      : jwt.error().message))
    return a;

  std::string sig_expected = "a PS384, RS256, ES384 or ES256 signature by a key of the Intel Trust Authority JWKS";
  if (jwks.empty()) {
    checks.fail(name::kSignature, sig_expected,
                fmt::format("no key to verify with: no Intel Trust Authority key is built in; give ITA's published "
                            "JWKS ({}) with a JWKS file (--ita-jwks FILE)",
                            kItaJwksUrl));
    return a;
  }
  auto sig = verify_jws(*jwt, jwks);
  std::string kid = jwt->header.kid ? *jwt->header.kid : jwks.keys.front().kid;
  if (!checks.add(name::kSignature, sig.ok(), sig_expected + fmt::format(" ({} key{})", jwks.keys.size(),
                                                                       jwks.keys.size() == 1 ? "" : "s"),
                  sig ? fmt::format("a valid {} signature by kid \"{}\"", jwt->header.alg, kid) : sig.error().message))
    return a;

  const json& payload = jwt->payload;
  auto iss = payload.find("iss");
  std::string iss_expected = "iss " + quoted_list(opt.issuers);
  if (iss == payload.end() || !iss->is_string()) {
    checks.fail(name::kIssuer, iss_expected,
                iss == payload.end() ? "no iss" : fmt::format("iss {} {}", iss->type_name(), seen_value(*iss)));
  } else {
    const auto& got = iss->get_ref<const std::string&>();
    bool known = std::find(opt.issuers.begin(), opt.issuers.end(), got) != opt.issuers.end();
    checks.add(name::kIssuer, known, iss_expected, fmt::format("iss \"{}\"", clip(got)));
  }

  ItaClaims times;
  check_expiry(payload, opt, times, checks);

  auto claims = ita_claims_from_payload(payload);
  checks.add(name::kClaims, claims.ok(),
             "TDX claims tdx_mrtd, tdx_rtmr0-3, tdx_report_data, tdx_is_debuggable, attester_tcb_status and "
             "attester_type present and well formed",
             claims ? claims_summary(*claims, payload.contains("tdx")) : claims.error().message);
  if (claims) {
    claims->exp = times.exp;
    claims->iat = times.iat;
    claims->nbf = times.nbf;
    a.claims = std::move(claims).value();
  }
  return a;
}

std::string_view default_ita_jwks_json() {
  // Empty on purpose: no copy of https://portal.trustauthority.intel.com/certs could be
  // taken from a source we could vouch for. Pin ITA's set here once one is.
  return R"({"keys":[]})";
}

const Jwks& default_ita_jwks() {
  static const Jwks jwks = [] {
    auto parsed = parse_jwks(default_ita_jwks_json());
    return parsed ? std::move(parsed).value() : Jwks{};
  }();
  return jwks;
}

}  // namespace confer::attest
