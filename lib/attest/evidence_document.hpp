// The evidence JSON document, written once: what confer-server sends in Noise message 2
// and in answer to POST /v1/attestation, what `verify-attestation --save` and
// `dev-evidence` write, and what `verify-attestation --evidence` reads (DESIGN §3,
// CONFER-PROTOCOL §13).
//
//   {"platform": "SEV-SNP", "attestation": base64 report (or "dcap:" + base64 TDX quote),
//    "collateral": {"vcek": PEM or base64 DER, "chain": PEM ASK/ASVK then ARK}
//                  (TDX: {"tcb_info", "tcb_info_issuer_chain", "qe_identity", "qe_identity_issuer_chain",
//                         "pck_crl", "root_ca_crl"}),
//    "manifest": signed release manifest or null, "manifestBundle": its Sigstore bundle or null,
//    "channel": {"server_static_key": hex, "url": ..., "received_at": RFC 3339}}   (added when saved)
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"

namespace confer::attest {

struct SavedChannel {
  std::string server_static_key;  // hex, 32 bytes
  std::string url;
  std::string received_at;
};

struct EvidenceDocument {
  std::string platform = "SEV-SNP";      // empty when the document named none
  std::optional<std::string> attestation;
  std::optional<Bytes> azure_report;     // Azure vTPM evidence: "report" as an array of bytes
  std::optional<std::string> vcek;       // collateral
  std::optional<std::string> chain;
  // TDX collateral (Intel PCS), by the names of the collateral directory's files:
  // tcb_info, tcb_info_issuer_chain, qe_identity, qe_identity_issuer_chain (text),
  // pck_crl, root_ca_crl (PEM or base64 DER).
  std::map<std::string, std::string> intel;
  std::optional<std::string> manifest;   // the signed release manifest's exact text
  std::optional<std::string> manifest_bundle;
  std::optional<SavedChannel> channel;
  nlohmann::json extra = nlohmann::json::object();  // other top-level fields, kept as they came

  // Bounded (16 MiB, 64 deep). Errors (Errc::parse) name the field and what was seen.
  static Result<EvidenceDocument> parse(std::string_view text);
  // Never throws; indent as nlohmann's dump (-1: one line).
  std::string serialize(int indent = -1) const;
};

}  // namespace confer::attest
