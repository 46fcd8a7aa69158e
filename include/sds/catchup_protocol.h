// The catch-up protocol between a participant and a store.
//
// A store keeps, per channel, an append-only log of SDS wire messages. Each
// entry has a `seq` that is dense (1, 2, 3, ... with no holes) within the
// log's `epoch`, 16 random bytes that name one continuous history: a store
// that restores a backup, imports, or loses a tail mints a new epoch, so an
// (epoch, seq) pair denotes one entry for ever. Old entries are removed from
// the front only (retention); `low_seq` is the oldest entry still kept and
// `head_seq` the newest (an empty log: low_seq = head_seq + 1).
//
// A participant remembers, per (store_id, channel), the cursor up to which
// it durably applied the log, and catches up with one request for all its
// channels:
//
//   Sync      per channel: DELTA (the entries after the cursor, a page at a
//             time), UP_TO_DATE, COLD_START_REQUIRED (reason) or
//             UNKNOWN_CHANNEL. `ids_only` returns ids without payloads.
//   Snapshot  for the cold channels, in one round trip: the last K entries,
//             the exact cursor to resume from, and what is still
//             back-fillable. The participant reports the skipped part as a
//             history gap; it is never skipped silently.
//   Fetch     entries by message id or retrieval hint (dependencies older
//             than a snapshot, or ids seen in an ids-only Sync).
//   Backfill  the retained entries before a seq, newest last.
//
// The server rule for one channel of a Sync, evaluated in one read view:
//
//   channel not in the store            UNKNOWN_CHANNEL (never "up to date")
//   no cursor                           COLD_START_REQUIRED(kNoCursor)
//   cursor.epoch != epoch               COLD_START_REQUIRED(kEpochMismatch)
//   cursor.seq > head_seq               COLD_START_REQUIRED(kAheadOfHead)
//   cursor.seq == head_seq              UP_TO_DATE
//   cursor.seq + 1 < low_seq            COLD_START_REQUIRED(kBehindRetention)
//   otherwise                           DELTA: seqs cursor.seq+1 .. to_seq,
//                                       at least one entry, bounded by
//                                       max_entries and max_bytes;
//                                       has_more = to_seq < head_seq
//
// Every message here is protobuf, described in proto/catchup.proto and
// encoded by this header's functions (the project's own bounds-checked
// reader and writer; the tests cross-check them with libprotobuf). Decoders
// treat their input as hostile: every count and size is bounded by
// ProtocolLimits, and an error names what was wrong and where.
#ifndef SDS_CATCHUP_PROTOCOL_H_
#define SDS_CATCHUP_PROTOCOL_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sds/status.h"
#include "sds/types.h"

namespace sds::catchup {

// The version this library speaks. A request with another major version is
// answered with ServiceError kUnsupportedVersion, never misread.
inline constexpr uint32_t kProtocolVersion = 1;

// 16 random bytes naming one continuous history of a channel log. The
// all-zero value means "no epoch" (an unknown channel has none): a store never
// mints it, and on the wire it is the absent field.
using Epoch = std::array<uint8_t, 16>;
inline constexpr Epoch kNoEpoch{};

struct Cursor {
  Epoch epoch{};
  uint64_t seq = 0;  // the last seq durably applied
  friend bool operator==(const Cursor&, const Cursor&) = default;
};

struct ChannelCursor {
  ChannelId channel_id;
  std::optional<Cursor> cursor;  // none: never synced with this store
  friend bool operator==(const ChannelCursor&, const ChannelCursor&) = default;
};

// One log entry. In an ids-only answer `payload` is empty.
struct Entry {
  uint64_t seq = 0;
  MessageId message_id;
  LamportTime lamport = 0;
  Bytes payload;  // the SDS wire message as received by the store
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Bounds every decoder enforces (kDecodeLimitExceeded past them), and the
// defaults a client asks for.
struct ProtocolLimits {
  size_t max_request_bytes = 1 << 20;   // a whole encoded request
  size_t max_response_bytes = 8 << 20;  // a whole encoded answer
  // Channels of a Sync or Snapshot request, results of a SyncResponse,
  // snapshots plus unknown ids of a SnapshotResponse.
  size_t max_channels_per_request = 1000;
  // Entries of one response, summed over its channels.
  size_t max_entries_per_response = 10000;
  // Message ids plus retrieval hints of a FetchRequest; missing ids plus
  // missing hints of a FetchResponse.
  size_t max_ids_per_fetch = 1000;
  size_t max_id_bytes = 1024;          // message, channel and store ids, hints
  size_t max_payload_bytes = 1 << 20;  // one entry (SDS's largest message)
};

// ---- Errors a service answers instead of a response ------------------------

enum class ServiceErrorCode : uint8_t {
  kBadRequest = 1,          // undecodable or inconsistent request
  kUnsupportedVersion = 2,  // protocol_version this store does not speak
  kTooLarge = 3,            // request over the store's limits
  kBusy = 4,                // overloaded: retry after `retry_after_ms`
  kInternal = 5,            // the store failed (e.g. its database)
};
struct ServiceError {
  ServiceErrorCode code = ServiceErrorCode::kBadRequest;
  std::string message;             // UTF-8 text for logs (a proto3 string; not checked)
  uint32_t retry_after_ms = 0;     // 0: the client's own backoff applies
  uint32_t supported_version = 0;  // kUnsupportedVersion: the highest the
                                   // store speaks (0: not said)
  friend bool operator==(const ServiceError&, const ServiceError&) = default;
};

// ---- Sync ------------------------------------------------------------------

// In every request a size of 0 (what an absent field decodes to) asks for the
// store's default; the member defaults below are what a client asks for.
struct SyncRequest {
  uint32_t protocol_version = kProtocolVersion;
  std::vector<ChannelCursor> channels;
  uint32_t max_entries = 100;    // over the whole response; the store may cap lower
  uint64_t max_bytes = 1 << 20;  // payload bytes over the whole response
  bool ids_only = false;         // entries without payload
  friend bool operator==(const SyncRequest&, const SyncRequest&) = default;
};

enum class SyncStatus : uint8_t {
  kDelta = 1,
  kUpToDate = 2,
  kColdStartRequired = 3,
  kUnknownChannel = 4,
};
enum class ColdReason : uint8_t {
  kNone = 0,  // status is not kColdStartRequired
  kNoCursor = 1,
  kEpochMismatch = 2,
  kBehindRetention = 3,
  kAheadOfHead = 4,
};
const char* SyncStatusName(SyncStatus status);
const char* ColdReasonName(ColdReason reason);

struct ChannelResult {
  ChannelId channel_id;
  SyncStatus status = SyncStatus::kUpToDate;
  ColdReason reason = ColdReason::kNone;
  // kDelta and kColdStartRequired only (an UP_TO_DATE answer carries no body:
  // its epoch and head_seq are the cursor's; an unknown channel has no log):
  Epoch epoch{};          // the log's current epoch
  uint64_t low_seq = 0;   // oldest retained seq
  uint64_t head_seq = 0;  // newest seq
  // kDelta only: entries are seqs from_seq..to_seq, ascending and dense.
  uint64_t from_seq = 0;
  uint64_t to_seq = 0;
  bool has_more = false;
  std::vector<Entry> entries;
  friend bool operator==(const ChannelResult&, const ChannelResult&) = default;
};

struct SyncResponse {
  Bytes store_id;  // names the deployment (not one node of it); never empty
  std::vector<ChannelResult> channels;
  friend bool operator==(const SyncResponse&, const SyncResponse&) = default;
};

// ---- Snapshot --------------------------------------------------------------

struct SnapshotRequest {
  uint32_t protocol_version = kProtocolVersion;
  std::vector<ChannelId> channel_ids;
  uint32_t entries_per_channel = 100;  // K; the store may cap lower
  friend bool operator==(const SnapshotRequest&, const SnapshotRequest&) = default;
};

struct ChannelSnapshot {
  ChannelId channel_id;
  Epoch epoch{};
  uint64_t snapshot_seq = 0;    // resume cursor: the highest seq the answer covers
  uint64_t low_seq = 0;         // oldest seq still back-fillable
  std::vector<Entry> entries;   // the last K entries with seq <= snapshot_seq, ascending
  LamportTime max_lamport = 0;  // highest lamport in the retained log
  uint64_t retained_count = 0;
  friend bool operator==(const ChannelSnapshot&, const ChannelSnapshot&) = default;
};

struct SnapshotResponse {
  Bytes store_id;
  std::vector<ChannelSnapshot> channels;
  std::vector<ChannelId> unknown_channel_ids;  // asked for, not in the store
  friend bool operator==(const SnapshotResponse&, const SnapshotResponse&) = default;
};

// ---- Fetch -----------------------------------------------------------------

struct FetchRequest {
  uint32_t protocol_version = kProtocolVersion;
  ChannelId channel_id;
  std::vector<MessageId> message_ids;
  std::vector<Bytes> retrieval_hints;  // transport hashes the store indexed
  friend bool operator==(const FetchRequest&, const FetchRequest&) = default;
};

struct FetchResponse {
  Bytes store_id;
  Epoch epoch{};                       // kNoEpoch: the channel is unknown
  std::vector<Entry> entries;          // found, ascending by seq
  std::vector<MessageId> missing_ids;  // asked for by id, not retained
  std::vector<Bytes> missing_hints;    // asked for by hint, not retained
  friend bool operator==(const FetchResponse&, const FetchResponse&) = default;
};

// ---- Backfill --------------------------------------------------------------

struct BackfillRequest {
  uint32_t protocol_version = kProtocolVersion;
  ChannelId channel_id;
  Epoch epoch{};            // must match the log's; else kEpochMismatch below
  uint64_t before_seq = 0;  // entries with seq < before_seq
  uint32_t limit = 100;
  friend bool operator==(const BackfillRequest&, const BackfillRequest&) = default;
};

struct BackfillResponse {
  Bytes store_id;
  SyncStatus status = SyncStatus::kDelta;  // kDelta, kUnknownChannel, or
                                           // kColdStartRequired (epoch mismatch)
  Epoch epoch{};
  uint64_t low_seq = 0;
  std::vector<Entry> entries;  // ascending, dense, ending at before_seq - 1
  bool reached_low = false;    // entries start at low_seq
  friend bool operator==(const BackfillResponse&, const BackfillResponse&) = default;
};

// ---- Encoding --------------------------------------------------------------
// A response on the wire is either the response or a ServiceError (a oneof in
// proto/catchup.proto); Decode*Response returns the error as a value. The
// error is the same field of every answer, so EncodeServiceError's bytes
// answer any kind of request.
//
// Encoders write canonical proto3 (fields in number order, defaults omitted),
// byte for byte what libprotobuf writes. They write what they are given: a
// message the decoder would reject (a zero epoch in a cursor, a DELTA whose
// entries have holes) encodes, but does not decode.
//
// Decoders fail with
//   kDecodeMalformed         not protobuf; a field of the wrong wire type; a
//                            uint32 over 32 bits; an enum value version 1
//                            does not define (a store answers in the version
//                            asked, so new values come with a new version);
//                            an epoch not 16 bytes; a message that
//                            contradicts itself (below)
//   kDecodeMissingField      a required field absent: a response's store_id,
//                            a result's status, an entry's seq or message_id,
//                            a cursor's or a log's epoch, an error's code
//   kDecodeLimitExceeded     past a ProtocolLimits bound (the whole message,
//                            one id or payload, a count)
//   kDecodeLamportOutOfRange a negative Lamport value
// with a message naming the message, field and byte offset. Unknown fields are
// skipped; a repeated singular field keeps its last value (a message field is
// merged), as in protobuf.
//
// What the decoder checks and what it leaves to the client: the decoder
// checks every rule a message can break on its own, listed per message in
// proto/catchup.proto: for a DELTA, from_seq <= to_seq, entries exactly
// from_seq..to_seq ascending, low_seq <= from_seq, to_seq <= head_seq and
// has_more == (to_seq < head_seq); a reason iff the status is a cold start;
// no entries with any other status; UP_TO_DATE and UNKNOWN_CHANNEL with
// nothing but channel_id and status; snapshot and backfill entries dense and
// within low_seq..snapshot_seq; fetch entries strictly ascending. The client driver checks what
// needs its request or its cursor: the epoch and from_seq continue the cursor, every channel was
// asked for and is answered once, the page respects max_entries and ids_only,
// a backfill ends at before_seq - 1. Requests are checked for form only
// (protocol_version is the service's to judge, so that it can answer
// kUnsupportedVersion rather than kBadRequest).

template <typename T>
using Answer = std::variant<T, ServiceError>;

Bytes EncodeSyncRequest(const SyncRequest& request);
Bytes EncodeSnapshotRequest(const SnapshotRequest& request);
Bytes EncodeFetchRequest(const FetchRequest& request);
Bytes EncodeBackfillRequest(const BackfillRequest& request);
Result<SyncRequest> DecodeSyncRequest(ByteSpan bytes, const ProtocolLimits& limits = {});
Result<SnapshotRequest> DecodeSnapshotRequest(ByteSpan bytes, const ProtocolLimits& limits = {});
Result<FetchRequest> DecodeFetchRequest(ByteSpan bytes, const ProtocolLimits& limits = {});
Result<BackfillRequest> DecodeBackfillRequest(ByteSpan bytes, const ProtocolLimits& limits = {});

Bytes EncodeSyncResponse(const SyncResponse& response);
Bytes EncodeSnapshotResponse(const SnapshotResponse& response);
Bytes EncodeFetchResponse(const FetchResponse& response);
Bytes EncodeBackfillResponse(const BackfillResponse& response);
Bytes EncodeServiceError(const ServiceError& error);
Result<Answer<SyncResponse>> DecodeSyncResponse(ByteSpan bytes, const ProtocolLimits& limits = {});
Result<Answer<SnapshotResponse>> DecodeSnapshotResponse(ByteSpan bytes,
                                                        const ProtocolLimits& limits = {});
Result<Answer<FetchResponse>> DecodeFetchResponse(ByteSpan bytes,
                                                  const ProtocolLimits& limits = {});
Result<Answer<BackfillResponse>> DecodeBackfillResponse(ByteSpan bytes,
                                                        const ProtocolLimits& limits = {});

}  // namespace sds::catchup

#endif  // SDS_CATCHUP_PROTOCOL_H_
