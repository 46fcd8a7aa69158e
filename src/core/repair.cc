// SDS-R: repair requests for missing messages (scheduling, riding on our next
// message, cancelling, expiry) and answers to peers' requests. The timing
// formulas (T_req, T_resp, the response group) are in repair_timing.cc.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/reliability_manager_impl.h"
#include "core/repair_timing.h"

namespace sds {

using internal::ChannelState;

// ---- Our requests -------------------------------------------------------------------------

void ReliabilityManager::Impl::RequestRepairs(ChannelState& channel,
                                              const std::vector<HistoryEntry>& missing,
                                              Timestamp now) {
  if (!config_.repair_enabled()) {
    if (!reported_repair_disabled_ && log_) {
      reported_repair_disabled_ = true;
      // Informational: an empty id is a valid choice (nim-sds's C API makes it).
      log_(LogLevel::kInfo, internal::kRepairDisabledMessage);
    }
    return;
  }
  for (const HistoryEntry& dep : missing) {
    if (channel.outgoing_repair.count(dep.message_id) != 0) continue;
    // Held in the incoming buffer (waiting for its own dependencies): asking
    // for it again would only make peers rebroadcast what we have.
    if (channel.incoming_index.count(dep.message_id) != 0) continue;
    if (channel.outgoing_repair.size() >= config_.limits.max_repair_buffer) break;
    Timestamp deadline = now + repair::RequestDelay(config_, dep.message_id);
    channel.outgoing_repair[dep.message_id] = internal::OutgoingRepairEntry{dep, deadline};
    TouchOutgoingRepair(channel, dep.message_id);
  }
}

std::vector<HistoryEntry> ReliabilityManager::Impl::TakeDueRepairRequests(ChannelState& channel,
                                                                          Timestamp now) {
  std::vector<std::pair<Timestamp, MessageId>> due;
  for (const auto& [id, entry] : channel.outgoing_repair) {
    if (entry.deadline <= now) due.emplace_back(entry.deadline, id);
  }
  // Most overdue first; ties by id so the choice does not depend on hashing.
  std::sort(due.begin(), due.end());
  if (due.size() > config_.max_repair_requests) due.resize(config_.max_repair_requests);
  std::vector<HistoryEntry> requests;
  requests.reserve(due.size());
  for (const auto& [deadline, id] : due) {
    auto it = channel.outgoing_repair.find(id);
    TouchOutgoingRepair(channel, id);
    requests.push_back(it->second.entry);
    if (++it->second.attempts >= config_.max_repair_attempts) {
      channel.outgoing_repair.erase(it);
    } else {
      // Ask again only if no answer reached us within the longest T_resp.
      it->second.deadline = now + config_.repair_t_max;
    }
  }
  return requests;
}

void ReliabilityManager::Impl::CancelRepairs(ChannelState& channel, const MessageId& id) {
  if (channel.outgoing_repair.erase(id) != 0) TouchOutgoingRepair(channel, id);
  if (channel.incoming_repair.erase(id) != 0) TouchIncomingRepair(channel, id);
}

void ReliabilityManager::Impl::DeferDueRepairRequests(ChannelState& channel, Timestamp now) {
  // More requests were due than one sync message carries: the rest wait one
  // pacing interval, so that Tick moves forward instead of producing another
  // sync message at the same instant for every max_repair_requests of them.
  const Duration pacing = std::min<Duration>(std::chrono::seconds{1}, config_.repair_t_max);
  for (auto& [id, entry] : channel.outgoing_repair) {
    if (entry.deadline > now) continue;
    entry.deadline = now + pacing;
    TouchOutgoingRepair(channel, id);
  }
}

// ---- Peers' requests ----------------------------------------------------------------------

void ReliabilityManager::Impl::HandleRepairRequests(ChannelState& channel, const Message& message,
                                                    Timestamp now) {
  for (const HistoryEntry& request : message.repair_request) {
    // Someone else already asks: ours would be redundant unless that request
    // goes unanswered, so wait as long as an answer may take.
    if (auto own = channel.outgoing_repair.find(request.message_id);
        own != channel.outgoing_repair.end()) {
      TouchOutgoingRepair(channel, request.message_id);
      if (config_.max_repair_attempts <= 1) {
        channel.outgoing_repair.erase(own);
      } else {
        own->second.deadline = std::max(own->second.deadline, now + config_.repair_t_max);
      }
    }
    if (!config_.repair_enabled() || request.sender_id.empty()) continue;
    auto record = channel.history.find(request.message_id);
    if (record == channel.history.end() || record->second.wire.empty()) continue;
    if (!repair::InResponseGroup(config_, request.sender_id, request.message_id)) continue;
    // Already queued: the first T_resp stands (nim-sds restarts it, so that
    // repeated requests could postpone the answer indefinitely).
    if (channel.incoming_repair.count(request.message_id) != 0) continue;
    if (channel.incoming_repair.size() >= config_.limits.max_repair_buffer) {
      continue;  // bounded: a flood of requests cannot make us queue a storm
    }
    Timestamp deadline =
        now + repair::ResponseDelay(config_, request.sender_id, request.message_id);
    channel.incoming_repair[request.message_id] =
        internal::IncomingRepairEntry{request, record->second.wire, deadline};
    TouchIncomingRepair(channel, request.message_id);
  }
}

// ---- Time ---------------------------------------------------------------------------------

bool ReliabilityManager::Impl::TickRepairs(ChannelState& channel, Timestamp now) {
  if (!config_.repair_enabled()) {
    // State saved under a participant id and loaded without one: requests
    // that can never be sent would be due for ever (a sync on every Tick),
    // and answers would use a response group we no longer belong to.
    for (const auto& [id, entry] : channel.outgoing_repair) TouchOutgoingRepair(channel, id);
    for (const auto& [id, entry] : channel.incoming_repair) TouchIncomingRepair(channel, id);
    channel.outgoing_repair.clear();
    channel.incoming_repair.clear();
    return false;
  }
  // SDS-R responses that nobody else sent first.
  for (auto it = channel.incoming_repair.begin(); it != channel.incoming_repair.end();) {
    if (it->second.deadline <= now) {
      events_.push_back(RepairReady{channel.channel_id, it->first, it->second.wire});
      TouchIncomingRepair(channel, it->first);
      it = channel.incoming_repair.erase(it);
    } else {
      ++it;
    }
  }
  // SDS-R requests that found no message to ride on within T_max give up
  // (nim-sds). When sync messages carry due requests, every request finds
  // one at its deadline, so a request T_max overdue only means the engine was
  // not ticked (the app was suspended or offline): it goes out now instead,
  // else the messages waiting for it would stay buffered for good, since
  // nothing names so old a message again.
  const bool expire = !config_.repair_requests_in_sync_messages;
  bool request_due = false;
  for (auto it = channel.outgoing_repair.begin(); it != channel.outgoing_repair.end();) {
    if (expire && it->second.deadline < now - config_.repair_t_max) {
      TouchOutgoingRepair(channel, it->first);
      it = channel.outgoing_repair.erase(it);
    } else {
      request_due = request_due || it->second.deadline <= now;
      ++it;
    }
  }
  return request_due;
}

Timestamp ReliabilityManager::Impl::RepairDeadline(const ChannelState& channel) const {
  Timestamp next = kNoDeadline;
  for (const auto& [id, entry] : channel.incoming_repair) next = std::min(next, entry.deadline);
  for (const auto& [id, entry] : channel.outgoing_repair) {
    // Due requests go out at their deadline in a sync message, so the expiry
    // after T_max never comes first; when they wait for the application's
    // next message instead, only the expiry is ours to schedule.
    next = std::min(next, config_.repair_requests_in_sync_messages ? entry.deadline
                          : entry.deadline > kNoDeadline - config_.repair_t_max - Duration{1}
                              ? kNoDeadline
                              : entry.deadline + config_.repair_t_max + Duration{1});
  }
  return next;
}

}  // namespace sds
