// The engine's side of catch-up from a store (include/sds/catchup.h): a
// channel-checked Unwrap, saving a page of entries together with the cursor
// that covers it, and the read-only queries the driver asks.
#include <set>
#include <string>
#include <unordered_set>

#include "core/reliability_manager_impl.h"

namespace sds {

using internal::ChannelState;
using internal::IncomingEntry;

Result<UnwrapResult> ReliabilityManager::Impl::UnwrapOnChannel(const ChannelId& channel_id,
                                                               ByteSpan wire, Timestamp now) {
  return Unwrap(wire, now, &channel_id);
}

void ReliabilityManager::Impl::BeginCatchUpGroup() {
  // An open scope keeps every operation's PersistScope from saving on exit;
  // CommitCatchUp closes it and saves everything at once.
  ++persist_depth_;
}

Status ReliabilityManager::Impl::CommitCatchUp(const ChannelId& channel_id,
                                               const GroupWrite& cursor_write) {
  if (persist_depth_ > 0) --persist_depth_;
  if (persist_depth_ != 0 || !store_) return Status::Ok();
  // A page only touches its own channel (UnwrapOnChannel); anything else
  // pending is saved as usual, in its own group.
  for (auto& [id, channel] : channels_) {
    if (id != channel_id) (void)PersistChannel(*channel);
  }
  ChannelState* channel = FindChannel(channel_id);
  if (channel == nullptr) {
    // Nothing applied (e.g. every entry was rejected): the cursor covers no
    // state of ours and is written on its own.
    store_->BeginOp();
    Status written = cursor_write(*store_);
    Status committed = store_->CommitOp();
    if (!written.ok()) return Status(ErrorCode::kPersistence, written.message());
    if (!committed.ok()) return Status(ErrorCode::kPersistence, committed.message());
    return Status::Ok();
  }
  Status status = PersistChannel(*channel, &cursor_write);
  if (!status.ok()) {
    return Status(ErrorCode::kPersistence,
                  "channel " + channel_id + ": catch-up commit failed: " + status.message());
  }
  return Status::Ok();
}

bool ReliabilityManager::Impl::IsKnown(const ChannelId& channel_id,
                                       const MessageId& message_id) const {
  const ChannelState* channel = FindChannel(channel_id);
  if (channel == nullptr) return false;
  return channel->delivered.Contains(message_id) ||
         channel->incoming_index.count(message_id) != 0 || channel->history.count(message_id) != 0;
}

std::vector<HistoryEntry> ReliabilityManager::Impl::PendingDependencies(
    const ChannelId& channel_id) const {
  std::vector<HistoryEntry> out;
  const ChannelState* channel = FindChannel(channel_id);
  if (channel == nullptr) return out;
  // A dependency that is itself buffered is held, only not yet delivered.
  std::unordered_set<MessageId> seen;
  for (const auto& [id, it] : channel->incoming_index) seen.insert(id);
  for (const IncomingEntry& entry : channel->incoming) {
    // The waiting message's causal history carries the hint and sender.
    for (const HistoryEntry& dep : entry.decoded.message.causal_history) {
      if (entry.missing.count(dep.message_id) != 0 && seen.insert(dep.message_id).second) {
        out.push_back(dep);
      }
    }
    std::set<MessageId> rest;  // missing ids not in the history (cannot happen, but stay exact)
    for (const MessageId& id : entry.missing) {
      if (seen.count(id) == 0) rest.insert(id);
    }
    for (const MessageId& id : rest) {
      seen.insert(id);
      out.push_back(HistoryEntry{id, {}, {}});
    }
  }
  return out;
}

// ---- Public forwarding ---------------------------------------------------------------------

Result<UnwrapResult> ReliabilityManager::UnwrapOnChannel(const ChannelId& channel_id, ByteSpan wire,
                                                         Timestamp now) {
  return impl_->UnwrapOnChannel(channel_id, wire, now);
}
void ReliabilityManager::BeginCatchUpGroup() { impl_->BeginCatchUpGroup(); }
Status ReliabilityManager::CommitCatchUp(const ChannelId& channel_id,
                                         const std::function<Status(Store&)>& cursor_write) {
  return impl_->CommitCatchUp(channel_id, cursor_write);
}
bool ReliabilityManager::IsKnown(const ChannelId& channel_id, const MessageId& message_id) const {
  return impl_->IsKnown(channel_id, message_id);
}
std::vector<HistoryEntry> ReliabilityManager::PendingDependencies(
    const ChannelId& channel_id) const {
  return impl_->PendingDependencies(channel_id);
}
Store* ReliabilityManager::store() const { return impl_->store(); }

}  // namespace sds
