// What the benchmarks share: a clock and percentiles; for the history and sync
// benchmarks a turn of typical size and the baseline they are measured against (raw
// AES-256-GCM opens of records of that size); for the channel and load benchmarks the
// helper processes they start (the fake upstream, confer-server).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.hpp"
#include "core/time.hpp"
#include "crypto/aead.hpp"
#include "store/history.hpp"

namespace confer::bench {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
inline double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Nearest rank: the smallest value with at least p of them at or below it (p in [0, 1]);
// NaN for none.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nan("");
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  size_t i = std::clamp<size_t>(rank, 1, values.size()) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(i), values.end());
  return values[i];
}

// A helper process (args[0] is the binary), with the benchmark's standard streams;
// SIGTERM and reaped when stopped or destroyed.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    std::vector<char*> argv;  // built before fork: the child only execs
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (pid_ < 0) status_ = 127;
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // False once it has exited (then reaped; status() says how).
  bool running() {
    if (status_) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) != pid_) return true;
    status_ = decode(st);
    return false;
  }
  std::optional<int> status() const { return status_; }
  // SIGTERM unless it has exited, then waits: the exit status, or 128 + the signal.
  int stop() {
    if (!running()) return *status_;
    kill(pid_, SIGTERM);
    int st = 0;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = decode(st);
    return *status_;
  }
  // The port it writes to `path` (atomically, as "PORT\n"): polled until there, or an
  // error when it exits first or `timeout` passes.
  Result<std::string> wait_for_port(const std::string& path, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    auto deadline = Clock::now() + timeout;
    while (!std::filesystem::exists(path)) {
      if (!running()) return make_error(Errc::io, path + ": the process exited before writing its port");
      if (Clock::now() > deadline) return make_error(Errc::io, path + ": no port written in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CONFER_TRY(Bytes text, read_file(path));
    std::string port(text.begin(), text.end());
    while (!port.empty() && (port.back() == '\n' || port.back() == ' ')) port.pop_back();
    return port;
  }

 private:
  static int decode(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }
  pid_t pid_ = -1;
  std::optional<int> status_;
};

inline store::Turn make_turn(int i) {
  store::Turn t;
  t.prompt = "question number " + std::to_string(i) + ": " + std::string(80, 'q');
  t.reply = "answer " + std::to_string(i) + ": " + std::string(400, 'a');
  t.model = "bench-model";
  t.receipt = {"AMD SEV-SNP Milan", std::string(96, 'm'), "pinned measurement", std::string(64, 'k'), now_utc(), ""};
  return t;
}

// Raw AES-256-GCM opens of `count` records of `size` bytes: the floor any store sits on.
inline double raw_decrypt_seconds(size_t count, size_t size) {
  uint8_t key[32] = {1};
  crypto::GcmNonce nonce{};
  Bytes plain(size, 'x'), sealed(size + crypto::kGcmTagSize), out(size);
  if (!crypto::aes256gcm_seal(key, nonce, {}, plain, sealed.data())) std::exit(1);
  auto t = Clock::now();
  for (size_t i = 0; i < count; ++i)
    if (!crypto::aes256gcm_open(key, nonce, {}, sealed, out.data())) std::exit(1);
  return since(t);
}

}  // namespace confer::bench
