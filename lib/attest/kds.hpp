// AMD Key Distribution Service: where a VCEK comes from when the evidence lacks one.
#pragma once

#include <memory>
#include <string>

#include "attest/snp_report.hpp"

namespace confer::attest {

inline constexpr const char* kDefaultKdsUrl = "https://kdsintf.amd.com";

struct VcekRequest {
  Product product = Product::unknown;
  Bytes hwid;  // CHIP_ID (its first 8 bytes on Turin)
  Tcb tcb;     // REPORTED_TCB
};

// The request that fetches the VCEK for `report` (hwID = CHIP_ID, TCB = REPORTED_TCB).
Result<VcekRequest> vcek_request_for(const SnpReport& report, Product product);
// "/vcek/v1/Milan/<hwid>?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115" (Turin adds fmcSPL).
std::string vcek_path(const VcekRequest& req);
// Relative cache path: "kds/vcek/Milan/<hwid>-bl3-tee0-snp8-ucode115.der".
std::string vcek_cache_name(const VcekRequest& req);

// Fetches a URL; injectable so tests serve collateral from loopback or disk.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  [[nodiscard]] virtual Result<Bytes> get(const std::string& url) = 0;
};

// libcurl, with HTTPS_PROXY / NO_PROXY honoured, timeouts, and a response size cap.
std::unique_ptr<Fetcher> make_curl_fetcher();

}  // namespace confer::attest

namespace confer::attest {

struct VcekLookup {
  Bytes der;
  enum class Origin { cache, fetched } origin = Origin::cache;
  std::string url;         // when fetched
  std::string cache_path;  // where it was read from or written to
};

// The VCEK for `req`: from `cache_root` if there, else (unless `offline`) fetched from
// `kds_base_url` and cached atomically. A response that is not a DER certificate is
// neither returned nor cached. Caching is only a convenience: the VCEK is verified
// against the chain on every use.
Result<VcekLookup> find_or_fetch_vcek(const VcekRequest& req, const std::string& cache_root,
                                      const std::string& kds_base_url, bool offline,
                                      Fetcher& fetcher);

}  // namespace confer::attest
