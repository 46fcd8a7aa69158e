// The engine behind ReliabilityManager (see include/sds/reliability_manager.h).
#ifndef SDS_CORE_RELIABILITY_MANAGER_IMPL_H_
#define SDS_CORE_RELIABILITY_MANAGER_IMPL_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/channel_state.h"
#include "core/own_echoes.h"
#include "sds/bloom_filter.h"
#include "sds/log.h"
#include "sds/reliability_manager.h"
#include "sds/store.h"

namespace sds {

namespace internal {

// When the receive side of the Lamport rule may apply (lamport.cc).
enum class ReceiveStage : uint8_t {
  kArrived,    // a new content message or a sync message was accepted
  kDelivered,  // a content message was delivered (its dependencies are met)
};

inline constexpr std::string_view kRepairDisabledMessage =
    "SDS-R repair is disabled because no participant_id is configured: missing messages are "
    "not requested from peers and peers' requests are not answered";

}  // namespace internal

class ReliabilityManager::Impl {
 public:
  // A write made inside a channel's store group (a catch-up cursor).
  using GroupWrite = std::function<Status(Store&)>;

  Impl(const Config& config, std::shared_ptr<Store> store);

  void SetLogger(LogCallback logger);
  Status TryReset();

  const Config& config() const { return config_; }
  Store* store() const { return store_.get(); }

  Status EnsureChannel(const ChannelId& channel_id);
  Status RemoveChannel(const ChannelId& channel_id);
  bool HasChannel(const ChannelId& channel_id) const { return channels_.count(channel_id) != 0; }
  std::vector<ChannelId> Channels() const;
  void Reset();

  void SetRetrievalHintProvider(RetrievalHintProvider provider) {
    hint_provider_ = std::move(provider);
  }
  Status SetRetrievalHint(const ChannelId& channel_id, const MessageId& message_id, Bytes hint);

  Result<SharedBytes> Wrap(const ChannelId& channel_id, ByteSpan content,
                           const MessageId& message_id, Timestamp now);
  Result<SharedBytes> WrapEphemeral(const ChannelId& channel_id, ByteSpan content,
                                    const MessageId& message_id, Timestamp now);
  Result<SharedBytes> MakeSyncMessage(const ChannelId& channel_id, const MessageId& message_id,
                                      Timestamp now);
  // `expected_channel`: reject (before any change) a message of another channel.
  Result<UnwrapResult> Unwrap(ByteSpan wire, Timestamp now,
                              const ChannelId* expected_channel = nullptr);
  Result<UnwrapResult> UnwrapShared(const SharedBytes& wire, Timestamp now,
                                    const ChannelId* expected_channel = nullptr);
  Status MarkDependenciesMet(const ChannelId& channel_id, std::span<const MessageId> message_ids,
                             Timestamp now);

  // Catch-up support (catchup_support.cc).
  Result<UnwrapResult> UnwrapOnChannel(const ChannelId& channel_id, ByteSpan wire, Timestamp now);
  void BeginCatchUpGroup();
  Status CommitCatchUp(const ChannelId& channel_id, const GroupWrite& cursor_write);
  bool IsKnown(const ChannelId& channel_id, const MessageId& message_id) const;
  std::vector<HistoryEntry> PendingDependencies(const ChannelId& channel_id) const;

  Timestamp Tick(Timestamp now);
  Timestamp NextDeadline() const;

  std::optional<Event> PollEvent();
  std::vector<Event> TakeEvents();
  size_t PendingEventCount() const { return events_.size(); }

  // Test and tool access to the raw state. Who edits it directly must call
  // InvalidateDeadlineIndex: the next Tick or NextDeadline rebuilds the index.
  void InvalidateDeadlineIndex() { deadline_index_stale_ = true; }
  internal::ChannelState* FindChannel(const ChannelId& channel_id);
  const internal::ChannelState* FindChannel(const ChannelId& channel_id) const;

 private:
  // How a channel is being reached: by the application (or the store), or by
  // a received message (subject to Config::channel_admission).
  enum class ChannelUse : uint8_t { kLocal, kRemote };
  Result<internal::ChannelState*> GetOrCreateChannel(const ChannelId& channel_id,
                                                     ChannelUse use = ChannelUse::kLocal,
                                                     Timestamp now = Timestamp{});
  // Makes room for a remote-created channel (kAny): reclaims the one idle
  // longest, if it has been idle for remote_channel_idle_timeout.
  Status AdmitRemoteChannel(const ChannelId& channel_id, Timestamp now);

 public:
  // Loads every channel the store lists (at Create).
  Status LoadStoredChannels();

 private:
  Status CheckId(const std::string& id, const char* what) const;
  Status CheckContent(ByteSpan content) const;
  BloomParseLimits BloomLimits() const;
  // Everything that can reject a decoded message, before any state changes.
  Status ValidateReceived(const DecodedMessage& decoded) const;

  // Encodes a message of ours carrying the channel's state (Lamport already
  // advanced): causal history, bloom filter and due repair requests.
  SharedBytes EncodeStateMessage(internal::ChannelState& channel, const MessageId& message_id,
                                 std::optional<ByteSpan> content, Timestamp now);
  // A sync message of ours on the channel (Tick's, or MakeSyncMessage's).
  SharedBytes EncodeSyncMessage(internal::ChannelState& channel, const MessageId& message_id,
                                Timestamp now);
  std::vector<HistoryEntry> RecentCausalHistory(internal::ChannelState& channel);
  // The filter our next message carries (right-sized or the rolling one).
  const BloomFilter& OutgoingBloom(internal::ChannelState& channel, Timestamp now);
  void AddToHistory(internal::ChannelState& channel, const MessageId& id,
                    internal::HistoryRecord record);
  // ---- Order of the history (history_order.cc) ----
  void InsertInHistoryOrder(internal::ChannelState& channel,
                            internal::ChannelState::HistoryMap::value_type* entry);
  void SortLoadedHistory(internal::ChannelState& channel);

  // ---- Lamport clock (lamport.cc) ----
  void AdvanceLamportForSend(internal::ChannelState& channel, Timestamp now);
  // The receive rule; each dialect applies it at one `stage` and ignores the other.
  void AdvanceLamportForReceive(internal::ChannelState& channel, LamportTime received,
                                internal::ReceiveStage stage);

  // ---- Acknowledgements (acknowledgement.cc) ----
  void ReviewAcknowledgements(internal::ChannelState& channel, const DecodedMessage& decoded);

  // ---- Delivery and the incoming buffer (delivery.cc) ----
  // Delivers a message whose dependencies are all met, then everything it unblocks.
  void DeliverAndCascade(internal::ChannelState& channel, DecodedMessage decoded);
  void ResolveDependency(internal::ChannelState& channel, const MessageId& id,
                         std::deque<DecodedMessage>& ready);
  void DeliverOne(internal::ChannelState& channel, DecodedMessage decoded);
  void BufferIncoming(internal::ChannelState& channel, DecodedMessage decoded,
                      const std::vector<HistoryEntry>& missing, Timestamp now);
  void DropIncoming(internal::ChannelState& channel,
                    std::list<internal::IncomingEntry>::iterator it, std::string reason);
  // After a load: buffered copies of messages already delivered are dropped,
  // and buffered messages whose dependencies are all known are delivered.
  void ReleaseLoadedIncoming(internal::ChannelState& channel);

  // ---- SDS-R (repair.cc) ----
  // Schedules requests for `missing` messages not already requested.
  void RequestRepairs(internal::ChannelState& channel, const std::vector<HistoryEntry>& missing,
                      Timestamp now);
  std::vector<HistoryEntry> TakeDueRepairRequests(internal::ChannelState& channel, Timestamp now);
  // The message is here: nobody needs to ask for it or answer for it.
  void CancelRepairs(internal::ChannelState& channel, const MessageId& id);
  void HandleRepairRequests(internal::ChannelState& channel, const Message& message, Timestamp now);
  // Postpones requests still due after a sync message carried its share.
  void DeferDueRepairRequests(internal::ChannelState& channel, Timestamp now);
  // Sends due answers and expires stale requests; true if a request is due.
  bool TickRepairs(internal::ChannelState& channel, Timestamp now);
  Timestamp RepairDeadline(const internal::ChannelState& channel) const;

  // ---- Timers (timers.cc) ----
  // A new message of a peer arrived: a sync becomes due (jittered) unless one is.
  void ScheduleSync(internal::ChannelState& channel, const Message& received, Timestamp now);
  // SyncPolicy::kUnacknowledgedReceipts: forgets the receipts `decoded`
  // acknowledges for us, and the due sync once none is left.
  void NoteAcknowledgedReceipts(internal::ChannelState& channel, const DecodedMessage& decoded);
  // sync_message_interval, +-10% from the injected entropy (or its fallback).
  Duration JitteredSyncInterval(const internal::ChannelState& channel) const;
  void TickChannel(internal::ChannelState& channel, Timestamp now);
  Timestamp ChannelDeadline(const internal::ChannelState& channel) const;
  // Puts the channel in the deadline index at its current deadline; called
  // whenever an operation on the channel ends (PersistScope) and on load.
  void Reschedule(internal::ChannelState& channel) const;
  void Unschedule(internal::ChannelState& channel) const;
  void RebuildDeadlineIndexIfStale() const;
  // Forgets a channel (memory only), and its place in the deadline index.
  void EraseChannel(std::map<ChannelId, std::unique_ptr<internal::ChannelState>>::iterator it);

  // ---- Persistence (a no-op without a store) ----
  // Brackets an operation on a channel: the outermost scope saves what the
  // operation changed when it ends (at most one meta save and one history
  // update, in one store group), logs failures and keeps them pending.
  class PersistScope {
   public:
    PersistScope(Impl* impl, internal::ChannelState* channel);
    ~PersistScope();
    PersistScope(const PersistScope&) = delete;
    PersistScope& operator=(const PersistScope&) = delete;

   private:
    Impl* impl_;
    ChannelId channel_id_;  // looked up again at the end: the operation may remove it
  };
  bool persisting() const { return store_ != nullptr; }
  void Log(LogLevel level, const std::string& message) const;
  Status LoadChannelState(internal::ChannelState& channel);
  // Saves what is pending on the channel in one store group; `also`, when
  // given, is written last in the same group, and only if everything before
  // it succeeded. Returns the first failure (failures stay pending).
  Status PersistChannel(internal::ChannelState& channel, const GroupWrite* also = nullptr);
  void TouchOutgoing(internal::ChannelState& channel, const MessageId& id) {
    if (store_) channel.persist.outgoing.Insert(id);
  }
  void TouchIncoming(internal::ChannelState& channel, const MessageId& id) {
    if (store_) channel.persist.incoming.Insert(id);
  }
  void TouchOutgoingRepair(internal::ChannelState& channel, const MessageId& id) {
    if (store_) channel.persist.outgoing_repair.Insert(id);
  }
  void TouchIncomingRepair(internal::ChannelState& channel, const MessageId& id) {
    if (store_) channel.persist.incoming_repair.Insert(id);
  }
  void TouchHint(internal::ChannelState& channel, const MessageId& id) {
    if (store_) channel.persist.hints.Insert(id);
  }
  // Records `id` entering the duplicate window (call before inserting it).
  void TouchDelivered(internal::ChannelState& channel, const MessageId& id);
  void QueueHistoryAppend(internal::ChannelState& channel, const MessageId& id);
  void QueueHistoryEvict(internal::ChannelState& channel, const MessageId& id);

  std::shared_ptr<Store> store_;
  LogCallback log_;
  bool reported_repair_disabled_ = false;  // said once per manager, at the first gap
  int persist_depth_ = 0;

  Config config_;
  BloomParameters spec_bloom_params_;  // geometry expected of spec-dialect peer filters
  std::map<ChannelId, std::unique_ptr<internal::ChannelState>> channels_;
  size_t remote_channels_ = 0;  // channels_ with remote_created set
  std::deque<Event> events_;
  RetrievalHintProvider hint_provider_;
  // Every channel with a deadline, earliest first, so that Tick and
  // NextDeadline cost what is due, not what exists. Mutable: NextDeadline
  // rebuilds it after direct edits of the state (InvalidateDeadlineIndex).
  mutable std::set<std::pair<Timestamp, internal::ChannelState*>> deadline_index_;
  mutable bool deadline_index_stale_ = false;
  internal::OwnEchoes own_echoes_;  // what we sent, to recognise it coming back
};

}  // namespace sds

#endif  // SDS_CORE_RELIABILITY_MANAGER_IMPL_H_
