#include "attest/kds.hpp"

#include <fmt/format.h>

#include "net/http.hpp"

namespace confer::attest {

Result<VcekRequest> vcek_request_for(const SnpReport& report, Product product) {
  if (product == Product::unknown)
    return make_error(Errc::usage, "KDS: the product line is unknown (a version 2 report), so no "
                                   "VCEK can be looked up; the certificate must be supplied");
  if (report.signing_key() != SigningKey::vcek)
    return make_error(Errc::usage, "KDS: only VCEKs can be fetched; a VLEK-signed report needs "
                                   "its VLEK supplied");
  if (all_zero(report.chip_id))
    return make_error(Errc::usage, "KDS: CHIP_ID is all zero (masked), so no VCEK can be looked up");
  VcekRequest req;
  req.product = product;
  size_t n = product == Product::turin ? 8 : 64;
  req.hwid.assign(report.chip_id.begin(), report.chip_id.begin() + n);
  req.tcb = decode_tcb(report.reported_tcb, product);
  return req;
}

std::string vcek_path(const VcekRequest& req) {
  std::string path = fmt::format("/vcek/v1/{}/{}?blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
                                 product_name(req.product), to_hex(req.hwid), req.tcb.bootloader,
                                 req.tcb.tee, req.tcb.snp, req.tcb.microcode);
  if (req.product == Product::turin) path += fmt::format("&fmcSPL={}", req.tcb.fmc);
  return path;
}

std::string vcek_cache_name(const VcekRequest& req) {
  std::string name = fmt::format("kds/vcek/{}/{}-bl{}-tee{}-snp{}-ucode{}", product_name(req.product),
                                 to_hex(req.hwid), req.tcb.bootloader, req.tcb.tee, req.tcb.snp,
                                 req.tcb.microcode);
  if (req.product == Product::turin) name += fmt::format("-fmc{}", req.tcb.fmc);
  return name + ".der";
}

namespace {

class CurlFetcher final : public Fetcher {
 public:
  Result<Bytes> get(const std::string& url) override {
    net::HttpRequest request;
    request.url = url;
    request.max_body = 64 * 1024;  // a certificate
    request.connect_timeout_s = 10;
    request.total_timeout_s = 30;
    request.max_redirects = 3;
    auto response = net::http_request(request);
    if (!response) return Error{response.error().code, "fetching " + response.error().message};
    if (response->status != 200)
      return make_error(Errc::network, fmt::format("fetching {}: expected HTTP 200, saw {}", url, response->status));
    return Bytes(response->body.begin(), response->body.end());
  }
};

}  // namespace

std::unique_ptr<Fetcher> make_curl_fetcher() { return std::make_unique<CurlFetcher>(); }

}  // namespace confer::attest

#include <filesystem>

#include "crypto/x509.hpp"

namespace confer::attest {

Result<VcekLookup> find_or_fetch_vcek(const VcekRequest& req, const std::string& cache_root,
                                      const std::string& kds_base_url, bool offline,
                                      Fetcher& fetcher) {
  namespace fs = std::filesystem;
  VcekLookup out;
  out.cache_path = (fs::path(cache_root) / vcek_cache_name(req)).string();
  std::error_code ec;
  if (fs::is_regular_file(out.cache_path, ec)) {
    auto cached = read_file(out.cache_path);
    // A damaged cache entry is replaced, not trusted or fatal.
    if (cached && crypto::Cert::from_der(*cached)) {
      out.der = std::move(cached).value();
      out.origin = VcekLookup::Origin::cache;
      return out;
    }
  }
  if (offline)
    return make_error(Errc::io, fmt::format("no VCEK: none was given, none is cached at {}, and "
                                            "fetching it from AMD KDS is turned off (offline)",
                                            out.cache_path));
  std::string base = kds_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  out.url = base + vcek_path(req);
  out.origin = VcekLookup::Origin::fetched;
  CONFER_TRY(out.der, fetcher.get(out.url));
  auto cert = crypto::Cert::from_der(out.der);
  if (!cert)
    return make_error(Errc::network, fmt::format("{} answered with {} bytes that are not a DER "
                                                 "certificate ({})",
                                                 out.url, out.der.size(), cert.error().message));
  fs::create_directories(fs::path(out.cache_path).parent_path(), ec);
  if (ec)
    return make_error(Errc::io, fmt::format("creating the cache directory for {}: {}",
                                            out.cache_path, ec.message()));
  CONFER_TRY_VOID(write_file_atomic(out.cache_path, out.der, 0644));
  return out;
}

}  // namespace confer::attest
