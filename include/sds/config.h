// Configuration of a ReliabilityManager: every tunable, its default and why.
//
// Defaults are nim-sds's (the deployed dialect). Config::ForDialect(kSpec)
// gives the values @waku/sds and the SDS specification use instead.
#ifndef SDS_CONFIG_H_
#define SDS_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "sds/bloom_filter.h"
#include "sds/codec.h"
#include "sds/message.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds {

enum class LamportUnit : uint8_t {
  kSeconds,       // nim-sds: lamport = max(now_s, lamport) + 1 on send
  kMilliseconds,  // spec:    lamport = max(now_ms, lamport + 1) on send
};

// How SDS-R picks a repair request's delay (T_req) within [t_min, t_max).
enum class RepairRequestTimer : uint8_t {
  // The specification's uniform window from a hash of (participant, message).
  // Interoperable, but the number of requests per loss grows with the group.
  kUniform,
  // A truncated exponential over the same window (as NORM does): a few members
  // fire early, most fire late and are suppressed by the first request.
  kTruncatedExponential,
};

// The order of the local log (the history), which decides the ids the causal
// history carries (its tail) and the id evicted first (its head).
enum class HistoryOrder : uint8_t {
  // The order messages were delivered (or sent) here, as nim-sds keeps it. A
  // message that arrives late, through a resend or repair, joins the tail and
  // is named in our next causal histories, so peers that missed it too learn
  // that it exists. The default in both dialects (see the README's
  // "Deliberate differences").
  kDelivery,
  // Lamport timestamp, then ascending message id, as the specification's
  // "insert the ID into the local log by Lamport order" and @waku/sds. A late
  // message with an old timestamp lands inside the log, out of the causal
  // history window: peers that missed it may never hear of it.
  kLamport,
};

// Which channels a received message may create (Unwrap of an unknown id).
enum class ChannelAdmission : uint8_t {
  // Only channels the application created (EnsureChannel, Wrap, WrapEphemeral,
  // MakeSyncMessage) or that the store holds: a message for any other channel
  // is rejected with kUnknownChannel and changes nothing. A peer cannot make
  // us create, persist or track channels nobody subscribed to.
  kLocal,
  // nim-sds: a message for an unknown channel creates it. Such remote-created
  // channels are bounded by Limits::max_remote_channels; when the bound is
  // reached, the one idle longest (nothing received for at least
  // remote_channel_idle_timeout) is reclaimed to make room, with a kInfo log.
  // Using a channel locally (EnsureChannel, Wrap, WrapEphemeral, MakeSyncMessage) makes it
  // the application's: it is never reclaimed.
  kAny,
};

// What bloom filter a nim-dialect message carries (the spec dialect always
// sends the configured geometry: its receivers reject any other size).
enum class BloomWireSize : uint8_t {
  // Only the ids received within bloom_wire_horizon (at least the newest
  // max_causal_history of them), in the smallest of a few size classes that
  // keeps the false-positive rate at its actual fill at or below
  // bloom_filter_error_rate: capacity 64, 128, 256, ... and finally
  // bloom_filter_capacity. A 30-byte chat line then costs about 0.3-2 KB
  // instead of 19.6 KB. nim-sds receivers read each filter's own geometry.
  kRightSized,
  // The whole rolling filter (bloom_filter_capacity ids, 18.8 KB at the
  // defaults) with every message, as nim-sds sends it.
  kFixed,
};

// When a channel produces a sync message (SyncMessageReady) on its own.
enum class SyncPolicy : uint8_t {
  // Due sync_message_interval, jittered by +-10% from Config::random, after
  // the first message received since our last broadcast on the channel: the
  // members who heard the same message do not all sync at the same instant.
  kJitteredAfterReceipt,
  // The same, unjittered (the behaviour before jitter).
  kAfterReceipt,
  // kJitteredAfterReceipt, and the sync is cancelled once every message
  // received since our last broadcast was seen acknowledged to its sender by
  // another participant (listed in the causal history or bloom filter of a
  // message from someone other than its sender): fewer syncs (about a tenth
  // fewer in the demo), but a member that missed both the message and the
  // peer's sync learns of the gap later or, at the tail of a conversation,
  // not at all (the simulator's many-seed test loses messages with it).
  kUnacknowledgedReceipts,
};

// Bounds on what the engine holds; everything a peer can make it store is capped.
struct Limits {
  DecodeLimits decode;         // per received message
  size_t max_channels = 4096;  // channels in memory, however created
  // Channels created by Unwrap (ChannelAdmission::kAny) at once (max_channels
  // if that is lower). Below max_channels, the application keeps room for
  // channels of its own whatever peers send.
  size_t max_remote_channels = 1024;
  size_t max_incoming_buffer = 10000;  // messages waiting for dependencies, per channel;
                                       // overflow drops the oldest (MessageDropped event)
  size_t max_incoming_buffer_bytes = 64 * 1024 * 1024;  // their wire bytes, likewise
  size_t max_outgoing_buffer = 10000;  // unacknowledged messages, per channel; overflow
                                       // gives up on the oldest (SendFailed event)
  size_t max_repair_buffer = 1000;     // SDS-R entries per channel, each direction
  // Received Lamport values above this are rejected. Real clocks are far below
  // (ms since 1970 ~ 2^41); the cap keeps our own clock from being pushed to
  // overflow by a hostile peer (nim-sds crashes on 2^63 - 1).
  LamportTime max_lamport = LamportTime{1} << 62;
};

struct Config {
  // ---- Dialect -------------------------------------------------------------
  // Wire dialect of messages this manager sends, and of its bloom filter.
  Dialect dialect = Dialect::kNim;
  // Also accept messages in the other dialect (their bloom filters are read
  // with the other dialect's hash). false: such messages are rejected with
  // kDecodeDialectMismatch.
  bool accept_other_dialect = true;
  LamportUnit lamport_unit = LamportUnit::kSeconds;

  // Our participant id: sent as sender_id, and needed by SDS-R. Empty disables
  // SDS-R (no repair requests are made or answered); see repair_enabled().
  ParticipantId participant_id;

  // ---- Channels ------------------------------------------------------------
  // The C++ default admits only the application's channels; the C ABI keeps
  // nim-sds's create-on-first-use ("channelAdmission" in libsds.h).
  ChannelAdmission channel_admission = ChannelAdmission::kLocal;
  // A remote-created channel that received nothing for this long may be
  // reclaimed when Limits::max_remote_channels is reached (kAny only).
  Duration remote_channel_idle_timeout = std::chrono::minutes{10};

  // ---- Bloom filter --------------------------------------------------------
  // Each outgoing message carries this filter of the ids we have received.
  // Its wire size depends only on the geometry: ~18.8 KB at the defaults.
  int64_t bloom_filter_capacity = 10000;
  double bloom_filter_error_rate = 0.001;
  // How the filter rolls over once full. The default keeps the geometry: the
  // false-positive rate stays at its target and every message keeps the same
  // size (18.8 KB at the defaults). kNimSds reproduces nim-sds, whose filter
  // grows to 22.5 KB at its first roll-over; nim-sds peers accept either.
  BloomRollOver bloom_roll_over = BloomRollOver::kFixedGeometry;
  // Bloom hits needed before an outgoing message counts as acknowledged. 1 is
  // nim-sds (a false positive then drops an unacknowledged message for good);
  // 2 is @waku/sds. Below the threshold, hits give MessagePossiblyAcknowledged.
  int bloom_ack_threshold = 1;
  // Nim dialect only: right-sized filters (the default) or the whole filter.
  BloomWireSize bloom_wire_size = BloomWireSize::kRightSized;
  // How long a received id stays in a right-sized filter: as long as its
  // sender may still resend it and wait for an acknowledgement. 0 (the
  // default) means resend_interval x (max_resend_attempts + 2): the sender's
  // last resend plus one interval of margin for delay and for peers that
  // resend later than we would. See BloomWireHorizon().
  Duration bloom_wire_horizon = Duration::zero();
  Duration BloomWireHorizon() const;

  // ---- History -------------------------------------------------------------
  size_t max_message_history = 1000;  // delivered messages kept (for causal history and repair)
  size_t max_causal_history = 10;     // ids attached to each outgoing message
  HistoryOrder history_order = HistoryOrder::kDelivery;
  // Ids of delivered messages remembered for duplicate detection and
  // dependency checks after they left the history (0: the history only).
  size_t dedup_window = 10000;

  // ---- Outgoing buffer -----------------------------------------------------
  // An unacknowledged message is handed back for rebroadcast (RebroadcastDue)
  // every resend_interval, at most max_resend_attempts times; then SendFailed.
  Duration resend_interval = std::chrono::seconds{60};
  int max_resend_attempts = 5;

  // ---- Sync ----------------------------------------------------------------
  // A channel on which we sent nothing for this long produces a sync message
  // (SyncMessageReady): no content, but our causal history and bloom filter,
  // so that peers learn what we received. 0 disables.
  Duration sync_message_interval = std::chrono::seconds{30};
  SyncPolicy sync_policy = SyncPolicy::kJitteredAfterReceipt;
  // Entropy for timer jitter (the sync interval's +-10%), one uniformly
  // distributed 64-bit value per call; the engine never draws randomness of
  // its own. Empty: the jitter comes from a hash of the participant id, the
  // channel and the channel's sync count, which differs between participants
  // (enough to keep a group's syncs apart) and keeps runs reproducible.
  std::function<uint64_t()> random;

  // nim-sds's bufferSweepInterval (60 s) and repairSweepInterval (5 s) have no
  // counterpart: nim-sds polls its buffers on those periods, while this engine
  // keeps the exact deadline of every resend, sync and repair and Tick returns
  // the earliest one, so nothing waits up to a sweep period longer than asked.

  // ---- SDS-R ---------------------------------------------------------------
  bool repair_enabled() const { return !participant_id.empty(); }
  Duration repair_t_min = std::chrono::seconds{30};
  Duration repair_t_max = std::chrono::seconds{300};
  // Response groups split the holders of a message so that only the group of
  // its original sender answers a request for it; every participant of a
  // channel must use the same value. 1 (the nim-sds and @waku/sds default)
  // lets every holder answer, so the rebroadcasts per request grow with the
  // group (about 1 + n * delay / t_max). For n participants the specification's
  // default is SpecResponseGroups(n) = n / 128 + 1, one group per 128 members.
  // @waku/sds's updateResponseGroups(n) uses max(1, floor(n / 128)) instead,
  // one group fewer from n = 128 on: a mixed group must agree on one count.
  int num_response_groups = 1;
  static constexpr int SpecResponseGroups(int64_t num_participants) {
    if (num_participants < 0) return 1;
    int64_t groups = num_participants / 128 + 1;
    return groups > INT32_MAX ? INT32_MAX : static_cast<int>(groups);
  }
  size_t max_repair_requests = 3;  // repair entries attached to one outgoing message
  // How often one missing message is requested. nim-sds and @waku/sds ask
  // once, so a lost answer leaves the gap open for good; here a request that
  // went out is re-armed for t_max later (time enough for any answer), and a
  // request seen from a peer postpones ours the same way. 1 behaves as nim-sds.
  int max_repair_attempts = 3;
  // A due repair request that finds no outgoing message to ride on goes out
  // in a sync message at once (as the specification recommends). false: it
  // waits for the application's next message, as in nim-sds; for apps that do
  // not broadcast SyncMessageReady (nim-sds's C API has no such event).
  bool repair_requests_in_sync_messages = true;
  RepairRequestTimer repair_request_timer = RepairRequestTimer::kUniform;
  // Expected group size, used only by kTruncatedExponential to shape its curve.
  int64_t repair_group_size_estimate = 128;

  Limits limits;

  // The longest interval Validate accepts (resend, sync, T_min, T_max): far
  // beyond any use, and far enough from Timestamp's range that deadline
  // arithmetic cannot overflow.
  static constexpr Duration kMaxInterval = std::chrono::hours{24 * 365 * 100};

  // nim-sds defaults (the struct's defaults) or the spec / @waku/sds ones:
  // Lamport in ms, acknowledgement after 2 bloom hits, T_max 120 s.
  static Config ForDialect(Dialect dialect);

  // kInvalidArgument naming the first field that cannot work: values the
  // engine cannot run with (a zero history, a non-positive interval), values
  // that would make it busy-loop (max_repair_requests 0, repair_t_max 0) or
  // overflow its deadline arithmetic (intervals over kMaxInterval), and
  // values that make it send what peers reject (max_causal_history or
  // max_repair_requests over the decode limits, a bloom geometry whose
  // filter exceeds limits.decode.max_bloom_bytes).
  Status Validate() const;
};

}  // namespace sds

#endif  // SDS_CONFIG_H_
