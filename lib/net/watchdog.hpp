// A deadline for blocking socket calls: when it passes, the socket is shut down from a
// thread of its own, so that a blocked read or write returns instead of waiting for ever.
// The clock can be paused (while the caller does work of its own that the peer must not
// be charged for) and resumed with the time that was left.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace confer::net {

class Watchdog {
 public:
  Watchdog(int fd, std::chrono::steady_clock::duration limit);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void pause();
  void resume();
  // Whether the deadline passed and the socket was shut down.
  bool fired();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::duration left_{};
  bool paused_ = false;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: started once the rest is set
};

}  // namespace confer::net
