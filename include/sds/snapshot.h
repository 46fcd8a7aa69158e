// Persistence snapshot of one channel, and its storage encoding.
//
// The types mirror nim-sds's persistence objects (ChannelMeta, ChannelData,
// HistoryUpdate) so that state written by an application on nim-sds can be
// loaded here and exported back. The encoding is protobuf, times are int64
// Unix milliseconds (sub-millisecond precision is dropped, as in nim-sds):
//
//   message UnacknowledgedMessage { bytes message = 1; uint64 send_time_ms = 2;
//                                   uint32 resend_attempts = 3;
//                                   uint32 bloom_hits = 16; }             // sds
//   message IncomingMessage       { bytes message = 1; repeated string missing_deps = 2; }
//   message OutgoingRepairEntry   { bytes out_hist_entry = 1; uint64 min_time_repair_req_ms = 2;
//                                   uint32 attempts = 16; }               // sds
//   message OutgoingRepairKV      { string message_id = 1; bytes entry = 2; }
//   message IncomingRepairEntry   { bytes in_hist_entry = 1; bytes cached_message = 2;
//                                   uint64 min_time_repair_resp_ms = 3; }
//   message IncomingRepairKV      { string message_id = 1; bytes entry = 2; }
//   message ChannelMeta {
//     uint32 schema_version = 1;   // must be 1
//     uint64 lamport_timestamp = 2;
//     repeated UnacknowledgedMessage outgoing_buffer = 3;   // order preserved
//     repeated IncomingMessage incoming_buffer = 4;
//     repeated OutgoingRepairKV outgoing_repair_buffer = 5;
//     repeated IncomingRepairKV incoming_repair_buffer = 6;
//     uint64 sync_due_ms = 16;              // sds: absent = no sync scheduled
//     uint64 sync_count = 17;               // sds
//     repeated string delivered_ids = 18;   // sds: duplicate window, oldest first
//   }
//   message RetrievalHint { string message_id = 1; bytes hint = 2; }   // sds
//   message ChannelData { bytes meta = 1; repeated bytes message_history = 2;
//                         repeated RetrievalHint retrieval_hints = 16; }  // sds
//   message HistoryUpdate { repeated bytes append = 1; repeated string evict = 2; }
//
// Fields numbered 16 and up are sds extensions: nim-sds's decoder skips them
// as unknown fields, so everything written here stays readable by nim-sds.
#ifndef SDS_SNAPSHOT_H_
#define SDS_SNAPSHOT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "sds/message.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds {

// The only ChannelMeta schema version nim-sds (and sds) writes and reads.
inline constexpr uint32_t kChannelMetaSchemaVersion = 1;

// An unacknowledged message of ours (nim: UnacknowledgedMessage).
struct SnapshotOutgoing {
  MessageId message_id;  // not encoded: taken from `message` on decode
  SharedBytes message;   // the wire bytes as broadcast
  Timestamp send_time;   // last broadcast
  uint32_t resend_attempts = 0;
  uint32_t bloom_hits = 0;  // sds: peer bloom filters that listed it so far
};

// A received message waiting for dependencies (nim: IncomingMessage).
struct SnapshotIncoming {
  MessageId message_id;  // not encoded: taken from `message` on decode
  SharedBytes message;
  std::vector<MessageId> missing_deps;
};

// SDS-R: a repair we will request at `deadline` (T_req).
struct SnapshotOutgoingRepair {
  MessageId message_id;
  HistoryEntry entry;
  Timestamp deadline;
  uint32_t attempts = 0;  // sds: requests sent so far
};

// SDS-R: a repair we will answer at `deadline` (T_resp) by rebroadcasting `cached_message`.
struct SnapshotIncomingRepair {
  MessageId message_id;
  HistoryEntry entry;
  SharedBytes cached_message;
  Timestamp deadline;
};

// Everything of a channel except its delivered history.
struct ChannelMeta {
  uint32_t schema_version = kChannelMetaSchemaVersion;
  LamportTime lamport = 0;
  std::vector<SnapshotOutgoing> outgoing;  // oldest broadcast first
  std::vector<SnapshotIncoming> incoming;  // arrival order
  std::vector<SnapshotOutgoingRepair> outgoing_repair;
  std::vector<SnapshotIncomingRepair> incoming_repair;
  // sds extensions.
  std::optional<Timestamp> sync_due;
  uint64_t sync_count = 0;
  std::vector<MessageId> delivered;  // duplicate-detection window, oldest first
};

struct RetrievalHintRecord {
  MessageId message_id;
  Bytes hint;
  friend bool operator==(const RetrievalHintRecord&, const RetrievalHintRecord&) = default;
};

// What loading a channel returns. An unknown channel is an empty ChannelData.
struct ChannelData {
  ChannelMeta meta;
  std::vector<SharedBytes> message_history;          // delivered messages, oldest first
  std::vector<RetrievalHintRecord> retrieval_hints;  // non-empty hints of history messages
};

// A delivered message to append to the stored history.
struct HistoryAppend {
  MessageId message_id;  // not encoded: taken from `message` on decode
  SharedBytes message;
  Bytes retrieval_hint;  // not encoded (nim-sds has no place for it); may be empty
};

// A batch of history changes: appends in delivery order, then evictions.
struct HistoryUpdate {
  std::vector<HistoryAppend> append;
  std::vector<MessageId> evict;
  bool empty() const { return append.empty() && evict.empty(); }
};

// Encoders cannot fail. Decoders reject malformed bytes, missing required
// fields, messages that do not decode, and (ChannelMeta) a schema version
// other than 1 (kDecodeMalformed, kDecodeMissingField, or kPersistence for
// the version, with a message naming it).
Bytes EncodeChannelMeta(const ChannelMeta& meta);
Result<ChannelMeta> DecodeChannelMeta(ByteSpan bytes);
Bytes EncodeChannelData(const ChannelData& data);
Result<ChannelData> DecodeChannelData(ByteSpan bytes);
// An empty update cannot be encoded in nim-sds (it asserts); here it encodes
// to zero bytes, which callers should not store.
Bytes EncodeHistoryUpdate(const HistoryUpdate& update);
Result<HistoryUpdate> DecodeHistoryUpdate(ByteSpan bytes);

// HistoryEntry {1 message_id, 2 retrieval_hint, 3 sender_id} as nested in snapshots.
Bytes EncodeSnapshotHistoryEntry(const HistoryEntry& entry);
Result<HistoryEntry> DecodeSnapshotHistoryEntry(ByteSpan bytes);

}  // namespace sds

#endif  // SDS_SNAPSHOT_H_
