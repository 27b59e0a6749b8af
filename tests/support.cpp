#include "support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <doctest/doctest.h>

namespace confer::test {

namespace fs = std::filesystem;

std::string vectors_dir() {
  const char* env = std::getenv("CONFER_VECTORS");
  fs::path dir = env != nullptr && *env != '\0' ? fs::path(env)
                                                : fs::path(CONFER_SOURCE_DIR) / ".." / "shared" / "vectors";
  std::error_code ec;
  if (fs::is_directory(dir / "sev-snp", ec)) return dir.string();
  return {};
}

bool have_vectors() {
  if (!vectors_dir().empty()) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    FAIL("the test vectors are absent under CI=true; set CONFER_VECTORS or place shared/ beside the repo");
  }
  MESSAGE("skipped: test vectors not found (set CONFER_VECTORS)");
  return false;
}

Bytes vector_file(const std::string& relative) {
  auto bytes = read_file(vectors_dir() + "/" + relative);
  REQUIRE_MESSAGE(bytes.ok(), relative);
  return std::move(bytes).value();
}

static std::string drain(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  return out;
}

Run run_confer(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
               const std::string& stdin_text) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  REQUIRE(::pipe(in_pipe) == 0);
  REQUIRE(::pipe(out_pipe) == 0);
  REQUIRE(::pipe(err_pipe) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    for (const auto& [k, v] : env) {
      if (v.empty()) ::unsetenv(k.c_str());
      else ::setenv(k.c_str(), v.c_str(), 1);
    }
    std::vector<char*> argv;
    std::string bin = CONFER_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    _exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // Feed stdin from a thread so a large output cannot deadlock us.
  std::thread feeder([fd = in_pipe[1], text = stdin_text] {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    ::close(fd);
  });
  std::string err;
  std::thread err_reader([&] { err = drain(err_pipe[0]); });
  Run r;
  r.out = drain(out_pipe[0]);
  err_reader.join();
  feeder.join();
  r.err = err;
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "confer-test-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::file(const std::string& name, ByteView contents) const {
  std::string p = path_ + "/" + name;
  fs::create_directories(fs::path(p).parent_path());
  REQUIRE(write_file_atomic(p, contents).ok());
  return p;
}

std::string TempDir::file(const std::string& name, const std::string& contents) const {
  return file(name, as_bytes(contents));
}

LoopbackHttp::LoopbackHttp(int status, Bytes body) : status_(status), body_(std::move(body)) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd_, 8) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, 100);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      if (ready <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, size_t(n));
      }
      size_t sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (sp1 != std::string::npos && sp2 != std::string::npos)
          targets_.push_back(req.substr(sp1 + 1, sp2 - sp1 - 1));
      }
      std::string head = "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Length: " +
                         std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n";
      (void)::write(c, head.data(), head.size());
      (void)::write(c, body_.data(), body_.size());
      ::close(c);
    }
  });
}

LoopbackHttp::~LoopbackHttp() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  thread_.join();
  ::close(fd_);
}

std::string LoopbackHttp::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> LoopbackHttp::targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

Child::Child(const std::string& bin, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env) {
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    std::string b = bin;
    argv.push_back(b.data());
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(b.c_str(), argv.data());
    _exit(127);
  }
}

int Child::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Child::~Child() { stop(); }

std::string wait_for_file(const std::string& path, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto bytes = read_file(path);
    if (bytes && !bytes->empty()) return std::string(bytes->begin(), bytes->end());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("timed out waiting for " << path);
  return {};
}

const dev::DevAuthority& dev_authority(attest::Product product) {
  static std::mutex mu;
  static std::map<attest::Product, dev::DevAuthority> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(product);
  if (it == cache.end()) {
    auto a = dev::DevAuthority::create(product);
    REQUIRE(a.ok());
    it = cache.emplace(product, std::move(a).value()).first;
  }
  return it->second;
}

DevEvidence make_dev_evidence(const attest::SnpReport& report, const dev::DevCertSpec* spec, attest::Product product) {
  const auto& authority = dev_authority(product);
  dev::DevCertSpec s = spec != nullptr ? *spec : authority.spec_for(report);
  auto signer = authority.issue(s);
  REQUIRE(signer.ok());
  auto bytes = dev::sign_report(report, signer->key.get());
  REQUIRE(bytes.ok());
  return DevEvidence{report, std::move(bytes).value(), signer->cert};
}

}  // namespace confer::test
