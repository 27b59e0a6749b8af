// AMD's SEV-SNP root (ARK) and intermediate (ASK, ASVK) certificates, compiled in.
// Source: AMD KDS /vcek/v1/{product}/cert_chain and /vlek/v1/{product}/cert_chain.
#pragma once

#include <string_view>

#include "attest/snp_report.hpp"
#include "crypto/x509.hpp"

namespace confer::attest {

struct AmdRootSet {
  Product product;
  std::string_view ark_pem;
  std::string_view ask_pem;
  std::string_view asvk_pem;
  std::string_view ark_sha256;  // pinned SHA-256 of the ARK's DER
};

// Null for Product::unknown.
const AmdRootSet* amd_roots(Product product) noexcept;

// The same certificates, parsed once per process (OpenSSL 3 key decoding is slow
// enough to double a verification if done per call). Null for Product::unknown.
struct AmdCerts {
  crypto::Cert ark, ask, asvk;
};
const AmdCerts* amd_certs(Product product);
// The product whose pinned ARK has this DER SHA-256, or unknown.
Product product_of_pinned_ark(std::string_view sha256_hex) noexcept;

}  // namespace confer::attest
