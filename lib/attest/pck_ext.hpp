// The SGX extensions of an Intel PCK certificate (OID 1.2.840.113741.1.13.1,
// ATTESTATION §3.7): the platform's TCB (16 SGX component SVNs, PCESVN, CPUSVN),
// PCE-ID, FMSPC and SGX type, decoded from DER by hand with every length bounded.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "crypto/x509.hpp"

namespace confer::attest {

inline constexpr const char* kSgxExtensionsOid = "1.2.840.113741.1.13.1";

struct PckExtensions {
  std::array<uint8_t, 16> sgx_tcb{};  // SGX TCB component SVNs 1..16
  uint16_t pcesvn = 0;
  std::array<uint8_t, 16> cpusvn{};
  std::array<uint8_t, 2> pce_id{};
  std::array<uint8_t, 6> fmspc{};
  int sgx_type = 0;  // 0 standard, 1 scalable, 2 scalable with integrity
};

// The value of the SGX extensions (the extnValue's contents).
Result<PckExtensions> parse_pck_extensions(ByteView der);
Result<PckExtensions> parse_pck_extensions(const crypto::Cert& pck);

}  // namespace confer::attest
