// The pin is checked when the certificate is first loaded, and by tests/test_nvidia.cpp.
#include "attest/nvidia_roots.hpp"

#include <fmt/format.h>

namespace confer::attest {

namespace {

constexpr std::string_view kNvidiaDeviceIdentityCa = R"PEM(-----BEGIN CERTIFICATE-----
MIICCzCCAZCgAwIBAgIQLTZwscoQBBHB/sDoKgZbVDAKBggqhkjOPQQDAzA1MSIw
IAYDVQQDDBlOVklESUEgRGV2aWNlIElkZW50aXR5IENBMQ8wDQYDVQQKDAZOVklE
SUEwIBcNMjExMTA1MDAwMDAwWhgPOTk5OTEyMzEyMzU5NTlaMDUxIjAgBgNVBAMM
GU5WSURJQSBEZXZpY2UgSWRlbnRpdHkgQ0ExDzANBgNVBAoMBk5WSURJQTB2MBAG
ByqGSM49AgEGBSuBBAAiA2IABA5MFKM7+KViZljbQSlgfky/RRnEQScW9NDZF8SX
gAW96r6u/Ve8ZggtcYpPi2BS4VFu6KfEIrhN6FcHG7WP05W+oM+hxj7nyA1r1jkB
2Ry70YfThX3Ba1zOryOP+MJ9vaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFFeF/4PyY8xlfWi3Olv0jUrL+0lfMB8GA1UdIwQY
MBaAFFeF/4PyY8xlfWi3Olv0jUrL+0lfMAoGCCqGSM49BAMDA2kAMGYCMQCPeFM3
TASsKQVaT+8S0sO9u97PVGCpE9d/I42IT7k3UUOLSR/qvJynVOD1vQKVXf0CMQC+
EY55WYoDBvs2wPAH1Gw4LbcwUN8QCff8bFmV4ZxjCRr4WXTLFHBKjbfneGSBWwA=
-----END CERTIFICATE-----
)PEM";

}  // namespace

std::string_view nvidia_device_root_pem() noexcept { return kNvidiaDeviceIdentityCa; }

Result<crypto::Cert> nvidia_device_root() {
  static const Result<crypto::Cert> loaded = []() -> Result<crypto::Cert> {
    auto cert = crypto::Cert::from_der_or_pem(as_bytes(kNvidiaDeviceIdentityCa));
    if (!cert)
      return make_error(Errc::internal, "the compiled-in NVIDIA Device Identity CA does not parse: " +
                                            cert.error().message);
    std::string seen = cert->sha256_hex();
    if (seen != kNvidiaDeviceRootSha256)
      return make_error(Errc::internal, fmt::format("the compiled-in NVIDIA Device Identity CA has SHA-256 {}, "
                                                    "expected the pin {}",
                                                    seen, kNvidiaDeviceRootSha256));
    return std::move(cert).value();
  }();
  return loaded;
}

}  // namespace confer::attest
