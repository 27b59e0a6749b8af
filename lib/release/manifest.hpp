// The signed release manifest (CONFER-PROTOCOL §13) and what it vouches for. Confer's
// manifest lists tdxMeasurements; confer adds snpMeasurements: the SEV-SNP launch
// measurements (48 bytes, hex) of the release.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "sigstore/trusted_root.hpp"
#include "sigstore/verify.hpp"

namespace confer::release {

struct Manifest {
  std::string image_version;
  std::string proxy_version;
  std::vector<std::array<uint8_t, 48>> snp_measurements;
  // tdxMeasurements (tdx-measure's output): one object, or an array of them; each holds
  // some of mrtd, rtmr0, rtmr1, rtmr2 (Confer's image: rtmr1 and rtmr2).
  struct TdxReference {
    std::optional<std::array<uint8_t, 48>> mrtd;
    std::array<std::optional<std::array<uint8_t, 48>>, 3> rtmr;
  };
  std::vector<TdxReference> tdx_measurements;
};

// Parses the manifest JSON; unknown keys are ignored.
Result<Manifest> parse_manifest(ByteView bytes);

// Who may sign releases: the Sigstore trusted root and the signer's identity.
struct ReleaseTrust {
  sigstore::TrustedRoot root;
  sigstore::Identity identity;
};

inline constexpr std::string_view kCheckReleaseManifest = "release.manifest";

// The "release.manifest" check: the bundle verifies over the manifest's exact bytes
// with the pinned identity, then the measurement is one the manifest lists. The
// bundle's own checks are its children.
Check check_release(ByteView manifest, std::string_view bundle_json, const ReleaseTrust& trust,
                         ByteView measurement, UnixTime now);
// The same for a TD: some tdxMeasurements entry whose every value equals the TD's.
Check check_release_tdx(ByteView manifest, std::string_view bundle_json, const ReleaseTrust& trust,
                        const std::array<uint8_t, 48>& mrtd, const std::array<std::array<uint8_t, 48>, 4>& rtmr,
                        UnixTime now);

}  // namespace confer::release
