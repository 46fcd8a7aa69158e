#include "cli/wire_json.h"

#include <bit>
#include <cstdio>

#include "sds/bloom_filter.h"

namespace sds::cli {
namespace {

using Json = nlohmann::ordered_json;

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
    if (extra == 9 || i + extra >= s.size() + (extra == 0 ? 1 : 0)) {
      if (extra == 9 || (extra > 0 && i + extra >= s.size())) return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    // Control characters other than tab and newline are not printed as text.
    if (extra == 0 && c < 0x20 && c != '\t' && c != '\n') return false;
    i += extra + 1;
  }
  return true;
}

void PutString(Json& json, const std::string& key, const std::string& value) {
  if (IsUtf8(value)) {
    json[key] = value;
  } else {
    json[key + "_hex"] =
        ToHex(ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
}

Result<std::string> GetString(const nlohmann::json& json, const std::string& key) {
  if (auto it = json.find(key); it != json.end() && !it->is_null()) {
    if (!it->is_string()) return Status(ErrorCode::kInvalidArgument, key + " must be a string");
    return it->get<std::string>();
  }
  if (auto it = json.find(key + "_hex"); it != json.end() && !it->is_null()) {
    if (!it->is_string()) return Status(ErrorCode::kInvalidArgument, key + "_hex must be a string");
    auto bytes = FromHex(it->get<std::string>());
    if (!bytes.ok())
      return Status(ErrorCode::kInvalidArgument, key + "_hex: " + bytes.status().message());
    return ToString(*bytes);
  }
  return std::string();
}

Json EntryJson(const HistoryEntry& entry) {
  Json json;
  PutString(json, "message_id", entry.message_id);
  if (!entry.retrieval_hint.empty()) json["retrieval_hint_hex"] = ToHex(entry.retrieval_hint);
  if (!entry.sender_id.empty()) PutString(json, "sender_id", entry.sender_id);
  return json;
}

Result<std::vector<HistoryEntry>> EntriesFromJson(const nlohmann::json& json, const char* key) {
  std::vector<HistoryEntry> entries;
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return entries;
  if (!it->is_array())
    return Status(ErrorCode::kInvalidArgument, std::string(key) + " must be an array");
  for (const auto& item : *it) {
    if (!item.is_object()) {
      return Status(ErrorCode::kInvalidArgument, std::string(key) + " entries must be objects");
    }
    HistoryEntry entry;
    auto id = GetString(item, "message_id");
    if (!id.ok()) return id.status();
    entry.message_id = *id;
    auto sender = GetString(item, "sender_id");
    if (!sender.ok()) return sender.status();
    entry.sender_id = *sender;
    if (auto hint = item.find("retrieval_hint_hex"); hint != item.end() && !hint->is_null()) {
      if (!hint->is_string())
        return Status(ErrorCode::kInvalidArgument, "retrieval_hint_hex must be a string");
      auto bytes = FromHex(hint->get<std::string>());
      if (!bytes.ok()) return bytes.status();
      entry.retrieval_hint = *bytes;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

// A protobuf varint at `pos`; false past the end or beyond 10 bytes.
bool ReadVarint(ByteSpan in, size_t& pos, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos >= in.size()) return false;
    uint8_t b = in[pos++];
    value |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

const char* KindName(MessageKind kind) {
  switch (kind) {
    case MessageKind::kContent:
      return "content";
    case MessageKind::kSync:
      return "sync";
    case MessageKind::kEphemeral:
      return "ephemeral";
  }
  return "?";
}

std::string Printable(const std::string& s) {
  if (IsUtf8(s)) return "\"" + s + "\"";
  return "0x" + ToHex(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

}  // namespace

std::string ToHex(ByteSpan bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Result<Bytes> FromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return Status(ErrorCode::kInvalidArgument, "odd number of hex digits");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return Status(ErrorCode::kInvalidArgument, "not a hex digit at " + std::to_string(2 * i));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

BloomSummary SummarizeBloom(ByteSpan bloom, Dialect dialect) {
  BloomSummary s;
  s.bytes = bloom.size();
  if (dialect == Dialect::kSpec) {
    // Raw big-endian words; the geometry is the one every spec peer uses.
    BloomParameters params;
    if (bloom.size() != params.word_count() * 8) {
      s.error = "size " + std::to_string(bloom.size()) + " is not the spec geometry's " +
                std::to_string(params.word_count() * 8) + " bytes";
      for (uint8_t b : bloom) s.set_bits += std::popcount(b);
      return s;
    }
    s.parsed = true;
    s.capacity = params.capacity;
    s.error_rate = params.error_rate;
    s.k = params.k;
    s.m_bits = params.m_bits;
    s.words = params.word_count();
    for (uint8_t b : bloom) s.set_bits += std::popcount(b);
    s.fill = static_cast<double>(s.set_bits) / static_cast<double>(s.m_bits);
    return s;
  }
  // nim: nested {1 words LE, 2 capacity, 3 error*1e6, 4 k, 5 m_bits}.
  auto view = PeerBloomView::ParseNim(bloom);
  if (!view.ok()) {
    s.error = view.status().ToString();
    return s;
  }
  s.parsed = true;
  s.capacity = view->params().capacity;
  s.error_rate = view->params().error_rate;
  s.k = view->params().k;
  s.m_bits = view->params().m_bits;
  size_t pos = 0;
  while (pos < bloom.size()) {
    uint64_t tag = 0;
    if (!ReadVarint(bloom, pos, tag)) break;
    if ((tag & 7) == 2) {
      uint64_t length = 0;
      if (!ReadVarint(bloom, pos, length) || length > bloom.size() - pos) break;
      if (tag >> 3 == 1) {
        ByteSpan words = bloom.subspan(pos, length);
        s.words = words.size() / 8;
        // Only bits below m_bits count (the spare word is never set).
        for (int64_t bit = 0; bit < s.m_bits && static_cast<size_t>(bit / 8) < words.size();
             ++bit) {
          if (words[static_cast<size_t>(bit / 8)] >> (bit % 8) & 1) ++s.set_bits;
        }
      }
      pos += length;
    } else if ((tag & 7) == 0) {
      uint64_t ignored = 0;
      if (!ReadVarint(bloom, pos, ignored)) break;
    } else {
      break;  // ParseNim accepted it: other wire types do not occur in practice
    }
  }
  if (s.m_bits > 0) s.fill = static_cast<double>(s.set_bits) / static_cast<double>(s.m_bits);
  return s;
}

Result<InspectedMessage> DecodeForInspection(SharedBytes wire) {
  auto decoded = DecodeAny(wire);
  if (decoded.ok()) return InspectedMessage{std::move(*decoded), {}};
  DecodeLimits nim03;
  nim03.nim_presence = NimPresence::kNimSds03;
  auto permissive = DecodeAny(std::move(wire), nim03);
  if (!permissive.ok()) return decoded.status();
  return InspectedMessage{std::move(*permissive),
                          "read under nim-sds 0.3's rules only; by default this library (and "
                          "nim-sds 0.4) refuses it: " +
                              decoded.status().ToString()};
}

nlohmann::ordered_json MessageToJson(const DecodedMessage& decoded) {
  const Message& m = decoded.message;
  Json json;
  json["dialect"] = DialectName(decoded.dialect);
  json["kind"] = KindName(m.kind());
  PutString(json, "message_id", m.message_id);
  PutString(json, "channel_id", m.channel_id);
  PutString(json, "sender_id", m.sender_id);
  json["lamport_timestamp"] = m.lamport_timestamp ? Json(*m.lamport_timestamp) : Json(nullptr);
  Json history = Json::array();
  for (const HistoryEntry& entry : m.causal_history) history.push_back(EntryJson(entry));
  json["causal_history"] = history;
  Json repair = Json::array();
  for (const HistoryEntry& entry : m.repair_request) repair.push_back(EntryJson(entry));
  json["repair_request"] = repair;
  json["content_hex"] = m.content ? Json(ToHex(*m.content)) : Json(nullptr);
  json["bloom_filter_hex"] = m.bloom_filter ? Json(ToHex(*m.bloom_filter)) : Json(nullptr);
  if (m.bloom_filter && !m.bloom_filter->empty()) {
    BloomSummary b = SummarizeBloom(*m.bloom_filter, decoded.dialect);
    Json bloom;
    bloom["bytes"] = b.bytes;
    bloom["parsed"] = b.parsed;
    if (!b.error.empty()) bloom["error"] = b.error;
    if (b.parsed) {
      bloom["capacity"] = b.capacity;
      bloom["error_rate"] = b.error_rate;
      bloom["k"] = b.k;
      bloom["m_bits"] = b.m_bits;
      bloom["words"] = b.words;
      bloom["fill"] = b.fill;
    }
    bloom["set_bits"] = b.set_bits;
    json["bloom"] = bloom;
  }
  return json;
}

Result<Bytes> EncodeJson(const nlohmann::json& json, std::optional<Dialect> dialect) {
  if (!json.is_object()) return Status(ErrorCode::kInvalidArgument, "expected a JSON object");
  Dialect d = Dialect::kNim;
  if (auto it = json.find("dialect"); it != json.end()) {
    std::string name = it->is_string() ? it->get<std::string>() : "";
    if (name == "nim") {
      d = Dialect::kNim;
    } else if (name == "spec") {
      d = Dialect::kSpec;
    } else {
      return Status(ErrorCode::kInvalidArgument, "dialect must be \"nim\" or \"spec\"");
    }
  }
  if (dialect) d = *dialect;
  Message m;
  auto id = GetString(json, "message_id");
  if (!id.ok()) return id.status();
  m.message_id = *id;
  auto channel = GetString(json, "channel_id");
  if (!channel.ok()) return channel.status();
  m.channel_id = *channel;
  auto sender = GetString(json, "sender_id");
  if (!sender.ok()) return sender.status();
  m.sender_id = *sender;
  if (auto it = json.find("lamport_timestamp"); it != json.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return Status(ErrorCode::kInvalidArgument, "lamport_timestamp must be an integer or null");
    }
    m.lamport_timestamp = it->get<int64_t>();
  }
  auto history = EntriesFromJson(json, "causal_history");
  if (!history.ok()) return history.status();
  m.causal_history = *history;
  auto repair = EntriesFromJson(json, "repair_request");
  if (!repair.ok()) return repair.status();
  m.repair_request = *repair;
  Bytes content, bloom;
  for (auto [key, target, storage] : {std::tuple{"content_hex", &m.content, &content},
                                      std::tuple{"bloom_filter_hex", &m.bloom_filter, &bloom}}) {
    auto it = json.find(key);
    if (it == json.end() || it->is_null()) continue;
    if (!it->is_string())
      return Status(ErrorCode::kInvalidArgument, std::string(key) + " must be a string");
    auto bytes = FromHex(it->get<std::string>());
    if (!bytes.ok())
      return Status(ErrorCode::kInvalidArgument,
                    std::string(key) + ": " + bytes.status().message());
    *storage = std::move(*bytes);
    *target = ByteSpan(*storage);
  }
  return Encode(m, d);
}

std::string DescribeMessage(const DecodedMessage& decoded) {
  const Message& m = decoded.message;
  std::string out;
  char line[512];
  auto add = [&](const char* label, const std::string& value) {
    std::snprintf(line, sizeof line, "%-18s %s\n", label, value.c_str());
    out += line;
  };
  add("dialect", DialectName(decoded.dialect));
  add("kind", KindName(m.kind()));
  add("size", std::to_string(decoded.wire.size()) + " bytes");
  add("message id", Printable(m.message_id));
  add("channel id", Printable(m.channel_id));
  add("sender id", m.sender_id.empty() ? "(none)" : Printable(m.sender_id));
  add("lamport", m.lamport_timestamp ? std::to_string(*m.lamport_timestamp) : "(none: ephemeral)");
  if (!m.content) {
    add("content", "(absent)");
  } else {
    std::string preview = ToString(m.content->first(std::min<size_t>(m.content->size(), 48)));
    bool text = IsUtf8(preview);
    add("content",
        std::to_string(m.content->size()) + " bytes" +
            (m.content->empty() ? ""
             : text             ? ": \"" + preview + (m.content->size() > 48 ? "...\"" : "\"")
                    : ": 0x" + ToHex(m.content->first(std::min<size_t>(m.content->size(), 24))) +
                          (m.content->size() > 24 ? "..." : "")));
  }
  auto entries = [&](const char* label, const std::vector<HistoryEntry>& list) {
    add(label, std::to_string(list.size()) + (list.size() == 1 ? " entry" : " entries"));
    for (size_t i = 0; i < list.size(); ++i) {
      std::string entry = "  [" + std::to_string(i) + "] " + Printable(list[i].message_id);
      if (!list[i].sender_id.empty()) entry += " sender " + Printable(list[i].sender_id);
      if (!list[i].retrieval_hint.empty()) entry += " hint 0x" + ToHex(list[i].retrieval_hint);
      out += entry + "\n";
    }
  };
  entries("causal history", m.causal_history);
  entries("repair requests", m.repair_request);
  if (!m.bloom_filter) {
    add("bloom filter", "(absent)");
  } else if (m.bloom_filter->empty()) {
    add("bloom filter", "(empty)");
  } else {
    BloomSummary b = SummarizeBloom(*m.bloom_filter, decoded.dialect);
    std::string text = std::to_string(b.bytes) + " bytes";
    if (b.parsed) {
      std::snprintf(line, sizeof line,
                    ", capacity %lld, error rate %g, k %d, m %lld bits, %zu words; %lld bits set "
                    "(fill %.4f%%)",
                    static_cast<long long>(b.capacity), b.error_rate, b.k,
                    static_cast<long long>(b.m_bits), b.words, static_cast<long long>(b.set_bits),
                    b.fill * 100);
      text += line;
      if (decoded.dialect == Dialect::kSpec) text += " [spec geometry]";
    } else {
      text += " (unusable: " + b.error + "; " + std::to_string(b.set_bits) + " bits set)";
    }
    add("bloom filter", text);
  }
  return out;
}

}  // namespace sds::cli
