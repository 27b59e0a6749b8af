// Intel's Provisioning Certification Service (PCS, API v4): where a TDX quote's
// collateral comes from when neither the user nor the evidence gave it. Fetched with
// libcurl, cached under the cache directory in the collateral directory's own layout
// (so a cache entry is itself a valid --collateral DIR), and refetched once any piece is
// past its next update. Caching is only a convenience: every piece is verified on use.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attest/tdx_collateral.hpp"
#include "attest/tdx_quote.hpp"

namespace confer::attest {

inline constexpr const char* kDefaultPcsUrl = "https://api.trustedservices.intel.com";
inline constexpr const char* kIntelCertificatesUrl = "https://certificates.trustedservices.intel.com";

struct PcsResponse {
  long status = 0;
  Bytes body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// GETs a URL keeping the named response headers; injectable for tests.
class PcsFetcher {
 public:
  virtual ~PcsFetcher() = default;
  [[nodiscard]] virtual Result<PcsResponse> get(const std::string& url, const std::vector<std::string>& headers) = 0;
};
std::unique_ptr<PcsFetcher> make_curl_pcs_fetcher();

struct PcsLocation {
  std::string pcs_url = kDefaultPcsUrl;                 // /tdx/certification/v4/..., /sgx/certification/v4/pckcrl
  std::string certificates_url = kIntelCertificatesUrl;  // /IntelSGXRootCA.der (the root CA CRL)
};

struct TdxCollateralLookup {
  TdxCollateral collateral;
  enum class Origin { cache, fetched } origin = Origin::cache;
  std::string cache_dir;          // where it was read from or written to
  std::vector<std::string> urls;  // what was fetched
};

// The collateral for `quote`'s platform (its PCK's FMSPC and issuing CA): the cached
// copy when every piece is there and current at `at`; else, unless `offline`, fetched
// and cached (each file atomically). Offline, a stale cached copy is returned as it is
// (the verifier then names what is stale); none at all is Errc::network.
Result<TdxCollateralLookup> find_or_fetch_tdx_collateral(const TdxQuote& quote, UnixTime at,
                                                         const std::string& cache_root, const PcsLocation& where,
                                                         bool offline, PcsFetcher& fetcher);

// "%2D%2D%2D%2D%2DBEGIN..." as PCS sends issuer chains in headers.
Result<std::string> url_decode(std::string_view text);

}  // namespace confer::attest
