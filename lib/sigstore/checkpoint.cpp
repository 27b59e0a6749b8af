#include "sigstore/checkpoint.hpp"

#include <fmt/format.h>

#include "crypto/pkey.hpp"

namespace confer::sigstore {

namespace {

constexpr std::string_view kDash = "\xE2\x80\x94 ";  // U+2014 EM DASH, space
constexpr size_t kMaxNote = 1 << 20;

Error bad(std::string message) { return make_error(Errc::parse, "checkpoint: " + std::move(message)); }

std::vector<std::string_view> split_lines(std::string_view text) {
  // `text` ends with '\n'; every line is returned without it.
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) break;
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

}  // namespace

Result<Checkpoint> Checkpoint::parse(std::string_view envelope) {
  if (envelope.size() > kMaxNote) return bad(fmt::format("expected at most {} bytes, saw {}", kMaxNote, envelope.size()));
  size_t split = envelope.find("\n\n");
  if (split == std::string_view::npos) return bad("expected a blank line between the note text and its signatures, saw none");
  Checkpoint cp;
  cp.signed_text = std::string(envelope.substr(0, split + 1));
  std::string_view sigs = envelope.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n') return bad("expected signature lines each ending in a newline");

  auto text_lines = split_lines(cp.signed_text);
  if (text_lines.size() < 3)
    return bad(fmt::format("expected origin, size and root hash lines, saw {} lines", text_lines.size()));
  for (auto line : text_lines)
    if (line.empty()) return bad("expected no empty line inside the note text");
  cp.origin = std::string(text_lines[0]);
  std::string_view size = text_lines[1];
  if (size.empty() || size.size() > 20 || (size.size() > 1 && size[0] == '0'))
    return bad(fmt::format("expected a decimal tree size, saw '{}'", size));
  uint64_t n = 0;
  for (char c : size) {
    if (c < '0' || c > '9') return bad(fmt::format("expected a decimal tree size, saw '{}'", size));
    uint64_t next = n * 10 + uint64_t(c - '0');
    if (next / 10 != n) return bad(fmt::format("tree size '{}' overflows", size));
    n = next;
  }
  cp.size = n;
  auto root = from_base64(text_lines[2]);
  if (!root || root->size() != 32)
    return bad(fmt::format("expected a base64 32-byte root hash, saw '{}'", text_lines[2]));
  cp.root_hash = std::move(root).value();
  for (size_t i = 3; i < text_lines.size(); ++i) cp.extensions.emplace_back(text_lines[i]);

  for (auto line : split_lines(sigs)) {
    if (line.substr(0, kDash.size()) != kDash)
      return bad(fmt::format("expected a signature line starting with an em dash, saw '{}'",
                             line.substr(0, 40)));
    std::string_view rest = line.substr(kDash.size());
    size_t space = rest.find(' ');
    if (space == std::string_view::npos || space == 0)
      return bad("expected '— <name> <signature>' in a signature line");
    NoteSignature s;
    s.name = std::string(rest.substr(0, space));
    std::string_view b64 = rest.substr(space + 1);
    if (b64.find(' ') != std::string_view::npos) return bad("expected one space between name and signature");
    auto raw = from_base64(b64);
    if (!raw || raw->size() < 5)
      return bad(fmt::format("signature line for '{}': expected base64 of a 4-byte key hint and a signature",
                             s.name));
    s.key_hint.assign(raw->begin(), raw->begin() + 4);
    s.signature.assign(raw->begin() + 4, raw->end());
    cp.signatures.push_back(std::move(s));
  }
  if (cp.signatures.empty()) return bad("expected at least one signature line, saw none");
  return cp;
}

Result<void> verify_checkpoint(const Checkpoint& cp, EVP_PKEY* key, ByteView key_hint) {
  if (key_hint.size() != 4)
    return make_error(Errc::usage, fmt::format("checkpoint: expected a 4-byte key hint, saw {}", key_hint.size()));
  size_t candidates = 0;
  std::string last;
  for (const auto& s : cp.signatures) {
    if (!equal_ct(s.key_hint, key_hint)) continue;
    ++candidates;
    auto ok = crypto::verify_signature(key, as_bytes(cp.signed_text), s.signature);
    if (ok) return {};
    last = ok.error().message;
  }
  if (candidates == 0)
    return make_error(Errc::attestation,
                      fmt::format("checkpoint: expected a signature with key hint {}, saw only {}", to_hex(key_hint),
                                  [&] {
                                    std::string hints;
                                    for (const auto& s : cp.signatures)
                                      hints += (hints.empty() ? "" : ", ") + s.name + "/" + to_hex(s.key_hint);
                                    return hints;
                                  }()));
  return make_error(Errc::attestation,
                    fmt::format("checkpoint: {} signature(s) with key hint {} do not verify ({})", candidates,
                                to_hex(key_hint), last));
}

}  // namespace confer::sigstore
