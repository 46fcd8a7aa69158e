// Wire messages as JSON and as readable text, for `sds inspect`, `sds encode`
// and `sds decode`.
//
// JSON form (every byte string in lowercase hex, so any bytes round-trip):
//   {"dialect": "nim"|"spec", "kind": "content"|"sync"|"ephemeral",
//    "message_id": "...", "channel_id": "...", "sender_id": "...",
//    "lamport_timestamp": 123 | null,
//    "causal_history": [{"message_id": "...", "retrieval_hint_hex": "..", "sender_id": ".."}],
//    "repair_request": [ same ],
//    "content_hex": ".." | null, "bloom_filter_hex": ".." | null,
//    "bloom": {...geometry and fill, informational; ignored by encode}}
// `kind` and `bloom` are informational; encode reads the rest. Ids are JSON
// strings: ids that are not UTF-8 are written with "message_id_hex" (etc.)
// instead, which encode also accepts.
#ifndef SDS_CLI_WIRE_JSON_H_
#define SDS_CLI_WIRE_JSON_H_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sds/codec.h"
#include "sds/message.h"
#include "sds/status.h"

namespace sds::cli {

// What the bloom filter field holds, read without trusting it.
struct BloomSummary {
  bool parsed = false;
  std::string error;  // why not, when !parsed
  size_t bytes = 0;
  int64_t capacity = 0;  // nim only (spec filters carry no parameters)
  double error_rate = 0;
  int k = 0;
  int64_t m_bits = 0;
  size_t words = 0;
  int64_t set_bits = 0;
  double fill = 0;  // set bits / m_bits
};
BloomSummary SummarizeBloom(ByteSpan bloom, Dialect dialect);

// Decodes what a peer may send, for inspection: under the library's default
// rules (what nim-sds 0.3 and 0.4 both write), else under nim-sds 0.3's own,
// which also admit empty ids. `note` says which rules were needed and why.
struct InspectedMessage {
  DecodedMessage message;
  std::string note;  // empty when the default rules read it
};
Result<InspectedMessage> DecodeForInspection(SharedBytes wire);

nlohmann::ordered_json MessageToJson(const DecodedMessage& decoded);
// Builds the message and encodes it in its "dialect" (or `dialect` if given).
Result<Bytes> EncodeJson(const nlohmann::json& json, std::optional<Dialect> dialect = {});

// A readable multi-line description of the message.
std::string DescribeMessage(const DecodedMessage& decoded);

std::string ToHex(ByteSpan bytes);
Result<Bytes> FromHex(std::string_view hex);

}  // namespace sds::cli

#endif  // SDS_CLI_WIRE_JSON_H_
