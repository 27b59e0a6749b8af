#include "process.hpp"

#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <doctest/doctest.h>

extern char** environ;

namespace confer::test {

namespace {

// This process's environment with `options` applied, as "KEY=value" strings.
std::vector<std::string> child_environment(const SpawnOptions& options) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    bool dropped = options.env.count(key) != 0 ||
                   std::find(options.unset.begin(), options.unset.end(), key) != options.unset.end();
    if (!dropped) out.push_back(std::move(entry));
  }
  for (const auto& [k, v] : options.env)
    if (std::find(options.unset.begin(), options.unset.end(), k) == options.unset.end()) out.push_back(k + "=" + v);
  return out;
}

std::string drain(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) out.append(buf, size_t(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  return out;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Process::Process(const std::string& bin, const std::vector<std::string>& args, SpawnOptions options) {
  REQUIRE_MESSAGE(!(options.pty && (options.capture || options.stdin_text)), "pty excludes capture and stdin_text");
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> argv_strings{bin};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = child_environment(options);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Pipes are close-on-exec, so no other child started meanwhile holds an end open.
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (options.stdin_text) REQUIRE(::pipe2(in_pipe, O_CLOEXEC) == 0);
  if (options.capture) {
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  }

  if (options.pty) {
    pid_ = ::forkpty(&pty_master_, nullptr, nullptr, nullptr);
  } else {
    pid_ = ::fork();
  }
  if (pid_ == 0) {
    if (in_pipe[0] >= 0) ::dup2(in_pipe[0], 0);
    if (out_pipe[1] >= 0) ::dup2(out_pipe[1], 1);
    if (err_pipe[1] >= 0) ::dup2(err_pipe[1], 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (in_pipe[0] >= 0) ::close(in_pipe[0]);
  if (out_pipe[1] >= 0) ::close(out_pipe[1]);
  if (err_pipe[1] >= 0) ::close(err_pipe[1]);
  if (pid_ < 0) {
    for (int fd : {in_pipe[1], out_pipe[0], err_pipe[0]})
      if (fd >= 0) ::close(fd);
    FAIL("could not start " << bin << ": " << std::strerror(errno));
  }
  if (pty_master_ >= 0) ::fcntl(pty_master_, F_SETFD, FD_CLOEXEC);

  if (options.stdin_text) {
    feeder_ = std::thread([fd = in_pipe[1], text = std::move(*options.stdin_text)] {
      // A child that exits without reading its input must not kill us with SIGPIPE:
      // blocked here, the signal stays with this thread (and goes with it); write fails.
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
      size_t done = 0;
      while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += size_t(n);
      }
      ::close(fd);
    });
  }
  if (options.capture) {
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    out_reader_ = std::thread([this] { out_ = drain(out_fd_); });
    err_reader_ = std::thread([this] { err_ = drain(err_fd_); });
  }
}

Process::~Process() {
  stop();
  close_fd(pty_master_);
}

bool Process::running() const {
  if (result_ || pid_ <= 0) return false;
  siginfo_t info{};
  if (::waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

Run Process::finish(int status) {
  if (feeder_.joinable()) feeder_.join();
  if (out_reader_.joinable()) out_reader_.join();
  if (err_reader_.joinable()) err_reader_.join();
  close_fd(out_fd_);
  close_fd(err_fd_);
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = std::move(out_);
  r.err = std::move(err_);
  result_ = r;
  return r;
}

Run Process::wait() {
  if (result_) return *result_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  return finish(status);
}

std::optional<Run> Process::wait_for(std::chrono::milliseconds timeout) {
  if (result_) return result_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) return finish(status);
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Run Process::stop() {
  if (result_ || pid_ <= 0) return result_.value_or(Run{});
  ::kill(pid_, SIGTERM);
  return wait();
}

Run run_confer(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
               const std::string& stdin_text) {
  SpawnOptions options;
  for (const auto& [k, v] : env) {
    if (v.empty()) options.unset.push_back(k);
    else options.env[k] = v;
  }
  options.stdin_text = stdin_text;
  options.capture = true;
  return Process(CONFER_BIN, args, std::move(options)).wait();
}

}  // namespace confer::test
