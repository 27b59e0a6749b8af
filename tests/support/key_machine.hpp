// A machine for end-to-end tests of confer with a security key: its own XDG folders, the
// development fake key in a state file (offered under CONFER_DEV_AUTHENTICATOR=1), and
// confer run on a pseudo-terminal with the PIN typed each time it is asked for.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "dev/fake_authenticator.hpp"
#include "process.hpp"
#include "support.hpp"

namespace confer::test {

struct KeyMachine {
  TempDir home;
  std::string state = home.path() + "/fake-key.json";
  std::string device = std::string(dev::kFakeDevicePrefix) + state;
  std::map<std::string, std::string> env{{"XDG_DATA_HOME", home.path() + "/data"},
                                         {"XDG_CONFIG_HOME", home.path() + "/config"},
                                         {"XDG_CACHE_HOME", home.path() + "/cache"},
                                         {"CONFER_DEV_AUTHENTICATOR", "1"},
                                         {"NO_COLOR", "1"}};

  KeyMachine();
  ~KeyMachine();
  KeyMachine(const KeyMachine&) = delete;

  template <typename F>
  void change(F f) const {
    auto s = dev::load_fake_state(state).value();
    f(s);
    REQUIRE(dev::save_fake_state(state, s).ok());
  }

  // Runs confer on a terminal, typing `pin` each time it asks for one; all it wrote, and how it ended.
  Run on_terminal(std::vector<std::string> args, const std::string& pin = "1234") const;
};

}  // namespace confer::test
