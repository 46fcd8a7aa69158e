#include "sds/memory_store.h"

#include <algorithm>
#include <deque>
#include <list>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "sds/codec.h"

namespace sds {
namespace {

// Entries keyed by message id, in insertion order; replacing keeps the position.
template <typename V>
class OrderedTable {
 public:
  void Upsert(const MessageId& id, V value) {
    auto it = index_.find(id);
    if (it != index_.end()) {
      it->second->second = std::move(value);
      return;
    }
    items_.emplace_back(id, std::move(value));
    index_.emplace(id, std::prev(items_.end()));
  }
  void Erase(const MessageId& id) {
    auto it = index_.find(id);
    if (it == index_.end()) return;
    items_.erase(it->second);
    index_.erase(it);
  }
  V* Find(const MessageId& id) {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  void Clear() {
    items_.clear();
    index_.clear();
  }
  const std::list<std::pair<MessageId, V>>& items() const { return items_; }

 private:
  std::list<std::pair<MessageId, V>> items_;
  std::unordered_map<MessageId, typename std::list<std::pair<MessageId, V>>::iterator> index_;
};

struct StoredHistory {
  SharedBytes message;
  Bytes hint;
};

}  // namespace

struct MemoryStore::Channel {
  LamportTime lamport = 0;
  std::optional<Timestamp> sync_due;
  uint64_t sync_count = 0;
  OrderedTable<SnapshotOutgoing> outgoing;
  OrderedTable<SnapshotIncoming> incoming;
  OrderedTable<SnapshotOutgoingRepair> outgoing_repair;
  OrderedTable<SnapshotIncomingRepair> incoming_repair;
  std::deque<MessageId> delivered;
  std::unordered_set<MessageId> delivered_set;
  OrderedTable<StoredHistory> history;
};

MemoryStore::MemoryStore() = default;
MemoryStore::~MemoryStore() = default;

Status MemoryStore::Enter(StoreOperation op) {
  auto i = static_cast<size_t>(op);
  ++calls_[i];
  if (failing_[i]) {
    return Status(ErrorCode::kPersistence,
                  std::string("injected failure: ") + StoreOperationName(op));
  }
  return Status::Ok();
}

void MemoryStore::SetFailing(StoreOperation op, bool failing) {
  failing_[static_cast<size_t>(op)] = failing;
}
void MemoryStore::ClearFailures() { failing_.fill(false); }
size_t MemoryStore::CallCount(StoreOperation op) const { return calls_[static_cast<size_t>(op)]; }

bool MemoryStore::HasChannel(const ChannelId& channel_id) const {
  return channels_.count(channel_id) != 0;
}

Result<ChannelData> MemoryStore::LoadChannel(const ChannelId& channel_id) {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kLoadChannel));
  ChannelData data;
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) return data;
  const Channel& c = *it->second;
  ChannelMeta& meta = data.meta;
  meta.lamport = c.lamport;
  meta.sync_due = c.sync_due;
  meta.sync_count = c.sync_count;
  for (const auto& [id, o] : c.outgoing.items()) meta.outgoing.push_back(o);
  std::stable_sort(meta.outgoing.begin(), meta.outgoing.end(),
                   [](const SnapshotOutgoing& a, const SnapshotOutgoing& b) {
                     return a.send_time < b.send_time;
                   });
  for (const auto& [id, in] : c.incoming.items()) meta.incoming.push_back(in);
  for (const auto& [id, r] : c.outgoing_repair.items()) meta.outgoing_repair.push_back(r);
  for (const auto& [id, r] : c.incoming_repair.items()) meta.incoming_repair.push_back(r);
  meta.delivered.assign(c.delivered.begin(), c.delivered.end());
  for (const auto& [id, h] : c.history.items()) {
    data.message_history.push_back(h.message);
    if (!h.hint.empty()) data.retrieval_hints.push_back(RetrievalHintRecord{id, h.hint});
  }
  return data;
}

Status MemoryStore::SaveChannelMeta(const ChannelId& channel_id, const ChannelMetaDelta& d) {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kSaveChannelMeta));
  auto& slot = channels_[channel_id];
  if (!slot) slot = std::make_unique<Channel>();
  Channel& c = *slot;
  if (d.replace) {
    c.outgoing.Clear();
    c.incoming.Clear();
    c.outgoing_repair.Clear();
    c.incoming_repair.Clear();
    c.delivered.clear();
    c.delivered_set.clear();
  }
  c.lamport = d.lamport;
  c.sync_due = d.sync_due;
  c.sync_count = d.sync_count;
  for (const MessageId& id : d.outgoing_remove) c.outgoing.Erase(id);
  for (const auto& o : d.outgoing_upsert) c.outgoing.Upsert(o.message_id, o);
  for (const MessageId& id : d.incoming_remove) c.incoming.Erase(id);
  for (const auto& in : d.incoming_upsert) c.incoming.Upsert(in.message_id, in);
  for (const MessageId& id : d.outgoing_repair_remove) c.outgoing_repair.Erase(id);
  for (const auto& r : d.outgoing_repair_upsert) c.outgoing_repair.Upsert(r.message_id, r);
  for (const MessageId& id : d.incoming_repair_remove) c.incoming_repair.Erase(id);
  for (const auto& r : d.incoming_repair_upsert) c.incoming_repair.Upsert(r.message_id, r);
  for (const MessageId& id : d.delivered_add) {
    if (c.delivered_set.insert(id).second) c.delivered.push_back(id);
  }
  while (c.delivered.size() > d.delivered_window) {
    c.delivered_set.erase(c.delivered.front());
    c.delivered.pop_front();
  }
  return Status::Ok();
}

Status MemoryStore::UpdateHistory(const ChannelId& channel_id, const HistoryUpdate& update) {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kUpdateHistory));
  auto& slot = channels_[channel_id];
  if (!slot) slot = std::make_unique<Channel>();
  Channel& c = *slot;
  for (const HistoryAppend& a : update.append) {
    Bytes hint = a.retrieval_hint;
    if (hint.empty()) {
      if (StoredHistory* old = c.history.Find(a.message_id)) hint = old->hint;
    }
    c.history.Erase(a.message_id);  // appended again: now the newest
    c.history.Upsert(a.message_id, StoredHistory{a.message, std::move(hint)});
  }
  for (const MessageId& id : update.evict) c.history.Erase(id);
  return Status::Ok();
}

Result<std::vector<ChannelId>> MemoryStore::ListChannels() {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kListChannels));
  std::vector<ChannelId> ids;
  ids.reserve(channels_.size());
  for (const auto& [id, channel] : channels_) ids.push_back(id);  // a std::map: sorted
  return ids;
}

Status MemoryStore::DropChannel(const ChannelId& channel_id) {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kDropChannel));
  channels_.erase(channel_id);
  std::erase_if(cursors_, [&](const auto& kv) { return kv.first.second == channel_id; });
  std::erase_if(group_cursors_, [&](const auto& kv) { return kv.first.second == channel_id; });
  return Status::Ok();
}

Status MemoryStore::SaveCatchUpCursor(ByteSpan store_id, const ChannelId& channel_id,
                                      ByteSpan cursor) {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kSaveCatchUpCursor));
  auto key = std::make_pair(Bytes(store_id.begin(), store_id.end()), channel_id);
  Bytes value(cursor.begin(), cursor.end());
  if (in_group_) {
    group_cursors_.emplace_back(std::move(key), std::move(value));
  } else {
    cursors_[std::move(key)] = std::move(value);
  }
  return Status::Ok();
}

Result<std::vector<StoredCatchUpCursor>> MemoryStore::LoadCatchUpCursors(ByteSpan store_id) {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kLoadCatchUpCursors));
  std::vector<StoredCatchUpCursor> out;
  Bytes id(store_id.begin(), store_id.end());
  for (auto it = cursors_.lower_bound({id, ChannelId()});
       it != cursors_.end() && it->first.first == id; ++it) {
    out.push_back(StoredCatchUpCursor{it->first.second, it->second});
  }
  return out;
}

void MemoryStore::BeginOp() {
  in_group_ = true;
  group_cursors_.clear();
}

Status MemoryStore::SetRetrievalHint(const ChannelId& channel_id, const MessageId& message_id,
                                     ByteSpan hint) {
  SDS_RETURN_IF_ERROR(Enter(StoreOperation::kSetRetrievalHint));
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) return Status::Ok();
  if (StoredHistory* h = it->second->history.Find(message_id))
    h->hint.assign(hint.begin(), hint.end());
  return Status::Ok();
}

Status MemoryStore::CommitOp() {
  Status status = Enter(StoreOperation::kCommitOp);
  if (status.ok()) {
    for (auto& [key, value] : group_cursors_) cursors_[key] = std::move(value);
  }
  group_cursors_.clear();
  in_group_ = false;
  return status;
}

Status MemoryStore::ImportChannel(const ChannelId& channel_id, const ChannelData& data) {
  channels_.erase(channel_id);
  auto channel = std::make_unique<Channel>();
  channels_.emplace(channel_id, std::move(channel));
  ChannelMetaDelta delta = ChannelMetaDelta::FromSnapshot(data.meta, data.meta.delivered.size());
  // Bypass injection and counting: an import is set-up, not an engine call.
  auto saved_failing = failing_;
  auto saved_calls = calls_;
  failing_.fill(false);
  Status status = SaveChannelMeta(channel_id, delta);
  HistoryUpdate update;
  for (const SharedBytes& message : data.message_history) {
    auto decoded = DecodeAny(message);
    if (!decoded.ok()) {
      status = decoded.status();
      break;
    }
    update.append.push_back(HistoryAppend{decoded->message.message_id, message, {}});
  }
  for (const RetrievalHintRecord& hint : data.retrieval_hints) {
    for (HistoryAppend& a : update.append) {
      if (a.message_id == hint.message_id) a.retrieval_hint = hint.hint;
    }
  }
  if (status.ok() && !update.empty()) status = UpdateHistory(channel_id, update);
  failing_ = saved_failing;
  calls_ = saved_calls;
  return status;
}

}  // namespace sds
