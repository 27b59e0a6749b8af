#include "server/store/store_remote.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace confer::server::store {

Result<sync::RemotePage> StoreRemote::changes(int64_t since) {
  CONFER_TRY(auto page, store_.changes(account_, since, page_records_, page_bytes_));
  sync::RemotePage out;
  out.head = page.head;
  out.more = page.more;
  for (auto& c : page.changes)
    out.changes.push_back({c.seq, c.id, int(c.kind), c.revision, c.deleted, c.hash, c.ciphertext});
  return out;
}

Result<std::vector<sync::PutResult>> StoreRemote::put_many(std::span<const sync::Write> writes) {
  std::vector<Write> batch;
  batch.reserve(writes.size());
  for (const auto& w : writes) batch.push_back({w.id, w.kind, w.expected_revision, w.deleted, w.ciphertext});
  CONFER_TRY(auto r, store_.put_many(account_, batch));
  switch (r.refused) {
    case PutStatus::quota: return make_error(Errc::io, "over the account's quota: " + r.detail);
    case PutStatus::no_account: return make_error(Errc::key, "the account no longer exists");
    default: break;
  }
  std::vector<sync::PutResult> out;
  for (const auto& w : r.writes) out.push_back({w.status == PutStatus::stored, w.revision, w.seq});
  return out;
}

Result<std::vector<sync::RemoteCheckpoint>> StoreRemote::checkpoints() {
  CONFER_TRY(auto cps, store_.checkpoints(account_));
  std::vector<sync::RemoteCheckpoint> out;
  for (auto& c : cps) out.push_back({c.device, c.seq, c.digest});
  return out;
}

Result<void> StoreRemote::publish(const std::string& device, int64_t seq, ByteView digest) {
  CONFER_TRY(bool ok, store_.put_checkpoint(account_, {device, seq, Bytes(digest.begin(), digest.end()), now_utc()}));
  if (!ok) return make_error(Errc::io, "the account has its maximum of devices");
  return {};
}

}  // namespace confer::server::store
