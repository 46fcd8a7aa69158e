#include "capi/payloads.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <variant>

namespace sds::capi {
namespace {

void AppendInt(std::string& out, long long value) { out += std::to_string(value); }

void AppendMissingDeps(std::string& out, const std::vector<HistoryEntry>& deps) {
  out += '[';
  for (size_t i = 0; i < deps.size(); ++i) {
    if (i != 0) out += ',';
    out += "{\"messageId\":";
    AppendJsonString(out, deps[i].message_id);
    out += ",\"retrievalHint\":\"";
    out += Base64(deps[i].retrieval_hint);
    out += "\"}";
  }
  out += ']';
}

// {"messageId":..,"channelId":..,"eventType":..}: Nim's %* on an inherited
// ref object writes the derived fields before the base type's eventType.
std::string SimpleEvent(std::string_view type, const MessageId& message_id,
                        const ChannelId& channel_id) {
  std::string out = "{\"messageId\":";
  AppendJsonString(out, message_id);
  out += ",\"channelId\":";
  AppendJsonString(out, channel_id);
  out += ",\"eventType\":\"";
  out += type;
  out += "\"}";
  return out;
}

// {"eventType":..,"messageId":..,"channelId":.. — the start of every
// extension event that names a message.
std::string ExtensionEventStart(std::string_view type, const MessageId& message_id,
                                const ChannelId& channel_id) {
  std::string out = "{\"eventType\":\"";
  out += type;
  out += "\",\"messageId\":";
  AppendJsonString(out, message_id);
  out += ",\"channelId\":";
  AppendJsonString(out, channel_id);
  return out;
}

std::string BytesEvent(std::string_view type, const ChannelId& channel_id, ByteSpan wire) {
  std::string out = "{\"eventType\":\"";
  out += type;
  out += "\",\"channelId\":";
  AppendJsonString(out, channel_id);
  out += ",\"message\":\"";
  out += Base64(wire);
  out += "\"}";
  return out;
}

struct EventVisitor {
  bool extended;

  std::optional<std::string> operator()(const MessageReady& e) const {
    if (e.kind == MessageKind::kSync) return std::nullopt;
    return SimpleEvent("message_ready", e.message_id, e.channel_id);
  }
  std::optional<std::string> operator()(const MessageAcknowledged& e) const {
    return SimpleEvent("message_sent", e.message_id, e.channel_id);
  }
  std::optional<std::string> operator()(const MessagePossiblyAcknowledged& e) const {
    if (!extended) return std::nullopt;
    std::string out =
        ExtensionEventStart("message_possibly_acknowledged", e.message_id, e.channel_id);
    out += ",\"bloomHits\":";
    AppendInt(out, e.bloom_hits);
    out += '}';
    return out;
  }
  std::optional<std::string> operator()(const MissingDependencies& e) const {
    std::string out = "{\"eventType\":\"missing_dependencies\",\"messageId\":";
    AppendJsonString(out, e.message_id);
    out += ",\"channelId\":";
    AppendJsonString(out, e.channel_id);
    out += ",\"missingDeps\":";
    AppendMissingDeps(out, e.missing);
    out += '}';
    return out;
  }
  std::optional<std::string> operator()(const SendFailed& e) const {
    // nim-sds reports a message it gave up on as sent; its consumers rely on
    // that event to clear their pending state.
    if (!extended) return SimpleEvent("message_sent", e.message_id, e.channel_id);
    std::string out = ExtensionEventStart("send_failed", e.message_id, e.channel_id);
    out += ",\"resendAttempts\":";
    AppendInt(out, e.resend_attempts);
    out += ",\"evicted\":";
    out += e.evicted ? "true" : "false";
    out += '}';
    return out;
  }
  std::optional<std::string> operator()(const RebroadcastDue& e) const {
    if (!extended) return std::nullopt;
    std::string out = ExtensionEventStart("rebroadcast_due", e.message_id, e.channel_id);
    out += ",\"attempt\":";
    AppendInt(out, e.attempt);
    out += ",\"message\":\"";
    out += Base64(e.wire);
    out += "\"}";
    return out;
  }
  std::optional<std::string> operator()(const SyncMessageReady& e) const {
    if (!extended) return std::nullopt;
    return BytesEvent("sync_message_ready", e.channel_id, e.wire);
  }
  std::optional<std::string> operator()(const RepairReady& e) const {
    return BytesEvent("repair_ready", e.channel_id, e.wire);
  }
  std::optional<std::string> operator()(const MessageDropped& e) const {
    if (!extended) return std::nullopt;
    std::string out = ExtensionEventStart("message_dropped", e.message_id, e.channel_id);
    out += ",\"reason\":";
    AppendJsonString(out, e.reason);
    out += '}';
    return out;
  }
};

}  // namespace

namespace {

// Every byte value pre-rendered in decimal: the wrap result of an 18.8 KB
// message is ~70,000 characters, and a table lookup plus one 4-byte copy per
// byte is what the format allows at best.
struct DecimalByte {
  char text[4];  // the digits, then at most one ',' of room
  uint8_t length;
};

constexpr std::array<DecimalByte, 256> MakeDecimalTable() {
  std::array<DecimalByte, 256> table{};
  for (int value = 0; value < 256; ++value) {
    DecimalByte& entry = table[static_cast<size_t>(value)];
    int n = 0;
    if (value >= 100) entry.text[n++] = static_cast<char>('0' + value / 100);
    if (value >= 10) entry.text[n++] = static_cast<char>('0' + value / 10 % 10);
    entry.text[n++] = static_cast<char>('0' + value % 10);
    entry.text[n] = ',';
    entry.length = static_cast<uint8_t>(n);
  }
  return table;
}

constexpr std::array<DecimalByte, 256> kDecimalTable = MakeDecimalTable();

}  // namespace

std::string DecimalCsv(ByteSpan bytes) {
  if (bytes.empty()) return std::string();
  size_t length = bytes.size() - 1;  // the commas
  for (uint8_t byte : bytes) length += kDecimalTable[byte].length;
  // Each entry is written whole (digits and a comma, 4 bytes), then the write
  // position moves past the digits and comma only: 4 bytes of slack at the end.
  std::string out(length + 4, '\0');
  char* cursor = out.data();
  for (uint8_t byte : bytes) {
    const DecimalByte& entry = kDecimalTable[byte];
    std::memcpy(cursor, entry.text, 4);
    cursor += entry.length + 1;
  }
  out.resize(length);
  return out;
}

std::string Base64(ByteSpan bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest != 0) {
    uint32_t n = uint32_t{bytes[i]} << 16;
    if (rest == 2) n |= uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";  // Nim's toHex is upper case
  out += '"';
  for (char c : s) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\v':  // Nim spells this one out, in lower case
        out += "\\u000b";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 15];
        } else {
          out += c;
        }
      }
    }
  }
  out += '"';
}

std::string UnwrapResultJson(const UnwrapResult& result) {
  std::string out = "{\"message\":[";
  out.reserve(result.content.size() * 4 + 64);
  for (size_t i = 0; i < result.content.size(); ++i) {
    if (i != 0) out += ',';
    AppendInt(out, result.content[i]);
  }
  out += "],\"channelId\":";
  AppendJsonString(out, result.channel_id);
  out += ",\"missingDeps\":";
  AppendMissingDeps(out, result.missing_dependencies);
  out += '}';
  return out;
}

std::string PeriodicSyncJson() { return "{\"eventType\":\"periodic_sync\"}"; }

std::optional<std::string> EventJson(const Event& event, bool extended) {
  return std::visit(EventVisitor{extended}, event);
}

std::string_view NimErrorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnknownChannel:  // nim-sds: markDependenciesMet on an unknown channel
      return "reInvalidArgument";
    case ErrorCode::kMessageTooLarge:
      return "reMessageTooLarge";
    case ErrorCode::kDecodeMalformed:
    case ErrorCode::kDecodeMissingField:
    case ErrorCode::kDecodeUnknownDialect:
    case ErrorCode::kDecodeLimitExceeded:
    case ErrorCode::kDecodeLamportOutOfRange:
    case ErrorCode::kDecodeBadBloomFilter:
    case ErrorCode::kDecodeDialectMismatch:
      return "reDeserializationError";
    case ErrorCode::kPersistence:
      return "rePersistenceError";
    case ErrorCode::kInternal:
      return "reInternalError";
  }
  return "reInternalError";
}

std::string RequestErrorText(std::string_view request, const Status& status, bool detailed) {
  std::string out = "error processing ";
  out += request;
  out += " request: ";
  out += NimErrorName(status.code());
  if (detailed && !status.message().empty()) {
    out += " (";
    out += status.message();
    out += ')';
  }
  return out;
}

}  // namespace sds::capi
