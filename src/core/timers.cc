// Timers: everything periodic runs from Tick(now) (resends and give-ups of
// the outgoing buffer, sync messages, SDS-R), which returns the next deadline.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/reliability_manager_impl.h"
#include "sds/hash.h"

namespace sds {

using internal::ChannelState;

namespace {

Timestamp Earlier(Timestamp a, Timestamp b) { return a < b ? a : b; }

// Stored times come from a file (hostile like any input): a deadline computed
// from one must not overflow. Config::Validate bounds the intervals.
Timestamp Later(Timestamp t, Duration d) { return t > kNoDeadline - d ? kNoDeadline : t + d; }

}  // namespace

void ReliabilityManager::Impl::ScheduleSync(ChannelState& channel, const Message& received,
                                            Timestamp now) {
  if (config_.sync_message_interval <= Duration::zero()) return;
  if (config_.sync_policy == SyncPolicy::kUnacknowledgedReceipts) {
    if (channel.unreported.size() < ChannelState::kMaxUnreported) {
      channel.unreported.push_back({received.message_id, received.sender_id});
    } else {
      channel.unreported_overflow = true;
    }
  }
  if (channel.sync_due) return;
  channel.sync_due =
      now + (config_.sync_policy == SyncPolicy::kAfterReceipt ? config_.sync_message_interval
                                                              : JitteredSyncInterval(channel));
}

Duration ReliabilityManager::Impl::JitteredSyncInterval(const ChannelState& channel) const {
  uint64_t entropy = 0;
  if (config_.random) {
    entropy = config_.random();
  } else {
    // No injected source: a hash that differs between participants and from
    // one receipt to the next (the Lamport clock moves with every message).
    entropy = static_cast<uint64_t>(
        NimStringHash(config_.participant_id + '\n' + channel.channel_id + '\n' +
                      std::to_string(channel.sync_count) + '\n' + std::to_string(channel.lamport)));
  }
  const double unit = static_cast<double>(entropy >> 11) * 0x1.0p-53;  // [0, 1)
  const double interval = static_cast<double>(config_.sync_message_interval.count());
  const auto jittered = static_cast<int64_t>(interval * (0.9 + 0.2 * unit));
  return Duration{std::max<int64_t>(jittered, 1)};
}

void ReliabilityManager::Impl::NoteAcknowledgedReceipts(ChannelState& channel,
                                                        const DecodedMessage& decoded) {
  if (config_.sync_policy != SyncPolicy::kUnacknowledgedReceipts || channel.unreported.empty()) {
    return;
  }
  const Message& message = decoded.message;
  // Who sent it must be known, to tell an acknowledgement from the sender's
  // own history (which tells the sender nothing).
  if (message.sender_id.empty()) return;
  std::optional<PeerBloomView> bloom;
  if (message.bloom_filter && !message.bloom_filter->empty()) {
    auto view = decoded.dialect == Dialect::kNim
                    ? PeerBloomView::ParseNim(*message.bloom_filter, BloomLimits())
                    : PeerBloomView::ParseSpec(*message.bloom_filter, spec_bloom_params_);
    if (view.ok()) bloom = std::move(*view);
  }
  auto acknowledged = [&](const ChannelState::UnreportedReceipt& receipt) {
    if (receipt.sender_id.empty() || receipt.sender_id == message.sender_id) return false;
    for (const HistoryEntry& entry : message.causal_history) {
      if (entry.message_id == receipt.message_id) return true;
    }
    return bloom && bloom->Contains(MakeBloomKey(bloom->dialect(), receipt.message_id));
  };
  const size_t before = channel.unreported.size();
  std::erase_if(channel.unreported, acknowledged);
  if (channel.unreported.size() < before && channel.unreported.empty() &&
      !channel.unreported_overflow) {
    channel.sync_due.reset();  // a peer already told the senders what we would
  }
}

void ReliabilityManager::Impl::TickChannel(ChannelState& channel, Timestamp now) {
  // Outgoing buffer: ordered by last broadcast, so only the front can be due.
  while (!channel.outgoing.empty() &&
         Later(channel.outgoing.front().last_broadcast, config_.resend_interval) <= now) {
    auto it = channel.outgoing.begin();
    TouchOutgoing(channel, it->message_id);
    if (it->resend_attempts < config_.max_resend_attempts) {
      ++it->resend_attempts;
      it->last_broadcast = now;
      events_.push_back(
          RebroadcastDue{channel.channel_id, it->message_id, it->wire, it->resend_attempts});
      channel.outgoing.splice(channel.outgoing.end(), channel.outgoing, it);
    } else {
      events_.push_back(SendFailed{channel.channel_id, it->message_id, it->resend_attempts, false});
      channel.outgoing_index.erase(it->message_id);
      channel.outgoing.erase(it);
    }
  }

  const bool request_due = TickRepairs(channel, now);

  // A sync message when the channel was quiet, or to carry due repair requests.
  if ((channel.sync_due && *channel.sync_due <= now) ||
      (request_due && config_.repair_requests_in_sync_messages)) {
    std::string sync_id = "sync-" + config_.participant_id + "-" +
                          std::to_string(channel.sync_count + 1) + "-" +
                          std::to_string(UnixMillis(now));
    // Not MakeSyncMessage: a sync of our own timers is no use of the channel
    // by the application (a remote-created channel stays reclaimable).
    if (CheckId(sync_id, "message id").ok()) {
      events_.push_back(
          SyncMessageReady{channel.channel_id, EncodeSyncMessage(channel, sync_id, now)});
    }
    if (request_due && config_.repair_requests_in_sync_messages) {
      DeferDueRepairRequests(channel, now);
    }
  }
}

Timestamp ReliabilityManager::Impl::ChannelDeadline(const ChannelState& channel) const {
  Timestamp next = kNoDeadline;
  if (!channel.outgoing.empty()) {
    next = Later(channel.outgoing.front().last_broadcast, config_.resend_interval);
  }
  if (channel.sync_due) next = Earlier(next, *channel.sync_due);
  next = Earlier(next, RepairDeadline(channel));
  return next;
}

void ReliabilityManager::Impl::Unschedule(ChannelState& channel) const {
  if (channel.indexed_deadline == kNoDeadline) return;
  deadline_index_.erase({channel.indexed_deadline, &channel});
  channel.indexed_deadline = kNoDeadline;
}

void ReliabilityManager::Impl::Reschedule(ChannelState& channel) const {
  const Timestamp deadline = ChannelDeadline(channel);
  if (deadline == channel.indexed_deadline) return;
  Unschedule(channel);
  if (deadline == kNoDeadline) return;
  deadline_index_.emplace(deadline, &channel);
  channel.indexed_deadline = deadline;
}

void ReliabilityManager::Impl::RebuildDeadlineIndexIfStale() const {
  if (!deadline_index_stale_) return;
  deadline_index_stale_ = false;
  deadline_index_.clear();
  for (const auto& [id, channel] : channels_) {
    channel->indexed_deadline = kNoDeadline;
    Reschedule(*channel);
  }
}

Timestamp ReliabilityManager::Impl::Tick(Timestamp now) {
  RebuildDeadlineIndexIfStale();
  // Only channels with something due are visited, in channel order (the
  // order events come out in does not depend on the index).
  std::vector<ChannelState*> due;
  for (auto it = deadline_index_.begin(); it != deadline_index_.end() && it->first <= now; ++it) {
    due.push_back(it->second);
  }
  std::sort(due.begin(), due.end(), [](const ChannelState* a, const ChannelState* b) {
    return a->channel_id < b->channel_id;
  });
  for (ChannelState* channel : due) {
    PersistScope persist(this, channel);  // reschedules the channel and saves what changed
    TickChannel(*channel, now);
  }
  return NextDeadline();
}

Timestamp ReliabilityManager::Impl::NextDeadline() const {
  RebuildDeadlineIndexIfStale();
  return deadline_index_.empty() ? kNoDeadline : deadline_index_.begin()->first;
}

}  // namespace sds
