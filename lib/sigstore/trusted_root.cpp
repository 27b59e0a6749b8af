#include "sigstore/trusted_root.hpp"

#include "core/json.hpp"

namespace confer::sigstore {

using namespace confer::json_detail;

std::string TimeRange::describe() const {
  return fmt::format("[{}, {}]", format_rfc3339(start), end ? format_rfc3339(*end) : std::string("open"));
}

namespace {

constexpr std::string_view kMediaPrefix = "application/vnd.dev.sigstore.trustedroot";

Result<TimeRange> parse_range(const json& obj, std::string_view where) {
  CONFER_TRY(const json* vf, required_object(obj, "validFor", where));
  std::string w = fmt::format("{}.validFor", where);
  TimeRange r;
  CONFER_TRY(std::string start, required_string(*vf, "start", w));
  auto s = parse_rfc3339(start);
  if (!s) return parse_error(fmt::format("{}.start: expected an RFC 3339 time, saw '{}'", w, start));
  r.start = *s;
  CONFER_TRY(std::optional<std::string> end, optional_string(*vf, "end", w));
  if (end) {
    auto e = parse_rfc3339(*end);
    if (!e) return parse_error(fmt::format("{}.end: expected an RFC 3339 time, saw '{}'", w, *end));
    if (*e < r.start) return parse_error(fmt::format("{}: end {} is before start {}", w, *end, start));
    r.end = *e;
  }
  return r;
}

Result<TransparencyLog> parse_log(const json& j, std::string_view where) {
  if (!j.is_object()) return parse_error(fmt::format("{}: expected an object, saw {}", where, json_type(j)));
  TransparencyLog log;
  CONFER_TRY(std::optional<std::string> url, optional_string(j, "baseUrl", where));
  log.base_url = url.value_or("");
  CONFER_TRY(std::optional<std::string> ha, optional_string(j, "hashAlgorithm", where));
  log.hash_algorithm = ha.value_or("");
  CONFER_TRY(const json* pk, required_object(j, "publicKey", where));
  std::string pw = fmt::format("{}.publicKey", where);
  CONFER_TRY(log.public_key, required_base64(*pk, "rawBytes", pw));
  CONFER_TRY(std::optional<std::string> kd, optional_string(*pk, "keyDetails", pw));
  log.key_details = kd.value_or("");
  CONFER_TRY(log.valid_for, parse_range(*pk, pw));
  CONFER_TRY(const json* lid, required_object(j, "logId", where));
  CONFER_TRY(log.log_id, required_base64(*lid, "keyId", fmt::format("{}.logId", where)));
  return log;
}

Result<CertificateAuthority> parse_ca(const json& j, std::string_view where) {
  if (!j.is_object()) return parse_error(fmt::format("{}: expected an object, saw {}", where, json_type(j)));
  CertificateAuthority ca;
  CONFER_TRY(std::optional<std::string> uri, optional_string(j, "uri", where));
  ca.uri = uri.value_or("");
  if (const json* subj = member(j, "subject"); subj != nullptr && subj->is_object()) {
    CONFER_TRY(std::optional<std::string> cn, optional_string(*subj, "commonName", where));
    ca.subject_common_name = cn.value_or("");
  }
  CONFER_TRY(const json* chain, required_object(j, "certChain", where));
  const json* certs = member(*chain, "certificates");
  if (certs == nullptr || !certs->is_array() || certs->empty())
    return parse_error(fmt::format("{}.certChain: expected a non-empty 'certificates' array", where));
  for (size_t i = 0; i < certs->size(); ++i) {
    std::string cw = fmt::format("{}.certChain.certificates[{}]", where, i);
    CONFER_TRY(Bytes der, required_base64((*certs)[i], "rawBytes", cw));
    auto cert = crypto::Cert::from_der(der);
    if (!cert) return parse_error(fmt::format("{}: not a DER certificate ({})", cw, cert.error().message));
    ca.chain.push_back(std::move(cert).value());
  }
  CONFER_TRY(ca.valid_for, parse_range(j, where));
  return ca;
}

}  // namespace

Result<TrustedRoot> TrustedRoot::parse(std::string_view json_text) {
  CONFER_TRY(json j, parse_json_object(json_text, "trusted root"));
  TrustedRoot root;
  CONFER_TRY(root.media_type, required_string(j, "mediaType", "trusted root"));
  if (root.media_type.rfind(kMediaPrefix, 0) != 0)
    return parse_error(fmt::format("trusted root: expected media type {}+json;version=0.1, saw '{}'",
                                   kMediaPrefix, root.media_type));
  auto array = [&](const char* key) -> Result<const json*> {
    const json* m = member(j, key);
    if (m == nullptr) return static_cast<const json*>(nullptr);
    if (!m->is_array())
      return parse_error(fmt::format("trusted root: expected '{}' to be an array, saw {}", key, json_type(*m)));
    return m;
  };
  CONFER_TRY(const json* tlogs, array("tlogs"));
  CONFER_TRY(const json* cas, array("certificateAuthorities"));
  CONFER_TRY(const json* ctlogs, array("ctlogs"));
  CONFER_TRY(const json* tsas, array("timestampAuthorities"));
  if (tlogs != nullptr)
    for (size_t i = 0; i < tlogs->size(); ++i) {
      CONFER_TRY(TransparencyLog log, parse_log((*tlogs)[i], fmt::format("tlogs[{}]", i)));
      root.tlogs.push_back(std::move(log));
    }
  if (ctlogs != nullptr)
    for (size_t i = 0; i < ctlogs->size(); ++i) {
      CONFER_TRY(TransparencyLog log, parse_log((*ctlogs)[i], fmt::format("ctlogs[{}]", i)));
      root.ctlogs.push_back(std::move(log));
    }
  if (cas != nullptr)
    for (size_t i = 0; i < cas->size(); ++i) {
      CONFER_TRY(CertificateAuthority ca, parse_ca((*cas)[i], fmt::format("certificateAuthorities[{}]", i)));
      root.certificate_authorities.push_back(std::move(ca));
    }
  if (tsas != nullptr)
    for (size_t i = 0; i < tsas->size(); ++i) {
      CONFER_TRY(CertificateAuthority ca, parse_ca((*tsas)[i], fmt::format("timestampAuthorities[{}]", i)));
      root.timestamp_authorities.push_back(std::move(ca));
    }
  return root;
}

const TransparencyLog* TrustedRoot::find_tlog(ByteView log_id) const noexcept {
  for (const auto& t : tlogs)
    if (t.log_id.size() == log_id.size() && equal_ct(t.log_id, log_id)) return &t;
  return nullptr;
}

}  // namespace confer::sigstore
