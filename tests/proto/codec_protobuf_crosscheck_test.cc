// Cross-checks sds's hand-written codec against libprotobuf, using .proto
// descriptions of both dialects (nim_sds.proto, sds_spec.proto). Random
// messages go both ways: our bytes must parse with libprotobuf to the same
// values, and libprotobuf's bytes must decode with ours to the same values.
// Where both sides write canonical bytes, the bytes themselves must agree.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proto/nim_sds.pb.h"
#include "proto/sds_spec.pb.h"
#include "sds/codec.h"

namespace sds {
namespace {

constexpr int kRoundsPerDirection = 300;

std::string AsString(ByteSpan bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

ByteSpan AsSpan(const std::string& bytes) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Random messages with every field exercised: ids of arbitrary bytes
// (including non-UTF-8 and, where allowed, empty), Lamport values spread over
// every varint length, 0..4 history entries per list.
class RandomMessages {
 public:
  explicit RandomMessages(uint64_t seed) : rng_(seed) {}

  // A Message whose views point into storage owned by this generator and
  // valid until the next call.
  Message Next(Dialect dialect, bool allow_negative_lamport) {
    Message m;
    // spec decoders reject an empty message id; nim allows it.
    m.message_id = RandomBytes(dialect == Dialect::kSpec ? 1 : 0, 80);
    m.channel_id = Chance(5) ? std::string() : RandomBytes(1, 40);
    m.sender_id = Chance(3) ? std::string() : RandomBytes(1, 20);
    const bool ephemeral = dialect == Dialect::kSpec && Chance(5);
    if (!ephemeral) m.lamport_timestamp = RandomLamport(allow_negative_lamport);
    m.causal_history = RandomEntries();
    m.repair_request = RandomEntries();
    content_ = AsBytes(RandomBytes(0, 400));
    bloom_ = AsBytes(RandomBytes(0, 300));
    // nim always carries both fields; spec may omit either.
    if (dialect == Dialect::kNim || !Chance(4)) m.content = ByteSpan(content_);
    if (dialect == Dialect::kNim || (!ephemeral && !Chance(4))) m.bloom_filter = ByteSpan(bloom_);
    return m;
  }

  bool Chance(int one_in) { return rng_() % static_cast<uint64_t>(one_in) == 0; }
  uint64_t Below(uint64_t bound) { return rng_() % bound; }

 private:
  static Bytes AsBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

  std::string RandomBytes(size_t min_size, size_t max_size) {
    std::string out(min_size + Below(max_size - min_size + 1), '\0');
    for (char& c : out) c = static_cast<char>(rng_());
    return out;
  }

  int64_t RandomLamport(bool allow_negative) {
    const uint64_t value = rng_() >> Below(64);  // every varint length
    if (allow_negative && Chance(8)) return -static_cast<int64_t>(value >> 1) - 1;
    return static_cast<int64_t>(value >> 1);
  }

  std::vector<HistoryEntry> RandomEntries() {
    std::vector<HistoryEntry> entries(Below(5));
    for (HistoryEntry& entry : entries) {
      // Entry ids are never empty in practice, and proto3 would not write one.
      entry.message_id = RandomBytes(1, 70);
      if (Chance(2)) {
        const std::string hint = RandomBytes(1, 40);
        entry.retrieval_hint.assign(hint.begin(), hint.end());
      }
      if (Chance(2)) entry.sender_id = RandomBytes(1, 20);
    }
    return entries;
  }

  std::mt19937_64 rng_;
  Bytes content_;
  Bytes bloom_;
};

// ---------------------------------------------------------------------------
// Comparisons between our model and the generated classes. Both generated
// HistoryEntry types have the same accessors, hence the template.

template <typename ProtoEntry>
void ExpectSameEntry(const HistoryEntry& ours, const ProtoEntry& theirs) {
  EXPECT_EQ(ours.message_id, theirs.message_id());
  EXPECT_EQ(ours.retrieval_hint.empty(), !theirs.has_retrieval_hint());
  EXPECT_EQ(AsString(ours.retrieval_hint), theirs.retrieval_hint());
  EXPECT_EQ(ours.sender_id.empty(), !theirs.has_sender_id());
  EXPECT_EQ(ours.sender_id, theirs.sender_id());
}

template <typename ProtoEntries>
void ExpectSameEntries(const std::vector<HistoryEntry>& ours, const ProtoEntries& theirs) {
  ASSERT_EQ(ours.size(), static_cast<size_t>(theirs.size()));
  for (size_t i = 0; i < ours.size(); ++i) ExpectSameEntry(ours[i], theirs[static_cast<int>(i)]);
}

template <typename ProtoEntry>
void FillEntry(const HistoryEntry& ours, ProtoEntry* theirs) {
  theirs->set_message_id(ours.message_id);
  if (!ours.retrieval_hint.empty()) theirs->set_retrieval_hint(AsString(ours.retrieval_hint));
  if (!ours.sender_id.empty()) theirs->set_sender_id(ours.sender_id);
}

void ExpectSameNim(const Message& ours, const sds_test::nim::SdsMessage& theirs) {
  EXPECT_EQ(ours.message_id, theirs.message_id());
  EXPECT_EQ(static_cast<uint64_t>(ours.lamport_timestamp.value_or(0)), theirs.lamport_timestamp());
  EXPECT_EQ(ours.channel_id, theirs.channel_id());
  EXPECT_EQ(AsString(ours.content.value_or(ByteSpan())), theirs.content());
  EXPECT_EQ(AsString(ours.bloom_filter.value_or(ByteSpan())), theirs.bloom_filter());
  EXPECT_EQ(ours.sender_id, theirs.sender_id());
  ExpectSameEntries(ours.causal_history, theirs.causal_history());
  ExpectSameEntries(ours.repair_request, theirs.repair_request());
}

sds_test::nim::SdsMessage ToNimProto(const Message& m) {
  sds_test::nim::SdsMessage out;
  out.set_message_id(m.message_id);
  out.set_lamport_timestamp(static_cast<uint64_t>(m.lamport_timestamp.value_or(0)));
  out.set_channel_id(m.channel_id);
  out.set_content(AsString(m.content.value_or(ByteSpan())));
  out.set_bloom_filter(AsString(m.bloom_filter.value_or(ByteSpan())));
  if (!m.sender_id.empty()) out.set_sender_id(m.sender_id);
  for (const HistoryEntry& e : m.causal_history) FillEntry(e, out.add_causal_history());
  for (const HistoryEntry& e : m.repair_request) FillEntry(e, out.add_repair_request());
  return out;
}

void ExpectSameSpec(const Message& ours, const sds_test::spec::Message& theirs) {
  EXPECT_EQ(ours.sender_id, theirs.sender_id());
  EXPECT_EQ(ours.message_id, theirs.message_id());
  EXPECT_EQ(ours.channel_id, theirs.channel_id());
  ASSERT_EQ(ours.lamport_timestamp.has_value(), theirs.has_lamport_timestamp());
  if (ours.lamport_timestamp) {
    EXPECT_EQ(static_cast<uint64_t>(*ours.lamport_timestamp), theirs.lamport_timestamp());
  }
  ASSERT_EQ(ours.bloom_filter.has_value(), theirs.has_bloom_filter());
  if (ours.bloom_filter) {
    EXPECT_EQ(AsString(*ours.bloom_filter), theirs.bloom_filter());
  }
  ASSERT_EQ(ours.content.has_value(), theirs.has_content());
  if (ours.content) {
    EXPECT_EQ(AsString(*ours.content), theirs.content());
  }
  ExpectSameEntries(ours.causal_history, theirs.causal_history());
  ExpectSameEntries(ours.repair_request, theirs.repair_request());
}

sds_test::spec::Message ToSpecProto(const Message& m) {
  sds_test::spec::Message out;
  out.set_sender_id(m.sender_id);
  out.set_message_id(m.message_id);
  out.set_channel_id(m.channel_id);
  if (m.lamport_timestamp) {
    out.set_lamport_timestamp(static_cast<uint64_t>(*m.lamport_timestamp));
  }
  if (m.bloom_filter) out.set_bloom_filter(AsString(*m.bloom_filter));
  if (m.content) out.set_content(AsString(*m.content));
  for (const HistoryEntry& e : m.causal_history) FillEntry(e, out.add_causal_history());
  for (const HistoryEntry& e : m.repair_request) FillEntry(e, out.add_repair_request());
  return out;
}

// Unknown fields, as a newer peer might add them, which our decoder must skip.
void AddUnknownFields(RandomMessages& random, google::protobuf::Message* message) {
  google::protobuf::UnknownFieldSet* unknown =
      message->GetReflection()->MutableUnknownFields(message);
  unknown->AddVarint(static_cast<int>(100 + random.Below(1000)), random.Below(1u << 20));
  unknown->AddLengthDelimited(static_cast<int>(2000 + random.Below(1000)), "future");
  unknown->AddFixed32(static_cast<int>(40 + random.Below(50)), 7);
  unknown->AddFixed64(static_cast<int>(14 + random.Below(5)), 9);
}

// ---------------------------------------------------------------------------

TEST(CodecProtobufCrosscheckTest, NimEncodeParsesWithLibprotobuf) {
  RandomMessages random(0x5d5'0001);
  for (int round = 0; round < kRoundsPerDirection; ++round) {
    SCOPED_TRACE(round);
    const Message m = random.Next(Dialect::kNim, /*allow_negative_lamport=*/true);
    const Bytes wire = Encode(m, Dialect::kNim);
    sds_test::nim::SdsMessage parsed;
    ASSERT_TRUE(parsed.ParseFromArray(wire.data(), static_cast<int>(wire.size())));
    ExpectSameNim(m, parsed);
    // Both write fields in number order with the same presence rules.
    EXPECT_TRUE(parsed.SerializeAsString() == AsString(wire));
  }
}

TEST(CodecProtobufCrosscheckTest, LibprotobufNimDecodesWithOurs) {
  RandomMessages random(0x5d5'0002);
  for (int round = 0; round < kRoundsPerDirection; ++round) {
    SCOPED_TRACE(round);
    const Message m = random.Next(Dialect::kNim, /*allow_negative_lamport=*/false);
    sds_test::nim::SdsMessage proto = ToNimProto(m);
    const bool with_unknown_fields = random.Chance(3);
    if (with_unknown_fields) AddUnknownFields(random, &proto);
    const std::string wire = proto.SerializeAsString();
    // nim-sds 0.3's rules: the random messages include empty ids.
    DecodeLimits nim03;
    nim03.nim_presence = NimPresence::kNimSds03;
    Result<Message> decoded = Decode(AsSpan(wire), Dialect::kNim, nim03);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ExpectSameNim(*decoded, proto);
    EXPECT_EQ(*DetectDialect(AsSpan(wire)), Dialect::kNim);
    if (!with_unknown_fields) {
      EXPECT_TRUE(AsString(Encode(*decoded, Dialect::kNim)) == wire);
    }
  }
}

TEST(CodecProtobufCrosscheckTest, SpecEncodeParsesWithLibprotobuf) {
  RandomMessages random(0x5d5'0003);
  for (int round = 0; round < kRoundsPerDirection; ++round) {
    SCOPED_TRACE(round);
    const Message m = random.Next(Dialect::kSpec, /*allow_negative_lamport=*/true);
    const Bytes wire = Encode(m, Dialect::kSpec);
    sds_test::spec::Message parsed;
    ASSERT_TRUE(parsed.ParseFromArray(wire.data(), static_cast<int>(wire.size())));
    ExpectSameSpec(m, parsed);
    EXPECT_TRUE(parsed.SerializeAsString() == AsString(wire));
  }
}

TEST(CodecProtobufCrosscheckTest, LibprotobufSpecDecodesWithOurs) {
  RandomMessages random(0x5d5'0004);
  for (int round = 0; round < kRoundsPerDirection; ++round) {
    SCOPED_TRACE(round);
    const Message m = random.Next(Dialect::kSpec, /*allow_negative_lamport=*/false);
    sds_test::spec::Message proto = ToSpecProto(m);
    const bool with_unknown_fields = random.Chance(3);
    if (with_unknown_fields) AddUnknownFields(random, &proto);
    const std::string wire = proto.SerializeAsString();
    Result<Message> decoded = Decode(AsSpan(wire), Dialect::kSpec);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ExpectSameSpec(*decoded, proto);
    if (!with_unknown_fields) {
      EXPECT_TRUE(AsString(Encode(*decoded, Dialect::kSpec)) == wire);
    }
  }
}

TEST(CodecProtobufCrosscheckTest, LibprotobufRejectsWhatWeRejectAsMalformed) {
  // Inputs our reader calls malformed must not be valid protobuf either, so
  // that we never refuse a message a conforming peer could have written. The
  // deliberate exceptions are not listed: groups (wire types 3/4, which
  // libprotobuf still skips as unknown fields but no SDS peer writes) and a
  // 10th varint byte above 1 (libprotobuf drops the excess bits).
  const std::vector<std::string> malformed_hex = {
      "0a05616263",                // length past the end
      "1080",                      // truncated varint
      "0e00",                      // wire type 6
      "0001",                      // field number 0
      "10ffffffffffffffffff8001",  // 11-byte varint
  };
  for (const std::string& hex : malformed_hex) {
    Bytes bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    EXPECT_EQ(Decode(bytes, Dialect::kNim).status().code(), ErrorCode::kDecodeMalformed) << hex;
    sds_test::spec::Message parsed;
    EXPECT_FALSE(parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) << hex;
  }
}

}  // namespace
}  // namespace sds
