#include "node_messages.h"

#include <array>
#include <charconv>

#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sds::node {
namespace {

using catchup::ProtocolLimits;
using nlohmann::json;

Status Malformed(const std::string& what) { return Status(ErrorCode::kDecodeMalformed, what); }
Status TooLarge(const std::string& what) { return Status(ErrorCode::kDecodeLimitExceeded, what); }

// ---- JSON field readers: each checks the type and names the field ----------

Status GetU64(const json& j, const char* key, uint64_t& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (it->is_number_unsigned()) {
    out = it->get<uint64_t>();
    return Status::Ok();
  }
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    out = static_cast<uint64_t>(it->get<int64_t>());
    return Status::Ok();
  }
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return Status::Ok();
  }
  return Malformed(std::string("field ") + key + ": not an unsigned integer");
}

Status GetU32(const json& j, const char* key, uint32_t& out) {
  uint64_t value = out;
  SDS_RETURN_IF_ERROR(GetU64(j, key, value));
  if (value > UINT32_MAX) return Malformed(std::string("field ") + key + ": over 32 bits");
  out = static_cast<uint32_t>(value);
  return Status::Ok();
}

Status GetBool(const json& j, const char* key, bool& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return Malformed(std::string("field ") + key + ": not a boolean");
  out = it->get<bool>();
  return Status::Ok();
}

Status BytesFrom(const json& value, const std::string& what, size_t max_bytes, Bytes& out) {
  if (!value.is_string()) return Malformed(what + ": not a base64 string");
  const std::string& s = value.get_ref<const std::string&>();
  if (s.size() / 4 * 3 > max_bytes + 3)
    return TooLarge(what + ": over " + std::to_string(max_bytes) + " bytes");
  auto decoded = Base64Decode(s);
  if (!decoded) return Malformed(what + ": not base64");
  if (decoded->size() > max_bytes)
    return TooLarge(what + ": over " + std::to_string(max_bytes) + " bytes");
  out = std::move(*decoded);
  return Status::Ok();
}

Status IdFrom(const json& value, const std::string& what, size_t max_bytes, std::string& out) {
  Bytes bytes;
  SDS_RETURN_IF_ERROR(BytesFrom(value, what, max_bytes, bytes));
  out.assign(bytes.begin(), bytes.end());
  return Status::Ok();
}

Status GetEpoch(const json& j, const char* key, const std::string& what, catchup::Epoch& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  Bytes bytes;
  SDS_RETURN_IF_ERROR(BytesFrom(*it, what + "." + key, 64, bytes));
  if (bytes.size() != out.size()) return Malformed(what + "." + key + ": not 16 bytes");
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return Status::Ok();
}

Result<const json*> GetArray(const json& j, const char* key, size_t max_items) {
  static const json kEmpty = json::array();
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return &kEmpty;
  if (!it->is_array()) return Malformed(std::string("field ") + key + ": not an array");
  if (it->size() > max_items)
    return TooLarge(std::string("field ") + key + ": over " + std::to_string(max_items) + " items");
  return &*it;
}

Status RequireObject(const json& j, const char* what) {
  if (!j.is_object()) return Malformed(std::string(what) + ": not a JSON object");
  return Status::Ok();
}

Result<std::vector<catchup::ChannelCursor>> CursorsFrom(const json& j,
                                                        const ProtocolLimits& limits) {
  auto channels = GetArray(j, "channels", limits.max_channels_per_request);
  if (!channels.ok()) return channels.status();
  std::vector<catchup::ChannelCursor> out;
  size_t index = 0;
  for (const json& c : **channels) {
    const std::string what = "channels[" + std::to_string(index++) + "]";
    if (!c.is_object()) return Malformed(what + ": not an object");
    catchup::ChannelCursor cc;
    auto id = c.find("channel_id");
    if (id == c.end()) return Status(ErrorCode::kDecodeMissingField, what + ".channel_id missing");
    SDS_RETURN_IF_ERROR(IdFrom(*id, what + ".channel_id", limits.max_id_bytes, cc.channel_id));
    auto cursor = c.find("cursor");
    if (cursor != c.end() && !cursor->is_null()) {
      if (!cursor->is_object()) return Malformed(what + ".cursor: not an object");
      catchup::Cursor value;
      SDS_RETURN_IF_ERROR(GetEpoch(*cursor, "epoch", what + ".cursor", value.epoch));
      if (value.epoch == catchup::kNoEpoch)
        return Status(ErrorCode::kDecodeMissingField, what + ".cursor.epoch missing");
      SDS_RETURN_IF_ERROR(GetU64(*cursor, "seq", value.seq));
      cc.cursor = value;
    }
    out.push_back(std::move(cc));
  }
  return out;
}

json EntriesJson(const std::vector<catchup::Entry>& entries) {
  json out = json::array();
  for (const catchup::Entry& e : entries) out.push_back(ToJson(e));
  return out;
}

json IdsJson(const std::vector<std::string>& ids) {
  json out = json::array();
  for (const std::string& id : ids) out.push_back(Base64Encode(id));
  return out;
}

const char* SyncStatusProtoName(catchup::SyncStatus status) {
  switch (status) {
    case catchup::SyncStatus::kDelta:
      return "SYNC_STATUS_DELTA";
    case catchup::SyncStatus::kUpToDate:
      return "SYNC_STATUS_UP_TO_DATE";
    case catchup::SyncStatus::kColdStartRequired:
      return "SYNC_STATUS_COLD_START_REQUIRED";
    case catchup::SyncStatus::kUnknownChannel:
      return "SYNC_STATUS_UNKNOWN_CHANNEL";
  }
  return "SYNC_STATUS_UNSPECIFIED";
}

const char* ColdReasonProtoName(catchup::ColdReason reason) {
  switch (reason) {
    case catchup::ColdReason::kNone:
      return "COLD_REASON_UNSPECIFIED";
    case catchup::ColdReason::kNoCursor:
      return "COLD_REASON_NO_CURSOR";
    case catchup::ColdReason::kEpochMismatch:
      return "COLD_REASON_EPOCH_MISMATCH";
    case catchup::ColdReason::kBehindRetention:
      return "COLD_REASON_BEHIND_RETENTION";
    case catchup::ColdReason::kAheadOfHead:
      return "COLD_REASON_AHEAD_OF_HEAD";
  }
  return "COLD_REASON_UNSPECIFIED";
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// ---- Publish protobuf -------------------------------------------------------

Bytes EncodePublishResult(const catchup::AppendResult& r) {
  Bytes out;
  wire::ProtoWriter w(out);
  w.WriteVarintField(1, static_cast<uint64_t>(r.disposition));
  if (r.seq != 0) w.WriteVarintField(2, r.seq);
  if (!r.channel_id.empty()) w.WriteStringField(3, r.channel_id);
  if (!r.message_id.empty()) w.WriteStringField(4, r.message_id);
  if (!r.error.ok()) w.WriteStringField(5, r.error.ToString());
  return out;
}

Bytes EncodeServiceErrorBody(const catchup::ServiceError& e) {
  Bytes out;
  wire::ProtoWriter w(out);
  w.WriteVarintField(1, static_cast<uint64_t>(e.code));
  if (!e.message.empty()) w.WriteStringField(2, e.message);
  if (e.retry_after_ms != 0) w.WriteVarintField(3, e.retry_after_ms);
  if (e.supported_version != 0) w.WriteVarintField(4, e.supported_version);
  return out;
}

}  // namespace

// ---- Base64 -----------------------------------------------------------------

std::string Base64Encode(ByteSpan bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    if (i + 1 < bytes.size()) v |= uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<Bytes> Base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  Bytes out;
  out.reserve(text.size() * 3 / 4);
  uint32_t accumulator = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else
      return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((accumulator >> bits) & 0xff));
    }
  }
  return out;
}

Result<json> ParseJson(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return TooLarge("JSON nested deeper than " + std::to_string(max_depth) + " levels");
    } else if (c == ']' || c == '}')
      --depth;
  }
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Malformed("not valid JSON");
  return parsed;
}

// ---- Catch-up requests from JSON -------------------------------------------

Result<catchup::SyncRequest> SyncRequestFromJson(const json& j, const ProtocolLimits& limits) {
  SDS_RETURN_IF_ERROR(RequireObject(j, "SyncRequest"));
  catchup::SyncRequest r;
  r.protocol_version = 0;
  r.max_entries = 0;
  r.max_bytes = 0;
  SDS_RETURN_IF_ERROR(GetU32(j, "protocol_version", r.protocol_version));
  auto cursors = CursorsFrom(j, limits);
  if (!cursors.ok()) return cursors.status();
  r.channels = std::move(*cursors);
  SDS_RETURN_IF_ERROR(GetU32(j, "max_entries", r.max_entries));
  SDS_RETURN_IF_ERROR(GetU64(j, "max_bytes", r.max_bytes));
  SDS_RETURN_IF_ERROR(GetBool(j, "ids_only", r.ids_only));
  return r;
}

Result<catchup::SnapshotRequest> SnapshotRequestFromJson(const json& j,
                                                         const ProtocolLimits& limits) {
  SDS_RETURN_IF_ERROR(RequireObject(j, "SnapshotRequest"));
  catchup::SnapshotRequest r;
  r.protocol_version = 0;
  r.entries_per_channel = 0;
  SDS_RETURN_IF_ERROR(GetU32(j, "protocol_version", r.protocol_version));
  auto ids = GetArray(j, "channel_ids", limits.max_channels_per_request);
  if (!ids.ok()) return ids.status();
  size_t index = 0;
  for (const json& id : **ids) {
    std::string channel;
    SDS_RETURN_IF_ERROR(
        IdFrom(id, "channel_ids[" + std::to_string(index++) + "]", limits.max_id_bytes, channel));
    r.channel_ids.push_back(std::move(channel));
  }
  SDS_RETURN_IF_ERROR(GetU32(j, "entries_per_channel", r.entries_per_channel));
  return r;
}

Result<catchup::FetchRequest> FetchRequestFromJson(const json& j, const ProtocolLimits& limits) {
  SDS_RETURN_IF_ERROR(RequireObject(j, "FetchRequest"));
  catchup::FetchRequest r;
  r.protocol_version = 0;
  SDS_RETURN_IF_ERROR(GetU32(j, "protocol_version", r.protocol_version));
  auto channel = j.find("channel_id");
  if (channel != j.end())
    SDS_RETURN_IF_ERROR(IdFrom(*channel, "channel_id", limits.max_id_bytes, r.channel_id));
  auto ids = GetArray(j, "message_ids", limits.max_ids_per_fetch);
  if (!ids.ok()) return ids.status();
  auto hints = GetArray(j, "retrieval_hints", limits.max_ids_per_fetch);
  if (!hints.ok()) return hints.status();
  if ((*ids)->size() + (*hints)->size() > limits.max_ids_per_fetch)
    return TooLarge("message_ids + retrieval_hints: over " +
                    std::to_string(limits.max_ids_per_fetch));
  size_t index = 0;
  for (const json& id : **ids) {
    std::string value;
    SDS_RETURN_IF_ERROR(
        IdFrom(id, "message_ids[" + std::to_string(index++) + "]", limits.max_id_bytes, value));
    r.message_ids.push_back(std::move(value));
  }
  index = 0;
  for (const json& hint : **hints) {
    Bytes value;
    SDS_RETURN_IF_ERROR(BytesFrom(hint, "retrieval_hints[" + std::to_string(index++) + "]",
                                  limits.max_id_bytes, value));
    r.retrieval_hints.push_back(std::move(value));
  }
  return r;
}

Result<catchup::BackfillRequest> BackfillRequestFromJson(const json& j,
                                                         const ProtocolLimits& limits) {
  SDS_RETURN_IF_ERROR(RequireObject(j, "BackfillRequest"));
  catchup::BackfillRequest r;
  r.protocol_version = 0;
  r.limit = 0;
  SDS_RETURN_IF_ERROR(GetU32(j, "protocol_version", r.protocol_version));
  auto channel = j.find("channel_id");
  if (channel != j.end())
    SDS_RETURN_IF_ERROR(IdFrom(*channel, "channel_id", limits.max_id_bytes, r.channel_id));
  SDS_RETURN_IF_ERROR(GetEpoch(j, "epoch", "BackfillRequest", r.epoch));
  SDS_RETURN_IF_ERROR(GetU64(j, "before_seq", r.before_seq));
  SDS_RETURN_IF_ERROR(GetU32(j, "limit", r.limit));
  return r;
}

Result<PublishRequest> PublishRequestFromJson(const json& j, const PublishLimits& limits) {
  SDS_RETURN_IF_ERROR(RequireObject(j, "PublishRequest"));
  PublishRequest r;
  r.protocol_version = 0;
  SDS_RETURN_IF_ERROR(GetU32(j, "protocol_version", r.protocol_version));
  auto messages = GetArray(j, "messages", limits.max_messages);
  if (!messages.ok()) return messages.status();
  auto hints = GetArray(j, "retrieval_hints", limits.max_messages);
  if (!hints.ok()) return hints.status();
  if ((*hints)->size() > (*messages)->size())
    return Malformed("retrieval_hints: more hints than messages");
  size_t index = 0;
  for (const json& m : **messages) {
    Bytes value;
    SDS_RETURN_IF_ERROR(
        BytesFrom(m, "messages[" + std::to_string(index++) + "]", limits.max_message_bytes, value));
    r.messages.push_back(std::move(value));
  }
  index = 0;
  for (const json& h : **hints) {
    Bytes value;
    SDS_RETURN_IF_ERROR(BytesFrom(h, "retrieval_hints[" + std::to_string(index++) + "]",
                                  limits.max_hint_bytes, value));
    r.retrieval_hints.push_back(std::move(value));
  }
  return r;
}

Result<SubscribeRequest> SubscribeRequestFromJson(const json& j, const ProtocolLimits& limits) {
  SDS_RETURN_IF_ERROR(RequireObject(j, "subscribe"));
  auto type = j.find("type");
  if (type == j.end() || !type->is_string() || type->get<std::string>() != "subscribe")
    return Malformed("type: expected \"subscribe\"");
  SubscribeRequest r;
  r.protocol_version = 0;
  SDS_RETURN_IF_ERROR(GetU32(j, "protocol_version", r.protocol_version));
  auto cursors = CursorsFrom(j, limits);
  if (!cursors.ok()) return cursors.status();
  r.channels = std::move(*cursors);
  return r;
}

// ---- JSON out ----------------------------------------------------------------

std::string EpochToJson(const catchup::Epoch& epoch) {
  return Base64Encode(ByteSpan(epoch.data(), epoch.size()));
}

json ToJson(const catchup::Entry& e) {
  json out = {{"seq", e.seq}, {"message_id", Base64Encode(e.message_id)}, {"lamport", e.lamport}};
  if (!e.payload.empty()) out["payload"] = Base64Encode(ByteSpan(e.payload));
  return out;
}

json ToJson(const catchup::SyncRequest& r) {
  json channels = json::array();
  for (const catchup::ChannelCursor& c : r.channels) {
    json channel = {{"channel_id", Base64Encode(c.channel_id)}};
    if (c.cursor)
      channel["cursor"] = {{"epoch", EpochToJson(c.cursor->epoch)}, {"seq", c.cursor->seq}};
    channels.push_back(std::move(channel));
  }
  return {{"protocol_version", r.protocol_version},
          {"channels", std::move(channels)},
          {"max_entries", r.max_entries},
          {"max_bytes", r.max_bytes},
          {"ids_only", r.ids_only}};
}

json ToJson(const catchup::SyncResponse& r) {
  json channels = json::array();
  for (const catchup::ChannelResult& c : r.channels) {
    json channel = {{"channel_id", Base64Encode(c.channel_id)},
                    {"status", SyncStatusProtoName(c.status)}};
    if (c.status == catchup::SyncStatus::kColdStartRequired)
      channel["reason"] = ColdReasonProtoName(c.reason);
    if (c.status == catchup::SyncStatus::kDelta ||
        c.status == catchup::SyncStatus::kColdStartRequired) {
      channel["epoch"] = EpochToJson(c.epoch);
      channel["low_seq"] = c.low_seq;
      channel["head_seq"] = c.head_seq;
    }
    if (c.status == catchup::SyncStatus::kDelta) {
      channel["from_seq"] = c.from_seq;
      channel["to_seq"] = c.to_seq;
      channel["has_more"] = c.has_more;
      channel["entries"] = EntriesJson(c.entries);
    }
    channels.push_back(std::move(channel));
  }
  return {{"store_id", Base64Encode(ByteSpan(r.store_id))}, {"channels", std::move(channels)}};
}

json ToJson(const catchup::SnapshotResponse& r) {
  json channels = json::array();
  for (const catchup::ChannelSnapshot& c : r.channels) {
    channels.push_back({{"channel_id", Base64Encode(c.channel_id)},
                        {"epoch", EpochToJson(c.epoch)},
                        {"snapshot_seq", c.snapshot_seq},
                        {"low_seq", c.low_seq},
                        {"max_lamport", c.max_lamport},
                        {"retained_count", c.retained_count},
                        {"entries", EntriesJson(c.entries)}});
  }
  return {{"store_id", Base64Encode(ByteSpan(r.store_id))},
          {"channels", std::move(channels)},
          {"unknown_channel_ids", IdsJson(r.unknown_channel_ids)}};
}

json ToJson(const catchup::FetchResponse& r) {
  json hints = json::array();
  for (const Bytes& h : r.missing_hints) hints.push_back(Base64Encode(ByteSpan(h)));
  json out = {{"store_id", Base64Encode(ByteSpan(r.store_id))},
              {"entries", EntriesJson(r.entries)},
              {"missing_ids", IdsJson(r.missing_ids)},
              {"missing_hints", std::move(hints)}};
  if (r.epoch != catchup::kNoEpoch) out["epoch"] = EpochToJson(r.epoch);
  return out;
}

json ToJson(const catchup::BackfillResponse& r) {
  json out = {{"store_id", Base64Encode(ByteSpan(r.store_id))},
              {"status", SyncStatusProtoName(r.status)},
              {"low_seq", r.low_seq},
              {"entries", EntriesJson(r.entries)},
              {"reached_low", r.reached_low}};
  if (r.epoch != catchup::kNoEpoch) out["epoch"] = EpochToJson(r.epoch);
  return out;
}

const char* ServiceErrorCodeProtoName(catchup::ServiceErrorCode code) {
  switch (code) {
    case catchup::ServiceErrorCode::kBadRequest:
      return "BAD_REQUEST";
    case catchup::ServiceErrorCode::kUnsupportedVersion:
      return "UNSUPPORTED_VERSION";
    case catchup::ServiceErrorCode::kTooLarge:
      return "TOO_LARGE";
    case catchup::ServiceErrorCode::kBusy:
      return "BUSY";
    case catchup::ServiceErrorCode::kInternal:
      return "INTERNAL";
  }
  return "CODE_UNSPECIFIED";
}

const char* DispositionProtoName(catchup::AppendDisposition d) {
  switch (d) {
    case catchup::AppendDisposition::kAppended:
      return "DISPOSITION_APPENDED";
    case catchup::AppendDisposition::kDuplicate:
      return "DISPOSITION_DUPLICATE";
    case catchup::AppendDisposition::kRejected:
      return "DISPOSITION_REJECTED";
    case catchup::AppendDisposition::kNotStoredSync:
      return "DISPOSITION_NOT_STORED_SYNC";
    case catchup::AppendDisposition::kNotStoredEphemeral:
      return "DISPOSITION_NOT_STORED_EPHEMERAL";
  }
  return "DISPOSITION_UNSPECIFIED";
}

json ToJson(const catchup::ServiceError& e) {
  json error = {{"code", ServiceErrorCodeProtoName(e.code)}, {"message", e.message}};
  if (e.retry_after_ms != 0) error["retry_after_ms"] = e.retry_after_ms;
  if (e.supported_version != 0) error["supported_version"] = e.supported_version;
  return {{"error", std::move(error)}};
}

json ToJson(const PublishRequest& r) {
  json messages = json::array();
  for (const Bytes& m : r.messages) messages.push_back(Base64Encode(ByteSpan(m)));
  json out = {{"protocol_version", r.protocol_version}, {"messages", std::move(messages)}};
  if (!r.retrieval_hints.empty()) {
    json hints = json::array();
    for (const Bytes& h : r.retrieval_hints) hints.push_back(Base64Encode(ByteSpan(h)));
    out["retrieval_hints"] = std::move(hints);
  }
  return out;
}

json ToJson(const PublishResponse& r) {
  json results = json::array();
  for (const catchup::AppendResult& a : r.results) {
    json result = {{"disposition", DispositionProtoName(a.disposition)}};
    if (a.seq != 0) result["seq"] = a.seq;
    if (!a.channel_id.empty()) result["channel_id"] = Base64Encode(a.channel_id);
    if (!a.message_id.empty()) result["message_id"] = Base64Encode(a.message_id);
    if (!a.error.ok()) result["error"] = a.error.ToString();
    results.push_back(std::move(result));
  }
  return {{"store_id", Base64Encode(ByteSpan(r.store_id))}, {"results", std::move(results)}};
}

json ToJson(const SubscribeRequest& r) {
  catchup::SyncRequest as_sync;
  as_sync.channels = r.channels;
  json out = ToJson(as_sync);
  return {{"type", "subscribe"},
          {"protocol_version", r.protocol_version},
          {"channels", std::move(out["channels"])}};
}

// ---- Publish protobuf ---------------------------------------------------------

Bytes EncodePublishRequest(const PublishRequest& r) {
  Bytes out;
  wire::ProtoWriter w(out);
  if (r.protocol_version != 0) w.WriteVarintField(1, r.protocol_version);
  for (const Bytes& m : r.messages) w.WriteBytesField(2, ByteSpan(m));
  for (const Bytes& h : r.retrieval_hints) w.WriteBytesField(3, ByteSpan(h));
  return out;
}

Result<PublishRequest> DecodePublishRequest(ByteSpan bytes, const PublishLimits& limits) {
  PublishRequest r;
  r.protocol_version = 0;
  wire::ProtoReader reader(bytes);
  while (!reader.done()) {
    wire::Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    const std::string at = " at byte " + std::to_string(field.offset);
    switch (field.number) {
      case 1:
        if (field.wire_type != wire::WireType::kVarint)
          return Malformed("PublishRequest.protocol_version: wrong wire type" + at);
        if (field.integer > UINT32_MAX)
          return Malformed("PublishRequest.protocol_version: over 32 bits" + at);
        r.protocol_version = static_cast<uint32_t>(field.integer);
        break;
      case 2:
      case 3: {
        if (field.wire_type != wire::WireType::kLengthDelimited)
          return Malformed("PublishRequest field " + std::to_string(field.number) +
                           ": wrong wire type" + at);
        const bool message = field.number == 2;
        auto& list = message ? r.messages : r.retrieval_hints;
        if (list.size() >= limits.max_messages)
          return TooLarge(std::string("PublishRequest.") +
                          (message ? "messages" : "retrieval_hints") + ": over " +
                          std::to_string(limits.max_messages));
        const size_t cap = message ? limits.max_message_bytes : limits.max_hint_bytes;
        if (field.bytes.size() > cap)
          return TooLarge(
              std::string("PublishRequest.") + (message ? "messages" : "retrieval_hints") + "[" +
              std::to_string(list.size()) + "]: over " + std::to_string(cap) + " bytes" + at);
        list.emplace_back(field.bytes.begin(), field.bytes.end());
        break;
      }
      default:
        break;  // unknown fields are skipped
    }
  }
  if (r.retrieval_hints.size() > r.messages.size())
    return Malformed("PublishRequest.retrieval_hints: more hints than messages");
  return r;
}

Bytes EncodePublishResponse(const PublishResponse& r) {
  Bytes body;
  wire::ProtoWriter w(body);
  if (!r.store_id.empty()) w.WriteBytesField(1, ByteSpan(r.store_id));
  for (const catchup::AppendResult& a : r.results) {
    const Bytes result = EncodePublishResult(a);
    w.WriteBytesField(2, ByteSpan(result));
  }
  Bytes out;
  wire::ProtoWriter envelope(out);
  envelope.WriteBytesField(6, ByteSpan(body));
  return out;
}

Bytes EncodePublishError(const catchup::ServiceError& error) {
  const Bytes body = EncodeServiceErrorBody(error);
  Bytes out;
  wire::ProtoWriter envelope(out);
  envelope.WriteBytesField(1, ByteSpan(body));
  return out;
}

}  // namespace sds::node

namespace sds::node {

std::string EntriesFrame(const ChannelId& channel_id, const catchup::Epoch& epoch,
                         const std::vector<catchup::Entry>& entries, size_t begin, bool live) {
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = begin; i < entries.size(); ++i) list.push_back(ToJson(entries[i]));
  return DumpJson(nlohmann::json{{"type", "entries"},
                                 {"channel_id", Base64Encode(channel_id)},
                                 {"epoch", EpochToJson(epoch)},
                                 {"entries", std::move(list)},
                                 {"live", live}});
}

std::string CaughtUpFrame(const ChannelId& channel_id, const catchup::Epoch& epoch,
                          uint64_t head_seq) {
  return DumpJson(nlohmann::json{{"type", "caught_up"},
                                 {"channel_id", Base64Encode(channel_id)},
                                 {"epoch", EpochToJson(epoch)},
                                 {"head_seq", head_seq}});
}

std::string ColdStartFrame(const catchup::ChannelResult& r) {
  nlohmann::json sync = ToJson(catchup::SyncResponse{{}, {r}})["channels"][0];
  return DumpJson(nlohmann::json{{"type", "cold_start"},
                                 {"channel_id", sync["channel_id"]},
                                 {"reason", sync["reason"]},
                                 {"epoch", sync["epoch"]},
                                 {"low_seq", r.low_seq},
                                 {"head_seq", r.head_seq}});
}

std::string UnknownChannelFrame(const ChannelId& channel_id) {
  return DumpJson(
      nlohmann::json{{"type", "unknown_channel"}, {"channel_id", Base64Encode(channel_id)}});
}

std::string ErrorFrame(catchup::ServiceErrorCode code, const std::string& message) {
  return DumpJson(nlohmann::json{
      {"type", "error"}, {"code", ServiceErrorCodeProtoName(code)}, {"message", message}});
}

}  // namespace sds::node

namespace sds::node {
std::string DumpJson(const nlohmann::json& value) {
  // Error messages may quote hostile bytes: never throw on invalid UTF-8.
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace sds::node
