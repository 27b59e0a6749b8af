#include "attest/pcs.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "attest/pck_ext.hpp"
#include "attest/tdx_verify.hpp"
#include "crypto/x509.hpp"
#include "net/http.hpp"

namespace confer::attest {

namespace fs = std::filesystem;

namespace {

class CurlPcsFetcher final : public PcsFetcher {
 public:
  Result<PcsResponse> get(const std::string& url, const std::vector<std::string>& headers) override {
    net::HttpRequest request;
    request.url = url;
    request.max_body = 4u << 20;  // CRLs with many entries
    request.connect_timeout_s = 10;
    request.total_timeout_s = 60;
    request.max_redirects = 3;
    request.keep_headers = headers;
    CONFER_TRY(net::HttpResponse response, net::http_request(request));
    PcsResponse out;
    out.status = response.status;
    out.body.assign(response.body.begin(), response.body.end());
    out.headers = std::move(response.headers);
    return out;
  }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether every piece of `c` is current at `at` (parsed loosely: the verifier is the judge).
bool current(const TdxCollateral& c, UnixTime at) {
  if (!c.tcb_info || !c.tcb_info_chain || !c.qe_identity || !c.qe_identity_chain || !c.pck_crl || !c.root_crl)
    return false;
  auto info = parse_tcb_info(*c.tcb_info);
  auto qe = parse_qe_identity(*c.qe_identity);
  auto pck = crypto::Crl::from_der_or_pem(*c.pck_crl);
  auto root = crypto::Crl::from_der_or_pem(*c.root_crl);
  if (!info || !qe || !pck || !root) return false;
  return at <= info->next_update && at <= qe->next_update && at <= pck->next_update() && at <= root->next_update();
}

// `chain_headers`: the issuer chain's header names, current first (PCS v4, then v3).
Result<Bytes> fetch(PcsFetcher& fetcher, const std::string& url, std::vector<std::string> chain_headers,
                    std::string* chain, std::vector<std::string>& urls) {
  CONFER_TRY(PcsResponse r, fetcher.get(url, chain_headers));
  urls.push_back(url);
  if (r.status != 200)
    return make_error(Errc::network, fmt::format("fetching {}: expected HTTP 200, saw {}", url, r.status));
  if (chain != nullptr) {
    for (const auto& name : chain_headers) {
      auto it = r.headers.find(name);
      if (it == r.headers.end()) continue;
      CONFER_TRY(*chain, url_decode(it->second));
      return std::move(r.body);
    }
    return make_error(Errc::network, fmt::format("fetching {}: expected the {} header, saw none", url, chain_headers[0]));
  }
  return std::move(r.body);
}

}  // namespace

std::unique_ptr<PcsFetcher> make_curl_pcs_fetcher() { return std::make_unique<CurlPcsFetcher>(); }

Result<std::string> url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) return make_error(Errc::parse, fmt::format("URL-encoded text: a bad escape at {}", i));
    out.push_back(char(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<TdxCollateralLookup> find_or_fetch_tdx_collateral(const TdxQuote& quote, UnixTime at,
                                                         const std::string& cache_root, const PcsLocation& where,
                                                         bool offline, PcsFetcher& fetcher) {
  CONFER_TRY(auto certs, crypto::Cert::all_from_pem(quote.pck_chain_pem));
  if (certs.size() < 2) return make_error(Errc::parse, "TDX quote: expected a PCK chain of PCK and CA");
  CONFER_TRY(PckExtensions ext, parse_pck_extensions(certs[0]));
  std::string issuer = certs[1].subject_cn();
  std::string ca = issuer.find("Processor") != std::string::npos ? "processor" : "platform";
  std::string fmspc = to_hex(ext.fmspc);
  TdxCollateralLookup out;
  out.cache_dir = (fs::path(cache_root) / "pcs" / "tdx" / (fmspc + "-" + ca)).string();
  std::error_code ec;
  if (!cache_root.empty() && fs::is_directory(out.cache_dir, ec)) {
    auto cached = read_tdx_collateral_dir(out.cache_dir);
    if (cached && (offline || current(*cached, at))) {
      out.collateral = std::move(cached).value();
      out.origin = TdxCollateralLookup::Origin::cache;
      return out;
    }
  }
  if (offline)
    return make_error(Errc::network, fmt::format("no cached Intel collateral for FMSPC {} and fetching is off "
                                                 "(--offline)",
                                                 fmspc));
  std::string tcb_chain, qe_chain;
  CONFER_TRY(Bytes tcb, fetch(fetcher, where.pcs_url + "/tdx/certification/v4/tcb?fmspc=" + fmspc,
                              {"tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain"}, &tcb_chain, out.urls));
  CONFER_TRY(Bytes qe, fetch(fetcher, where.pcs_url + "/tdx/certification/v4/qe/identity",
                             {"sgx-enclave-identity-issuer-chain"}, &qe_chain, out.urls));
  CONFER_TRY(Bytes pck_crl, fetch(fetcher, where.pcs_url + "/sgx/certification/v4/pckcrl?ca=" + ca + "&encoding=der",
                                  {}, nullptr, out.urls));
  CONFER_TRY(Bytes root_crl, fetch(fetcher, where.certificates_url + "/IntelSGXRootCA.der", {}, nullptr, out.urls));
  TdxCollateral& c = out.collateral;
  c.tcb_info = std::string(tcb.begin(), tcb.end());
  c.tcb_info_chain = Bytes(tcb_chain.begin(), tcb_chain.end());
  c.qe_identity = std::string(qe.begin(), qe.end());
  c.qe_identity_chain = Bytes(qe_chain.begin(), qe_chain.end());
  c.pck_crl = std::move(pck_crl);
  c.root_crl = std::move(root_crl);
  // Only collateral that parses is cached (what it says is judged on every use).
  if (auto t = parse_tcb_info(*c.tcb_info); !t) return make_error(Errc::network, "PCS sent TCB info that does not parse: " + t.error().message);
  if (auto q = parse_qe_identity(*c.qe_identity); !q) return make_error(Errc::network, "PCS sent a QE identity that does not parse: " + q.error().message);
  out.origin = TdxCollateralLookup::Origin::fetched;
  if (!cache_root.empty()) {
    fs::create_directories(out.cache_dir, ec);
    if (!ec) {
      auto put = [&](const char* name, ByteView bytes) { (void)write_file_atomic(out.cache_dir + "/" + name, bytes); };
      put("tcb_info.json", as_bytes(*c.tcb_info));
      put("tcb_info_issuer_chain.pem", *c.tcb_info_chain);
      put("qe_identity.json", as_bytes(*c.qe_identity));
      put("qe_identity_issuer_chain.pem", *c.qe_identity_chain);
      put("pck_crl.der", *c.pck_crl);
      put("root_ca_crl.der", *c.root_crl);
    }
  }
  return out;
}

}  // namespace confer::attest
