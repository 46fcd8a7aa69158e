// Per-channel protocol state of the engine.
//
//            wrap ──▶ outgoing (unacknowledged, oldest broadcast first) ──ack──▶ gone
//                         │ resend_interval: RebroadcastDue, moved to the back
//                         └ attempts exhausted: SendFailed
//   unwrap ──▶ deps met? ──yes──▶ history (delivered, FIFO) + delivered window
//                 │ no                  ▲
//                 ▼                     │ cascade when the last dependency arrives
//              incoming (arrival order) ┘
//
// Every container is bounded (Config::limits) and every lookup is a hash
// lookup; the only per-message scans are over the outgoing buffer, which
// acknowledgements keep short.
#ifndef SDS_CORE_CHANNEL_STATE_H_
#define SDS_CORE_CHANNEL_STATE_H_

#include <algorithm>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bloom/wire_bloom_filter.h"
#include "sds/bloom_filter.h"
#include "sds/codec.h"
#include "sds/message.h"
#include "sds/types.h"

namespace sds::internal {

// A delivered message (own or received) as kept for causal histories and for
// answering SDS-R repair requests with its exact original bytes.
struct HistoryRecord {
  SharedBytes wire;
  ParticipantId sender_id;
  LamportTime lamport_timestamp = 0;
  Bytes retrieval_hint;  // remembered once the application supplied a non-empty one
};

// One of our messages that nobody has acknowledged yet.
struct OutgoingEntry {
  MessageId message_id;
  SharedBytes wire;
  Timestamp last_broadcast;
  int resend_attempts = 0;
  int bloom_hits = 0;
  // Ids of the messages whose bloom filter hit, so that one message received
  // twice (a sync rebroadcast, a relay echo) counts once.
  std::vector<MessageId> bloom_hit_by;
  // The id's bloom hashes in each dialect, computed once at wrap: each
  // received message tests every unacknowledged id against its bloom filter.
  BloomKey nim_key;
  BloomKey spec_key;
};

// A received message waiting for dependencies.
struct IncomingEntry {
  DecodedMessage decoded;
  std::unordered_set<MessageId> missing;
};

struct OutgoingRepairEntry {
  HistoryEntry entry;  // as it appeared in the causal history that revealed the loss
  Timestamp deadline;  // T_req: when it may ride on an outgoing message
  int attempts = 0;    // requests sent so far
};

struct IncomingRepairEntry {
  HistoryEntry entry;  // as requested
  SharedBytes wire;    // the original message to rebroadcast
  Timestamp deadline;  // T_resp
};

// A set of ids that forgets the oldest beyond its capacity.
class BoundedIdSet {
 public:
  explicit BoundedIdSet(size_t capacity) : capacity_(capacity) {}
  bool Contains(std::string_view id) const { return ids_.count(id) != 0; }
  void Insert(const MessageId& id) {
    if (Contains(id)) return;
    // One copy of each id, in the deque; the set views it. Elements of a
    // deque keep their address when others are pushed or popped at the ends.
    order_.push_back(id);
    ids_.insert(order_.back());
    while (order_.size() > capacity_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }
  size_t size() const { return ids_.size(); }

 private:
  size_t capacity_;
  std::unordered_set<std::string_view> ids_;
  std::deque<MessageId> order_;
};

// Ids in first-insertion order, without duplicates; erasing is O(1).
class OrderedIdSet {
 public:
  bool Insert(const MessageId& id) {
    if (index_.count(id) != 0) return false;
    order_.push_back(id);
    index_.emplace(id, std::prev(order_.end()));
    return true;
  }
  bool Erase(const MessageId& id) {
    auto it = index_.find(id);
    if (it == index_.end()) return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }
  bool Contains(const MessageId& id) const { return index_.count(id) != 0; }
  bool empty() const { return order_.empty(); }
  size_t size() const { return order_.size(); }
  void clear() {
    order_.clear();
    index_.clear();
  }
  const std::list<MessageId>& ids() const { return order_; }

 private:
  std::list<MessageId> order_;
  std::unordered_map<MessageId, std::list<MessageId>::iterator> index_;
};

// What a channel has not yet saved to the Store (kept only when one is
// attached). Buffer entries are tracked by id: at save time an id still in
// its buffer is written, an id gone from it is removed. Everything stays here
// until a save succeeds, so a failed save is made good by the next one.
struct PersistState {
  OrderedIdSet outgoing;
  OrderedIdSet incoming;
  OrderedIdSet outgoing_repair;
  OrderedIdSet incoming_repair;
  std::vector<MessageId> delivered_added;  // new in the duplicate window, oldest first
  // Pending history queue (nim-sds R2), latest operation wins: appending an
  // id cancels its eviction and the other way round.
  OrderedIdSet history_appends;
  OrderedIdSet history_evicts;
  OrderedIdSet hints;  // history ids whose retrieval hint is not saved yet
  // The scalars as last saved.
  LamportTime saved_lamport = 0;
  std::optional<Timestamp> saved_sync_due;
  uint64_t saved_sync_count = 0;
};

struct ChannelState {
  ChannelState(ChannelId id, int64_t bloom_capacity, double bloom_error_rate, Dialect dialect,
               BloomRollOver roll_over, size_t delivered_window)
      : channel_id(std::move(id)),
        delivered(delivered_window),
        marked(delivered_window),
        bloom(bloom_capacity, bloom_error_rate, dialect, roll_over) {}

  ChannelId channel_id;
  LamportTime lamport = 0;

  // Delivered messages, oldest first; FIFO-evicted beyond max_message_history.
  using HistoryMap = std::unordered_map<MessageId, HistoryRecord>;
  HistoryMap history;
  // The same entries in the log's order (history_order.cc: delivery order in
  // the nim dialect, Lamport then id in the spec dialect), oldest first; the
  // causal history is its tail. Elements of an unordered_map keep
  // their address across rehashing, so the order can point at them and
  // building a causal history needs no lookups.
  std::deque<HistoryMap::value_type*> history_order;
  // Ids delivered recently: duplicate and dependency checks outlive the
  // history itself.
  BoundedIdSet delivered;
  // Ids the application marked as met (MarkDependenciesMet). A window of
  // their own: a burst of marks must not push delivered ids out of
  // `delivered`, or a resend of one of them would be delivered again.
  BoundedIdSet marked;
  // Whether `id` is proven delivered: in the history, the delivered window or
  // the marks. Every duplicate and dependency check asks this.
  bool Known(const MessageId& id) const {
    return history.count(id) != 0 || delivered.Contains(id) || marked.Contains(id);
  }
  RollingBloomFilter bloom;
  // What our nim-dialect messages carry instead of `bloom` when it is
  // right-sized (Config::bloom_wire_size): the ids received lately.
  std::optional<WireBloomFilter> wire_bloom;

  std::list<OutgoingEntry> outgoing;  // ordered by last_broadcast
  std::unordered_map<MessageId, std::list<OutgoingEntry>::iterator> outgoing_index;

  // Messages waiting for dependencies, in arrival order. Change them only
  // through PushIncoming / TakeIncoming, which keep the index, the dependency
  // map and the byte count in step.
  std::list<IncomingEntry> incoming;
  std::unordered_map<MessageId, std::list<IncomingEntry>::iterator> incoming_index;
  // dependency id -> buffered messages waiting for it.
  std::unordered_map<MessageId, std::vector<MessageId>> waiting_on;
  size_t incoming_bytes = 0;  // wire bytes held in `incoming`

  // Buffers `entry` (its id must not be buffered yet).
  void PushIncoming(IncomingEntry entry) {
    const MessageId& id = entry.decoded.message.message_id;
    for (const MessageId& dep : entry.missing) waiting_on[dep].push_back(id);
    incoming_bytes += entry.decoded.wire.size();
    incoming.push_back(std::move(entry));
    incoming_index[incoming.back().decoded.message.message_id] = std::prev(incoming.end());
  }

  // Removes a buffered entry and returns it. Dependencies it still waited for
  // forget it, so a flood of messages that are dropped undelivered leaves
  // nothing behind.
  IncomingEntry TakeIncoming(std::list<IncomingEntry>::iterator it) {
    IncomingEntry entry = std::move(*it);
    const MessageId& id = entry.decoded.message.message_id;
    for (const MessageId& dep : entry.missing) {
      auto waiting = waiting_on.find(dep);
      if (waiting == waiting_on.end()) continue;
      std::vector<MessageId>& ids = waiting->second;
      ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
      if (ids.empty()) waiting_on.erase(waiting);
    }
    incoming_bytes -= entry.decoded.wire.size();
    incoming_index.erase(id);
    incoming.erase(it);
    return entry;
  }

  std::unordered_map<MessageId, OutgoingRepairEntry> outgoing_repair;
  std::unordered_map<MessageId, IncomingRepairEntry> incoming_repair;

  // When a sync message is due: set when we receive something our peers should
  // hear about, cleared whenever we broadcast our state.
  std::optional<Timestamp> sync_due;
  uint64_t sync_count = 0;
  // Messages received since our last broadcast that no other participant
  // has been seen acknowledging yet (SyncPolicy::kUnacknowledgedReceipts):
  // when the last one is, the sync they made due is no longer needed.
  // Bounded; beyond kMaxUnreported the sync simply stays due.
  struct UnreportedReceipt {
    MessageId message_id;
    ParticipantId sender_id;
  };
  static constexpr size_t kMaxUnreported = 64;
  std::vector<UnreportedReceipt> unreported;
  bool unreported_overflow = false;

  PersistState persist;

  // This channel's key in the manager's deadline index (timers.cc):
  // kNoDeadline when it is not in the index.
  Timestamp indexed_deadline = kNoDeadline;

  // Created by a peer's message (ChannelAdmission::kAny) and not used by the
  // application since: may be reclaimed once idle. Last time a message for it
  // was accepted.
  bool remote_created = false;
  Timestamp last_received{};
};

}  // namespace sds::internal

#endif  // SDS_CORE_CHANNEL_STATE_H_
