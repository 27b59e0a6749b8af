// RFC 6962 / RFC 9162 Merkle tree hashing and inclusion proofs (SHA-256).
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::sigstore {

// SHA-256(0x00 || data)
Bytes leaf_hash(ByteView data);
// SHA-256(0x01 || left || right)
Bytes node_hash(ByteView left, ByteView right);

// RFC 9162 §2.1.3.2. Fails (Errc::attestation) unless `proof` proves that `leaf_hash`
// sits at `leaf_index` in the tree of `tree_size` leaves whose root is `root`.
// Rejects a leaf hash or proof element that is not 32 bytes, tree size 0,
// index >= size and proofs that are too short or too long.
Result<void> verify_inclusion(uint64_t leaf_index, uint64_t tree_size, ByteView leaf_hash,
                              const std::vector<Bytes>& proof, ByteView root);

}  // namespace confer::sigstore
