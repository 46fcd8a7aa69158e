// Storage encoding of channel snapshots (see include/sds/snapshot.h).
#include <string>
#include <utility>

#include "sds/codec.h"
#include "sds/snapshot.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sds {
namespace {

using wire::Field;
using wire::ProtoReader;
using wire::ProtoWriter;
using wire::WireType;

std::string AsString(ByteSpan bytes) { return std::string(bytes.begin(), bytes.end()); }

uint64_t ToMs(Timestamp t) { return static_cast<uint64_t>(UnixMillis(t)); }
Timestamp FromMs(uint64_t ms) { return TimestampFromUnixMillis(static_cast<int64_t>(ms)); }

Status Missing(const char* what) {
  return Status(ErrorCode::kDecodeMissingField, std::string("snapshot: ") + what + " missing");
}

Status Wrap(const Status& status, const char* where) {
  return Status(status.code(), std::string(where) + ": " + status.message());
}

// Iterates over the fields of `bytes`, calling `visit(field)` for each.
template <typename Visit>
Status ForEachField(ByteSpan bytes, Visit&& visit) {
  ProtoReader reader(bytes);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    SDS_RETURN_IF_ERROR(visit(field));
  }
  return Status::Ok();
}

bool IsBytes(const Field& f) { return f.wire_type == WireType::kLengthDelimited; }
bool IsVarint(const Field& f) { return f.wire_type == WireType::kVarint; }

// The id of an encoded SdsMessage (either dialect); the message must decode.
Result<MessageId> MessageIdOf(ByteSpan message) {
  auto decoded = DecodeAny(SharedBytes(Bytes(message.begin(), message.end())));
  if (!decoded.ok()) return Wrap(decoded.status(), "snapshot: embedded message");
  return decoded->message.message_id;
}

void WriteMessage(ProtoWriter& w, uint32_t number, const Bytes& payload) {
  w.WriteBytesField(number, payload);
}

// ---- encoders -----------------------------------------------------------------------------

Bytes EncodeOutgoing(const SnapshotOutgoing& o) {
  Bytes out;
  ProtoWriter w(out);
  w.WriteBytesField(1, o.message.span());
  w.WriteVarintField(2, ToMs(o.send_time));
  w.WriteVarintField(3, o.resend_attempts);
  if (o.bloom_hits != 0) w.WriteVarintField(16, o.bloom_hits);
  return out;
}

Bytes EncodeIncoming(const SnapshotIncoming& in) {
  Bytes out;
  ProtoWriter w(out);
  w.WriteBytesField(1, in.message.span());
  for (const MessageId& dep : in.missing_deps) w.WriteStringField(2, dep);
  return out;
}

Bytes EncodeOutgoingRepair(const SnapshotOutgoingRepair& r) {
  Bytes entry;
  ProtoWriter e(entry);
  e.WriteBytesField(1, EncodeSnapshotHistoryEntry(r.entry));
  e.WriteVarintField(2, ToMs(r.deadline));
  if (r.attempts != 0) e.WriteVarintField(16, r.attempts);
  Bytes out;
  ProtoWriter w(out);
  w.WriteStringField(1, r.message_id);
  w.WriteBytesField(2, entry);
  return out;
}

Bytes EncodeIncomingRepair(const SnapshotIncomingRepair& r) {
  Bytes entry;
  ProtoWriter e(entry);
  e.WriteBytesField(1, EncodeSnapshotHistoryEntry(r.entry));
  e.WriteBytesField(2, r.cached_message.span());
  e.WriteVarintField(3, ToMs(r.deadline));
  Bytes out;
  ProtoWriter w(out);
  w.WriteStringField(1, r.message_id);
  w.WriteBytesField(2, entry);
  return out;
}

// ---- decoders -----------------------------------------------------------------------------

Result<SnapshotOutgoing> DecodeOutgoing(ByteSpan bytes) {
  SnapshotOutgoing o;
  bool has_message = false, has_time = false;
  SDS_RETURN_IF_ERROR(ForEachField(bytes, [&](const Field& f) -> Status {
    if (f.number == 1 && IsBytes(f)) {
      o.message = SharedBytes(Bytes(f.bytes.begin(), f.bytes.end()));
      has_message = true;
    } else if (f.number == 2 && IsVarint(f)) {
      o.send_time = FromMs(f.integer);
      has_time = true;
    } else if (f.number == 3 && IsVarint(f)) {
      o.resend_attempts = static_cast<uint32_t>(f.integer);
    } else if (f.number == 16 && IsVarint(f)) {
      o.bloom_hits = static_cast<uint32_t>(f.integer);
    }
    return Status::Ok();
  }));
  if (!has_message) return Missing("UnacknowledgedMessage.message");
  if (!has_time) return Missing("UnacknowledgedMessage.send_time_ms");
  auto id = MessageIdOf(o.message);
  if (!id.ok()) return id.status();
  o.message_id = std::move(*id);
  return o;
}

Result<SnapshotIncoming> DecodeIncoming(ByteSpan bytes) {
  SnapshotIncoming in;
  bool has_message = false;
  SDS_RETURN_IF_ERROR(ForEachField(bytes, [&](const Field& f) -> Status {
    if (f.number == 1 && IsBytes(f)) {
      in.message = SharedBytes(Bytes(f.bytes.begin(), f.bytes.end()));
      has_message = true;
    } else if (f.number == 2 && IsBytes(f)) {
      in.missing_deps.push_back(AsString(f.bytes));
    }
    return Status::Ok();
  }));
  if (!has_message) return Missing("IncomingMessage.message");
  auto id = MessageIdOf(in.message);
  if (!id.ok()) return id.status();
  in.message_id = std::move(*id);
  return in;
}

// Reads a {1 message_id, 2 entry} key/value pair.
Status DecodeKv(ByteSpan bytes, const char* what, MessageId& id, ByteSpan& entry) {
  bool has_id = false, has_entry = false;
  SDS_RETURN_IF_ERROR(ForEachField(bytes, [&](const Field& f) -> Status {
    if (f.number == 1 && IsBytes(f)) {
      id = AsString(f.bytes);
      has_id = true;
    } else if (f.number == 2 && IsBytes(f)) {
      entry = f.bytes;
      has_entry = true;
    }
    return Status::Ok();
  }));
  if (!has_id) return Missing((std::string(what) + ".message_id").c_str());
  if (!has_entry) return Missing((std::string(what) + ".entry").c_str());
  return Status::Ok();
}

Result<SnapshotOutgoingRepair> DecodeOutgoingRepair(ByteSpan bytes) {
  SnapshotOutgoingRepair r;
  ByteSpan entry;
  SDS_RETURN_IF_ERROR(DecodeKv(bytes, "OutgoingRepairKV", r.message_id, entry));
  bool has_entry = false, has_time = false;
  SDS_RETURN_IF_ERROR(ForEachField(entry, [&](const Field& f) -> Status {
    if (f.number == 1 && IsBytes(f)) {
      auto e = DecodeSnapshotHistoryEntry(f.bytes);
      if (!e.ok()) return e.status();
      r.entry = std::move(*e);
      has_entry = true;
    } else if (f.number == 2 && IsVarint(f)) {
      r.deadline = FromMs(f.integer);
      has_time = true;
    } else if (f.number == 16 && IsVarint(f)) {
      r.attempts = static_cast<uint32_t>(f.integer);
    }
    return Status::Ok();
  }));
  if (!has_entry) return Missing("OutgoingRepairEntry.out_hist_entry");
  if (!has_time) return Missing("OutgoingRepairEntry.min_time_repair_req_ms");
  return r;
}

Result<SnapshotIncomingRepair> DecodeIncomingRepair(ByteSpan bytes) {
  SnapshotIncomingRepair r;
  ByteSpan entry;
  SDS_RETURN_IF_ERROR(DecodeKv(bytes, "IncomingRepairKV", r.message_id, entry));
  bool has_entry = false, has_cached = false, has_time = false;
  SDS_RETURN_IF_ERROR(ForEachField(entry, [&](const Field& f) -> Status {
    if (f.number == 1 && IsBytes(f)) {
      auto e = DecodeSnapshotHistoryEntry(f.bytes);
      if (!e.ok()) return e.status();
      r.entry = std::move(*e);
      has_entry = true;
    } else if (f.number == 2 && IsBytes(f)) {
      r.cached_message = SharedBytes(Bytes(f.bytes.begin(), f.bytes.end()));
      has_cached = true;
    } else if (f.number == 3 && IsVarint(f)) {
      r.deadline = FromMs(f.integer);
      has_time = true;
    }
    return Status::Ok();
  }));
  if (!has_entry) return Missing("IncomingRepairEntry.in_hist_entry");
  if (!has_cached) return Missing("IncomingRepairEntry.cached_message");
  if (!has_time) return Missing("IncomingRepairEntry.min_time_repair_resp_ms");
  return r;
}

}  // namespace

Bytes EncodeSnapshotHistoryEntry(const HistoryEntry& entry) {
  Bytes out;
  ProtoWriter w(out);
  w.WriteStringField(1, entry.message_id);
  if (!entry.retrieval_hint.empty()) w.WriteBytesField(2, entry.retrieval_hint);
  if (!entry.sender_id.empty()) w.WriteStringField(3, entry.sender_id);
  return out;
}

Result<HistoryEntry> DecodeSnapshotHistoryEntry(ByteSpan bytes) {
  HistoryEntry entry;
  bool has_id = false;
  SDS_RETURN_IF_ERROR(ForEachField(bytes, [&](const Field& f) -> Status {
    if (!IsBytes(f)) return Status::Ok();
    if (f.number == 1) {
      entry.message_id = AsString(f.bytes);
      has_id = true;
    } else if (f.number == 2) {
      entry.retrieval_hint.assign(f.bytes.begin(), f.bytes.end());
    } else if (f.number == 3) {
      entry.sender_id = AsString(f.bytes);
    }
    return Status::Ok();
  }));
  if (!has_id) return Missing("HistoryEntry.message_id");
  return entry;
}

Bytes EncodeChannelMeta(const ChannelMeta& meta) {
  Bytes out;
  ProtoWriter w(out);
  w.WriteVarintField(1, meta.schema_version);
  w.WriteVarintField(2, static_cast<uint64_t>(meta.lamport));
  for (const auto& o : meta.outgoing) WriteMessage(w, 3, EncodeOutgoing(o));
  for (const auto& in : meta.incoming) WriteMessage(w, 4, EncodeIncoming(in));
  for (const auto& r : meta.outgoing_repair) WriteMessage(w, 5, EncodeOutgoingRepair(r));
  for (const auto& r : meta.incoming_repair) WriteMessage(w, 6, EncodeIncomingRepair(r));
  if (meta.sync_due) w.WriteVarintField(16, ToMs(*meta.sync_due));
  if (meta.sync_count != 0) w.WriteVarintField(17, meta.sync_count);
  for (const MessageId& id : meta.delivered) w.WriteStringField(18, id);
  return out;
}

Result<ChannelMeta> DecodeChannelMeta(ByteSpan bytes) {
  ChannelMeta meta;
  bool has_version = false, has_lamport = false;
  SDS_RETURN_IF_ERROR(ForEachField(bytes, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        if (IsVarint(f)) {
          if (f.integer != kChannelMetaSchemaVersion) {
            return Status(ErrorCode::kPersistence,
                          "snapshot: unsupported ChannelMeta schema version " +
                              std::to_string(f.integer) + " (this build reads version " +
                              std::to_string(kChannelMetaSchemaVersion) + ")");
          }
          meta.schema_version = static_cast<uint32_t>(f.integer);
          has_version = true;
        }
        break;
      case 2:
        if (IsVarint(f)) {
          meta.lamport = static_cast<LamportTime>(f.integer);
          has_lamport = true;
        }
        break;
      case 3:
        if (IsBytes(f)) {
          auto o = DecodeOutgoing(f.bytes);
          if (!o.ok()) return Wrap(o.status(), "outgoing_buffer");
          meta.outgoing.push_back(std::move(*o));
        }
        break;
      case 4:
        if (IsBytes(f)) {
          auto in = DecodeIncoming(f.bytes);
          if (!in.ok()) return Wrap(in.status(), "incoming_buffer");
          meta.incoming.push_back(std::move(*in));
        }
        break;
      case 5:
        if (IsBytes(f)) {
          auto r = DecodeOutgoingRepair(f.bytes);
          if (!r.ok()) return Wrap(r.status(), "outgoing_repair_buffer");
          meta.outgoing_repair.push_back(std::move(*r));
        }
        break;
      case 6:
        if (IsBytes(f)) {
          auto r = DecodeIncomingRepair(f.bytes);
          if (!r.ok()) return Wrap(r.status(), "incoming_repair_buffer");
          meta.incoming_repair.push_back(std::move(*r));
        }
        break;
      case 16:
        if (IsVarint(f)) meta.sync_due = FromMs(f.integer);
        break;
      case 17:
        if (IsVarint(f)) meta.sync_count = f.integer;
        break;
      case 18:
        if (IsBytes(f)) meta.delivered.push_back(AsString(f.bytes));
        break;
      default:
        break;  // unknown fields are skipped, as nim-sds does
    }
    return Status::Ok();
  }));
  if (!has_version) return Missing("ChannelMeta.schema_version");
  if (!has_lamport) return Missing("ChannelMeta.lamport_timestamp");
  return meta;
}

Bytes EncodeChannelData(const ChannelData& data) {
  Bytes out;
  ProtoWriter w(out);
  w.WriteBytesField(1, EncodeChannelMeta(data.meta));
  for (const SharedBytes& message : data.message_history) w.WriteBytesField(2, message.span());
  for (const RetrievalHintRecord& hint : data.retrieval_hints) {
    Bytes kv;
    ProtoWriter k(kv);
    k.WriteStringField(1, hint.message_id);
    k.WriteBytesField(2, hint.hint);
    w.WriteBytesField(16, kv);
  }
  return out;
}

Result<ChannelData> DecodeChannelData(ByteSpan bytes) {
  ChannelData data;
  bool has_meta = false;
  SDS_RETURN_IF_ERROR(ForEachField(bytes, [&](const Field& f) -> Status {
    if (!IsBytes(f)) return Status::Ok();
    if (f.number == 1) {
      auto meta = DecodeChannelMeta(f.bytes);
      if (!meta.ok()) return meta.status();
      data.meta = std::move(*meta);
      has_meta = true;
    } else if (f.number == 2) {
      auto id = MessageIdOf(f.bytes);
      if (!id.ok()) return Wrap(id.status(), "message_history");
      data.message_history.emplace_back(Bytes(f.bytes.begin(), f.bytes.end()));
    } else if (f.number == 16) {
      RetrievalHintRecord hint;
      Status inner = ForEachField(f.bytes, [&](const Field& g) -> Status {
        if (g.number == 1 && IsBytes(g)) hint.message_id = AsString(g.bytes);
        if (g.number == 2 && IsBytes(g)) hint.hint.assign(g.bytes.begin(), g.bytes.end());
        return Status::Ok();
      });
      if (!inner.ok()) return inner;
      data.retrieval_hints.push_back(std::move(hint));
    }
    return Status::Ok();
  }));
  if (!has_meta) return Missing("ChannelData.meta");
  return data;
}

Bytes EncodeHistoryUpdate(const HistoryUpdate& update) {
  Bytes out;
  ProtoWriter w(out);
  for (const HistoryAppend& a : update.append) w.WriteBytesField(1, a.message.span());
  for (const MessageId& id : update.evict) w.WriteStringField(2, id);
  return out;
}

Result<HistoryUpdate> DecodeHistoryUpdate(ByteSpan bytes) {
  HistoryUpdate update;
  SDS_RETURN_IF_ERROR(ForEachField(bytes, [&](const Field& f) -> Status {
    if (!IsBytes(f)) return Status::Ok();
    if (f.number == 1) {
      auto id = MessageIdOf(f.bytes);
      if (!id.ok()) return Wrap(id.status(), "append");
      update.append.push_back(
          HistoryAppend{std::move(*id), SharedBytes(Bytes(f.bytes.begin(), f.bytes.end())), {}});
    } else if (f.number == 2) {
      update.evict.push_back(AsString(f.bytes));
    }
    return Status::Ok();
  }));
  return update;
}

}  // namespace sds
