// The end-to-end fixtures: the fake upstream and the real confer-server (development
// attestation) as child processes, confer's trust flags for that server, and reading a
// pseudo-terminal until some text appears.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "support.hpp"

namespace confer::test {

struct Upstream {
  TempDir dir;
  std::string log = dir.path() + "/upstream.log";
  std::string events = dir.path() + "/events.log";  // the fake's --events
  std::unique_ptr<Process> child;
  std::string url;

  explicit Upstream(std::vector<std::string> extra = {});
  // Every request body the upstream received, one per line.
  std::vector<std::string> requests() const;
  // Every streamed chat that ended: "end MS REASON SENT" (tests/fake_upstream.cpp).
  std::vector<std::string> ends() const;
  static std::string trim(std::string s);
};

struct Server {
  TempDir dir;
  std::string root = dir.path() + "/dev-root.pem";
  std::unique_ptr<Process> child;
  std::string url;

  // `wrapper`: a program and its arguments that start `bin` (e.g. prlimit --nofile=64:64 --);
  // the child is then the wrapper, which must exec `bin` in its own process. `env`: added
  // to (or replacing in) the child's environment.
  Server(const std::string& upstream, const std::string& bin = CONFER_SERVER_BIN, std::vector<std::string> extra = {},
         std::vector<std::string> wrapper = {}, std::map<std::string, std::string> env = {});
};

// Plays the kernel's part of configfs-tsm in a plain directory: for each new entry with
// a 64-byte inblob, `answer` gives what the kernel would show (provider, outblob,
// auxblob); written generation first and outblob last, each by rename.
class FakeTsmKernel {
 public:
  struct Entry {
    std::string provider;  // "sev_guest", "tdx_guest"
    Bytes outblob;
    Bytes auxblob;         // empty: none
  };
  using Answer = std::function<std::optional<Entry>(const Bytes& inblob)>;
  FakeTsmKernel(std::string root, Answer answer);
  ~FakeTsmKernel();
  int served() const { return served_; }

 private:
  void loop();
  std::string root_;
  Answer answer_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

// The development provider measures the server binary itself.
std::string server_measurement();
// "chat --server URL --trust-root ROOT --expect-measurement M" then `args`.
std::vector<std::string> trusted(const Server& s, std::vector<std::string> args);
// Reads `fd` into `seen` until `needle` appears or `seconds` pass; returns `seen`.
std::string expect(int fd, const std::string& needle, std::string& seen, int seconds = 30);

}  // namespace confer::test
