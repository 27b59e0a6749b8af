#include "attest/tdx_collateral.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/json.hpp"

namespace confer::attest {

using nlohmann::json;

namespace {

constexpr JsonLimits kLimits{1u << 20, 16};
constexpr size_t kMaxLevels = 256;

Error bad(std::string_view what, std::string message) {
  return make_error(Errc::parse, fmt::format("{}: {}", what, message));
}

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// The end of the JSON string starting at s[i] == '"', or npos.
size_t string_end(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return std::string_view::npos;
}

// The end of the JSON value starting at s[i] (already known to parse), or npos.
size_t value_end(std::string_view s, size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  if (s[i] == '"') return string_end(s, i);
  if (s[i] == '{' || s[i] == '[') {
    size_t depth = 0;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c == '"') {
        i = string_end(s, i);
        if (i == std::string_view::npos) return i;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return std::string_view::npos;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  return i;
}

Result<Bytes> hex_field(const json& obj, const char* key, std::string_view where, size_t size) {
  CONFER_TRY(std::string text, required_string(obj, key, where));
  auto bytes = from_hex(text);
  if (!bytes || (size != 0 && bytes->size() != size))
    return bad(where, fmt::format("expected '{}' to be {} bytes of hex, saw '{}'", key, size, text.substr(0, 80)));
  return std::move(bytes).value();
}

Result<UnixTime> time_field(const json& obj, const char* key, std::string_view where) {
  CONFER_TRY(std::string text, required_string(obj, key, where));
  auto t = parse_rfc3339(text);
  if (!t) return bad(where, fmt::format("expected '{}' to be an RFC 3339 time, saw '{}'", key, text.substr(0, 40)));
  return *t;
}

Result<uint32_t> small_uint(const json& obj, const char* key, std::string_view where, uint32_t max) {
  const json* m = member(obj, key);
  if (m == nullptr || !m->is_number_unsigned() || m->get<uint64_t>() > max)
    return bad(where, fmt::format("expected '{}' to be an integer 0..{}, saw {}", key, max,
                                  m == nullptr ? "none" : m->dump().substr(0, 40)));
  return uint32_t(m->get<uint64_t>());
}

Result<std::vector<std::string>> advisories(const json& level, std::string_view where) {
  std::vector<std::string> out;
  const json* a = member(level, "advisoryIDs");
  if (a == nullptr) return out;
  if (!a->is_array() || a->size() > 256) return bad(where, "expected 'advisoryIDs' to be an array of strings");
  for (const auto& id : *a) {
    if (!id.is_string()) return bad(where, "expected 'advisoryIDs' to be an array of strings");
    out.push_back(id.get<std::string>());
  }
  return out;
}

Result<std::vector<SvnLevel>> svn_levels(const json& obj, std::string_view where) {
  const json* levels = member(obj, "tcbLevels");
  if (levels == nullptr || !levels->is_array() || levels->empty() || levels->size() > kMaxLevels)
    return bad(where, fmt::format("expected 'tcbLevels' to be an array of 1..{} levels", kMaxLevels));
  std::vector<SvnLevel> out;
  for (size_t i = 0; i < levels->size(); ++i) {
    const json& l = (*levels)[i];
    std::string at = fmt::format("{}.tcbLevels[{}]", where, i);
    CONFER_TRY(const json* tcb, required_object(l, "tcb", at));
    SvnLevel level;
    CONFER_TRY(level.isvsvn, small_uint(*tcb, "isvsvn", at + ".tcb", 65535));
    CONFER_TRY(level.status, required_string(l, "tcbStatus", at));
    CONFER_TRY(auto date, optional_string(l, "tcbDate", at));
    level.date = date.value_or("");
    CONFER_TRY(level.advisories, advisories(l, at));
    out.push_back(std::move(level));
  }
  return out;
}

Result<TdxModuleIdentity> module_identity(const json& m, std::string_view where, bool with_levels) {
  TdxModuleIdentity id;
  if (with_levels) {
    CONFER_TRY(id.id, required_string(m, "id", where));
  }
  CONFER_TRY(id.mrsigner, hex_field(m, "mrsigner", where, 48));
  CONFER_TRY(id.attributes, hex_field(m, "attributes", where, 8));
  CONFER_TRY(id.attributes_mask, hex_field(m, "attributesMask", where, 8));
  if (with_levels) {
    CONFER_TRY(id.levels, svn_levels(m, where));
  }
  return id;
}

template <size_t N>
Result<std::array<uint8_t, N>> components(const json& tcb, const char* key, std::string_view where) {
  const json* comps = member(tcb, key);
  if (comps == nullptr || !comps->is_array() || comps->size() != N)
    return bad(where, fmt::format("expected '{}' to be an array of {} components", key, N));
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) {
    CONFER_TRY(uint32_t svn, small_uint((*comps)[i], "svn", fmt::format("{}.{}[{}]", where, key, i), 255));
    out[i] = uint8_t(svn);
  }
  return out;
}

// The signed value and the signature of a PCS body.
struct Signed {
  json value;
  std::string text;
  Bytes signature;
};

Result<Signed> signed_body(std::string_view body, const char* key, std::string_view what) {
  CONFER_TRY(json doc, parse_json_object(body, what, kLimits));
  Signed out;
  CONFER_TRY(const json* value, required_object(doc, key, what));
  out.value = *value;
  CONFER_TRY(std::string_view text, raw_member(body, key));
  out.text = std::string(text);
  CONFER_TRY(out.signature, hex_field(doc, "signature", what, 64));
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

}  // namespace

Result<std::string_view> raw_member(std::string_view s, std::string_view key) {
  size_t i = skip_ws(s, 0);
  if (i >= s.size() || s[i] != '{') return make_error(Errc::parse, "expected a JSON object");
  i = skip_ws(s, i + 1);
  while (i < s.size() && s[i] == '"') {
    size_t kend = string_end(s, i);
    if (kend == std::string_view::npos) break;
    std::string_view name = s.substr(i + 1, kend - i - 2);
    i = skip_ws(s, kend);
    if (i >= s.size() || s[i] != ':') break;
    i = skip_ws(s, i + 1);
    size_t vend = value_end(s, i);
    if (vend == std::string_view::npos) break;
    if (name == key) return s.substr(i, vend - i);
    i = skip_ws(s, vend);
    if (i < s.size() && s[i] == ',') i = skip_ws(s, i + 1);
  }
  return make_error(Errc::parse, fmt::format("expected a top-level member '{}', found none", key));
}

Result<TcbInfo> parse_tcb_info(std::string_view body) {
  constexpr std::string_view what = "TCB info";
  CONFER_TRY(Signed s, signed_body(body, "tcbInfo", what));
  const json& t = s.value;
  TcbInfo info;
  info.signed_body = std::move(s.text);
  info.signature = std::move(s.signature);
  CONFER_TRY(info.id, required_string(t, "id", what));
  if (info.id != "TDX") return bad(what, fmt::format("expected id \"TDX\", saw \"{}\"", info.id.substr(0, 40)));
  CONFER_TRY(info.version, json_detail::required_int64(t, "version", what));
  if (info.version != 3) return bad(what, fmt::format("expected version 3, saw {}", info.version));
  CONFER_TRY(info.issue_date, time_field(t, "issueDate", what));
  CONFER_TRY(info.next_update, time_field(t, "nextUpdate", what));
  CONFER_TRY(Bytes fmspc, hex_field(t, "fmspc", what, 6));
  info.fmspc = to_hex(fmspc);
  CONFER_TRY(Bytes pce, hex_field(t, "pceId", what, 2));
  info.pce_id = to_hex(pce);
  CONFER_TRY(info.tcb_type, json_detail::required_int64(t, "tcbType", what));
  CONFER_TRY(info.evaluation_number, json_detail::required_int64(t, "tcbEvaluationDataNumber", what));
  if (const json* m = member(t, "tdxModule")) {
    if (!m->is_object()) return bad(what, "expected 'tdxModule' to be an object");
    CONFER_TRY(info.tdx_module, module_identity(*m, "TCB info.tdxModule", false));
  }
  if (const json* ids = member(t, "tdxModuleIdentities")) {
    if (!ids->is_array() || ids->size() > 64) return bad(what, "expected 'tdxModuleIdentities' to be an array");
    for (size_t i = 0; i < ids->size(); ++i) {
      if (!(*ids)[i].is_object()) return bad(what, "expected 'tdxModuleIdentities' to hold objects");
      CONFER_TRY(auto id, module_identity((*ids)[i], fmt::format("TCB info.tdxModuleIdentities[{}]", i), true));
      info.module_identities.push_back(std::move(id));
    }
  }
  const json* levels = member(t, "tcbLevels");
  if (levels == nullptr || !levels->is_array() || levels->empty() || levels->size() > kMaxLevels)
    return bad(what, fmt::format("expected 'tcbLevels' to be an array of 1..{} levels", kMaxLevels));
  for (size_t i = 0; i < levels->size(); ++i) {
    const json& l = (*levels)[i];
    std::string at = fmt::format("TCB info.tcbLevels[{}]", i);
    CONFER_TRY(const json* tcb, required_object(l, "tcb", at));
    TdxTcbLevel level;
    CONFER_TRY(level.sgx, components<16>(*tcb, "sgxtcbcomponents", at));
    CONFER_TRY(level.pcesvn, small_uint(*tcb, "pcesvn", at, 65535));
    CONFER_TRY(level.tdx, components<16>(*tcb, "tdxtcbcomponents", at));
    CONFER_TRY(level.status, required_string(l, "tcbStatus", at));
    CONFER_TRY(auto date, optional_string(l, "tcbDate", at));
    level.date = date.value_or("");
    CONFER_TRY(level.advisories, advisories(l, at));
    info.levels.push_back(std::move(level));
  }
  info.fmspc = lower(info.fmspc);
  info.pce_id = lower(info.pce_id);
  return info;
}

Result<QeIdentity> parse_qe_identity(std::string_view body) {
  constexpr std::string_view what = "QE identity";
  CONFER_TRY(Signed s, signed_body(body, "enclaveIdentity", what));
  const json& e = s.value;
  QeIdentity q;
  q.signed_body = std::move(s.text);
  q.signature = std::move(s.signature);
  CONFER_TRY(q.id, required_string(e, "id", what));
  if (q.id != "TD_QE") return bad(what, fmt::format("expected id \"TD_QE\", saw \"{}\"", q.id.substr(0, 40)));
  CONFER_TRY(q.version, json_detail::required_int64(e, "version", what));
  if (q.version != 2) return bad(what, fmt::format("expected version 2, saw {}", q.version));
  CONFER_TRY(q.issue_date, time_field(e, "issueDate", what));
  CONFER_TRY(q.next_update, time_field(e, "nextUpdate", what));
  CONFER_TRY(q.evaluation_number, json_detail::required_int64(e, "tcbEvaluationDataNumber", what));
  CONFER_TRY(Bytes misc, hex_field(e, "miscselect", what, 4));
  CONFER_TRY(Bytes misc_mask, hex_field(e, "miscselectMask", what, 4));
  // Little-endian, as MISCSELECT is in the report (ATTESTATION §3.9).
  q.miscselect = load_le32(misc.data());
  q.miscselect_mask = load_le32(misc_mask.data());
  CONFER_TRY(Bytes attrs, hex_field(e, "attributes", what, 16));
  CONFER_TRY(Bytes attrs_mask, hex_field(e, "attributesMask", what, 16));
  std::copy(attrs.begin(), attrs.end(), q.attributes.begin());
  std::copy(attrs_mask.begin(), attrs_mask.end(), q.attributes_mask.begin());
  CONFER_TRY(Bytes mrsigner, hex_field(e, "mrsigner", what, 32));
  std::copy(mrsigner.begin(), mrsigner.end(), q.mrsigner.begin());
  CONFER_TRY(uint32_t prod, small_uint(e, "isvprodid", what, 65535));
  q.isvprodid = uint16_t(prod);
  CONFER_TRY(q.levels, svn_levels(e, what));
  return q;
}

}  // namespace confer::attest
