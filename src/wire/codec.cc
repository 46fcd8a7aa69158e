// Both wire dialects share one message model and differ only in field numbers
// and in which fields are always written or required, so one decoder and one
// encoder serve both, driven by a per-dialect field table.
#include "sds/codec.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire/encode_with_bloom.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sds {

const char* DialectName(Dialect dialect) {
  switch (dialect) {
    case Dialect::kNim:
      return "nim";
    case Dialect::kSpec:
      return "spec";
  }
  return "unknown";
}

namespace {

using wire::Field;
using wire::ProtoReader;
using wire::ProtoWriter;
using wire::WireType;

// Field numbers of one dialect's top-level message.
struct MessageFields {
  uint32_t message_id;
  uint32_t lamport;
  uint32_t causal_history;
  uint32_t channel_id;
  uint32_t content;
  uint32_t bloom_filter;
  uint32_t sender_id;
  uint32_t repair_request;
};

constexpr MessageFields kNimFields{.message_id = 1,
                                   .lamport = 2,
                                   .causal_history = 3,
                                   .channel_id = 4,
                                   .content = 5,
                                   .bloom_filter = 6,
                                   .sender_id = 7,
                                   .repair_request = 13};

constexpr MessageFields kSpecFields{.message_id = 2,
                                    .lamport = 10,
                                    .causal_history = 11,
                                    .channel_id = 3,
                                    .content = 20,
                                    .bloom_filter = 12,
                                    .sender_id = 1,
                                    .repair_request = 13};

const MessageFields& FieldsOf(Dialect dialect) {
  return dialect == Dialect::kNim ? kNimFields : kSpecFields;
}

// HistoryEntry is numbered the same in both dialects.
constexpr uint32_t kEntryMessageId = 1;
constexpr uint32_t kEntryRetrievalHint = 2;
constexpr uint32_t kEntrySenderId = 3;

// Both dialects' decoders read the Lamport value as a signed 64-bit integer.
constexpr uint64_t kFirstLamportOutOfRange = uint64_t{1} << 63;

std::string AsString(ByteSpan bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// ---------------------------------------------------------------------------
// Encoding

size_t HistoryEntryPayloadSize(const HistoryEntry& entry) {
  size_t size = wire::LengthDelimitedFieldSize(kEntryMessageId, entry.message_id.size());
  if (!entry.retrieval_hint.empty()) {
    size += wire::LengthDelimitedFieldSize(kEntryRetrievalHint, entry.retrieval_hint.size());
  }
  if (!entry.sender_id.empty()) {
    size += wire::LengthDelimitedFieldSize(kEntrySenderId, entry.sender_id.size());
  }
  return size;
}

size_t HistoryEntriesSize(uint32_t field_number, const std::vector<HistoryEntry>& entries) {
  size_t size = 0;
  for (const HistoryEntry& entry : entries) {
    size += wire::LengthDelimitedFieldSize(field_number, HistoryEntryPayloadSize(entry));
  }
  return size;
}

void WriteHistoryEntries(ProtoWriter& writer, uint32_t field_number,
                         const std::vector<HistoryEntry>& entries) {
  for (const HistoryEntry& entry : entries) {
    writer.WriteMessageField(field_number, HistoryEntryPayloadSize(entry), [&](ProtoWriter& w) {
      w.WriteStringField(kEntryMessageId, entry.message_id);
      if (!entry.retrieval_hint.empty())
        w.WriteBytesField(kEntryRetrievalHint, entry.retrieval_hint);
      if (!entry.sender_id.empty()) w.WriteStringField(kEntrySenderId, entry.sender_id);
    });
  }
}

// The bloom field's payload: the filter itself when given (serialized in
// place, saving a copy of ~18.8 KB per message), else message.bloom_filter.
size_t BloomSize(const Message& message, const BloomFilter* bloom) {
  return bloom != nullptr ? bloom->SerializedSize()
                          : message.bloom_filter.value_or(ByteSpan()).size();
}

void WriteBloomField(ProtoWriter& writer, uint32_t field_number, const Message& message,
                     const BloomFilter* bloom) {
  if (bloom == nullptr) {
    writer.WriteBytesField(field_number, message.bloom_filter.value_or(ByteSpan()));
    return;
  }
  writer.WriteTag(field_number, wire::WireType::kLengthDelimited);
  writer.WriteVarint(bloom->SerializedSize());
  bloom->AppendSerialized(writer.buffer());
}

// nim-sds writes 1, 2, 4, 5 and 6 unconditionally; a missing Lamport value
// cannot be expressed in nim and goes out as 0.
size_t NimEncodedSize(const Message& message, const BloomFilter* bloom) {
  const MessageFields& f = kNimFields;
  const uint64_t lamport = static_cast<uint64_t>(message.lamport_timestamp.value_or(0));
  size_t size =
      wire::LengthDelimitedFieldSize(f.message_id, message.message_id.size()) +
      wire::VarintFieldSize(f.lamport, lamport) +
      HistoryEntriesSize(f.causal_history, message.causal_history) +
      wire::LengthDelimitedFieldSize(f.channel_id, message.channel_id.size()) +
      wire::LengthDelimitedFieldSize(f.content, message.content.value_or(ByteSpan()).size()) +
      wire::LengthDelimitedFieldSize(f.bloom_filter, BloomSize(message, bloom)) +
      HistoryEntriesSize(f.repair_request, message.repair_request);
  if (!message.sender_id.empty()) {
    size += wire::LengthDelimitedFieldSize(f.sender_id, message.sender_id.size());
  }
  return size;
}

void EncodeNim(const Message& message, const BloomFilter* bloom, ProtoWriter& writer) {
  const MessageFields& f = kNimFields;
  writer.WriteStringField(f.message_id, message.message_id);
  writer.WriteVarintField(f.lamport, static_cast<uint64_t>(message.lamport_timestamp.value_or(0)));
  WriteHistoryEntries(writer, f.causal_history, message.causal_history);
  writer.WriteStringField(f.channel_id, message.channel_id);
  writer.WriteBytesField(f.content, message.content.value_or(ByteSpan()));
  WriteBloomField(writer, f.bloom_filter, message, bloom);
  if (!message.sender_id.empty()) writer.WriteStringField(f.sender_id, message.sender_id);
  WriteHistoryEntries(writer, f.repair_request, message.repair_request);
}

// proto3 as @waku/sds writes it: plain strings only when non-empty, optional
// fields whenever set (an empty content is still written).
size_t SpecEncodedSize(const Message& message, const BloomFilter* bloom) {
  const MessageFields& f = kSpecFields;
  size_t size = HistoryEntriesSize(f.causal_history, message.causal_history) +
                HistoryEntriesSize(f.repair_request, message.repair_request);
  if (!message.sender_id.empty()) {
    size += wire::LengthDelimitedFieldSize(f.sender_id, message.sender_id.size());
  }
  if (!message.message_id.empty()) {
    size += wire::LengthDelimitedFieldSize(f.message_id, message.message_id.size());
  }
  if (!message.channel_id.empty()) {
    size += wire::LengthDelimitedFieldSize(f.channel_id, message.channel_id.size());
  }
  if (message.lamport_timestamp) {
    size += wire::VarintFieldSize(f.lamport, static_cast<uint64_t>(*message.lamport_timestamp));
  }
  if (message.bloom_filter || bloom != nullptr) {
    size += wire::LengthDelimitedFieldSize(f.bloom_filter, BloomSize(message, bloom));
  }
  if (message.content) size += wire::LengthDelimitedFieldSize(f.content, message.content->size());
  return size;
}

void EncodeSpec(const Message& message, const BloomFilter* bloom, ProtoWriter& writer) {
  const MessageFields& f = kSpecFields;
  if (!message.sender_id.empty()) writer.WriteStringField(f.sender_id, message.sender_id);
  if (!message.message_id.empty()) writer.WriteStringField(f.message_id, message.message_id);
  if (!message.channel_id.empty()) writer.WriteStringField(f.channel_id, message.channel_id);
  if (message.lamport_timestamp) {
    writer.WriteVarintField(f.lamport, static_cast<uint64_t>(*message.lamport_timestamp));
  }
  WriteHistoryEntries(writer, f.causal_history, message.causal_history);
  if (message.bloom_filter || bloom != nullptr) {
    WriteBloomField(writer, f.bloom_filter, message, bloom);
  }
  WriteHistoryEntries(writer, f.repair_request, message.repair_request);
  if (message.content) writer.WriteBytesField(f.content, *message.content);
}

// ---------------------------------------------------------------------------
// Decoding

Status LimitExceeded(std::string_view what, size_t actual, std::string_view limit_name,
                     size_t limit) {
  return Status(ErrorCode::kDecodeLimitExceeded,
                std::string(what) + " is " + std::to_string(actual) + ", above DecodeLimits::" +
                    std::string(limit_name) + " (" + std::to_string(limit) + ")");
}

Status CheckSize(std::string_view what, ByteSpan bytes, std::string_view limit_name, size_t limit) {
  if (bytes.size() <= limit) return Status::Ok();
  return LimitExceeded(std::string(what) + " size in bytes", bytes.size(), limit_name, limit);
}

Status WithContext(const std::string& context, const Status& status) {
  return Status(status.code(), context + ": " + status.message());
}

// Decodes one HistoryEntry. Field 1 is required; the last occurrence of each
// field wins and occurrences with another wire type are ignored, as nim-sds does.
Status DecodeHistoryEntry(const ProtoReader& parent, const Field& field, const DecodeLimits& limits,
                          bool reject_empty_id, HistoryEntry& entry) {
  Result<ProtoReader> nested = parent.Nested(field);
  if (!nested.ok()) return nested.status();
  ProtoReader& reader = *nested;
  std::optional<ByteSpan> message_id;
  ByteSpan retrieval_hint;
  ByteSpan sender_id;
  while (!reader.done()) {
    Field inner;
    SDS_RETURN_IF_ERROR(reader.Next(inner));
    if (inner.wire_type != WireType::kLengthDelimited) continue;
    switch (inner.number) {
      case kEntryMessageId:
        message_id = inner.bytes;
        break;
      case kEntryRetrievalHint:
        retrieval_hint = inner.bytes;
        break;
      case kEntrySenderId:
        sender_id = inner.bytes;
        break;
      default:
        break;
    }
  }
  if (!message_id) return Status(ErrorCode::kDecodeMissingField, "field 1 (message_id) missing");
  if (message_id->empty() && reject_empty_id) {
    // nim-sds 0.4 rejects it; an empty id can name no message.
    return Status(ErrorCode::kDecodeMissingField, "field 1 (message_id) is empty");
  }
  SDS_RETURN_IF_ERROR(CheckSize("message_id", *message_id, "max_id_bytes", limits.max_id_bytes));
  SDS_RETURN_IF_ERROR(CheckSize("sender_id", sender_id, "max_id_bytes", limits.max_id_bytes));
  SDS_RETURN_IF_ERROR(
      CheckSize("retrieval_hint", retrieval_hint, "max_hint_bytes", limits.max_hint_bytes));
  entry.message_id = AsString(*message_id);
  entry.retrieval_hint.assign(retrieval_hint.begin(), retrieval_hint.end());
  entry.sender_id = AsString(sender_id);
  return Status::Ok();
}

// What the first pass over a message finds: the last occurrence of each
// singular field and how many history entries follow, so that every limit is
// checked before anything is allocated.
struct ScannedMessage {
  std::optional<ByteSpan> message_id;
  std::optional<uint64_t> lamport;
  std::optional<ByteSpan> channel_id;
  std::optional<ByteSpan> sender_id;
  std::optional<ByteSpan> content;
  std::optional<ByteSpan> bloom_filter;
  size_t causal_history_count = 0;
  size_t repair_request_count = 0;
};

Status ScanMessage(ByteSpan wire, const MessageFields& f, ScannedMessage& scanned) {
  ProtoReader reader(wire);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    const bool is_bytes = field.wire_type == WireType::kLengthDelimited;
    // A known field with an unexpected wire type is treated as absent.
    if (field.number == f.lamport) {
      if (field.wire_type == WireType::kVarint) scanned.lamport = field.integer;
    } else if (!is_bytes) {
      continue;
    } else if (field.number == f.message_id) {
      scanned.message_id = field.bytes;
    } else if (field.number == f.channel_id) {
      scanned.channel_id = field.bytes;
    } else if (field.number == f.sender_id) {
      scanned.sender_id = field.bytes;
    } else if (field.number == f.content) {
      scanned.content = field.bytes;
    } else if (field.number == f.bloom_filter) {
      scanned.bloom_filter = field.bytes;
    } else if (field.number == f.causal_history) {
      ++scanned.causal_history_count;
    } else if (field.number == f.repair_request) {
      ++scanned.repair_request_count;
    }
  }
  return Status::Ok();
}

Status MissingField(uint32_t number, std::string_view name) {
  return Status(ErrorCode::kDecodeMissingField,
                "field " + std::to_string(number) + " (" + std::string(name) + ") missing");
}

Status EmptyField(uint32_t number, std::string_view name) {
  return Status(ErrorCode::kDecodeMissingField,
                "field " + std::to_string(number) + " (" + std::string(name) + ") is empty");
}

// Presence rules per dialect. nim: NimPresence. proto3 has no required
// fields, but a spec message without an id can be neither delivered,
// acknowledged nor repaired, so an empty (or absent) message_id is rejected.
Status CheckRequiredFields(Dialect dialect, const ScannedMessage& scanned, NimPresence presence) {
  const MessageFields& f = FieldsOf(dialect);
  if (dialect == Dialect::kNim) {
    if (!scanned.message_id) return MissingField(f.message_id, "message_id");
    if (presence == NimPresence::kNimSds03) {
      if (!scanned.lamport) return MissingField(f.lamport, "lamport_timestamp");
      if (!scanned.channel_id) return MissingField(f.channel_id, "channel_id");
      if (!scanned.content) return MissingField(f.content, "content");
      return Status::Ok();
    }
    if (scanned.message_id->empty()) return EmptyField(f.message_id, "message_id");
    if (!scanned.channel_id) return MissingField(f.channel_id, "channel_id");
    if (scanned.channel_id->empty()) return EmptyField(f.channel_id, "channel_id");
    return Status::Ok();
  }
  if (!scanned.message_id || scanned.message_id->empty()) {
    return Status(ErrorCode::kDecodeMissingField,
                  "field " + std::to_string(f.message_id) + " (message_id) missing or empty");
  }
  return Status::Ok();
}

// Everything but the whole-message size, which is checked before scanning.
Status CheckLimits(const ScannedMessage& scanned, const DecodeLimits& limits) {
  auto id_limit = [&](std::string_view name, const std::optional<ByteSpan>& id) {
    return id ? CheckSize(name, *id, "max_id_bytes", limits.max_id_bytes) : Status::Ok();
  };
  SDS_RETURN_IF_ERROR(id_limit("message_id", scanned.message_id));
  SDS_RETURN_IF_ERROR(id_limit("channel_id", scanned.channel_id));
  SDS_RETURN_IF_ERROR(id_limit("sender_id", scanned.sender_id));
  if (scanned.content) {
    SDS_RETURN_IF_ERROR(
        CheckSize("content", *scanned.content, "max_content_bytes", limits.max_content_bytes));
  }
  if (scanned.bloom_filter) {
    SDS_RETURN_IF_ERROR(CheckSize("bloom_filter", *scanned.bloom_filter, "max_bloom_bytes",
                                  limits.max_bloom_bytes));
  }
  if (scanned.causal_history_count > limits.max_causal_history) {
    return LimitExceeded("causal_history entry count", scanned.causal_history_count,
                         "max_causal_history", limits.max_causal_history);
  }
  if (scanned.repair_request_count > limits.max_repair_request) {
    return LimitExceeded("repair_request entry count", scanned.repair_request_count,
                         "max_repair_request", limits.max_repair_request);
  }
  return Status::Ok();
}

// Second pass: the history entries, now that their count is known and allowed.
Status DecodeHistoryLists(ByteSpan wire, const MessageFields& f, const DecodeLimits& limits,
                          Message& message) {
  ProtoReader reader(wire);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    if (field.wire_type != WireType::kLengthDelimited) continue;
    std::vector<HistoryEntry>* list = nullptr;
    const char* list_name = nullptr;
    if (field.number == f.causal_history) {
      list = &message.causal_history;
      list_name = "causal_history";
    } else if (field.number == f.repair_request) {
      list = &message.repair_request;
      list_name = "repair_request";
    } else {
      continue;
    }
    HistoryEntry& entry = list->emplace_back();
    // nim-sds 0.4 rejects empty entry ids (spec peers never write field 1 empty).
    const bool reject_empty_id = &f == &kNimFields && limits.nim_presence != NimPresence::kNimSds03;
    Status status = DecodeHistoryEntry(reader, field, limits, reject_empty_id, entry);
    if (!status.ok()) {
      return WithContext(std::string(list_name) + " entry " + std::to_string(list->size() - 1),
                         status);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Dialect> DetectDialect(ByteSpan wire) {
  // Field 2 settles it when present: a varint Lamport in nim, a string id in
  // spec. Otherwise fields only one dialect uses decide, if they agree.
  bool has_nim_only_field = false;
  bool has_spec_only_field = false;
  ProtoReader reader(wire);
  while (!reader.done()) {
    Field field;
    Status status = reader.Next(field);
    if (!status.ok()) {
      return Status(ErrorCode::kDecodeUnknownDialect,
                    "not a protobuf message before the dialect could be told: " + status.message());
    }
    const bool is_bytes = field.wire_type == WireType::kLengthDelimited;
    const bool is_varint = field.wire_type == WireType::kVarint;
    switch (field.number) {
      case 2:
        if (is_varint) return Dialect::kNim;
        if (is_bytes) return Dialect::kSpec;
        break;
      case 4:
      case 5:
      case 6:
      case 7:
        has_nim_only_field |= is_bytes;
        break;
      case 10:
        has_spec_only_field |= is_varint;
        break;
      case 11:
      case 12:
      case 20:
        has_spec_only_field |= is_bytes;
        break;
      default:
        break;
    }
  }
  if (has_nim_only_field && !has_spec_only_field) return Dialect::kNim;
  if (has_spec_only_field && !has_nim_only_field) return Dialect::kSpec;
  return Status(ErrorCode::kDecodeUnknownDialect, has_nim_only_field
                                                      ? "fields of both dialects present"
                                                      : "no field identifies a dialect");
}

namespace wire {

Bytes EncodeWithBloom(const Message& message, Dialect dialect, const BloomFilter* bloom) {
  Bytes out;
  ProtoWriter writer(out);
  if (dialect == Dialect::kNim) {
    out.reserve(NimEncodedSize(message, bloom));
    EncodeNim(message, bloom, writer);
  } else {
    out.reserve(SpecEncodedSize(message, bloom));
    EncodeSpec(message, bloom, writer);
  }
  return out;
}

}  // namespace wire

Bytes Encode(const Message& message, Dialect dialect) {
  return wire::EncodeWithBloom(message, dialect, nullptr);
}

Result<Message> Decode(ByteSpan wire, Dialect dialect, const DecodeLimits& limits) {
  SDS_RETURN_IF_ERROR(CheckSize("message", wire, "max_message_bytes", limits.max_message_bytes));
  const MessageFields& f = FieldsOf(dialect);
  ScannedMessage scanned;
  SDS_RETURN_IF_ERROR(ScanMessage(wire, f, scanned));
  SDS_RETURN_IF_ERROR(CheckRequiredFields(dialect, scanned, limits.nim_presence));
  if (scanned.lamport && *scanned.lamport >= kFirstLamportOutOfRange) {
    return Status(ErrorCode::kDecodeLamportOutOfRange,
                  "lamport_timestamp " + std::to_string(*scanned.lamport) +
                      " does not fit in a signed 64-bit integer");
  }
  SDS_RETURN_IF_ERROR(CheckLimits(scanned, limits));

  Message message;
  message.message_id = AsString(scanned.message_id.value_or(ByteSpan()));
  message.channel_id = AsString(scanned.channel_id.value_or(ByteSpan()));
  message.sender_id = AsString(scanned.sender_id.value_or(ByteSpan()));
  if (scanned.lamport) {
    message.lamport_timestamp = static_cast<LamportTime>(*scanned.lamport);
  } else if (dialect == Dialect::kNim) {
    message.lamport_timestamp = 0;  // nim-sds 0.4 omits a zero Lamport; nim has no ephemerals
  }
  message.content = scanned.content;
  message.bloom_filter = scanned.bloom_filter;
  message.causal_history.reserve(scanned.causal_history_count);
  message.repair_request.reserve(scanned.repair_request_count);
  SDS_RETURN_IF_ERROR(DecodeHistoryLists(wire, f, limits, message));
  return message;
}

Result<DecodedMessage> DecodeAny(SharedBytes wire, const DecodeLimits& limits) {
  SDS_RETURN_IF_ERROR(
      CheckSize("message", wire.span(), "max_message_bytes", limits.max_message_bytes));
  Result<Dialect> dialect = DetectDialect(wire.span());
  if (!dialect.ok()) return dialect.status();
  Result<Message> message = Decode(wire.span(), *dialect, limits);
  if (!message.ok()) return message.status();
  DecodedMessage decoded;
  decoded.wire = std::move(wire);
  decoded.dialect = *dialect;
  decoded.message = std::move(*message);
  return decoded;
}

}  // namespace sds
