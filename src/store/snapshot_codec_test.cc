// Snapshot codec: GoogleTest counterparts of nim-sds tests/test_snapshot_codec.nim
// (nim-sds.md §8.4, tests 1-12), the nim-sds golden vectors (channel_meta,
// history_update, channel_data) and the sds extension fields.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sds/codec.h"
#include "sds/snapshot.h"
#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::FromHex;
using testutil::NimVectors;
using testutil::ToHex;

Timestamp FromUnix(int64_t seconds) { return TimestampFromUnixMillis(seconds * 1000); }

// nim's mkMsg(id, ts = 1, content = @[]): channel "chan", sender "alice".
SharedBytes MkMsg(const MessageId& id, LamportTime ts = 1, Bytes content = {}) {
  Message m;
  m.message_id = id;
  m.lamport_timestamp = ts;
  m.channel_id = "chan";
  m.sender_id = "alice";
  m.content = ByteSpan(content);
  m.bloom_filter = ByteSpan();
  return SharedBytes(Encode(m, Dialect::kNim));
}
HistoryEntry MkHistEntry(const MessageId& id) { return HistoryEntry{id, {}, "alice"}; }

Message Decoded(const SharedBytes& bytes) {
  auto m = Decode(bytes.span(), Dialect::kNim);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : Message{};
}

ChannelMeta RoundTrip(const ChannelMeta& meta) {
  auto decoded = DecodeChannelMeta(EncodeChannelMeta(meta));
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? *decoded : ChannelMeta{};
}

// ---- "snapshot codec — ChannelMeta" -------------------------------------------------------

TEST(SnapshotCodecTest, EmptyMetaRoundTrips) {  // nim 1
  ChannelMeta meta = RoundTrip(ChannelMeta{});
  EXPECT_EQ(meta.schema_version, 1u);
  EXPECT_EQ(meta.lamport, 0);
  EXPECT_THAT(meta.outgoing, IsEmpty());
  EXPECT_THAT(meta.incoming, IsEmpty());
  EXPECT_THAT(meta.outgoing_repair, IsEmpty());
  EXPECT_THAT(meta.incoming_repair, IsEmpty());
  EXPECT_EQ(ToHex(EncodeChannelMeta(ChannelMeta{})), "08011000");
}

TEST(SnapshotCodecTest, MetaWithLamportAndSingleOutgoingEntry) {  // nim 2
  ChannelMeta meta;
  meta.lamport = 42;
  meta.outgoing.push_back(
      SnapshotOutgoing{"m1", MkMsg("m1", 42, {1, 2, 3}), FromUnix(1'700'000'000), 2, 0});
  ChannelMeta out = RoundTrip(meta);
  EXPECT_EQ(out.lamport, 42);
  ASSERT_EQ(out.outgoing.size(), 1u);
  EXPECT_EQ(out.outgoing[0].message_id, "m1");
  EXPECT_EQ(Decoded(out.outgoing[0].message).lamport_timestamp, 42);
  EXPECT_EQ(ToString(*Decoded(out.outgoing[0].message).content), std::string("\x01\x02\x03"));
  EXPECT_EQ(out.outgoing[0].send_time, FromUnix(1'700'000'000));
  EXPECT_EQ(out.outgoing[0].resend_attempts, 2u);
}

TEST(SnapshotCodecTest, MetaWithIncomingEntryCarryingMissingDeps) {  // nim 3
  ChannelMeta meta;
  meta.incoming.push_back(SnapshotIncoming{"m2", MkMsg("m2"), {"dep1", "dep2"}});
  ChannelMeta out = RoundTrip(meta);
  ASSERT_EQ(out.incoming.size(), 1u);
  EXPECT_EQ(out.incoming[0].message_id, "m2");
  EXPECT_THAT(out.incoming[0].missing_deps, ElementsAre("dep1", "dep2"));
}

TEST(SnapshotCodecTest, MetaWithBothRepairBuffers) {  // nim 4
  ChannelMeta meta;
  meta.outgoing_repair.push_back(
      SnapshotOutgoingRepair{"missing1", MkHistEntry("missing1"), FromUnix(1'700'000'100), 0});
  meta.incoming_repair.push_back(SnapshotIncomingRepair{"requested1", MkHistEntry("requested1"),
                                                        SharedBytes(Bytes{9, 8, 7, 6}),
                                                        FromUnix(1'700'000'200)});
  ChannelMeta out = RoundTrip(meta);
  ASSERT_EQ(out.outgoing_repair.size(), 1u);
  EXPECT_EQ(out.outgoing_repair[0].message_id, "missing1");
  EXPECT_EQ(out.outgoing_repair[0].entry, MkHistEntry("missing1"));
  EXPECT_EQ(out.outgoing_repair[0].deadline, FromUnix(1'700'000'100));
  ASSERT_EQ(out.incoming_repair.size(), 1u);
  EXPECT_EQ(out.incoming_repair[0].message_id, "requested1");
  EXPECT_EQ(out.incoming_repair[0].cached_message.ToBytes(), (Bytes{9, 8, 7, 6}));
  EXPECT_EQ(out.incoming_repair[0].deadline, FromUnix(1'700'000'200));
}

TEST(SnapshotCodecTest, FullyPopulatedMetaWithSeveralEntriesPerBuffer) {  // nim 5
  ChannelMeta meta;
  meta.lamport = 999;
  for (uint32_t i = 0; i < 5; ++i) {
    std::string id = "o" + std::to_string(i);
    meta.outgoing.push_back(SnapshotOutgoing{id, MkMsg(id, i, {static_cast<uint8_t>(i)}),
                                             FromUnix(1'700'000'000 + i), i, 0});
  }
  for (int i = 0; i < 3; ++i) {
    std::string id = "i" + std::to_string(i);
    meta.incoming.push_back(SnapshotIncoming{id, MkMsg(id, 100 + i), {"dep" + std::to_string(i)}});
  }
  for (int i = 0; i < 4; ++i) {
    std::string id = "or" + std::to_string(i);
    meta.outgoing_repair.push_back(SnapshotOutgoingRepair{id, MkHistEntry(id), FromUnix(i), 0});
  }
  for (uint8_t i = 0; i < 2; ++i) {
    std::string id = "ir" + std::to_string(i);
    meta.incoming_repair.push_back(SnapshotIncomingRepair{
        id, MkHistEntry(id), SharedBytes(Bytes{i, static_cast<uint8_t>(i + 1)}), FromUnix(i)});
  }
  ChannelMeta out = RoundTrip(meta);
  EXPECT_EQ(out.lamport, 999);
  ASSERT_EQ(out.outgoing.size(), 5u);
  ASSERT_EQ(out.incoming.size(), 3u);
  ASSERT_EQ(out.outgoing_repair.size(), 4u);
  ASSERT_EQ(out.incoming_repair.size(), 2u);
  EXPECT_EQ(out.outgoing[4].message_id, "o4");
  EXPECT_EQ(out.outgoing[4].resend_attempts, 4u);
  EXPECT_EQ(out.outgoing_repair[3].message_id, "or3");
  EXPECT_EQ(out.incoming_repair[1].cached_message.ToBytes(), (Bytes{1, 2}));
}

TEST(SnapshotCodecTest, DecoderRejectsUnknownSchemaVersion) {  // nim 6
  ChannelMeta meta;
  meta.schema_version = 999;
  auto decoded = DecodeChannelMeta(EncodeChannelMeta(meta));
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), ::testing::HasSubstr("schema version 999"));
}

// ---- "snapshot codec — ChannelData" -------------------------------------------------------

TEST(SnapshotCodecTest, EmptyChannelDataRoundTrips) {  // nim 7
  auto data = DecodeChannelData(EncodeChannelData(ChannelData{}));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->meta.schema_version, 1u);
  EXPECT_THAT(data->message_history, IsEmpty());
}

TEST(SnapshotCodecTest, ChannelDataPreservesHistoryOrder) {  // nim 8
  ChannelData in;
  in.meta.lamport = 17;
  for (const char* id : {"h1", "h2", "h3"}) in.message_history.push_back(MkMsg(id));
  auto data = DecodeChannelData(EncodeChannelData(in));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->meta.lamport, 17);
  std::vector<MessageId> ids;
  for (const auto& m : data->message_history) ids.push_back(Decoded(m).message_id);
  EXPECT_THAT(ids, ElementsAre("h1", "h2", "h3"));
}

// ---- "snapshot codec — HistoryUpdate" -----------------------------------------------------

TEST(SnapshotCodecTest, EmptyUpdateIsEmpty) {  // nim 9
  EXPECT_TRUE(HistoryUpdate{}.empty());
  EXPECT_THAT(EncodeHistoryUpdate(HistoryUpdate{}), IsEmpty());
}

TEST(SnapshotCodecTest, AppendOnlyUpdate) {  // nim 10
  HistoryUpdate u;
  u.append.push_back(HistoryAppend{"a1", MkMsg("a1"), {}});
  u.append.push_back(HistoryAppend{"a2", MkMsg("a2"), {}});
  auto out = DecodeHistoryUpdate(EncodeHistoryUpdate(u));
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->append.size(), 2u);
  EXPECT_EQ(out->append[0].message_id, "a1");
  EXPECT_EQ(out->append[1].message_id, "a2");
  EXPECT_THAT(out->evict, IsEmpty());
}

TEST(SnapshotCodecTest, EvictOnlyUpdate) {  // nim 11
  HistoryUpdate u;
  u.evict = {"e1", "e2", "e3"};
  auto out = DecodeHistoryUpdate(EncodeHistoryUpdate(u));
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->evict, ElementsAre("e1", "e2", "e3"));
  EXPECT_THAT(out->append, IsEmpty());
  HistoryUpdate e1;
  e1.evict = {"e1"};
  EXPECT_EQ(ToHex(EncodeHistoryUpdate(e1)), "12026531");  // nim-sds.md §3.4
}

TEST(SnapshotCodecTest, MixedAppendAndEvictUpdate) {  // nim 12
  HistoryUpdate u;
  u.append.push_back(HistoryAppend{"new", MkMsg("new"), {}});
  u.evict = {"old1", "old2"};
  auto out = DecodeHistoryUpdate(EncodeHistoryUpdate(u));
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->append.size(), 1u);
  EXPECT_EQ(out->append[0].message_id, "new");
  EXPECT_THAT(out->evict, ElementsAre("old1", "old2"));
}

// ---- nim-sds golden vectors ---------------------------------------------------------------

TEST(SnapshotCodecVectors, ChannelMetaVectorsDecodeToTheirContents) {
  std::set<std::string> seen;
  for (const auto& v : NimVectors("channel_meta")) {
    const std::string name = v["name"];
    seen.insert(name);
    Bytes bytes = FromHex(v["hex"].get<std::string>());
    auto meta = DecodeChannelMeta(bytes);
    ASSERT_TRUE(meta.ok()) << name << ": " << meta.status().ToString();
    // Only sets have an arbitrary order; everything else re-encodes byte for byte.
    if (name != "incoming_two_deps_hashset_order") {
      EXPECT_EQ(ToHex(EncodeChannelMeta(*meta)), v["hex"].get<std::string>()) << name;
    }
    if (name == "empty") {
      EXPECT_EQ(meta->lamport, 0);
    } else if (name == "lamport42_one_outgoing") {
      EXPECT_EQ(meta->lamport, 42);
      ASSERT_EQ(meta->outgoing.size(), 1u);
      EXPECT_EQ(meta->outgoing[0].message_id, "m1");
      EXPECT_EQ(UnixMillis(meta->outgoing[0].send_time), v["sendTimeUnixMs"].get<int64_t>());
      EXPECT_EQ(meta->outgoing[0].resend_attempts, 2u);
    } else if (name == "sendtime_with_millis_attempts0") {
      EXPECT_EQ(meta->lamport, 7);
      ASSERT_EQ(meta->outgoing.size(), 1u);
      EXPECT_EQ(UnixMillis(meta->outgoing[0].send_time), 1'700'000'000'123);  // ns dropped
      EXPECT_EQ(meta->outgoing[0].resend_attempts, 0u);
    } else if (name == "incoming_one_dep") {
      ASSERT_EQ(meta->incoming.size(), 1u);
      EXPECT_EQ(meta->incoming[0].message_id, "m2");
      EXPECT_THAT(meta->incoming[0].missing_deps, ElementsAre("dep1"));
    } else if (name == "incoming_two_deps_hashset_order") {
      ASSERT_EQ(meta->incoming.size(), 1u);
      EXPECT_THAT(meta->incoming[0].missing_deps, ::testing::UnorderedElementsAre("dep1", "dep2"));
    } else if (name == "both_repair_buffers") {
      ASSERT_EQ(meta->outgoing_repair.size(), 1u);
      EXPECT_EQ(meta->outgoing_repair[0].message_id, "missing1");
      EXPECT_EQ(meta->outgoing_repair[0].entry, MkHistEntry("missing1"));
      EXPECT_EQ(meta->outgoing_repair[0].deadline, FromUnix(1'700'000'100));
      ASSERT_EQ(meta->incoming_repair.size(), 1u);
      EXPECT_EQ(meta->incoming_repair[0].message_id, "requested1");
      EXPECT_EQ(meta->incoming_repair[0].cached_message.ToBytes(), (Bytes{9, 8, 7, 6}));
      EXPECT_EQ(meta->incoming_repair[0].deadline, FromUnix(1'700'000'200));
    } else if (name == "mixed") {
      EXPECT_EQ(meta->lamport, 999);
      EXPECT_EQ(meta->outgoing.size(), 2u);
      EXPECT_EQ(meta->incoming.size(), 1u);
      EXPECT_EQ(meta->outgoing_repair.size(), 1u);
      EXPECT_EQ(meta->outgoing[1].resend_attempts, 1u);
    }
  }
  EXPECT_EQ(seen.size(), 7u);
}

TEST(SnapshotCodecVectors, GoldenMetaFromTheReference) {
  // nim-sds.md §3.4: lamport 7, one outgoing, one incoming, one repair each way.
  const std::string hex =
      "08011007"
      "1a18"
      "0a0d0a01611001220163"
      "2a01093200"
      "10fbd095ffbc31"
      "1800"
      "2211"
      "0a0c0a016210022201632a003200"
      "120164"
      "2a14"
      "0a0164"
      "120f"
      "0a060a01641a0173"
      "10e8d795ffbc31"
      "3214"
      "0a0165"
      "120f"
      "0a030a0165"
      "1201ff"
      "18d0df95ffbc31";
  auto meta = DecodeChannelMeta(FromHex(hex));
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->lamport, 7);
  ASSERT_EQ(meta->outgoing.size(), 1u);
  EXPECT_EQ(UnixMillis(meta->outgoing[0].send_time), 1'700'000'000'123);
  EXPECT_THAT(meta->incoming.at(0).missing_deps, ElementsAre("d"));
  EXPECT_EQ(meta->outgoing_repair.at(0).entry.sender_id, "s");
  EXPECT_EQ(meta->incoming_repair.at(0).cached_message.ToBytes(), Bytes{0xff});
  EXPECT_EQ(ToHex(EncodeChannelMeta(*meta)), hex);
}

TEST(SnapshotCodecVectors, HistoryUpdateAndChannelDataVectors) {
  for (const auto& v : NimVectors("history_update")) {
    const std::string name = v["name"];
    if (!v.contains("hex")) {
      EXPECT_EQ(name, "empty");  // nim-sds asserts on encoding an empty update
      continue;
    }
    auto u = DecodeHistoryUpdate(FromHex(v["hex"].get<std::string>()));
    ASSERT_TRUE(u.ok()) << name;
    EXPECT_EQ(ToHex(EncodeHistoryUpdate(*u)), v["hex"].get<std::string>());
    if (name == "two_appends_two_evicts") {
      ASSERT_EQ(u->append.size(), 2u);
      EXPECT_EQ(u->append[0].message_id, "m1");
      EXPECT_EQ(u->append[1].message_id, "m2");
      EXPECT_THAT(u->evict, ElementsAre("m0", "old"));
    } else if (name == "evict_only") {
      EXPECT_THAT(u->append, IsEmpty());
      EXPECT_THAT(u->evict, ElementsAre("x"));
    }
  }
  for (const auto& v : NimVectors("channel_data")) {
    auto d = DecodeChannelData(FromHex(v["hex"].get<std::string>()));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->meta.lamport, 3);
    ASSERT_EQ(d->message_history.size(), 2u);
    EXPECT_EQ(Decoded(d->message_history[0]).message_id, "h1");
    EXPECT_EQ(Decoded(d->message_history[1]).message_id, "h2");
    EXPECT_EQ(ToHex(EncodeChannelData(*d)), v["hex"].get<std::string>());
  }
}

TEST(SnapshotCodecTest, ExtensionFieldsRoundTripAndAreSkippableByNim) {
  ChannelMeta meta;
  meta.lamport = 5;
  meta.outgoing.push_back(SnapshotOutgoing{"m1", MkMsg("m1"), FromUnix(1), 1, 3});
  meta.outgoing_repair.push_back(SnapshotOutgoingRepair{"r", MkHistEntry("r"), FromUnix(2), 2});
  meta.sync_due = FromUnix(9);
  meta.sync_count = 4;
  meta.delivered = {"a", "b"};
  ChannelMeta out = RoundTrip(meta);
  EXPECT_EQ(out.outgoing.at(0).bloom_hits, 3u);
  EXPECT_EQ(out.outgoing_repair.at(0).attempts, 2u);
  EXPECT_EQ(out.sync_due, FromUnix(9));
  EXPECT_EQ(out.sync_count, 4u);
  EXPECT_THAT(out.delivered, ElementsAre("a", "b"));
  ChannelData data;
  data.meta = meta;
  data.message_history.push_back(MkMsg("h"));
  data.retrieval_hints.push_back(RetrievalHintRecord{"h", ToBytes("hint")});
  auto d = DecodeChannelData(EncodeChannelData(data));
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(d->retrieval_hints, ElementsAre(RetrievalHintRecord{"h", ToBytes("hint")}));
}

TEST(SnapshotCodecTest, RejectsMissingRequiredFieldsAndBadMessages) {
  EXPECT_EQ(DecodeChannelMeta(FromHex("1000")).status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(DecodeChannelMeta(FromHex("0801")).status().code(), ErrorCode::kDecodeMissingField);
  // An outgoing entry whose message is not an SdsMessage fails the whole snapshot.
  EXPECT_FALSE(DecodeChannelMeta(FromHex("080110001a050a03ffffff1001")).ok());
  EXPECT_FALSE(DecodeChannelMeta(FromHex("08")).ok());
}

}  // namespace
}  // namespace sds
