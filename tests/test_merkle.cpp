// RFC 6962 / RFC 9162 Merkle hashing and inclusion proofs.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "sigstore/merkle.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::sigstore;
using nlohmann::json;

namespace {

Bytes hex(const std::string& s) {
  auto b = from_hex(s);
  REQUIRE(b.ok());
  return *b;
}

Bytes b64(const std::string& s) {
  if (s.empty()) return {};
  auto b = from_base64(s);
  REQUIRE_MESSAGE(b.ok(), s);
  return *b;
}

// Reference MTH and PATH (RFC 6962 §2.1) computed recursively.
uint64_t split_point(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Bytes mth(const std::vector<Bytes>& leaves, uint64_t lo, uint64_t hi) {
  if (hi - lo == 1) return leaf_hash(leaves[lo]);
  uint64_t k = split_point(hi - lo);
  return node_hash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

void path(const std::vector<Bytes>& leaves, uint64_t m, uint64_t lo, uint64_t hi, std::vector<Bytes>& out) {
  if (hi - lo <= 1) return;
  uint64_t k = split_point(hi - lo);
  if (m < k) {
    path(leaves, m, lo, lo + k, out);
    out.push_back(mth(leaves, lo + k, hi));
  } else {
    path(leaves, m - k, lo + k, hi, out);
    out.push_back(mth(leaves, lo, lo + k));
  }
}

}  // namespace

TEST_CASE("merkle: RFC 6962 hashing vectors") {
  if (!test::have_vectors()) return;
  auto raw = test::vector_file("merkle/rfc6962-basic.json");
  json j = json::parse(raw.begin(), raw.end());
  CHECK(to_hex(crypto::sha256({})) == j["empty_root"].get<std::string>());
  CHECK(to_hex(leaf_hash({})) == j["leaf_hash_empty"].get<std::string>());
  CHECK(to_hex(leaf_hash(as_bytes("L123456"))) == j["leaf_hash_L123456"].get<std::string>());
  CHECK(to_hex(node_hash(as_bytes("N123"), as_bytes("N456"))) == j["node_hash_N123_N456"].get<std::string>());

  std::vector<Bytes> leaves;
  for (const auto& l : j["ct_reference_tree"]["leaves_hex"]) leaves.push_back(hex(l.get<std::string>()));
  const auto& roots = j["ct_reference_tree"]["roots"];
  REQUIRE(roots.size() == leaves.size());
  REQUIRE(leaves.size() == 8);
  int proofs = 0;
  for (uint64_t size = 1; size <= leaves.size(); ++size) {
    Bytes root = mth(leaves, 0, size);
    CHECK(to_hex(root) == roots[size - 1].get<std::string>());
    for (uint64_t i = 0; i < size; ++i) {
      std::vector<Bytes> proof;
      path(leaves, i, 0, size, proof);
      Bytes lh = leaf_hash(leaves[i]);
      CHECK_MESSAGE(verify_inclusion(i, size, lh, proof, root).ok(), "index ", i, " size ", size);
      // Wrong index, wrong size, truncated and extended proofs, flipped bits: all refused.
      if (size > 1) CHECK_FALSE(verify_inclusion((i + 1) % size, size, lh, proof, root).ok());
      // (A larger size can share the proof's shape: the checkpoint binds the size.)
      if (size < 8) CHECK_FALSE(verify_inclusion(i, size + 1, lh, proof, mth(leaves, 0, size + 1)).ok());
      if (!proof.empty()) {
        auto shorter = proof;
        shorter.pop_back();
        CHECK_FALSE(verify_inclusion(i, size, lh, shorter, root).ok());
        auto flipped = proof;
        flipped[0][5] ^= 0x01;
        CHECK_FALSE(verify_inclusion(i, size, lh, flipped, root).ok());
      }
      auto longer = proof;
      longer.push_back(root);
      CHECK_FALSE(verify_inclusion(i, size, lh, longer, root).ok());
      ++proofs;
    }
  }
  CHECK(proofs == 36);
  // Structural refusals.
  Bytes l0 = leaf_hash(leaves[0]);
  CHECK_FALSE(verify_inclusion(0, 0, l0, {}, l0).ok());
  CHECK_FALSE(verify_inclusion(1, 1, l0, {}, l0).ok());
  CHECK(verify_inclusion(0, 1, l0, {}, l0).ok());
  CHECK_FALSE(verify_inclusion(0, 1, Bytes(31, 0), {}, Bytes(31, 0)).ok());
  CHECK_FALSE(verify_inclusion(0, 1, Bytes{}, {}, Bytes{}).ok());
}

TEST_CASE("merkle: transparency-dev inclusion vectors") {
  if (!test::have_vectors()) return;
  namespace fs = std::filesystem;
  fs::path dir = fs::path(test::vectors_dir()) / "merkle" / "transparency-dev-testdata" / "inclusion";
  REQUIRE(fs::is_directory(dir));
  int total = 0, want_ok = 0, want_err = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    auto raw = read_file(e.path().string());
    REQUIRE(raw.ok());
    json j = json::parse(raw->begin(), raw->end(), nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), e.path().string());
    std::vector<Bytes> proof;
    if (j["proof"].is_array())
      for (const auto& p : j["proof"]) proof.push_back(b64(p.is_string() ? p.get<std::string>() : ""));
    int64_t idx = j["leafIdx"].get<int64_t>();
    int64_t size = j["treeSize"].get<int64_t>();
    bool want_error = j["wantErr"].get<bool>();
    ++total;
    (want_error ? want_err : want_ok)++;
    if (idx < 0 || size < 0) {  // unrepresentable in the uint64_t API: refused by type
      CHECK_MESSAGE(want_error, e.path().string());
      continue;
    }
    auto r = verify_inclusion(uint64_t(idx), uint64_t(size), b64(j["leafHash"].get<std::string>()), proof,
                              b64(j["root"].get<std::string>()));
    CHECK_MESSAGE(r.ok() == !want_error, e.path().string(), " ", j["desc"].get<std::string>(),
                  r.ok() ? "" : " error: " + r.error().message);
  }
  MESSAGE("transparency-dev inclusion cases: ", total, " (", want_ok, " valid, ", want_err, " invalid)");
  CHECK(total == 98);  // 86 under <n>/ and single-entry/, 12 under additional/
  CHECK(want_ok > 0);
  CHECK(want_err > want_ok);
}
