// What the SEV-SNP verifier takes, assembled from evidence and collateral: the signing
// certificate (a file the caller read > the evidence's collateral > the cache > AMD KDS)
// and the chain. Returns where each piece came from; the caller decides what to say.
#pragma once

#include <optional>
#include <string>

#include "attest/evidence.hpp"
#include "attest/kds.hpp"
#include "attest/snp_verify.hpp"

namespace confer::client {

// Bytes the caller supplied (e.g. read from a file it was told to use) and a label for them.
struct SuppliedCollateral {
  std::optional<Bytes> bytes;
  std::string label;  // e.g. the file's path
};

struct CollateralRequest {
  SuppliedCollateral vcek;   // wins over the evidence's own VCEK
  SuppliedCollateral chain;  // wins over the evidence's own chain
  bool offline = false;      // never fetch
  std::string cache_root;    // where fetched VCEKs are cached ("" = no cache, fetch only)
  std::string kds_url = attest::kDefaultKdsUrl;
  attest::Fetcher* fetcher = nullptr;  // null: libcurl
};

enum class CollateralOrigin { none, supplied, evidence, cache, kds, pcs_cache, pcs };
const char* collateral_origin_name(CollateralOrigin o) noexcept;

struct CollateralSource {
  CollateralOrigin origin = CollateralOrigin::none;
  std::string where;  // the supplied label, the cache path, or the KDS URL
};

// Either an input ready to verify, or a verification already refused because collateral
// did not parse (a named check). An error is no verdict at all (I/O, network).
struct AssembledInput {
  std::optional<attest::SnpInput> input;
  std::optional<attest::SnpVerification> refused;
  CollateralSource vcek;
  CollateralSource chain;
};

Result<AssembledInput> assemble_input(const attest::Evidence& evidence, const CollateralRequest& request, UnixTime at);

// A verification holding one failed check (for input that never reached the verifier).
attest::SnpVerification refused_at(std::string_view check, std::string expected, std::string seen, UnixTime at);

}  // namespace confer::client
