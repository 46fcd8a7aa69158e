#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sds/catchup_protocol.h"
#include "tests/testutil/catchup_messages.h"
#include "wire/proto_writer.h"

// Messages are built with designated initializers that leave the other
// members at their defaults, which is what GCC's -Wextra would flag.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace sds::catchup {
namespace {

using testutil::RandomCatchupMessages;

// Hand-built protobuf, for inputs our encoder would never write.
class Raw {
 public:
  Raw& Varint(uint32_t number, uint64_t value) {
    writer().WriteVarintField(number, value);
    return *this;
  }
  Raw& Str(uint32_t number, std::string_view value) {
    writer().WriteStringField(number, value);
    return *this;
  }
  Raw& Msg(uint32_t number, const Raw& message) {
    writer().WriteBytesField(number, message.bytes_);
    return *this;
  }
  Raw& Fixed32(uint32_t number, uint32_t value) {
    writer().WriteTag(number, wire::WireType::kFixed32);
    for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return *this;
  }
  Raw& Fixed64(uint32_t number, uint64_t value) {
    writer().WriteTag(number, wire::WireType::kFixed64);
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return *this;
  }
  Raw& Append(const Bytes& bytes) {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  const Bytes& bytes() const { return bytes_; }
  operator ByteSpan() const { return bytes_; }  // NOLINT: implicit view

 private:
  wire::ProtoWriter writer() { return wire::ProtoWriter(bytes_); }
  Bytes bytes_;
};

Epoch MakeEpoch(uint8_t seed) {
  Epoch epoch;
  for (size_t i = 0; i < epoch.size(); ++i) epoch[i] = static_cast<uint8_t>(seed + i);
  return epoch;
}
std::string EpochString(uint8_t seed) {
  const Epoch e = MakeEpoch(seed);
  return std::string(e.begin(), e.end());
}

std::string Hex(const Bytes& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

Entry MakeEntry(uint64_t seq, std::string id = "", size_t payload = 3) {
  Entry e;
  e.seq = seq;
  e.message_id = id.empty() ? "m" + std::to_string(seq) : id;
  e.lamport = static_cast<LamportTime>(1000 + seq);
  e.payload.assign(payload, static_cast<uint8_t>(seq));
  return e;
}

ChannelResult Delta(uint64_t from, uint64_t to, uint64_t head, uint64_t low = 1) {
  ChannelResult r;
  r.channel_id = "chan";
  r.status = SyncStatus::kDelta;
  r.epoch = MakeEpoch(1);
  r.low_seq = low;
  r.head_seq = head;
  r.from_seq = from;
  r.to_seq = to;
  r.has_more = to < head;
  for (uint64_t i = 0; i <= to - from; ++i) r.entries.push_back(MakeEntry(from + i));
  return r;
}

// UP_TO_DATE carries channel_id and status only.
ChannelResult UpToDate(std::string channel) {
  ChannelResult r;
  r.channel_id = std::move(channel);
  r.status = SyncStatus::kUpToDate;
  return r;
}

ChannelResult Cold(std::string channel, ColdReason reason, uint64_t low = 1, uint64_t head = 7) {
  ChannelResult r;
  r.channel_id = std::move(channel);
  r.status = SyncStatus::kColdStartRequired;
  r.reason = reason;
  r.epoch = MakeEpoch(2);
  r.low_seq = low;
  r.head_seq = head;
  return r;
}

// The response an answer holds (a copy: answers are usually temporaries), or
// a default-constructed one after a test failure.
template <typename T>
T ResponseOf(const Result<Answer<T>>& answer) {
  EXPECT_TRUE(answer.ok()) << answer.status().ToString();
  if (!answer.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*answer));
  const T* response = std::get_if<T>(&*answer);
  return response != nullptr ? *response : T{};
}

// A decoded sync response's error code, or kOk.
ErrorCode SyncCode(ByteSpan bytes, const ProtocolLimits& limits = {}) {
  return DecodeSyncResponse(bytes, limits).status().code();
}

// A SyncAnswer holding `response` (field 2).
Raw SyncAnswerOf(const Raw& response) { return Raw().Msg(2, response); }

// A SyncAnswer with one ChannelResult built by `result`.
Raw SyncAnswerWith(const Raw& result) { return SyncAnswerOf(Raw().Str(1, "store").Msg(2, result)); }

// ---- Names ------------------------------------------------------------------

TEST(CatchupProtocolCodecTest, StatusAndReasonNames) {
  EXPECT_STREQ(SyncStatusName(SyncStatus::kDelta), "DELTA");
  EXPECT_STREQ(SyncStatusName(SyncStatus::kUpToDate), "UP_TO_DATE");
  EXPECT_STREQ(SyncStatusName(SyncStatus::kColdStartRequired), "COLD_START_REQUIRED");
  EXPECT_STREQ(SyncStatusName(SyncStatus::kUnknownChannel), "UNKNOWN_CHANNEL");
  EXPECT_STREQ(SyncStatusName(static_cast<SyncStatus>(9)), "INVALID");
  EXPECT_STREQ(ColdReasonName(ColdReason::kNone), "NONE");
  EXPECT_STREQ(ColdReasonName(ColdReason::kNoCursor), "NO_CURSOR");
  EXPECT_STREQ(ColdReasonName(ColdReason::kEpochMismatch), "EPOCH_MISMATCH");
  EXPECT_STREQ(ColdReasonName(ColdReason::kBehindRetention), "BEHIND_RETENTION");
  EXPECT_STREQ(ColdReasonName(ColdReason::kAheadOfHead), "AHEAD_OF_HEAD");
  EXPECT_STREQ(ColdReasonName(static_cast<ColdReason>(9)), "INVALID");
}

// ---- Exact bytes: the field numbers of proto/catchup.proto ------------------

TEST(CatchupProtocolCodecTest, GoldenBytesPinTheFieldNumbers) {
  SyncRequest request;
  request.channels.push_back({.channel_id = "a", .cursor = Cursor{MakeEpoch(0), 5}});
  request.channels.push_back({.channel_id = "b", .cursor = std::nullopt});
  request.max_entries = 100;
  request.max_bytes = 300;
  request.ids_only = true;
  EXPECT_EQ(Hex(EncodeSyncRequest(request)),
            "0801"                                  // protocol_version 1
            "1219"                                  // channels[0]
            "0a0161"                                //   channel_id "a"
            "1214"                                  //   cursor
            "0a10000102030405060708090a0b0c0d0e0f"  //     epoch
            "1005"                                  //     seq 5
            "1203"                                  // channels[1]
            "0a0162"                                //   channel_id "b", no cursor
            "1864"                                  // max_entries 100
            "20ac02"                                // max_bytes 300
            "2801");                                // ids_only

  SyncResponse response;
  response.store_id = ToBytes("s");
  response.channels.push_back(UpToDate("c"));
  response.channels.push_back(Cold("d", ColdReason::kEpochMismatch, 1, 7));
  EXPECT_EQ(Hex(EncodeSyncResponse(response)),
            "1229"                              // SyncAnswer.response
            "0a0173"                            //   store_id "s"
            "1205"                              //   channels[0]
            "0a0163"                            //     channel_id "c"
            "1002"                              //     status UP_TO_DATE, nothing else
            "121d"                              //   channels[1]
            "0a0164"                            //     channel_id "d"
            "1003"                              //     status COLD_START_REQUIRED
            "1802"                              //     reason EPOCH_MISMATCH
            "2210"                              //     epoch
            "02030405060708090a0b0c0d0e0f1011"  //
            "2801"                              //     low_seq 1
            "3007");                            //     head_seq 7

  ServiceError error{.code = ServiceErrorCode::kBusy, .message = "x", .retry_after_ms = 5};
  EXPECT_EQ(Hex(EncodeServiceError(error)),
            "0a07"    // answer.error (field 1 of every answer)
            "0804"    //   code BUSY
            "120178"  //   message "x"
            "1805");  //   retry_after_ms 5
}

// ---- Round trips ------------------------------------------------------------

TEST(CatchupProtocolCodecTest, RequestsRoundTrip) {
  SyncRequest sync;
  sync.channels.push_back({.channel_id = "a", .cursor = Cursor{MakeEpoch(3), 0}});
  sync.channels.push_back({.channel_id = "", .cursor = std::nullopt});
  sync.channels.push_back(
      {.channel_id = "z", .cursor = Cursor{MakeEpoch(4), std::numeric_limits<uint64_t>::max()}});
  sync.ids_only = true;
  Result<SyncRequest> sync_back = DecodeSyncRequest(EncodeSyncRequest(sync));
  ASSERT_TRUE(sync_back.ok()) << sync_back.status().ToString();
  EXPECT_EQ(*sync_back, sync);

  SnapshotRequest snapshot{.channel_ids = {"a", "", std::string("\0\xff", 2)},
                           .entries_per_channel = 1000};
  Result<SnapshotRequest> snapshot_back = DecodeSnapshotRequest(EncodeSnapshotRequest(snapshot));
  ASSERT_TRUE(snapshot_back.ok()) << snapshot_back.status().ToString();
  EXPECT_EQ(*snapshot_back, snapshot);

  FetchRequest fetch{.channel_id = "c",
                     .message_ids = {"m1", "", "m3"},
                     .retrieval_hints = {ToBytes("h1"), Bytes{}}};
  Result<FetchRequest> fetch_back = DecodeFetchRequest(EncodeFetchRequest(fetch));
  ASSERT_TRUE(fetch_back.ok()) << fetch_back.status().ToString();
  EXPECT_EQ(*fetch_back, fetch);

  BackfillRequest backfill{.channel_id = "c", .epoch = MakeEpoch(9), .before_seq = 42};
  Result<BackfillRequest> backfill_back = DecodeBackfillRequest(EncodeBackfillRequest(backfill));
  ASSERT_TRUE(backfill_back.ok()) << backfill_back.status().ToString();
  EXPECT_EQ(*backfill_back, backfill);
}

TEST(CatchupProtocolCodecTest, AbsentRequestFieldsDecodeToZeroNotToClientDefaults) {
  // All-default on the wire is the empty message: 0 asks for the store's default.
  SyncRequest zero;
  zero.protocol_version = 0;
  zero.max_entries = 0;
  zero.max_bytes = 0;
  EXPECT_TRUE(EncodeSyncRequest(zero).empty());
  Result<SyncRequest> decoded = DecodeSyncRequest(ByteSpan());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, zero);
  EXPECT_EQ(DecodeSnapshotRequest(ByteSpan())->entries_per_channel, 0u);
  EXPECT_EQ(DecodeSnapshotRequest(ByteSpan())->protocol_version, 0u);
  EXPECT_EQ(DecodeFetchRequest(ByteSpan())->protocol_version, 0u);
}

TEST(CatchupProtocolCodecTest, ResponsesRoundTrip) {
  SyncResponse sync;
  sync.store_id = ToBytes("store-1");
  sync.channels.push_back(Delta(5, 7, 9, 2));
  sync.channels.push_back(UpToDate("u"));
  sync.channels.push_back(Cold("cold", ColdReason::kBehindRetention, 20, 90));
  ChannelResult unknown;
  unknown.channel_id = "gone";
  unknown.status = SyncStatus::kUnknownChannel;
  sync.channels.push_back(unknown);
  ChannelResult ids_only = Delta(1, 1, 1);
  ids_only.entries[0].payload.clear();
  ids_only.entries[0].lamport = 0;
  sync.channels.push_back(ids_only);
  EXPECT_EQ(ResponseOf(DecodeSyncResponse(EncodeSyncResponse(sync))), sync);

  SnapshotResponse snapshot;
  snapshot.store_id = ToBytes("s");
  ChannelSnapshot full{.channel_id = "a",
                       .epoch = MakeEpoch(5),
                       .snapshot_seq = 10,
                       .low_seq = 3,
                       .entries = {MakeEntry(9), MakeEntry(10)},
                       .max_lamport = std::numeric_limits<int64_t>::max(),
                       .retained_count = 8};
  ChannelSnapshot empty_log{
      .channel_id = "b", .epoch = MakeEpoch(6), .snapshot_seq = 0, .low_seq = 1};
  snapshot.channels = {full, empty_log};
  snapshot.unknown_channel_ids = {"x", ""};
  EXPECT_EQ(ResponseOf(DecodeSnapshotResponse(EncodeSnapshotResponse(snapshot))), snapshot);

  FetchResponse fetch{.store_id = ToBytes("s"),
                      .epoch = MakeEpoch(7),
                      .entries = {MakeEntry(3), MakeEntry(90)},
                      .missing_ids = {"gone"},
                      .missing_hints = {ToBytes("h")}};
  EXPECT_EQ(ResponseOf(DecodeFetchResponse(EncodeFetchResponse(fetch))), fetch);
  FetchResponse fetch_unknown{.store_id = ToBytes("s"), .missing_ids = {"a", "b"}};
  EXPECT_EQ(ResponseOf(DecodeFetchResponse(EncodeFetchResponse(fetch_unknown))), fetch_unknown);

  BackfillResponse backfill{.store_id = ToBytes("s"),
                            .status = SyncStatus::kDelta,
                            .epoch = MakeEpoch(8),
                            .low_seq = 4,
                            .entries = {MakeEntry(4), MakeEntry(5)},
                            .reached_low = true};
  EXPECT_EQ(ResponseOf(DecodeBackfillResponse(EncodeBackfillResponse(backfill))), backfill);
  BackfillResponse mismatch{.store_id = ToBytes("s"),
                            .status = SyncStatus::kColdStartRequired,
                            .epoch = MakeEpoch(9),
                            .low_seq = 4};
  EXPECT_EQ(ResponseOf(DecodeBackfillResponse(EncodeBackfillResponse(mismatch))), mismatch);
  BackfillResponse unknown_channel{.store_id = ToBytes("s"), .status = SyncStatus::kUnknownChannel};
  EXPECT_EQ(ResponseOf(DecodeBackfillResponse(EncodeBackfillResponse(unknown_channel))),
            unknown_channel);
}

TEST(CatchupProtocolCodecTest, EmptyResponsesRoundTrip) {
  SyncResponse sync{.store_id = ToBytes("s")};
  EXPECT_EQ(ResponseOf(DecodeSyncResponse(EncodeSyncResponse(sync))), sync);
  SnapshotResponse snapshot{.store_id = ToBytes("s")};
  EXPECT_EQ(ResponseOf(DecodeSnapshotResponse(EncodeSnapshotResponse(snapshot))), snapshot);
  FetchResponse fetch{.store_id = ToBytes("s")};
  EXPECT_EQ(ResponseOf(DecodeFetchResponse(EncodeFetchResponse(fetch))), fetch);
}

TEST(CatchupProtocolCodecTest, ServiceErrorAnswersEveryKind) {
  const ServiceError error{.code = ServiceErrorCode::kUnsupportedVersion,
                           .message = "speak 1",
                           .retry_after_ms = 0,
                           .supported_version = 1};
  const Bytes wire = EncodeServiceError(error);
  auto expect_error = [&](const auto& answer) {
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    ASSERT_TRUE(std::holds_alternative<ServiceError>(*answer));
    EXPECT_EQ(std::get<ServiceError>(*answer), error);
  };
  expect_error(DecodeSyncResponse(wire));
  expect_error(DecodeSnapshotResponse(wire));
  expect_error(DecodeFetchResponse(wire));
  expect_error(DecodeBackfillResponse(wire));
  for (int code = 1; code <= 5; ++code) {
    const ServiceError e{.code = static_cast<ServiceErrorCode>(code),
                         .message = "",
                         .retry_after_ms = std::numeric_limits<uint32_t>::max()};
    Result<Answer<SyncResponse>> back = DecodeSyncResponse(EncodeServiceError(e));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(std::get<ServiceError>(*back), e);
  }
}

TEST(CatchupProtocolCodecTest, AnswerOfAnotherKindIsMissingNotMisread) {
  SyncResponse sync{.store_id = ToBytes("s"), .channels = {UpToDate("c")}};
  const Bytes wire = EncodeSyncResponse(sync);
  EXPECT_EQ(DecodeSnapshotResponse(wire).status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(DecodeFetchResponse(wire).status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(DecodeBackfillResponse(wire).status().code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(SyncCode(ByteSpan()), ErrorCode::kDecodeMissingField);
}

// ---- Forward compatibility and protobuf's duplicate rules -------------------

TEST(CatchupProtocolCodecTest, UnknownFieldsAreSkippedAtEveryLevel) {
  const Raw entry = Raw().Varint(1, 4).Str(2, "m").Varint(9, 1).Fixed64(100, 7).Str(3000, "new");
  const Raw result = Raw()
                         .Str(1, "c")
                         .Varint(2, 1)
                         .Fixed32(12, 1)
                         .Str(4, EpochString(1))
                         .Varint(5, 1)
                         .Varint(6, 4)
                         .Varint(7, 4)
                         .Varint(8, 4)
                         .Msg(10, entry)
                         .Msg(11, Raw().Varint(1, 1));
  const Raw response = Raw().Str(1, "s").Msg(2, result).Varint(77, 5);
  const Raw answer = Raw().Varint(100, 1).Msg(2, response).Str(15, "later");
  const SyncResponse decoded = ResponseOf(DecodeSyncResponse(answer));
  ASSERT_EQ(decoded.channels.size(), 1u);
  ASSERT_EQ(decoded.channels[0].entries.size(), 1u);
  EXPECT_EQ(decoded.channels[0].entries[0].message_id, "m");

  const Raw cursor = Raw().Str(1, EpochString(2)).Varint(2, 3).Varint(3, 99);
  const Raw request =
      Raw().Varint(1, 1).Msg(2, Raw().Str(1, "c").Msg(2, cursor).Str(5, "x")).Varint(6, 10);
  Result<SyncRequest> sync = DecodeSyncRequest(request);
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();
  ASSERT_EQ(sync->channels.size(), 1u);
  EXPECT_EQ(sync->channels[0].cursor, (Cursor{MakeEpoch(2), 3}));

  const Raw error = Raw().Msg(1, Raw().Varint(1, 4).Varint(9, 9).Str(10, "x"));
  EXPECT_EQ(std::get<ServiceError>(*DecodeFetchResponse(error)).code, ServiceErrorCode::kBusy);
}

TEST(CatchupProtocolCodecTest, RepeatedSingularFieldsFollowProtobuf) {
  // Last value wins for scalars.
  const Raw result = Raw()
                         .Varint(2, 2)
                         .Varint(2, 3)
                         .Varint(3, 4)
                         .Varint(3, 1)
                         .Str(4, EpochString(1))
                         .Varint(5, 1)
                         .Varint(6, 3)
                         .Varint(6, 4);
  const Raw response = Raw().Str(1, "first").Str(1, "second").Msg(2, result);
  const SyncResponse decoded = ResponseOf(DecodeSyncResponse(SyncAnswerOf(response)));
  EXPECT_EQ(decoded.store_id, ToBytes("second"));
  ASSERT_EQ(decoded.channels.size(), 1u);
  EXPECT_EQ(decoded.channels[0].status, SyncStatus::kColdStartRequired);
  EXPECT_EQ(decoded.channels[0].reason, ColdReason::kNoCursor);
  EXPECT_EQ(decoded.channels[0].head_seq, 4u);

  // A message field seen twice is merged: the cursor's epoch and seq may come
  // in separate occurrences.
  const Raw request =
      Raw().Msg(2, Raw().Msg(2, Raw().Str(1, EpochString(3))).Msg(2, Raw().Varint(2, 8)));
  Result<SyncRequest> sync = DecodeSyncRequest(request);
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();
  ASSERT_EQ(sync->channels.size(), 1u);
  EXPECT_EQ(sync->channels[0].cursor, (Cursor{MakeEpoch(3), 8}));

  // The response member seen twice is merged (repeated fields concatenate)...
  const Raw twice = Raw()
                        .Msg(2, Raw().Str(1, "s").Msg(2, Raw().Str(1, "a").Varint(2, 4)))
                        .Msg(2, Raw().Msg(2, Raw().Str(1, "b").Varint(2, 4)));
  const SyncResponse merged = ResponseOf(DecodeSyncResponse(twice));
  ASSERT_EQ(merged.channels.size(), 2u);
  EXPECT_EQ(merged.store_id, ToBytes("s"));
  EXPECT_EQ(merged.channels[1].channel_id, "b");

  // ...and a oneof switches to the member seen last.
  const Raw error = Raw().Varint(1, 5);
  const Raw then_error = Raw().Msg(2, Raw().Str(1, "s")).Msg(1, error);
  EXPECT_TRUE(std::holds_alternative<ServiceError>(*DecodeSyncResponse(then_error)));
  const Raw then_response = Raw().Msg(1, error).Msg(2, Raw().Str(1, "s"));
  EXPECT_TRUE(std::holds_alternative<SyncResponse>(*DecodeSyncResponse(then_response)));
  // Switching discards what the earlier member held.
  const Raw back_again = Raw()
                             .Msg(2, Raw().Str(1, "old").Msg(2, Raw().Varint(2, 4)))
                             .Msg(1, error)
                             .Msg(2, Raw().Str(1, "new"));
  const SyncResponse fresh = ResponseOf(DecodeSyncResponse(back_again));
  EXPECT_EQ(fresh.store_id, ToBytes("new"));
  EXPECT_TRUE(fresh.channels.empty());
}

TEST(CatchupProtocolCodecTest, NonCanonicalValuesAreReadAsProtobufReadsThem) {
  // A bool is true for any non-zero varint; an epoch of 16 zero bytes is none.
  const Raw request = Raw().Varint(5, 7);
  EXPECT_TRUE(DecodeSyncRequest(request)->ids_only);
  const Raw unknown = Raw().Varint(2, 4).Str(4, std::string(16, '\0'));
  const SyncResponse& decoded = ResponseOf(DecodeSyncResponse(SyncAnswerWith(unknown)));
  ASSERT_EQ(decoded.channels.size(), 1u);
  EXPECT_EQ(decoded.channels[0].epoch, kNoEpoch);
  EXPECT_EQ(decoded.channels[0].status, SyncStatus::kUnknownChannel);
}

// ---- Limits -----------------------------------------------------------------

TEST(CatchupProtocolCodecTest, WholeMessageSizeLimits) {
  ProtocolLimits limits;
  SyncRequest request;
  request.channels.resize(3, ChannelCursor{.channel_id = "chan", .cursor = std::nullopt});
  const Bytes wire = EncodeSyncRequest(request);
  limits.max_request_bytes = wire.size();
  EXPECT_TRUE(DecodeSyncRequest(wire, limits).ok());
  limits.max_request_bytes = wire.size() - 1;
  EXPECT_EQ(DecodeSyncRequest(wire, limits).status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_EQ(DecodeSnapshotRequest(wire, limits).status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_EQ(DecodeFetchRequest(wire, limits).status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_EQ(DecodeBackfillRequest(wire, limits).status().code(), ErrorCode::kDecodeLimitExceeded);

  const Bytes answer = EncodeSyncResponse({.store_id = ToBytes("s"), .channels = {UpToDate("c")}});
  limits.max_response_bytes = answer.size();
  EXPECT_TRUE(DecodeSyncResponse(answer, limits).ok());
  limits.max_response_bytes = answer.size() - 1;
  EXPECT_EQ(SyncCode(answer, limits), ErrorCode::kDecodeLimitExceeded);
  EXPECT_EQ(DecodeSnapshotResponse(answer, limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);
  EXPECT_EQ(DecodeFetchResponse(answer, limits).status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_EQ(DecodeBackfillResponse(answer, limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);
}

TEST(CatchupProtocolCodecTest, ChannelCountLimits) {
  ProtocolLimits limits;
  limits.max_channels_per_request = 3;
  SyncRequest sync;
  sync.channels.resize(3);
  EXPECT_TRUE(DecodeSyncRequest(EncodeSyncRequest(sync), limits).ok());
  sync.channels.resize(4);
  Result<SyncRequest> over = DecodeSyncRequest(EncodeSyncRequest(sync), limits);
  EXPECT_EQ(over.status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_NE(over.status().message().find("max_channels_per_request (3)"), std::string::npos)
      << over.status().message();

  SnapshotRequest snapshot{.channel_ids = {"a", "b", "c"}};
  EXPECT_TRUE(DecodeSnapshotRequest(EncodeSnapshotRequest(snapshot), limits).ok());
  snapshot.channel_ids.push_back("d");
  EXPECT_EQ(DecodeSnapshotRequest(EncodeSnapshotRequest(snapshot), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);

  SyncResponse response{.store_id = ToBytes("s")};
  response.channels.resize(3, UpToDate("c"));
  EXPECT_TRUE(DecodeSyncResponse(EncodeSyncResponse(response), limits).ok());
  response.channels.push_back(UpToDate("d"));
  EXPECT_EQ(SyncCode(EncodeSyncResponse(response), limits), ErrorCode::kDecodeLimitExceeded);

  // Snapshots and unknown ids together answer the request's channels.
  ChannelSnapshot one{.channel_id = "a", .epoch = MakeEpoch(1), .snapshot_seq = 0, .low_seq = 1};
  SnapshotResponse snapshots{
      .store_id = ToBytes("s"), .channels = {one, one}, .unknown_channel_ids = {"x"}};
  EXPECT_TRUE(DecodeSnapshotResponse(EncodeSnapshotResponse(snapshots), limits).ok());
  snapshots.unknown_channel_ids.push_back("y");
  EXPECT_EQ(DecodeSnapshotResponse(EncodeSnapshotResponse(snapshots), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);
}

TEST(CatchupProtocolCodecTest, EntryCountLimitCoversTheWholeResponse) {
  ProtocolLimits limits;
  limits.max_entries_per_response = 5;
  SyncResponse sync{.store_id = ToBytes("s"), .channels = {Delta(1, 3, 3), Delta(1, 2, 2)}};
  EXPECT_TRUE(DecodeSyncResponse(EncodeSyncResponse(sync), limits).ok());
  sync.channels[1] = Delta(1, 3, 3);  // 3 + 3 entries
  Result<Answer<SyncResponse>> over = DecodeSyncResponse(EncodeSyncResponse(sync), limits);
  EXPECT_EQ(over.status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_NE(over.status().message().find("channels[1]"), std::string::npos)
      << over.status().message();

  ChannelSnapshot three{.channel_id = "a",
                        .epoch = MakeEpoch(1),
                        .snapshot_seq = 3,
                        .low_seq = 1,
                        .entries = {MakeEntry(1), MakeEntry(2), MakeEntry(3)}};
  SnapshotResponse snapshot{.store_id = ToBytes("s"), .channels = {three, three}};
  EXPECT_EQ(DecodeSnapshotResponse(EncodeSnapshotResponse(snapshot), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);
  snapshot.channels[1].entries.pop_back();
  snapshot.channels[1].snapshot_seq = 2;
  EXPECT_TRUE(DecodeSnapshotResponse(EncodeSnapshotResponse(snapshot), limits).ok());

  FetchResponse fetch{.store_id = ToBytes("s"), .epoch = MakeEpoch(1)};
  for (uint64_t s = 1; s <= 5; ++s) fetch.entries.push_back(MakeEntry(s));
  EXPECT_TRUE(DecodeFetchResponse(EncodeFetchResponse(fetch), limits).ok());
  fetch.entries.push_back(MakeEntry(6));
  EXPECT_EQ(DecodeFetchResponse(EncodeFetchResponse(fetch), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);

  BackfillResponse backfill{.store_id = ToBytes("s"),
                            .status = SyncStatus::kDelta,
                            .epoch = MakeEpoch(1),
                            .low_seq = 1,
                            .entries = fetch.entries,
                            .reached_low = true};
  EXPECT_EQ(DecodeBackfillResponse(EncodeBackfillResponse(backfill), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);
  backfill.entries.pop_back();
  EXPECT_TRUE(DecodeBackfillResponse(EncodeBackfillResponse(backfill), limits).ok());
}

TEST(CatchupProtocolCodecTest, IdCountLimitsOfFetch) {
  ProtocolLimits limits;
  limits.max_ids_per_fetch = 4;
  // Ids and hints count together: both are lookups the store must make.
  FetchRequest request{.channel_id = "c",
                       .message_ids = {"a", "b"},
                       .retrieval_hints = {ToBytes("h"), ToBytes("i")}};
  EXPECT_TRUE(DecodeFetchRequest(EncodeFetchRequest(request), limits).ok());
  request.retrieval_hints.push_back(ToBytes("j"));
  EXPECT_EQ(DecodeFetchRequest(EncodeFetchRequest(request), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);
  request.retrieval_hints.clear();
  request.message_ids = {"1", "2", "3", "4", "5"};
  EXPECT_EQ(DecodeFetchRequest(EncodeFetchRequest(request), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);

  FetchResponse response{
      .store_id = ToBytes("s"), .missing_ids = {"a", "b", "c"}, .missing_hints = {ToBytes("h")}};
  EXPECT_TRUE(DecodeFetchResponse(EncodeFetchResponse(response), limits).ok());
  response.missing_hints.push_back(ToBytes("i"));
  EXPECT_EQ(DecodeFetchResponse(EncodeFetchResponse(response), limits).status().code(),
            ErrorCode::kDecodeLimitExceeded);
}

TEST(CatchupProtocolCodecTest, IdAndPayloadSizeLimits) {
  ProtocolLimits limits;
  limits.max_id_bytes = 8;
  limits.max_payload_bytes = 16;
  const std::string at_limit(8, 'i');
  const std::string over(9, 'i');
  auto code = [&](const auto& result) { return result.status().code(); };
  constexpr ErrorCode kOk = ErrorCode::kOk;
  constexpr ErrorCode kOver = ErrorCode::kDecodeLimitExceeded;

  auto sync_request = [&](const std::string& id) {
    SyncRequest r;
    r.channels.push_back({.channel_id = id, .cursor = std::nullopt});
    return DecodeSyncRequest(EncodeSyncRequest(r), limits);
  };
  EXPECT_EQ(code(sync_request(at_limit)), kOk);
  EXPECT_EQ(code(sync_request(over)), kOver);
  EXPECT_EQ(code(DecodeSnapshotRequest(EncodeSnapshotRequest({.channel_ids = {over}}), limits)),
            kOver);
  EXPECT_EQ(code(DecodeFetchRequest(EncodeFetchRequest({.channel_id = over}), limits)), kOver);
  EXPECT_EQ(code(DecodeFetchRequest(EncodeFetchRequest({.channel_id = "c", .message_ids = {over}}),
                                    limits)),
            kOver);
  EXPECT_EQ(
      code(DecodeFetchRequest(
          EncodeFetchRequest({.channel_id = "c", .retrieval_hints = {ToBytes(over)}}), limits)),
      kOver);
  EXPECT_EQ(code(DecodeBackfillRequest(
                EncodeBackfillRequest({.channel_id = over, .epoch = MakeEpoch(1)}), limits)),
            kOver);

  auto sync_response = [&](const std::string& store, const std::string& channel,
                           const std::string& message_id, size_t payload) {
    ChannelResult r = Delta(1, 1, 1);
    r.channel_id = channel;
    r.entries[0] = MakeEntry(1, message_id, payload);
    return DecodeSyncResponse(EncodeSyncResponse({.store_id = ToBytes(store), .channels = {r}}),
                              limits);
  };
  EXPECT_EQ(code(sync_response(at_limit, at_limit, at_limit, 16)), kOk);
  EXPECT_EQ(code(sync_response(over, "c", "m", 1)), kOver);
  EXPECT_EQ(code(sync_response("s", over, "m", 1)), kOver);
  EXPECT_EQ(code(sync_response("s", "c", over, 1)), kOver);
  EXPECT_EQ(code(sync_response("s", "c", "m", 17)), kOver);
  EXPECT_EQ(code(DecodeSnapshotResponse(
                EncodeSnapshotResponse({.store_id = ToBytes("s"), .unknown_channel_ids = {over}}),
                limits)),
            kOver);
  EXPECT_EQ(code(DecodeFetchResponse(
                EncodeFetchResponse({.store_id = ToBytes("s"), .missing_hints = {ToBytes(over)}}),
                limits)),
            kOver);
}

// ---- Malformed input --------------------------------------------------------

TEST(CatchupProtocolCodecTest, BrokenProtobufIsMalformedWithItsOffset) {
  const Bytes wire = EncodeSyncResponse({.store_id = ToBytes("s"), .channels = {Delta(1, 2, 2)}});
  // Every strict prefix is broken protobuf or misses what follows; never a crash.
  for (size_t n = 0; n < wire.size(); ++n) {
    Result<Answer<SyncResponse>> r = DecodeSyncResponse(ByteSpan(wire.data(), n));
    EXPECT_FALSE(r.ok()) << n;
  }
  const Result<Answer<SyncResponse>> truncated =
      DecodeSyncResponse(ByteSpan(wire.data(), wire.size() - 1));
  EXPECT_EQ(truncated.status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(truncated.status().message().find("at byte"), std::string::npos);
  const Bytes group = {0x0b};  // wire type 3
  EXPECT_EQ(DecodeSyncRequest(group).status().code(), ErrorCode::kDecodeMalformed);
}

TEST(CatchupProtocolCodecTest, WrongWireTypeOfAKnownFieldIsMalformed) {
  Result<SyncRequest> r = DecodeSyncRequest(Raw().Str(1, "1"));
  EXPECT_EQ(r.status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(r.status().message().find("field 1 (protocol_version) at byte 0"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(DecodeSyncRequest(Raw().Varint(2, 1)).status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_EQ(SyncCode(SyncAnswerWith(Raw().Fixed64(2, 1))), ErrorCode::kDecodeMalformed);
  EXPECT_EQ(SyncCode(Raw().Varint(2, 0)), ErrorCode::kDecodeMalformed);
  EXPECT_EQ(SyncCode(Raw().Fixed32(1, 0)), ErrorCode::kDecodeMalformed);
}

TEST(CatchupProtocolCodecTest, Uint32FieldsRejectWiderValues) {
  EXPECT_TRUE(DecodeSyncRequest(Raw().Varint(3, UINT32_MAX)).ok());
  Result<SyncRequest> r = DecodeSyncRequest(Raw().Varint(3, uint64_t{1} << 32 | 1));
  EXPECT_EQ(r.status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(r.status().message().find("max_entries"), std::string::npos);
  EXPECT_EQ(DecodeSnapshotRequest(Raw().Varint(1, uint64_t{1} << 32)).status().code(),
            ErrorCode::kDecodeMalformed);
  EXPECT_EQ(DecodeBackfillRequest(Raw().Str(3, EpochString(1)).Varint(5, uint64_t{1} << 40))
                .status()
                .code(),
            ErrorCode::kDecodeMalformed);
  EXPECT_EQ(SyncCode(Raw().Msg(1, Raw().Varint(1, 4).Varint(3, uint64_t{1} << 33))),
            ErrorCode::kDecodeMalformed);
}

TEST(CatchupProtocolCodecTest, UnknownEnumValuesAreRejected) {
  const Raw base = Raw().Str(4, EpochString(1)).Varint(5, 1);
  Result<Answer<SyncResponse>> status = DecodeSyncResponse(SyncAnswerWith(Raw(base).Varint(2, 5)));
  EXPECT_EQ(status.status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(status.status().message().find("field 2 (status)"), std::string::npos)
      << status.status().message();
  EXPECT_NE(status.status().message().find("unknown value 5"), std::string::npos);
  EXPECT_EQ(SyncCode(SyncAnswerWith(Raw(base).Varint(2, 3).Varint(3, 5))),
            ErrorCode::kDecodeMalformed);
  // A negative int32 enum as protobuf writes it (ten bytes).
  EXPECT_EQ(SyncCode(SyncAnswerWith(Raw(base).Varint(2, static_cast<uint64_t>(-1)))),
            ErrorCode::kDecodeMalformed);
  EXPECT_EQ(SyncCode(Raw().Msg(1, Raw().Varint(1, 6))), ErrorCode::kDecodeMalformed);
  EXPECT_EQ(DecodeBackfillResponse(Raw().Msg(5, Raw().Str(1, "s").Varint(2, 9))).status().code(),
            ErrorCode::kDecodeMalformed);
  // UP_TO_DATE is a Sync status, not a Backfill one.
  EXPECT_EQ(DecodeBackfillResponse(Raw().Msg(5, Raw().Str(1, "s").Varint(2, 2))).status().code(),
            ErrorCode::kDecodeMalformed);
}

TEST(CatchupProtocolCodecTest, EpochsAreSixteenBytes) {
  for (size_t size : {1u, 15u, 17u, 32u}) {
    SCOPED_TRACE(size);
    const std::string epoch(size, 'e');
    Result<SyncRequest> cursor =
        DecodeSyncRequest(Raw().Msg(2, Raw().Msg(2, Raw().Str(1, epoch).Varint(2, 1))));
    EXPECT_EQ(cursor.status().code(), ErrorCode::kDecodeMalformed);
    EXPECT_NE(cursor.status().message().find("an epoch is 16"), std::string::npos);
    EXPECT_EQ(SyncCode(SyncAnswerWith(Raw().Varint(2, 3).Varint(3, 1).Str(4, epoch).Varint(5, 1))),
              ErrorCode::kDecodeMalformed);
    EXPECT_EQ(DecodeBackfillRequest(Raw().Str(3, epoch)).status().code(),
              ErrorCode::kDecodeMalformed);
    EXPECT_EQ(DecodeFetchResponse(Raw().Msg(4, Raw().Str(1, "s").Str(2, epoch))).status().code(),
              ErrorCode::kDecodeMalformed);
  }
}

TEST(CatchupProtocolCodecTest, RequiredFieldsAreReportedMissing) {
  constexpr ErrorCode kMissing = ErrorCode::kDecodeMissingField;
  // A cursor without an epoch.
  Result<SyncRequest> cursor = DecodeSyncRequest(Raw().Msg(2, Raw().Msg(2, Raw().Varint(2, 1))));
  EXPECT_EQ(cursor.status().code(), kMissing);
  EXPECT_NE(cursor.status().message().find("channels[0]"), std::string::npos)
      << cursor.status().message();
  EXPECT_NE(cursor.status().message().find("(epoch) missing"), std::string::npos);
  EXPECT_EQ(DecodeSyncRequest(Raw().Msg(2, Raw().Msg(2, Raw().Str(1, std::string(16, '\0')))))
                .status()
                .code(),
            kMissing);
  EXPECT_EQ(DecodeBackfillRequest(Raw().Str(2, "c").Varint(4, 3)).status().code(), kMissing);

  // A response without store_id.
  SyncResponse nameless{.store_id = {}, .channels = {UpToDate("c")}};
  EXPECT_EQ(SyncCode(EncodeSyncResponse(nameless)), kMissing);
  EXPECT_EQ(DecodeFetchResponse(EncodeFetchResponse({})).status().code(), kMissing);
  // A result without status, a known log without epoch.
  EXPECT_EQ(SyncCode(SyncAnswerWith(Raw().Str(1, "c").Varint(5, 1))), kMissing);
  EXPECT_EQ(SyncCode(SyncAnswerWith(Raw().Varint(2, 3).Varint(3, 1).Varint(5, 1))), kMissing);
  ChannelSnapshot no_epoch{.channel_id = "a", .snapshot_seq = 0, .low_seq = 1};
  EXPECT_EQ(DecodeSnapshotResponse(
                EncodeSnapshotResponse({.store_id = ToBytes("s"), .channels = {no_epoch}}))
                .status()
                .code(),
            kMissing);
  // Entries without seq or message id.
  ChannelResult no_seq = Delta(1, 1, 1);
  no_seq.entries[0].seq = 0;
  EXPECT_EQ(SyncCode(EncodeSyncResponse({.store_id = ToBytes("s"), .channels = {no_seq}})),
            kMissing);
  ChannelResult no_id = Delta(1, 1, 1);
  no_id.entries[0].message_id.clear();
  Result<Answer<SyncResponse>> r =
      DecodeSyncResponse(EncodeSyncResponse({.store_id = ToBytes("s"), .channels = {no_id}}));
  EXPECT_EQ(r.status().code(), kMissing);
  EXPECT_NE(r.status().message().find("channels[0]: entries[0]"), std::string::npos)
      << r.status().message();
  // A service error without code; a backfill answer without status.
  EXPECT_EQ(SyncCode(Raw().Msg(1, Raw().Str(2, "oops"))), kMissing);
  EXPECT_EQ(DecodeBackfillResponse(Raw().Msg(5, Raw().Str(1, "s"))).status().code(), kMissing);
}

TEST(CatchupProtocolCodecTest, NegativeLamportIsOutOfRange) {
  ChannelResult r = Delta(1, 1, 1);
  r.entries[0].lamport = -1;
  EXPECT_EQ(SyncCode(EncodeSyncResponse({.store_id = ToBytes("s"), .channels = {r}})),
            ErrorCode::kDecodeLamportOutOfRange);
  ChannelSnapshot s{.channel_id = "a",
                    .epoch = MakeEpoch(1),
                    .snapshot_seq = 0,
                    .low_seq = 1,
                    .max_lamport = std::numeric_limits<int64_t>::min()};
  EXPECT_EQ(
      DecodeSnapshotResponse(EncodeSnapshotResponse({.store_id = ToBytes("s"), .channels = {s}}))
          .status()
          .code(),
      ErrorCode::kDecodeLamportOutOfRange);
}

// Each case breaks one rule of a ChannelResult that needs no cursor to check.
TEST(CatchupProtocolCodecTest, SelfContradictingSyncResultsAreMalformed) {
  struct Case {
    const char* name;
    ChannelResult result;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, ChannelResult r) { cases.push_back({name, std::move(r)}); };
  {
    ChannelResult r = Delta(3, 5, 9);
    r.entries.erase(r.entries.begin() + 1);  // 3, 5
    r.entries.push_back(MakeEntry(6));
    add("hole in the page", r);
  }
  {
    ChannelResult r = Delta(3, 5, 9);
    std::swap(r.entries[0], r.entries[1]);
    add("descending", r);
  }
  {
    ChannelResult r = Delta(3, 5, 9);
    r.entries.pop_back();
    add("fewer entries than from..to", r);
  }
  {
    ChannelResult r = Delta(3, 5, 9);
    r.entries.push_back(MakeEntry(6));
    add("more entries than from..to", r);
  }
  {
    ChannelResult r = Delta(5, 5, 9);
    r.to_seq = 4;
    add("to_seq below from_seq", r);
  }
  {
    ChannelResult r = Delta(3, 5, 9);
    r.from_seq = 4;
    add("from_seq not the first entry", r);
  }
  {
    ChannelResult r = Delta(3, 5, 9);
    r.entries.clear();
    r.from_seq = r.to_seq = 0;
    add("DELTA without entries", r);
  }
  {
    ChannelResult r = Delta(3, 5, 4);
    r.has_more = false;
    add("to_seq above head_seq", r);
  }
  add("from_seq below low_seq", Delta(3, 5, 9, 4));
  {
    ChannelResult r = Delta(3, 5, 9);
    r.has_more = false;
    add("has_more false before the head", r);
  }
  {
    ChannelResult r = Delta(3, 5, 5);
    r.has_more = true;
    add("has_more true at the head", r);
  }
  {
    ChannelResult r = Delta(3, 5, 9);
    r.reason = ColdReason::kNoCursor;
    add("reason without cold start", r);
  }
  add("cold start without reason", Cold("c", ColdReason::kNone));
  {
    ChannelResult r = UpToDate("c");
    r.entries.push_back(MakeEntry(7));
    add("UP_TO_DATE with entries", r);
  }
  {
    ChannelResult r = UpToDate("c");
    r.has_more = true;
    add("UP_TO_DATE with has_more", r);
  }
  {
    ChannelResult r = Cold("c", ColdReason::kEpochMismatch);
    r.from_seq = 1;
    add("cold start with from_seq", r);
  }
  {
    ChannelResult r = Cold("c", ColdReason::kAheadOfHead);
    r.entries.push_back(MakeEntry(7));
    add("cold start with entries", r);
  }
  add("low_seq 0", Cold("c", ColdReason::kNoCursor, 0, 7));
  add("low_seq above head_seq + 1", Cold("c", ColdReason::kNoCursor, 9, 7));
  {
    ChannelResult r = UpToDate("c");
    r.epoch = MakeEpoch(1);
    add("UP_TO_DATE with an epoch", r);
  }
  {
    ChannelResult r = UpToDate("c");
    r.head_seq = 7;
    add("UP_TO_DATE with head_seq", r);
  }
  {
    ChannelResult r = UpToDate("c");
    r.low_seq = 1;
    add("UP_TO_DATE with low_seq", r);
  }
  {
    ChannelResult r;
    r.status = SyncStatus::kUnknownChannel;
    r.head_seq = 3;
    add("UNKNOWN_CHANNEL with a log", r);
  }
  {
    ChannelResult r;
    r.status = SyncStatus::kUnknownChannel;
    r.epoch = MakeEpoch(1);
    add("UNKNOWN_CHANNEL with an epoch", r);
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SyncResponse response{.store_id = ToBytes("s"), .channels = {UpToDate("ok"), c.result}};
    Result<Answer<SyncResponse>> decoded = DecodeSyncResponse(EncodeSyncResponse(response));
    EXPECT_EQ(decoded.status().code(), ErrorCode::kDecodeMalformed);
    EXPECT_NE(decoded.status().message().find("channels[1]: ChannelResult at byte"),
              std::string::npos)
        << decoded.status().message();
  }
  // The valid edges next to them.
  SyncResponse edges{.store_id = ToBytes("s"),
                     .channels = {Delta(4, 4, 4, 4), Cold("empty", ColdReason::kNoCursor, 1, 0),
                                  Cold("all retention-deleted", ColdReason::kBehindRetention, 8, 7),
                                  Cold("high", ColdReason::kAheadOfHead, 1,
                                       std::numeric_limits<uint64_t>::max())}};
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  edges.channels.push_back(Delta(max - 1, max, max, max - 1));
  EXPECT_EQ(ResponseOf(DecodeSyncResponse(EncodeSyncResponse(edges))), edges);
}

TEST(CatchupProtocolCodecTest, SelfContradictingSnapshotFetchBackfillAreMalformed) {
  auto snapshot_code = [](const ChannelSnapshot& s) {
    return DecodeSnapshotResponse(
               EncodeSnapshotResponse({.store_id = ToBytes("s"), .channels = {s}}))
        .status()
        .code();
  };
  const ChannelSnapshot good{.channel_id = "a",
                             .epoch = MakeEpoch(1),
                             .snapshot_seq = 10,
                             .low_seq = 9,
                             .entries = {MakeEntry(9), MakeEntry(10)}};
  EXPECT_EQ(snapshot_code(good), ErrorCode::kOk);
  ChannelSnapshot s = good;
  s.snapshot_seq = 11;  // entries do not end at snapshot_seq
  EXPECT_EQ(snapshot_code(s), ErrorCode::kDecodeMalformed);
  s = good;
  s.low_seq = 10;  // entries start below low_seq
  EXPECT_EQ(snapshot_code(s), ErrorCode::kDecodeMalformed);
  s = good;
  s.entries[0].seq = 8;  // a hole
  EXPECT_EQ(snapshot_code(s), ErrorCode::kDecodeMalformed);
  s = good;
  s.low_seq = 12;  // low above snapshot_seq + 1
  s.entries.clear();
  EXPECT_EQ(snapshot_code(s), ErrorCode::kDecodeMalformed);
  s.low_seq = 11;  // every entry retention-deleted
  EXPECT_EQ(snapshot_code(s), ErrorCode::kOk);
  s.low_seq = 0;
  EXPECT_EQ(snapshot_code(s), ErrorCode::kDecodeMalformed);
  s = good;
  s.entries.insert(s.entries.begin(), MakeEntry(8));
  s.low_seq = 1;
  s.snapshot_seq = 10;
  EXPECT_EQ(snapshot_code(s), ErrorCode::kOk);
  s.entries = {MakeEntry(1), MakeEntry(2)};
  s.snapshot_seq = 1;  // would start at 0
  EXPECT_EQ(snapshot_code(s), ErrorCode::kDecodeMalformed);

  auto fetch_code = [](const FetchResponse& f) {
    return DecodeFetchResponse(EncodeFetchResponse(f)).status().code();
  };
  FetchResponse fetch{
      .store_id = ToBytes("s"), .epoch = MakeEpoch(1), .entries = {MakeEntry(3), MakeEntry(7)}};
  EXPECT_EQ(fetch_code(fetch), ErrorCode::kOk);
  fetch.entries.push_back(MakeEntry(7));
  EXPECT_EQ(fetch_code(fetch), ErrorCode::kDecodeMalformed);  // a duplicate
  fetch.entries = {MakeEntry(7), MakeEntry(3)};
  EXPECT_EQ(fetch_code(fetch), ErrorCode::kDecodeMalformed);  // descending
  fetch.entries = {MakeEntry(3)};
  fetch.epoch = kNoEpoch;
  EXPECT_EQ(fetch_code(fetch), ErrorCode::kDecodeMissingField);  // entries of no log

  auto backfill_code = [](const BackfillResponse& b) {
    return DecodeBackfillResponse(EncodeBackfillResponse(b)).status().code();
  };
  const BackfillResponse good_backfill{.store_id = ToBytes("s"),
                                       .status = SyncStatus::kDelta,
                                       .epoch = MakeEpoch(1),
                                       .low_seq = 2,
                                       .entries = {MakeEntry(3), MakeEntry(4)},
                                       .reached_low = false};
  EXPECT_EQ(backfill_code(good_backfill), ErrorCode::kOk);
  BackfillResponse b = good_backfill;
  b.reached_low = true;  // entries do not start at low_seq
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);
  b = good_backfill;
  b.low_seq = 3;  // start at low, reached_low false
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);
  b.low_seq = 4;  // entries below low
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);
  b = good_backfill;
  b.entries[1].seq = 5;  // a hole
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);
  b = good_backfill;
  b.low_seq = 0;
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);
  b = good_backfill;
  b.status = SyncStatus::kColdStartRequired;  // with entries
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);
  b.entries.clear();
  EXPECT_EQ(backfill_code(b), ErrorCode::kOk);
  b.epoch = kNoEpoch;
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMissingField);
  b.status = SyncStatus::kUnknownChannel;
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);  // low_seq set
  b.low_seq = 0;
  EXPECT_EQ(backfill_code(b), ErrorCode::kOk);
  b.epoch = MakeEpoch(1);
  EXPECT_EQ(backfill_code(b), ErrorCode::kDecodeMalformed);
}

// ---- Randomized -------------------------------------------------------------

constexpr int kRandomRounds = 400;

// decode(encode(m)) == m, and encoding is a function of the value (the bytes
// of the decoded copy are the bytes of the original).
template <typename T, typename Encode, typename Decode>
void ExpectRoundTrip(const T& message, Encode encode, Decode decode) {
  const Bytes wire = encode(message);
  auto decoded = decode(ByteSpan(wire), ProtocolLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  if constexpr (std::is_same_v<std::decay_t<decltype(*decoded)>, T>) {
    EXPECT_EQ(*decoded, message);
    EXPECT_EQ(encode(*decoded), wire);
  } else {
    ASSERT_TRUE(std::holds_alternative<T>(*decoded));
    EXPECT_EQ(std::get<T>(*decoded), message);
    EXPECT_EQ(encode(std::get<T>(*decoded)), wire);
  }
}

TEST(CatchupProtocolCodecTest, RandomMessagesRoundTrip) {
  RandomCatchupMessages random(0xca7c'0001);
  for (int round = 0; round < kRandomRounds; ++round) {
    SCOPED_TRACE(round);
    ExpectRoundTrip(random.AnySyncRequest(), EncodeSyncRequest, DecodeSyncRequest);
    ExpectRoundTrip(random.AnySnapshotRequest(), EncodeSnapshotRequest, DecodeSnapshotRequest);
    ExpectRoundTrip(random.AnyFetchRequest(), EncodeFetchRequest, DecodeFetchRequest);
    ExpectRoundTrip(random.AnyBackfillRequest(), EncodeBackfillRequest, DecodeBackfillRequest);
    ExpectRoundTrip(random.AnySyncResponse(), EncodeSyncResponse, DecodeSyncResponse);
    ExpectRoundTrip(random.AnySnapshotResponse(), EncodeSnapshotResponse, DecodeSnapshotResponse);
    ExpectRoundTrip(random.AnyFetchResponse(), EncodeFetchResponse, DecodeFetchResponse);
    ExpectRoundTrip(random.AnyBackfillResponse(), EncodeBackfillResponse, DecodeBackfillResponse);
    ExpectRoundTrip(random.AnyServiceError(), EncodeServiceError, DecodeSyncResponse);
    ExpectRoundTrip(random.AnyServiceError(), EncodeServiceError, DecodeBackfillResponse);
    if (::testing::Test::HasFailure()) return;
  }
}

// Mutated encodings: whatever decodes is a value that encodes and decodes back
// to itself (the decoder accepts nothing its own encoder cannot reproduce).
TEST(CatchupProtocolCodecTest, MutatedInputsDecodeToStableValuesOrFail) {
  RandomCatchupMessages random(0xca7c'0002);
  std::mt19937_64 rng(0xca7c'0003);
  int accepted = 0;
  for (int round = 0; round < 2000; ++round) {
    SCOPED_TRACE(round);
    Bytes wire = round % 2 == 0 ? EncodeSyncResponse(random.AnySyncResponse())
                                : EncodeSyncRequest(random.AnySyncRequest());
    const int mutations = 1 + static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations && !wire.empty(); ++m) {
      const size_t at = rng() % wire.size();
      switch (rng() % 3) {
        case 0:
          wire[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          wire.erase(wire.begin() + static_cast<ptrdiff_t>(at));
          break;
        default:
          wire.insert(wire.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng()));
          break;
      }
    }
    if (round % 2 == 0) {
      Result<Answer<SyncResponse>> decoded = DecodeSyncResponse(wire);
      if (!decoded.ok()) continue;
      ++accepted;
      if (const SyncResponse* r = std::get_if<SyncResponse>(&*decoded)) {
        Result<Answer<SyncResponse>> again = DecodeSyncResponse(EncodeSyncResponse(*r));
        ASSERT_TRUE(again.ok()) << again.status().ToString();
        EXPECT_EQ(std::get<SyncResponse>(*again), *r);
      }
    } else {
      Result<SyncRequest> decoded = DecodeSyncRequest(wire);
      if (!decoded.ok()) continue;
      ++accepted;
      Result<SyncRequest> again = DecodeSyncRequest(EncodeSyncRequest(*decoded));
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      EXPECT_EQ(*again, *decoded);
    }
  }
  // Some mutations (in payload bytes, ids) must survive, or the test tests nothing.
  EXPECT_GT(accepted, 100);
}

}  // namespace
}  // namespace sds::catchup
