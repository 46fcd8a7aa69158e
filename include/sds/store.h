// Store: where a ReliabilityManager persists its channels.
//
// The contract is nim-sds's snapshot persistence (five operations: save
// channel meta, update history, load channel, drop channel, set retrieval
// hint), with one change that keeps the cost of an operation independent of
// how much a channel holds: SaveChannelMeta receives what changed since the
// last successful save (ChannelMetaDelta), not the whole snapshot. A store
// applies the delta to what it holds; LoadChannel returns the whole snapshot
// (ChannelData, encodable with EncodeChannelData for export to nim-sds).
//
// When the engine calls what (nim-sds.md §6.3), and what it does on failure:
//   - Wrap, Unwrap (duplicates included), MarkDependenciesMet, and Tick for
//     each channel that changed: at the end, at most one SaveChannelMeta and
//     one UpdateHistory, bracketed by BeginOp/CommitOp so that a store may
//     write them in one transaction. Failures are logged and the operation
//     succeeds: the unsaved changes stay pending in the engine and go out with
//     the next save (history batches merge, latest operation wins).
//   - Bootstrap (first use of a channel): LoadChannel; RemoveChannel and
//     Reset: DropChannel. Their failures are returned as
//     ErrorCode::kPersistence and memory is left as it was.
//   - Create (ReliabilityManager::Create with a store): ListChannels, then
//     LoadChannel for each, so that stored channels resend, repair and sync on
//     time without the application touching them. A failure fails Create
//     with kPersistence.
//   - SetRetrievalHint: when the application or the hint provider supplies a
//     hint for a delivered message; failures are logged (the hint is sent
//     again with the message's next history write).
//   - SaveCatchUpCursor: by ReliabilityManager::CommitCatchUp (catchup.h),
//     last in the group that saves the changes the cursor covers, and only
//     when every other write of the group succeeded; a failure leaves the
//     stored cursor where it was. LoadCatchUpCursors: when a catch-up driver
//     starts; its failure is returned.
//
// Stores are used from the thread that owns the manager; several managers
// may share one store only if it says so (SqliteStore: one per manager).
#ifndef SDS_STORE_H_
#define SDS_STORE_H_

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "sds/snapshot.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds {

// The changes to a channel's meta since the last successful save. Entries in
// `*_upsert` are inserted or replace the stored entry with the same id
// (keeping its position); ids in `*_remove` are deleted (absent ids are not an
// error). When `replace` is true the delta is the whole state: the store
// first forgets every buffer entry and the duplicate window of the channel.
struct ChannelMetaDelta {
  bool replace = false;
  // Always the current values.
  LamportTime lamport = 0;
  std::optional<Timestamp> sync_due;
  uint64_t sync_count = 0;

  std::vector<SnapshotOutgoing>
      outgoing_upsert;  // listed by send_time (stored order: send_time, then first insertion)
  std::vector<MessageId> outgoing_remove;
  std::vector<SnapshotIncoming> incoming_upsert;  // new ones in arrival order
  std::vector<MessageId> incoming_remove;
  std::vector<SnapshotOutgoingRepair> outgoing_repair_upsert;
  std::vector<MessageId> outgoing_repair_remove;
  std::vector<SnapshotIncomingRepair> incoming_repair_upsert;
  std::vector<MessageId> incoming_repair_remove;

  // Ids newly remembered for duplicate detection, oldest first; the store
  // keeps the most recent `delivered_window` of them.
  std::vector<MessageId> delivered_add;
  size_t delivered_window = 0;

  // A delta that replaces the stored state with `meta`.
  static ChannelMetaDelta FromSnapshot(const ChannelMeta& meta, size_t delivered_window);
};

// The operations a Store can be asked to fail (MemoryStore failure injection).
enum class StoreOperation : uint8_t {
  kSaveChannelMeta,
  kUpdateHistory,
  kLoadChannel,
  kDropChannel,
  kSetRetrievalHint,
  kCommitOp,
  kListChannels,
  kSaveCatchUpCursor,
  kLoadCatchUpCursors,
};
inline constexpr size_t kStoreOperationCount = 9;

// A catch-up cursor as stored: the driver's encoding of (epoch, seq), opaque
// to the store.
struct StoredCatchUpCursor {
  ChannelId channel_id;
  Bytes cursor;
};
const char* StoreOperationName(StoreOperation op);

class Store {
 public:
  virtual ~Store() = default;

  // The full stored state of the channel (histories oldest first), or an
  // empty ChannelData (schema 1, lamport 0) for a channel never saved.
  virtual Result<ChannelData> LoadChannel(const ChannelId& channel_id) = 0;
  virtual Status SaveChannelMeta(const ChannelId& channel_id, const ChannelMetaDelta& delta) = 0;
  // Never called with an empty update. Appending an id already stored moves
  // it to the end (it was evicted and delivered again).
  virtual Status UpdateHistory(const ChannelId& channel_id, const HistoryUpdate& update) = 0;
  // Every channel the store holds state for (saved meta or history), sorted.
  virtual Result<std::vector<ChannelId>> ListChannels() = 0;
  // Wipes every trace of the channel, atomically.
  virtual Status DropChannel(const ChannelId& channel_id) = 0;
  // Records the hint of a stored history message (unknown ids: no error).
  virtual Status SetRetrievalHint(const ChannelId& channel_id, const MessageId& message_id,
                                  ByteSpan hint) = 0;

  // Catch-up cursors, one per (store_id, channel): how far the channel's log
  // on that store has been applied (catchup.h). Saving replaces the previous
  // cursor; DropChannel forgets the channel's cursors on every store.
  virtual Status SaveCatchUpCursor(ByteSpan store_id, const ChannelId& channel_id,
                                   ByteSpan cursor) = 0;
  // Every cursor saved for `store_id`, ordered by channel id.
  virtual Result<std::vector<StoredCatchUpCursor>> LoadCatchUpCursors(ByteSpan store_id) = 0;

  // Groups the writes of one engine operation. Between BeginOp and CommitOp a
  // store may defer its writes; CommitOp makes all of them durable, or none
  // (it then returns the failure, and the engine treats every write of the
  // group as failed). Calls outside a group are each their own group.
  virtual void BeginOp() {}
  virtual Status CommitOp() { return Status::Ok(); }
};

}  // namespace sds

#endif  // SDS_STORE_H_
