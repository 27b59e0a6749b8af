// NVIDIA's GPU device-identity root, compiled in and pinned by the SHA-256 of its DER.
// Source: NVIDIA/nvtrust guest_tools/gpu_verifiers/local_gpu_verifier/src/verifier/certs/
// verifier_device_root.pem (ATTESTATION §4.2).
#pragma once

#include <string_view>

#include "crypto/x509.hpp"

namespace confer::attest {

inline constexpr std::string_view kNvidiaDeviceRootSha256 =
    "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48";

// "NVIDIA Device Identity CA" (ECDSA P-384, valid to 9999-12-31) as PEM.
std::string_view nvidia_device_root_pem() noexcept;

// The same certificate, parsed once per process and checked against the pin; an
// internal error when the compiled-in text does not parse or does not match it.
[[nodiscard]] Result<crypto::Cert> nvidia_device_root();

}  // namespace confer::attest
