// Intel Trust Authority tokens: the JWS parser, the JWKS parser and the appraisal.
// The first byte picks the target; the rest is its input. Target 3 signs the input as
// a claims set with a development key, so that the appraisal's claim checks (past the
// signature, which a fuzzer cannot forge) see arbitrary payloads too.
#include <optional>
#include <string_view>

#include "attest/ita.hpp"
#include "attest/jwt.hpp"
#include "core/json.hpp"
#include "dev/ita_issuer.hpp"

namespace {

using namespace confer;

struct DevSetup {
  std::optional<dev::DevItaIssuer> issuer;
  attest::Jwks jwks;
};

const DevSetup& dev_setup() {
  static const DevSetup setup = [] {
    DevSetup s;
    auto issuer = dev::DevItaIssuer::create("ES256");  // fast to sign
    if (!issuer) return s;
    auto jwks = attest::parse_jwks(issuer->jwks_json());
    if (jwks) s.jwks = std::move(jwks).value();
    s.issuer = std::move(issuer).value();
    return s;
  }();
  return setup;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1u << 18)) return 0;  // bounded runs; the size limits are tested in tests/
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  attest::ItaOptions opt;
  opt.at = 1767225600;
  switch (data[0] % 4) {
    case 0:
      if (auto jwt = attest::parse_jwt(text)) (void)attest::verify_jws(*jwt, dev_setup().jwks);
      break;
    case 1:
      (void)attest::parse_jwks(text);
      break;
    case 2:
      (void)attest::appraise_ita_token(text, dev_setup().jwks, opt);
      (void)attest::appraise_ita_token(text, attest::default_ita_jwks(), opt);
      break;
    case 3: {
      const DevSetup& s = dev_setup();
      auto payload = parse_json(text, "fuzz payload", JsonLimits{attest::kMaxJwtBytes, attest::kMaxJwtJsonDepth});
      if (!s.issuer || !payload || !payload->is_object()) break;
      (void)attest::ita_claims_from_payload(*payload);
      if (auto token = s.issuer->mint(*payload)) (void)attest::appraise_ita_token(*token, s.jwks, opt);
      break;
    }
  }
  return 0;
}
