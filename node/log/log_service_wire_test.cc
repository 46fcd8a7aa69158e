// LogService bytes in, bytes out: the same answers as the typed API, and a
// ServiceError (never a crash) for garbage, truncated, wrong-version and
// oversized requests.
#include <gtest/gtest.h>

#include <random>

#include "log_test_util.h"
#include "sds/log_service.h"

namespace sds::catchup::testing {
namespace {

class LogServiceWireTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    Open();
    std::vector<Bytes> wires;
    for (int i = 1; i <= 12; ++i) wires.push_back(ContentMessage("m" + std::to_string(i), "ch", i));
    std::vector<AppendInput> inputs;
    for (size_t i = 0; i < wires.size(); ++i) {
      inputs.push_back({wires[i], i == 2 ? ByteSpan(hint_) : ByteSpan()});
    }
    ASSERT_TRUE(log_->Append(inputs, kT0).ok());
    AppendN(*log_, 3, "other");
    MakeService({});
  }
  void MakeService(LogServiceConfig config) {
    auto service = LogService::Create(log_, std::move(config));
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);
  }
  static ServiceError ErrorOf(const Bytes& reply) {
    auto decoded = DecodeSyncResponse(reply);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    if (!decoded.ok()) return {};
    auto* error = std::get_if<ServiceError>(&*decoded);
    EXPECT_NE(error, nullptr) << "expected a ServiceError";
    return error != nullptr ? *error : ServiceError{};
  }

  Bytes hint_ = ToBytes("hash-3");
  std::unique_ptr<LogService> service_;
};

TEST_P(LogServiceWireTest, EveryKindAnswersAsTheTypedApi) {
  Epoch epoch = MustMeta(*log_).epoch;
  SyncRequest sync;
  sync.channels = {{"ch", Cursor{epoch, 4}},
                   {"other", Cursor{MustMeta(*log_, "other").epoch, 3}},
                   {"nope", std::nullopt},
                   {"x", std::nullopt}};
  sync.max_entries = 5;
  auto sync_reply = DecodeSyncResponse(service_->HandleSync(EncodeSyncRequest(sync)));
  ASSERT_TRUE(sync_reply.ok()) << sync_reply.status().ToString();
  EXPECT_EQ(*sync_reply, service_->Sync(sync));
  const SyncResponse& s = std::get<SyncResponse>(*sync_reply);
  EXPECT_EQ(s.channels[0].to_seq, 9u);
  EXPECT_EQ(s.channels[1].status, SyncStatus::kUpToDate);

  SnapshotRequest snapshot;
  snapshot.channel_ids = {"ch", "nope"};
  snapshot.entries_per_channel = 4;
  auto snapshot_reply =
      DecodeSnapshotResponse(service_->HandleSnapshot(EncodeSnapshotRequest(snapshot)));
  ASSERT_TRUE(snapshot_reply.ok()) << snapshot_reply.status().ToString();
  EXPECT_EQ(*snapshot_reply, service_->Snapshot(snapshot));

  FetchRequest fetch;
  fetch.channel_id = "ch";
  fetch.message_ids = {"m1", "zz"};
  fetch.retrieval_hints = {hint_};
  auto fetch_reply = DecodeFetchResponse(service_->HandleFetch(EncodeFetchRequest(fetch)));
  ASSERT_TRUE(fetch_reply.ok()) << fetch_reply.status().ToString();
  EXPECT_EQ(*fetch_reply, service_->Fetch(fetch));
  EXPECT_EQ(std::get<FetchResponse>(*fetch_reply).entries.size(), 2u);
  fetch.channel_id = "nope";
  fetch_reply = DecodeFetchResponse(service_->HandleFetch(EncodeFetchRequest(fetch)));
  ASSERT_TRUE(fetch_reply.ok()) << fetch_reply.status().ToString();

  BackfillRequest backfill{kProtocolVersion, "ch", epoch, 5, 3};
  auto backfill_reply =
      DecodeBackfillResponse(service_->HandleBackfill(EncodeBackfillRequest(backfill)));
  ASSERT_TRUE(backfill_reply.ok()) << backfill_reply.status().ToString();
  EXPECT_EQ(*backfill_reply, service_->Backfill(backfill));
  for (BackfillRequest other : {BackfillRequest{kProtocolVersion, "nope", epoch, 5, 3},
                                BackfillRequest{kProtocolVersion, "other", epoch, 5, 3}}) {
    auto reply = DecodeBackfillResponse(service_->HandleBackfill(EncodeBackfillRequest(other)));
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  }
}

TEST_P(LogServiceWireTest, EveryBoundaryAnswerDecodes) {
  // The whole boundary table through the codec: what the store sends, the
  // client's decoder accepts.
  ChannelLogOptions options = Options();
  options.retention.max_entries_per_channel = 6;
  Open(options);
  AppendN(*log_, 10);
  MakeService({});
  Epoch epoch = MustMeta(*log_).epoch, wrong = epoch;
  wrong[0] ^= 1;
  for (std::optional<Cursor> cursor :
       {std::optional<Cursor>(), std::optional<Cursor>(Cursor{epoch, 3}),
        std::optional<Cursor>(Cursor{epoch, 4}), std::optional<Cursor>(Cursor{epoch, 9}),
        std::optional<Cursor>(Cursor{epoch, 10}), std::optional<Cursor>(Cursor{epoch, 11}),
        std::optional<Cursor>(Cursor{wrong, 10})}) {
    SyncRequest request;
    request.channels = {{"ch", cursor}, {"nope", cursor}};
    auto reply = DecodeSyncResponse(service_->HandleSync(EncodeSyncRequest(request)));
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(*reply, service_->Sync(request));
  }
}

TEST_P(LogServiceWireTest, BadInputIsAnsweredWithServiceErrors) {
  const Bytes garbage = ToBytes("\xff\xff\xff\xff not protobuf");
  EXPECT_EQ(ErrorOf(service_->HandleSync(garbage)).code, ServiceErrorCode::kBadRequest);
  EXPECT_EQ(ErrorOf(service_->HandleSnapshot(garbage)).code, ServiceErrorCode::kBadRequest);
  EXPECT_EQ(ErrorOf(service_->HandleFetch(garbage)).code, ServiceErrorCode::kBadRequest);
  EXPECT_EQ(ErrorOf(service_->HandleBackfill(garbage)).code, ServiceErrorCode::kBadRequest);

  SyncRequest sync;
  sync.channels = {{"ch", Cursor{MustMeta(*log_).epoch, 1}}};
  Bytes good = EncodeSyncRequest(sync);
  Bytes truncated(good.begin(), good.end() - 3);
  ServiceError error = ErrorOf(service_->HandleSync(truncated));
  EXPECT_EQ(error.code, ServiceErrorCode::kBadRequest);
  EXPECT_NE(error.message.find("undecodable"), std::string::npos) << error.message;

  sync.protocol_version = 9;
  error = ErrorOf(service_->HandleSync(EncodeSyncRequest(sync)));
  EXPECT_EQ(error.code, ServiceErrorCode::kUnsupportedVersion);
  EXPECT_EQ(error.supported_version, kProtocolVersion);
  // An empty request has no version at all.
  EXPECT_EQ(ErrorOf(service_->HandleSync({})).code, ServiceErrorCode::kUnsupportedVersion);

  LogServiceConfig config;
  config.limits.max_request_bytes = 64;
  config.limits.max_channels_per_request = 3;
  config.max_channels_per_request = 3;
  MakeService(config);
  Bytes big(65, 0);
  EXPECT_EQ(ErrorOf(service_->HandleSync(big)).code, ServiceErrorCode::kTooLarge);
  sync.protocol_version = kProtocolVersion;
  sync.channels = {{"a", {}}, {"b", {}}, {"c", {}}, {"d", {}}};
  EXPECT_EQ(ErrorOf(service_->HandleSync(EncodeSyncRequest(sync))).code,
            ServiceErrorCode::kTooLarge)
      << "past a decode limit";
  LogServiceCounters c = service_->counters();
  EXPECT_EQ(c.sync.too_large, 2u);
  EXPECT_EQ(c.sync.ok, 0u);
}

TEST_P(LogServiceWireTest, AnAnswerOverTheResponseLimitIsRefused) {
  LogServiceConfig config;
  config.limits.max_response_bytes = 200;
  MakeService(config);
  SyncRequest sync;
  sync.channels = {{"ch", Cursor{MustMeta(*log_).epoch, 0}}};
  ServiceError error = ErrorOf(service_->HandleSync(EncodeSyncRequest(sync)));
  EXPECT_EQ(error.code, ServiceErrorCode::kTooLarge);
  EXPECT_EQ(service_->counters().sync.ok, 0u);
  EXPECT_EQ(service_->counters().sync.too_large, 1u);
}

TEST_P(LogServiceWireTest, MutatedRequestsAlwaysGetADecodableAnswer) {
  std::mt19937_64 rng(20261203);
  Epoch epoch = MustMeta(*log_).epoch;
  SyncRequest sync;
  sync.channels = {{"ch", Cursor{epoch, 2}}, {"other", std::nullopt}};
  SnapshotRequest snapshot{kProtocolVersion, {"ch", "other"}, 5};
  FetchRequest fetch{kProtocolVersion, "ch", {"m1", "m2"}, {hint_}};
  BackfillRequest backfill{kProtocolVersion, "ch", epoch, 8, 4};
  const std::vector<Bytes> seeds = {EncodeSyncRequest(sync), EncodeSnapshotRequest(snapshot),
                                    EncodeFetchRequest(fetch), EncodeBackfillRequest(backfill)};
  int answered_ok = 0;
  for (int round = 0; round < 4000; ++round) {
    Bytes bytes = seeds[round % seeds.size()];
    int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations && !bytes.empty(); ++m) {
      size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0:
          bytes[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          bytes.resize(at);
          break;
        default:
          bytes.insert(bytes.begin() + static_cast<long>(at), static_cast<uint8_t>(rng()));
      }
    }
    bool ok = false;
    switch (round % 4) {
      case 0: {
        auto r = DecodeSyncResponse(service_->HandleSync(bytes));
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ok = std::holds_alternative<SyncResponse>(*r);
        break;
      }
      case 1: {
        auto r = DecodeSnapshotResponse(service_->HandleSnapshot(bytes));
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ok = std::holds_alternative<SnapshotResponse>(*r);
        break;
      }
      case 2: {
        auto r = DecodeFetchResponse(service_->HandleFetch(bytes));
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ok = std::holds_alternative<FetchResponse>(*r);
        break;
      }
      default: {
        auto r = DecodeBackfillResponse(service_->HandleBackfill(bytes));
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ok = std::holds_alternative<BackfillResponse>(*r);
      }
    }
    answered_ok += ok ? 1 : 0;
  }
  // Both sides were exercised: some mutants still make sense, most do not.
  EXPECT_GT(answered_ok, 100);
  EXPECT_LT(answered_ok, 3900);
}

INSTANTIATE_TEST_SUITE_P(Backends, LogServiceWireTest, ::testing::ValuesIn(Backends()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace sds::catchup::testing
