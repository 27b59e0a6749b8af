// The REPL as a person meets it, on a pseudo-terminal: libedit's line editing (Up
// recalls, Tab completes, Ctrl-L clears and sends nothing), slash commands matched
// exactly, and a reconnect after the server's idle timeout that carries the
// conversation on.
#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <thread>

#include "support/e2e.hpp"
#include "support/support.hpp"

using namespace confer;

namespace {

struct Terminal {
  test::TempDir home;
  std::unique_ptr<test::Process> confer;
  std::string seen;

  explicit Terminal(const std::vector<std::string>& args) {
    test::SpawnOptions o;
    o.env = {{"NO_COLOR", "1"}, {"XDG_DATA_HOME", home.path() + "/data"}, {"XDG_CONFIG_HOME", home.path() + "/config"},
             {"XDG_CACHE_HOME", home.path() + "/cache"}, {"TERM", "xterm"}};
    o.pty = true;
    confer = std::make_unique<test::Process>(CONFER_BIN, args, o);
  }
  int fd() const { return confer->pty_master(); }
  void type(const std::string& keys) { REQUIRE(::write(fd(), keys.data(), keys.size()) == ssize_t(keys.size())); }
  size_t consumed = 0;  // where the last awaited text ended
  // Waits for `text` to appear after the last awaited text; true when it did.
  bool wait_for(const std::string& text, int seconds = 20) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (seen.find(text, consumed) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd(), buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, size_t(n));
    }
    size_t at = seen.find(text, consumed);
    if (at == std::string::npos) return false;
    consumed = at + text.size();
    return true;
  }
};

std::string last_user_message(const std::string& request) {
  auto j = nlohmann::json::parse(request);
  return j["messages"].back()["content"].get<std::string>();
}

}  // namespace

TEST_CASE("repl: Up recalls, Tab completes /mo and model names, Ctrl-L sends nothing, /help lists, /modelxyz is refused") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Terminal t(test::trusted(server, {}));
  REQUIRE_MESSAGE(t.wait_for("> "), t.seen);

  t.type("/help\n");
  CHECK_MESSAGE(t.wait_for("/verify"), t.seen);
  CHECK(t.seen.find("/retry") != std::string::npos);
  CHECK(t.wait_for("> "));

  // Exact matching: /modelxyz is not /model with argument "xyz".
  t.type("/modelxyz\n");
  CHECK_MESSAGE(t.wait_for("did you mean /model?"), t.seen);
  t.type("/model\n");
  CHECK_MESSAGE(t.wait_for("model: the server's default"), t.seen);
  t.type("/systemic hello\n");
  CHECK_MESSAGE(t.wait_for("unknown command '/systemic'"), t.seen);

  t.type("hello there\n");
  REQUIRE_MESSAGE(t.wait_for("echo: hello there"), t.seen);
  REQUIRE(t.wait_for("> "));
  // Up arrow recalls the last line; Enter sends it again.
  t.type("\x1b[A\n");
  REQUIRE_MESSAGE(t.wait_for("echo: hello there"), t.seen);
  REQUIRE(t.wait_for("> "));

  // Tab completes a model name from the server's list (GET /v1/models through the channel).
  t.type("/model fa\t\n");
  CHECK_MESSAGE(t.wait_for("model: fake-model"), t.seen);
  // Tab completes /mo to "/model "; the rest of the line is the model's name.
  t.type("/mo\t");
  t.type("tabbed-model\n");
  CHECK_MESSAGE(t.wait_for("model: tabbed-model"), t.seen);

  // Ctrl-L clears the screen and is never part of a message.
  t.type("\x0c");
  t.type("after clear\n");
  REQUIRE_MESSAGE(t.wait_for("echo: after clear"), t.seen);
  REQUIRE(t.wait_for("> "));
  t.type("/exit\n");
  auto exited = t.confer->wait_for(std::chrono::seconds(30));
  REQUIRE(exited.has_value());
  CHECK(exited->exit_code == 0);

  auto requests = upstream.requests();
  REQUIRE(requests.size() == 3);
  CHECK(last_user_message(requests[0]) == "hello there");
  CHECK(last_user_message(requests[1]) == "hello there");
  CHECK(last_user_message(requests[2]) == "after clear");
  CHECK(nlohmann::json::parse(requests[2])["model"] == "tabbed-model");
  for (const auto& r : requests) CHECK(r.find("\\f") == std::string::npos);
  for (const auto& r : requests) CHECK(r.find("/model") == std::string::npos);
}

TEST_CASE("repl: after the server's idle timeout the REPL reconnects, verifies again and carries the conversation") {
  test::Upstream upstream;
  test::Server server(upstream.url, CONFER_SERVER_BIN, {"--idle-timeout", "1"});
  Terminal t(test::trusted(server, {}));
  REQUIRE_MESSAGE(t.wait_for("> "), t.seen);
  t.type("first question\n");
  REQUIRE_MESSAGE(t.wait_for("echo: first question"), t.seen);
  REQUIRE(t.wait_for("> "));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the server drops the idle connection
  t.type("second question\n");
  CHECK_MESSAGE(t.wait_for("reconnected and verified again"), t.seen);
  REQUIRE_MESSAGE(t.wait_for("echo: second question"), t.seen);
  t.type("/exit\n");
  auto exited = t.confer->wait_for(std::chrono::seconds(30));
  REQUIRE(exited.has_value());
  CHECK(exited->exit_code == 0);
  auto requests = upstream.requests();
  REQUIRE(requests.size() == 2);
  auto messages = nlohmann::json::parse(requests[1])["messages"];
  REQUIRE(messages.size() == 3);
  CHECK(messages[0]["content"] == "first question");
  CHECK(messages[2]["content"] == "second question");
}

TEST_CASE("repl: /retry, /save, /verify and /copy do what /help says") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Terminal t(test::trusted(server, {}));
  // Each command is typed at a prompt, as a person would.
  auto at_prompt = [&](const std::string& keys) {
    REQUIRE_MESSAGE(t.wait_for("> "), t.seen);
    t.type(keys);
  };
  at_prompt("/retry\n");
  CHECK_MESSAGE(t.wait_for("nothing to retry yet"), t.seen);
  at_prompt("what now\n");
  REQUIRE(t.wait_for("echo: what now"));
  at_prompt("/retry\n");
  REQUIRE_MESSAGE(t.wait_for("echo: what now"), t.seen);
  std::string file = t.home.path() + "/chat.md";
  at_prompt("/save " + file + "\n");
  CHECK_MESSAGE(t.wait_for("saved 2 message(s)"), t.seen);
  at_prompt("/save " + file + "\n");
  CHECK_MESSAGE(t.wait_for("exists; choose another name"), t.seen);
  at_prompt("/verify\n");
  CHECK_MESSAGE(t.wait_for("verdict: verified"), t.seen);
  CHECK(t.seen.find("policy.debug") != std::string::npos);
  at_prompt("/copy\n");
  CHECK_MESSAGE(t.wait_for("\x1b]52;c;"), t.seen);
  at_prompt("/new extra\n");
  CHECK_MESSAGE(t.wait_for("/new takes no argument"), t.seen);
  at_prompt("/exit\n");
  auto exited = t.confer->wait_for(std::chrono::seconds(30));
  REQUIRE(exited.has_value());
  CHECK(exited->exit_code == 0);
  auto saved = read_file(file);
  REQUIRE(saved.ok());
  std::string md(saved->begin(), saved->end());
  CHECK(md == "## You\n\nwhat now\n\n## Assistant\n\necho: what now\n\n");
  auto requests = upstream.requests();
  REQUIRE(requests.size() == 2);
  CHECK(nlohmann::json::parse(requests[1])["messages"].size() == 1);  // the retried message alone, not twice
}
