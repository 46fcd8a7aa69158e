#include "capi/config_json.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace sds::capi {
namespace {

using nlohmann::json;

Status Invalid(std::string why) { return Status(ErrorCode::kInvalidArgument, std::move(why)); }

// ---- nim-sds keys: lenient, as library/config_json.nim ---------------------

void NimInt(const json& node, const char* key, int64_t& out) {
  auto it = node.find(key);
  if (it != node.end() && it->is_number_integer()) out = it->get<int64_t>();
}

void NimFloat(const json& node, const char* key, double& out) {
  auto it = node.find(key);
  if (it != node.end() && it->is_number()) out = it->get<double>();
}

void NimDurationMs(const json& node, const char* key, Duration& out) {
  int64_t ms = out.count();
  NimInt(node, key, ms);
  out = Duration(ms);
}

Status NimSize(const json& node, const char* key, size_t& out) {
  int64_t value = static_cast<int64_t>(out);
  NimInt(node, key, value);
  if (value < 0) return Invalid(std::string(key) + " must not be negative");
  out = static_cast<size_t>(value);
  return Status::Ok();
}

Status NimSmallInt(const json& node, const char* key, int& out) {
  int64_t value = out;
  NimInt(node, key, value);
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    return Invalid(std::string(key) + " is out of range");
  }
  out = static_cast<int>(value);
  return Status::Ok();
}

// ---- Extension keys: strict --------------------------------------------------

Status ExtBool(const json& node, const char* key, bool& out) {
  auto it = node.find(key);
  if (it == node.end()) return Status::Ok();
  if (!it->is_boolean()) return Invalid(std::string(key) + " must be a boolean");
  out = it->get<bool>();
  return Status::Ok();
}

Status ExtInt(const json& node, const char* key, int64_t min, int64_t& out) {
  auto it = node.find(key);
  if (it == node.end()) return Status::Ok();
  if (!it->is_number_integer() || (it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX)) {
    return Invalid(std::string(key) + " must be an integer");
  }
  int64_t value = it->get<int64_t>();
  if (value < min) return Invalid(std::string(key) + " must be at least " + std::to_string(min));
  out = value;
  return Status::Ok();
}

Status ExtSize(const json& node, const char* key, size_t& out) {
  int64_t value = static_cast<int64_t>(out);
  SDS_RETURN_IF_ERROR(ExtInt(node, key, 0, value));
  out = static_cast<size_t>(value);
  return Status::Ok();
}

Status ExtSmallInt(const json& node, const char* key, int& out) {
  int64_t value = out;
  SDS_RETURN_IF_ERROR(ExtInt(node, key, std::numeric_limits<int>::min(), value));
  if (value > std::numeric_limits<int>::max()) return Invalid(std::string(key) + " is too large");
  out = static_cast<int>(value);
  return Status::Ok();
}

Status ExtString(const json& node, const char* key, std::string& out) {
  auto it = node.find(key);
  if (it == node.end()) return Status::Ok();
  if (!it->is_string()) return Invalid(std::string(key) + " must be a string");
  out = it->get<std::string>();
  return Status::Ok();
}

Status ParseLimits(const json& node, Limits& limits) {
  auto it = node.find("limits");
  if (it == node.end()) return Status::Ok();
  if (!it->is_object()) return Invalid("limits must be an object");
  const json& l = *it;
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxChannels", limits.max_channels));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxRemoteChannels", limits.max_remote_channels));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxIncomingBuffer", limits.max_incoming_buffer));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxOutgoingBuffer", limits.max_outgoing_buffer));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxRepairBuffer", limits.max_repair_buffer));
  SDS_RETURN_IF_ERROR(ExtInt(l, "maxLamport", 1, limits.max_lamport));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxMessageBytes", limits.decode.max_message_bytes));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxContentBytes", limits.decode.max_content_bytes));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxCausalHistory", limits.decode.max_causal_history));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxRepairRequest", limits.decode.max_repair_request));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxIdBytes", limits.decode.max_id_bytes));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxHintBytes", limits.decode.max_hint_bytes));
  SDS_RETURN_IF_ERROR(ExtSize(l, "maxBloomBytes", limits.decode.max_bloom_bytes));
  return Status::Ok();
}

Status ParseObject(const json& node, ManagerOptions& options) {
  // Strict like the extensions: a store path that cannot be used must not
  // quietly give a manager without the durability the app asked for.
  if (auto it = node.find("storePath"); it != node.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
      return Invalid("storePath must be a non-empty string");
    }
    const std::string& path = it->get_ref<const std::string&>();
    if (path.find('\0') != std::string::npos) return Invalid("storePath must not contain NUL");
    options.store_path = path;
  }

  std::string dialect = "nim";
  SDS_RETURN_IF_ERROR(ExtString(node, "dialect", dialect));
  if (dialect == "spec") {
    options.config = Config::ForDialect(Dialect::kSpec);
  } else if (dialect != "nim") {
    return Invalid("dialect must be \"nim\" or \"spec\"");
  }
  Config& c = options.config;
  c.channel_admission = ChannelAdmission::kAny;  // ForDialect gave the C++ default
  std::string admission;
  SDS_RETURN_IF_ERROR(ExtString(node, "channelAdmission", admission));
  if (admission == "local") {
    c.channel_admission = ChannelAdmission::kLocal;
  } else if (!admission.empty() && admission != "any") {
    return Invalid("channelAdmission must be \"any\" or \"local\"");
  }
  int64_t idle_ms = c.remote_channel_idle_timeout.count();
  SDS_RETURN_IF_ERROR(ExtInt(node, "remoteChannelIdleTimeoutMs", 0, idle_ms));
  c.remote_channel_idle_timeout = Duration{idle_ms};

  NimInt(node, "bloomFilterCapacity", c.bloom_filter_capacity);
  if (c.bloom_filter_capacity <= 0) c.bloom_filter_capacity = 10000;
  NimFloat(node, "bloomFilterErrorRate", c.bloom_filter_error_rate);
  if (!(c.bloom_filter_error_rate > 0.0 && c.bloom_filter_error_rate < 1.0)) {
    c.bloom_filter_error_rate = 0.001;
  }
  SDS_RETURN_IF_ERROR(NimSize(node, "maxMessageHistory", c.max_message_history));
  SDS_RETURN_IF_ERROR(NimSize(node, "maxCausalHistory", c.max_causal_history));
  NimDurationMs(node, "resendIntervalMs", c.resend_interval);
  SDS_RETURN_IF_ERROR(NimSmallInt(node, "maxResendAttempts", c.max_resend_attempts));
  NimDurationMs(node, "syncMessageIntervalMs", options.periodic_sync_interval);
  NimDurationMs(node, "repairTMinMs", c.repair_t_min);
  NimDurationMs(node, "repairTMaxMs", c.repair_t_max);
  SDS_RETURN_IF_ERROR(NimSmallInt(node, "numResponseGroups", c.num_response_groups));
  SDS_RETURN_IF_ERROR(NimSize(node, "maxRepairRequests", c.max_repair_requests));
  // bufferSweepIntervalMs and repairSweepIntervalMs are accepted and unused:
  // the worker runs the engine at the engine's own deadlines.

  SDS_RETURN_IF_ERROR(ExtString(node, "participantId", c.participant_id));
  SDS_RETURN_IF_ERROR(ExtBool(node, "acceptOtherDialect", c.accept_other_dialect));
  SDS_RETURN_IF_ERROR(ExtSmallInt(node, "bloomAckThreshold", c.bloom_ack_threshold));
  std::string wire_size;
  SDS_RETURN_IF_ERROR(ExtString(node, "bloomWireSize", wire_size));
  if (wire_size == "fixed") {
    c.bloom_wire_size = BloomWireSize::kFixed;
  } else if (!wire_size.empty() && wire_size != "rightSized") {
    return Invalid("bloomWireSize must be \"rightSized\" or \"fixed\"");
  }
  int64_t horizon_ms = c.bloom_wire_horizon.count();
  SDS_RETURN_IF_ERROR(ExtInt(node, "bloomWireHorizonMs", 0, horizon_ms));
  c.bloom_wire_horizon = Duration{horizon_ms};
  std::string sync_policy;
  SDS_RETURN_IF_ERROR(ExtString(node, "syncPolicy", sync_policy));
  if (sync_policy == "afterReceipt") {
    c.sync_policy = SyncPolicy::kAfterReceipt;
  } else if (sync_policy == "unacknowledgedReceipts") {
    c.sync_policy = SyncPolicy::kUnacknowledgedReceipts;
  } else if (!sync_policy.empty() && sync_policy != "jitteredAfterReceipt") {
    return Invalid(
        "syncPolicy must be \"jitteredAfterReceipt\", \"afterReceipt\" or "
        "\"unacknowledgedReceipts\"");
  }
  SDS_RETURN_IF_ERROR(ExtSize(node, "dedupWindow", c.dedup_window));
  SDS_RETURN_IF_ERROR(ExtSmallInt(node, "maxRepairAttempts", c.max_repair_attempts));
  std::string timer;
  SDS_RETURN_IF_ERROR(ExtString(node, "repairRequestTimer", timer));
  if (timer == "truncatedExponential") {
    c.repair_request_timer = RepairRequestTimer::kTruncatedExponential;
  } else if (!timer.empty() && timer != "uniform") {
    return Invalid("repairRequestTimer must be \"uniform\" or \"truncatedExponential\"");
  }
  SDS_RETURN_IF_ERROR(ExtInt(node, "repairGroupSizeEstimate", 1, c.repair_group_size_estimate));
  SDS_RETURN_IF_ERROR(ParseLimits(node, c.limits));
  SDS_RETURN_IF_ERROR(ExtBool(node, "extendedEvents", options.extended_events));
  SDS_RETURN_IF_ERROR(ExtBool(node, "detailedErrors", options.detailed_errors));
  return Status::Ok();
}

}  // namespace

Result<ManagerOptions> ParseManagerOptions(std::string_view participant_id,
                                           std::string_view config_json) {
  ManagerOptions options;
  // nim-sds creates a channel on the first message for it: the C ABI keeps
  // that unless "channelAdmission" says otherwise.
  options.config.channel_admission = ChannelAdmission::kAny;
  if (!config_json.empty()) {
    json node = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
    if (node.is_discarded()) return Invalid("invalid JSON");
    if (!node.is_object()) return Invalid("config must be a JSON object");
    SDS_RETURN_IF_ERROR(ParseObject(node, options));
  }
  if (!participant_id.empty()) options.config.participant_id = std::string(participant_id);
  // Sync messages (the spec's, carrying our state to quiet peers) are an
  // extension event: without it nobody would broadcast them.
  options.config.sync_message_interval =
      options.extended_events && options.periodic_sync_interval > Duration::zero()
          ? options.periodic_sync_interval
          : Duration::zero();
  // Likewise, without the extension a due repair request rides on the next
  // wrapped message, as in nim-sds, instead of in a sync message.
  options.config.repair_requests_in_sync_messages = options.extended_events;
  SDS_RETURN_IF_ERROR(options.config.Validate());
  return options;
}

}  // namespace sds::capi
