// sds-node end to end over loopback: the server runs in this process on an
// ephemeral port; clients are real HTTP and WebSocket connections.
#include <gtest/gtest.h>

#include <future>

#include "log/log_test_util.h"
#include "node_test_util.h"

namespace sds::node {
namespace {

using catchup::testing::ContentMessage;
using catchup::testing::TempPath;
using namespace sds::node::testing;

std::string PublishBody(const std::vector<Bytes>& messages) {
  PublishRequest r;
  r.messages = messages;
  return ToString(EncodePublishRequest(r));
}

std::vector<Bytes> Messages(const std::string& prefix, int from, int to, const ChannelId& ch = "ch",
                            size_t content_bytes = 16) {
  std::vector<Bytes> out;
  for (int i = from; i <= to; ++i)
    out.push_back(ContentMessage(prefix + std::to_string(i), ch, i, content_bytes));
  return out;
}

SubscribeRequest SubscribeTo(const ChannelId& ch, std::optional<catchup::Cursor> cursor) {
  SubscribeRequest r;
  r.channels.push_back({ch, cursor});
  return r;
}

std::vector<uint64_t> Seqs(const nlohmann::json& frame) {
  std::vector<uint64_t> seqs;
  for (const auto& e : frame["entries"]) seqs.push_back(e["seq"].get<uint64_t>());
  return seqs;
}

catchup::SyncResponse MustSync(HttpClient& http, const catchup::SyncRequest& request) {
  auto r = http.Post("/v1/sync", ToString(catchup::EncodeSyncRequest(request)));
  EXPECT_EQ(r.result_int(), 200u) << r.body();
  auto decoded = catchup::DecodeSyncResponse(Span(r.body()));
  EXPECT_TRUE(decoded.ok() && std::holds_alternative<catchup::SyncResponse>(*decoded));
  if (!decoded.ok() || !std::holds_alternative<catchup::SyncResponse>(*decoded)) return {};
  return std::get<catchup::SyncResponse>(*decoded);
}

TEST(ServerE2E, PublishReachesSubscriberLiveThenCatchUpByCursorAfterDisconnect) {
  RunningNode node = RunningNode::Start(TestConfig());
  ASSERT_NE(node.port(), 0);
  HttpClient http(node.port());
  catchup::Epoch epoch{};
  {
    Subscriber sub(node.port());
    sub.Subscribe(SubscribeTo("ch", std::nullopt));
    EXPECT_EQ(sub.NextOfType("unknown_channel")["channel_id"], Base64Encode(std::string("ch")));
    // Registered: publishes from another connection arrive live, in order.
    ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 1, 2))).result_int(), 200u);
    ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 3, 3))).result_int(), 200u);
    auto first = sub.NextOfType("entries");
    EXPECT_TRUE(first["live"].get<bool>());
    EXPECT_EQ(Seqs(first), (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(first["entries"][0]["message_id"], Base64Encode(std::string("m1")));
    auto payload = Base64Decode(first["entries"][0]["payload"].get<std::string>());
    ASSERT_TRUE(payload.has_value());
    EXPECT_EQ(*payload, ContentMessage("m1", "ch", 1));
    auto second = sub.NextOfType("entries");
    EXPECT_EQ(Seqs(second), (std::vector<uint64_t>{3}));
    epoch = EpochFromJson(second["epoch"]);
  }
  // Missed while away.
  ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 4, 6))).result_int(), 200u);
  Subscriber back(node.port());
  back.Subscribe(SubscribeTo("ch", catchup::Cursor{epoch, 3}));
  auto missed = back.NextOfType("entries");
  EXPECT_FALSE(missed["live"].get<bool>());
  EXPECT_EQ(Seqs(missed), (std::vector<uint64_t>{4, 5, 6}));
  auto caught_up = back.NextOfType("caught_up");
  EXPECT_EQ(caught_up["head_seq"], 6);
  ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 7, 7))).result_int(), 200u);
  auto live = back.NextOfType("entries");
  EXPECT_TRUE(live["live"].get<bool>());
  EXPECT_EQ(Seqs(live), (std::vector<uint64_t>{7}));
  // A duplicate publish is not a new entry and is not fanned out.
  auto dup = http.Post("/v1/publish", PublishBody(Messages("m", 7, 8)), kProtobufType, kJsonType);
  ASSERT_EQ(dup.result_int(), 200u);
  auto results = nlohmann::json::parse(dup.body())["results"];
  EXPECT_EQ(results[0]["disposition"], "DISPOSITION_DUPLICATE");
  EXPECT_EQ(results[1]["seq"], 8);
  EXPECT_EQ(Seqs(back.NextOfType("entries")), (std::vector<uint64_t>{8}));
  EXPECT_EQ(node.node->metrics().subscribers(), 1);
}

TEST(ServerE2E, CatchUpLongerThanAPageArrivesInOrderWithoutGaps) {
  NodeConfig config = TestConfig();
  config.limits.max_entries_per_page = 7;
  RunningNode node = RunningNode::Start(config);
  HttpClient http(node.port());
  ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 1, 50))).result_int(), 200u);
  const catchup::Epoch epoch = node.log->Meta("ch")->value().epoch;
  Subscriber sub(node.port());
  sub.Subscribe(SubscribeTo("ch", catchup::Cursor{epoch, 0}));
  std::vector<uint64_t> seen;
  // Publish while the catch-up is running: every entry arrives exactly once.
  ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("n", 51, 60))).result_int(), 200u);
  for (;;) {
    auto frame = sub.Next();
    ASSERT_TRUE(frame.has_value());
    if ((*frame)["type"] == "entries") {
      for (uint64_t s : Seqs(*frame)) seen.push_back(s);
    }
    if (seen.size() >= 60) break;
  }
  ASSERT_EQ(seen.size(), 60u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST(ServerE2E, ManyChannelsCatchUpWithinASmallSendQueue) {
  NodeConfig config = TestConfig();
  config.limits.max_subscriber_queue_frames = 8;
  RunningNode node = RunningNode::Start(config);
  HttpClient http(node.port());
  SubscribeRequest subscribe;
  for (int c = 0; c < 40; ++c) {
    const ChannelId channel = "c" + std::to_string(c);
    ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 1, 3, channel))).result_int(),
              200u);
    subscribe.channels.push_back(
        {channel, catchup::Cursor{node.log->Meta(channel)->value().epoch, 1}});
  }
  Subscriber sub(node.port());
  sub.Subscribe(subscribe);
  size_t caught_up = 0, entries = 0;
  while (caught_up < 40) {
    auto frame = sub.Next();
    ASSERT_TRUE(frame.has_value()) << "closed after " << caught_up << " channels";
    if ((*frame)["type"] == "caught_up") ++caught_up;
    if ((*frame)["type"] == "entries") entries += (*frame)["entries"].size();
  }
  EXPECT_EQ(entries, 80u);
  EXPECT_EQ(node.node->metrics().slow_subscribers(), 0u);
}

TEST(ServerE2E, RestartOverTheSameSqliteFileCausesZeroColdStarts) {
  TempPath path("node_restart.db");
  NodeConfig config = TestConfig();
  config.storage.memory = false;
  config.storage.database = path.str();
  catchup::Cursor cursor;
  {
    RunningNode node = RunningNode::Start(config);
    HttpClient http(node.port());
    ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 1, 5))).result_int(), 200u);
    cursor = {node.log->Meta("ch")->value().epoch, 5};
    node.Stop();
  }
  RunningNode node = RunningNode::Start(config);
  HttpClient http(node.port());
  catchup::SyncRequest sync;
  sync.channels.push_back({"ch", cursor});
  auto response = MustSync(http, sync);
  ASSERT_EQ(response.channels.size(), 1u);
  EXPECT_EQ(response.channels[0].status, catchup::SyncStatus::kUpToDate);
  // Entries published after the restart continue the same epoch.
  ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m", 6, 6))).result_int(), 200u);
  Subscriber sub(node.port());
  sub.Subscribe(SubscribeTo("ch", cursor));
  auto frame = sub.NextOfType("entries");
  EXPECT_EQ(Seqs(frame), (std::vector<uint64_t>{6}));
  EXPECT_EQ(EpochFromJson(frame["epoch"]), cursor.epoch);
  sub.NextOfType("caught_up");
  EXPECT_EQ(node.node->service().counters().cold_starts.total(), 0u);
}

// Raw bytes on a fresh connection; returns the status of the node's answer.
unsigned RawExchange(uint16_t port, const std::string& bytes, bool half_close) {
  HttpClient client(port);
  asio::write(client.socket(), asio::buffer(bytes));
  if (half_close) client.socket().shutdown(tcp::socket::shutdown_send);
  http::response_parser<http::string_body> parser;
  beast::error_code ec;
  http::read(client.socket(), client.buffer(), parser, ec);
  EXPECT_FALSE(ec) << ec.message() << " for " << bytes.substr(0, 40);
  return ec ? 0 : parser.get().result_int();
}

TEST(ServerE2E, MalformedHttpIsAnswered4xxAndTheNodeKeepsServing) {
  NodeConfig config = TestConfig();
  config.limits.max_body_bytes = 4096;
  config.limits.max_header_bytes = 1024;
  RunningNode node = RunningNode::Start(config);
  const uint16_t port = node.port();
  // Truncated: the body ends before Content-Length.
  EXPECT_EQ(RawExchange(port,
                        "POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100\r\n\r\n{\"proto",
                        true),
            400u);
  // Oversized, announced by Content-Length.
  EXPECT_EQ(RawExchange(port,
                        "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        "application/x-protobuf\r\nContent-Length: 100000\r\n\r\n",
                        false),
            413u);
  // Oversized chunked body.
  std::string chunked =
      "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked += "400\r\n" + std::string(1024, ' ') + "\r\n";
  EXPECT_EQ(RawExchange(port, chunked, false), 413u);
  // Headers over the limit.
  EXPECT_EQ(
      RawExchange(port, "GET /v1/healthz HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n",
                  false),
      431u);
  // Not HTTP.
  EXPECT_EQ(RawExchange(port, "\x16\x03\x01 hello tls\r\n\r\n", false), 400u);
  EXPECT_EQ(RawExchange(port, "GET /v1/healthz HTTP/9.9\r\n\r\n", false), 400u);
  // A bad request on a keep-alive connection does not end it.
  HttpClient http(port);
  EXPECT_EQ(http.Post("/v1/sync", "\xff\xff\xff", kProtobufType).result_int(), 400u);
  EXPECT_EQ(http.Post("/v1/sync", "{", kJsonType).result_int(), 400u);
  EXPECT_EQ(http.Post("/v1/sync", "x", "text/html").result_int(), 415u);
  EXPECT_EQ(http.Get("/v1/nothing").result_int(), 404u);
  EXPECT_EQ(http.Get("/v1/publish").result_int(), 405u);
  EXPECT_EQ(http.Get("/v1/healthz").result_int(), 200u);
  EXPECT_TRUE(node.log->Channels()->empty());
  // WebSocket: garbage and wrong versions get an error frame and a close.
  for (const std::string& text :
       {std::string("not json"), std::string(R"({"type":"subscribe","protocol_version":3})"),
        std::string(R"({"type":"hello"})")}) {
    Subscriber sub(port);
    sub.Send(text);
    auto error = sub.NextOfType("error");
    EXPECT_FALSE(error["message"].get<std::string>().empty());
    EXPECT_FALSE(sub.Next().has_value());
    EXPECT_EQ(sub.close_reason().code, websocket::close_code::policy_error);
  }
  EXPECT_EQ(HttpClient(port).Get("/v1/healthz").result_int(), 200u);
}

TEST(ServerE2E, SlowSubscriberIsDisconnectedWithAReason) {
  NodeConfig config = TestConfig();
  config.limits.max_subscriber_queue_frames = 4;
  config.limits.max_subscriber_queue_bytes = 256 << 10;
  config.limits.slow_subscriber_grace_ms = 100;
  RunningNode node = RunningNode::Start(config);
  HttpClient http(node.port());
  Subscriber slow(node.port(), /*receive_buffer_bytes=*/4096);
  slow.Subscribe(SubscribeTo("ch", std::nullopt));
  slow.NextOfType("unknown_channel");
  // The subscriber reads nothing more; the node's queue fills, then overflows.
  int published = 0;
  while (node.node->metrics().slow_subscribers() == 0 && published < 5000) {
    ++published;
    ASSERT_EQ(http.Post("/v1/publish", PublishBody(Messages("m" + std::to_string(published) + "-",
                                                            1, 1, "ch", 32 << 10)))
                  .result_int(),
              200u);
  }
  EXPECT_EQ(node.node->metrics().slow_subscribers(), 1u) << "after " << published << " publishes";
  // The subscriber's connection ends (close 1013, or reset after the grace).
  while (slow.Next().has_value()) {
  }
  if (slow.close_reason().code != websocket::close_code::none) {
    EXPECT_EQ(slow.close_reason().code, websocket::close_code::try_again_later);
    EXPECT_NE(std::string(slow.close_reason().reason.c_str()).find("slow subscriber"),
              std::string::npos);
  }
  // Others are unaffected.
  Subscriber fast(node.port());
  fast.Subscribe(SubscribeTo("ch", std::nullopt));
  EXPECT_EQ(fast.NextOfType("cold_start")["reason"], "COLD_REASON_NO_CURSOR");
  fast.NextOfType("caught_up");
  EXPECT_EQ(http.Get("/v1/healthz").result_int(), 200u);
}

TEST(ServerE2E, RateLimitIs429OverTheWire) {
  NodeConfig config = TestConfig();
  config.limits.rate_limit_per_s = 0.001;  // no refill within the test
  config.limits.rate_limit_burst = 2;
  RunningNode node = RunningNode::Start(config);
  HttpClient http(node.port());
  EXPECT_EQ(http.Get("/v1/healthz").result_int(), 200u);
  EXPECT_EQ(http.Get("/v1/healthz").result_int(), 200u);
  auto limited = http.Get("/v1/healthz");
  EXPECT_EQ(limited.result_int(), 429u);
  EXPECT_FALSE(limited[http::field::retry_after].empty());
  // The connection stays usable (and limited).
  EXPECT_EQ(http.Get("/v1/metrics").result_int(), 429u);
}

TEST(ServerE2E, ConnectionsOverTheLimitGet503) {
  NodeConfig config = TestConfig();
  config.limits.max_connections = 1;
  RunningNode node = RunningNode::Start(config);
  HttpClient first(node.port());
  EXPECT_EQ(first.Get("/v1/healthz").result_int(), 200u);
  HttpClient second(node.port());
  EXPECT_EQ(second.Get("/v1/healthz").result_int(), 503u);
  EXPECT_EQ(first.Get("/v1/healthz").result_int(), 200u);
}

TEST(ServerE2E, StopClosesSubscribersWithGoingAwayAndFinishes) {
  RunningNode node = RunningNode::Start(TestConfig());
  HttpClient http(node.port());
  EXPECT_EQ(http.Get("/v1/healthz").result_int(), 200u);  // an idle keep-alive connection
  Subscriber sub(node.port());
  sub.Subscribe(SubscribeTo("ch", std::nullopt));
  sub.NextOfType("unknown_channel");
  auto stopping = std::async(std::launch::async, [&] { node.server->Stop(); });
  EXPECT_FALSE(sub.Next().has_value());  // answers the node's close frame
  EXPECT_EQ(sub.close_reason().code, websocket::close_code::going_away);
  // With the subscriber's close answered and the idle connection closed,
  // nothing is left to drain.
  ASSERT_EQ(stopping.wait_for(std::chrono::seconds(kSafetyTimeoutS)), std::future_status::ready);
  EXPECT_EQ(node.node->metrics().connections(), 0);
  // The idle HTTP connection was closed too.
  http::response<http::string_body> response;
  beast::error_code ec;
  http::read(http.socket(), http.buffer(), response, ec);
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace sds::node
