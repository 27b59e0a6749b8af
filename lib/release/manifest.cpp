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
  return m;
}

Check check_release(ByteView manifest, std::string_view bundle_json, const ReleaseTrust& trust,
                         ByteView measurement, UnixTime now) {
  const std::string name(kCheckReleaseManifest);
  std::string expected = fmt::format("a manifest signed by {} ({}) that lists measurement {}", trust.identity.san,
                                     trust.identity.issuer, to_hex(measurement));
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
  bool listed = false;
  for (const auto& m : parsed->snp_measurements) listed |= equal_ct(m, measurement);
  std::string release = fmt::format("image {}, proxy {}, Rekor log index {}", parsed->image_version.empty() ? "?" : parsed->image_version,
                                    parsed->proxy_version.empty() ? "?" : parsed->proxy_version, verdict->log_index);
  if (!listed)
    return failed(fmt::format("measurement not in the signed manifest ({}; it lists {} SEV-SNP measurement(s))",
                              release, parsed->snp_measurements.size()));
  return Check{name, CheckStatus::ok, expected, "listed in the signed manifest (" + release + ")", bundle_checks.all()};
}

}  // namespace confer::release
