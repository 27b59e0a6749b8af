// A development NVIDIA GPU authority, for tests: a locally generated ECDSA P-384 chain of
// the shape a Hopper GPU returns (root, one intermediate, a leaf with the DICE FWID
// extension) and SPDM 1.1 GET_MEASUREMENTS reports signed by the leaf. Verifiers accept
// them only when told to trust its root, and then say that the root is not NVIDIA's.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "attest/gpu_verify.hpp"
#include "attest/spdm.hpp"
#include "core/time.hpp"
#include "crypto/x509.hpp"
#include "dev/snp_authority.hpp"

namespace confer::dev {

struct DevGpuLeafSpec {
  Bytes fwid;  // the FWID in the leaf's DICE extension (48 bytes on Hopper)
  // NVIDIA's leaves use the composite-device-ID layout; tcb_info builds TCG's DiceTcbInfo.
  attest::DiceLayout layout = attest::DiceLayout::composite_device_id;
  bool dice_extension = true;  // false: a leaf without the extension
  UnixTime not_before = 0;     // both 0: from a day ago to seven years ahead
  UnixTime not_after = 0;
};

class DevGpuAuthority {
 public:
  // Generates the root and the intermediate (P-384: milliseconds).
  static Result<DevGpuAuthority> create();

  const crypto::Cert& root() const noexcept { return root_; }
  const crypto::Cert& intermediate() const noexcept { return intermediate_; }

  Result<DevSigner> issue_leaf(const DevGpuLeafSpec& spec) const;
  // Leaf, intermediate, root, as the GPU returns its chain.
  std::string chain_pem(const crypto::Cert& leaf) const;

 private:
  crypto::Cert root_, intermediate_;
  crypto::PkeyPtr root_key_, intermediate_key_;
};

struct DevSpdmSpec {
  std::array<uint8_t, attest::kSpdmNonceSize> nonce{};  // the request (verifier's) nonce
  std::array<uint8_t, attest::kSpdmNonceSize> responder_nonce{};
  std::vector<attest::MeasurementBlock> blocks;
  std::string driver_version;  // opaque field 3 (a NUL is appended); empty: omitted
  Bytes vbios;                 // opaque field 6 (8 bytes); empty: omitted
  Bytes fwid;                  // opaque field 20; empty: omitted
  std::vector<attest::OpaqueField> extra_opaque;  // after those three
};

// `blocks` DMTF blocks (indices 1..n, type 1, random 48-byte digests), random nonces and
// FWID, driver "550.90.07", VBIOS 96.00.9F.00.01.
DevSpdmSpec dev_spdm_template(size_t blocks = 64);

// request || response, signed by `leaf_key` (ECDSA P-384, SHA-384, raw r || s).
Result<Bytes> build_spdm_report(const DevSpdmSpec& spec, EVP_PKEY* leaf_key);

}  // namespace confer::dev
