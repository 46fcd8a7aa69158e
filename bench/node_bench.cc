// sds-node over loopback: UP_TO_DATE syncs/s over one keep-alive HTTP
// connection (10 channels per request), and messages/s published into SQLite
// over HTTP by batch size (one transaction per request).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "log/log_test_util.h"
#include "node_test_util.h"

namespace {

using namespace sds;
using namespace sds::node;
using namespace sds::node::testing;

NodeConfig BenchConfig(const std::string& db) {
  NodeConfig config = TestConfig();
  config.limits.rate_limit_per_s = 0;
  config.storage.memory = false;
  config.storage.database = db;
  return config;
}

// One node for every thread count: 10 channels with one entry each, and the
// encoded Sync whose cursors are all at the head.
struct SyncFixture {
  catchup::testing::TempPath db{"bench_sync.db"};
  RunningNode node = RunningNode::Start(BenchConfig(db.str()));
  std::string body;
  SyncFixture() {
    HttpClient http(node.port());
    PublishRequest publish;
    for (int c = 0; c < 10; ++c) {
      const std::string channel = "channel-" + std::to_string(c) + "-0123456";
      publish.messages.push_back(catchup::testing::ContentMessage("m", channel, 1));
    }
    http.Post("/v1/publish", ToString(EncodePublishRequest(publish)));
    catchup::SyncRequest sync;
    auto channels = node.log->Channels();
    if (channels.ok()) {
      for (const auto& meta : channels.value())
        sync.channels.push_back({meta.channel_id, catchup::Cursor{meta.epoch, meta.head_seq}});
    }
    body = ToString(catchup::EncodeSyncRequest(sync));
  }
};

// Each benchmark thread is one client on its own keep-alive connection.
void BM_UpToDateSyncOverHttp(benchmark::State& state) {
  static SyncFixture* fixture = new SyncFixture();
  HttpClient http(fixture->node.port());
  for (auto _ : state) {
    auto response = http.Post("/v1/sync", fixture->body);
    if (response.result_int() != 200) state.SkipWithError("sync failed");
    benchmark::DoNotOptimize(response.body().data());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["cold_starts"] =
        static_cast<double>(fixture->node.node->service().counters().cold_starts.total());
  }
}
BENCHMARK(BM_UpToDateSyncOverHttp)->UseRealTime()->Threads(1)->Threads(4)->Threads(16);

void BM_PublishIntoSqliteOverHttp(benchmark::State& state) {
  catchup::testing::TempPath db("bench_publish.db");
  NodeConfig config = BenchConfig(db.str());
  config.storage.retention_max_entries = 0;
  RunningNode node = RunningNode::Start(config);
  HttpClient http(node.port());
  const int batch = static_cast<int>(state.range(0));
  int64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    PublishRequest publish;
    for (int i = 0; i < batch; ++i, ++next) {
      publish.messages.push_back(
          catchup::testing::ContentMessage("m" + std::to_string(next), "room", next + 1, 100));
    }
    const std::string body = ToString(EncodePublishRequest(publish));
    state.ResumeTiming();
    auto response = http.Post("/v1/publish", body);
    if (response.result_int() != 200) state.SkipWithError("publish failed");
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_PublishIntoSqliteOverHttp)->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
