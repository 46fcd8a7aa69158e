// The engine's side of persistence: loading a channel from the Store on first
// use, and saving what an operation changed when it ends (see store.h for the
// contract and the failure policy).
#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/reliability_manager_impl.h"
#include "sds/codec.h"

namespace sds {

using internal::ChannelState;
using internal::HistoryRecord;
using internal::IncomingEntry;
using internal::OutgoingEntry;

ReliabilityManager::Impl::PersistScope::PersistScope(Impl* impl, ChannelState* channel)
    : impl_(impl), channel_id_(channel->channel_id) {
  ++impl_->persist_depth_;
}

ReliabilityManager::Impl::PersistScope::~PersistScope() {
  const bool outermost = --impl_->persist_depth_ == 0;
  ChannelState* channel = impl_->FindChannel(channel_id_);
  if (channel == nullptr) return;
  impl_->Reschedule(*channel);  // the operation may have moved the channel's deadline
  if (outermost && impl_->store_) (void)impl_->PersistChannel(*channel);
}

void ReliabilityManager::Impl::Log(LogLevel level, const std::string& message) const {
  if (log_) log_(level, message);
}

void ReliabilityManager::Impl::TouchDelivered(ChannelState& channel, const MessageId& id) {
  if (!store_ || channel.delivered.Contains(id)) return;
  auto& added = channel.persist.delivered_added;
  added.push_back(id);
  // Unsaved for a long time (the store keeps failing): only the newest matter.
  size_t window = std::max(config_.dedup_window, config_.max_message_history);
  if (added.size() > 2 * window + 64) {
    added.erase(added.begin(), added.begin() + static_cast<std::ptrdiff_t>(added.size() - window));
  }
}

void ReliabilityManager::Impl::QueueHistoryAppend(ChannelState& channel, const MessageId& id) {
  if (!store_) return;
  channel.persist.history_evicts.Erase(id);
  channel.persist.history_appends.Insert(id);
}

void ReliabilityManager::Impl::QueueHistoryEvict(ChannelState& channel, const MessageId& id) {
  if (!store_) return;
  channel.persist.history_appends.Erase(id);
  channel.persist.history_evicts.Insert(id);
  channel.persist.hints.Erase(id);
}

Status ReliabilityManager::Impl::LoadChannelState(ChannelState& channel) {
  const ChannelId& channel_id = channel.channel_id;
  auto loaded = store_->LoadChannel(channel_id);
  if (!loaded.ok()) {
    return Status(ErrorCode::kPersistence,
                  "loading channel " + channel_id + ": " + loaded.status().message());
  }
  ChannelData& data = *loaded;
  ChannelMeta& meta = data.meta;
  auto corrupt = [&](const std::string& what) {
    return Status(ErrorCode::kPersistence, "loading channel " + channel_id + ": " + what);
  };
  if (meta.schema_version != kChannelMetaSchemaVersion) {
    return corrupt("unsupported schema version " + std::to_string(meta.schema_version));
  }
  channel.lamport = meta.lamport;
  channel.sync_due = meta.sync_due;
  channel.sync_count = meta.sync_count;

  // Delivered history, oldest first, with the hints remembered for it.
  std::unordered_map<MessageId, Bytes> hints;
  for (RetrievalHintRecord& hint : data.retrieval_hints) {
    hints[hint.message_id] = std::move(hint.hint);
  }
  for (size_t i = 0; i < data.message_history.size(); ++i) {
    const SharedBytes& body = data.message_history[i];
    auto decoded = DecodeAny(body, config_.limits.decode);
    if (!decoded.ok()) {
      return corrupt("history message " + std::to_string(i) +
                     " does not decode: " + decoded.status().ToString());
    }
    const Message& message = decoded->message;
    HistoryRecord record{body, message.sender_id, message.lamport_timestamp.value_or(0), {}};
    if (auto hint = hints.find(message.message_id); hint != hints.end()) {
      record.retrieval_hint = std::move(hint->second);
    }
    auto [it, inserted] = channel.history.emplace(message.message_id, std::move(record));
    if (inserted) channel.history_order.push_back(&*it);
  }
  SortLoadedHistory(channel);
  while (channel.history_order.size() > config_.max_message_history) {
    QueueHistoryEvict(channel, channel.history_order.front()->first);
    channel.history.erase(channel.history_order.front()->first);
    channel.history_order.pop_front();
  }

  // Duplicate window, then anything of the history it lacks (state written by
  // nim-sds has no window).
  for (const MessageId& id : meta.delivered) channel.delivered.Insert(id);
  for (const auto* entry : channel.history_order) {
    TouchDelivered(channel, entry->first);
    channel.delivered.Insert(entry->first);
  }

  // Buffered messages waiting for dependencies.
  for (SnapshotIncoming& stored : meta.incoming) {
    auto decoded = DecodeAny(stored.message, config_.limits.decode);
    if (!decoded.ok()) {
      return corrupt("buffered message does not decode: " + decoded.status().ToString());
    }
    MessageId id = decoded->message.message_id;
    if (channel.incoming_index.count(id) != 0) continue;
    IncomingEntry entry;
    entry.decoded = std::move(*decoded);
    entry.missing.insert(stored.missing_deps.begin(), stored.missing_deps.end());
    channel.PushIncoming(std::move(entry));
  }

  // The bloom filter is not stored: everything received enters it again.
  auto add_to_bloom = [&](const MessageId& id) {
    if (!channel.bloom.Contains(id)) channel.bloom.Add(id);
  };
  for (const MessageId& id : meta.delivered) add_to_bloom(id);
  for (const auto* entry : channel.history_order) add_to_bloom(entry->first);
  for (const IncomingEntry& entry : channel.incoming)
    add_to_bloom(entry.decoded.message.message_id);
  // A right-sized filter gets what was received lately: the history's messages
  // from others and the buffered ones, as if received now (their time of
  // receipt is not stored), so peers still waiting hear of them after a restart.
  if (channel.wire_bloom) {
    for (const auto* entry : channel.history_order) {
      if (config_.participant_id.empty() || entry->second.sender_id != config_.participant_id) {
        channel.wire_bloom->AddUndated(MakeBloomKey(Dialect::kNim, entry->first));
      }
    }
    for (const IncomingEntry& entry : channel.incoming) {
      channel.wire_bloom->AddUndated(MakeBloomKey(Dialect::kNim, entry.decoded.message.message_id));
    }
  }

  // Unacknowledged messages, oldest broadcast first.
  std::stable_sort(meta.outgoing.begin(), meta.outgoing.end(),
                   [](const SnapshotOutgoing& a, const SnapshotOutgoing& b) {
                     return a.send_time < b.send_time;
                   });
  for (SnapshotOutgoing& stored : meta.outgoing) {
    MessageId id = stored.message_id;
    if (id.empty()) {
      auto decoded = DecodeAny(stored.message, config_.limits.decode);
      if (!decoded.ok()) {
        return corrupt("unacknowledged message does not decode: " + decoded.status().ToString());
      }
      id = decoded->message.message_id;
    }
    if (channel.outgoing_index.count(id) != 0) continue;
    OutgoingEntry entry;
    entry.message_id = id;
    entry.wire = stored.message;
    entry.last_broadcast = stored.send_time;
    entry.resend_attempts = static_cast<int>(stored.resend_attempts);
    entry.bloom_hits = static_cast<int>(stored.bloom_hits);
    entry.nim_key = MakeBloomKey(Dialect::kNim, id);
    entry.spec_key = MakeBloomKey(Dialect::kSpec, id);
    channel.outgoing.push_back(std::move(entry));
    channel.outgoing_index[id] = std::prev(channel.outgoing.end());
  }

  // SDS-R timers resume from their absolute deadlines.
  for (SnapshotOutgoingRepair& stored : meta.outgoing_repair) {
    channel.outgoing_repair[stored.message_id] = internal::OutgoingRepairEntry{
        std::move(stored.entry), stored.deadline, static_cast<int>(stored.attempts)};
  }
  for (SnapshotIncomingRepair& stored : meta.incoming_repair) {
    channel.incoming_repair[stored.message_id] = internal::IncomingRepairEntry{
        std::move(stored.entry), stored.cached_message, stored.deadline};
  }

  channel.persist.saved_lamport = channel.lamport;
  channel.persist.saved_sync_due = channel.sync_due;
  channel.persist.saved_sync_count = channel.sync_count;

  // Anything the loaded state itself resolves is delivered now and saved at
  // once, so that a restart right after cannot deliver it again.
  ReleaseLoadedIncoming(channel);
  (void)PersistChannel(
      channel);  // a failure here leaves the stored state, which loads the same way again
  return Status::Ok();
}

namespace {

std::vector<MessageId> SortedIds(const std::unordered_set<MessageId>& ids) {
  std::vector<MessageId> out(ids.begin(), ids.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Status ReliabilityManager::Impl::PersistChannel(ChannelState& channel, const GroupWrite* also) {
  internal::PersistState& p = channel.persist;
  const bool save_meta = !p.outgoing.empty() || !p.incoming.empty() || !p.outgoing_repair.empty() ||
                         !p.incoming_repair.empty() || !p.delivered_added.empty() ||
                         channel.lamport != p.saved_lamport ||
                         channel.sync_due != p.saved_sync_due ||
                         channel.sync_count != p.saved_sync_count;
  const bool update_history = !p.history_appends.empty() || !p.history_evicts.empty();
  const bool save_hints = !p.hints.empty();
  if (!save_meta && !update_history && !save_hints && also == nullptr) return Status::Ok();

  const ChannelId& channel_id = channel.channel_id;
  Status meta_status, history_status, hint_status, also_status;
  store_->BeginOp();
  if (save_meta) {
    ChannelMetaDelta delta;
    delta.lamport = channel.lamport;
    delta.sync_due = channel.sync_due;
    delta.sync_count = channel.sync_count;
    for (const MessageId& id : p.outgoing.ids()) {
      auto it = channel.outgoing_index.find(id);
      if (it == channel.outgoing_index.end()) {
        delta.outgoing_remove.push_back(id);
        continue;
      }
      const OutgoingEntry& entry = *it->second;
      delta.outgoing_upsert.push_back(SnapshotOutgoing{id, entry.wire, entry.last_broadcast,
                                                       static_cast<uint32_t>(entry.resend_attempts),
                                                       static_cast<uint32_t>(entry.bloom_hits)});
    }
    for (const MessageId& id : p.incoming.ids()) {
      auto it = channel.incoming_index.find(id);
      if (it == channel.incoming_index.end()) {
        delta.incoming_remove.push_back(id);
        continue;
      }
      const IncomingEntry& entry = *it->second;
      delta.incoming_upsert.push_back(
          SnapshotIncoming{id, entry.decoded.wire, SortedIds(entry.missing)});
    }
    for (const MessageId& id : p.outgoing_repair.ids()) {
      auto it = channel.outgoing_repair.find(id);
      if (it == channel.outgoing_repair.end()) {
        delta.outgoing_repair_remove.push_back(id);
        continue;
      }
      delta.outgoing_repair_upsert.push_back(SnapshotOutgoingRepair{
          id, it->second.entry, it->second.deadline, static_cast<uint32_t>(it->second.attempts)});
    }
    for (const MessageId& id : p.incoming_repair.ids()) {
      auto it = channel.incoming_repair.find(id);
      if (it == channel.incoming_repair.end()) {
        delta.incoming_repair_remove.push_back(id);
        continue;
      }
      delta.incoming_repair_upsert.push_back(
          SnapshotIncomingRepair{id, it->second.entry, it->second.wire, it->second.deadline});
    }
    delta.delivered_add = p.delivered_added;
    delta.delivered_window = std::max(config_.dedup_window, config_.max_message_history);
    meta_status = store_->SaveChannelMeta(channel_id, delta);
  }
  if (update_history) {
    HistoryUpdate update;
    update.append.reserve(p.history_appends.size());
    for (const MessageId& id : p.history_appends.ids()) {
      auto it = channel.history.find(id);
      if (it == channel.history.end()) continue;  // cannot happen: evictions cancel appends
      update.append.push_back(HistoryAppend{id, it->second.wire, it->second.retrieval_hint});
    }
    update.evict.assign(p.history_evicts.ids().begin(), p.history_evicts.ids().end());
    if (!update.empty()) history_status = store_->UpdateHistory(channel_id, update);
  }
  if (save_hints) {
    for (const MessageId& id : p.hints.ids()) {
      if (p.history_appends.Contains(id)) continue;  // the append carries it
      auto it = channel.history.find(id);
      if (it == channel.history.end()) continue;
      hint_status = store_->SetRetrievalHint(channel_id, id, it->second.retrieval_hint);
      if (!hint_status.ok()) break;
    }
  }
  // The extra write (a catch-up cursor) rides in the group only when it
  // covers nothing that failed: it must never land without those effects.
  if (also != nullptr) {
    if (!meta_status.ok() || !history_status.ok() || !hint_status.ok()) {
      also_status = Status(ErrorCode::kPersistence, "not written: the changes it covers failed");
    } else {
      also_status = (*also)(*store_);
    }
  }
  Status commit = store_->CommitOp();
  if (!commit.ok()) {
    if (save_meta && meta_status.ok()) meta_status = commit;
    if (update_history && history_status.ok()) history_status = commit;
    if (save_hints && hint_status.ok()) hint_status = commit;
    if (also != nullptr && also_status.ok()) also_status = commit;
  }

  if (save_meta) {
    if (meta_status.ok()) {
      p.outgoing.clear();
      p.incoming.clear();
      p.outgoing_repair.clear();
      p.incoming_repair.clear();
      p.delivered_added.clear();
      p.saved_lamport = channel.lamport;
      p.saved_sync_due = channel.sync_due;
      p.saved_sync_count = channel.sync_count;
    } else {
      Log(LogLevel::kWarning,
          "channel " + channel_id +
              ": saving channel meta failed (kept for the next save): " + meta_status.message());
    }
  }
  if (update_history) {
    if (history_status.ok()) {
      p.history_appends.clear();
      p.history_evicts.clear();
    } else {
      Log(LogLevel::kWarning, "channel " + channel_id +
                                  ": updating history failed (batch kept for the next save): " +
                                  history_status.message());
    }
  }
  if (save_hints) {
    if (hint_status.ok() && (!update_history || history_status.ok())) {
      p.hints.clear();
    } else if (!hint_status.ok()) {
      Log(LogLevel::kWarning,
          "channel " + channel_id + ": saving retrieval hints failed: " + hint_status.message());
    }
  }
  for (const Status* status : {&meta_status, &history_status, &hint_status, &also_status}) {
    if (!status->ok()) return *status;
  }
  return Status::Ok();
}

Status ReliabilityManager::Impl::TryReset() {
  if (store_) {
    for (auto it = channels_.begin(); it != channels_.end();) {
      Status dropped = store_->DropChannel(it->first);
      if (!dropped.ok()) {
        return Status(ErrorCode::kPersistence,
                      "dropping channel " + it->first + " from the store: " + dropped.message());
      }
      EraseChannel(it++);
    }
  }
  if (store_) {
    // Channels the store holds but memory does not (e.g. over max_channels).
    auto stored = store_->ListChannels();
    if (!stored.ok()) {
      return Status(ErrorCode::kPersistence,
                    "listing stored channels: " + stored.status().message());
    }
    for (const ChannelId& id : *stored) {
      Status dropped = store_->DropChannel(id);
      if (!dropped.ok()) {
        return Status(ErrorCode::kPersistence,
                      "dropping channel " + id + " from the store: " + dropped.message());
      }
    }
  }
  channels_.clear();
  remote_channels_ = 0;
  deadline_index_.clear();
  events_.clear();
  return Status::Ok();
}

}  // namespace sds
