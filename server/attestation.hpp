// Where confer-server's evidence comes from: the kernel's configfs-tsm interface on real
// hardware, or the development provider (a local chain that clients refuse unless told).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/bytes.hpp"

namespace confer::server {

struct ReleaseManifest {
  std::string manifest;  // exact bytes of the signed manifest
  std::string bundle;    // its Sigstore bundle JSON
};

class AttestationProvider {
 public:
  virtual ~AttestationProvider() = default;
  // The message-2 / POST /v1/attestation JSON for this report_data (64 bytes):
  // {"platform", "attestation", "manifest", "manifestBundle", "collateral"}.
  [[nodiscard]] virtual Result<std::string> evidence(ByteView report_data) = 0;
  virtual std::string describe() const = 0;
  // How long message 2's evidence may be reused before it is made again (0: for the
  // process's life). Intel Trust Authority tokens expire in minutes; collateral monthly.
  virtual int64_t evidence_lifetime_s() const { return 0; }
};

// Development: a fresh chain for `product` ("milan", "genoa", "turin") whose root is
// written to `dev_root_path`; reports carry `measurement` (48 bytes).
Result<std::unique_ptr<AttestationProvider>> make_dev_provider(const std::string& product,
                                                               const std::string& dev_root_path,
                                                               ByteView measurement,
                                                               std::optional<ReleaseManifest> manifest);
// configfs-tsm under `root` (default /sys/kernel/config/tsm/report).
struct TsmOptions {
  // TDX: a collateral directory, re-read for every quote (an operator's monthly refresh
  // needs no restart), sent beside the quote so clients verify offline.
  std::string tdx_collateral;
  // TDX: an Intel Trust Authority base URL; each quote is appraised there (POST
  // /appraisal/v1/attest) and its token sent instead of the quote.
  std::string ita_url;
  std::string ita_api_key;  // never logged
};
std::unique_ptr<AttestationProvider> make_tsm_provider(const std::string& root,
                                                       std::optional<ReleaseManifest> manifest,
                                                       TsmOptions options = {});

// The SEV-SNP certificate table in configfs-tsm's auxblob: 24-byte entries (GUID,
// u32 offset, u32 length) ending with an all-zero GUID, then the DER certificates.
struct CertTable {
  std::optional<Bytes> vcek;  // or the VLEK
  std::optional<Bytes> ask;   // or the ASVK
  std::optional<Bytes> ark;
};
Result<CertTable> parse_cert_table(ByteView auxblob);
// The inverse, for tests and the development provider.
Bytes make_cert_table(const CertTable& table);

}  // namespace confer::server
