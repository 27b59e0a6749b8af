#include "net/watchdog.hpp"

#include <sys/socket.h>

namespace confer::net {

Watchdog::Watchdog(int fd, std::chrono::steady_clock::duration limit)
    : deadline_(std::chrono::steady_clock::now() + limit), thread_([this, fd] {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
          if (done_) return;
          if (paused_) {
            cv_.wait(lock);
            continue;
          }
          if (cv_.wait_until(lock, deadline_) == std::cv_status::timeout && !paused_ && !done_ &&
              std::chrono::steady_clock::now() >= deadline_) {
            fired_ = true;
            ::shutdown(fd, SHUT_RDWR);
            return;
          }
        }
      }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::pause() {
  std::lock_guard<std::mutex> lock(mu_);
  if (paused_) return;
  left_ = deadline_ - std::chrono::steady_clock::now();
  paused_ = true;
  cv_.notify_all();
}

void Watchdog::resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!paused_) return;
  deadline_ = std::chrono::steady_clock::now() + left_;
  paused_ = false;
  cv_.notify_all();
}

bool Watchdog::fired() {
  std::lock_guard<std::mutex> lock(mu_);
  return fired_;
}

}  // namespace confer::net
