// Sigstore bundles: parsing, the conformance suite, and the development Sigstore.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>

#include "sigstore/bundle.hpp"
#include "sigstore/checkpoint.hpp"
#include "dev/sigstore.hpp"
#include "crypto/pkey.hpp"
#include "sigstore/merkle.hpp"
#include "sigstore/trusted_root.hpp"
#include "sigstore/verify.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::sigstore;
using namespace confer::dev;
namespace fs = std::filesystem;

namespace {

std::string text_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string describe(const Verification& v) {
  std::string out;
  for (const auto& c : v.checks)
    out += fmt::format("  {} {}: expected {}; saw {}\n", check_status_name(c.status), c.name, c.expected, c.seen);
  return out;
}

const std::string kDefaultIdentity =
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/"
    "extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const std::string kDefaultIssuer = "https://token.actions.githubusercontent.com";

// Happy-path cases this verifier does not support: each must be refused, never accepted.
const std::set<std::string> kUnsupported = {
    "bundle-with-sct-with-extensions",        // Rekor v2 (hashedrekord 0.0.2)
    "happy-path-intoto-in-dsse-v3",           // DSSE
    "intoto-with-custom-trust-root",          // DSSE (intoto 0.0.2)
    "rekor2-checkpoint-cosigned",             // Rekor v2
    "rekor2-checkpoint-multiple-cosigs",      // Rekor v2
    "rekor2-checkpoint-origin-not-first",     // Rekor v2
    "rekor2-checkpoint-two-sigs-cosigned",    // Rekor v2
    "rekor2-checkpoint-two-sigs-from-origin", // Rekor v2
    "rekor2-dsse-happy-path",                 // Rekor v2 + DSSE
    "rekor2-happy-path",                      // Rekor v2
    "rekor2-timestamp-with-embedded-cert",    // Rekor v2
    "rekor2-timestamp-with-expired-cert-chain",  // Rekor v2
    "rekor2-timestamp-without-embedded-cert",    // Rekor v2
    "trust-root-tsa-validity-end-inclusive",     // Rekor v2
};

struct Outcome {
  bool verified = false;
  std::string why;  // the parse error or first failed check
};

Outcome run_case(const fs::path& dir, const fs::path& conformance, const fs::path& default_root) {
  Outcome out;
  auto bundle_bytes = read_file((dir / "bundle.sigstore.json").string());
  REQUIRE(bundle_bytes.ok());
  auto root_bytes = read_file(fs::exists(dir / "trusted_root.json") ? (dir / "trusted_root.json").string()
                                                                     : default_root.string());
  REQUIRE(root_bytes.ok());
  auto artifact = read_file(fs::exists(dir / "artifact") ? (dir / "artifact").string()
                                                          : (conformance / "a.txt").string());
  REQUIRE(artifact.ok());
  Identity id{kDefaultIdentity, kDefaultIssuer};
  if (fs::exists(dir / "identity")) id.san = trimmed(text_of(*read_file((dir / "identity").string())));
  if (fs::exists(dir / "issuer")) id.issuer = trimmed(text_of(*read_file((dir / "issuer").string())));
  VerifyOptions opts;
  if (fs::exists(dir / "key.pub")) opts.public_key = *read_file((dir / "key.pub").string());

  auto bundle = Bundle::parse(text_of(*bundle_bytes));
  if (!bundle) return {false, "bundle: " + bundle.error().message};
  auto root = TrustedRoot::parse(text_of(*root_bytes));
  if (!root) return {false, "trusted root: " + root.error().message};
  auto v = verify_bundle(*bundle, *artifact, *root, id, opts);
  if (!v) return {false, "error: " + v.error().message};
  out.verified = v->verified();
  if (const Check* f = v->first_failure()) out.why = f->name + ": " + f->seen;
  if (out.verified) out.why = "verified";
  return out;
}

}  // namespace

TEST_CASE("sigstore: trusted roots parse") {
  if (!test::have_vectors()) return;
  for (const char* name : {"public-good.2025-snapshot.json", "public-good.sigstore-go-example.json"}) {
    auto root = TrustedRoot::parse(text_of(test::vector_file(std::string("sigstore/trusted-roots/") + name)));
    REQUIRE_MESSAGE(root.ok(), name, ": ", root.error().message);
    CHECK(!root->tlogs.empty());
    CHECK(!root->certificate_authorities.empty());
    CHECK(!root->ctlogs.empty());
  }
  auto root = TrustedRoot::parse(text_of(test::vector_file("sigstore/trusted-roots/public-good.2025-snapshot.json")));
  REQUIRE(root.ok());
  auto id = from_hex("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d");
  REQUIRE(id.ok());
  const TransparencyLog* rekor = root->find_tlog(*id);
  REQUIRE(rekor != nullptr);
  CHECK(rekor->base_url == "https://rekor.sigstore.dev");
  CHECK(rekor->key_details == "PKIX_ECDSA_P256_SHA_256");
  CHECK(to_hex(crypto::sha256(rekor->public_key)) == to_hex(*id));
  CHECK(root->timestamp_authorities.size() >= 1);

  CHECK_FALSE(TrustedRoot::parse("").ok());
  CHECK_FALSE(TrustedRoot::parse("[]").ok());
  CHECK_FALSE(TrustedRoot::parse(R"({"mediaType":"x"})").ok());
  CHECK_FALSE(TrustedRoot::parse(R"({"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "tlogs":[{"publicKey":{"rawBytes":"AA==","validFor":{}},"logId":{"keyId":"AA=="}}]})")
                  .ok());  // no validFor.start
}

TEST_CASE("sigstore: checkpoint notes") {
  const std::string good =
      "rekor.sigstore.dev - 2605736670972794746\n75408393\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n"
      "\xE2\x80\x94 rekor.sigstore.dev wNI9ajBFAiBTyiBM9WtyOTgohje6QZ5rFGJUdMq7Wk3A6oThE98SUgIhAMvxDwa7FyqRqg+YV3rdPPrfS23w19iK+piMSGVOmP5w\n";
  auto cp = Checkpoint::parse(good);
  REQUIRE_MESSAGE(cp.ok(), cp.error().message);
  CHECK(cp->origin == "rekor.sigstore.dev - 2605736670972794746");
  CHECK(cp->size == 75408393);
  CHECK(cp->root_hash.size() == 32);
  REQUIRE(cp->signatures.size() == 1);
  CHECK(to_hex(cp->signatures[0].key_hint) == "c0d23d6a");
  CHECK(cp->signed_text.size() + 1 + cp->signatures.size() > 0);
  CHECK(cp->signed_text.back() == '\n');
  CHECK_FALSE(Checkpoint::parse("").ok());
  CHECK_FALSE(Checkpoint::parse("origin\n1\nAAAA\n\n").ok());                            // bad root, no sigs
  CHECK_FALSE(Checkpoint::parse(good.substr(0, good.size() - 1)).ok());                   // no final newline
  CHECK_FALSE(Checkpoint::parse("o\n01\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\xE2\x80\x94 a AAAAAAA=\n").ok());
  CHECK_FALSE(Checkpoint::parse("o\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\xE2\x80\x94 a AAAAAAA=\n").ok());
}

TEST_CASE("sigstore: DSSE provenance bundle (sigstore-js v0.1) parses and is refused as unsupported") {
  if (!test::have_vectors()) return;
  auto bundle = Bundle::parse(text_of(test::vector_file("sigstore/sigstore-js-provenance-v0.1/bundle.sigstore.json")));
  REQUIRE_MESSAGE(bundle.ok(), bundle.error().message);
  CHECK(bundle->minor_version == 1);
  REQUIRE(bundle->dsse_envelope.has_value());
  CHECK_FALSE(bundle->message_signature.has_value());
  CHECK(bundle->dsse_envelope->payload_type == "application/vnd.in-toto+json");
  CHECK(bundle->dsse_envelope->signatures.size() == 1);
  REQUIRE(bundle->tlog_entries.size() == 1);
  const auto& e = bundle->tlog_entries[0];
  CHECK(e.log_index == 31821305);
  CHECK(e.kind == "intoto");
  CHECK(e.version == "0.0.2");
  CHECK(e.integrated_time == 1692374735);  // 2023-08-18T16:05:35Z
  REQUIRE(e.inclusion_proof.has_value());
  CHECK(e.inclusion_proof->log_index == 27657874);
  CHECK(e.inclusion_proof->tree_size == 27657875);
  CHECK(e.inclusion_proof->hashes.size() == 10);
  REQUIRE(e.inclusion_proof->checkpoint.has_value());
  REQUIRE(bundle->certificates.size() >= 1);
  auto sans = certificate_sans(bundle->certificates[0]);
  REQUIRE(sans.size() == 1);
  CHECK(sans[0] == "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main");
  CHECK(certificate_oidc_issuer(bundle->certificates[0]) == std::optional<std::string>(kDefaultIssuer));

  // The inclusion proof, checkpoint signature and log key are real: check them directly.
  auto root = TrustedRoot::parse(text_of(test::vector_file("sigstore/trusted-roots/public-good.2025-snapshot.json")));
  REQUIRE(root.ok());
  const auto& p = *e.inclusion_proof;
  CHECK(verify_inclusion(uint64_t(p.log_index), uint64_t(p.tree_size), leaf_hash(e.canonicalized_body), p.hashes,
                         p.root_hash)
            .ok());
  // With the global logIndex the proof does not fold to the root.
  CHECK_FALSE(verify_inclusion(uint64_t(e.log_index), uint64_t(p.tree_size), leaf_hash(e.canonicalized_body),
                               p.hashes, p.root_hash)
                  .ok());
  const TransparencyLog* log = root->find_tlog(e.log_id);
  REQUIRE(log != nullptr);
  auto key = crypto::public_key_from_spki(log->public_key);
  REQUIRE(key.ok());
  auto cp = Checkpoint::parse(*p.checkpoint);
  REQUIRE(cp.ok());
  CHECK(verify_checkpoint(*cp, key->get(), ByteView(e.log_id.data(), 4)).ok());
  CHECK(crypto::verify_signature(key->get(), as_bytes(set_payload(e.canonicalized_body, e.integrated_time, e.log_id,
                                                          e.log_index)),
                         *e.signed_entry_timestamp)
            .ok());

  // The verifier refuses DSSE with a named check, at the entry's time.
  auto v = verify_bundle(*bundle, as_bytes("ignored"), *root,
                         {"https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
                          kDefaultIssuer},
                         e.integrated_time);
  REQUIRE(v.ok());
  CHECK_FALSE(v->verified());
  REQUIRE(v->first_failure() != nullptr);
  CHECK(v->first_failure()->name == "bundle.content");
}

TEST_CASE("sigstore: conformance bundle-verify cases") {
  if (!test::have_vectors()) return;
  fs::path conformance = fs::path(test::vectors_dir()) / "sigstore" / "conformance";
  fs::path cases = conformance / "bundle-verify";
  fs::path default_root = fs::path(test::vectors_dir()) / "sigstore" / "trusted-roots" / "public-good.2025-snapshot.json";
  REQUIRE(fs::is_directory(cases));
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(cases))
    if (e.is_directory() && fs::exists(e.path() / "bundle.sigstore.json")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());

  int passed = 0, refused_as_expected = 0, unsupported_refused = 0, fail_cases = 0;
  std::set<std::string> seen_unsupported;
  for (const auto& dir : dirs) {
    std::string name = dir.filename().string();
    Outcome o = run_case(dir, conformance, default_root);
    bool must_fail = name.size() > 5 && name.substr(name.size() - 5) == "_fail";
    if (must_fail) {
      ++fail_cases;
      CHECK_MESSAGE(!o.verified, name, " must be refused but verified");
      if (!o.verified) ++refused_as_expected;
      MESSAGE(name, " -> refused: ", o.why);
    } else if (kUnsupported.count(name) != 0) {
      seen_unsupported.insert(name);
      CHECK_MESSAGE(!o.verified, name, " is unsupported and must be refused, not accepted");
      if (!o.verified) ++unsupported_refused;
      MESSAGE(name, " -> unsupported, refused: ", o.why);
    } else {
      CHECK_MESSAGE(o.verified, name, " must verify: ", o.why);
      if (o.verified) ++passed;
    }
  }
  MESSAGE("conformance: ", dirs.size(), " cases; ", passed, " happy verified, ", refused_as_expected, "/", fail_cases,
          " _fail refused, ", unsupported_refused, " unsupported happy cases refused");
  CHECK(dirs.size() == 70);
  CHECK(fail_cases == 49);
  CHECK(refused_as_expected == 49);
  CHECK(seen_unsupported.size() == kUnsupported.size());
  CHECK(unsupported_refused == int(kUnsupported.size()));
  CHECK(passed == 70 - 49 - int(kUnsupported.size()));
}

TEST_CASE("sigstore: happy-path-v0.3 verifies with every check named") {
  if (!test::have_vectors()) return;
  auto bundle = Bundle::parse(text_of(test::vector_file("sigstore/conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json")));
  REQUIRE(bundle.ok());
  auto root = TrustedRoot::parse(text_of(test::vector_file("sigstore/trusted-roots/public-good.2025-snapshot.json")));
  REQUIRE(root.ok());
  Bytes artifact = test::vector_file("sigstore/conformance/a.txt");
  CHECK(to_hex(crypto::sha256(artifact)) == "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf");
  auto v = verify_bundle(*bundle, artifact, *root, {kDefaultIdentity, kDefaultIssuer});
  REQUIRE(v.ok());
  CHECK_MESSAGE(v->verified(), describe(*v));
  CHECK(v->san == kDefaultIdentity);
  CHECK(v->issuer == kDefaultIssuer);
  CHECK(v->integrated_time == 1710869186);
  for (const char* name : {"cert.chain", "cert.sct", "cert.validity", "identity.san", "identity.issuer", "signature.digest",
                           "signature", "tlog.body", "tlog.set", "tlog.inclusion_proof", "tlog.checkpoint"}) {
    auto it = std::find_if(v->checks.begin(), v->checks.end(), [&](const Check& c) { return c.name == name; });
    REQUIRE_MESSAGE(it != v->checks.end(), name);
    CHECK_MESSAGE(it->status == CheckStatus::ok, name);
  }
  // The same bundle with the wrong identity, issuer, artifact or time is refused.
  auto wrong_san = verify_bundle(*bundle, artifact, *root, {"someone@example.com", kDefaultIssuer});
  REQUIRE(wrong_san.ok());
  CHECK(wrong_san->first_failure()->name == "identity.san");
  auto wrong_iss = verify_bundle(*bundle, artifact, *root, {kDefaultIdentity, "https://accounts.google.com"});
  REQUIRE(wrong_iss.ok());
  CHECK(wrong_iss->first_failure()->name == "identity.issuer");
  auto wrong_art = verify_bundle(*bundle, as_bytes("not a.txt"), *root, {kDefaultIdentity, kDefaultIssuer});
  REQUIRE(wrong_art.ok());
  CHECK_FALSE(wrong_art->verified());
  auto past = verify_bundle(*bundle, artifact, *root, {kDefaultIdentity, kDefaultIssuer}, UnixTime(1710869186 - 1));
  REQUIRE(past.ok());
  CHECK(past->first_failure()->name == "tlog.integrated_time");
}

namespace {

struct DevFixture {
  DevSigstore dev;
  TrustedRoot root;
  Identity id{"release-signer@confer.invalid", "https://accounts.google.com"};
  UnixTime at = 1750000000;  // 2025-06-15T15:06:40Z
  Bytes artifact = Bytes{'m', 'a', 'n', 'i', 'f', 'e', 's', 't'};
};

DevFixture& dev_fixture() {
  static DevFixture* f = [] {
    auto dev = DevSigstore::create();
    REQUIRE_MESSAGE(dev.ok(), dev.error().message);
    auto root = TrustedRoot::parse(dev->trusted_root_json());
    REQUIRE_MESSAGE(root.ok(), root.error().message);
    return new DevFixture{std::move(dev).value(), std::move(root).value()};
  }();
  return *f;
}

Verification verify_text(const std::string& bundle_json, ByteView artifact, const TrustedRoot& root,
                         const Identity& id, UnixTime now) {
  auto bundle = Bundle::parse(bundle_json);
  REQUIRE_MESSAGE(bundle.ok(), bundle.error().message);
  auto v = verify_bundle(*bundle, artifact, root, id, now);
  REQUIRE(v.ok());
  return std::move(v).value();
}

std::string first_failure_name(const Verification& v) {
  const Check* f = v.first_failure();
  return f != nullptr ? f->name : std::string("none");
}

std::string flip_base64(const std::string& b64, size_t byte) {
  auto raw = from_base64(b64);
  REQUIRE(raw.ok());
  REQUIRE(raw->size() > byte);
  (*raw)[byte] ^= 0x01;
  return to_base64(*raw);
}

}  // namespace

TEST_CASE("sigstore: dev-signed bundle verifies and every tampering is refused") {
  DevFixture& f = dev_fixture();
  auto signed_bundle = f.dev.sign(f.artifact, f.id, f.at);
  REQUIRE_MESSAGE(signed_bundle.ok(), signed_bundle.error().message);
  const std::string good = *signed_bundle;
  const UnixTime now = f.at + 3600;

  Verification ok = verify_text(good, f.artifact, f.root, f.id, now);
  CHECK_MESSAGE(ok.verified(), describe(ok));
  CHECK(ok.san == f.id.san);
  CHECK(ok.issuer == f.id.issuer);
  CHECK(ok.integrated_time == f.at);
  for (const auto& c : ok.checks)
    if (c.name != "timestamp.rfc3161") CHECK_MESSAGE(c.status == CheckStatus::ok, c.name, ": ", c.seen);

  // A URI SAN (GitHub workflow style) works too.
  Identity uri{"https://github.com/confer/confer/.github/workflows/release.yml@refs/heads/main",
               "https://token.actions.githubusercontent.com"};
  auto uri_bundle = f.dev.sign(f.artifact, uri, f.at);
  REQUIRE(uri_bundle.ok());
  CHECK(verify_text(*uri_bundle, f.artifact, f.root, uri, now).verified());

  SUBCASE("wrong identity") {
    auto v = verify_text(good, f.artifact, f.root, {"someone-else@confer.invalid", f.id.issuer}, now);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "identity.san");
    auto w = verify_text(good, f.artifact, f.root, {f.id.san, "https://token.actions.githubusercontent.com"}, now);
    CHECK_FALSE(w.verified());
    CHECK(first_failure_name(w) == "identity.issuer");
  }
  SUBCASE("wrong artifact") {
    auto v = verify_text(good, as_bytes("manifesT"), f.root, f.id, now);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "signature.digest");
  }
  SUBCASE("flipped SET") {
    auto j = nlohmann::json::parse(good);
    auto& set = j["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"];
    set = flip_base64(set.get<std::string>(), 10);
    auto v = verify_text(j.dump(), f.artifact, f.root, f.id, now);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "tlog.set");
  }
  SUBCASE("integratedTime changed (SET no longer covers it)") {
    auto j = nlohmann::json::parse(good);
    j["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = std::to_string(f.at + 1);
    auto v = verify_text(j.dump(), f.artifact, f.root, f.id, now);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "tlog.set");
  }
  SUBCASE("flipped inclusion-proof hash") {
    auto j = nlohmann::json::parse(good);
    auto& hashes = j["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"];
    REQUIRE(hashes.size() >= 2);
    hashes[1] = flip_base64(hashes[1].get<std::string>(), 0);
    auto v = verify_text(j.dump(), f.artifact, f.root, f.id, now);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "tlog.inclusion_proof");
  }
  SUBCASE("proof folded with the global logIndex") {
    auto j = nlohmann::json::parse(good);
    auto& proof = j["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    proof["logIndex"] = j["verificationMaterial"]["tlogEntries"][0]["logIndex"];
    auto v = verify_text(j.dump(), f.artifact, f.root, f.id, now);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "tlog.inclusion_proof");
  }
  SUBCASE("checkpoint with the wrong root") {
    auto j = nlohmann::json::parse(good);
    auto& env = j["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"];
    std::string text = env.get<std::string>();
    auto cp = Checkpoint::parse(text);
    REQUIRE(cp.ok());
    std::string root_b64 = to_base64(cp->root_hash);
    size_t pos = text.find(root_b64);
    REQUIRE(pos != std::string::npos);
    text.replace(pos, root_b64.size(), flip_base64(root_b64, 31));
    env = text;
    auto v = verify_text(j.dump(), f.artifact, f.root, f.id, now);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "tlog.checkpoint");
  }
  SUBCASE("checkpoint signed by an unknown key only") {
    auto j = nlohmann::json::parse(good);
    auto& env = j["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"];
    std::string text = env.get<std::string>();
    size_t sig = text.find("\n\n");
    REQUIRE(sig != std::string::npos);
    env = text.substr(0, sig + 2) + "\xE2\x80\x94 witness.invalid " + to_base64(Bytes(40, 7)) + "\n";
    auto v = verify_text(j.dump(), f.artifact, f.root, f.id, now);
    CHECK(first_failure_name(v) == "tlog.checkpoint");
    // ... while an extra witness line next to the log's own is ignored.
    env = text + "\xE2\x80\x94 witness.invalid " + to_base64(Bytes(40, 7)) + "\n";
    CHECK(verify_text(j.dump(), f.artifact, f.root, f.id, now).verified());
  }
  SUBCASE("integrated time in the future") {
    auto v = verify_text(good, f.artifact, f.root, f.id, f.at - 1);
    CHECK_FALSE(v.verified());
    CHECK(first_failure_name(v) == "tlog.integrated_time");
  }
  SUBCASE("another dev Sigstore's root") {
    auto other = DevSigstore::create();
    REQUIRE(other.ok());
    auto root2 = TrustedRoot::parse(other->trusted_root_json());
    REQUIRE(root2.ok());
    CHECK_FALSE(verify_text(good, f.artifact, *root2, f.id, now).verified());
  }
  SUBCASE("DSSE content and Rekor v2 kinds are refused, not accepted") {
    auto j = nlohmann::json::parse(good);
    j["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"] = "0.0.2";
    auto v = verify_text(j.dump(), f.artifact, f.root, f.id, now);
    CHECK(first_failure_name(v) == "tlog.kind");
  }
  SUBCASE("bundle JSON cut anywhere never parses into a verified bundle") {
    for (size_t cut = 0; cut < good.size(); cut += 97) {
      auto b = Bundle::parse(std::string_view(good).substr(0, cut));
      CHECK_FALSE(b.ok());
    }
  }
}

// Apart from the tampering cases above, so that only this one is skipped without vectors.
TEST_CASE("sigstore: a dev-signed bundle is refused against the public-good trusted root") {
  if (!test::have_vectors()) return;
  DevFixture& f = dev_fixture();
  auto signed_bundle = f.dev.sign(f.artifact, f.id, f.at);
  REQUIRE_MESSAGE(signed_bundle.ok(), signed_bundle.error().message);
  const UnixTime now = f.at + 3600;
  auto pg = TrustedRoot::parse(text_of(test::vector_file("sigstore/trusted-roots/public-good.2025-snapshot.json")));
  REQUIRE(pg.ok());
  auto v = verify_text(*signed_bundle, f.artifact, *pg, f.id, now);
  CHECK_FALSE(v.verified());
  CHECK(first_failure_name(v) == "tlog.log_key");
}
