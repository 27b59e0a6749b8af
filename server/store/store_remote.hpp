// The server's store for one account as the sync engine sees a server: the engine run
// in-process against server/store, with no channel between. For tests and benchmarks of
// sync, and for whatever runs the store and the engine in one process.
#pragma once

#include <memory>
#include <string>

#include "server/store/store.hpp"
#include "sync/remote.hpp"

namespace confer::server::store {

class StoreRemote : public sync::Remote {
 public:
  StoreRemote(Store& store, std::string account, size_t page_records = 500, size_t page_bytes = 4u << 20)
      : store_(store), account_(std::move(account)), page_records_(page_records), page_bytes_(page_bytes) {}
  Result<sync::RemotePage> changes(int64_t since) override;
  Result<std::vector<sync::PutResult>> put_many(std::span<const sync::Write> writes) override;
  Result<std::vector<sync::RemoteCheckpoint>> checkpoints() override;
  Result<void> publish(const std::string& device, int64_t seq, ByteView digest) override;
  void set_page_records(size_t n) { page_records_ = n; }

 private:
  Store& store_;
  std::string account_;
  size_t page_records_, page_bytes_;
};

}  // namespace confer::server::store
