// Delivery: a message whose dependencies are all met is delivered, then
// everything it unblocks (the causal cascade); the others wait in the
// bounded incoming buffer.
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "core/reliability_manager_impl.h"

namespace sds {

using internal::ChannelState;
using internal::HistoryRecord;
using internal::IncomingEntry;

void ReliabilityManager::Impl::DeliverOne(ChannelState& channel, DecodedMessage decoded) {
  Message& message = decoded.message;
  AdvanceLamportForReceive(channel, *message.lamport_timestamp, internal::ReceiveStage::kDelivered);
  MessageReady ready;
  ready.channel_id = channel.channel_id;
  ready.message_id = message.message_id;
  ready.sender_id = message.sender_id;
  ready.kind = MessageKind::kContent;
  ready.lamport_timestamp = *message.lamport_timestamp;
  ready.wire = decoded.wire;
  ready.content = message.content.value_or(ByteSpan());
  AddToHistory(channel, message.message_id,
               HistoryRecord{decoded.wire, message.sender_id, *message.lamport_timestamp, {}});
  events_.push_back(std::move(ready));
}

void ReliabilityManager::Impl::ResolveDependency(ChannelState& channel, const MessageId& id,
                                                 std::deque<DecodedMessage>& ready) {
  auto waiting = channel.waiting_on.find(id);
  if (waiting == channel.waiting_on.end()) return;
  std::vector<MessageId> dependents = std::move(waiting->second);
  channel.waiting_on.erase(waiting);
  for (const MessageId& dependent : dependents) {
    auto entry = channel.incoming_index.find(dependent);
    if (entry == channel.incoming_index.end()) continue;
    IncomingEntry& incoming = *entry->second;
    incoming.missing.erase(id);
    TouchIncoming(channel, dependent);
    if (incoming.missing.empty()) {
      ready.push_back(std::move(channel.TakeIncoming(entry->second).decoded));
    }
  }
}

void ReliabilityManager::Impl::DeliverAndCascade(ChannelState& channel, DecodedMessage decoded) {
  // Breadth-first: each delivered message releases its dependents in their
  // arrival order, after itself.
  std::deque<DecodedMessage> ready;
  ready.push_back(std::move(decoded));
  while (!ready.empty()) {
    DecodedMessage next = std::move(ready.front());
    ready.pop_front();
    MessageId id = next.message.message_id;
    DeliverOne(channel, std::move(next));
    ResolveDependency(channel, id, ready);
  }
}

void ReliabilityManager::Impl::DropIncoming(ChannelState& channel,
                                            std::list<IncomingEntry>::iterator it,
                                            std::string reason) {
  MessageId id = it->decoded.message.message_id;
  TouchIncoming(channel, id);
  channel.TakeIncoming(it);
  events_.push_back(MessageDropped{channel.channel_id, id, std::move(reason)});
}

void ReliabilityManager::Impl::ReleaseLoadedIncoming(ChannelState& channel) {
  // Stored state can say a message still waits for what the stored history
  // already holds (nim-sds state, marks saved in the duplicate window, a save
  // that failed half-way); nothing would ever release it.
  std::vector<MessageId> met;
  for (const auto& [dep, waiters] : channel.waiting_on) {
    if (channel.Known(dep)) met.push_back(dep);
  }
  for (const MessageId& dep : met) {
    auto waiting = channel.waiting_on.find(dep);
    for (const MessageId& waiter : waiting->second) {
      auto entry = channel.incoming_index.find(waiter);
      if (entry == channel.incoming_index.end()) continue;
      entry->second->missing.erase(dep);
      TouchIncoming(channel, waiter);
    }
    channel.waiting_on.erase(waiting);
  }
  std::vector<MessageId> releasable;
  for (auto it = channel.incoming.begin(); it != channel.incoming.end();) {
    auto current = it++;
    const MessageId& id = current->decoded.message.message_id;
    if (channel.Known(id)) {  // delivered or marked already: never twice
      DropIncoming(channel, current, "already delivered or marked met: not delivered again");
    } else if (current->missing.empty()) {
      releasable.push_back(id);
    }
  }
  // In arrival order; a cascade may already have taken a later one.
  for (const MessageId& id : releasable) {
    auto entry = channel.incoming_index.find(id);
    if (entry == channel.incoming_index.end()) continue;
    TouchIncoming(channel, id);
    DeliverAndCascade(channel, std::move(channel.TakeIncoming(entry->second).decoded));
  }
}

void ReliabilityManager::Impl::BufferIncoming(ChannelState& channel, DecodedMessage decoded,
                                              const std::vector<HistoryEntry>& missing,
                                              Timestamp now) {
  // Both bounds hold after the new message is in: oldest out first.
  const size_t size = decoded.wire.size();
  while (!channel.incoming.empty() &&
         (channel.incoming.size() >= config_.limits.max_incoming_buffer ||
          channel.incoming_bytes + size > config_.limits.max_incoming_buffer_bytes)) {
    DropIncoming(channel, channel.incoming.begin(), "incoming buffer full");
  }
  const MessageId id = decoded.message.message_id;
  IncomingEntry entry;
  entry.decoded = std::move(decoded);
  for (const HistoryEntry& dep : missing) entry.missing.insert(dep.message_id);
  channel.PushIncoming(std::move(entry));
  TouchIncoming(channel, id);
  events_.push_back(MissingDependencies{channel.channel_id, id, missing});
  RequestRepairs(channel, missing, now);
}

}  // namespace sds
