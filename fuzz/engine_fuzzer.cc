// Drives two or three ReliabilityManagers through a sequence of operations
// chosen by the fuzz input: Wrap, WrapEphemeral, MakeSyncMessage, Unwrap of
// earlier messages (as sent, or with bit flips, truncation, splicing and
// inserted bytes), MarkDependenciesMet and Tick with time moving forward.
// Every message any manager produced (wraps, resends, syncs, repairs) joins a
// pool that later steps deliver or corrupt. Uses only the public API.
//
// After every step, for every manager and channel:
//   - no content message is delivered (MessageReady) twice;
//   - every dependency in a delivered message's causal history was delivered,
//     sent by that manager or marked met before it (in event order);
//   - Tick returns a deadline after `now`, or kNoDeadline;
//   - a rejected Unwrap changed nothing observable;
//   - history, incoming and outgoing buffers and channel count stay within
//     the configured limits (small here, so that overflow and eviction run).
// A violation aborts with a message naming it.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sds/codec.h"
#include "sds/config.h"
#include "sds/events.h"
#include "sds/reliability_manager.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "engine_fuzzer: %s\n", what.c_str());
  std::abort();
}

constexpr size_t kMaxSteps = 300;
constexpr size_t kMaxPool = 64;
const char* const kChannels[] = {"ch-a", "ch-b"};

// What one manager has seen on one channel, as the app would record it.
struct ChannelTrack {
  std::set<sds::MessageId> delivered;  // content messages handed to the app
  std::set<sds::MessageId> known;      // delivered, sent by us, or marked met
};

struct Peer {
  std::unique_ptr<sds::ReliabilityManager> manager;
  sds::Config config;
  std::map<sds::ChannelId, ChannelTrack> channels;
};

// A snapshot of what a rejected Unwrap must leave unchanged.
struct Observable {
  std::vector<sds::ChannelId> channels;
  std::vector<std::vector<sds::MessageId>> history, incoming, outgoing;
  std::vector<std::optional<sds::LamportTime>> lamport;
  size_t pending_events = 0;

  static Observable Of(const sds::ReliabilityManager& m) {
    Observable o;
    o.channels = m.Channels();
    for (const auto& channel : o.channels) {
      o.history.push_back(m.History(channel));
      o.incoming.push_back(m.IncomingBuffer(channel));
      o.outgoing.push_back(m.OutgoingBuffer(channel));
      o.lamport.push_back(m.Lamport(channel));
    }
    o.pending_events = m.PendingEventCount();
    return o;
  }
  bool operator==(const Observable&) const = default;
};

sds::Config ConfigFor(sds::Dialect dialect, const std::string& participant,
                      FuzzedDataProvider& in) {
  sds::Config config = sds::Config::ForDialect(dialect);
  config.participant_id = participant;
  config.max_message_history = in.ConsumeIntegralInRange<size_t>(2, 12);
  config.max_causal_history = in.ConsumeIntegralInRange<size_t>(1, 4);
  // Large enough that no id leaves the duplicate window in one run: a message
  // delivered twice is then always a bug.
  config.dedup_window = 4096;
  config.limits.max_channels = 3;
  config.limits.max_incoming_buffer = in.ConsumeIntegralInRange<size_t>(1, 6);
  // Small messages (a small bloom filter), so that the incoming buffer's
  // byte bound takes part too.
  config.bloom_filter_capacity = 64;
  config.bloom_filter_error_rate = 0.01;
  config.limits.decode.max_message_bytes = 4096;
  config.limits.max_incoming_buffer_bytes = in.ConsumeIntegralInRange<size_t>(4096, 16384);
  config.limits.max_outgoing_buffer = in.ConsumeIntegralInRange<size_t>(1, 6);
  config.limits.max_repair_buffer = in.ConsumeIntegralInRange<size_t>(1, 8);
  config.resend_interval = std::chrono::seconds{in.ConsumeIntegralInRange<int>(1, 90)};
  config.max_resend_attempts = in.ConsumeIntegralInRange<int>(0, 3);
  config.sync_message_interval = std::chrono::seconds{in.ConsumeIntegralInRange<int>(0, 60)};
  config.repair_t_min = std::chrono::seconds{in.ConsumeIntegralInRange<int>(0, 5)};
  config.repair_t_max =
      config.repair_t_min + std::chrono::seconds{in.ConsumeIntegralInRange<int>(1, 30)};
  config.num_response_groups = in.ConsumeIntegralInRange<int>(1, 3);
  if (in.ConsumeBool())
    config.repair_request_timer = sds::RepairRequestTimer::kTruncatedExponential;
  return config;
}

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& in) : in_(in) {
    const size_t peers = in_.ConsumeIntegralInRange<size_t>(2, 3);
    const uint8_t dialects = in_.ConsumeIntegral<uint8_t>();
    for (size_t i = 0; i < peers; ++i) {
      const auto dialect = (dialects >> i) & 1 ? sds::Dialect::kSpec : sds::Dialect::kNim;
      Peer peer;
      peer.config = ConfigFor(dialect, std::string(1, static_cast<char>('a' + i)), in_);
      auto created = sds::ReliabilityManager::Create(peer.config);
      if (!created.ok()) Fail("Create: " + created.status().ToString());
      peer.manager = std::move(created).value();
      peers_.push_back(std::move(peer));
    }
  }

  void Run() {
    for (size_t step = 0; step < kMaxSteps && in_.remaining_bytes() > 0; ++step) {
      Peer& peer = peers_[in_.ConsumeIntegralInRange<size_t>(0, peers_.size() - 1)];
      switch (in_.ConsumeIntegralInRange<int>(0, 8)) {
        case 0:
        case 1:
          Wrap(peer);
          break;
        case 2:
          Deliver(peer, /*mutate=*/false);
          break;
        case 3:
          Deliver(peer, /*mutate=*/true);
          break;
        case 4:
          MarkMet(peer);
          break;
        case 5:
          Tick();
          break;
        case 6:
          Sync(peer);
          break;
        case 7:
          Ephemeral(peer);
          break;
        case 8:
          Deliver(peer, /*mutate=*/false);
          break;
      }
      for (Peer& p : peers_) Check(p);
    }
  }

 private:
  const char* PickChannel() { return kChannels[in_.ConsumeIntegralInRange<int>(0, 1)]; }

  void Remember(const sds::SharedBytes& wire) {
    if (wire.empty()) return;
    if (pool_.size() < kMaxPool) {
      pool_.push_back(wire);
    } else {
      pool_[in_.ConsumeIntegralInRange<size_t>(0, kMaxPool - 1)] = wire;
    }
  }

  void Wrap(Peer& peer) {
    const sds::ChannelId channel = PickChannel();
    // Mostly fresh ids; sometimes one already used (must be refused).
    const sds::MessageId id = in_.ConsumeBool() || ids_.empty()
                                  ? "m" + std::to_string(next_id_++)
                                  : ids_[in_.ConsumeIntegralInRange<size_t>(0, ids_.size() - 1)];
    const std::string text = in_.ConsumeRandomLengthString(24);
    const sds::Bytes content(text.begin(), text.end());
    auto wire = peer.manager->Wrap(channel, content, id, now_);
    if (wire.ok()) {
      peer.channels[channel].known.insert(id);
      ids_.push_back(id);
      Remember(*wire);
    }
    Drain(peer);
  }

  void Ephemeral(Peer& peer) {
    const std::string text = in_.ConsumeRandomLengthString(16);
    const sds::Bytes content(text.begin(), text.end());
    auto wire =
        peer.manager->WrapEphemeral(PickChannel(), content, "e" + std::to_string(next_id_++), now_);
    if (wire.ok()) Remember(*wire);
    Drain(peer);
  }

  void Sync(Peer& peer) {
    auto wire = peer.manager->MakeSyncMessage(PickChannel(), "sync", now_);
    if (wire.ok()) Remember(*wire);
    Drain(peer);
  }

  sds::Bytes Mutate(const sds::SharedBytes& original) {
    sds::Bytes bytes = original.ToBytes();
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:  // bit flips
        for (int flips = in_.ConsumeIntegralInRange<int>(1, 4); flips > 0 && !bytes.empty();
             --flips) {
          bytes[in_.ConsumeIntegralInRange<size_t>(0, bytes.size() - 1)] ^=
              static_cast<uint8_t>(1u << in_.ConsumeIntegralInRange<int>(0, 7));
        }
        break;
      case 1:  // truncation
        bytes.resize(in_.ConsumeIntegralInRange<size_t>(0, bytes.size()));
        break;
      case 2: {  // splice: a prefix of this message, a suffix of another
        const sds::SharedBytes& other =
            pool_[in_.ConsumeIntegralInRange<size_t>(0, pool_.size() - 1)];
        bytes.resize(in_.ConsumeIntegralInRange<size_t>(0, bytes.size()));
        const size_t from = in_.ConsumeIntegralInRange<size_t>(0, other.size());
        bytes.insert(bytes.end(), other.data() + from, other.data() + other.size());
        break;
      }
      default: {  // bytes from the input inserted somewhere
        const std::string noise = in_.ConsumeRandomLengthString(16);
        const size_t at = in_.ConsumeIntegralInRange<size_t>(0, bytes.size());
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), noise.begin(), noise.end());
        break;
      }
    }
    return bytes;
  }

  void Deliver(Peer& peer, bool mutate) {
    if (pool_.empty()) return;
    const sds::SharedBytes& chosen = pool_[in_.ConsumeIntegralInRange<size_t>(0, pool_.size() - 1)];
    const sds::Bytes wire = mutate ? Mutate(chosen) : chosen.ToBytes();
    const Observable before = Observable::Of(*peer.manager);
    auto result = peer.manager->Unwrap(wire, now_);
    if (!result.ok()) {
      if (!(Observable::Of(*peer.manager) == before)) {
        Fail("a rejected Unwrap (" + result.status().ToString() + ") changed the manager");
      }
      return;
    }
    if (mutate) Remember(sds::SharedBytes(wire));
    Drain(peer);
  }

  void MarkMet(Peer& peer) {
    const sds::ChannelId channel = PickChannel();
    std::vector<sds::MessageId> ids;
    for (int n = in_.ConsumeIntegralInRange<int>(1, 3); n > 0 && !ids_.empty(); --n) {
      ids.push_back(ids_[in_.ConsumeIntegralInRange<size_t>(0, ids_.size() - 1)]);
    }
    if (in_.ConsumeBool()) ids.push_back("never-sent-" + std::to_string(next_id_++));
    sds::Status status = peer.manager->MarkDependenciesMet(channel, ids, now_);
    if (status.ok()) {
      // Marked first: the deliveries they unblock are checked against them.
      for (const auto& id : ids) peer.channels[channel].known.insert(id);
    }
    Drain(peer);
  }

  void Tick() {
    now_ += std::chrono::milliseconds{in_.ConsumeIntegralInRange<int64_t>(0, 120'000)};
    for (Peer& peer : peers_) {
      const sds::Timestamp next = peer.manager->Tick(now_);
      if (next != sds::kNoDeadline && next <= now_) {
        Fail("Tick returned a deadline that is not after now");
      }
      Drain(peer);
    }
  }

  void Drain(Peer& peer) {
    for (const sds::Event& event : peer.manager->TakeEvents()) {
      if (const auto* ready = std::get_if<sds::MessageReady>(&event)) {
        OnReady(peer, *ready);
      } else if (const auto* due = std::get_if<sds::RebroadcastDue>(&event)) {
        Remember(due->wire);
      } else if (const auto* sync = std::get_if<sds::SyncMessageReady>(&event)) {
        Remember(sync->wire);
      } else if (const auto* repair = std::get_if<sds::RepairReady>(&event)) {
        Remember(repair->wire);
      }
    }
  }

  void OnReady(Peer& peer, const sds::MessageReady& ready) {
    if (ready.kind != sds::MessageKind::kContent) return;
    ChannelTrack& track = peer.channels[ready.channel_id];
    if (!track.delivered.insert(ready.message_id).second) {
      Fail("message " + ready.message_id + " delivered twice on " + ready.channel_id);
    }
    auto decoded = sds::DecodeAny(ready.wire, peer.config.limits.decode);
    if (!decoded.ok()) Fail("a delivered message does not decode: " + decoded.status().ToString());
    for (const sds::HistoryEntry& dependency : decoded->message.causal_history) {
      if (!track.known.contains(dependency.message_id)) {
        Fail("message " + ready.message_id + " delivered before its dependency " +
             dependency.message_id);
      }
    }
    track.known.insert(ready.message_id);
  }

  void Check(Peer& peer) {
    const sds::ReliabilityManager& m = *peer.manager;
    const auto channels = m.Channels();
    if (channels.size() > peer.config.limits.max_channels) Fail("more channels than max_channels");
    for (const auto& channel : channels) {
      if (m.History(channel).size() > peer.config.max_message_history) {
        Fail("history over max_message_history on " + channel);
      }
      if (m.IncomingBuffer(channel).size() > peer.config.limits.max_incoming_buffer) {
        Fail("incoming buffer over max_incoming_buffer on " + channel);
      }
      if (m.OutgoingBuffer(channel).size() > peer.config.limits.max_outgoing_buffer) {
        Fail("outgoing buffer over max_outgoing_buffer on " + channel);
      }
    }
    if (m.PendingEventCount() != 0) Fail("events left after draining");
  }

  FuzzedDataProvider& in_;
  std::vector<Peer> peers_;
  std::vector<sds::SharedBytes> pool_;
  std::vector<sds::MessageId> ids_;
  uint64_t next_id_ = 0;
  sds::Timestamp now_ = sds::TimestampFromUnixMillis(1'700'000'000'000);
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Harness harness(in);
  harness.Run();
  return 0;
}
