#include "sim/network.h"

#include <type_traits>

#include "sds/codec.h"

namespace sds::sim {

struct Network::Participant {
  std::string name;
  std::unique_ptr<ReliabilityManager> manager;
  ParticipantStats stats;
  std::vector<MessageId> delivered;
  uint64_t next_message = 1;
  Timestamp scheduled_tick = kNoDeadline;
};

Network::Network(const LinkOptions& link, Timestamp start)
    : link_(link), now_(start), rng_(link.seed) {}

Network::~Network() = default;

Result<size_t> Network::AddParticipant(const Config& participant_config) {
  // Every participant is a member of every channel the group talks on: a
  // message is the first each receiver hears of a channel.
  Config config = participant_config;
  config.channel_admission = ChannelAdmission::kAny;
  auto manager = ReliabilityManager::Create(config);
  if (!manager.ok()) return manager.status();
  auto participant = std::make_unique<Participant>();
  participant->name = config.participant_id;
  participant->manager = std::move(*manager);
  participants_.push_back(std::move(participant));
  return participants_.size() - 1;
}

const std::string& Network::Name(size_t index) const { return participants_[index]->name; }
const ParticipantStats& Network::Stats(size_t index) const { return participants_[index]->stats; }
const std::vector<MessageId>& Network::DeliveredIds(size_t index) const {
  return participants_[index]->delivered;
}
ReliabilityManager& Network::Manager(size_t index) { return *participants_[index]->manager; }

void Network::At(Timestamp when, std::function<void()> run) {
  actions_.push(Action{when, next_order_++, std::move(run)});
}

Status Network::Send(size_t from, const ChannelId& channel, const std::string& content) {
  Participant& sender = *participants_[from];
  MessageId id = sender.name + "-" + std::to_string(sender.next_message++);
  auto wire = sender.manager->Wrap(channel, ToBytes(content), id, now_);
  if (!wire.ok()) return wire.status();
  ++sender.stats.sent;
  all_sent_.push_back(id);
  Broadcast(from, *wire, id);
  Drain(from);
  return Status::Ok();
}

void Network::ScheduleSend(Timestamp when, size_t from, const ChannelId& channel,
                           std::string content) {
  At(when,
     [this, from, channel, content = std::move(content)] { (void)Send(from, channel, content); });
}

void Network::Broadcast(size_t from, const SharedBytes& wire, const MessageId& id) {
  Participant& sender = *participants_[from];
  ++sender.stats.broadcasts;
  sender.stats.bytes_broadcast += wire.size();
  if (auto decoded = DecodeAny(wire); decoded.ok()) {
    sender.stats.repair_requests_sent += decoded->message.repair_request.size();
  }
  if (observer_) observer_(from, wire, id);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::uniform_int_distribution<int64_t> delay(link_.min_delay.count(), link_.max_delay.count());
  for (size_t to = 0; to < participants_.size(); ++to) {
    if (to == from) continue;
    // Draw both numbers for every copy so that one change of loss keeps the
    // rest of the run's randomness aligned.
    bool lost = coin(rng_) < link_.loss;
    Duration latency(delay(rng_));
    if (lost || (drop_filter_ && drop_filter_(from, to, id))) continue;
    At(now_ + latency, [this, to, wire] { Receive(to, wire); });
  }
}

void Network::Receive(size_t to, const SharedBytes& wire) {
  Participant& receiver = *participants_[to];
  auto result = receiver.manager->Unwrap(wire, now_);
  if (!result.ok()) ++receiver.stats.rejected;
  Drain(to);
}

void Network::Drain(size_t index) {
  Participant& participant = *participants_[index];
  while (auto event = participant.manager->PollEvent()) {
    std::visit(
        [&](auto& e) {
          using T = std::decay_t<decltype(e)>;
          ParticipantStats& stats = participant.stats;
          if constexpr (std::is_same_v<T, MessageReady>) {
            ++stats.delivered;
            participant.delivered.push_back(e.message_id);
          } else if constexpr (std::is_same_v<T, MessageAcknowledged>) {
            ++stats.acknowledged;
          } else if constexpr (std::is_same_v<T, MessagePossiblyAcknowledged>) {
            ++stats.possibly_acknowledged;
          } else if constexpr (std::is_same_v<T, SendFailed>) {
            ++stats.send_failed;
          } else if constexpr (std::is_same_v<T, RebroadcastDue>) {
            ++stats.rebroadcasts;
            Broadcast(index, e.wire, e.message_id);
          } else if constexpr (std::is_same_v<T, SyncMessageReady>) {
            ++stats.syncs_sent;
            Broadcast(index, e.wire, "sync");
          } else if constexpr (std::is_same_v<T, RepairReady>) {
            ++stats.repairs_sent;
            Broadcast(index, e.wire, e.message_id);
          } else if constexpr (std::is_same_v<T, MessageDropped>) {
            ++stats.dropped;
          }
        },
        *event);
  }
  ScheduleTick(index);
}

void Network::ScheduleTick(size_t index) {
  Participant& participant = *participants_[index];
  Timestamp deadline = participant.manager->NextDeadline();
  if (deadline == kNoDeadline || deadline >= participant.scheduled_tick) return;
  participant.scheduled_tick = deadline;
  At(deadline, [this, index, deadline] {
    Participant& p = *participants_[index];
    if (p.scheduled_tick != deadline) return;  // superseded by an earlier tick
    p.scheduled_tick = kNoDeadline;
    p.manager->Tick(now_);
    Drain(index);
  });
}

void Network::RunUntil(Timestamp until) {
  while (!actions_.empty() && actions_.top().when <= until) {
    Action action = actions_.top();
    actions_.pop();
    if (action.when > now_) now_ = action.when;
    action.run();
  }
  if (until > now_) now_ = until;
}

}  // namespace sds::sim
