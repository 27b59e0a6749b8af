// AMD VCEK/VLEK certificate extensions (VCEK Certificate and KDS Interface Spec,
// pub. 57230), under 1.3.6.1.4.1.3704.1.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attest/snp_report.hpp"
#include "crypto/x509.hpp"

namespace confer::attest {

struct VcekExtensions {
  std::optional<int64_t> struct_version;
  std::optional<std::string> product_name;  // "Milan-B0", "Genoa", "Turin", "Milan"
  std::optional<uint8_t> bl_spl, tee_spl, snp_spl, ucode_spl, fmc_spl;
  std::optional<Bytes> hwid;      // 64 bytes (8 on Turin); absent in a VLEK
  std::optional<std::string> csp_id;  // VLEK only

  // The TCB the certificate was issued for; error if a component the product needs is absent.
  Result<Tcb> tcb(Product product) const;
};

// One extension: dotted OID and the contents of its extnValue OCTET STRING.
using RawExtension = std::pair<std::string, Bytes>;

// Decodes AMD's extensions from (oid, value) pairs; other OIDs are ignored.
Result<VcekExtensions> parse_vcek_extensions(const std::vector<RawExtension>& extensions);
// Collects the extensions of a certificate and decodes them.
Result<VcekExtensions> parse_vcek_extensions(const crypto::Cert& cert);

// Value decoders, exposed for tests and fuzzing.
Result<int64_t> decode_der_integer(ByteView value);
Result<std::string> decode_der_ia5(ByteView value);
// hwID: raw 64 or 8 bytes (the KDS encoding), or the same inside a DER OCTET STRING.
Result<Bytes> decode_hwid(ByteView value);

inline constexpr const char* kAmdOidPrefix = "1.3.6.1.4.1.3704.1.";

}  // namespace confer::attest
