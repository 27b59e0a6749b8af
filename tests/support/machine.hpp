// One user's machine for end-to-end tests of history, accounts and receipts: their own
// XDG folders, a passphrase file, and a file authenticator.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support.hpp"

namespace confer::test {

struct Machine {
  TempDir home;
  std::map<std::string, std::string> env{{"XDG_DATA_HOME", home.path() + "/data"},
                                         {"XDG_CONFIG_HOME", home.path() + "/config"},
                                         {"XDG_CACHE_HOME", home.path() + "/cache"},
                                         {"NO_COLOR", "1"}};
  std::string passphrase = home.file("pass", "correct horse battery\n");
  std::string authenticator = home.path() + "/keys/authenticator.json";

  ~Machine() { run({"logout"}); }

  Run run(const std::vector<std::string>& args, const std::string& stdin_text = "") const {
    return run_confer(args, env, stdin_text);
  }
  std::vector<std::string> file_key(std::vector<std::string> args) const {
    for (const std::string& a : {std::string("--authenticator"), "file:" + authenticator,
                                 std::string("--passphrase-file"), passphrase})
      args.push_back(a);
    return args;
  }
  // Registers with cheap Argon2id parameters (this is a test, not a passphrase to protect).
  void register_account(const std::string& remember = "10m") const {
    auto args = file_key({"login", "--register", "--argon2-ops", "1", "--argon2-memory", "8"});
    if (!remember.empty()) args.insert(args.end(), {"--remember", remember});
    auto r = run(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  std::string data() const { return home.path() + "/data/confer"; }
};

}  // namespace confer::test
