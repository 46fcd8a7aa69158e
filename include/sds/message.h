// The SDS wire message, independent of how it is encoded.
//
// Two incompatible encodings are deployed and sds speaks both (see codec.h):
//
//   Dialect::kNim   nim-sds / libsds, what Status ships.
//     message SdsMessage {
//       string message_id = 1;          uint64 lamport_timestamp = 2;
//       repeated HistoryEntry causal_history = 3;
//       string channel_id = 4;          bytes content = 5;
//       bytes bloom_filter = 6;         // nested {1 LE words, 2 capacity, 3 err*1e6, 4 k, 5 m}
//       string sender_id = 7;           repeated HistoryEntry repair_request = 13;
//     }
//   Dialect::kSpec  the published SDS specification, @waku/sds.
//     message Message {
//       string sender_id = 1;  string message_id = 2;  string channel_id = 3;
//       optional uint64 lamport_timestamp = 10;
//       repeated HistoryEntry causal_history = 11;
//       optional bytes bloom_filter = 12;  // raw big-endian 64-bit words
//       repeated HistoryEntry repair_request = 13;
//       optional bytes content = 20;
//     }
//   Both: message HistoryEntry { string message_id = 1; optional bytes retrieval_hint = 2;
//                                optional string sender_id = 3; }
//
// Message kinds (spec): a message without a Lamport timestamp is ephemeral
// (delivered at once, never buffered or acknowledged); one with a timestamp but
// no or empty content is a sync message (acknowledges, delivers nothing); all
// others are content messages.
#ifndef SDS_MESSAGE_H_
#define SDS_MESSAGE_H_

#include <optional>
#include <vector>

#include "sds/types.h"

namespace sds {

enum class Dialect : uint8_t {
  kNim = 0,   // nim-sds field numbering, FarmHash bloom, Lamport in seconds
  kSpec = 1,  // SDS spec / @waku/sds numbering, MurmurHash3 bloom, Lamport in ms
};

// "nim" or "spec".
const char* DialectName(Dialect dialect);

// One entry of a causal history or of a repair request.
struct HistoryEntry {
  MessageId message_id;
  // Application-defined hint for fetching the message elsewhere (for example a
  // Waku store hash). Empty means absent.
  Bytes retrieval_hint;
  // The original sender of the message (SDS-R). Empty means absent.
  ParticipantId sender_id;

  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

enum class MessageKind : uint8_t { kContent, kSync, kEphemeral };

// A decoded or to-be-encoded message.
//
// `content` and `bloom_filter` are views, not copies: after Decode they point
// into the decoded buffer (kept alive by DecodedMessage::wire); for Encode they
// point to storage the caller keeps alive until Encode returns. Avoiding the
// copy matters because a default bloom filter is ~18.8 KB.
struct Message {
  MessageId message_id;
  ChannelId channel_id;
  ParticipantId sender_id;  // empty: not set
  // nullopt: ephemeral message (spec dialect only; the nim dialect always has one).
  std::optional<LamportTime> lamport_timestamp;
  std::vector<HistoryEntry> causal_history;
  std::vector<HistoryEntry> repair_request;
  // nullopt: field absent. The nim dialect always writes both fields.
  std::optional<ByteSpan> content;
  std::optional<ByteSpan> bloom_filter;  // serialized in the dialect's bloom form

  MessageKind kind() const {
    if (!lamport_timestamp) return MessageKind::kEphemeral;
    if (!content || content->empty()) return MessageKind::kSync;
    return MessageKind::kContent;
  }
};

}  // namespace sds

#endif  // SDS_MESSAGE_H_
