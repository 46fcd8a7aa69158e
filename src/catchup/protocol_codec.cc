// The wire form of the catch-up protocol (proto/catchup.proto), written and
// read with the project's own bounds-checked protobuf writer and reader.
//
// Encoding computes each message's size first and reserves the output once;
// nested messages are written in place after their length prefix.
//
// Decoding is one pass per message. Every repeated field is counted against
// its ProtocolLimits bound before an element is added, every id and payload is
// measured before it is copied, and the whole input is bounded before reading
// starts, so memory stays proportional to an input the limits allow. Each
// message's own consistency rules are checked once all of its fields are read
// (a later duplicate field may replace an earlier value).
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "sds/catchup_protocol.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sds::catchup {

const char* SyncStatusName(SyncStatus status) {
  switch (status) {
    case SyncStatus::kDelta:
      return "DELTA";
    case SyncStatus::kUpToDate:
      return "UP_TO_DATE";
    case SyncStatus::kColdStartRequired:
      return "COLD_START_REQUIRED";
    case SyncStatus::kUnknownChannel:
      return "UNKNOWN_CHANNEL";
  }
  return "INVALID";
}

const char* ColdReasonName(ColdReason reason) {
  switch (reason) {
    case ColdReason::kNone:
      return "NONE";
    case ColdReason::kNoCursor:
      return "NO_CURSOR";
    case ColdReason::kEpochMismatch:
      return "EPOCH_MISMATCH";
    case ColdReason::kBehindRetention:
      return "BEHIND_RETENTION";
    case ColdReason::kAheadOfHead:
      return "AHEAD_OF_HEAD";
  }
  return "INVALID";
}

namespace {

using wire::Field;
using wire::LengthDelimitedFieldSize;
using wire::ProtoReader;
using wire::ProtoWriter;
using wire::VarintFieldSize;
using wire::WireType;

// ---- Field numbers (proto/catchup.proto) ------------------------------------

namespace cursor_field {
constexpr uint32_t kEpoch = 1, kSeq = 2;
}
namespace channel_cursor_field {
constexpr uint32_t kChannelId = 1, kCursor = 2;
}
namespace entry_field {
constexpr uint32_t kSeq = 1, kMessageId = 2, kLamport = 3, kPayload = 4;
}
namespace error_field {
constexpr uint32_t kCode = 1, kMessage = 2, kRetryAfterMs = 3, kSupportedVersion = 4;
}
namespace sync_request_field {
constexpr uint32_t kProtocolVersion = 1, kChannels = 2, kMaxEntries = 3, kMaxBytes = 4,
                   kIdsOnly = 5;
}
namespace channel_result_field {
constexpr uint32_t kChannelId = 1, kStatus = 2, kReason = 3, kEpoch = 4, kLowSeq = 5, kHeadSeq = 6,
                   kFromSeq = 7, kToSeq = 8, kHasMore = 9, kEntries = 10;
}
namespace sync_response_field {
constexpr uint32_t kStoreId = 1, kChannels = 2;
}
namespace snapshot_request_field {
constexpr uint32_t kProtocolVersion = 1, kChannelIds = 2, kEntriesPerChannel = 3;
}
namespace channel_snapshot_field {
constexpr uint32_t kChannelId = 1, kEpoch = 2, kSnapshotSeq = 3, kLowSeq = 4, kMaxLamport = 5,
                   kRetainedCount = 6, kEntries = 7;
}
namespace snapshot_response_field {
constexpr uint32_t kStoreId = 1, kChannels = 2, kUnknownChannelIds = 3;
}
namespace fetch_request_field {
constexpr uint32_t kProtocolVersion = 1, kChannelId = 2, kMessageIds = 3, kRetrievalHints = 4;
}
namespace fetch_response_field {
constexpr uint32_t kStoreId = 1, kEpoch = 2, kEntries = 3, kMissingIds = 4, kMissingHints = 5;
}
namespace backfill_request_field {
constexpr uint32_t kProtocolVersion = 1, kChannelId = 2, kEpoch = 3, kBeforeSeq = 4, kLimit = 5;
}
namespace backfill_response_field {
constexpr uint32_t kStoreId = 1, kStatus = 2, kEpoch = 3, kLowSeq = 4, kReachedLow = 5,
                   kEntries = 6;
}
// Answer envelopes: the error is field 1 of every one; each response kind has
// its own number.
constexpr uint32_t kAnswerError = 1;
constexpr uint32_t kSyncAnswerResponse = 2;
constexpr uint32_t kSnapshotAnswerResponse = 3;
constexpr uint32_t kFetchAnswerResponse = 4;
constexpr uint32_t kBackfillAnswerResponse = 5;

bool IsNoEpoch(const Epoch& epoch) { return epoch == kNoEpoch; }

ByteSpan AsSpan(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
ByteSpan AsSpan(const Epoch& epoch) { return ByteSpan(epoch.data(), epoch.size()); }
ByteSpan AsSpan(const Bytes& bytes) { return ByteSpan(bytes); }

// ---- Encoding ---------------------------------------------------------------
// Each message has a Size (its payload) and a Write; both follow the same
// field order and omit the same defaults, which the writer's size assertion
// checks in debug builds.

size_t OptionalVarintSize(uint32_t number, uint64_t value) {
  return value == 0 ? 0 : VarintFieldSize(number, value);
}
size_t OptionalBytesSize(uint32_t number, ByteSpan bytes) {
  return bytes.empty() ? 0 : LengthDelimitedFieldSize(number, bytes.size());
}
size_t EpochSize(uint32_t number, const Epoch& epoch) {
  return IsNoEpoch(epoch) ? 0 : LengthDelimitedFieldSize(number, epoch.size());
}
template <typename List>
size_t RepeatedBytesSize(uint32_t number, const List& list) {
  size_t size = 0;
  for (const auto& item : list) size += LengthDelimitedFieldSize(number, item.size());
  return size;
}

void WriteOptionalVarint(ProtoWriter& w, uint32_t number, uint64_t value) {
  if (value != 0) w.WriteVarintField(number, value);
}
void WriteOptionalBytes(ProtoWriter& w, uint32_t number, ByteSpan bytes) {
  if (!bytes.empty()) w.WriteBytesField(number, bytes);
}
void WriteEpoch(ProtoWriter& w, uint32_t number, const Epoch& epoch) {
  if (!IsNoEpoch(epoch)) w.WriteBytesField(number, AsSpan(epoch));
}
template <typename List>
void WriteRepeatedBytes(ProtoWriter& w, uint32_t number, const List& list) {
  for (const auto& item : list) w.WriteBytesField(number, AsSpan(item));
}
// Negative int64 values go out as ten-byte varints, as protobuf writes them.
uint64_t Int64Bits(int64_t value) { return static_cast<uint64_t>(value); }

size_t CursorSize(const Cursor& c) {
  return EpochSize(cursor_field::kEpoch, c.epoch) + OptionalVarintSize(cursor_field::kSeq, c.seq);
}
void WriteCursor(ProtoWriter& w, const Cursor& c) {
  WriteEpoch(w, cursor_field::kEpoch, c.epoch);
  WriteOptionalVarint(w, cursor_field::kSeq, c.seq);
}

size_t ChannelCursorSize(const ChannelCursor& c) {
  namespace f = channel_cursor_field;
  size_t size = OptionalBytesSize(f::kChannelId, AsSpan(c.channel_id));
  if (c.cursor) size += LengthDelimitedFieldSize(f::kCursor, CursorSize(*c.cursor));
  return size;
}
void WriteChannelCursor(ProtoWriter& w, const ChannelCursor& c) {
  namespace f = channel_cursor_field;
  WriteOptionalBytes(w, f::kChannelId, AsSpan(c.channel_id));
  if (c.cursor) {
    w.WriteMessageField(f::kCursor, CursorSize(*c.cursor),
                        [&](ProtoWriter& inner) { WriteCursor(inner, *c.cursor); });
  }
}

size_t EntrySize(const Entry& e) {
  namespace f = entry_field;
  return OptionalVarintSize(f::kSeq, e.seq) +
         OptionalBytesSize(f::kMessageId, AsSpan(e.message_id)) +
         OptionalVarintSize(f::kLamport, Int64Bits(e.lamport)) +
         OptionalBytesSize(f::kPayload, e.payload);
}
void WriteEntry(ProtoWriter& w, const Entry& e) {
  namespace f = entry_field;
  WriteOptionalVarint(w, f::kSeq, e.seq);
  WriteOptionalBytes(w, f::kMessageId, AsSpan(e.message_id));
  WriteOptionalVarint(w, f::kLamport, Int64Bits(e.lamport));
  WriteOptionalBytes(w, f::kPayload, e.payload);
}

size_t EntriesSize(uint32_t number, const std::vector<Entry>& entries) {
  size_t size = 0;
  for (const Entry& e : entries) size += LengthDelimitedFieldSize(number, EntrySize(e));
  return size;
}
void WriteEntries(ProtoWriter& w, uint32_t number, const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    w.WriteMessageField(number, EntrySize(e), [&](ProtoWriter& inner) { WriteEntry(inner, e); });
  }
}

// A repeated message field: `size_of(element)` and `write(writer, element)`.
template <typename List, typename SizeOf>
size_t RepeatedMessageSize(uint32_t number, const List& list, SizeOf size_of) {
  size_t size = 0;
  for (const auto& item : list) size += LengthDelimitedFieldSize(number, size_of(item));
  return size;
}
template <typename List, typename SizeOf, typename Write>
void WriteRepeatedMessage(ProtoWriter& w, uint32_t number, const List& list, SizeOf size_of,
                          Write write) {
  for (const auto& item : list) {
    w.WriteMessageField(number, size_of(item), [&](ProtoWriter& inner) { write(inner, item); });
  }
}

size_t ServiceErrorSize(const ServiceError& e) {
  namespace f = error_field;
  return OptionalVarintSize(f::kCode, static_cast<uint64_t>(e.code)) +
         OptionalBytesSize(f::kMessage, AsSpan(e.message)) +
         OptionalVarintSize(f::kRetryAfterMs, e.retry_after_ms) +
         OptionalVarintSize(f::kSupportedVersion, e.supported_version);
}
void WriteServiceError(ProtoWriter& w, const ServiceError& e) {
  namespace f = error_field;
  WriteOptionalVarint(w, f::kCode, static_cast<uint64_t>(e.code));
  WriteOptionalBytes(w, f::kMessage, AsSpan(e.message));
  WriteOptionalVarint(w, f::kRetryAfterMs, e.retry_after_ms);
  WriteOptionalVarint(w, f::kSupportedVersion, e.supported_version);
}

size_t ChannelResultSize(const ChannelResult& r) {
  namespace f = channel_result_field;
  return OptionalBytesSize(f::kChannelId, AsSpan(r.channel_id)) +
         OptionalVarintSize(f::kStatus, static_cast<uint64_t>(r.status)) +
         OptionalVarintSize(f::kReason, static_cast<uint64_t>(r.reason)) +
         EpochSize(f::kEpoch, r.epoch) + OptionalVarintSize(f::kLowSeq, r.low_seq) +
         OptionalVarintSize(f::kHeadSeq, r.head_seq) + OptionalVarintSize(f::kFromSeq, r.from_seq) +
         OptionalVarintSize(f::kToSeq, r.to_seq) +
         OptionalVarintSize(f::kHasMore, r.has_more ? 1 : 0) + EntriesSize(f::kEntries, r.entries);
}
void WriteChannelResult(ProtoWriter& w, const ChannelResult& r) {
  namespace f = channel_result_field;
  WriteOptionalBytes(w, f::kChannelId, AsSpan(r.channel_id));
  WriteOptionalVarint(w, f::kStatus, static_cast<uint64_t>(r.status));
  WriteOptionalVarint(w, f::kReason, static_cast<uint64_t>(r.reason));
  WriteEpoch(w, f::kEpoch, r.epoch);
  WriteOptionalVarint(w, f::kLowSeq, r.low_seq);
  WriteOptionalVarint(w, f::kHeadSeq, r.head_seq);
  WriteOptionalVarint(w, f::kFromSeq, r.from_seq);
  WriteOptionalVarint(w, f::kToSeq, r.to_seq);
  WriteOptionalVarint(w, f::kHasMore, r.has_more ? 1 : 0);
  WriteEntries(w, f::kEntries, r.entries);
}

size_t SyncResponseSize(const SyncResponse& r) {
  namespace f = sync_response_field;
  return OptionalBytesSize(f::kStoreId, r.store_id) +
         RepeatedMessageSize(f::kChannels, r.channels, ChannelResultSize);
}
void WriteSyncResponse(ProtoWriter& w, const SyncResponse& r) {
  namespace f = sync_response_field;
  WriteOptionalBytes(w, f::kStoreId, r.store_id);
  WriteRepeatedMessage(w, f::kChannels, r.channels, ChannelResultSize, WriteChannelResult);
}

size_t ChannelSnapshotSize(const ChannelSnapshot& s) {
  namespace f = channel_snapshot_field;
  return OptionalBytesSize(f::kChannelId, AsSpan(s.channel_id)) + EpochSize(f::kEpoch, s.epoch) +
         OptionalVarintSize(f::kSnapshotSeq, s.snapshot_seq) +
         OptionalVarintSize(f::kLowSeq, s.low_seq) +
         OptionalVarintSize(f::kMaxLamport, Int64Bits(s.max_lamport)) +
         OptionalVarintSize(f::kRetainedCount, s.retained_count) +
         EntriesSize(f::kEntries, s.entries);
}
void WriteChannelSnapshot(ProtoWriter& w, const ChannelSnapshot& s) {
  namespace f = channel_snapshot_field;
  WriteOptionalBytes(w, f::kChannelId, AsSpan(s.channel_id));
  WriteEpoch(w, f::kEpoch, s.epoch);
  WriteOptionalVarint(w, f::kSnapshotSeq, s.snapshot_seq);
  WriteOptionalVarint(w, f::kLowSeq, s.low_seq);
  WriteOptionalVarint(w, f::kMaxLamport, Int64Bits(s.max_lamport));
  WriteOptionalVarint(w, f::kRetainedCount, s.retained_count);
  WriteEntries(w, f::kEntries, s.entries);
}

size_t SnapshotResponseSize(const SnapshotResponse& r) {
  namespace f = snapshot_response_field;
  return OptionalBytesSize(f::kStoreId, r.store_id) +
         RepeatedMessageSize(f::kChannels, r.channels, ChannelSnapshotSize) +
         RepeatedBytesSize(f::kUnknownChannelIds, r.unknown_channel_ids);
}
void WriteSnapshotResponse(ProtoWriter& w, const SnapshotResponse& r) {
  namespace f = snapshot_response_field;
  WriteOptionalBytes(w, f::kStoreId, r.store_id);
  WriteRepeatedMessage(w, f::kChannels, r.channels, ChannelSnapshotSize, WriteChannelSnapshot);
  WriteRepeatedBytes(w, f::kUnknownChannelIds, r.unknown_channel_ids);
}

size_t FetchResponseSize(const FetchResponse& r) {
  namespace f = fetch_response_field;
  return OptionalBytesSize(f::kStoreId, r.store_id) + EpochSize(f::kEpoch, r.epoch) +
         EntriesSize(f::kEntries, r.entries) + RepeatedBytesSize(f::kMissingIds, r.missing_ids) +
         RepeatedBytesSize(f::kMissingHints, r.missing_hints);
}
void WriteFetchResponse(ProtoWriter& w, const FetchResponse& r) {
  namespace f = fetch_response_field;
  WriteOptionalBytes(w, f::kStoreId, r.store_id);
  WriteEpoch(w, f::kEpoch, r.epoch);
  WriteEntries(w, f::kEntries, r.entries);
  WriteRepeatedBytes(w, f::kMissingIds, r.missing_ids);
  WriteRepeatedBytes(w, f::kMissingHints, r.missing_hints);
}

size_t BackfillResponseSize(const BackfillResponse& r) {
  namespace f = backfill_response_field;
  return OptionalBytesSize(f::kStoreId, r.store_id) +
         OptionalVarintSize(f::kStatus, static_cast<uint64_t>(r.status)) +
         EpochSize(f::kEpoch, r.epoch) + OptionalVarintSize(f::kLowSeq, r.low_seq) +
         OptionalVarintSize(f::kReachedLow, r.reached_low ? 1 : 0) +
         EntriesSize(f::kEntries, r.entries);
}
void WriteBackfillResponse(ProtoWriter& w, const BackfillResponse& r) {
  namespace f = backfill_response_field;
  WriteOptionalBytes(w, f::kStoreId, r.store_id);
  WriteOptionalVarint(w, f::kStatus, static_cast<uint64_t>(r.status));
  WriteEpoch(w, f::kEpoch, r.epoch);
  WriteOptionalVarint(w, f::kLowSeq, r.low_seq);
  WriteOptionalVarint(w, f::kReachedLow, r.reached_low ? 1 : 0);
  WriteEntries(w, f::kEntries, r.entries);
}

// A whole top-level message of `size` bytes written by `write`.
template <typename Write>
Bytes EncodeTopLevel(size_t size, Write write) {
  Bytes out;
  out.reserve(size);
  ProtoWriter writer(out);
  write(writer);
  return out;
}

// An answer envelope holding the response as field `number`.
template <typename Response, typename SizeOf, typename Write>
Bytes EncodeAnswer(uint32_t number, const Response& response, SizeOf size_of, Write write) {
  const size_t payload = size_of(response);
  return EncodeTopLevel(LengthDelimitedFieldSize(number, payload), [&](ProtoWriter& w) {
    w.WriteMessageField(number, payload, [&](ProtoWriter& inner) { write(inner, response); });
  });
}

// ---- Decoding ---------------------------------------------------------------

Status Error(ErrorCode code, std::string message) { return Status(code, std::move(message)); }

// "field 3 (max_entries) at byte 17"
std::string FieldName(const Field& field, std::string_view name) {
  return "field " + std::to_string(field.number) + " (" + std::string(name) + ") at byte " +
         std::to_string(field.offset);
}

Status WithContext(std::string_view context, const Status& status) {
  return Status(status.code(), std::string(context) + ": " + status.message());
}

std::string Indexed(std::string_view name, size_t index) {
  return std::string(name) + "[" + std::to_string(index) + "]";
}

Status ExpectWireType(const Field& field, WireType expected, std::string_view name) {
  if (field.wire_type == expected) return Status::Ok();
  return Error(ErrorCode::kDecodeMalformed, FieldName(field, name) + ": wire type " +
                                                std::to_string(static_cast<int>(field.wire_type)) +
                                                ", expected " +
                                                std::to_string(static_cast<int>(expected)));
}

Status LimitExceeded(std::string what, size_t actual, std::string_view limit_name, size_t limit) {
  return Error(ErrorCode::kDecodeLimitExceeded,
               std::move(what) + " is " + std::to_string(actual) + ", above ProtocolLimits::" +
                   std::string(limit_name) + " (" + std::to_string(limit) + ")");
}

Status MissingField(std::string_view message, uint32_t number, std::string_view name,
                    size_t offset) {
  return Error(ErrorCode::kDecodeMissingField,
               std::string(message) + " at byte " + std::to_string(offset) + ": field " +
                   std::to_string(number) + " (" + std::string(name) + ") missing");
}

Status Inconsistent(std::string_view message, size_t offset, std::string what) {
  return Error(ErrorCode::kDecodeMalformed,
               std::string(message) + " at byte " + std::to_string(offset) + ": " + what);
}

Status ReadUint64(const Field& field, std::string_view name, uint64_t* out) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, name));
  *out = field.integer;
  return Status::Ok();
}

// uint32 fields: a wider varint is rejected rather than truncated, so that a
// hostile 2^32 + 1 cannot become 1.
Status ReadUint32(const Field& field, std::string_view name, uint32_t* out) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, name));
  if (field.integer > UINT32_MAX) {
    return Error(
        ErrorCode::kDecodeMalformed,
        FieldName(field, name) + ": " + std::to_string(field.integer) + " does not fit in uint32");
  }
  *out = static_cast<uint32_t>(field.integer);
  return Status::Ok();
}

Status ReadInt64(const Field& field, std::string_view name, int64_t* out) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, name));
  *out = static_cast<int64_t>(field.integer);
  return Status::Ok();
}

// Any non-zero varint is true, as protobuf reads a bool.
Status ReadBool(const Field& field, std::string_view name, bool* out) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, name));
  *out = field.integer != 0;
  return Status::Ok();
}

// An enum field whose value must be in [min_value, max_value].
template <typename Enum>
Status ReadEnum(const Field& field, std::string_view name, uint64_t min_value, uint64_t max_value,
                Enum* out) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kVarint, name));
  if (field.integer < min_value || field.integer > max_value) {
    return Error(ErrorCode::kDecodeMalformed,
                 FieldName(field, name) + ": unknown value " + std::to_string(field.integer));
  }
  *out = static_cast<Enum>(field.integer);
  return Status::Ok();
}

// A length-delimited field of at most `limit` bytes.
Status ReadBytes(const Field& field, std::string_view name, std::string_view limit_name,
                 size_t limit, ByteSpan* out) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, name));
  if (field.bytes.size() > limit) {
    return LimitExceeded(FieldName(field, name) + " size in bytes", field.bytes.size(), limit_name,
                         limit);
  }
  *out = field.bytes;
  return Status::Ok();
}

Status ReadId(const Field& field, std::string_view name, const ProtocolLimits& limits,
              ByteSpan* out) {
  return ReadBytes(field, name, "max_id_bytes", limits.max_id_bytes, out);
}

template <typename Out>
void Assign(ByteSpan bytes, Out& out) {
  out.assign(bytes.begin(), bytes.end());
}

// 16 bytes, or none (the all-zero epoch).
Status ReadEpoch(const Field& field, std::string_view name, Epoch* out) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, name));
  if (field.bytes.empty()) {
    *out = kNoEpoch;
    return Status::Ok();
  }
  if (field.bytes.size() != out->size()) {
    return Error(ErrorCode::kDecodeMalformed, FieldName(field, name) + ": " +
                                                  std::to_string(field.bytes.size()) +
                                                  " bytes, an epoch is 16");
  }
  std::copy(field.bytes.begin(), field.bytes.end(), out->begin());
  return Status::Ok();
}

// Counts one more element of a repeated field against its bound.
Status CountOne(size_t* count, const Field& field, std::string_view what,
                std::string_view limit_name, size_t limit) {
  if (*count >= limit) {
    return LimitExceeded(
        std::string(what) + " count (at byte " + std::to_string(field.offset) + ")", *count + 1,
        limit_name, limit);
  }
  ++*count;
  return Status::Ok();
}

Result<ProtoReader> NestedMessage(const ProtoReader& parent, const Field& field,
                                  std::string_view name) {
  SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, name));
  return parent.Nested(field);
}

// Entry: seq >= 1, message_id not empty, lamport >= 0, sizes bounded.
Status DecodeEntry(const ProtoReader& parent, const Field& at, const ProtocolLimits& limits,
                   Entry& entry) {
  namespace f = entry_field;
  Result<ProtoReader> nested = NestedMessage(parent, at, "entry");
  if (!nested.ok()) return nested.status();
  ProtoReader& reader = *nested;
  ByteSpan message_id;
  ByteSpan payload;
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "seq", &entry.seq));
        break;
      case f::kMessageId:
        SDS_RETURN_IF_ERROR(ReadId(field, "message_id", limits, &message_id));
        break;
      case f::kLamport:
        SDS_RETURN_IF_ERROR(ReadInt64(field, "lamport", &entry.lamport));
        break;
      case f::kPayload:
        SDS_RETURN_IF_ERROR(
            ReadBytes(field, "payload", "max_payload_bytes", limits.max_payload_bytes, &payload));
        break;
      default:
        break;
    }
  }
  if (entry.seq == 0) return MissingField("Entry", f::kSeq, "seq", at.offset);
  if (message_id.empty()) return MissingField("Entry", f::kMessageId, "message_id", at.offset);
  if (entry.lamport < 0) {
    return Error(ErrorCode::kDecodeLamportOutOfRange,
                 "Entry at byte " + std::to_string(at.offset) + ": field 3 (lamport) is " +
                     std::to_string(entry.lamport) + ", below 0");
  }
  Assign(message_id, entry.message_id);
  Assign(payload, entry.payload);
  return Status::Ok();
}

// Appends one entry of a repeated Entry field, counted against the response's
// entry bound (`total` is shared by every list of one response).
Status DecodeEntryInto(const ProtoReader& reader, const Field& field, const ProtocolLimits& limits,
                       size_t* total, std::vector<Entry>& entries) {
  SDS_RETURN_IF_ERROR(CountOne(total, field, "entries", "max_entries_per_response",
                               limits.max_entries_per_response));
  Entry& entry = entries.emplace_back();
  Status status = DecodeEntry(reader, field, limits, entry);
  if (!status.ok()) return WithContext(Indexed("entries", entries.size() - 1), status);
  return Status::Ok();
}

// Appends one element of a repeated id field; `count` is shared by the lists
// one bound covers.
template <typename List>
Status DecodeIdInto(const Field& field, std::string_view name, const ProtocolLimits& limits,
                    size_t* count, std::string_view limit_name, size_t limit, List& list) {
  SDS_RETURN_IF_ERROR(CountOne(count, field, name, limit_name, limit));
  ByteSpan id;
  SDS_RETURN_IF_ERROR(ReadId(field, Indexed(name, list.size()), limits, &id));
  Assign(id, list.emplace_back());
  return Status::Ok();
}

// Entries are dense and ascending from `first`: entries[i].seq == first + i.
Status CheckDenseFrom(const std::vector<Entry>& entries, uint64_t first, std::string_view message,
                      size_t offset) {
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].seq != first + i) {
      return Inconsistent(message, offset,
                          Indexed("entries", i) + ".seq is " + std::to_string(entries[i].seq) +
                              ", expected " + std::to_string(first + i) +
                              " (entries must be dense and ascending)");
    }
  }
  return Status::Ok();
}

// A known log's bounds: 1 <= low_seq <= head_seq + 1 (written so that
// head_seq = 2^64 - 1 does not overflow).
Status CheckLogBounds(uint64_t low_seq, uint64_t head_seq, std::string_view head_name,
                      std::string_view message, size_t offset) {
  if (low_seq == 0) return Inconsistent(message, offset, "low_seq is 0 (seqs start at 1)");
  if (low_seq - 1 > head_seq) {
    return Inconsistent(message, offset,
                        "low_seq " + std::to_string(low_seq) + " is above " +
                            std::string(head_name) + " + 1 (" + std::string(head_name) + " " +
                            std::to_string(head_seq) + ")");
  }
  return Status::Ok();
}

Status DecodeCursorFields(ProtoReader& reader, std::optional<Epoch>& epoch, uint64_t& seq) {
  namespace f = cursor_field;
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kEpoch: {
        Epoch value;
        SDS_RETURN_IF_ERROR(ReadEpoch(field, "epoch", &value));
        epoch = value;
        break;
      }
      case f::kSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "seq", &seq));
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

Status DecodeChannelCursor(const ProtoReader& parent, const Field& at, const ProtocolLimits& limits,
                           ChannelCursor& channel) {
  namespace f = channel_cursor_field;
  Result<ProtoReader> nested = NestedMessage(parent, at, "channels");
  if (!nested.ok()) return nested.status();
  ProtoReader& reader = *nested;
  ByteSpan channel_id;
  // A cursor field seen twice is merged, as protobuf merges message fields.
  bool has_cursor = false;
  size_t cursor_offset = 0;
  std::optional<Epoch> epoch;
  uint64_t seq = 0;
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kChannelId:
        SDS_RETURN_IF_ERROR(ReadId(field, "channel_id", limits, &channel_id));
        break;
      case f::kCursor: {
        Result<ProtoReader> cursor = NestedMessage(reader, field, "cursor");
        if (!cursor.ok()) return cursor.status();
        has_cursor = true;
        cursor_offset = field.offset;
        Status status = DecodeCursorFields(*cursor, epoch, seq);
        if (!status.ok()) return WithContext("cursor", status);
        break;
      }
      default:
        break;
    }
  }
  Assign(channel_id, channel.channel_id);
  if (has_cursor) {
    if (!epoch || IsNoEpoch(*epoch)) {
      return MissingField("Cursor", cursor_field::kEpoch, "epoch", cursor_offset);
    }
    channel.cursor = Cursor{.epoch = *epoch, .seq = seq};
  }
  return Status::Ok();
}

// Checks a request's whole size before anything is read.
Status CheckRequestSize(ByteSpan bytes, std::string_view message, const ProtocolLimits& limits) {
  if (bytes.size() <= limits.max_request_bytes) return Status::Ok();
  return LimitExceeded(std::string(message) + " size in bytes", bytes.size(), "max_request_bytes",
                       limits.max_request_bytes);
}

Result<SyncRequest> DecodeSyncRequestImpl(ByteSpan bytes, const ProtocolLimits& limits) {
  namespace f = sync_request_field;
  SDS_RETURN_IF_ERROR(CheckRequestSize(bytes, "SyncRequest", limits));
  // Absent fields decode to 0, not to the defaults a client asks for.
  SyncRequest request;
  request.protocol_version = 0;
  request.max_entries = 0;
  request.max_bytes = 0;
  size_t channels = 0;
  ProtoReader reader(bytes);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kProtocolVersion:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "protocol_version", &request.protocol_version));
        break;
      case f::kChannels: {
        SDS_RETURN_IF_ERROR(CountOne(&channels, field, "channels", "max_channels_per_request",
                                     limits.max_channels_per_request));
        Status status = DecodeChannelCursor(reader, field, limits, request.channels.emplace_back());
        if (!status.ok()) return WithContext(Indexed("channels", channels - 1), status);
        break;
      }
      case f::kMaxEntries:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "max_entries", &request.max_entries));
        break;
      case f::kMaxBytes:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "max_bytes", &request.max_bytes));
        break;
      case f::kIdsOnly:
        SDS_RETURN_IF_ERROR(ReadBool(field, "ids_only", &request.ids_only));
        break;
      default:
        break;
    }
  }
  return request;
}

Result<SnapshotRequest> DecodeSnapshotRequestImpl(ByteSpan bytes, const ProtocolLimits& limits) {
  namespace f = snapshot_request_field;
  SDS_RETURN_IF_ERROR(CheckRequestSize(bytes, "SnapshotRequest", limits));
  SnapshotRequest request;
  request.protocol_version = 0;
  request.entries_per_channel = 0;
  size_t channels = 0;
  ProtoReader reader(bytes);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kProtocolVersion:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "protocol_version", &request.protocol_version));
        break;
      case f::kChannelIds:
        SDS_RETURN_IF_ERROR(DecodeIdInto(field, "channel_ids", limits, &channels,
                                         "max_channels_per_request",
                                         limits.max_channels_per_request, request.channel_ids));
        break;
      case f::kEntriesPerChannel:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "entries_per_channel", &request.entries_per_channel));
        break;
      default:
        break;
    }
  }
  return request;
}

Result<FetchRequest> DecodeFetchRequestImpl(ByteSpan bytes, const ProtocolLimits& limits) {
  namespace f = fetch_request_field;
  SDS_RETURN_IF_ERROR(CheckRequestSize(bytes, "FetchRequest", limits));
  FetchRequest request;
  request.protocol_version = 0;
  size_t ids = 0;  // message ids and hints together
  ByteSpan channel_id;
  ProtoReader reader(bytes);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kProtocolVersion:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "protocol_version", &request.protocol_version));
        break;
      case f::kChannelId:
        SDS_RETURN_IF_ERROR(ReadId(field, "channel_id", limits, &channel_id));
        break;
      case f::kMessageIds:
        SDS_RETURN_IF_ERROR(DecodeIdInto(field, "message_ids", limits, &ids, "max_ids_per_fetch",
                                         limits.max_ids_per_fetch, request.message_ids));
        break;
      case f::kRetrievalHints:
        SDS_RETURN_IF_ERROR(DecodeIdInto(field, "retrieval_hints", limits, &ids,
                                         "max_ids_per_fetch", limits.max_ids_per_fetch,
                                         request.retrieval_hints));
        break;
      default:
        break;
    }
  }
  Assign(channel_id, request.channel_id);
  return request;
}

Result<BackfillRequest> DecodeBackfillRequestImpl(ByteSpan bytes, const ProtocolLimits& limits) {
  namespace f = backfill_request_field;
  SDS_RETURN_IF_ERROR(CheckRequestSize(bytes, "BackfillRequest", limits));
  BackfillRequest request;
  request.protocol_version = 0;
  request.limit = 0;
  ByteSpan channel_id;
  ProtoReader reader(bytes);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kProtocolVersion:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "protocol_version", &request.protocol_version));
        break;
      case f::kChannelId:
        SDS_RETURN_IF_ERROR(ReadId(field, "channel_id", limits, &channel_id));
        break;
      case f::kEpoch:
        SDS_RETURN_IF_ERROR(ReadEpoch(field, "epoch", &request.epoch));
        break;
      case f::kBeforeSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "before_seq", &request.before_seq));
        break;
      case f::kLimit:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "limit", &request.limit));
        break;
      default:
        break;
    }
  }
  if (IsNoEpoch(request.epoch)) return MissingField("BackfillRequest", f::kEpoch, "epoch", 0);
  Assign(channel_id, request.channel_id);
  return request;
}

// ---- Responses

// Fields of ServiceError, merged into `error` (code kept as read so that an
// absent code is told from kBadRequest).
struct ErrorFields {
  ServiceError error;
  bool has_code = false;
};

Status DecodeServiceErrorFields(ProtoReader& reader, ErrorFields& fields) {
  namespace f = error_field;
  ByteSpan message;
  bool has_message = false;
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kCode:
        SDS_RETURN_IF_ERROR(ReadEnum(field, "code", 0, 5, &fields.error.code));
        fields.has_code = field.integer != 0;
        break;
      case f::kMessage:
        SDS_RETURN_IF_ERROR(ExpectWireType(field, WireType::kLengthDelimited, "message"));
        message = field.bytes;
        has_message = true;
        break;
      case f::kRetryAfterMs:
        SDS_RETURN_IF_ERROR(ReadUint32(field, "retry_after_ms", &fields.error.retry_after_ms));
        break;
      case f::kSupportedVersion:
        SDS_RETURN_IF_ERROR(
            ReadUint32(field, "supported_version", &fields.error.supported_version));
        break;
      default:
        break;
    }
  }
  if (has_message) Assign(message, fields.error.message);
  return Status::Ok();
}

Status DecodeChannelResult(const ProtoReader& parent, const Field& at, const ProtocolLimits& limits,
                           size_t* total_entries, ChannelResult& result) {
  namespace f = channel_result_field;
  Result<ProtoReader> nested = NestedMessage(parent, at, "channels");
  if (!nested.ok()) return nested.status();
  ProtoReader& reader = *nested;
  ByteSpan channel_id;
  bool has_status = false;
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kChannelId:
        SDS_RETURN_IF_ERROR(ReadId(field, "channel_id", limits, &channel_id));
        break;
      case f::kStatus:
        SDS_RETURN_IF_ERROR(ReadEnum(field, "status", 0, 4, &result.status));
        has_status = field.integer != 0;
        break;
      case f::kReason:
        SDS_RETURN_IF_ERROR(ReadEnum(field, "reason", 0, 4, &result.reason));
        break;
      case f::kEpoch:
        SDS_RETURN_IF_ERROR(ReadEpoch(field, "epoch", &result.epoch));
        break;
      case f::kLowSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "low_seq", &result.low_seq));
        break;
      case f::kHeadSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "head_seq", &result.head_seq));
        break;
      case f::kFromSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "from_seq", &result.from_seq));
        break;
      case f::kToSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "to_seq", &result.to_seq));
        break;
      case f::kHasMore:
        SDS_RETURN_IF_ERROR(ReadBool(field, "has_more", &result.has_more));
        break;
      case f::kEntries:
        SDS_RETURN_IF_ERROR(DecodeEntryInto(reader, field, limits, total_entries, result.entries));
        break;
      default:
        break;
    }
  }
  Assign(channel_id, result.channel_id);

  constexpr std::string_view kMessage = "ChannelResult";
  const size_t offset = at.offset;
  if (!has_status) return MissingField(kMessage, f::kStatus, "status", offset);
  const bool cold = result.status == SyncStatus::kColdStartRequired;
  if (cold != (result.reason != ColdReason::kNone)) {
    return Inconsistent(kMessage, offset,
                        std::string("status ") + SyncStatusName(result.status) + " with reason " +
                            ColdReasonName(result.reason) +
                            " (a reason is given iff the status is COLD_START_REQUIRED)");
  }
  const bool delta = result.status == SyncStatus::kDelta;
  if (!delta &&
      (!result.entries.empty() || result.from_seq != 0 || result.to_seq != 0 || result.has_more)) {
    return Inconsistent(kMessage, offset,
                        std::string("status ") + SyncStatusName(result.status) +
                            " with entries, from_seq, to_seq or has_more (DELTA only)");
  }
  // UP_TO_DATE carries no body (its epoch and head are the cursor's); an
  // unknown channel has no log.
  if (result.status == SyncStatus::kUpToDate || result.status == SyncStatus::kUnknownChannel) {
    if (!IsNoEpoch(result.epoch) || result.low_seq != 0 || result.head_seq != 0) {
      return Inconsistent(kMessage, offset,
                          std::string(SyncStatusName(result.status)) +
                              " with epoch, low_seq or head_seq (it carries channel_id and "
                              "status only)");
    }
    return Status::Ok();
  }
  if (IsNoEpoch(result.epoch)) return MissingField(kMessage, f::kEpoch, "epoch", offset);
  SDS_RETURN_IF_ERROR(
      CheckLogBounds(result.low_seq, result.head_seq, "head_seq", kMessage, offset));
  if (!delta) return Status::Ok();

  if (result.from_seq < result.low_seq || result.to_seq < result.from_seq ||
      result.to_seq > result.head_seq) {
    return Inconsistent(kMessage, offset,
                        "DELTA page from_seq " + std::to_string(result.from_seq) + " to_seq " +
                            std::to_string(result.to_seq) + " outside low_seq " +
                            std::to_string(result.low_seq) + " .. head_seq " +
                            std::to_string(result.head_seq) + " or reversed");
  }
  // to_seq - from_seq + 1 cannot overflow a size comparison: entries.size()
  // is bounded by max_entries_per_response, so compare without adding 1 first.
  if (result.entries.empty() || result.to_seq - result.from_seq != result.entries.size() - 1) {
    return Inconsistent(kMessage, offset,
                        "DELTA from_seq " + std::to_string(result.from_seq) + " to_seq " +
                            std::to_string(result.to_seq) + " with " +
                            std::to_string(result.entries.size()) + " entries");
  }
  SDS_RETURN_IF_ERROR(CheckDenseFrom(result.entries, result.from_seq, kMessage, offset));
  if (result.has_more != (result.to_seq < result.head_seq)) {
    return Inconsistent(kMessage, offset,
                        std::string("has_more is ") + (result.has_more ? "true" : "false") +
                            " with to_seq " + std::to_string(result.to_seq) + " and head_seq " +
                            std::to_string(result.head_seq));
  }
  return Status::Ok();
}

Status DecodeChannelSnapshot(const ProtoReader& parent, const Field& at,
                             const ProtocolLimits& limits, size_t* total_entries,
                             ChannelSnapshot& snapshot) {
  namespace f = channel_snapshot_field;
  Result<ProtoReader> nested = NestedMessage(parent, at, "channels");
  if (!nested.ok()) return nested.status();
  ProtoReader& reader = *nested;
  ByteSpan channel_id;
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    switch (field.number) {
      case f::kChannelId:
        SDS_RETURN_IF_ERROR(ReadId(field, "channel_id", limits, &channel_id));
        break;
      case f::kEpoch:
        SDS_RETURN_IF_ERROR(ReadEpoch(field, "epoch", &snapshot.epoch));
        break;
      case f::kSnapshotSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "snapshot_seq", &snapshot.snapshot_seq));
        break;
      case f::kLowSeq:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "low_seq", &snapshot.low_seq));
        break;
      case f::kMaxLamport:
        SDS_RETURN_IF_ERROR(ReadInt64(field, "max_lamport", &snapshot.max_lamport));
        break;
      case f::kRetainedCount:
        SDS_RETURN_IF_ERROR(ReadUint64(field, "retained_count", &snapshot.retained_count));
        break;
      case f::kEntries:
        SDS_RETURN_IF_ERROR(
            DecodeEntryInto(reader, field, limits, total_entries, snapshot.entries));
        break;
      default:
        break;
    }
  }
  Assign(channel_id, snapshot.channel_id);

  constexpr std::string_view kMessage = "ChannelSnapshot";
  const size_t offset = at.offset;
  if (IsNoEpoch(snapshot.epoch)) return MissingField(kMessage, f::kEpoch, "epoch", offset);
  if (snapshot.max_lamport < 0) {
    return Error(ErrorCode::kDecodeLamportOutOfRange,
                 std::string(kMessage) + " at byte " + std::to_string(offset) +
                     ": field 5 (max_lamport) is " + std::to_string(snapshot.max_lamport) +
                     ", below 0");
  }
  SDS_RETURN_IF_ERROR(
      CheckLogBounds(snapshot.low_seq, snapshot.snapshot_seq, "snapshot_seq", kMessage, offset));
  if (snapshot.entries.empty()) return Status::Ok();
  // Dense and ending at snapshot_seq, so the first is snapshot_seq - (n - 1);
  // it must not be below low_seq (which also rules out wrapping below 1).
  const uint64_t span = snapshot.entries.size() - 1;
  if (snapshot.snapshot_seq - snapshot.low_seq < span) {
    return Inconsistent(kMessage, offset,
                        std::to_string(snapshot.entries.size()) +
                            " entries ending at snapshot_seq " +
                            std::to_string(snapshot.snapshot_seq) + " would start below low_seq " +
                            std::to_string(snapshot.low_seq));
  }
  return CheckDenseFrom(snapshot.entries, snapshot.snapshot_seq - span, kMessage, offset);
}

// Decodes the fields of one occurrence of a response into `response`.
struct SyncResponseDecoder {
  static constexpr std::string_view kName = "SyncResponse";
  static Status Fields(ProtoReader& reader, const ProtocolLimits& limits, size_t* total_entries,
                       ByteSpan* store_id, SyncResponse& response) {
    namespace f = sync_response_field;
    size_t channels = response.channels.size();
    while (!reader.done()) {
      Field field;
      SDS_RETURN_IF_ERROR(reader.Next(field));
      switch (field.number) {
        case f::kStoreId:
          SDS_RETURN_IF_ERROR(ReadId(field, "store_id", limits, store_id));
          break;
        case f::kChannels: {
          SDS_RETURN_IF_ERROR(CountOne(&channels, field, "channels", "max_channels_per_request",
                                       limits.max_channels_per_request));
          Status status = DecodeChannelResult(reader, field, limits, total_entries,
                                              response.channels.emplace_back());
          if (!status.ok()) return WithContext(Indexed("channels", channels - 1), status);
          break;
        }
        default:
          break;
      }
    }
    return Status::Ok();
  }
  static Status Check(const SyncResponse&, size_t) { return Status::Ok(); }
};

struct SnapshotResponseDecoder {
  static constexpr std::string_view kName = "SnapshotResponse";
  static Status Fields(ProtoReader& reader, const ProtocolLimits& limits, size_t* total_entries,
                       ByteSpan* store_id, SnapshotResponse& response) {
    namespace f = snapshot_response_field;
    // Snapshots and unknown ids together answer the request's channels.
    size_t channels = response.channels.size() + response.unknown_channel_ids.size();
    while (!reader.done()) {
      Field field;
      SDS_RETURN_IF_ERROR(reader.Next(field));
      switch (field.number) {
        case f::kStoreId:
          SDS_RETURN_IF_ERROR(ReadId(field, "store_id", limits, store_id));
          break;
        case f::kChannels: {
          SDS_RETURN_IF_ERROR(CountOne(&channels, field, "channels", "max_channels_per_request",
                                       limits.max_channels_per_request));
          Status status = DecodeChannelSnapshot(reader, field, limits, total_entries,
                                                response.channels.emplace_back());
          if (!status.ok()) {
            return WithContext(Indexed("channels", response.channels.size() - 1), status);
          }
          break;
        }
        case f::kUnknownChannelIds:
          SDS_RETURN_IF_ERROR(DecodeIdInto(
              field, "unknown_channel_ids", limits, &channels, "max_channels_per_request",
              limits.max_channels_per_request, response.unknown_channel_ids));
          break;
        default:
          break;
      }
    }
    return Status::Ok();
  }
  static Status Check(const SnapshotResponse&, size_t) { return Status::Ok(); }
};

struct FetchResponseDecoder {
  static constexpr std::string_view kName = "FetchResponse";
  static Status Fields(ProtoReader& reader, const ProtocolLimits& limits, size_t* total_entries,
                       ByteSpan* store_id, FetchResponse& response) {
    namespace f = fetch_response_field;
    size_t missing = response.missing_ids.size() + response.missing_hints.size();
    while (!reader.done()) {
      Field field;
      SDS_RETURN_IF_ERROR(reader.Next(field));
      switch (field.number) {
        case f::kStoreId:
          SDS_RETURN_IF_ERROR(ReadId(field, "store_id", limits, store_id));
          break;
        case f::kEpoch:
          SDS_RETURN_IF_ERROR(ReadEpoch(field, "epoch", &response.epoch));
          break;
        case f::kEntries:
          SDS_RETURN_IF_ERROR(
              DecodeEntryInto(reader, field, limits, total_entries, response.entries));
          break;
        case f::kMissingIds:
          SDS_RETURN_IF_ERROR(DecodeIdInto(field, "missing_ids", limits, &missing,
                                           "max_ids_per_fetch", limits.max_ids_per_fetch,
                                           response.missing_ids));
          break;
        case f::kMissingHints:
          SDS_RETURN_IF_ERROR(DecodeIdInto(field, "missing_hints", limits, &missing,
                                           "max_ids_per_fetch", limits.max_ids_per_fetch,
                                           response.missing_hints));
          break;
        default:
          break;
      }
    }
    return Status::Ok();
  }
  static Status Check(const FetchResponse& response, size_t offset) {
    if (response.entries.empty()) return Status::Ok();
    if (IsNoEpoch(response.epoch)) {
      return MissingField(kName, fetch_response_field::kEpoch, "epoch (entries need one)", offset);
    }
    for (size_t i = 1; i < response.entries.size(); ++i) {
      if (response.entries[i].seq <= response.entries[i - 1].seq) {
        return Inconsistent(kName, offset,
                            Indexed("entries", i) + ".seq " +
                                std::to_string(response.entries[i].seq) + " is not above " +
                                std::to_string(response.entries[i - 1].seq) +
                                " (entries must be strictly ascending)");
      }
    }
    return Status::Ok();
  }
};

struct BackfillResponseDecoder {
  static constexpr std::string_view kName = "BackfillResponse";
  static Status Fields(ProtoReader& reader, const ProtocolLimits& limits, size_t* total_entries,
                       ByteSpan* store_id, BackfillResponse& response) {
    namespace f = backfill_response_field;
    while (!reader.done()) {
      Field field;
      SDS_RETURN_IF_ERROR(reader.Next(field));
      switch (field.number) {
        case f::kStoreId:
          SDS_RETURN_IF_ERROR(ReadId(field, "store_id", limits, store_id));
          break;
        case f::kStatus:
          // Status 0 is read as absent; the check below reports it.
          if (field.wire_type == WireType::kVarint && field.integer == 0) {
            response.status = static_cast<SyncStatus>(0);
            break;
          }
          SDS_RETURN_IF_ERROR(ReadEnum(field, "status", 1, 4, &response.status));
          if (response.status == SyncStatus::kUpToDate) {
            return Error(ErrorCode::kDecodeMalformed,
                         FieldName(field, "status") + ": UP_TO_DATE is not a Backfill status");
          }
          break;
        case f::kEpoch:
          SDS_RETURN_IF_ERROR(ReadEpoch(field, "epoch", &response.epoch));
          break;
        case f::kLowSeq:
          SDS_RETURN_IF_ERROR(ReadUint64(field, "low_seq", &response.low_seq));
          break;
        case f::kReachedLow:
          SDS_RETURN_IF_ERROR(ReadBool(field, "reached_low", &response.reached_low));
          break;
        case f::kEntries:
          SDS_RETURN_IF_ERROR(
              DecodeEntryInto(reader, field, limits, total_entries, response.entries));
          break;
        default:
          break;
      }
    }
    return Status::Ok();
  }
  static Status Check(const BackfillResponse& response, size_t offset) {
    namespace f = backfill_response_field;
    if (static_cast<int>(response.status) == 0) {
      return MissingField(kName, f::kStatus, "status", offset);
    }
    if (response.status != SyncStatus::kDelta) {
      if (!response.entries.empty() || response.reached_low) {
        return Inconsistent(kName, offset,
                            std::string("status ") + SyncStatusName(response.status) +
                                " with entries or reached_low (DELTA only)");
      }
      if (response.status == SyncStatus::kUnknownChannel) {
        if (!IsNoEpoch(response.epoch) || response.low_seq != 0) {
          return Inconsistent(kName, offset, "UNKNOWN_CHANNEL with epoch or low_seq");
        }
        return Status::Ok();
      }
      if (IsNoEpoch(response.epoch)) return MissingField(kName, f::kEpoch, "epoch", offset);
      return Status::Ok();
    }
    if (IsNoEpoch(response.epoch)) return MissingField(kName, f::kEpoch, "epoch", offset);
    if (response.low_seq == 0) return Inconsistent(kName, offset, "low_seq is 0 (seqs start at 1)");
    if (response.entries.empty()) return Status::Ok();
    const uint64_t first = response.entries.front().seq;
    if (first < response.low_seq) {
      return Inconsistent(kName, offset,
                          "entries start at " + std::to_string(first) + ", below low_seq " +
                              std::to_string(response.low_seq));
    }
    SDS_RETURN_IF_ERROR(CheckDenseFrom(response.entries, first, kName, offset));
    if (response.reached_low != (first == response.low_seq)) {
      return Inconsistent(kName, offset,
                          std::string("reached_low is ") +
                              (response.reached_low ? "true" : "false") + " with entries from " +
                              std::to_string(first) + " and low_seq " +
                              std::to_string(response.low_seq));
    }
    return Status::Ok();
  }
};

// An answer envelope: `oneof { ServiceError error = 1; Response response = N; }`.
// As in protobuf, a oneof member seen again is merged into, and switching
// members discards the other.
template <typename Decoder, typename Response>
Result<Answer<Response>> DecodeAnswer(ByteSpan bytes, const ProtocolLimits& limits,
                                      uint32_t response_number) {
  const std::string_view name = Decoder::kName;
  if (bytes.size() > limits.max_response_bytes) {
    return LimitExceeded(std::string(name) + " answer size in bytes", bytes.size(),
                         "max_response_bytes", limits.max_response_bytes);
  }
  enum class Member { kNone, kError, kResponse };
  Member member = Member::kNone;
  size_t member_offset = 0;
  ErrorFields error;
  Response response{};
  // BackfillResponse's status defaults to kDelta in C++; absent on the wire is 0.
  if constexpr (std::is_same_v<Response, BackfillResponse>) {
    response.status = static_cast<SyncStatus>(0);
  }
  const Response fresh = response;
  ByteSpan store_id;
  size_t total_entries = 0;

  ProtoReader reader(bytes);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    if (field.number == kAnswerError) {
      Result<ProtoReader> nested = NestedMessage(reader, field, "error");
      if (!nested.ok()) return nested.status();
      if (member != Member::kError) error = ErrorFields{};
      member = Member::kError;
      member_offset = field.offset;
      Status status = DecodeServiceErrorFields(*nested, error);
      if (!status.ok()) return WithContext("ServiceError", status);
    } else if (field.number == response_number) {
      Result<ProtoReader> nested = NestedMessage(reader, field, "response");
      if (!nested.ok()) return nested.status();
      if (member != Member::kResponse) {
        response = fresh;
        store_id = {};
        total_entries = 0;
      }
      member = Member::kResponse;
      member_offset = field.offset;
      Status status = Decoder::Fields(*nested, limits, &total_entries, &store_id, response);
      if (!status.ok()) return WithContext(name, status);
    }
  }
  switch (member) {
    case Member::kNone:
      return Error(ErrorCode::kDecodeMissingField,
                   std::string(name) + " answer: neither field 1 (error) nor field " +
                       std::to_string(response_number) + " (response)");
    case Member::kError:
      if (!error.has_code) {
        return MissingField("ServiceError", error_field::kCode, "code", member_offset);
      }
      return Answer<Response>(std::move(error.error));
    case Member::kResponse:
      break;
  }
  if (store_id.empty()) return MissingField(name, 1, "store_id", member_offset);
  SDS_RETURN_IF_ERROR(Decoder::Check(response, member_offset));
  Assign(store_id, response.store_id);
  return Answer<Response>(std::move(response));
}

}  // namespace

// ---- Public entry points ----------------------------------------------------

Bytes EncodeSyncRequest(const SyncRequest& request) {
  namespace f = sync_request_field;
  const size_t size = OptionalVarintSize(f::kProtocolVersion, request.protocol_version) +
                      RepeatedMessageSize(f::kChannels, request.channels, ChannelCursorSize) +
                      OptionalVarintSize(f::kMaxEntries, request.max_entries) +
                      OptionalVarintSize(f::kMaxBytes, request.max_bytes) +
                      OptionalVarintSize(f::kIdsOnly, request.ids_only ? 1 : 0);
  return EncodeTopLevel(size, [&](ProtoWriter& w) {
    WriteOptionalVarint(w, f::kProtocolVersion, request.protocol_version);
    WriteRepeatedMessage(w, f::kChannels, request.channels, ChannelCursorSize, WriteChannelCursor);
    WriteOptionalVarint(w, f::kMaxEntries, request.max_entries);
    WriteOptionalVarint(w, f::kMaxBytes, request.max_bytes);
    WriteOptionalVarint(w, f::kIdsOnly, request.ids_only ? 1 : 0);
  });
}

Bytes EncodeSnapshotRequest(const SnapshotRequest& request) {
  namespace f = snapshot_request_field;
  const size_t size = OptionalVarintSize(f::kProtocolVersion, request.protocol_version) +
                      RepeatedBytesSize(f::kChannelIds, request.channel_ids) +
                      OptionalVarintSize(f::kEntriesPerChannel, request.entries_per_channel);
  return EncodeTopLevel(size, [&](ProtoWriter& w) {
    WriteOptionalVarint(w, f::kProtocolVersion, request.protocol_version);
    WriteRepeatedBytes(w, f::kChannelIds, request.channel_ids);
    WriteOptionalVarint(w, f::kEntriesPerChannel, request.entries_per_channel);
  });
}

Bytes EncodeFetchRequest(const FetchRequest& request) {
  namespace f = fetch_request_field;
  const size_t size = OptionalVarintSize(f::kProtocolVersion, request.protocol_version) +
                      OptionalBytesSize(f::kChannelId, AsSpan(request.channel_id)) +
                      RepeatedBytesSize(f::kMessageIds, request.message_ids) +
                      RepeatedBytesSize(f::kRetrievalHints, request.retrieval_hints);
  return EncodeTopLevel(size, [&](ProtoWriter& w) {
    WriteOptionalVarint(w, f::kProtocolVersion, request.protocol_version);
    WriteOptionalBytes(w, f::kChannelId, AsSpan(request.channel_id));
    WriteRepeatedBytes(w, f::kMessageIds, request.message_ids);
    WriteRepeatedBytes(w, f::kRetrievalHints, request.retrieval_hints);
  });
}

Bytes EncodeBackfillRequest(const BackfillRequest& request) {
  namespace f = backfill_request_field;
  const size_t size = OptionalVarintSize(f::kProtocolVersion, request.protocol_version) +
                      OptionalBytesSize(f::kChannelId, AsSpan(request.channel_id)) +
                      EpochSize(f::kEpoch, request.epoch) +
                      OptionalVarintSize(f::kBeforeSeq, request.before_seq) +
                      OptionalVarintSize(f::kLimit, request.limit);
  return EncodeTopLevel(size, [&](ProtoWriter& w) {
    WriteOptionalVarint(w, f::kProtocolVersion, request.protocol_version);
    WriteOptionalBytes(w, f::kChannelId, AsSpan(request.channel_id));
    WriteEpoch(w, f::kEpoch, request.epoch);
    WriteOptionalVarint(w, f::kBeforeSeq, request.before_seq);
    WriteOptionalVarint(w, f::kLimit, request.limit);
  });
}

Result<SyncRequest> DecodeSyncRequest(ByteSpan bytes, const ProtocolLimits& limits) {
  Result<SyncRequest> result = DecodeSyncRequestImpl(bytes, limits);
  if (!result.ok()) return WithContext("SyncRequest", result.status());
  return result;
}

Result<SnapshotRequest> DecodeSnapshotRequest(ByteSpan bytes, const ProtocolLimits& limits) {
  Result<SnapshotRequest> result = DecodeSnapshotRequestImpl(bytes, limits);
  if (!result.ok()) return WithContext("SnapshotRequest", result.status());
  return result;
}

Result<FetchRequest> DecodeFetchRequest(ByteSpan bytes, const ProtocolLimits& limits) {
  Result<FetchRequest> result = DecodeFetchRequestImpl(bytes, limits);
  if (!result.ok()) return WithContext("FetchRequest", result.status());
  return result;
}

Result<BackfillRequest> DecodeBackfillRequest(ByteSpan bytes, const ProtocolLimits& limits) {
  Result<BackfillRequest> result = DecodeBackfillRequestImpl(bytes, limits);
  if (!result.ok()) return WithContext("BackfillRequest", result.status());
  return result;
}

Bytes EncodeSyncResponse(const SyncResponse& response) {
  return EncodeAnswer(kSyncAnswerResponse, response, SyncResponseSize, WriteSyncResponse);
}

Bytes EncodeSnapshotResponse(const SnapshotResponse& response) {
  return EncodeAnswer(kSnapshotAnswerResponse, response, SnapshotResponseSize,
                      WriteSnapshotResponse);
}

Bytes EncodeFetchResponse(const FetchResponse& response) {
  return EncodeAnswer(kFetchAnswerResponse, response, FetchResponseSize, WriteFetchResponse);
}

Bytes EncodeBackfillResponse(const BackfillResponse& response) {
  return EncodeAnswer(kBackfillAnswerResponse, response, BackfillResponseSize,
                      WriteBackfillResponse);
}

Bytes EncodeServiceError(const ServiceError& error) {
  return EncodeAnswer(kAnswerError, error, ServiceErrorSize, WriteServiceError);
}

Result<Answer<SyncResponse>> DecodeSyncResponse(ByteSpan bytes, const ProtocolLimits& limits) {
  return DecodeAnswer<SyncResponseDecoder, SyncResponse>(bytes, limits, kSyncAnswerResponse);
}

Result<Answer<SnapshotResponse>> DecodeSnapshotResponse(ByteSpan bytes,
                                                        const ProtocolLimits& limits) {
  return DecodeAnswer<SnapshotResponseDecoder, SnapshotResponse>(bytes, limits,
                                                                 kSnapshotAnswerResponse);
}

Result<Answer<FetchResponse>> DecodeFetchResponse(ByteSpan bytes, const ProtocolLimits& limits) {
  return DecodeAnswer<FetchResponseDecoder, FetchResponse>(bytes, limits, kFetchAnswerResponse);
}

Result<Answer<BackfillResponse>> DecodeBackfillResponse(ByteSpan bytes,
                                                        const ProtocolLimits& limits) {
  return DecodeAnswer<BackfillResponseDecoder, BackfillResponse>(bytes, limits,
                                                                 kBackfillAnswerResponse);
}

}  // namespace sds::catchup
