// The one way tests start a program: the built binaries (confer, confer-server, the fake
// upstream, the evil server), in the foreground with captured output or in the
// background until stopped with SIGTERM, or on a pseudo-terminal.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace confer::test {

struct Run {
  int exit_code = -1;  // the exit status, or 128 + the signal that ended the process
  std::string out;     // captured stdout (SpawnOptions::capture)
  std::string err;     // captured stderr (SpawnOptions::capture)
};

struct SpawnOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) this process's environment
  std::vector<std::string> unset;          // removed from it
  // Written to the child's stdin from a thread, which is then closed (so "" is an
  // immediate end of input). Without it the child inherits our stdin.
  std::optional<std::string> stdin_text;
  // stdout and stderr go into Run::out and Run::err (read from threads, so a chatty
  // child never blocks); otherwise they are inherited.
  bool capture = false;
  // stdin, stdout and stderr are a new pseudo-terminal, the child's controlling one;
  // read and write it through pty_master(). Excludes stdin_text and capture.
  bool pty = false;
};

class Process {
 public:
  // Starts `bin` with `args` (argv[0] is `bin`). Fails the calling test if it cannot.
  Process(const std::string& bin, const std::vector<std::string>& args, SpawnOptions options = {});
  ~Process();  // stop()
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const { return pid_; }
  int pty_master() const { return pty_master_; }
  // True while the child has not exited (it is not reaped by this).
  bool running() const;
  // Waits for the child to exit by itself: its status and captured output.
  Run wait();
  // As wait(), but gives up after `timeout` (the child is left running).
  std::optional<Run> wait_for(std::chrono::milliseconds timeout);
  // SIGTERM (unless it has already exited), then as wait(); later calls repeat the result.
  Run stop();

 private:
  Run finish(int status);

  int pid_ = -1;
  int pty_master_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::thread feeder_;
  std::thread out_reader_;
  std::thread err_reader_;
  std::string out_;
  std::string err_;
  std::optional<Run> result_;
};

// Runs the built `confer` with `args` to completion, capturing its output; `env` entries
// are added (a value "" unsets the variable); `stdin_text` is its whole input.
Run run_confer(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
               const std::string& stdin_text = {});

}  // namespace confer::test
