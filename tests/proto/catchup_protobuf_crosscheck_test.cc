// Cross-checks the catch-up codec (src/catchup/protocol_codec.cc) against
// libprotobuf built from proto/catchup.proto, the protocol's reference.
// Random messages go both ways: our bytes parse with libprotobuf to the same
// values and re-serialize to the same bytes; libprotobuf's bytes decode with
// ours to the same values and re-encode to the same bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "proto/catchup.pb.h"
#include "sds/catchup_protocol.h"
#include "tests/testutil/catchup_messages.h"

namespace sds::catchup {
namespace {

namespace pb = ::sds::catchup::v1;
using testutil::RandomCatchupMessages;

constexpr int kRounds = 300;

std::string Str(ByteSpan bytes) { return std::string(bytes.begin(), bytes.end()); }
std::string Str(const Epoch& epoch) {
  return epoch == kNoEpoch ? std::string() : std::string(epoch.begin(), epoch.end());
}
Bytes ToBytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }
Epoch EpochOf(const std::string& s) {
  Epoch epoch{};
  EXPECT_TRUE(s.empty() || s.size() == epoch.size()) << s.size();
  std::copy_n(s.begin(), std::min(s.size(), epoch.size()), epoch.begin());
  return epoch;
}
ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// ---- Our model -> libprotobuf ----------------------------------------------

void Fill(const Entry& e, pb::Entry* out) {
  out->set_seq(e.seq);
  out->set_message_id(e.message_id);
  out->set_lamport(e.lamport);
  out->set_payload(Str(e.payload));
}

pb::SyncRequest ToProto(const SyncRequest& r) {
  pb::SyncRequest out;
  out.set_protocol_version(r.protocol_version);
  for (const ChannelCursor& c : r.channels) {
    pb::ChannelCursor* channel = out.add_channels();
    channel->set_channel_id(c.channel_id);
    if (c.cursor) {
      channel->mutable_cursor()->set_epoch(Str(c.cursor->epoch));
      channel->mutable_cursor()->set_seq(c.cursor->seq);
    }
  }
  out.set_max_entries(r.max_entries);
  out.set_max_bytes(r.max_bytes);
  out.set_ids_only(r.ids_only);
  return out;
}

pb::SnapshotRequest ToProto(const SnapshotRequest& r) {
  pb::SnapshotRequest out;
  out.set_protocol_version(r.protocol_version);
  for (const ChannelId& id : r.channel_ids) out.add_channel_ids(id);
  out.set_entries_per_channel(r.entries_per_channel);
  return out;
}

pb::FetchRequest ToProto(const FetchRequest& r) {
  pb::FetchRequest out;
  out.set_protocol_version(r.protocol_version);
  out.set_channel_id(r.channel_id);
  for (const MessageId& id : r.message_ids) out.add_message_ids(id);
  for (const Bytes& hint : r.retrieval_hints) out.add_retrieval_hints(Str(hint));
  return out;
}

pb::BackfillRequest ToProto(const BackfillRequest& r) {
  pb::BackfillRequest out;
  out.set_protocol_version(r.protocol_version);
  out.set_channel_id(r.channel_id);
  out.set_epoch(Str(r.epoch));
  out.set_before_seq(r.before_seq);
  out.set_limit(r.limit);
  return out;
}

pb::SyncAnswer ToProto(const SyncResponse& r) {
  pb::SyncAnswer answer;
  pb::SyncResponse* out = answer.mutable_response();
  out->set_store_id(Str(r.store_id));
  for (const ChannelResult& c : r.channels) {
    pb::ChannelResult* result = out->add_channels();
    result->set_channel_id(c.channel_id);
    result->set_status(static_cast<pb::SyncStatus>(c.status));
    result->set_reason(static_cast<pb::ColdReason>(c.reason));
    result->set_epoch(Str(c.epoch));
    result->set_low_seq(c.low_seq);
    result->set_head_seq(c.head_seq);
    result->set_from_seq(c.from_seq);
    result->set_to_seq(c.to_seq);
    result->set_has_more(c.has_more);
    for (const Entry& e : c.entries) Fill(e, result->add_entries());
  }
  return answer;
}

pb::SnapshotAnswer ToProto(const SnapshotResponse& r) {
  pb::SnapshotAnswer answer;
  pb::SnapshotResponse* out = answer.mutable_response();
  out->set_store_id(Str(r.store_id));
  for (const ChannelSnapshot& s : r.channels) {
    pb::ChannelSnapshot* snapshot = out->add_channels();
    snapshot->set_channel_id(s.channel_id);
    snapshot->set_epoch(Str(s.epoch));
    snapshot->set_snapshot_seq(s.snapshot_seq);
    snapshot->set_low_seq(s.low_seq);
    snapshot->set_max_lamport(s.max_lamport);
    snapshot->set_retained_count(s.retained_count);
    for (const Entry& e : s.entries) Fill(e, snapshot->add_entries());
  }
  for (const ChannelId& id : r.unknown_channel_ids) out->add_unknown_channel_ids(id);
  return answer;
}

pb::FetchAnswer ToProto(const FetchResponse& r) {
  pb::FetchAnswer answer;
  pb::FetchResponse* out = answer.mutable_response();
  out->set_store_id(Str(r.store_id));
  out->set_epoch(Str(r.epoch));
  for (const Entry& e : r.entries) Fill(e, out->add_entries());
  for (const MessageId& id : r.missing_ids) out->add_missing_ids(id);
  for (const Bytes& hint : r.missing_hints) out->add_missing_hints(Str(hint));
  return answer;
}

pb::BackfillAnswer ToProto(const BackfillResponse& r) {
  pb::BackfillAnswer answer;
  pb::BackfillResponse* out = answer.mutable_response();
  out->set_store_id(Str(r.store_id));
  out->set_status(static_cast<pb::SyncStatus>(r.status));
  out->set_epoch(Str(r.epoch));
  out->set_low_seq(r.low_seq);
  out->set_reached_low(r.reached_low);
  for (const Entry& e : r.entries) Fill(e, out->add_entries());
  return answer;
}

void Fill(const ServiceError& e, pb::ServiceError* out) {
  out->set_code(static_cast<pb::ServiceError_Code>(e.code));
  out->set_message(e.message);
  out->set_retry_after_ms(e.retry_after_ms);
  out->set_supported_version(e.supported_version);
}

// ---- libprotobuf -> our model ----------------------------------------------

Entry FromProto(const pb::Entry& e) {
  return Entry{.seq = e.seq(),
               .message_id = e.message_id(),
               .lamport = e.lamport(),
               .payload = ToBytesOf(e.payload())};
}

template <typename Repeated>
std::vector<Entry> EntriesOf(const Repeated& entries) {
  std::vector<Entry> out;
  for (const pb::Entry& e : entries) out.push_back(FromProto(e));
  return out;
}

template <typename Repeated>
std::vector<std::string> StringsOf(const Repeated& list) {
  return std::vector<std::string>(list.begin(), list.end());
}
template <typename Repeated>
std::vector<Bytes> BytesListOf(const Repeated& list) {
  std::vector<Bytes> out;
  for (const std::string& s : list) out.push_back(ToBytesOf(s));
  return out;
}

SyncRequest FromProto(const pb::SyncRequest& r) {
  SyncRequest out;
  out.protocol_version = r.protocol_version();
  for (const pb::ChannelCursor& c : r.channels()) {
    ChannelCursor channel{.channel_id = c.channel_id(), .cursor = std::nullopt};
    if (c.has_cursor()) channel.cursor = Cursor{EpochOf(c.cursor().epoch()), c.cursor().seq()};
    out.channels.push_back(channel);
  }
  out.max_entries = r.max_entries();
  out.max_bytes = r.max_bytes();
  out.ids_only = r.ids_only();
  return out;
}

SnapshotRequest FromProto(const pb::SnapshotRequest& r) {
  SnapshotRequest out;
  out.protocol_version = r.protocol_version();
  out.channel_ids = StringsOf(r.channel_ids());
  out.entries_per_channel = r.entries_per_channel();
  return out;
}

FetchRequest FromProto(const pb::FetchRequest& r) {
  FetchRequest out;
  out.protocol_version = r.protocol_version();
  out.channel_id = r.channel_id();
  out.message_ids = StringsOf(r.message_ids());
  out.retrieval_hints = BytesListOf(r.retrieval_hints());
  return out;
}

BackfillRequest FromProto(const pb::BackfillRequest& r) {
  BackfillRequest out;
  out.protocol_version = r.protocol_version();
  out.channel_id = r.channel_id();
  out.epoch = EpochOf(r.epoch());
  out.before_seq = r.before_seq();
  out.limit = r.limit();
  return out;
}

SyncResponse FromProto(const pb::SyncAnswer& a) {
  EXPECT_TRUE(a.has_response());
  SyncResponse out;
  out.store_id = ToBytesOf(a.response().store_id());
  for (const pb::ChannelResult& c : a.response().channels()) {
    ChannelResult r;
    r.channel_id = c.channel_id();
    r.status = static_cast<SyncStatus>(c.status());
    r.reason = static_cast<ColdReason>(c.reason());
    r.epoch = EpochOf(c.epoch());
    r.low_seq = c.low_seq();
    r.head_seq = c.head_seq();
    r.from_seq = c.from_seq();
    r.to_seq = c.to_seq();
    r.has_more = c.has_more();
    r.entries = EntriesOf(c.entries());
    out.channels.push_back(r);
  }
  return out;
}

SnapshotResponse FromProto(const pb::SnapshotAnswer& a) {
  EXPECT_TRUE(a.has_response());
  SnapshotResponse out;
  out.store_id = ToBytesOf(a.response().store_id());
  for (const pb::ChannelSnapshot& s : a.response().channels()) {
    out.channels.push_back(ChannelSnapshot{.channel_id = s.channel_id(),
                                           .epoch = EpochOf(s.epoch()),
                                           .snapshot_seq = s.snapshot_seq(),
                                           .low_seq = s.low_seq(),
                                           .entries = EntriesOf(s.entries()),
                                           .max_lamport = s.max_lamport(),
                                           .retained_count = s.retained_count()});
  }
  out.unknown_channel_ids = StringsOf(a.response().unknown_channel_ids());
  return out;
}

FetchResponse FromProto(const pb::FetchAnswer& a) {
  EXPECT_TRUE(a.has_response());
  const pb::FetchResponse& r = a.response();
  return FetchResponse{.store_id = ToBytesOf(r.store_id()),
                       .epoch = EpochOf(r.epoch()),
                       .entries = EntriesOf(r.entries()),
                       .missing_ids = StringsOf(r.missing_ids()),
                       .missing_hints = BytesListOf(r.missing_hints())};
}

BackfillResponse FromProto(const pb::BackfillAnswer& a) {
  EXPECT_TRUE(a.has_response());
  const pb::BackfillResponse& r = a.response();
  return BackfillResponse{.store_id = ToBytesOf(r.store_id()),
                          .status = static_cast<SyncStatus>(r.status()),
                          .epoch = EpochOf(r.epoch()),
                          .low_seq = r.low_seq(),
                          .entries = EntriesOf(r.entries()),
                          .reached_low = r.reached_low()};
}

ServiceError FromProto(const pb::ServiceError& e) {
  return ServiceError{.code = static_cast<ServiceErrorCode>(e.code()),
                      .message = e.message(),
                      .retry_after_ms = e.retry_after_ms(),
                      .supported_version = e.supported_version()};
}

// Unknown fields, as a newer store or client might add them.
void AddUnknownFields(RandomCatchupMessages& random, google::protobuf::Message* message) {
  google::protobuf::UnknownFieldSet* unknown =
      message->GetReflection()->MutableUnknownFields(message);
  unknown->AddVarint(static_cast<int>(100 + random.Below(1000)), random.AnyU64());
  unknown->AddLengthDelimited(static_cast<int>(16 + random.Below(1000)), "future");
  unknown->AddFixed32(static_cast<int>(40 + random.Below(50)), 7);
  unknown->AddFixed64(static_cast<int>(2000 + random.Below(5)), 9);
}

// Our decoded value, whichever way the decoder returns it.
template <typename T>
const T& ValueOf(const Result<T>& result) {
  return *result;
}
template <typename T>
const T& ValueOf(const Result<Answer<T>>& result) {
  return std::get<T>(*result);
}

// Both directions for one generator, encoder, decoder and protobuf type.
template <typename Proto, typename Generate, typename Encode, typename Decode>
void CrossCheck(uint64_t seed, Generate generate, Encode encode, Decode decode) {
  RandomCatchupMessages random(seed);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    const auto message = generate(random);

    // Ours -> libprotobuf: same values, and libprotobuf writes the same bytes.
    const Bytes ours = encode(message);
    Proto parsed;
    ASSERT_TRUE(parsed.ParseFromArray(ours.data(), static_cast<int>(ours.size())));
    EXPECT_EQ(FromProto(parsed), message);
    EXPECT_EQ(parsed.SerializeAsString(), Str(ours));

    // libprotobuf -> ours: same values, and we write the same bytes.
    Proto proto = ToProto(message);
    const bool with_unknown_fields = random.Chance(3);
    if (with_unknown_fields) AddUnknownFields(random, &proto);
    const std::string theirs = proto.SerializeAsString();
    auto decoded = decode(Span(theirs), ProtocolLimits{});
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(ValueOf(decoded), message);
    if (!with_unknown_fields) {
      EXPECT_EQ(Str(encode(ValueOf(decoded))), theirs);
    }
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(CatchupProtobufCrosscheckTest, SyncRequest) {
  CrossCheck<pb::SyncRequest>(
      0xc0de'0001, [](RandomCatchupMessages& r) { return r.AnySyncRequest(); }, EncodeSyncRequest,
      DecodeSyncRequest);
}

TEST(CatchupProtobufCrosscheckTest, SnapshotRequest) {
  CrossCheck<pb::SnapshotRequest>(
      0xc0de'0002, [](RandomCatchupMessages& r) { return r.AnySnapshotRequest(); },
      EncodeSnapshotRequest, DecodeSnapshotRequest);
}

TEST(CatchupProtobufCrosscheckTest, FetchRequest) {
  CrossCheck<pb::FetchRequest>(
      0xc0de'0003, [](RandomCatchupMessages& r) { return r.AnyFetchRequest(); }, EncodeFetchRequest,
      DecodeFetchRequest);
}

TEST(CatchupProtobufCrosscheckTest, BackfillRequest) {
  CrossCheck<pb::BackfillRequest>(
      0xc0de'0004, [](RandomCatchupMessages& r) { return r.AnyBackfillRequest(); },
      EncodeBackfillRequest, DecodeBackfillRequest);
}

TEST(CatchupProtobufCrosscheckTest, SyncResponse) {
  CrossCheck<pb::SyncAnswer>(
      0xc0de'0005, [](RandomCatchupMessages& r) { return r.AnySyncResponse(); }, EncodeSyncResponse,
      DecodeSyncResponse);
}

TEST(CatchupProtobufCrosscheckTest, SnapshotResponse) {
  CrossCheck<pb::SnapshotAnswer>(
      0xc0de'0006, [](RandomCatchupMessages& r) { return r.AnySnapshotResponse(); },
      EncodeSnapshotResponse, DecodeSnapshotResponse);
}

TEST(CatchupProtobufCrosscheckTest, FetchResponse) {
  CrossCheck<pb::FetchAnswer>(
      0xc0de'0007, [](RandomCatchupMessages& r) { return r.AnyFetchResponse(); },
      EncodeFetchResponse, DecodeFetchResponse);
}

TEST(CatchupProtobufCrosscheckTest, BackfillResponse) {
  CrossCheck<pb::BackfillAnswer>(
      0xc0de'0008, [](RandomCatchupMessages& r) { return r.AnyBackfillResponse(); },
      EncodeBackfillResponse, DecodeBackfillResponse);
}

// One ServiceError encoding answers every kind: it parses as each envelope's
// error member, and each envelope's error member decodes with ours.
TEST(CatchupProtobufCrosscheckTest, ServiceErrorInEveryEnvelope) {
  RandomCatchupMessages random(0xc0de'0009);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    const ServiceError error = random.AnyServiceError();
    const Bytes ours = EncodeServiceError(error);
    pb::SyncAnswer sync;
    ASSERT_TRUE(sync.ParseFromArray(ours.data(), static_cast<int>(ours.size())));
    ASSERT_TRUE(sync.has_error());
    EXPECT_EQ(FromProto(sync.error()), error);
    EXPECT_EQ(sync.SerializeAsString(), Str(ours));

    pb::SnapshotAnswer snapshot;
    Fill(error, snapshot.mutable_error());
    pb::FetchAnswer fetch;
    Fill(error, fetch.mutable_error());
    pb::BackfillAnswer backfill;
    Fill(error, backfill.mutable_error());
    EXPECT_EQ(snapshot.SerializeAsString(), Str(ours));
    EXPECT_EQ(fetch.SerializeAsString(), Str(ours));
    EXPECT_EQ(backfill.SerializeAsString(), Str(ours));
    const std::string theirs = backfill.SerializeAsString();
    EXPECT_EQ(std::get<ServiceError>(*DecodeSnapshotResponse(Span(theirs))), error);
    EXPECT_EQ(std::get<ServiceError>(*DecodeFetchResponse(Span(theirs))), error);
    EXPECT_EQ(std::get<ServiceError>(*DecodeBackfillResponse(Span(theirs))), error);
    if (HasFailure()) return;
  }
}

// The enum numbers of the C++ model are the .proto's.
TEST(CatchupProtobufCrosscheckTest, EnumNumbersMatchTheProto) {
  EXPECT_EQ(static_cast<int>(SyncStatus::kDelta), pb::SYNC_STATUS_DELTA);
  EXPECT_EQ(static_cast<int>(SyncStatus::kUpToDate), pb::SYNC_STATUS_UP_TO_DATE);
  EXPECT_EQ(static_cast<int>(SyncStatus::kColdStartRequired), pb::SYNC_STATUS_COLD_START_REQUIRED);
  EXPECT_EQ(static_cast<int>(SyncStatus::kUnknownChannel), pb::SYNC_STATUS_UNKNOWN_CHANNEL);
  EXPECT_EQ(pb::SyncStatus_MAX, 4);
  EXPECT_EQ(static_cast<int>(ColdReason::kNone), pb::COLD_REASON_UNSPECIFIED);
  EXPECT_EQ(static_cast<int>(ColdReason::kNoCursor), pb::COLD_REASON_NO_CURSOR);
  EXPECT_EQ(static_cast<int>(ColdReason::kEpochMismatch), pb::COLD_REASON_EPOCH_MISMATCH);
  EXPECT_EQ(static_cast<int>(ColdReason::kBehindRetention), pb::COLD_REASON_BEHIND_RETENTION);
  EXPECT_EQ(static_cast<int>(ColdReason::kAheadOfHead), pb::COLD_REASON_AHEAD_OF_HEAD);
  EXPECT_EQ(pb::ColdReason_MAX, 4);
  EXPECT_EQ(static_cast<int>(ServiceErrorCode::kBadRequest), pb::ServiceError::BAD_REQUEST);
  EXPECT_EQ(static_cast<int>(ServiceErrorCode::kUnsupportedVersion),
            pb::ServiceError::UNSUPPORTED_VERSION);
  EXPECT_EQ(static_cast<int>(ServiceErrorCode::kTooLarge), pb::ServiceError::TOO_LARGE);
  EXPECT_EQ(static_cast<int>(ServiceErrorCode::kBusy), pb::ServiceError::BUSY);
  EXPECT_EQ(static_cast<int>(ServiceErrorCode::kInternal), pb::ServiceError::INTERNAL);
  EXPECT_EQ(pb::ServiceError::Code_MAX, 5);
}

}  // namespace
}  // namespace sds::catchup
