// The node's own messages (proto/node.proto): Publish over HTTP, and the
// WebSocket subscription's JSON frames. The catch-up messages themselves are
// catchup_protocol.h's; their JSON mapping is here too.
//
// JSON follows the proto3 JSON mapping: field names as in the .proto, bytes
// (ids, epochs, payloads) base64, enums by name (e.g. "SYNC_STATUS_DELTA"),
// 64-bit integers as numbers (decimal strings are accepted as well). A
// request's JSON is checked as strictly as its protobuf: wrong types, bad
// base64, an epoch not 16 bytes, counts and sizes over ProtocolLimits are
// all kDecodeMalformed / kDecodeLimitExceeded with a message naming the field.
#ifndef SDS_NODE_SERVER_NODE_MESSAGES_H_
#define SDS_NODE_SERVER_NODE_MESSAGES_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sds/catchup_protocol.h"
#include "sds/channel_log.h"

namespace sds::node {

inline constexpr uint32_t kNodeProtocolVersion = 1;

struct PublishRequest {
  uint32_t protocol_version = kNodeProtocolVersion;
  std::vector<Bytes> messages;
  std::vector<Bytes> retrieval_hints;
};

struct PublishResponse {
  Bytes store_id;
  std::vector<catchup::AppendResult> results;
};

// Decoding bounds: messages per request, bytes per message and per hint.
struct PublishLimits {
  size_t max_messages = 1000;
  size_t max_message_bytes = 1 << 20;
  size_t max_hint_bytes = 1024;
};

Bytes EncodePublishRequest(const PublishRequest& request);
Result<PublishRequest> DecodePublishRequest(ByteSpan bytes, const PublishLimits& limits);
// The PublishAnswer envelope: the response, or an error.
Bytes EncodePublishResponse(const PublishResponse& response);
Bytes EncodePublishError(const catchup::ServiceError& error);

// ---- JSON ------------------------------------------------------------------

std::string Base64Encode(ByteSpan bytes);
inline std::string Base64Encode(std::string_view s) {
  return Base64Encode(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
// Serialises without ever throwing (invalid UTF-8 in a string is replaced).
std::string DumpJson(const nlohmann::json& value);

// Standard or URL-safe alphabet, padding optional; nullopt when not base64.
std::optional<Bytes> Base64Decode(std::string_view text);

// Parses `text` as one JSON value, refusing nesting deeper than `max_depth`
// (nlohmann's parser would otherwise follow any depth) and invalid JSON.
Result<nlohmann::json> ParseJson(std::string_view text, int max_depth = 16);

Result<catchup::SyncRequest> SyncRequestFromJson(const nlohmann::json& j,
                                                 const catchup::ProtocolLimits& limits);
Result<catchup::SnapshotRequest> SnapshotRequestFromJson(const nlohmann::json& j,
                                                         const catchup::ProtocolLimits& limits);
Result<catchup::FetchRequest> FetchRequestFromJson(const nlohmann::json& j,
                                                   const catchup::ProtocolLimits& limits);
Result<catchup::BackfillRequest> BackfillRequestFromJson(const nlohmann::json& j,
                                                         const catchup::ProtocolLimits& limits);
Result<PublishRequest> PublishRequestFromJson(const nlohmann::json& j, const PublishLimits& limits);

nlohmann::json ToJson(const catchup::SyncRequest& request);
nlohmann::json ToJson(const catchup::SyncResponse& response);
nlohmann::json ToJson(const catchup::SnapshotResponse& response);
nlohmann::json ToJson(const catchup::FetchResponse& response);
nlohmann::json ToJson(const catchup::BackfillResponse& response);
nlohmann::json ToJson(const catchup::ServiceError& error);  // {"error": {...}}
nlohmann::json ToJson(const PublishRequest& request);
nlohmann::json ToJson(const PublishResponse& response);
nlohmann::json ToJson(const catchup::Entry& entry);
std::string EpochToJson(const catchup::Epoch& epoch);

// Enum names as in the .proto files.
const char* ServiceErrorCodeProtoName(catchup::ServiceErrorCode code);
const char* DispositionProtoName(catchup::AppendDisposition disposition);

// ---- WebSocket subscription ------------------------------------------------

// Client -> node: {"type":"subscribe","protocol_version":1,
//                  "channels":[{"channel_id":b64,"cursor":{"epoch":b64,"seq":n}}]}
struct SubscribeRequest {
  uint32_t protocol_version = kNodeProtocolVersion;
  std::vector<catchup::ChannelCursor> channels;
};
Result<SubscribeRequest> SubscribeRequestFromJson(const nlohmann::json& j,
                                                  const catchup::ProtocolLimits& limits);
nlohmann::json ToJson(const SubscribeRequest& request);

// Node -> client frames (one JSON object per text frame, "type" first):
//   {"type":"entries","channel_id","epoch","entries":[...],"live":bool}
//   {"type":"caught_up","channel_id","epoch","head_seq"}
//   {"type":"cold_start","channel_id","reason","epoch","low_seq","head_seq"}
//   {"type":"unknown_channel","channel_id"}
//   {"type":"error","code","message"}   (then the node closes the socket)
// `entries` from index `begin` on.
std::string EntriesFrame(const ChannelId& channel_id, const catchup::Epoch& epoch,
                         const std::vector<catchup::Entry>& entries, size_t begin, bool live);
std::string CaughtUpFrame(const ChannelId& channel_id, const catchup::Epoch& epoch,
                          uint64_t head_seq);
std::string ColdStartFrame(const catchup::ChannelResult& result);
std::string UnknownChannelFrame(const ChannelId& channel_id);
std::string ErrorFrame(catchup::ServiceErrorCode code, const std::string& message);

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_NODE_MESSAGES_H_
