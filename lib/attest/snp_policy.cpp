#include "attest/snp_policy.hpp"

#include "attest/gpu_verify.hpp"

#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"

namespace confer::attest {

namespace {

// "'7a1e5c26...'": enough of a value to recognise it, never a wall of text.
std::string preview(std::string_view s) {
  return fmt::format("'{}{}'", s.substr(0, 8), s.size() > 8 ? "..." : "");
}

// Exactly `digits` hex digits; the error says what was expected and what was seen.
Result<Bytes> exact_hex(std::string_view hex, size_t digits, const char* what) {
  if (hex.size() != digits)
    return make_error(Errc::usage, fmt::format("expected {} hex digits ({}), saw {}: {}", digits, what, hex.size(),
                                               preview(hex)));
  size_t bad = hex.find_first_not_of("0123456789abcdefABCDEF");
  if (bad != std::string_view::npos)
    return make_error(Errc::usage, fmt::format("expected {} hex digits ({}), saw '{}' at position {}: {}", digits,
                                               what, hex[bad], bad + 1, preview(hex)));
  return from_hex(hex);
}

template <size_t N>
Result<std::array<uint8_t, N>> fixed_hex(std::string_view hex, const char* what) {
  CONFER_TRY(Bytes bytes, exact_hex(hex, 2 * N, what));
  std::array<uint8_t, N> out{};
  std::memcpy(out.data(), bytes.data(), N);
  return out;
}

Result<uint8_t> parse_u8(std::string_view s, const char* what) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 255)
    return make_error(Errc::usage, fmt::format("{}: expected a number 0-255, saw '{}'", what, s));
  return uint8_t(v);
}

Result<std::vector<uint8_t>> dotted(std::string_view s, size_t parts, const char* what) {
  std::vector<uint8_t> out;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    auto part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    CONFER_TRY(uint8_t v, parse_u8(part, what));
    out.push_back(v);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (out.size() != parts)
    return make_error(Errc::usage, fmt::format("{}: expected {} dot-separated numbers, saw '{}'",
                                               what, parts, s));
  return out;
}

constexpr std::string_view kTcbNames[] = {"bl", "tee", "snp", "ucode", "fmc"};

// The index in kTcbNames of a component's name, or -1.
int tcb_index(std::string_view name) {
  for (int i = 0; i < 5; ++i)
    if (kTcbNames[i] == name) return i;
  return -1;
}

uint8_t& tcb_component(Tcb& t, int index) {
  switch (index) {
    case 0: return t.bootloader;
    case 1: return t.tee;
    case 2: return t.snp;
    case 3: return t.microcode;
    default: return t.fmc;
  }
}

Result<const std::string*> string_value(const nlohmann::json& v, const std::string& key) {
  if (!v.is_string())
    return make_error(Errc::usage, fmt::format("policy: \"{}\" must be a string, saw {}", key,
                                               v.type_name()));
  return &v.get_ref<const std::string&>();
}

Result<bool> bool_value(const nlohmann::json& v, const std::string& key) {
  if (!v.is_boolean())
    return make_error(Errc::usage, fmt::format("policy: \"{}\" must be true or false, saw {}", key,
                                               dump_json(v)));
  return v.get<bool>();
}

}  // namespace

Result<std::array<uint8_t, 48>> parse_measurement_hex(std::string_view hex) {
  return fixed_hex<48>(hex, "SHA-384");
}

Result<Bytes> parse_report_data_hex(std::string_view hex) {
  if (hex.empty() || hex.size() > 128 || hex.size() % 2 != 0)
    return make_error(Errc::usage, fmt::format("expected an even number of hex digits, 2 to 128 (1 to 64 bytes), "
                                               "saw {}: {}", hex.size(), preview(hex)));
  return exact_hex(hex, hex.size(), "1 to 64 bytes");
}

Result<Tcb> parse_tcb_spec(std::string_view spec) {
  Tcb t;
  bool seen[5] = {};
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string_view item = spec.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                               : comma - start);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return make_error(Errc::usage, fmt::format("TCB: expected name=value such as bl=3, saw '{}'", item));
    std::string_view name = item.substr(0, eq);
    int index = tcb_index(name);
    if (index < 0)
      return make_error(Errc::usage, fmt::format("TCB: expected one of bl, tee, snp, ucode, fmc, "
                                                 "saw '{}'",
                                                 name));
    if (seen[index]) return make_error(Errc::usage, fmt::format("TCB: '{}' given twice", name));
    seen[index] = true;
    CONFER_TRY(tcb_component(t, index), parse_u8(item.substr(eq + 1), "TCB component"));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return t;
}

Result<std::pair<size_t, Register48>> parse_rtmr_spec(std::string_view spec) {
  size_t eq = spec.find('=');
  if (eq != 1 || spec[0] < '0' || spec[0] > '3')
    return make_error(Errc::usage, fmt::format("expected N=HEX with N an RTMR index 0-3, saw '{}'", preview(spec)));
  CONFER_TRY(auto value, parse_measurement_hex(spec.substr(2)));
  return std::pair<size_t, Register48>{size_t(spec[0] - '0'), value};
}

Result<TdxPolicy> parse_tdx_policy(const nlohmann::json& doc) {
  if (!doc.is_object()) return make_error(Errc::usage, "policy: \"tdx\" must be an object");
  TdxPolicy p;
  for (const auto& [key, v] : doc.items()) {
    if (key == "accepted_tcb_statuses") {
      if (!v.is_array() || v.empty())
        return make_error(Errc::usage, "policy: tdx.accepted_tcb_statuses must be a non-empty array of statuses");
      p.accepted_statuses.clear();
      for (const auto& s : v) {
        if (!s.is_string() || !is_tcb_status_name(s.get<std::string>()))
          return make_error(Errc::usage, fmt::format("policy: tdx.accepted_tcb_statuses: expected UpToDate, "
                                                     "SWHardeningNeeded, ConfigurationNeeded, "
                                                     "ConfigurationAndSWHardeningNeeded, OutOfDate, "
                                                     "OutOfDateConfigurationNeeded or Revoked, saw {}",
                                                     dump_json(s)));
        p.accepted_statuses.push_back(s.get<std::string>());
      }
    } else if (key == "min_tcb_evaluation_number") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > 1000000)
        return make_error(Errc::usage, "policy: tdx.min_tcb_evaluation_number must be a non-negative integer");
      p.min_tcb_evaluation_number = int64_t(v.get<uint64_t>());
    } else if (key == "mrseam") {
      std::vector<nlohmann::json> items = v.is_array() ? v.get<std::vector<nlohmann::json>>()
                                                       : std::vector<nlohmann::json>{v};
      for (const auto& item : items) {
        CONFER_TRY(const std::string* s, string_value(item, "tdx.mrseam"));
        CONFER_TRY(auto m, parse_measurement_hex(*s));
        p.mrseam_allowlist.push_back(m);
      }
    } else if (key == "mrtd") {
      CONFER_TRY(const std::string* s, string_value(v, "tdx.mrtd"));
      CONFER_TRY(p.mrtd, parse_measurement_hex(*s));
    } else if (key.size() == 5 && key.rfind("rtmr", 0) == 0 && key[4] >= '0' && key[4] <= '3') {
      CONFER_TRY(const std::string* s, string_value(v, "tdx." + key));
      CONFER_TRY(p.rtmr[size_t(key[4] - '0')], parse_measurement_hex(*s));
    } else if (key == "min_tee_tcb_svn") {
      CONFER_TRY(const std::string* s, string_value(v, "tdx.min_tee_tcb_svn"));
      CONFER_TRY(p.min_tee_tcb_svn, (fixed_hex<16>(*s, "policy: tdx.min_tee_tcb_svn")));
    } else if (key == "allow_nonzero_trailing_bytes") {
      CONFER_TRY(p.allow_nonzero_trailing, bool_value(v, "tdx.allow_nonzero_trailing_bytes"));
    } else {
      return make_error(Errc::usage, fmt::format("policy: unknown key \"tdx.{}\"", key));
    }
  }
  return p;
}

Result<SnpPolicy> parse_policy_json(std::string_view text) {
  auto parsed = parse_json(text, "policy", JsonLimits{}, Errc::usage);
  nlohmann::json doc = parsed ? std::move(parsed).value() : nlohmann::json();
  if (!doc.is_object())
    return make_error(Errc::usage, "policy: expected a JSON object");
  SnpPolicy p;
  for (const auto& [key, v] : doc.items()) {
    if (key == "vmpl") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > 3)
        return make_error(Errc::usage, fmt::format("policy: \"vmpl\" must be 0-3, saw {}", dump_json(v)));
      p.vmpl = v.get<uint32_t>();
    } else if (key == "allow_migrate_ma") {
      CONFER_TRY(p.allow_migrate_ma, bool_value(v, key));
    } else if (key == "allow_smt") {
      CONFER_TRY(p.allow_smt, bool_value(v, key));
    } else if (key == "require_single_socket") {
      CONFER_TRY(p.require_single_socket, bool_value(v, key));
    } else if (key == "min_tcb") {
      if (!v.is_object()) return make_error(Errc::usage, "policy: \"min_tcb\" must be an object");
      Tcb t;
      for (const auto& [name, n] : v.items()) {
        int index = tcb_index(name);
        if (index < 0)
          return make_error(Errc::usage, fmt::format("policy: min_tcb: expected bl, tee, snp, ucode "
                                                     "or fmc, saw \"{}\"",
                                                     name));
        if (!n.is_number_unsigned() || n.get<uint64_t>() > 255)
          return make_error(Errc::usage, fmt::format("policy: min_tcb.{} must be 0-255", name));
        tcb_component(t, index) = n.get<uint8_t>();
      }
      p.min_tcb = t;
    } else if (key == "min_abi") {
      CONFER_TRY(const std::string* s, string_value(v, key));
      CONFER_TRY(auto parts, dotted(*s, 2, "policy: min_abi"));
      p.min_abi = AbiVersion{parts[0], parts[1]};
    } else if (key == "min_firmware") {
      CONFER_TRY(const std::string* s, string_value(v, key));
      CONFER_TRY(auto parts, dotted(*s, 3, "policy: min_firmware"));
      p.min_firmware = FirmwareVersion{parts[0], parts[1], parts[2]};
    } else if (key == "measurements" || key == "measurement") {
      std::vector<nlohmann::json> items = v.is_array() ? v.get<std::vector<nlohmann::json>>()
                                                       : std::vector<nlohmann::json>{v};
      for (const auto& item : items) {
        CONFER_TRY(const std::string* s, string_value(item, key));
        CONFER_TRY(auto m, parse_measurement_hex(*s));
        p.measurements.push_back(m);
      }
    } else if (key == "report_data") {
      CONFER_TRY(const std::string* s, string_value(v, key));
      CONFER_TRY(p.report_data, parse_report_data_hex(*s));
    } else if (key == "host_data") {
      CONFER_TRY(const std::string* s, string_value(v, key));
      CONFER_TRY(p.host_data, (fixed_hex<32>(*s, "policy: host_data")));
    } else if (key == "id_key_digest") {
      CONFER_TRY(const std::string* s, string_value(v, key));
      CONFER_TRY(p.id_key_digest, (fixed_hex<48>(*s, "policy: id_key_digest")));
    } else if (key == "author_key_digest") {
      CONFER_TRY(const std::string* s, string_value(v, key));
      CONFER_TRY(p.author_key_digest, (fixed_hex<48>(*s, "policy: author_key_digest")));
    } else if (key == "tdx") {
      CONFER_TRY(p.tdx, parse_tdx_policy(v));
    } else if (key == "require_gpu") {
      CONFER_TRY(p.require_gpu, bool_value(v, key));
    } else if (key == "gpu_measurements") {
      auto m = parse_gpu_measurements_json(dump_json(nlohmann::json{{"measurements", v}}));
      if (!m) return make_error(Errc::usage, "policy: gpu_measurements: " + m.error().message);
      p.gpu_measurements = std::move(m).value();
    } else {
      return make_error(Errc::usage, fmt::format("policy: unknown key \"{}\"", key));
    }
  }
  return p;
}

}  // namespace confer::attest
