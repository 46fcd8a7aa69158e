// MemoryStore: a Store that keeps everything in memory, for tests and for
// embedders who persist elsewhere (Export/Import move a channel in and out as
// nim-sds-compatible ChannelData). Any operation can be made to fail, to test
// the engine's failure policy.
#ifndef SDS_MEMORY_STORE_H_
#define SDS_MEMORY_STORE_H_

#include <array>
#include <map>
#include <memory>
#include <string>

#include "sds/store.h"

namespace sds {

class MemoryStore : public Store {
 public:
  MemoryStore();
  ~MemoryStore() override;

  Result<ChannelData> LoadChannel(const ChannelId& channel_id) override;
  Status SaveChannelMeta(const ChannelId& channel_id, const ChannelMetaDelta& delta) override;
  Status UpdateHistory(const ChannelId& channel_id, const HistoryUpdate& update) override;
  Status DropChannel(const ChannelId& channel_id) override;
  Result<std::vector<ChannelId>> ListChannels() override;
  Status SetRetrievalHint(const ChannelId& channel_id, const MessageId& message_id,
                          ByteSpan hint) override;
  Status CommitOp() override;

  // Replaces the channel's stored state (e.g. state exported by nim-sds).
  Status ImportChannel(const ChannelId& channel_id, const ChannelData& data);
  bool HasChannel(const ChannelId& channel_id) const;

  // Failure injection: while set, the operation returns kPersistence
  // "injected failure: <operation>" and changes nothing.
  void SetFailing(StoreOperation op, bool failing);
  void ClearFailures();
  // Calls of `op` so far (failed ones included).
  size_t CallCount(StoreOperation op) const;

 private:
  struct Channel;
  Status Enter(StoreOperation op);
  std::map<ChannelId, std::unique_ptr<Channel>> channels_;
  std::array<bool, kStoreOperationCount> failing_{};
  std::array<size_t, kStoreOperationCount> calls_{};
};

}  // namespace sds

#endif  // SDS_MEMORY_STORE_H_
