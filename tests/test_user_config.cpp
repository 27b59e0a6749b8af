#include <doctest/doctest.h>

#include "commands/user_config.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::cli;

TEST_CASE("config.toml (toml++) and config.json") {
  auto toml = parse_user_config(R"(# confer
server = "wss://confer.example"   # the default server
model = "m"
trust_root = ["/a.pem", "/b.pem"]
expect_measurement = "abcd"
sigstore_root = "/root.json"
release_identity = "releases@example.com"
)", false);
  REQUIRE_MESSAGE(toml.ok(), toml.error().message);
  CHECK(toml->server == "wss://confer.example");
  CHECK(toml->model == "m");
  CHECK(toml->trust_roots == std::vector<std::string>{"/a.pem", "/b.pem"});
  CHECK(toml->measurements == std::vector<std::string>{"abcd"});
  CHECK(toml->release_identity == "releases@example.com");
  auto json = parse_user_config(R"({"server":"ws://h","trust_root":"/x.pem"})", true);
  REQUIRE(json.ok());
  CHECK(json->trust_roots == std::vector<std::string>{"/x.pem"});
  auto err = [](const char* text, bool is_json) {
    auto r = parse_user_config(text, is_json);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::usage);
    return r.error().message;
  };
  CHECK(err("servr = \"x\"", false).find("unknown key \"servr\"") != std::string::npos);
  CHECK(err("server = x", false).find("config line 1, column") != std::string::npos);
  CHECK(err("\nserver", false).find("config line 2") != std::string::npos);
  CHECK(err("server = [\"a\"]", false).find("one string") != std::string::npos);
  CHECK(err("trust_root = [\"a\"", false).find("config line 1") != std::string::npos);
  CHECK(err("model = 3", false).find("\"model\" takes a string, saw an integer") != std::string::npos);
  CHECK(err("trust_root = [\"a\", 2]", false).find("takes strings, saw an integer") != std::string::npos);
  // Real TOML: literal strings, escapes, a table's keys are not ours.
  auto literal = parse_user_config("server = 'wss://h'\nmodel = \"tab\\there\"\n", false);
  REQUIRE_MESSAGE(literal.ok(), literal.error().message);
  CHECK(literal->server == "wss://h");
  CHECK(literal->model == "tab\there");
  CHECK(err("[server]\nx = \"1\"", false).find("takes a string, saw a table") != std::string::npos);
  // ~ is the home directory in paths.
  const char* old_home = std::getenv("HOME");
  std::string saved_home = old_home ? old_home : "";
  setenv("HOME", "/home/someone", 1);
  auto home = parse_user_config("trust_root = [\"~/root.pem\"]\npolicy = \"~/p.json\"\n", false);
  if (old_home) setenv("HOME", saved_home.c_str(), 1);
  else unsetenv("HOME");
  REQUIRE(home.ok());
  CHECK(home->trust_roots == std::vector<std::string>{"/home/someone/root.pem"});
  CHECK(home->policy == "/home/someone/p.json");
  CHECK(err("{\"server\": 1}", true).find("strings") != std::string::npos);
}

TEST_CASE("config file and environment through the binary") {
  test::TempDir home;
  home.file("confer/config.toml", "server = \"ftp://from-config\"\n");
  // The config's server is used (and its bad scheme is a usage error naming it).
  auto from_config = test::run_confer({"chat", "hi"}, {{"XDG_CONFIG_HOME", home.path()}, {"CONFER_SERVER", ""}});
  CHECK(from_config.exit_code == 2);
  CHECK(from_config.err.find("ftp://from-config") != std::string::npos);
  // The environment overrides the file.
  auto from_env = test::run_confer({"chat", "hi"}, {{"XDG_CONFIG_HOME", home.path()}, {"CONFER_SERVER", "gopher://env"}});
  CHECK(from_env.exit_code == 2);
  CHECK(from_env.err.find("gopher://env") != std::string::npos);
  home.file("confer/config.toml", "bogus = \"1\"\n");
  auto broken = test::run_confer({"chat", "hi"}, {{"XDG_CONFIG_HOME", home.path()}});
  CHECK(broken.exit_code == 2);
  CHECK(broken.err.find("config.toml") != std::string::npos);
}
