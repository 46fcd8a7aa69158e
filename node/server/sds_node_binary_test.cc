// The real sds-node binary as a subprocess on SQLite: publish, SIGTERM (a
// clean exit that closes the database), restart on the same file, and a
// client resuming by cursor gets UP_TO_DATE: zero cold starts.
#include <gtest/gtest.h>

#include "log/log_test_util.h"
#include "node_process.h"
#include "node_test_util.h"

namespace sds::node {
namespace {

using catchup::testing::ContentMessage;
using catchup::testing::TempPath;
using namespace sds::node::testing;

uint64_t MetricValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(text.substr(at + series.size() + 2));
}

TEST(SdsNodeBinary, RestartOnTheSameFileResumesWithZeroColdStarts) {
  TempPath db("binary.db");
  const std::vector<std::string> args = {"--port",    "0", "--database",  db.str(),
                                         "--threads", "2", "--log-level", "warn"};
  catchup::SyncRequest sync;
  {
    NodeProcess process(args);
    const uint16_t port = process.WaitForPort();
    ASSERT_NE(port, 0);
    HttpClient http(port);
    PublishRequest publish;
    for (int i = 1; i <= 3; ++i)
      publish.messages.push_back(ContentMessage("m" + std::to_string(i), "room", i));
    ASSERT_EQ(http.Post("/v1/publish", ToString(EncodePublishRequest(publish))).result_int(), 200u);
    // A client's first sync: a cold start (no cursor), then the snapshot.
    sync.channels.push_back({"room", std::nullopt});
    auto first = http.Post(
        "/v1/snapshot",
        DumpJson({{"protocol_version", 1}, {"channel_ids", {Base64Encode(std::string("room"))}}}),
        kJsonType);
    ASSERT_EQ(first.result_int(), 200u) << first.body();
    auto snapshot = nlohmann::json::parse(first.body())["channels"][0];
    sync.channels[0].cursor =
        catchup::Cursor{EpochFromJson(snapshot["epoch"]), snapshot["snapshot_seq"].get<uint64_t>()};
    EXPECT_EQ(sync.channels[0].cursor->seq, 3u);
    EXPECT_EQ(process.Terminate(), 0);
  }
  NodeProcess process(args);
  const uint16_t port = process.WaitForPort();
  ASSERT_NE(port, 0);
  HttpClient http(port);
  auto r = http.Post("/v1/sync", DumpJson(ToJson(sync)), kJsonType);
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  EXPECT_EQ(nlohmann::json::parse(r.body())["channels"][0]["status"], "SYNC_STATUS_UP_TO_DATE");
  const std::string metrics = http.Get("/v1/metrics").body();
  for (const char* reason : {"no_cursor", "epoch_mismatch", "behind_retention", "ahead_of_head"}) {
    EXPECT_EQ(
        MetricValue(metrics, std::string("sds_node_cold_starts_total{reason=\"") + reason + "\"}"),
        0u)
        << reason;
  }
  EXPECT_EQ(MetricValue(metrics, "sds_node_channel_head_seq{channel=\"room\"}"), 3u);
  EXPECT_EQ(process.Terminate(), 0);
}

TEST(SdsNodeBinary, HelpDocumentsEveryFlag) {
  const std::string command = std::string(SDS_NODE_BINARY) + " --help";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string help;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) help.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0);
  for (const char* flag :
       {"--config", "--listen", "--port", "--threads", "--database", "--memory", "--postgres",
        "--max-body-bytes", "--max-connections", "--rate-limit-per-s",
        "--max-subscriber-queue-frames", "--http-idle-timeout-s", "--shutdown-grace-ms"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace sds::node
