// The signed release manifest (CONFER-PROTOCOL §13) and what it vouches for. Confer's
// manifest lists tdxMeasurements; confer adds snpMeasurements: the SEV-SNP launch
// measurements (48 bytes, hex) of the release.
#pragma once

#include <array>
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
};

// Parses the manifest JSON; unknown keys are ignored (tdxMeasurements among them).
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

}  // namespace confer::release
