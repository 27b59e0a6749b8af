// Intel's SGX Root CA, compiled in and pinned: the root every TDX PCK chain, TCB
// Signing chain and CRL chain must end at. Source: Intel's published
// IntelSGXRootCA.der (also the root every DCAP quote carries).
#pragma once

#include <string_view>

#include "crypto/x509.hpp"

namespace confer::attest {

inline constexpr std::string_view kIntelSgxRootSha256 =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

std::string_view intel_sgx_root_pem() noexcept;
// Parsed once per process; its SHA-256 is checked against the pin when first parsed.
const crypto::Cert& intel_sgx_root();

}  // namespace confer::attest
