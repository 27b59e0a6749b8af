#include "key_machine.hpp"

#include <poll.h>
#include <unistd.h>

#include <chrono>

namespace confer::test {

KeyMachine::KeyMachine() {
  dev::FakeState s;
  s.pin = "1234";
  REQUIRE(dev::save_fake_state(state, s).ok());
}

KeyMachine::~KeyMachine() { run_confer({"logout"}, env); }

Run KeyMachine::on_terminal(std::vector<std::string> args, const std::string& pin) const {
  SpawnOptions o;
  o.env = env;
  o.pty = true;
  Process p(CONFER_BIN, args, o);
  const std::string ask = "PIN for the security key: ";
  std::string seen;
  size_t answered = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pf{p.pty_master(), POLLIN, 0};
    if (::poll(&pf, 1, 50) > 0) {
      char buf[4096];
      ssize_t n = ::read(p.pty_master(), buf, sizeof buf);
      if (n <= 0) break;  // the child closed the terminal: it has exited
      seen.append(buf, size_t(n));
    }
    size_t asked = 0;
    for (size_t at = seen.find(ask); at != std::string::npos; at = seen.find(ask, at + 1)) ++asked;
    for (; answered < asked; ++answered) {
      std::string line = pin + "\n";
      REQUIRE(::write(p.pty_master(), line.data(), line.size()) == ssize_t(line.size()));
    }
  }
  auto done = p.wait_for(std::chrono::seconds(20));
  REQUIRE_MESSAGE(done.has_value(), seen);
  done->out = seen;
  return *done;
}

}  // namespace confer::test
