// A confer-server whose evidence lies, for the client's refusal tests:
//   --mode wrong-binding    a valid report that binds some other key
//   --mode tampered-report  a report with one measurement bit flipped after signing
//   --mode no-fresh         honest evidence, but no POST /v1/attestation (like Confer's proxy)
//   --mode deep-event       honest evidence, but each streamed token event is replaced
//                           by {"type": "token", "content": [[[...]]]} nested 450,000 deep
// It otherwise runs the real server code in front of the real upstream client.
#include <csignal>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "attest/evidence_document.hpp"

#include "server/server.hpp"

using namespace confer;

namespace {

class LyingProvider final : public server::AttestationProvider {
 public:
  LyingProvider(std::unique_ptr<server::AttestationProvider> inner, std::string mode)
      : inner_(std::move(inner)), mode_(std::move(mode)) {}

  Result<std::string> evidence(ByteView report_data) override {
    if (mode_ == "wrong-binding") {
      Bytes other(report_data.begin(), report_data.end());
      other[0] ^= 0xff;
      return inner_->evidence(other);
    }
    CONFER_TRY(std::string text, inner_->evidence(report_data));
    CONFER_TRY(attest::EvidenceDocument doc, attest::EvidenceDocument::parse(text));
    if (!doc.attestation) return make_error(Errc::internal, "evil_server: the evidence has no report");
    CONFER_TRY(Bytes report, from_base64(*doc.attestation));
    report[0x90] ^= 0x01;  // MEASUREMENT
    doc.attestation = to_base64(report);
    return doc.serialize();
  }
  std::string describe() const override { return "lying (" + mode_ + ")"; }

 private:
  std::unique_ptr<server::AttestationProvider> inner_;
  std::string mode_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string mode, upstream, port_file, dev_root;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--mode") mode = argv[i + 1];
    else if (flag == "--upstream") upstream = argv[i + 1];
    else if (flag == "--port-file") port_file = argv[i + 1];
    else if (flag == "--dev-root") dev_root = argv[i + 1];
  }
  if (mode != "wrong-binding" && mode != "tampered-report" && mode != "no-fresh" && mode != "deep-event") {
    std::fprintf(stderr, "evil_server: --mode wrong-binding|tampered-report|no-fresh|deep-event\n");
    return 2;
  }
  auto inner = server::make_dev_provider("milan", dev_root, Bytes(48, 0x42), std::nullopt);
  if (!inner) return 1;
  server::ServerConfig config;
  config.port = 0;
  config.upstream.url = server::chat_completions_url(upstream);
  std::unique_ptr<server::AttestationProvider> provider = std::move(inner).value();
  if (mode == "no-fresh") {
    config.offer_fresh_attestation = false;
  } else if (mode == "deep-event") {
    config.rewrite_event = [](std::string) {
      constexpr size_t kDeep = 450000;
      return "{\"type\": \"token\", \"content\": " + std::string(kDeep, '[') + std::string(kDeep, ']') + "}";
    };
  } else {
    provider = std::make_unique<LyingProvider>(std::move(provider), mode);
  }
  auto srv = server::make_server(config, std::move(provider));
  if (!srv) {
    std::fprintf(stderr, "evil_server: %s\n", srv.error().message.c_str());
    return 1;
  }
  if (!write_file_atomic(port_file, as_bytes(std::to_string((*srv)->port()) + "\n"))) return 1;
  (*srv)->run();
  return 0;
}
