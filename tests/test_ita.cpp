// Intel Trust Authority tokens: the JWS parser and verifier (attest/jwt.hpp), the JWKS
// parser, and the appraisal's checks (attest/ita.hpp), against tokens minted by the
// development issuer (dev/ita_issuer.hpp) and their negative twins.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/ita.hpp"
#include "attest/jwt.hpp"
#include "core/json.hpp"
#include "dev/ita_issuer.hpp"

using namespace confer;
using namespace confer::attest;
using nlohmann::json;

namespace {

constexpr UnixTime kAt = 1767225600;  // 2026-01-01T00:00:00Z

// One issuer per algorithm per process (RSA-3072 keys take a moment to make).
const dev::DevItaIssuer& issuer(const std::string& alg, int which = 0) {
  static std::map<std::string, dev::DevItaIssuer> cache;
  std::string slot = alg + "#" + std::to_string(which);
  auto it = cache.find(slot);
  if (it == cache.end()) {
    auto created = dev::DevItaIssuer::create(alg);
    REQUIRE_MESSAGE(created.ok(), created.error().message);
    it = cache.emplace(slot, std::move(created).value()).first;
  }
  return it->second;
}

Jwks jwks_of(const std::string& text) {
  auto parsed = parse_jwks(text);
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
  return *parsed;
}

Jwks jwks_of(const dev::DevItaIssuer& i) { return jwks_of(i.jwks_json()); }

std::string mint(const dev::DevItaIssuer& i, const json& payload, std::optional<std::string> kid = {}) {
  auto token = i.mint(payload, std::move(kid));
  REQUIRE_MESSAGE(token.ok(), token.error().message);
  return *token;
}

std::string mint_with_header(const dev::DevItaIssuer& i, const json& header, const json& payload) {
  auto token = i.mint_with_header(header, payload);
  REQUIRE_MESSAGE(token.ok(), token.error().message);
  return *token;
}

ItaOptions at(UnixTime t) {
  ItaOptions opt;
  opt.at = t;
  return opt;
}

ItaAppraisal appraise(const std::string& token, const Jwks& jwks, UnixTime t = kAt) {
  return appraise_ita_token(token, jwks, at(t));
}

std::string failed(const ItaAppraisal& a) {
  const Check* f = a.first_failure();
  return f ? f->name : std::string();
}

std::string seen(const ItaAppraisal& a) {
  const Check* f = a.first_failure();
  return f ? f->seen : std::string();
}

std::string why(const ItaAppraisal& a) { return failed(a) + ": " + seen(a); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Parts {
  std::string header, payload, signature;
  std::string join() const { return header + "." + payload + "." + signature; }
};

Parts split(const std::string& token) {
  size_t d1 = token.find('.');
  size_t d2 = token.find('.', d1 + 1);
  REQUIRE(d2 != std::string::npos);
  return {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1)};
}

std::string b64url(const std::string& text) { return to_base64url(as_bytes(text)); }

const std::string kFormat(ita_checks::kFormat);
const std::string kSignature(ita_checks::kSignature);
const std::string kIssuer(ita_checks::kIssuer);
const std::string kExpiry(ita_checks::kExpiry);
const std::string kClaims(ita_checks::kClaims);

void check_template_claims(const ItaClaims& c) {
  CHECK(c.issuer == std::string(kItaIssuer));
  CHECK(c.iat == kAt);
  CHECK(c.nbf == kAt);
  CHECK(c.exp == kAt + 300);
  TdxMeasurement mrtd{};
  mrtd.fill(0xa1);
  CHECK(c.mrtd == mrtd);
  for (size_t i = 0; i < 3; ++i) CHECK(c.rtmr[i][0] == uint8_t(0xb0 + i));
  CHECK(c.rtmr[3][47] == 0);
  REQUIRE(c.mrseam.has_value());
  CHECK((*c.mrseam)[0] == 0xc5);
  REQUIRE(c.report_data.size() == 64);
  CHECK(c.report_data[0] == 1);
  CHECK(c.report_data[31] == 32);
  CHECK(c.report_data[32] == 0);
  CHECK_FALSE(c.debuggable);
  CHECK(c.tcb_status == "UpToDate");
  CHECK(c.advisory_ids.empty());
  REQUIRE(c.tee_tcb_svn.has_value());
  CHECK(c.tee_tcb_svn->size() == 16);
  CHECK(c.attester_type == "TDX");
}

}  // namespace

TEST_CASE("ITA: a minted PS384 token verifies and exposes the claims") {
  const auto& ps = issuer("PS384");
  auto a = appraise(mint(ps, dev::tdx_claims_template(kAt)), jwks_of(ps));
  REQUIRE_MESSAGE(a.verified(), why(a));
  std::vector<std::string> names;
  for (const auto& c : a.checks) names.push_back(c.name);
  CHECK(names == std::vector<std::string>{kFormat, kSignature, kIssuer, kExpiry, kClaims});
  REQUIRE(a.claims.has_value());
  check_template_claims(*a.claims);
  CHECK(contains(a.checks.find(kSignature)->seen, ps.kid()));
}

TEST_CASE("ITA: ES384, ES256 and RS256 tokens verify") {
  for (const char* alg : {"ES384", "ES256", "RS256"}) {
    CAPTURE(alg);
    const auto& i = issuer(alg);
    auto a = appraise(mint(i, dev::tdx_claims_template(kAt)), jwks_of(i));
    CHECK_MESSAGE(a.verified(), why(a));
  }
}

TEST_CASE("ITA: the nested tdx object form of v2 tokens") {
  const auto& ps = issuer("PS384");
  json v2 = dev::tdx_claims_template_v2(kAt);
  REQUIRE(v2.contains("tdx"));
  CHECK_FALSE(v2.contains("tdx_mrtd"));
  auto a = appraise(mint(ps, v2), jwks_of(ps));
  REQUIRE_MESSAGE(a.verified(), why(a));
  check_template_claims(*a.claims);
  CHECK(contains(a.checks.find(kClaims)->seen, "\"tdx\" object"));

  // The nested object is the only source: top-level TDX claims beside it are not read.
  json shadow = v2;
  shadow["tdx_mrtd"] = std::string(96, 'f');
  shadow["tdx"].erase("tdx_mrtd");
  auto b = appraise(mint(ps, shadow), jwks_of(ps));
  CHECK(failed(b) == kClaims);
  CHECK(contains(seen(b), "tdx_mrtd"));

  json not_object = v2;
  not_object["tdx"] = 5;
  auto c = appraise(mint(ps, not_object), jwks_of(ps));
  CHECK(failed(c) == kClaims);
  CHECK(contains(seen(c), "\"tdx\" to be an object"));
}

TEST_CASE("ITA: report data as standard base64 is accepted") {
  const auto& ps = issuer("PS384");
  json claims = dev::tdx_claims_template(kAt);
  Bytes rd = *from_hex(claims["tdx_report_data"].get<std::string>());
  claims["tdx_report_data"] = to_base64(rd);
  auto a = appraise(mint(ps, claims), jwks_of(ps));
  REQUIRE_MESSAGE(a.verified(), why(a));
  CHECK(a.claims->report_data == rd);
  std::string unpadded = to_base64(rd);
  unpadded.resize(86);
  claims["tdx_report_data"] = unpadded;
  CHECK(appraise(mint(ps, claims), jwks_of(ps)).verified());
  claims["tdx_report_data"] = to_base64(Bytes(63, 7));
  CHECK(failed(appraise(mint(ps, claims), jwks_of(ps))) == kClaims);
}

TEST_CASE("ITA: a flipped signature byte is refused at ita.signature") {
  for (const char* alg : {"PS384", "ES384", "RS256"}) {
    CAPTURE(alg);
    const auto& i = issuer(alg);
    Parts parts = split(mint(i, dev::tdx_claims_template(kAt)));
    Bytes sig = *from_base64url(parts.signature);
    sig[sig.size() / 2] ^= 0x01;
    parts.signature = to_base64url(sig);
    auto a = appraise(parts.join(), jwks_of(i));
    CHECK(failed(a) == kSignature);
    CHECK(contains(seen(a), "does not verify"));
    CHECK_FALSE(a.claims.has_value());
    CHECK(a.checks.size() == 2);  // nothing is read from an unverified token
  }
}

TEST_CASE("ITA: a payload changed after signing is refused at ita.signature") {
  const auto& ps = issuer("PS384");
  json claims = dev::tdx_claims_template(kAt);
  Parts parts = split(mint(ps, claims));
  claims["tdx_is_debuggable"] = true;
  parts.payload = b64url(dump_json(claims));
  auto a = appraise(parts.join(), jwks_of(ps));
  CHECK(failed(a) == kSignature);
  CHECK_FALSE(a.claims.has_value());
}

TEST_CASE("ITA: a different issuer's key is refused at ita.signature") {
  const auto& ours = issuer("PS384");
  const auto& theirs = issuer("PS384", 1);
  // Minted by another key under our kid: the kid matches, the signature does not.
  auto a = appraise(mint(theirs, dev::tdx_claims_template(kAt), ours.kid()), jwks_of(ours));
  CHECK(failed(a) == kSignature);
  CHECK(contains(seen(a), "does not verify"));
  // Our token checked against another JWKS: its kid is not there.
  auto b = appraise(mint(ours, dev::tdx_claims_template(kAt)), jwks_of(theirs));
  CHECK(failed(b) == kSignature);
}

TEST_CASE("ITA: an unknown kid is refused at ita.signature") {
  const auto& ps = issuer("PS384");
  auto a = appraise(mint(ps, dev::tdx_claims_template(kAt), "no-such-key"), jwks_of(ps));
  CHECK(failed(a) == kSignature);
  CHECK(contains(seen(a), "kid \"no-such-key\""));
  CHECK(contains(seen(a), ps.kid()));

  auto jwt = parse_jwt(mint(ps, dev::tdx_claims_template(kAt), "no-such-key"));
  REQUIRE(jwt.ok());
  auto v = verify_jws(*jwt, jwks_of(ps));
  REQUIRE_FALSE(v.ok());
  CHECK(v.error().code == Errc::key);
}

TEST_CASE("ITA: alg none, HMAC and unknown algorithms are refused at ita.signature") {
  const auto& ps = issuer("PS384");
  json claims = dev::tdx_claims_template(kAt);
  // An unsecured JWS (RFC 7515 §A.5): an empty signature part.
  std::string none = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(dump_json(claims)) + ".";
  auto a = appraise(none, jwks_of(ps));
  CHECK(failed(a) == kSignature);
  CHECK(contains(seen(a), "\"none\""));
  for (const char* alg : {"none", "None", "NONE", "HS256", "HS384", "HS512", "PS512", "RS384", "EdDSA"}) {
    CAPTURE(alg);
    auto b = appraise(mint_with_header(ps, {{"alg", alg}, {"kid", ps.kid()}}, claims), jwks_of(ps));
    CHECK(failed(b) == kSignature);
    CHECK(contains(seen(b), std::string("\"") + alg + "\""));
    auto jwt = parse_jwt(mint_with_header(ps, {{"alg", alg}, {"kid", ps.kid()}}, claims));
    REQUIRE(jwt.ok());
    auto v = verify_jws(*jwt, jwks_of(ps));
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().code == Errc::attestation);
  }
  CHECK(contains(seen(appraise(mint_with_header(ps, {{"alg", "HS256"}, {"kid", ps.kid()}}, claims), jwks_of(ps))),
                 "always refused"));
}

TEST_CASE("ITA: an algorithm that does not fit the key is refused at ita.signature") {
  const auto& es = issuer("ES384");
  const auto& ps = issuer("PS384");
  json claims = dev::tdx_claims_template(kAt);
  // PS384 in the header, an EC key in the JWKS.
  auto a = appraise(mint_with_header(es, {{"alg", "PS384"}, {"kid", es.kid()}}, claims), jwks_of(es));
  CHECK(failed(a) == kSignature);
  CHECK(contains(seen(a), "needs an RSA key"));
  // ES256 in the header, a P-384 key.
  auto b = appraise(mint_with_header(es, {{"alg", "ES256"}, {"kid", es.kid()}}, claims), jwks_of(es));
  CHECK(failed(b) == kSignature);
  CHECK(contains(seen(b), "P-256"));
  // RS256 in the header, an RSA key whose own alg is PS384.
  auto c = appraise(mint_with_header(ps, {{"alg", "RS256"}, {"kid", ps.kid()}}, claims), jwks_of(ps));
  CHECK(failed(c) == kSignature);
  CHECK(contains(seen(c), "own alg"));
  // A key for encryption is never used to verify.
  json set = json::parse(ps.jwks_json());
  set["keys"][0]["use"] = "enc";
  auto d = appraise(mint(ps, claims), jwks_of(dump_json(set)));
  CHECK(failed(d) == kSignature);
  CHECK(contains(seen(d), "\"enc\""));
}

TEST_CASE("ITA: a header without kid needs a JWKS of exactly one key") {
  const auto& ps = issuer("PS384");
  const auto& es = issuer("ES384");
  json claims = dev::tdx_claims_template(kAt);
  std::string token = mint_with_header(ps, {{"alg", "PS384"}, {"typ", "JWT"}}, claims);
  CHECK(appraise(token, jwks_of(ps)).verified());
  json both = json::parse(ps.jwks_json());
  both["keys"].push_back(json::parse(es.jwks_json())["keys"][0]);
  auto a = appraise(token, jwks_of(dump_json(both)));
  CHECK(failed(a) == kSignature);
  CHECK(contains(seen(a), "expected a kid"));
  // With a kid, the two-key set works.
  CHECK(appraise(mint(ps, claims), jwks_of(dump_json(both))).verified());
  CHECK(appraise(mint(es, claims), jwks_of(dump_json(both))).verified());
}

TEST_CASE("ITA: the built-in JWKS holds no key and says a JWKS file is needed") {
  CHECK(default_ita_jwks().empty());
  CHECK(parse_jwks(default_ita_jwks_json()).ok());
  const auto& ps = issuer("PS384");
  auto a = appraise(mint(ps, dev::tdx_claims_template(kAt)), default_ita_jwks());
  CHECK(failed(a) == kSignature);
  CHECK(contains(seen(a), "no Intel Trust Authority key is built in"));
  CHECK(contains(seen(a), "JWKS file"));
}

TEST_CASE("ITA: a wrong issuer is refused at ita.issuer") {
  const auto& ps = issuer("PS384");
  auto a = appraise(mint(ps, dev::tdx_claims_template(kAt, "https://attest.example.net")), jwks_of(ps));
  CHECK(failed(a) == kIssuer);
  CHECK(contains(seen(a), "https://attest.example.net"));
  CHECK(contains(a.first_failure()->expected, std::string(kItaIssuer)));
  CHECK_FALSE(a.verified());
  CHECK(a.claims.has_value());  // well formed, but not to be relied on

  json no_iss = dev::tdx_claims_template(kAt);
  no_iss.erase("iss");
  CHECK(failed(appraise(mint(ps, no_iss), jwks_of(ps))) == kIssuer);
  json number_iss = dev::tdx_claims_template(kAt);
  number_iss["iss"] = 7;
  CHECK(failed(appraise(mint(ps, number_iss), jwks_of(ps))) == kIssuer);

  // An issuer the caller names is accepted.
  ItaOptions opt = at(kAt);
  opt.issuers = {"https://attest.example.net"};
  CHECK(appraise_ita_token(mint(ps, dev::tdx_claims_template(kAt, "https://attest.example.net")), jwks_of(ps), opt)
            .verified());
}

TEST_CASE("ITA: expired, not yet valid and undated tokens are refused at ita.expiry") {
  const auto& ps = issuer("PS384");
  std::string token = mint(ps, dev::tdx_claims_template(kAt));  // valid kAt .. kAt + 300
  Jwks jwks = jwks_of(ps);

  auto expired = appraise(token, jwks, kAt + 300 + 61);
  CHECK(failed(expired) == kExpiry);
  CHECK(contains(seen(expired), "expired"));
  CHECK(contains(seen(expired), "2026-01-01T00:05:00Z"));  // exp
  CHECK(contains(seen(expired), "2026-01-01T00:06:01Z"));  // the verification time
  CHECK(appraise(token, jwks, kAt + 300 + 59).verified());  // within the leeway

  auto early = appraise(token, jwks, kAt - 61);
  CHECK(failed(early) == kExpiry);
  CHECK(contains(seen(early), "not yet valid"));
  CHECK(contains(seen(early), "issued in the future"));
  CHECK(contains(seen(early), "2025-12-31T23:58:59Z"));
  CHECK(appraise(token, jwks, kAt - 59).verified());

  ItaOptions strict = at(kAt + 301);
  strict.leeway_seconds = 0;
  CHECK(failed(appraise_ita_token(token, jwks, strict)) == kExpiry);

  json no_exp = dev::tdx_claims_template(kAt);
  no_exp.erase("exp");
  auto undated = appraise(mint(ps, no_exp), jwks);
  CHECK(failed(undated) == kExpiry);
  CHECK(contains(seen(undated), "exp: expected an expiry time, saw none"));

  json only_exp = dev::tdx_claims_template(kAt);
  only_exp.erase("nbf");
  only_exp.erase("iat");
  auto a = appraise(mint(ps, only_exp), jwks);
  REQUIRE(a.verified());
  CHECK(a.claims->nbf == 0);
  CHECK(a.claims->iat == 0);

  for (json bad : {json("1767225900"), json(1767225900.5), json(-1), json(nullptr), json(1e300)}) {
    CAPTURE(dump_json(bad));
    json claims = dev::tdx_claims_template(kAt);
    claims["exp"] = bad;
    CHECK(failed(appraise(mint(ps, claims), jwks)) == kExpiry);
  }
}

TEST_CASE("ITA: every missing or malformed TDX claim is refused at ita.claims") {
  const auto& es = issuer("ES256");  // fast to sign: this test mints many tokens
  Jwks jwks = jwks_of(es);
  struct Claim {
    const char* name;
    bool required;
    json malformed;
  };
  const Claim claims[] = {
      {"tdx_mrtd", true, std::string(94, 'a')},
      {"tdx_rtmr0", true, std::string(96, 'g')},
      {"tdx_rtmr1", true, 12},
      {"tdx_rtmr2", true, std::string(98, '0')},
      {"tdx_rtmr3", true, json::array()},
      {"tdx_report_data", true, std::string(126, '0')},
      {"tdx_is_debuggable", true, "false"},
      {"attester_tcb_status", true, ""},
      {"attester_type", true, 1},
      {"tdx_mrseam", false, std::string(96, 'z')},
      {"tdx_tee_tcb_svn", false, std::string(30, '0')},
      {"attester_advisory_ids", false, json::array({"INTEL-SA-00837", 5})},
  };
  for (bool nested : {false, true}) {
    for (const auto& claim : claims) {
      CAPTURE(nested);
      CAPTURE(claim.name);
      json base = nested ? dev::tdx_claims_template_v2(kAt) : dev::tdx_claims_template(kAt);

      json missing = base;
      (nested ? missing["tdx"] : missing).erase(claim.name);
      auto a = appraise(mint(es, missing), jwks);
      if (claim.required) {
        CHECK(failed(a) == kClaims);
        CHECK(contains(seen(a), std::string(claim.name) + ": expected"));
        CHECK(contains(seen(a), "saw none"));
        CHECK_FALSE(a.claims.has_value());
      } else {
        CHECK_MESSAGE(a.verified(), why(a));
      }

      json malformed = base;
      (nested ? malformed["tdx"] : malformed)[claim.name] = claim.malformed;
      auto b = appraise(mint(es, malformed), jwks);
      CHECK(failed(b) == kClaims);
      CHECK(contains(seen(b), std::string(claim.name) + ": expected"));
      CHECK_FALSE(b.verified());
    }
  }
  // Every problem is named, not only the first.
  json two = dev::tdx_claims_template(kAt);
  two.erase("tdx_mrtd");
  two.erase("attester_tcb_status");
  auto c = appraise(mint(es, two), jwks);
  CHECK(contains(seen(c), "tdx_mrtd"));
  CHECK(contains(seen(c), "attester_tcb_status"));
  // Upper-case hex is hex.
  json upper = dev::tdx_claims_template(kAt);
  upper["tdx_mrtd"] = std::string(96, 'A');
  auto d = appraise(mint(es, upper), jwks);
  REQUIRE(d.verified());
  CHECK(d.claims->mrtd[0] == 0xaa);
}

TEST_CASE("ITA: malformed token pieces are refused at ita.format") {
  const auto& ps = issuer("PS384");
  Jwks jwks = jwks_of(ps);
  json claims = dev::tdx_claims_template(kAt);
  Parts good = split(mint(ps, claims));
  std::string header = b64url(R"({"alg":"PS384","kid":")" + ps.kid() + R"("})");
  std::string payload = b64url(dump_json(claims));

  std::string deep = std::string(10000, '[') + std::string(10000, ']');
  struct Case {
    const char* what;
    std::string token;
    const char* message;
  };
  const Case cases[] = {
      {"empty", "", "empty"},
      {"two parts", good.header + "." + good.payload, "saw 2 parts"},
      {"one part", good.header, "saw 1 part"},
      {"four parts", good.join() + ".AAAA", "saw 4 parts"},
      {"bad base64url", "eyJ*bGci." + good.payload + "." + good.signature, "'*'"},
      {"padding", good.header + "=." + good.payload + "." + good.signature, "padding"},
      {"standard base64", good.header + "." + good.payload + "." + good.signature + "+/", "'+'"},
      {"whitespace", good.header + " ." + good.payload + "." + good.signature, "byte 0x20"},
      {"non-canonical", good.header + "." + good.payload + "." + b64url("ab").substr(0, 2) + "R", "canonical"},
      {"impossible length", good.header + "." + good.payload + ".A", "one too many"},
      {"empty header", "." + good.payload + "." + good.signature, "empty first part"},
      {"empty payload", good.header + ".." + good.signature, "empty second part"},
      {"non-object header", b64url("[1]") + "." + payload + "." + good.signature, "expected a JSON object"},
      {"non-JSON header", b64url("alg=PS384") + "." + payload + "." + good.signature, "expected JSON"},
      {"non-object payload", header + "." + b64url("\"claims\"") + "." + good.signature, "expected a JSON object"},
      {"no alg", b64url(R"({"kid":"k"})") + "." + payload + "." + good.signature, "'alg'"},
      {"alg not a string", b64url(R"({"alg":384})") + "." + payload + "." + good.signature, "'alg'"},
      {"kid not a string", b64url(R"({"alg":"PS384","kid":7})") + "." + payload + "." + good.signature, "'kid'"},
      {"crit", b64url(R"({"alg":"PS384","crit":["exp"],"exp":1})") + "." + payload + "." + good.signature, "crit"},
      {"deeply nested payload", header + "." + b64url(deep) + "." + good.signature, "nested at most 16"},
      {"deeply nested header", b64url(deep) + "." + payload + "." + good.signature, "nested at most 16"},
      {"oversize", header + "." + b64url(std::string(70000, 'x')) + "." + good.signature, "at most 65536 bytes"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto a = appraise(c.token, jwks);
    CHECK(failed(a) == kFormat);
    CHECK(a.checks.size() == 1);
    CHECK_MESSAGE(contains(seen(a), c.message), seen(a));
    auto jwt = parse_jwt(c.token);
    REQUIRE_FALSE(jwt.ok());
    CHECK(jwt.error().code == Errc::parse);
  }
  // An oversize token that is otherwise well formed and signed.
  json big = claims;
  big["padding"] = std::string(66000, 'p');
  CHECK(failed(appraise(mint(ps, big), jwks)) == kFormat);
  // jku is recorded and never followed: the key comes from the JWKS given.
  auto jwt = parse_jwt(good.join());
  REQUIRE(jwt.ok());
  CHECK(jwt->header.jku == std::string(kItaJwksUrl));
  CHECK(jwt->header.typ == std::string("JWT"));
  CHECK(jwt->signing_input == good.header + "." + good.payload);
}

TEST_CASE("JWT: base64url is strict and round-trips") {
  for (size_t n = 0; n < 40; ++n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 37 + 11);
    std::string text = to_base64url(b);
    CHECK(text.find('=') == std::string::npos);
    auto back = from_base64url(text);
    REQUIRE(back.ok());
    CHECK(*back == b);
  }
  CHECK(*from_base64url("QQ") == Bytes{'A'});
  CHECK(*from_base64url("-_8") == Bytes{0xfb, 0xff});
  CHECK_FALSE(from_base64url("QR").ok());    // unused bits set
  CHECK_FALSE(from_base64url("QQ==").ok());  // padding
  CHECK_FALSE(from_base64url("Q").ok());     // not a whole byte
  CHECK_FALSE(from_base64url("+/8").ok());   // the standard alphabet
  CHECK(from_base64url("").ok());
}

TEST_CASE("JWKS: parsing errors name the key and what was expected") {
  const auto& ps = issuer("PS384");
  const auto& es = issuer("ES384");
  json rsa = json::parse(ps.jwks_json())["keys"][0];
  json ec = json::parse(es.jwks_json())["keys"][0];
  auto err = [](const json& doc) {
    auto parsed = parse_jwks(dump_json(doc));
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == Errc::parse);
    return parsed.error().message;
  };
  auto with = [&](json key, const char* member, json value) {
    if (value.is_null()) key.erase(member);
    else key[member] = std::move(value);
    return json{{"keys", json::array({rsa, key})}};  // the bad key is index 1
  };
  CHECK(contains(err(with(rsa, "n", "!!!")), "JWKS key 1: 'n': expected base64url"));
  CHECK(contains(err(with(rsa, "n", nullptr)), "JWKS key 1: expected a string 'n', saw none"));
  CHECK(contains(err(with(rsa, "n", to_base64url(Bytes(128, 0xff)))), "2048 to 8192 bits, saw 1024"));
  CHECK(contains(err(with(rsa, "n", to_base64url(Bytes(1100, 0xff)))), "saw 8800 bits"));
  Bytes n = *from_base64url(rsa["n"].get<std::string>());
  Bytes padded = n;
  padded.insert(padded.begin(), 0);
  CHECK(contains(err(with(rsa, "n", to_base64url(padded))), "leading zero"));
  Bytes even = n;
  even.back() &= 0xfe;
  CHECK(contains(err(with(rsa, "n", to_base64url(even))), "odd RSA modulus"));
  CHECK(contains(err(with(rsa, "e", to_base64url(Bytes{1}))), "exponent of at least 3"));
  CHECK(contains(err(with(rsa, "e", to_base64url(Bytes{1, 0}))), "odd RSA exponent"));
  CHECK(contains(err(with(rsa, "kty", "oct")), "JWKS key 1: expected kty RSA or EC, saw \"oct\""));
  CHECK(contains(err(with(rsa, "kty", "OKP")), "saw \"OKP\""));
  CHECK(contains(err(with(rsa, "kty", nullptr)), "'kty'"));
  CHECK(contains(err(with(rsa, "kid", nullptr)), "'kid'"));
  CHECK(contains(err(with(rsa, "kid", "")), "kid of 1 to 256"));
  CHECK(contains(err(with(rsa, "d", "AQAB")), "private parameter 'd'"));
  CHECK(contains(err(with(ec, "crv", "P-521")), "expected crv P-256 or P-384, saw \"P-521\""));
  CHECK(contains(err(with(ec, "x", to_base64url(Bytes(47, 1)))), "48-byte P-384 coordinates"));
  CHECK(contains(err(with(ec, "y", to_base64url(Bytes(48, 0)))), "not a point on the curve"));
  CHECK(contains(err(json{{"keys", json::array({rsa, rsa})}}), "key 0's too"));
  CHECK(contains(err(json{{"keys", json::array({rsa, 5})}}), "JWKS key 1: expected a JSON object"));
  CHECK(contains(err(json::object()), "expected an array 'keys', saw none"));
  CHECK(contains(err(json{{"keys", "all"}}), "'keys' to be an array"));
  CHECK(contains(err(json::array()), "JSON object"));

  json many = json{{"keys", json::array()}};
  for (size_t i = 0; i < kMaxJwksKeys + 1; ++i) {
    json key = rsa;
    key["kid"] = "k" + std::to_string(i);
    many["keys"].push_back(key);
  }
  CHECK(contains(err(many), "at most 64 keys, saw 65"));
  many["keys"].erase(many["keys"].size() - 1);
  auto full = parse_jwks(dump_json(many));
  REQUIRE_MESSAGE(full.ok(), full.error().message);
  CHECK(full->keys.size() == 64);

  auto parsed = parse_jwks(dump_json(json{{"keys", json::array({rsa, ec})}}));
  REQUIRE(parsed.ok());
  CHECK(parsed->keys[0].type == JwkType::rsa);
  CHECK(parsed->keys[0].bits == 3072);
  CHECK(parsed->keys[1].type == JwkType::ec);
  CHECK(parsed->keys[1].curve == "P-384");
  CHECK(parsed->find(ps.kid()) == &parsed->keys[0]);
  CHECK(parsed->find("nope") == nullptr);
  // x5c, use and other members are ignored; "alg" and "use" are kept.
  json extra = rsa;
  extra["x5c"] = json::array({"MIIB"});
  extra["key_ops"] = json::array({"verify"});
  auto kept = parse_jwks(dump_json(json{{"keys", json::array({extra})}}));
  REQUIRE(kept.ok());
  CHECK(kept->keys[0].alg == std::string("PS384"));
  CHECK(kept->keys[0].use == std::string("sig"));
  // Deeply nested or oversized JWKS text is refused before it is parsed.
  CHECK_FALSE(parse_jwks(std::string(10000, '[') + std::string(10000, ']')).ok());
  CHECK_FALSE(parse_jwks("{\"keys\":[],\"x\":\"" + std::string(kMaxJwksBytes, 'x') + "\"}").ok());
}

TEST_CASE("JWT: verify_jws names what it refused and with which code") {
  const auto& ps = issuer("PS384");
  auto jwt = parse_jwt(mint(ps, dev::tdx_claims_template(kAt)));
  REQUIRE(jwt.ok());
  CHECK(verify_jws(*jwt, jwks_of(ps)).ok());
  auto empty = verify_jws(*jwt, Jwks{});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::key);
  Jwt truncated = *jwt;
  truncated.signature.pop_back();
  auto short_sig = verify_jws(truncated, jwks_of(ps));
  REQUIRE_FALSE(short_sig.ok());
  CHECK(short_sig.error().code == Errc::attestation);
  CHECK(contains(short_sig.error().message, "expected a 384-byte PS384 signature"));
  Jwt unsigned_jwt = *jwt;
  unsigned_jwt.signature.clear();
  CHECK(verify_jws(unsigned_jwt, jwks_of(ps)).error().code == Errc::attestation);
  Jwt altered = *jwt;
  altered.signing_input.back() ^= 0x01;
  auto bad = verify_jws(altered, jwks_of(ps));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::attestation);
  CHECK(contains(bad.error().message, "does not verify"));

  const auto& es = issuer("ES384");
  auto ejwt = parse_jwt(mint(es, dev::tdx_claims_template(kAt)));
  REQUIRE(ejwt.ok());
  CHECK(ejwt->signature.size() == 96);
  Jwt der = *ejwt;
  der.signature.resize(100);
  CHECK(contains(verify_jws(der, jwks_of(es)).error().message, "96-byte ES384 signature"));
}
