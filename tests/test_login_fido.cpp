// confer login with a security key, end to end: the real binary on a pseudo-terminal
// (the PIN typed there, echo off), the development fake key as --device dev-fake:STATE
// (offered only under CONFER_DEV_AUTHENTICATOR=1), and exit 4 with its own message for
// each way the key can refuse.
#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include "dev/fake_authenticator.hpp"
#include "support/e2e.hpp"
#include "support/key_machine.hpp"
#include "support/support.hpp"

using namespace confer;

using test::KeyMachine;

TEST_CASE("login: a security key on a terminal registers, unlocks with its PIN and opens the same history") {
  KeyMachine m;
  auto reg = m.on_terminal({"login", "--register", "--device", m.device, "--remember", "10m"});
  REQUIRE_MESSAGE(reg.exit_code == 0, reg.out);
  CHECK(reg.out.find("touch your security key") != std::string::npos);
  CHECK(reg.out.find("development fake, not a security key") != std::string::npos);
  CHECK(reg.out.find("1234") == std::string::npos);  // the PIN is not echoed
  auto status = test::run_confer({"status", "--json"}, m.env);
  REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  auto j = nlohmann::json::parse(status.out);
  CHECK(j["unlocked"] == true);
  CHECK(j["credential"].get<std::string>().find("security key") != std::string::npos);
  CHECK(j["ways_in"] == 1);
  REQUIRE(test::run_confer({"logout"}, m.env).exit_code == 0);
  auto locked = nlohmann::json::parse(test::run_confer({"status", "--json"}, m.env).out);
  CHECK(locked["unlocked"] == false);

  auto login = m.on_terminal({"login", "--device", m.device, "--remember", "5m"});
  CHECK_MESSAGE(login.exit_code == 0, login.out);
  CHECK(nlohmann::json::parse(test::run_confer({"status", "--json"}, m.env).out)["unlocked"] == true);
  // The fake kept the credential (resident, with hmac-secret) and counted two assertions.
  auto s = dev::load_fake_state(m.state).value();
  REQUIRE(s.credentials.size() == 1);
  CHECK(s.credentials[0].rk);
  CHECK(s.credentials[0].counter == 2);
  // Without the development switch there is no such device.
  auto env = m.env;
  env["CONFER_DEV_AUTHENTICATOR"] = "";
  REQUIRE(test::run_confer({"logout"}, m.env).exit_code == 0);
  auto no_fake = test::run_confer({"login", "--device", m.device}, env);
  CHECK(no_fake.exit_code == 4);
}

TEST_CASE("login: wrong PIN, PIN blocked, no user verification and no device each exit 4 with their own message") {
  KeyMachine m;
  auto reg = m.on_terminal({"login", "--register", "--device", m.device});
  REQUIRE_MESSAGE(reg.exit_code == 0, reg.out);
  auto login = [&](const std::string& pin, const std::string& device = {}) {
    return m.on_terminal({"login", "--device", device.empty() ? m.device : device}, pin);
  };
  auto wrong = login("9999");
  CHECK(wrong.exit_code == 4);
  CHECK_MESSAGE(wrong.out.find("wrong PIN for the security key (7 tries left") != std::string::npos, wrong.out);

  m.change([](dev::FakeState& s) { s.pin_retries = 1; s.pin_failures = 0; });
  auto blocked = login("9999");
  CHECK(blocked.exit_code == 4);
  CHECK_MESSAGE(blocked.out.find("PIN is blocked") != std::string::npos, blocked.out);
  auto still = login("1234");
  CHECK(still.exit_code == 4);
  CHECK(still.out.find("PIN is blocked") != std::string::npos);

  m.change([](dev::FakeState& s) { s.pin_retries = 8; s.behaviour = "skip-uv"; });
  auto no_uv = login("1234");
  CHECK(no_uv.exit_code == 4);
  CHECK_MESSAGE(no_uv.out.find("did not verify you") != std::string::npos, no_uv.out);

  m.change([](dev::FakeState& s) { s.behaviour.clear(); s.pin.reset(); });
  auto no_pin = login("1234");
  CHECK(no_pin.exit_code == 4);
  CHECK_MESSAGE(no_pin.out.find("has no PIN and no built-in user verification") != std::string::npos, no_pin.out);

  auto no_device = login("1234", std::string(dev::kFakeDevicePrefix) + m.home.path() + "/unplugged.json");
  CHECK(no_device.exit_code == 4);
  CHECK_MESSAGE(no_device.out.find("no security key found at") != std::string::npos, no_device.out);

  // Nothing was unlocked by any of them, and the right PIN still works once the key is sane.
  CHECK(nlohmann::json::parse(test::run_confer({"status", "--json"}, m.env).out)["unlocked"] == false);
  m.change([](dev::FakeState& s) { s.pin = "1234"; });
  CHECK(login("1234").exit_code == 0);
}

TEST_CASE("login: keys rotate touches each enrolled security key, and the second key opens the rotated history") {
  KeyMachine m;
  std::string second_state = m.home.path() + "/second-key.json";
  std::string second = std::string(dev::kFakeDevicePrefix) + second_state;
  dev::FakeState s;
  s.pin = "1234";
  s.protocols = {1};
  s.ctap21 = false;
  REQUIRE(dev::save_fake_state(second_state, s).ok());
  auto reg = m.on_terminal({"login", "--register", "--device", m.device, "--remember", "10m"});
  REQUIRE_MESSAGE(reg.exit_code == 0, reg.out);
  auto add = m.on_terminal({"keys", "add", "--device", second});
  REQUIRE_MESSAGE(add.exit_code == 0, add.out);
  auto listed = nlohmann::json::parse(test::run_confer({"keys", "list", "--json"}, m.env).out);
  REQUIRE(listed.size() == 2);
  // No --device: each key is found where it was enrolled.
  auto rotated = m.on_terminal({"keys", "rotate"});
  REQUIRE_MESSAGE(rotated.exit_code == 0, rotated.out);
  CHECK(rotated.out.find("rotated: a new root key for 2 way(s) in") != std::string::npos);
  REQUIRE(test::run_confer({"logout"}, m.env).exit_code == 0);
  auto with_second = m.on_terminal({"login", "--device", second, "--remember", "5m"});
  CHECK_MESSAGE(with_second.exit_code == 0, with_second.out);
  CHECK(dev::load_fake_state(second_state).value().credentials[0].counter == 3);  // add, rotate, login
  CHECK(dev::load_fake_state(m.state).value().credentials[0].counter == 2);       // register, rotate
  // --recovery with a device is refused rather than half-ignored.
  auto mixed = test::run_confer({"keys", "add", "--recovery", "--device", second}, m.env);
  CHECK(mixed.exit_code == 2);
}
