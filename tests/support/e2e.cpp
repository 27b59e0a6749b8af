#include "e2e.hpp"

#include <filesystem>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "crypto/hash.hpp"

namespace confer::test {

namespace {

// The non-empty lines of `path` (none when it is absent).
std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  auto bytes = read_file(path);
  if (!bytes) return out;
  std::istringstream in(std::string(bytes->begin(), bytes->end()));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

}  // namespace

Upstream::Upstream(std::vector<std::string> extra) {
  std::vector<std::string> args{"--port-file", dir.path() + "/port", "--log", log, "--events", events};
  args.insert(args.end(), extra.begin(), extra.end());
  child = std::make_unique<Process>(FAKE_UPSTREAM_BIN, args);
  url = "http://127.0.0.1:" + trim(wait_for_file(dir.path() + "/port"));
}

std::vector<std::string> Upstream::requests() const { return lines_of(log); }

std::vector<std::string> Upstream::ends() const { return lines_of(events); }

std::string Upstream::trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Server::Server(const std::string& upstream, const std::string& bin, std::vector<std::string> extra,
               std::vector<std::string> wrapper, std::map<std::string, std::string> env) {
  std::vector<std::string> args;
  if (bin == CONFER_SERVER_BIN)
    args = {"--listen", "127.0.0.1:0", "--attestation", "dev", "--dev-root", root, "--upstream", upstream,
            "--port-file", dir.path() + "/port"};
  else
    args = {"--upstream", upstream, "--dev-root", root, "--port-file", dir.path() + "/port"};
  if (bin == CONFER_SERVER_BIN && std::find(extra.begin(), extra.end(), "--store") == extra.end())
    args.insert(args.end(), {"--store", "sqlite:" + dir.path() + "/store.db"});
  args.insert(args.end(), extra.begin(), extra.end());
  SpawnOptions options;
  options.env = std::move(env);
  if (wrapper.empty()) {
    child = std::make_unique<Process>(bin, args, options);
  } else {
    args.insert(args.begin(), bin);
    args.insert(args.begin(), wrapper.begin() + 1, wrapper.end());
    child = std::make_unique<Process>(wrapper.front(), args, options);
  }
  url = "ws://127.0.0.1:" + Upstream::trim(wait_for_file(dir.path() + "/port"));
}

std::string server_measurement() {
  static const std::string m = to_hex(crypto::sha384(*read_file(CONFER_SERVER_BIN)));
  return m;
}

std::vector<std::string> trusted(const Server& s, std::vector<std::string> args) {
  args.insert(args.begin(), {"chat", "--server", s.url, "--trust-root", s.root, "--expect-measurement",
                             server_measurement()});
  return args;
}

std::string expect(int fd, const std::string& needle, std::string& seen, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, size_t(n));
  }
  return seen;
}

FakeTsmKernel::FakeTsmKernel(std::string root, Answer answer)
    : root_(std::move(root)), answer_(std::move(answer)), thread_([this] { loop(); }) {}

FakeTsmKernel::~FakeTsmKernel() {
  stop_ = true;
  thread_.join();
}

void FakeTsmKernel::loop() {
  namespace fs = std::filesystem;
  while (!stop_) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_, ec)) {
      std::string dir = entry.path().string();
      if (fs::exists(dir + "/outblob", ec)) continue;
      auto in = read_file(dir + "/inblob");
      if (!in || in->size() != 64) continue;
      auto out = answer_(*in);
      if (!out) continue;
      (void)write_file_atomic(dir + "/generation", as_bytes("1\n"));
      (void)write_file_atomic(dir + "/provider", as_bytes(out->provider + "\n"));
      if (!out->auxblob.empty()) (void)write_file_atomic(dir + "/auxblob", out->auxblob);
      (void)write_file_atomic(dir + "/outblob", out->outblob);
      ++served_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace confer::test
