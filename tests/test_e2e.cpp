// End to end: the real confer-server (development attestation) in front of a fake
// OpenAI-compatible upstream, driven by the real confer binary.
#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <sstream>

#include "attest/kds.hpp"
#include "crypto/x509.hpp"
#include "server/attestation.hpp"
#include "dev/sigstore.hpp"
#include "support/e2e.hpp"
#include "support/support.hpp"

using namespace confer;
using test::run_confer;
using test::expect;
using test::Server;
using test::server_measurement;
using test::trusted;
using test::Upstream;

TEST_CASE("e2e: one-shot, stdin pipeline, --json and --no-stream") {
  Upstream upstream;
  Server server(upstream.url);

  auto one = run_confer(trusted(server, {"hello attested world"}));
  CHECK_MESSAGE(one.exit_code == 0, one.err);
  CHECK(one.out == "echo: hello attested world\n");
  CHECK(one.err.find("verified SEV-SNP Milan") != std::string::npos);
  CHECK(one.err.find("NOT AMD") != std::string::npos);
  REQUIRE(upstream.requests().size() == 1);
  CHECK(upstream.requests()[0].find("hello attested world") != std::string::npos);

  // stdin comes first, then the argument.
  auto piped = run_confer(trusted(server, {"-q", "and the argument"}), {}, "from stdin\n");
  CHECK_MESSAGE(piped.exit_code == 0, piped.err);
  CHECK(piped.out == "echo: from stdin and the argument\n");
  // -q drops the summary; the development-root warning stays, as every safety warning does.
  CHECK(piped.err.find("verified SEV-SNP") == std::string::npos);
  CHECK(piped.err == "confer: warning: the server's evidence chains to a development root, NOT to AMD\n");
  auto body = nlohmann::json::parse(upstream.requests().back());
  CHECK(body["messages"].back()["content"] == "from stdin\nand the argument");

  auto json = run_confer(trusted(server, {"--json", "-q", "one two three"}));
  CHECK(json.exit_code == 0);
  std::istringstream lines(json.out);
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  REQUIRE(events.size() == 5);  // echo:, one, two, three, completion
  for (size_t i = 0; i + 1 < events.size(); ++i) CHECK(events[i]["type"] == "token");
  CHECK(events.back()["type"] == "completion");
  CHECK(events.back()["context_tokens"].is_number());

  auto whole = run_confer(trusted(server, {"--no-stream", "-q", "all at once"}));
  CHECK(whole.exit_code == 0);
  CHECK(whole.out == "echo: all at once\n");

  // Model, system prompt, temperature and max tokens reach the upstream.
  auto opts = run_confer(trusted(server, {"-q", "-m", "m1", "-s", "be brief", "--temperature", "0.5",
                                          "--max-tokens", "7", "x"}));
  CHECK(opts.exit_code == 0);
  auto sent = nlohmann::json::parse(upstream.requests().back());
  CHECK(sent["model"] == "m1");
  CHECK(sent["messages"][0]["role"] == "system");
  CHECK(sent["temperature"] == 0.5);
  CHECK(sent["max_tokens"] == 7);

  // Plain GET /v1/ping outside the channel.
  auto fetcher = attest::make_curl_fetcher();
  auto ping = fetcher->get("http://" + server.url.substr(std::string("ws://").size()) + "/v1/ping");
  REQUIRE_MESSAGE(ping.ok(), ping.error().message);
  CHECK(std::string(ping->begin(), ping->end()) == "PONG");
}

TEST_CASE("e2e: refusals exit 3 before any prompt byte reaches the upstream") {
  Upstream upstream;
  Server server(upstream.url);

  auto untrusted = run_confer({"chat", "--server", server.url, "--expect-measurement", server_measurement(), "secret one"});
  CHECK(untrusted.exit_code == 3);
  CHECK(untrusted.err.find("attestation refused: chain.ark") != std::string::npos);
  CHECK(untrusted.out.empty());

  auto unpinned = run_confer({"chat", "--server", server.url, "--trust-root", server.root, "secret two"});
  CHECK(unpinned.exit_code == 3);
  CHECK(unpinned.err.find("release.manifest") != std::string::npos);

  std::string other = server_measurement();
  other[0] = other[0] == 'a' ? 'b' : 'a';
  auto wrong = run_confer({"chat", "--server", server.url, "--trust-root", server.root, "--expect-measurement", other,
                           "secret three"});
  CHECK(wrong.exit_code == 3);
  CHECK(wrong.err.find("policy.measurement") != std::string::npos);

  Server lying_binding(upstream.url, EVIL_SERVER_BIN, {"--mode", "wrong-binding"});
  auto bound = run_confer({"chat", "--server", lying_binding.url, "--trust-root", lying_binding.root,
                           "--expect-measurement", to_hex(Bytes(48, 0x42)), "secret four"});
  CHECK(bound.exit_code == 3);
  CHECK(bound.err.find("attestation refused: channel.binding") != std::string::npos);

  Server tampered(upstream.url, EVIL_SERVER_BIN, {"--mode", "tampered-report"});
  auto t = run_confer({"chat", "--server", tampered.url, "--trust-root", tampered.root, "--expect-measurement",
                       to_hex(Bytes(48, 0x42)), "secret five"});
  CHECK(t.exit_code == 3);
  CHECK(t.err.find("attestation refused: report.signature") != std::string::npos);

  CHECK(upstream.requests().empty());
}

TEST_CASE("e2e: server and upstream failures have their exit codes") {
  Upstream failing({"--fail-status", "500"});
  Server server(failing.url);
  auto r = run_confer(trusted(server, {"-q", "hello"}));
  CHECK(r.exit_code == 5);
  CHECK(r.err.find("502") != std::string::npos);
  CHECK(r.err.find("fake upstream failure") != std::string::npos);

  auto nobody = run_confer({"chat", "--server", "ws://127.0.0.1:9", "hello"});
  CHECK(nobody.exit_code == 1);
  auto usage = run_confer({"chat", "--server", "ftp://x", "hello"});
  CHECK(usage.exit_code == 2);
  auto no_server = run_confer({"chat", "hello"}, {{"XDG_CONFIG_HOME", "/nonexistent"}, {"CONFER_SERVER", ""}});
  CHECK(no_server.exit_code == 2);
}

TEST_CASE("e2e: verify-attestation against a live server, saved and re-verified offline") {
  Upstream upstream;
  Server server(upstream.url);
  test::TempDir dir;
  std::string saved = dir.path() + "/evidence.json";
  auto live = run_confer({"verify-attestation", server.url, "--trust-root", server.root, "--save", saved});
  CHECK_MESSAGE(live.exit_code == 0, live.err);
  CHECK(live.out.find("channel.binding") != std::string::npos);
  CHECK(live.out.find("verdict: verified") != std::string::npos);
  auto again = run_confer({"verify-attestation", "--evidence", saved, "--trust-root", server.root, "--offline"});
  CHECK_MESSAGE(again.exit_code == 0, again.err);
  auto refused = run_confer({"verify-attestation", server.url});
  CHECK(refused.exit_code == 3);
  CHECK(upstream.requests().empty());
}

TEST_CASE("e2e: the REPL through a pty, with Ctrl-C stopping an answer") {
  Upstream slow({"--tokens", "60", "--delay-ms", "100"});
  Server server(slow.url);
  std::vector<std::string> args = trusted(server, {});
  test::SpawnOptions on_pty;
  on_pty.env["NO_COLOR"] = "1";
  on_pty.pty = true;
  test::Process confer(CONFER_BIN, args, on_pty);
  const int master = confer.pty_master();
  std::string seen;
  expect(master, "> ", seen);
  REQUIRE_MESSAGE(seen.find("> ") != std::string::npos, seen);
  CHECK(seen.find("verified SEV-SNP") != std::string::npos);

  std::string first = "hi\n";
  REQUIRE(::write(master, first.data(), first.size()) == ssize_t(first.size()));
  expect(master, "echo: hi hi", seen);
  CHECK(seen.find("echo: hi hi") != std::string::npos);
  // Ctrl-C while the answer streams: the answer stops, the session stays.
  REQUIRE(::write(master, "\x03", 1) == 1);
  size_t mark = seen.size();
  expect(master, "stopped", seen);
  CHECK(seen.find("stopped", mark) != std::string::npos);
  expect(master, "> ", seen);
  // A multi-line message and /exit.
  std::string multi = "\"\"\"\nline one\nline two\n\"\"\"\n";
  REQUIRE(::write(master, multi.data(), multi.size()) == ssize_t(multi.size()));
  expect(master, "echo: line one line two", seen);
  CHECK(seen.find("echo: line one line two") != std::string::npos);
  REQUIRE(::write(master, "\x03", 1) == 1);
  expect(master, "> ", seen);
  std::string bye = "/exit\n";
  REQUIRE(::write(master, bye.data(), bye.size()) == ssize_t(bye.size()));
  auto exited = confer.wait_for(std::chrono::seconds(5));
  CHECK_MESSAGE(exited.has_value(), "confer did not exit after /exit");
  if (exited) CHECK(exited->exit_code == 0);
  // The second message carried the first exchange as history.
  auto requests = slow.requests();
  REQUIRE(requests.size() == 2);
  CHECK(nlohmann::json::parse(requests[1])["messages"].size() == 3);
}

namespace {

// A SEV-SNP report over each inblob, signed by the development chain, with the SEV
// certificate table (VCEK, ASK, ARK) as auxblob.
test::FakeTsmKernel::Answer sev_kernel(std::array<uint8_t, 48> measurement) {
  const auto& authority = test::dev_authority();
  attest::SnpReport base = dev::dev_report_template(attest::Product::milan);
  base.measurement = measurement;
  auto signer = authority.issue(authority.spec_for(base));
  REQUIRE(signer.ok());
  server::CertTable table{signer->cert.der(), authority.ask().der(), authority.ark().der()};
  Bytes aux = server::make_cert_table(table);
  auto key = std::make_shared<dev::DevSigner>(std::move(signer).value());
  return [base, aux, key](const Bytes& in) -> std::optional<test::FakeTsmKernel::Entry> {
    attest::SnpReport r = base;
    std::copy(in.begin(), in.end(), r.report_data.begin());
    auto bytes = dev::sign_report(r, key->key.get());
    if (!bytes) return std::nullopt;
    return test::FakeTsmKernel::Entry{"sev_guest", std::move(bytes).value(), aux};
  };
}

}  // namespace

TEST_CASE("e2e: confer-server --attestation tsm against a directory that mimics configfs") {
  Upstream upstream;
  test::TempDir configfs;
  std::array<uint8_t, 48> measurement{};
  measurement.fill(0x5a);
  test::FakeTsmKernel kernel(configfs.path(), sev_kernel(measurement));
  test::TempDir dir;
  std::string root = dir.file("root.pem", test::dev_authority().ark().pem());
  test::Process server(CONFER_SERVER_BIN, {"--listen", "127.0.0.1:0", "--attestation", "tsm", "--tsm-root",
                                         configfs.path(), "--upstream", upstream.url, "--port-file",
                                         dir.path() + "/port"});
  std::string url = "ws://127.0.0.1:" + Upstream::trim(test::wait_for_file(dir.path() + "/port"));
  auto r = run_confer({"chat", "--server", url, "--trust-root", root, "--expect-measurement", to_hex(measurement),
                       "-q", "via configfs"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "echo: via configfs\n");
  CHECK(kernel.served() >= 2);  // message 2's evidence and the fresh, nonce-bound one
  // Every entry directory was removed again.
  CHECK(std::filesystem::is_empty(configfs.path()));
}

TEST_CASE("SEV certificate table round trip") {
  server::CertTable t{Bytes{1, 2, 3}, Bytes{4, 5}, Bytes{6}};
  auto back = server::parse_cert_table(server::make_cert_table(t));
  REQUIRE(back.ok());
  CHECK(*back->vcek == Bytes{1, 2, 3});
  CHECK(*back->ask == Bytes{4, 5});
  CHECK(*back->ark == Bytes{6});
  Bytes bad = server::make_cert_table(t);
  store_le32(bad.data() + 16, 100000);  // offset past the end
  CHECK_FALSE(server::parse_cert_table(bad).ok());
  CHECK_FALSE(server::parse_cert_table(Bytes(10, 1)).ok());  // no terminator
}

TEST_CASE("e2e: a signed release manifest vouches for the measurement, or the server is refused") {
  Upstream upstream;
  auto sigstore = dev::DevSigstore::create();
  REQUIRE(sigstore.ok());
  sigstore::Identity releases{"releases@confer.test", "https://accounts.google.com"};
  test::TempDir dir;
  std::string trusted_root = dir.file("trusted_root.json", sigstore->trusted_root_json());
  auto release = [&](const std::string& name, const std::string& measurement, const sigstore::Identity& signer) {
    std::string manifest = "{\n  \"imageVersion\": \"0.1.0\",\n  \"proxyVersion\": \"0.1.0\",\n"
                           "  \"snpMeasurements\": [\n    \"" + measurement + "\"\n  ]\n}\n";
    auto bundle = sigstore->sign(as_bytes(manifest), signer, now_utc());
    REQUIRE(bundle.ok());
    return std::vector<std::string>{"--manifest", dir.file(name + ".json", manifest), "--manifest-bundle",
                                    dir.file(name + ".bundle.json", *bundle)};
  };
  auto chat = [&](const Server& s, const std::string& prompt) {
    return run_confer({"chat", "--server", s.url, "--trust-root", s.root, "--sigstore-root", trusted_root,
                       "--release-identity", releases.san, prompt});
  };

  Server listed(upstream.url, CONFER_SERVER_BIN, release("listed", server_measurement(), releases));
  auto ok = chat(listed, "vouched for");
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  CHECK(ok.out == "echo: vouched for\n");
  CHECK(ok.err.find("release: signed manifest") != std::string::npos);

  std::string other = server_measurement();
  other[5] = other[5] == '0' ? '1' : '0';
  Server unlisted(upstream.url, CONFER_SERVER_BIN, release("unlisted", other, releases));
  auto not_listed = chat(unlisted, "secret six");
  CHECK(not_listed.exit_code == 3);
  CHECK(not_listed.err.find("attestation refused: release.manifest") != std::string::npos);
  CHECK(not_listed.err.find("measurement not in the signed manifest") != std::string::npos);

  Server impostor(upstream.url, CONFER_SERVER_BIN,
                  release("impostor", server_measurement(), {"mallory@confer.test", releases.issuer}));
  auto wrong_signer = chat(impostor, "secret seven");
  CHECK(wrong_signer.exit_code == 3);
  CHECK(wrong_signer.err.find("identity.san") != std::string::npos);

  // A manifest without a configured release identity proves nothing.
  auto unconfigured = run_confer({"chat", "--server", listed.url, "--trust-root", listed.root, "secret eight"});
  CHECK(unconfigured.exit_code == 3);
  CHECK(unconfigured.err.find("release.manifest") != std::string::npos);

  // Only the vouched-for prompt ever reached the model.
  REQUIRE(upstream.requests().size() == 1);
  CHECK(upstream.requests()[0].find("vouched for") != std::string::npos);
}

TEST_CASE("e2e: --require-fresh refuses a server without POST /v1/attestation") {
  Upstream upstream;
  Server plain(upstream.url, EVIL_SERVER_BIN, {"--mode", "no-fresh"});
  std::vector<std::string> base{"chat", "--server", plain.url, "--trust-root", plain.root, "--expect-measurement",
                                to_hex(Bytes(48, 0x42))};
  auto without = base;
  without.push_back("allowed without fresh");
  auto ok = run_confer(without);
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  CHECK(ok.err.find("fresh evidence") == std::string::npos);  // the summary does not claim freshness
  CHECK(ok.err.find("handshake evidence") != std::string::npos);
  CHECK(ok.err.find(", TCB bl=") != std::string::npos);
  auto strict = base;
  strict.insert(strict.end(), {"--require-fresh", "secret nine"});
  auto refused = run_confer(strict);
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("--require-fresh") != std::string::npos);
  REQUIRE(upstream.requests().size() == 1);
}

TEST_CASE("e2e: confer models lists the upstream's models through the attested channel, and chat defaults to the first") {
  Upstream upstream;
  Server server(upstream.url);
  std::vector<std::string> trust{"--server", server.url, "--trust-root", server.root, "--expect-measurement",
                                 test::server_measurement()};
  std::vector<std::string> args{"models"};
  args.insert(args.end(), trust.begin(), trust.end());
  auto listed = run_confer(args);
  CHECK_MESSAGE(listed.exit_code == 0, listed.err);
  CHECK(listed.out == "fake-model\n");
  args.push_back("--json");
  auto json = run_confer(args);
  CHECK(json.exit_code == 0);
  CHECK(nlohmann::json::parse(json.out) == nlohmann::json::array({"fake-model"}));
  // Untrusted: refused like chat, before anything is asked.
  auto refused = run_confer({"models", "--server", server.url});
  CHECK(refused.exit_code == 3);
  // Neither the client nor --model names a model: the upstream's first is used.
  auto chat = run_confer(test::trusted(server, {"-q", "which model"}));
  CHECK_MESSAGE(chat.exit_code == 0, chat.err);
  REQUIRE(upstream.requests().size() == 1);
  CHECK(nlohmann::json::parse(upstream.requests()[0])["model"] == "fake-model");
}

TEST_CASE("e2e: answers render as Markdown on a terminal, and arrive as sent through a pipe or with --raw") {
  Upstream upstream;
  Server server(upstream.url);
  const std::string prompt = "**bold** and `code`";
  auto on_terminal = [&](std::vector<std::string> extra) {
    test::SpawnOptions o;
    o.pty = true;
    o.env = {{"NO_COLOR", ""}, {"TERM", "xterm"}};
    auto args = trusted(server, {"-q", "--no-stdin"});
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(prompt);
    test::Process p(CONFER_BIN, args, o);
    std::string seen;
    expect(p.pty_master(), "\x01(never)", seen, 20);
    auto done = p.wait_for(std::chrono::seconds(20));
    REQUIRE(done.has_value());
    CHECK(done->exit_code == 0);
    return seen;
  };
  // (The fake upstream answers "echo:" and the prompt's words.)
  std::string rendered = on_terminal({});
  CHECK_MESSAGE(rendered.find("echo: \x1b[1mbold\x1b[22m and \x1b[36mcode\x1b[39m") != std::string::npos, rendered);
  std::string raw = on_terminal({"--raw"});
  CHECK(raw.find("echo: **bold** and `code`") != std::string::npos);
  auto piped = run_confer(trusted(server, {"-q", prompt}), {{"NO_COLOR", ""}});
  CHECK(piped.exit_code == 0);
  CHECK(piped.out == "echo: **bold** and `code`\n");
}

TEST_CASE("e2e: a prompt over the server's request limit is refused before sending, naming the limit") {
  Upstream upstream;
  Server server(upstream.url);
  auto r = run_confer(trusted(server, {"-q"}), {}, std::string(1100 * 1024, 'x'));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("takes at most 1048576 bytes (1 MiB)") != std::string::npos);
  CHECK(r.err.find("nothing was sent") != std::string::npos);
  CHECK(upstream.requests().empty());
  // --json: the refusal is an error event on stdout too.
  auto j = run_confer(trusted(server, {"-q", "--json"}), {}, std::string(1100 * 1024, 'x'));
  CHECK(j.exit_code == 2);
  CHECK(j.out.find("\"type\":\"error\"") != std::string::npos);
  CHECK(j.out.find("\"code\":2") != std::string::npos);
}
