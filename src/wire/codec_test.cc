#include "sds/codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using nlohmann::json;
using testutil::ToHex;

// nim-sds 0.3's decoder, for the cases and vectors that describe it.
DecodeLimits Nim03() {
  DecodeLimits limits;
  limits.nim_presence = NimPresence::kNimSds03;
  return limits;
}

// Hex with optional spaces between fields, for readability.
Bytes FromHex(std::string_view spaced_hex) {
  std::string hex;
  for (char c : spaced_hex) {
    if (c != ' ') hex.push_back(c);
  }
  return testutil::FromHex(hex);
}

// A Message together with the storage its content and bloom views point to.
struct OwnedMessage {
  Message message;
  Bytes content;
  Bytes bloom_filter;
};

std::string StringOrEmpty(const json& value) {
  return value.is_null() ? std::string() : value.get<std::string>();
}

HistoryEntry EntryFromJson(const json& entry) {
  HistoryEntry out;
  out.message_id = entry.at("messageId").get<std::string>();
  if (entry.contains("retrievalHint")) {
    out.retrieval_hint = testutil::FromHex(StringOrEmpty(entry["retrievalHint"]));
  }
  if (entry.contains("senderId")) out.sender_id = StringOrEmpty(entry["senderId"]);
  return out;
}

std::vector<HistoryEntry> EntriesFromJson(const json& entries) {
  std::vector<HistoryEntry> out;
  for (const json& entry : entries) out.push_back(EntryFromJson(entry));
  return out;
}

// The nim vectors' "fields"/"decoded" objects; `bloom_hex` is the record's
// separate "bloomFilter" (the decoded objects carry only its length).
OwnedMessage NimMessageFromJson(const json& fields, std::string_view bloom_hex) {
  OwnedMessage owned;
  owned.content = testutil::FromHex(fields.at("content").get<std::string>());
  owned.bloom_filter = testutil::FromHex(bloom_hex);
  Message& m = owned.message;
  m.message_id = fields.at("messageId").get<std::string>();
  m.channel_id = fields.at("channelId").get<std::string>();
  m.sender_id = fields.at("senderId").get<std::string>();
  m.lamport_timestamp = fields.at("lamportTimestamp").get<int64_t>();
  m.causal_history = EntriesFromJson(fields.at("causalHistory"));
  m.repair_request = EntriesFromJson(fields.at("repairRequest"));
  m.content = ByteSpan(owned.content);
  m.bloom_filter = ByteSpan(owned.bloom_filter);
  return owned;
}

void ExpectNimFields(const Message& m, const json& decoded) {
  EXPECT_EQ(m.message_id, decoded.at("messageId").get<std::string>());
  EXPECT_EQ(m.lamport_timestamp, decoded.at("lamportTimestamp").get<int64_t>());
  EXPECT_EQ(m.channel_id, decoded.at("channelId").get<std::string>());
  EXPECT_EQ(m.sender_id, decoded.at("senderId").get<std::string>());
  ASSERT_TRUE(m.content.has_value());
  EXPECT_EQ(ToHex(*m.content), decoded.at("content").get<std::string>());
  EXPECT_EQ(m.bloom_filter.value_or(ByteSpan()).size(), decoded.at("bloomFilterLen").get<size_t>());
  EXPECT_EQ(m.causal_history, EntriesFromJson(decoded.at("causalHistory")));
  EXPECT_EQ(m.repair_request, EntriesFromJson(decoded.at("repairRequest")));
}

void ExpectSameMessage(const Message& a, const Message& b) {
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.channel_id, b.channel_id);
  EXPECT_EQ(a.sender_id, b.sender_id);
  EXPECT_EQ(a.lamport_timestamp, b.lamport_timestamp);
  EXPECT_EQ(a.causal_history, b.causal_history);
  EXPECT_EQ(a.repair_request, b.repair_request);
  ASSERT_EQ(a.content.has_value(), b.content.has_value());
  if (a.content) {
    EXPECT_EQ(ToHex(*a.content), ToHex(*b.content));
  }
  ASSERT_EQ(a.bloom_filter.has_value(), b.bloom_filter.has_value());
  if (a.bloom_filter) {
    EXPECT_EQ(ToHex(*a.bloom_filter), ToHex(*b.bloom_filter));
  }
}

std::string NameOf(const json& record) { return record.value("name", std::string("?")); }

// ---------------------------------------------------------------------------
// nim dialect, hand-written cases

// nim-sds.md 3.2's verified golden vector.
constexpr const char* kNimGoldenHex =
    "0a026d32 1005 1a0e0a026d311201ab1a05616c696365 22026368 2a03010203 3200 3a03626f62 "
    "6a0b0a026d301a056361726f6c";

TEST(CodecNimTest, EncodesTheReferenceGoldenVector) {
  const Bytes content{1, 2, 3};
  Message m;
  m.message_id = "m2";
  m.lamport_timestamp = 5;
  m.causal_history = {HistoryEntry{"m1", Bytes{0xab}, "alice"}};
  m.channel_id = "ch";
  m.content = ByteSpan(content);
  m.bloom_filter = ByteSpan();
  m.sender_id = "bob";
  m.repair_request = {HistoryEntry{"m0", {}, "carol"}};
  EXPECT_EQ(ToHex(Encode(m, Dialect::kNim)), ToHex(FromHex(kNimGoldenHex)));

  const Bytes wire = FromHex(kNimGoldenHex);
  Result<Message> decoded = Decode(wire, Dialect::kNim);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameMessage(*decoded, m);
  EXPECT_EQ(decoded->content->data(), wire.data() + 28);
}

TEST(CodecNimTest, EncodesTheEmptyMessage) {
  Message m;
  m.lamport_timestamp = 0;
  EXPECT_EQ(ToHex(Encode(m, Dialect::kNim)), "0a00100022002a003200");
  const Bytes wire = FromHex("0a00100022002a003200");
  Result<Message> decoded = Decode(wire, Dialect::kNim, Nim03());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->lamport_timestamp, 0);
  ASSERT_TRUE(decoded->content.has_value());
  EXPECT_TRUE(decoded->content->empty());
  ASSERT_TRUE(decoded->bloom_filter.has_value());
  EXPECT_TRUE(decoded->bloom_filter->empty());
}

TEST(CodecNimTest, MissingLamportIsEncodedAsZero) {
  Message m;
  m.message_id = "e";
  EXPECT_EQ(ToHex(Encode(m, Dialect::kNim)), "0a0165100022002a003200");
}

TEST(CodecNimTest, NegativeLamportTakesTenBytesAndIsRejectedOnDecode) {
  Message m;
  m.message_id = "neg";
  m.lamport_timestamp = -1;
  const Bytes wire = Encode(m, Dialect::kNim);
  EXPECT_EQ(ToHex(wire), "0a036e656710ffffffffffffffffff0122002a003200");
  EXPECT_EQ(Decode(wire, Dialect::kNim, Nim03()).status().code(),
            ErrorCode::kDecodeLamportOutOfRange);
}

TEST(CodecNimTest, ReportsEachMissingRequiredField) {
  struct Case {
    const char* hex;
    const char* field;
  };
  // Start from {1 "m1", 2 5, 4 "ch", 5 01} and drop one field at a time.
  for (const Case& c : {Case{"1005 22026368 2a0101", "field 1 (message_id)"},
                        Case{"0a026d31 22026368 2a0101", "field 2 (lamport_timestamp)"},
                        Case{"0a026d31 1005 2a0101", "field 4 (channel_id)"},
                        Case{"0a026d31 1005 22026368", "field 5 (content)"}}) {
    Result<Message> decoded = Decode(FromHex(c.hex), Dialect::kNim, Nim03());
    ASSERT_FALSE(decoded.ok()) << c.hex;
    EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMissingField) << c.hex;
    EXPECT_NE(decoded.status().message().find(c.field), std::string::npos)
        << decoded.status().message();
  }
}

// nim-sds 0.4 writes no empty field: its messages may lack Lamport, content
// and bloom filter. The default decoder reads them; 0.3's does not.
TEST(CodecNimTest, ReadsWhatNimSds04WritesWithoutEmptyFields) {
  struct Case {
    const char* hex;
    LamportTime lamport;
    bool has_content;
    MessageKind kind;
  };
  for (const Case& c :
       {Case{"0a026d31 22026368 2a0101", 0, true, MessageKind::kContent},
        Case{"0a026d31 1005 22026368", 5, false, MessageKind::kSync},
        Case{"0a026d31 22026368", 0, false, MessageKind::kSync},
        Case{"0a026d31 1a040a026d30 22026368 2a0101 3a03626f62", 0, true, MessageKind::kContent}}) {
    SCOPED_TRACE(c.hex);
    const Bytes wire = FromHex(c.hex);
    Result<Message> decoded = Decode(wire, Dialect::kNim);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->message_id, "m1");
    EXPECT_EQ(decoded->channel_id, "ch");
    EXPECT_EQ(decoded->lamport_timestamp, c.lamport);
    EXPECT_EQ(decoded->content.has_value(), c.has_content);
    EXPECT_FALSE(decoded->bloom_filter.has_value());
    EXPECT_EQ(decoded->kind(), c.kind);
    Result<DecodedMessage> any = DecodeAny(SharedBytes(wire));
    ASSERT_TRUE(any.ok()) << any.status().ToString();
    EXPECT_EQ(any->dialect, Dialect::kNim);
    // nim-sds 0.3 cannot read them: its rules stay available.
    EXPECT_EQ(Decode(wire, Dialect::kNim, Nim03()).status().code(), ErrorCode::kDecodeMissingField);
  }
}

// nim-sds 0.4 rejects empty message, channel and history-entry ids; 0.3
// accepts them. The default follows 0.4 (no such id can name anything).
TEST(CodecNimTest, RejectsEmptyIdsAsNimSds04Does) {
  struct Case {
    const char* hex;
    const char* error;
  };
  for (const Case& c : {Case{"0a00 1005 22026368 2a0101", "field 1 (message_id) is empty"},
                        Case{"0a026d31 1005 2200 2a0101", "field 4 (channel_id) is empty"},
                        Case{"0a026d31 1005 2a0101", "field 4 (channel_id) missing"},
                        Case{"0a026d31 1005 1a020a00 22026368 2a0101",
                             "causal_history entry 0: field 1 (message_id) is empty"},
                        Case{"0a026d31 1005 22026368 2a0101 6a020a00",
                             "repair_request entry 0: field 1 (message_id) is empty"}}) {
    SCOPED_TRACE(c.hex);
    const Bytes wire = FromHex(c.hex);
    Result<Message> decoded = Decode(wire, Dialect::kNim);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMissingField);
    EXPECT_EQ(decoded.status().message(), c.error);
  }
  for (const char* hex : {"0a00 1005 22026368 2a0101", "0a026d31 1005 2200 2a0101",
                          "0a026d31 1005 1a020a00 22026368 2a0101"}) {
    EXPECT_TRUE(Decode(FromHex(hex), Dialect::kNim, Nim03()).ok()) << hex;
  }
}

TEST(CodecNimTest, LastOccurrenceOfASingularFieldWins) {
  const Bytes wire = FromHex("0a0161 1001 22026368 2a0101 0a0162 1007 2a0102 1a040a02783122026469");
  Result<Message> decoded = Decode(wire, Dialect::kNim);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->message_id, "b");
  EXPECT_EQ(decoded->lamport_timestamp, 7);
  EXPECT_EQ(decoded->channel_id, "di");
  EXPECT_EQ(ToHex(*decoded->content), "02");
  ASSERT_EQ(decoded->causal_history.size(), 1u);
  EXPECT_EQ(decoded->causal_history[0].message_id, "x1");
}

TEST(CodecNimTest, FieldWithUnexpectedWireTypeIsTreatedAsAbsent) {
  // Field 1 as a varint and field 2 as bytes: both absent.
  Result<Message> decoded =
      Decode(FromHex("0801 0a026d31 12026868 22026368 2a0101"), Dialect::kNim, Nim03());
  EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_NE(decoded.status().message().find("field 2"), std::string::npos);

  // A varint field 5 does not replace the earlier bytes field 5.
  const Bytes mistyped_content = FromHex("0a026d31 1005 22026368 2a0101 2801 1801");
  decoded = Decode(mistyped_content, Dialect::kNim);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(ToHex(*decoded->content), "01");
  EXPECT_TRUE(decoded->causal_history.empty());
}

TEST(CodecNimTest, HistoryEntryRequiresItsMessageId) {
  Result<Message> decoded =
      Decode(FromHex("0a026d31 1005 1a040a026d30 1a03120101 22026368 2a0101"), Dialect::kNim);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(decoded.status().message(), "causal_history entry 1: field 1 (message_id) missing");

  decoded = Decode(FromHex("0a026d31 1005 22026368 2a0101 6a03120101"), Dialect::kNim);
  EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_NE(decoded.status().message().find("repair_request entry 0"), std::string::npos);
}

TEST(CodecNimTest, HistoryEntryToleratesUnknownAndMistypedFields) {
  // Entry: 1 "m0", 1 as varint (ignored), 9 unknown, 3 "s".
  Result<Message> decoded = Decode(
      FromHex("0a026d31 1005 1a0c0a026d30 0801 4a0178 1a0173 22026368 2a0101"), Dialect::kNim);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->causal_history.size(), 1u);
  EXPECT_EQ(decoded->causal_history[0], (HistoryEntry{"m0", {}, "s"}));
}

TEST(CodecNimTest, MalformedHistoryEntryNamesTheEntry) {
  Result<Message> decoded =
      Decode(FromHex("0a026d31 1005 1a03 0a05 61 22026368 2a0101"), Dialect::kNim);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(decoded.status().message().find("causal_history entry 0: length runs past the end"),
            std::string::npos)
      << decoded.status().message();
}

TEST(CodecNimTest, MalformedTopLevelBytesAreRejected) {
  for (const char* hex : {"ffffffff", "0a026d31 1005 22026368 2a0101 0b", "0a05 6d31",
                          "0a026d31 10ffffffffffffffffffff01"}) {
    EXPECT_EQ(Decode(FromHex(hex), Dialect::kNim).status().code(), ErrorCode::kDecodeMalformed)
        << hex;
  }
}

// ---------------------------------------------------------------------------
// Limits

TEST(CodecLimitsTest, EveryLimitIsEnforcedAndNamed) {
  const Bytes hint(20, 0xaa);
  const Bytes content(100, 1);
  const Bytes bloom(64, 2);
  Message m;
  m.message_id = "message-id-0123456789";
  m.channel_id = "channel";
  m.sender_id = "sender";
  m.lamport_timestamp = 1;
  m.content = ByteSpan(content);
  m.bloom_filter = ByteSpan(bloom);
  for (int i = 0; i < 5; ++i) {
    m.causal_history.push_back(HistoryEntry{"c" + std::to_string(i), hint, "s"});
  }
  m.repair_request = {HistoryEntry{"r0", {}, "s"}, HistoryEntry{"r1", {}, "s"}};

  for (Dialect dialect : {Dialect::kNim, Dialect::kSpec}) {
    const Bytes wire = Encode(m, dialect);
    ASSERT_TRUE(Decode(wire, dialect).ok()) << DialectName(dialect);

    struct Case {
      const char* limit_name;
      void (*tighten)(DecodeLimits&);
    };
    const Case cases[] = {
        {"max_message_bytes", [](DecodeLimits& l) { l.max_message_bytes = 100; }},
        {"max_content_bytes", [](DecodeLimits& l) { l.max_content_bytes = 99; }},
        {"max_causal_history", [](DecodeLimits& l) { l.max_causal_history = 4; }},
        {"max_repair_request", [](DecodeLimits& l) { l.max_repair_request = 1; }},
        {"max_id_bytes", [](DecodeLimits& l) { l.max_id_bytes = 20; }},
        {"max_hint_bytes", [](DecodeLimits& l) { l.max_hint_bytes = 19; }},
        {"max_bloom_bytes", [](DecodeLimits& l) { l.max_bloom_bytes = 63; }},
    };
    for (const Case& c : cases) {
      DecodeLimits limits;
      c.tighten(limits);
      Result<Message> decoded = Decode(wire, dialect, limits);
      ASSERT_FALSE(decoded.ok()) << c.limit_name;
      EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeLimitExceeded) << c.limit_name;
      EXPECT_NE(decoded.status().message().find(c.limit_name), std::string::npos)
          << decoded.status().message();
      EXPECT_EQ(DecodeAny(SharedBytes(wire), limits).status().code(),
                ErrorCode::kDecodeLimitExceeded)
          << c.limit_name;
    }
    // Exactly at each limit is allowed.
    DecodeLimits exact;
    exact.max_message_bytes = wire.size();
    exact.max_content_bytes = 100;
    exact.max_causal_history = 5;
    exact.max_repair_request = 2;
    exact.max_id_bytes = 21;
    exact.max_hint_bytes = 20;
    exact.max_bloom_bytes = 64;
    EXPECT_TRUE(Decode(wire, dialect, exact).ok()) << DialectName(dialect);
  }
}

TEST(CodecLimitsTest, HugeEntryCountIsRejectedBeforeDecodingEntries) {
  // 100,000 empty (and therefore invalid) causal-history entries: the count
  // limit fires first, so neither the entries nor a vector of them are built.
  Bytes wire = FromHex("0a026d31 1005 22026368 2a00");
  for (int i = 0; i < 100000; ++i) {
    wire.push_back(0x1a);
    wire.push_back(0x00);
  }
  Result<Message> decoded = Decode(wire, Dialect::kNim);
  EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_NE(decoded.status().message().find("max_causal_history"), std::string::npos);
}

// ---------------------------------------------------------------------------
// spec dialect, hand-written cases

TEST(CodecSpecTest, RejectsMissingOrEmptyMessageId) {
  for (const char* hex : {"0a05616c696365 1a026331 5001", "0a05616c696365 1200 1a026331 5001"}) {
    Result<Message> decoded = Decode(FromHex(hex), Dialect::kSpec);
    ASSERT_FALSE(decoded.ok()) << hex;
    EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMissingField) << hex;
    EXPECT_NE(decoded.status().message().find("message_id"), std::string::npos);
  }
}

TEST(CodecSpecTest, ChannelAndSenderMayBeAbsent) {
  Result<Message> decoded = Decode(FromHex("12016d 5005"), Dialect::kSpec);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->message_id, "m");
  EXPECT_EQ(decoded->channel_id, "");
  EXPECT_EQ(decoded->sender_id, "");
  EXPECT_EQ(decoded->lamport_timestamp, 5);
  EXPECT_FALSE(decoded->content.has_value());
  EXPECT_FALSE(decoded->bloom_filter.has_value());
  EXPECT_EQ(decoded->kind(), MessageKind::kSync);
}

TEST(CodecSpecTest, PresenceOfOptionalFieldsRoundTrips) {
  Message m;
  m.message_id = "m";
  m.lamport_timestamp = 0;
  m.content = ByteSpan();
  m.bloom_filter = ByteSpan();
  // Lamport 0, empty bloom and empty content are still present.
  const Bytes wire = Encode(m, Dialect::kSpec);
  EXPECT_EQ(ToHex(wire), "12016d50006200a20100");
  Result<Message> decoded = Decode(wire, Dialect::kSpec);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameMessage(*decoded, m);

  Message ephemeral;
  ephemeral.message_id = "m";
  EXPECT_EQ(ToHex(Encode(ephemeral, Dialect::kSpec)), "12016d");
  decoded = Decode(Encode(ephemeral, Dialect::kSpec), Dialect::kSpec);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->kind(), MessageKind::kEphemeral);
}

TEST(CodecSpecTest, LamportOutOfRange) {
  EXPECT_EQ(Decode(FromHex("12016d 5080808080808080808001"), Dialect::kSpec).status().code(),
            ErrorCode::kDecodeLamportOutOfRange);
  Result<Message> decoded = Decode(FromHex("12016d 50ffffffffffffffff7f"), Dialect::kSpec);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->lamport_timestamp, std::numeric_limits<int64_t>::max());
}

TEST(CodecSpecTest, HistoryEntriesAsInNim) {
  Message m;
  m.message_id = "m";
  m.causal_history = {HistoryEntry{"a", {}, {}}, HistoryEntry{"b", Bytes{1, 2}, "s"}};
  m.repair_request = {HistoryEntry{"", {}, {}}};
  const Bytes wire = Encode(m, Dialect::kSpec);
  EXPECT_EQ(ToHex(wire), ToHex(FromHex("12016d 5a030a0161 5a0a0a016212020102 1a0173 6a020a00")));
  Result<Message> decoded = Decode(wire, Dialect::kSpec);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameMessage(*decoded, m);
}

// ---------------------------------------------------------------------------
// Dialect detection

TEST(CodecDetectTest, FieldTwoDecides) {
  EXPECT_EQ(*DetectDialect(FromHex("0a026d31 1005")), Dialect::kNim);
  EXPECT_EQ(*DetectDialect(FromHex("0a05616c696365 12026d31")), Dialect::kSpec);
  // Field 2 decides even when other fields point the other way.
  EXPECT_EQ(*DetectDialect(FromHex("a20100 1005")), Dialect::kNim);
  EXPECT_EQ(*DetectDialect(FromHex("22026368 12026d31")), Dialect::kSpec);
}

TEST(CodecDetectTest, FallsBackOnDialectOnlyFields) {
  EXPECT_EQ(*DetectDialect(FromHex("0a026d31 22026368")), Dialect::kNim);
  EXPECT_EQ(*DetectDialect(FromHex("2a0101")), Dialect::kNim);
  EXPECT_EQ(*DetectDialect(FromHex("3200")), Dialect::kNim);
  EXPECT_EQ(*DetectDialect(FromHex("3a0162")), Dialect::kNim);
  EXPECT_EQ(*DetectDialect(FromHex("0a0161 5005")), Dialect::kSpec);
  EXPECT_EQ(*DetectDialect(FromHex("5a030a0161")), Dialect::kSpec);
  EXPECT_EQ(*DetectDialect(FromHex("6200")), Dialect::kSpec);
  EXPECT_EQ(*DetectDialect(FromHex("a20100")), Dialect::kSpec);
  // A field 2 of a fixed wire type settles nothing.
  EXPECT_EQ(*DetectDialect(FromHex("1501020304 2a00")), Dialect::kNim);
}

TEST(CodecDetectTest, UnknownWhenNothingOrEverythingMatches) {
  for (const char* hex : {"", "0a0161", "0a0161 1a00 6a00", "2a00 5001", "ffffffff", "0a05 6d"}) {
    Result<Dialect> dialect = DetectDialect(FromHex(hex));
    ASSERT_FALSE(dialect.ok()) << hex;
    EXPECT_EQ(dialect.status().code(), ErrorCode::kDecodeUnknownDialect) << hex;
    EXPECT_EQ(DecodeAny(SharedBytes(FromHex(hex))).status().code(),
              ErrorCode::kDecodeUnknownDialect)
        << hex;
  }
}

TEST(CodecDecodeAnyTest, KeepsTheBufferAlive) {
  Result<DecodedMessage> decoded = [] {
    SharedBytes wire(FromHex(kNimGoldenHex));
    return DecodeAny(wire);
  }();
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->dialect, Dialect::kNim);
  EXPECT_EQ(ToHex(*decoded->message.content), "010203");
  EXPECT_EQ(decoded->message.content->data(), decoded->wire.data() + 28);
}

TEST(CodecDecodeAnyTest, DialectNames) {
  EXPECT_STREQ(DialectName(Dialect::kNim), "nim");
  EXPECT_STREQ(DialectName(Dialect::kSpec), "spec");
}

// ---------------------------------------------------------------------------
// Golden vectors: nim-sds

TEST(CodecNimVectorsTest, SdsMessageEncodesAndDecodes) {
  const std::vector<json> records = testutil::NimVectors("sds_message");
  EXPECT_EQ(records.size(), 10u);
  for (const json& record : records) {
    SCOPED_TRACE(NameOf(record));
    OwnedMessage owned =
        NimMessageFromJson(record.at("fields"), record.at("bloomFilter").get<std::string>());
    const std::string hex = record.at("hex").get<std::string>();
    EXPECT_EQ(ToHex(Encode(owned.message, Dialect::kNim)), hex);

    const Bytes wire = testutil::FromHex(hex);
    EXPECT_EQ(*DetectDialect(wire), Dialect::kNim);
    Result<Message> decoded = Decode(wire, Dialect::kNim, Nim03());
    if (record.at("decode_ok").get<bool>()) {
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      ExpectNimFields(*decoded, record.at("decoded"));
      EXPECT_EQ(ToHex(*decoded->bloom_filter), record.at("bloomFilter").get<std::string>());
      EXPECT_EQ(ToHex(Encode(*decoded, Dialect::kNim)), hex);
    } else {
      // nim-sds crashes with a RangeDefect here (negative lamport); we refuse.
      EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeLamportOutOfRange);
    }
  }
}

TEST(CodecNimVectorsTest, SdsDecodeOutcomes) {
  // How nim-sds's reDeserializationError maps onto our codes, per case.
  const std::map<std::string, ErrorCode> expected_errors = {
      {"missing_content", ErrorCode::kDecodeMissingField},
      {"missing_lamport", ErrorCode::kDecodeMissingField},
      // The entry "m0" is parsed as a HistoryEntry and is truncated protobuf.
      {"legacy_string_history", ErrorCode::kDecodeMalformed},
      {"empty_input", ErrorCode::kDecodeMissingField},
      {"garbage", ErrorCode::kDecodeMalformed},
  };
  const std::vector<json> records = testutil::NimVectors("sds_decode");
  EXPECT_EQ(records.size(), 8u);
  for (const json& record : records) {
    const std::string name = NameOf(record);
    SCOPED_TRACE(name);
    const Bytes wire = testutil::FromHex(record.at("hex").get<std::string>());
    Result<Message> decoded = Decode(wire, Dialect::kNim, Nim03());
    if (record.at("ok").get<bool>()) {
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      ExpectNimFields(*decoded, record.at("decoded"));
      EXPECT_EQ(decoded->channel_id, record.at("channelId").get<std::string>());
      Result<DecodedMessage> any = DecodeAny(SharedBytes(wire));
      ASSERT_TRUE(any.ok()) << any.status().ToString();
      EXPECT_EQ(any->dialect, Dialect::kNim);
    } else {
      ASSERT_FALSE(decoded.ok());
      auto expected = expected_errors.find(name);
      ASSERT_NE(expected, expected_errors.end()) << "new failing vector: decide its code";
      EXPECT_EQ(decoded.status().code(), expected->second) << decoded.status().ToString();
    }
  }
}

TEST(CodecNimVectorsTest, UnwrapEdgeDecodeOutcomes) {
  const std::vector<json> records = testutil::NimVectors("unwrap_edge");
  EXPECT_EQ(records.size(), 6u);
  std::map<std::string, Bytes> wires;  // the decoded views point into these
  std::map<std::string, Result<Message>> outcomes;
  for (const json& record : records) {
    const Bytes& wire = wires[NameOf(record)] =
        testutil::FromHex(record.at("hex").get<std::string>());
    outcomes.emplace(NameOf(record), Decode(wire, Dialect::kNim));
  }
  ASSERT_EQ(outcomes.size(), 6u);
  EXPECT_EQ(outcomes.at("lamport_2pow64_minus_1").status().code(),
            ErrorCode::kDecodeLamportOutOfRange);
  EXPECT_EQ(outcomes.at("lamport_2pow63").status().code(), ErrorCode::kDecodeLamportOutOfRange);
  // Decodes; the engine rejects it because lamport + 1 would overflow.
  ASSERT_TRUE(outcomes.at("lamport_2pow63_minus_1").ok());
  EXPECT_EQ(outcomes.at("lamport_2pow63_minus_1")->lamport_timestamp,
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(outcomes.at("empty").status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(outcomes.at("no_channel").status().code(), ErrorCode::kDecodeMissingField);
  // The bloom bytes are the bloom parser's business, not the codec's.
  const Result<Message>& bad_bloom = outcomes.at("bad_bloom_bytes");
  ASSERT_TRUE(bad_bloom.ok()) << bad_bloom.status().ToString();
  EXPECT_EQ(ToHex(*bad_bloom->content), "01");
  EXPECT_EQ(bad_bloom->channel_id, "ch");
}

TEST(CodecNimVectorsTest, ExchangeWireMessagesRoundTrip) {
  size_t wire_messages = 0;
  for (const json& record : testutil::NimVectors("exchange")) {
    if (record.value("event", "") != "wrapOutgoingMessage") continue;
    SCOPED_TRACE(record.value("scenario", "") + " " + record.value("messageId", ""));
    const std::string hex = record.at("wire_hex").get<std::string>();
    const Bytes wire = testutil::FromHex(hex);
    EXPECT_EQ(wire.size(), record.at("wire_len").get<size_t>());
    Result<DecodedMessage> decoded = DecodeAny(SharedBytes(wire));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->dialect, Dialect::kNim);
    ExpectNimFields(decoded->message, record.at("decoded"));
    EXPECT_EQ(ToHex(Encode(decoded->message, Dialect::kNim)), hex);
    ++wire_messages;
  }
  EXPECT_EQ(wire_messages, 16u);
}

// ---------------------------------------------------------------------------
// Golden vectors: @waku/sds

// Bit h lives in big-endian word h / 64 at bit h % 64 (bloom_filter.h).
std::vector<int64_t> SpecBloomSetBits(ByteSpan bytes) {
  std::vector<int64_t> bits;
  for (size_t word = 0; word + 8 <= bytes.size(); word += 8) {
    for (int bit = 0; bit < 64; ++bit) {
      const uint8_t byte = bytes[word + 7 - static_cast<size_t>(bit / 8)];
      if ((byte >> (bit % 8)) & 1) bits.push_back(static_cast<int64_t>(word / 8 * 64) + bit);
    }
  }
  return bits;
}

void ExpectSpecFields(const Message& m, const json& decoded) {
  const std::string type = decoded.at("type").get<std::string>();
  const MessageKind kind = type == "content" ? MessageKind::kContent
                           : type == "sync"  ? MessageKind::kSync
                                             : MessageKind::kEphemeral;
  EXPECT_EQ(m.kind(), kind) << type;
  EXPECT_EQ(m.message_id, decoded.at("messageId").get<std::string>());
  EXPECT_EQ(m.channel_id, decoded.at("channelId").get<std::string>());
  EXPECT_EQ(m.sender_id, StringOrEmpty(decoded.at("senderId")));
  const json& lamport = decoded.at("lamportTimestamp");
  if (lamport.is_null()) {
    EXPECT_FALSE(m.lamport_timestamp.has_value());
  } else {
    EXPECT_EQ(m.lamport_timestamp, std::stoll(lamport.get<std::string>()));
  }
  EXPECT_EQ(m.causal_history, EntriesFromJson(decoded.at("causalHistory")));
  EXPECT_EQ(m.repair_request, EntriesFromJson(decoded.at("repairRequest")));
  const json& content = decoded.at("content");
  if (content.is_null()) {
    EXPECT_FALSE(m.content.has_value());
  } else {
    ASSERT_TRUE(m.content.has_value());
    EXPECT_EQ(ToHex(*m.content), content.get<std::string>());
  }
  const json& bloom = decoded.at("bloomFilter");
  if (bloom.is_null()) {
    EXPECT_FALSE(m.bloom_filter.has_value());
  } else {
    ASSERT_TRUE(m.bloom_filter.has_value());
    EXPECT_EQ(m.bloom_filter->size(), bloom.at("length").get<size_t>());
    const std::vector<int64_t> bits = SpecBloomSetBits(*m.bloom_filter);
    EXPECT_EQ(bits.size(), bloom.at("setBitCount").get<size_t>());
    std::vector<int64_t> expected_bits = bloom.at("setBits").get<std::vector<int64_t>>();
    std::sort(expected_bits.begin(), expected_bits.end());
    EXPECT_EQ(bits, expected_bits);
  }
}

TEST(CodecSpecVectorsTest, EveryVectorDecodesAndReencodesExactly) {
  const json& vectors = testutil::WakuVectors().at("vectors");
  EXPECT_EQ(vectors.size(), 7u);
  for (const json& vector : vectors) {
    SCOPED_TRACE(NameOf(vector));
    const std::string hex = vector.at("bytes").get<std::string>();
    const Bytes wire = testutil::FromHex(hex);
    EXPECT_EQ(wire.size(), vector.at("length").get<size_t>());
    Result<DecodedMessage> decoded = DecodeAny(SharedBytes(wire));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->dialect, Dialect::kSpec);
    ExpectSpecFields(decoded->message, vector.at("decoded"));
    EXPECT_EQ(ToHex(Encode(decoded->message, Dialect::kSpec)), hex);
  }
}

TEST(CodecSpecVectorsTest, NimLayoutNegativeIsDetectedAsNim) {
  const json& negatives = testutil::WakuVectors().at("negative");
  ASSERT_EQ(negatives.size(), 1u);
  const Bytes wire = testutil::FromHex(negatives[0].at("bytes").get<std::string>());
  EXPECT_EQ(*DetectDialect(wire), Dialect::kNim);
  Result<DecodedMessage> decoded = DecodeAny(SharedBytes(wire));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->message.message_id, "msg-1");
  EXPECT_EQ(decoded->message.lamport_timestamp, 300);
  EXPECT_EQ(decoded->message.sender_id, "alice");
  EXPECT_EQ(decoded->message.causal_history.size(), 2u);
  EXPECT_EQ(decoded->message.repair_request.size(), 1u);
  // Read as spec, the varint field 2 is no message id at all.
  EXPECT_EQ(Decode(wire, Dialect::kSpec).status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(ToHex(Encode(decoded->message, Dialect::kNim)), ToHex(wire));
}

}  // namespace
}  // namespace sds
