#include <doctest/doctest.h>

#include "attest/amd_roots.hpp"
#include "crypto/x509.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;

TEST_CASE("AMD roots: compiled-in ARKs hash to the published pins and sign their ASK and ASVK") {
  // The pins as AMD's roots are published (ATTESTATION.md §2.3), written out independently.
  const std::pair<Product, const char*> pins[] = {
      {Product::milan, "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd"},
      {Product::genoa, "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1"},
      {Product::turin, "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a"},
  };
  for (const auto& [product, pin] : pins) {
    const AmdRootSet* set = amd_roots(product);
    REQUIRE(set != nullptr);
    CHECK(set->ark_sha256 == pin);
    auto ark = crypto::Cert::from_der_or_pem(as_bytes(set->ark_pem));
    auto ask = crypto::Cert::from_der_or_pem(as_bytes(set->ask_pem));
    auto asvk = crypto::Cert::from_der_or_pem(as_bytes(set->asvk_pem));
    REQUIRE((ark.ok() && ask.ok() && asvk.ok()));
    CHECK(ark->sha256_hex() == pin);
    CHECK(product_of_pinned_ark(pin) == product);
    CHECK(crypto::verify_issued_by(*ark, *ark).ok());
    CHECK(crypto::verify_issued_by(*ask, *ark).ok());
    CHECK(crypto::verify_issued_by(*asvk, *ark).ok());
    CHECK(ask->subject_cn() == std::string("SEV-") + product_name(product));
    CHECK(asvk->subject_cn() == std::string("SEV-VLEK-") + product_name(product));
  }
  CHECK(amd_roots(Product::unknown) == nullptr);
  CHECK(product_of_pinned_ark("00") == Product::unknown);
  // An ASK is not signed by another product's ARK.
  auto milan_ark = crypto::Cert::from_der_or_pem(as_bytes(amd_roots(Product::milan)->ark_pem));
  auto genoa_ask = crypto::Cert::from_der_or_pem(as_bytes(amd_roots(Product::genoa)->ask_pem));
  CHECK_FALSE(crypto::verify_issued_by(*genoa_ask, *milan_ark).ok());
}

TEST_CASE("AMD roots: compiled-in certificates equal AMD's published files") {
  if (!test::have_vectors()) return;
  for (Product p : {Product::milan, Product::genoa, Product::turin}) {
    std::string base = std::string("sev-snp/amd-roots/") + (p == Product::milan ? "milan" : p == Product::genoa ? "genoa" : "turin");
    const AmdRootSet* set = amd_roots(p);
    CHECK(crypto::Cert::from_der_or_pem(as_bytes(set->ark_pem))->der() == test::vector_file(base + "_ark.der"));
    CHECK(crypto::Cert::from_der_or_pem(as_bytes(set->ask_pem))->der() == test::vector_file(base + "_ask.der"));
    CHECK(crypto::Cert::from_der_or_pem(as_bytes(set->asvk_pem))->der() == test::vector_file(base + "_asvk.der"));
  }
}
