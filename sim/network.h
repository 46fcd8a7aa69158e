// A deterministic network of SDS participants on virtual time.
//
// Every participant is a ReliabilityManager. Broadcasts travel over seeded
// links that lose, delay and so reorder messages; the simulation processes
// deliveries and each engine's deadlines (Tick) in time order. Nothing sleeps
// and nothing reads a clock: a run is a pure function of its options and seed.
//
// The network plays the application: it broadcasts what the engines hand back
// (rebroadcasts, sync messages, repairs) and records what they report.
#ifndef SDS_SIM_NETWORK_H_
#define SDS_SIM_NETWORK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "sds/reliability_manager.h"

namespace sds::sim {

struct LinkOptions {
  double loss = 0.0;  // probability that one copy of a broadcast is lost
  Duration min_delay = std::chrono::milliseconds{10};
  Duration max_delay = std::chrono::milliseconds{200};  // uniform; spread reorders
  uint64_t seed = 1;
};

struct ParticipantStats {
  uint64_t sent = 0;          // messages the application sent
  uint64_t delivered = 0;     // MessageReady from others
  uint64_t acknowledged = 0;  // MessageAcknowledged
  uint64_t possibly_acknowledged = 0;
  uint64_t rebroadcasts = 0;  // RebroadcastDue handled
  uint64_t send_failed = 0;
  uint64_t syncs_sent = 0;
  uint64_t repairs_sent = 0;          // RepairReady handled (SDS-R rebroadcasts)
  uint64_t repair_requests_sent = 0;  // SDS-R repair_request entries in its broadcasts
  uint64_t dropped = 0;               // MessageDropped
  uint64_t broadcasts = 0;            // wire messages put on the network
  uint64_t bytes_broadcast = 0;       // their total size
  uint64_t rejected = 0;              // Unwrap errors
};

class Network {
 public:
  Network(const LinkOptions& link, Timestamp start);
  ~Network();

  // Adds a participant; its index is returned. The config's participant_id
  // becomes its name.
  Result<size_t> AddParticipant(const Config& config);
  size_t size() const { return participants_.size(); }
  const std::string& Name(size_t index) const;

  // The application of `from` sends `content` now. Ids are "<name>-<n>".
  Status Send(size_t from, const ChannelId& channel, const std::string& content);
  // Sends later, at `when` (virtual time).
  void ScheduleSend(Timestamp when, size_t from, const ChannelId& channel, std::string content);

  // Processes everything scheduled up to and including `until`.
  void RunUntil(Timestamp until);
  Timestamp now() const { return now_; }

  const ParticipantStats& Stats(size_t index) const;
  // Message ids delivered to `index`, in delivery order.
  const std::vector<MessageId>& DeliveredIds(size_t index) const;
  ReliabilityManager& Manager(size_t index);
  // Messages sent by the application of anyone, in order.
  const std::vector<MessageId>& AllSent() const { return all_sent_; }

  // Drops every copy sent from `from` to `to` while the filter returns true
  // (for scripted losses in scenario tests).
  using DropFilter = std::function<bool(size_t from, size_t to, const MessageId& id)>;
  void SetDropFilter(DropFilter filter) { drop_filter_ = std::move(filter); }

  // Sees every wire message once as `from` puts it on the network (before
  // loss), with its id ("sync" for sync messages), e.g. to count what went out.
  using BroadcastObserver =
      std::function<void(size_t from, const SharedBytes& wire, const MessageId& id)>;
  void SetBroadcastObserver(BroadcastObserver observer) { observer_ = std::move(observer); }

 private:
  struct Participant;
  struct Action {
    Timestamp when;
    uint64_t order;  // FIFO among equal times, for determinism
    std::function<void()> run;
    bool operator>(const Action& other) const {
      return when != other.when ? when > other.when : order > other.order;
    }
  };

  void At(Timestamp when, std::function<void()> run);
  void Broadcast(size_t from, const SharedBytes& wire, const MessageId& id);
  void Receive(size_t to, const SharedBytes& wire);
  void Drain(size_t index);
  void ScheduleTick(size_t index);

  LinkOptions link_;
  Timestamp now_;
  std::mt19937_64 rng_;
  uint64_t next_order_ = 0;
  std::priority_queue<Action, std::vector<Action>, std::greater<Action>> actions_;
  std::vector<std::unique_ptr<Participant>> participants_;
  std::vector<MessageId> all_sent_;
  DropFilter drop_filter_;
  BroadcastObserver observer_;
};

}  // namespace sds::sim

#endif  // SDS_SIM_NETWORK_H_
