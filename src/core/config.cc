#include "sds/config.h"

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

namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

}  // namespace

Status Config::Validate() const {
  if (bloom_filter_capacity < 1) return Invalid("bloom_filter_capacity must be at least 1");
  if (!(bloom_filter_error_rate > 0.0 && bloom_filter_error_rate < 1.0)) {
    return Invalid("bloom_filter_error_rate must be in (0, 1)");
  }
  if (bloom_ack_threshold < 1) return Invalid("bloom_ack_threshold must be at least 1");
  if (max_message_history < 1) return Invalid("max_message_history must be at least 1");
  if (resend_interval <= Duration::zero()) return Invalid("resend_interval must be positive");
  if (max_resend_attempts < 0) return Invalid("max_resend_attempts must not be negative");
  if (sync_message_interval < Duration::zero()) {
    return Invalid("sync_message_interval must not be negative");
  }
  if (repair_t_min < Duration::zero() || repair_t_max < Duration::zero()) {
    return Invalid("repair_t_min and repair_t_max must not be negative");
  }
  if (max_repair_attempts < 1) return Invalid("max_repair_attempts must be at least 1");
  if (repair_group_size_estimate < 1) return Invalid("repair_group_size_estimate must be >= 1");
  if (participant_id.size() > limits.decode.max_id_bytes) {
    return Invalid("participant_id is longer than limits.decode.max_id_bytes");
  }
  if (limits.max_channels < 1) return Invalid("limits.max_channels must be at least 1");
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
