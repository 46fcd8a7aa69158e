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
#include <utility>
#include <vector>

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
  Status SaveCatchUpCursor(ByteSpan store_id, const ChannelId& channel_id,
                           ByteSpan cursor) override;
  Result<std::vector<StoredCatchUpCursor>> LoadCatchUpCursors(ByteSpan store_id) override;
  // Writes apply at once, except cursors: a cursor saved inside a group is
  // kept aside and applied only when CommitOp succeeds, so that an injected
  // commit failure never leaves a cursor ahead of the state it covers.
  void BeginOp() override;
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
  // (store_id, channel) -> cursor bytes.
  std::map<std::pair<Bytes, ChannelId>, Bytes> cursors_;
  bool in_group_ = false;
  std::vector<std::pair<std::pair<Bytes, ChannelId>, Bytes>> group_cursors_;
  std::array<bool, kStoreOperationCount> failing_{};
  std::array<size_t, kStoreOperationCount> calls_{};
};

}  // namespace sds

#endif  // SDS_MEMORY_STORE_H_
