#include "sds/config.h"

#include <algorithm>
#include <limits>
#include <string>

namespace sds {

Config Config::ForDialect(Dialect dialect) {
  Config config;
  config.dialect = dialect;
  if (dialect == Dialect::kSpec) {
    // What @waku/sds does and the specification asks for.
    config.lamport_unit = LamportUnit::kMilliseconds;
    config.bloom_ack_threshold = 2;
    config.repair_t_max = std::chrono::seconds{120};
  }
  return config;
}

Duration Config::BloomWireHorizon() const {
  if (bloom_wire_horizon > Duration::zero()) return bloom_wire_horizon;
  // Saturates at kMaxInterval (resend_interval is at most that, attempts any int).
  const int64_t intervals = static_cast<int64_t>(std::max(max_resend_attempts, 0)) + 2;
  if (resend_interval.count() > kMaxInterval.count() / intervals) return kMaxInterval;
  return resend_interval * intervals;
}

namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

// Bytes of the largest filter we may send with this geometry: the words plus
// nim-sds's header (five small varint fields and the error rate's double).
size_t MaxBloomWireBytes(const Config& config) {
  int64_t capacity = config.bloom_filter_capacity;
  // nim-sds's roll-over rebuilds with capacity + 20% (bloom_filter.h).
  if (config.bloom_roll_over == BloomRollOver::kNimSds) capacity += capacity / 5 + 1;
  auto params = BloomParameters::Compute(capacity, config.bloom_filter_error_rate);
  if (!params.ok()) return std::numeric_limits<size_t>::max();
  return params->word_count() * sizeof(uint64_t) + 64;
}

bool IntervalTooLong(Duration d) { return d > Config::kMaxInterval; }

}  // namespace

Status Config::Validate() const {
  if (bloom_filter_capacity < 1) return Invalid("bloom_filter_capacity must be at least 1");
  if (!(bloom_filter_error_rate > 0.0 && bloom_filter_error_rate < 1.0)) {
    return Invalid("bloom_filter_error_rate must be in (0, 1)");
  }
  // Capacities beyond this cannot be sent to anyone (the decode limit is far below).
  if (bloom_filter_capacity > (int64_t{1} << 40)) {
    return Invalid("bloom_filter_capacity is too large");
  }
  if (MaxBloomWireBytes(*this) > limits.decode.max_bloom_bytes) {
    return Invalid(
        "bloom filter geometry (capacity, error rate) exceeds limits.decode.max_bloom_bytes: "
        "peers would reject every message");
  }
  if (bloom_ack_threshold < 1) return Invalid("bloom_ack_threshold must be at least 1");
  if (max_message_history < 1) return Invalid("max_message_history must be at least 1");
  if (resend_interval <= Duration::zero()) return Invalid("resend_interval must be positive");
  if (max_causal_history > limits.decode.max_causal_history) {
    return Invalid(
        "max_causal_history exceeds limits.decode.max_causal_history: peers would "
        "reject every message");
  }
  if (max_resend_attempts < 0) return Invalid("max_resend_attempts must not be negative");
  if (sync_message_interval < Duration::zero()) {
    return Invalid("sync_message_interval must not be negative");
  }
  if (repair_t_min < Duration::zero() || repair_t_max < Duration::zero()) {
    return Invalid("repair_t_min and repair_t_max must not be negative");
  }
  if (bloom_wire_horizon < Duration::zero() || IntervalTooLong(bloom_wire_horizon)) {
    return Invalid("bloom_wire_horizon must be in [0, Config::kMaxInterval]");
  }
  if (IntervalTooLong(resend_interval) || IntervalTooLong(sync_message_interval) ||
      IntervalTooLong(repair_t_min) || IntervalTooLong(repair_t_max)) {
    return Invalid(
        "resend_interval, sync_message_interval, repair_t_min and repair_t_max must "
        "not exceed Config::kMaxInterval (100 years)");
  }
  // A request that went out is re-armed t_max later: t_max 0 would re-arm it
  // for the same instant and Tick could not move forward.
  if (repair_t_max < Duration{1}) return Invalid("repair_t_max must be at least 1 ms");
  if (num_response_groups < 1) return Invalid("num_response_groups must be at least 1");
  // 0 would leave due requests that no message can carry: a sync on every Tick.
  if (max_repair_requests < 1) return Invalid("max_repair_requests must be at least 1");
  if (max_repair_requests > limits.decode.max_repair_request) {
    return Invalid(
        "max_repair_requests exceeds limits.decode.max_repair_request: peers would "
        "reject every message carrying that many");
  }
  if (max_repair_attempts < 1) return Invalid("max_repair_attempts must be at least 1");
  if (repair_group_size_estimate < 1) return Invalid("repair_group_size_estimate must be >= 1");
  // Our sync messages are named "sync-<participant>-<count>-<ms>" (timers.cc):
  // an id that leaves no room for them would leave a sync due for ever.
  if (participant_id.size() + 48 > limits.decode.max_id_bytes) {
    return Invalid("participant_id is longer than limits.decode.max_id_bytes - 48");
  }
  if (limits.max_channels < 1) return Invalid("limits.max_channels must be at least 1");
  if (remote_channel_idle_timeout < Duration::zero() ||
      IntervalTooLong(remote_channel_idle_timeout)) {
    return Invalid("remote_channel_idle_timeout must be in [0, Config::kMaxInterval]");
  }
  if (limits.max_incoming_buffer_bytes < limits.decode.max_message_bytes) {
    return Invalid("limits.max_incoming_buffer_bytes must hold at least one message");
  }
  if (limits.max_incoming_buffer < 1 || limits.max_outgoing_buffer < 1) {
    return Invalid("limits.max_incoming_buffer and max_outgoing_buffer must be at least 1");
  }
  // Our clock may reach max_lamport and then advance by one on send: leave room.
  if (limits.max_lamport < 1 || limits.max_lamport > (LamportTime{1} << 62)) {
    return Invalid("limits.max_lamport must be in [1, 2^62]");
  }
  return Status::Ok();
}

}  // namespace sds
