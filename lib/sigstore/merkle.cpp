#include "sigstore/merkle.hpp"

#include <openssl/sha.h>

#include <fmt/format.h>

namespace confer::sigstore {

namespace {

Bytes prefixed_sha256(uint8_t prefix, ByteView a, ByteView b) {
  Bytes buf;
  buf.reserve(1 + a.size() + b.size());
  buf.push_back(prefix);
  buf.insert(buf.end(), a.begin(), a.end());
  buf.insert(buf.end(), b.begin(), b.end());
  Bytes out(SHA256_DIGEST_LENGTH);
  SHA256(buf.data(), buf.size(), out.data());
  return out;
}

constexpr size_t kHashSize = 32;

}  // namespace

Bytes leaf_hash(ByteView data) { return prefixed_sha256(0x00, data, {}); }

Bytes node_hash(ByteView left, ByteView right) { return prefixed_sha256(0x01, left, right); }

Result<void> verify_inclusion(uint64_t leaf_index, uint64_t tree_size, ByteView leaf,
                              const std::vector<Bytes>& proof, ByteView root) {
  if (tree_size == 0)
    return make_error(Errc::attestation, "inclusion proof: expected a tree size > 0, saw 0");
  if (leaf_index >= tree_size)
    return make_error(Errc::attestation,
                      fmt::format("inclusion proof: expected leaf index < tree size {}, saw {}",
                                  tree_size, leaf_index));
  if (leaf.size() != kHashSize)
    return make_error(Errc::attestation,
                      fmt::format("inclusion proof: expected a 32-byte leaf hash, saw {} bytes",
                                  leaf.size()));
  if (root.size() != kHashSize)
    return make_error(Errc::attestation,
                      fmt::format("inclusion proof: expected a 32-byte root hash, saw {} bytes",
                                  root.size()));
  // The proof length is fixed by (index, size): the path length below the split
  // point plus one per right-border level above it.
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Bytes r(leaf.begin(), leaf.end());
  for (size_t i = 0; i < proof.size(); ++i) {
    const Bytes& p = proof[i];
    if (p.size() != kHashSize)
      return make_error(Errc::attestation,
                        fmt::format("inclusion proof: expected 32-byte hashes, element {} has {} bytes",
                                    i, p.size()));
    if (sn == 0)
      return make_error(Errc::attestation,
                        fmt::format("inclusion proof: too long, expected at most {} hashes, saw {}", i,
                                    proof.size()));
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return make_error(Errc::attestation,
                      fmt::format("inclusion proof: too short, {} hashes do not reach the root of a "
                                  "tree of size {}",
                                  proof.size(), tree_size));
  if (!equal_ct(r, root))
    return make_error(Errc::attestation,
                      fmt::format("inclusion proof: expected root {}, computed {}", to_hex(root),
                                  to_hex(r)));
  return {};
}

}  // namespace confer::sigstore
