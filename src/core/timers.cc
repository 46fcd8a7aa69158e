// Timers: everything periodic runs from Tick(now) (resends and give-ups of
// the outgoing buffer, sync messages, SDS-R), which returns the next deadline.
#include <string>

#include "core/reliability_manager_impl.h"

namespace sds {

using internal::ChannelState;

namespace {

Timestamp Earlier(Timestamp a, Timestamp b) { return a < b ? a : b; }

}  // namespace

void ReliabilityManager::Impl::ScheduleSync(ChannelState& channel, Timestamp now) {
  if (config_.sync_message_interval <= Duration::zero() || channel.sync_due) return;
  channel.sync_due = now + config_.sync_message_interval;
}

void ReliabilityManager::Impl::TickChannel(ChannelState& channel, Timestamp now) {
  // Outgoing buffer: ordered by last broadcast, so only the front can be due.
  while (!channel.outgoing.empty() &&
         channel.outgoing.front().last_broadcast + config_.resend_interval <= now) {
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
    auto wire = MakeSyncMessage(channel.channel_id, sync_id, now);
    if (wire.ok()) events_.push_back(SyncMessageReady{channel.channel_id, std::move(*wire)});
  }
}

Timestamp ReliabilityManager::Impl::ChannelDeadline(const ChannelState& channel) const {
  Timestamp next = kNoDeadline;
  if (!channel.outgoing.empty()) {
    next = channel.outgoing.front().last_broadcast + config_.resend_interval;
  }
  if (channel.sync_due) next = Earlier(next, *channel.sync_due);
  next = Earlier(next, RepairDeadline(channel));
  return next;
}

Timestamp ReliabilityManager::Impl::Tick(Timestamp now) {
  for (auto& [id, channel] : channels_) {
    PersistScope persist(this, channel.get());  // saves the channel only if it changed
    TickChannel(*channel, now);
  }
  return NextDeadline();
}

Timestamp ReliabilityManager::Impl::NextDeadline() const {
  Timestamp next = kNoDeadline;
  for (const auto& [id, channel] : channels_) next = Earlier(next, ChannelDeadline(*channel));
  return next;
}

}  // namespace sds
