// The router without sockets: every kind of bad request gets a 4xx that says
// what was wrong and changes nothing; good ones reach the log service.
#include <gtest/gtest.h>

#include "log/log_test_util.h"
#include "node_test_util.h"
#include "sds/memory_channel_log.h"

namespace sds::node {
namespace {

using catchup::testing::ContentMessage;
using namespace sds::node::testing;

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(TestConfig()); }
  void Make(const NodeConfig& config) {
    auto log = catchup::MemoryChannelLog::Create(catchup::testing::Options());
    ASSERT_TRUE(log.ok());
    log_ = std::move(*log);
    auto node = Node::Create(config, log_);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);
  }
  HttpResponse Call(http::verb method, const std::string& target, std::string body,
                    const std::string& content_type, const std::string& accept = "") {
    HttpRequest request{method, target, 11};
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    if (!accept.empty()) request.set(http::field::accept, accept);
    request.body() = std::move(body);
    request.prepare_payload();
    return node_->Handle(request, "10.0.0.1");
  }
  HttpResponse PostJson(const std::string& target, const nlohmann::json& body) {
    return Call(http::verb::post, target, DumpJson(body), kJsonType);
  }
  size_t Channels() { return log_->Channels()->size(); }
  static std::string ErrorCode(const HttpResponse& r) {
    auto j = nlohmann::json::parse(r.body(), nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "";
  }

  std::shared_ptr<catchup::ChannelLog> log_;
  std::unique_ptr<Node> node_;
};

TEST_F(RouterTest, PublishThenSyncAsJsonAndProtobuf) {
  PublishRequest publish;
  publish.messages = {ContentMessage("m1", "ch", 1), ContentMessage("m2", "ch", 2)};
  HttpResponse published =
      Call(http::verb::post, "/v1/publish", ToString(EncodePublishRequest(publish)), kProtobufType);
  ASSERT_EQ(published.result_int(), 200u) << published.body();
  EXPECT_EQ(log_->Meta("ch")->value().head_seq, 2u);

  catchup::SyncRequest sync;
  sync.channels.push_back({"ch", std::nullopt});
  HttpResponse json = PostJson("/v1/sync", ToJson(sync));
  ASSERT_EQ(json.result_int(), 200u) << json.body();
  EXPECT_EQ(json[http::field::content_type], kJsonType);
  auto body = nlohmann::json::parse(json.body());
  EXPECT_EQ(body["channels"][0]["status"], "SYNC_STATUS_COLD_START_REQUIRED");
  EXPECT_EQ(body["channels"][0]["reason"], "COLD_REASON_NO_CURSOR");

  const catchup::Epoch epoch = log_->Meta("ch")->value().epoch;
  sync.channels[0].cursor = catchup::Cursor{epoch, 0};
  HttpResponse proto =
      Call(http::verb::post, "/v1/sync", ToString(catchup::EncodeSyncRequest(sync)), kProtobufType);
  ASSERT_EQ(proto.result_int(), 200u);
  auto decoded = catchup::DecodeSyncResponse(Span(proto.body()));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto& response = std::get<catchup::SyncResponse>(*decoded);
  ASSERT_EQ(response.channels.size(), 1u);
  EXPECT_EQ(response.channels[0].status, catchup::SyncStatus::kDelta);
  ASSERT_EQ(response.channels[0].entries.size(), 2u);
  EXPECT_EQ(response.channels[0].entries[1].message_id, "m2");

  // Protobuf in, JSON out when Accept asks for it.
  HttpResponse mixed =
      Call(http::verb::post, "/v1/sync", ToString(catchup::EncodeSyncRequest(sync)), kProtobufType,
           "application/json");
  ASSERT_EQ(mixed.result_int(), 200u);
  EXPECT_EQ(nlohmann::json::parse(mixed.body())["channels"][0]["entries"][1]["message_id"],
            Base64Encode(std::string("m2")));
}

TEST_F(RouterTest, SnapshotFetchBackfillAnswerJson) {
  PublishRequest publish;
  for (int i = 1; i <= 5; ++i)
    publish.messages.push_back(ContentMessage("m" + std::to_string(i), "ch", i));
  ASSERT_EQ(PostJson("/v1/publish", ToJson(publish)).result_int(), 200u);
  auto snapshot = PostJson("/v1/snapshot", {{"protocol_version", 1},
                                            {"channel_ids", {Base64Encode(std::string("ch"))}},
                                            {"entries_per_channel", 2}});
  ASSERT_EQ(snapshot.result_int(), 200u) << snapshot.body();
  auto s = nlohmann::json::parse(snapshot.body());
  EXPECT_EQ(s["channels"][0]["snapshot_seq"], 5);
  EXPECT_EQ(s["channels"][0]["entries"].size(), 2u);
  auto fetch = PostJson(
      "/v1/fetch",
      {{"protocol_version", 1},
       {"channel_id", Base64Encode(std::string("ch"))},
       {"message_ids", {Base64Encode(std::string("m3")), Base64Encode(std::string("zz"))}}});
  ASSERT_EQ(fetch.result_int(), 200u) << fetch.body();
  auto f = nlohmann::json::parse(fetch.body());
  EXPECT_EQ(f["entries"][0]["seq"], 3);
  EXPECT_EQ(f["missing_ids"][0], Base64Encode(std::string("zz")));
  auto backfill = PostJson("/v1/backfill", {{"protocol_version", 1},
                                            {"channel_id", Base64Encode(std::string("ch"))},
                                            {"epoch", s["channels"][0]["epoch"]},
                                            {"before_seq", 4},
                                            {"limit", 10}});
  ASSERT_EQ(backfill.result_int(), 200u) << backfill.body();
  auto b = nlohmann::json::parse(backfill.body());
  EXPECT_EQ(b["entries"].size(), 3u);
  EXPECT_TRUE(b["reached_low"].get<bool>());
}

TEST_F(RouterTest, BadRequestsAre4xxAndStoreNothing) {
  struct Case {
    const char* name;
    http::verb method;
    std::string target;
    std::string body;
    std::string content_type;
    unsigned status;
    std::string code;  // ServiceError code when the answer is JSON
  };
  const std::string garbage = "\xff\xff\xff\xff\x0f garbage";
  const std::vector<Case> cases = {
      {"garbage protobuf sync", http::verb::post, "/v1/sync", garbage, kProtobufType, 400, ""},
      {"garbage protobuf publish", http::verb::post, "/v1/publish", garbage, kProtobufType, 400,
       ""},
      {"bad JSON", http::verb::post, "/v1/sync", "{\"channels\": [", kJsonType, 400, "BAD_REQUEST"},
      {"JSON of the wrong shape", http::verb::post, "/v1/sync", "{\"channels\": 5}", kJsonType, 400,
       "BAD_REQUEST"},
      {"bad base64", http::verb::post, "/v1/publish",
       R"({"protocol_version":1,"messages":["***"]})", kJsonType, 400, "BAD_REQUEST"},
      {"deep JSON", http::verb::post, "/v1/sync", std::string(10000, '['), kJsonType, 413,
       "TOO_LARGE"},
      {"wrong version", http::verb::post, "/v1/sync", R"({"protocol_version":7,"channels":[]})",
       kJsonType, 400, "UNSUPPORTED_VERSION"},
      {"wrong publish version", http::verb::post, "/v1/publish",
       R"({"protocol_version":9,"messages":["AAAA"]})", kJsonType, 400, "UNSUPPORTED_VERSION"},
      {"wrong content type", http::verb::post, "/v1/sync", "x", "text/plain", 415, "BAD_REQUEST"},
      {"no content type", http::verb::post, "/v1/publish", "x", "", 415, "BAD_REQUEST"},
      {"unknown path", http::verb::get, "/v2/sync", "", "", 404, "BAD_REQUEST"},
      {"unknown v1 path", http::verb::post, "/v1/syncx", "", kJsonType, 404, "BAD_REQUEST"},
      {"wrong method", http::verb::get, "/v1/sync", "", "", 405, "BAD_REQUEST"},
      {"wrong method on metrics", http::verb::post, "/v1/metrics", "", kJsonType, 405,
       "BAD_REQUEST"},
      {"plain GET on subscribe", http::verb::get, "/v1/subscribe", "", "", 426, "BAD_REQUEST"},
      {"undecodable SDS message", http::verb::post, "/v1/publish",
       R"({"protocol_version":1,"messages":["/////w=="]})", kJsonType, 422, ""},
      {"empty publish", http::verb::post, "/v1/publish", R"({"protocol_version":1})", kJsonType,
       400, "BAD_REQUEST"},
  };
  for (const Case& c : cases) {
    HttpResponse r = Call(c.method, c.target, c.body, c.content_type);
    EXPECT_EQ(r.result_int(), c.status) << c.name << ": " << r.body();
    if (!c.code.empty()) {
      EXPECT_EQ(ErrorCode(r), c.code) << c.name << ": " << r.body();
    }
    EXPECT_EQ(Channels(), 0u) << c.name;
  }
  // The protobuf answers are ServiceErrors a client can decode.
  HttpResponse r = Call(http::verb::post, "/v1/sync", garbage, kProtobufType);
  auto decoded = catchup::DecodeSyncResponse(Span(r.body()));
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE(std::holds_alternative<catchup::ServiceError>(*decoded));
  EXPECT_EQ(std::get<catchup::ServiceError>(*decoded).code, catchup::ServiceErrorCode::kBadRequest);
  // Still serving.
  EXPECT_EQ(Call(http::verb::get, "/v1/healthz", "", "").result_int(), 200u);
  EXPECT_EQ(node_->metrics().requests("sync", 400), 5u);
}

TEST_F(RouterTest, OversizedBodiesAre413) {
  NodeConfig config = TestConfig();
  config.limits.max_body_bytes = 1000;
  config.limits.max_messages_per_publish = 2;
  Make(config);
  EXPECT_EQ(Call(http::verb::post, "/v1/sync", std::string(2000, ' '), kJsonType).result_int(),
            413u);
  EXPECT_EQ(Call(http::verb::post, "/v1/sync", std::string(2000, '\0'), kProtobufType).result_int(),
            413u);
  PublishRequest publish;
  publish.messages = {ContentMessage("a"), ContentMessage("b"), ContentMessage("c")};
  HttpResponse r = PostJson("/v1/publish", ToJson(publish));
  EXPECT_EQ(r.result_int(), 413u) << r.body();
  EXPECT_EQ(ErrorCode(r), "TOO_LARGE");
  EXPECT_EQ(Channels(), 0u);
  // Too many channels in one Sync.
  config.limits.max_body_bytes = 1 << 20;
  config.limits.max_channels_per_request = 3;
  Make(config);
  catchup::SyncRequest sync;
  for (int i = 0; i < 4; ++i) sync.channels.push_back({"c" + std::to_string(i), std::nullopt});
  EXPECT_EQ(PostJson("/v1/sync", ToJson(sync)).result_int(), 413u);
  EXPECT_EQ(
      Call(http::verb::post, "/v1/sync", ToString(catchup::EncodeSyncRequest(sync)), kProtobufType)
          .result_int(),
      413u);
}

TEST_F(RouterTest, RateLimitAnswers429ThenRefills) {
  NodeConfig config = TestConfig();
  config.limits.rate_limit_per_s = 1;
  config.limits.rate_limit_burst = 3;
  Make(config);
  auto now = std::make_shared<std::chrono::steady_clock::time_point>(
      std::chrono::steady_clock::time_point{});
  node_->set_clock([now] { return *now; });
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Call(http::verb::get, "/v1/healthz", "", "").result_int(), 200u);
  HttpResponse limited = Call(http::verb::get, "/v1/healthz", "", "");
  EXPECT_EQ(limited.result_int(), 429u);
  EXPECT_EQ(limited[http::field::retry_after], "1");
  EXPECT_EQ(ErrorCode(limited), "BUSY");
  // Another address has its own bucket.
  HttpRequest other{http::verb::get, "/v1/healthz", 11};
  EXPECT_EQ(node_->Handle(other, "10.0.0.2").result_int(), 200u);
  *now += std::chrono::seconds(1);
  EXPECT_EQ(Call(http::verb::get, "/v1/healthz", "", "").result_int(), 200u);
  EXPECT_EQ(Call(http::verb::get, "/v1/healthz", "", "").result_int(), 429u);
  EXPECT_EQ(node_->metrics().rate_limited(), 2u);
}

TEST_F(RouterTest, MetricsExposeCountersAndChannels) {
  PublishRequest publish;
  publish.messages = {ContentMessage("m1", "room", 1)};
  ASSERT_EQ(PostJson("/v1/publish", ToJson(publish)).result_int(), 200u);
  catchup::SyncRequest sync;
  sync.channels.push_back({"room", std::nullopt});
  ASSERT_EQ(PostJson("/v1/sync", ToJson(sync)).result_int(), 200u);
  HttpResponse m = Call(http::verb::get, "/v1/metrics", "", "");
  ASSERT_EQ(m.result_int(), 200u);
  const std::string& text = m.body();
  EXPECT_NE(text.find("sds_node_cold_starts_total{reason=\"no_cursor\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sds_node_channel_head_seq{channel=\"room\"} 1"), std::string::npos);
  EXPECT_NE(text.find("sds_node_channel_low_seq{channel=\"room\"} 1"), std::string::npos);
  EXPECT_NE(
      text.find("sds_node_requests_total{endpoint=\"publish\",status=\"200\",outcome=\"ok\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("sds_node_append_seconds_count 1"), std::string::npos);
  EXPECT_NE(text.find("sds_node_appended_total 1"), std::string::npos);
}

TEST(NodeMessages, Base64RoundTripsAndRejectsGarbage) {
  for (size_t n = 0; n < 40; ++n) {
    Bytes bytes(n);
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(i * 37 + n);
    auto decoded = Base64Decode(Base64Encode(ByteSpan(bytes)));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, bytes);
  }
  EXPECT_FALSE(Base64Decode("a").has_value());
  EXPECT_FALSE(Base64Decode("ab$d").has_value());
  EXPECT_EQ(Base64Encode(std::string("ch")), "Y2g=");
}

TEST(NodeMessages, PublishRequestRoundTripsAndEnforcesLimits) {
  PublishRequest r;
  r.messages = {ToBytes("one"), ToBytes("two")};
  r.retrieval_hints = {ToBytes("h1")};
  auto decoded = DecodePublishRequest(EncodePublishRequest(r), PublishLimits{});
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->messages, r.messages);
  EXPECT_EQ(decoded->retrieval_hints, r.retrieval_hints);
  EXPECT_EQ(decoded->protocol_version, 1u);
  PublishLimits tight;
  tight.max_messages = 1;
  EXPECT_EQ(DecodePublishRequest(EncodePublishRequest(r), tight).status().code(),
            ErrorCode::kDecodeLimitExceeded);
  r.retrieval_hints = {ToBytes("a"), ToBytes("b"), ToBytes("c")};
  EXPECT_EQ(DecodePublishRequest(EncodePublishRequest(r), PublishLimits{}).status().code(),
            ErrorCode::kDecodeMalformed);
}

TEST(NodeConfigTest, ValidateNamesTheBadFlag) {
  NodeConfig c = TestConfig();
  EXPECT_TRUE(Validate(c).ok());
  c.limits.max_entries_per_page = 5000;
  EXPECT_NE(Validate(c).message().find("--max-entries-per-page"), std::string::npos);
  c = TestConfig();
  c.limits.max_subscriber_queue_frames = 0;
  EXPECT_FALSE(Validate(c).ok());
}

TEST(NodeConfigTest, PostgresExcludesTheSqliteOnlySettings) {
  NodeConfig c = TestConfig();
  c.storage.memory = false;
  c.storage.postgres = "host=/tmp dbname=sds";
#ifdef SDS_WITH_POSTGRES
  EXPECT_TRUE(Validate(c).ok()) << Validate(c).ToString();
  c.storage.sync_full = true;
  EXPECT_NE(Validate(c).message().find("--sync-full"), std::string::npos);
  c.storage.sync_full = false;
  c.storage.memory = true;
  EXPECT_NE(Validate(c).message().find("--memory"), std::string::npos);
#else
  EXPECT_NE(Validate(c).message().find("without PostgreSQL"), std::string::npos);
#endif
}

#ifdef SDS_WITH_POSTGRES
TEST(NodeConfigTest, DescribeStorageNeverShowsThePassword) {
  StorageConfig s;
  s.postgres = "host=/run/pg port=5433 dbname=sds user=node password=hunter2";
  const std::string described = DescribeStorage(s);
  EXPECT_EQ(described.find("hunter2"), std::string::npos) << described;
  EXPECT_NE(described.find("dbname=sds"), std::string::npos) << described;
  EXPECT_NE(described.find("port=5433"), std::string::npos) << described;
  s.postgres = "postgresql://node:hunter2@db.example:5432/sds";
  EXPECT_EQ(DescribeStorage(s).find("hunter2"), std::string::npos) << DescribeStorage(s);
  EXPECT_NE(DescribeStorage(s).find("host=db.example"), std::string::npos) << DescribeStorage(s);
  // Unparsable input is not echoed: it may hold a password.
  s.postgres = "password=hunter2 'unterminated";
  EXPECT_EQ(DescribeStorage(s).find("hunter2"), std::string::npos) << DescribeStorage(s);
}
#endif

}  // namespace
}  // namespace sds::node
