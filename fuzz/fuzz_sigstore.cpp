// Sigstore parsers on untrusted bytes: the first byte picks the target, the rest is
// parsed as a bundle (then verified against an empty trusted root and with the
// checkpoint it carries), a checkpoint note, a trusted root, or a Merkle proof.
#include <string_view>

#include "sigstore/bundle.hpp"
#include "sigstore/checkpoint.hpp"
#include "sigstore/merkle.hpp"
#include "sigstore/trusted_root.hpp"
#include "sigstore/verify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  using namespace confer;
  using namespace confer::sigstore;
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ByteView rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto bundle = Bundle::parse(text);
      if (bundle) {
        TrustedRoot empty;
        auto v = verify_bundle(*bundle, rest, empty, Identity{"a@b.c", "https://issuer"}, UnixTime(1700000000));
        if (v && v->verified()) __builtin_trap();  // nothing verifies against an empty root
        for (const auto& e : bundle->tlog_entries)
          if (e.inclusion_proof && e.inclusion_proof->checkpoint) (void)Checkpoint::parse(*e.inclusion_proof->checkpoint);
        for (const auto& c : bundle->certificates) {
          (void)certificate_sans(c);
          (void)certificate_oidc_issuer(c);
        }
        if (bundle->dsse_envelope) (void)dsse_pae(bundle->dsse_envelope->payload_type, bundle->dsse_envelope->payload);
      }
      break;
    }
    case 1: {
      auto cp = Checkpoint::parse(text);
      if (cp) (void)verify_checkpoint(*cp, nullptr, ByteView(data, size < 4 ? size : 4));
      break;
    }
    case 2: (void)TrustedRoot::parse(text); break;
    default: {
      // [u8 index][u8 size][32-byte leaf][32-byte root][32-byte hashes...]
      if (rest.size() < 66) break;
      std::vector<Bytes> proof;
      for (size_t off = 66; off + 32 <= rest.size(); off += 32) proof.emplace_back(rest.begin() + off, rest.begin() + off + 32);
      (void)verify_inclusion(rest[0], rest[1], rest.subspan(2, 32), proof, rest.subspan(34, 32));
    }
  }
  return 0;
}
