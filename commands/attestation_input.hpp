// Turning evidence plus flags into what the verifier takes: the signing certificate
// (--vcek, the evidence's collateral, the cache, or AMD KDS) and the chain. Shared by
// verify-attestation and chat.
#pragma once

#include <optional>
#include <string>

#include "attest/evidence.hpp"
#include "attest/snp_verify.hpp"
#include "release/manifest.hpp"

namespace confer::cli {

struct CollateralFlags {
  std::string vcek;   // --vcek FILE, or empty
  std::string chain;  // --chain FILE, or empty
  bool offline = false;
};

// Either an input ready to verify, or a verification already refused because collateral
// did not parse (a named check), or an error (I/O, network: no verdict possible).
struct AssembledInput {
  std::optional<attest::SnpInput> input;
  std::optional<attest::SnpVerification> refused;
};

Result<AssembledInput> assemble_input(const attest::Evidence& evidence, const CollateralFlags& flags, UnixTime at);

// A verification holding one failed check (for input that never reached the verifier).
attest::SnpVerification refused_at(const std::string& check, const std::string& expected, const std::string& seen,
                             UnixTime at);

// The hint that goes with a refusal.
std::string hint_for(const Check& check);

Result<std::vector<crypto::Cert>> load_trust_roots(const std::vector<std::string>& paths);

inline constexpr const char* kDefaultReleaseIssuer = "https://accounts.google.com";
// Who signs releases, from --sigstore-root FILE and --release-identity SAN (both or
// neither) and --release-issuer URL. Empty when neither is given.
Result<std::optional<release::ReleaseTrust>> load_release_trust(const std::string& sigstore_root,
                                                                const std::string& identity,
                                                                const std::string& issuer);

}  // namespace confer::cli
