#include "release/manifest.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"

#include "sigstore/bundle.hpp"

namespace confer::release {

using nlohmann::json;

Result<Manifest> parse_manifest(ByteView bytes) {
  auto parsed_doc = parse_json(bytes, "manifest", {64 << 10, 16}, Errc::attestation);
  if (!parsed_doc) return std::move(parsed_doc).error();
  json& doc = *parsed_doc;
  if (!doc.is_object()) return make_error(Errc::attestation, "manifest: expected a JSON object");
  Manifest m;
  if (doc.contains("imageVersion") && doc["imageVersion"].is_string()) m.image_version = doc["imageVersion"].get<std::string>();
  if (doc.contains("proxyVersion") && doc["proxyVersion"].is_string()) m.proxy_version = doc["proxyVersion"].get<std::string>();
  if (doc.contains("snpMeasurements")) {
    const auto& list = doc["snpMeasurements"];
    if (!list.is_array()) return make_error(Errc::attestation, "manifest: snpMeasurements must be an array");
    for (const auto& item : list) {
      auto bytes_or = item.is_string() ? from_hex(item.get_ref<const std::string&>()) : Result<Bytes>(make_error(Errc::parse, ""));
      if (!bytes_or || bytes_or->size() != 48)
        return make_error(Errc::attestation, "manifest: each snpMeasurements entry must be 96 hex digits");
      std::array<uint8_t, 48> a{};
      std::copy(bytes_or->begin(), bytes_or->end(), a.begin());
      m.snp_measurements.push_back(a);
    }
  }
  if (doc.contains("tdxMeasurements")) {
    const auto& t = doc["tdxMeasurements"];
    std::vector<nlohmann::json> items = t.is_array() ? t.get<std::vector<nlohmann::json>>() : std::vector<nlohmann::json>{t};
    if (items.size() > 64) return make_error(Errc::attestation, "manifest: more than 64 tdxMeasurements entries");
    for (const auto& item : items) {
      if (!item.is_object()) return make_error(Errc::attestation, "manifest: tdxMeasurements must be an object (or an array of them)");
      Manifest::TdxReference ref;
      for (const auto& [key, value] : item.items()) {
        auto bytes_or = value.is_string() ? from_hex(value.get_ref<const std::string&>()) : Result<Bytes>(make_error(Errc::parse, ""));
        if (!bytes_or || bytes_or->size() != 48)
          return make_error(Errc::attestation, fmt::format("manifest: tdxMeasurements.{} must be 96 hex digits", key.substr(0, 40)));
        std::array<uint8_t, 48> a{};
        std::copy(bytes_or->begin(), bytes_or->end(), a.begin());
        if (key == "mrtd") ref.mrtd = a;
        else if (key == "rtmr0") ref.rtmr[0] = a;
        else if (key == "rtmr1") ref.rtmr[1] = a;
        else if (key == "rtmr2") ref.rtmr[2] = a;
        // other registers (rtmr3, ...) are not measured at release: ignored
      }
      m.tdx_measurements.push_back(ref);
    }
  }
  return m;
}

namespace {

// The bundle verifies over the manifest's exact bytes with the pinned identity, then
// `judge` says whether the parsed manifest lists what the evidence measured.
template <typename Judge>
Check check_signed(ByteView manifest, std::string_view bundle_json, const ReleaseTrust& trust, UnixTime now,
                   std::string expected, Judge judge) {
  const std::string name(kCheckReleaseManifest);
  CheckList bundle_checks;
  auto failed = [&](std::string seen) {
    return Check{name, CheckStatus::failed, expected, std::move(seen), bundle_checks.all()};
  };
  auto bundle = sigstore::Bundle::parse(bundle_json);
  if (!bundle) return failed("a Sigstore bundle that does not parse: " + bundle.error().message);
  auto verdict = sigstore::verify_bundle(*bundle, manifest, trust.root, trust.identity, now);
  if (!verdict) return failed("bundle verification failed: " + verdict.error().message);
  bundle_checks = verdict->checks;
  if (const Check* f = verdict->first_failure())
    return failed(fmt::format("the manifest's Sigstore bundle fails {}: expected {}, seen {}", f->name, f->expected, f->seen));
  auto parsed = parse_manifest(manifest);
  if (!parsed) return failed(parsed.error().message);
  std::string release = fmt::format("image {}, proxy {}, Rekor log index {}", parsed->image_version.empty() ? "?" : parsed->image_version,
                                    parsed->proxy_version.empty() ? "?" : parsed->proxy_version, verdict->log_index);
  std::string why_not = judge(*parsed);
  if (!why_not.empty()) return failed(fmt::format("{} ({})", why_not, release));
  return Check{name, CheckStatus::ok, expected, "listed in the signed manifest (" + release + ")", bundle_checks.all()};
}

}  // namespace

Check check_release(ByteView manifest, std::string_view bundle_json, const ReleaseTrust& trust,
                         ByteView measurement, UnixTime now) {
  std::string expected = fmt::format("a manifest signed by {} ({}) that lists measurement {}", trust.identity.san,
                                     trust.identity.issuer, to_hex(measurement));
  return check_signed(manifest, bundle_json, trust, now, expected, [&](const Manifest& m) -> std::string {
    for (const auto& listed : m.snp_measurements)
      if (equal_ct(listed, measurement)) return "";
    return fmt::format("measurement not in the signed manifest; it lists {} SEV-SNP measurement(s)",
                       m.snp_measurements.size());
  });
}

Check check_release_tdx(ByteView manifest, std::string_view bundle_json, const ReleaseTrust& trust,
                        const std::array<uint8_t, 48>& mrtd, const std::array<std::array<uint8_t, 48>, 4>& rtmr,
                        UnixTime now) {
  std::string expected = fmt::format("a manifest signed by {} ({}) whose tdxMeasurements match the TD's (RTMR1 {}..., "
                                     "RTMR2 {}...)",
                                     trust.identity.san, trust.identity.issuer, to_hex(rtmr[1]).substr(0, 16),
                                     to_hex(rtmr[2]).substr(0, 16));
  return check_signed(manifest, bundle_json, trust, now, expected, [&](const Manifest& m) -> std::string {
    for (const auto& ref : m.tdx_measurements) {
      bool any = ref.mrtd.has_value();
      bool ok = !ref.mrtd || equal_ct(*ref.mrtd, mrtd);
      for (size_t k = 0; k < 3; ++k) {
        any |= ref.rtmr[k].has_value();
        ok = ok && (!ref.rtmr[k] || equal_ct(*ref.rtmr[k], rtmr[k]));
      }
      if (any && ok) return "";
    }
    return fmt::format("the TD's registers are not in the signed manifest; it lists {} TDX measurement set(s)",
                       m.tdx_measurements.size());
  });
}

}  // namespace confer::release
