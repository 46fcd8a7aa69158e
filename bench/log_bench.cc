// sds_log_bench: what the store side of catch-up costs.
//
//   BM_SyncUpToDate/<backend>   a Sync of 10 channels, all up to date (the
//                               30 s keep-alive every participant sends), typed
//   BM_HandleSyncUpToDate/<backend>  the same, bytes in, bytes out (decode,
//                               answer, encode)
//   BM_SyncDeltaPage/<backend>  one DELTA page of 100 entries of ~1 KB, typed
//   BM_HandleSyncDeltaPage/<backend>  the same, bytes in, bytes out
//   BM_SqliteAppend/<batch>     content messages appended into SQLite in
//                               batches of 1, 10 and 100 (items/s = messages/s)
//   BM_PostgresAppend/<batch>   the same into PostgreSQL (one connection)
//   BM_PostgresAppendNodes/<shared>/threads:4  four nodes (connections)
//                               appending batches of 10 at once, into one
//                               channel (shared=1: they queue on its row
//                               lock) or one channel each (shared=0)
// The PostgreSQL benchmarks need a scratch database:
//   SDS_BENCH_POSTGRES="host=/tmp/pg dbname=bench" sds_log_bench --benchmark_filter=Postgres
// (they report an error without it). Ids are unique per run, so a database
// may be reused; retention (10,000 per channel) keeps its size bounded.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "sds/codec.h"
#include "sds/log_service.h"
#include "sds/memory_channel_log.h"
#include "sds/sqlite_channel_log.h"
#ifdef SDS_WITH_POSTGRES
#include <atomic>
#include <chrono>
#include <cstdlib>

#include "sds/postgres_channel_log.h"
#endif

namespace {

using namespace sds;
using namespace sds::catchup;

const Timestamp kNow = TimestampFromUnixMillis(1'700'000'000'000);

std::string TempDb(const std::string& tag) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("sds_log_bench_" + tag + "_" + std::to_string(getpid()) + ".db"))
                         .string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

ChannelLogOptions Options() {
  ChannelLogOptions options;
  auto rng = std::make_shared<std::mt19937_64>(42);
  options.entropy = [rng](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>((*rng)());
  };
  return options;
}

// Nim-dialect content messages whose 16-character id is rewritten in place
// (field 1 comes first: tag, length, id), so making one costs a memcpy.
class MessageFactory {
 public:
  MessageFactory(const ChannelId& channel, size_t content_bytes, uint64_t first_id = 0)
      : next_(first_id) {
    Bytes content(content_bytes, 'x');
    Message m;
    m.message_id = std::string(16, '0');
    m.channel_id = channel;
    m.sender_id = "alice";
    m.lamport_timestamp = 1'700'000'000;
    m.content = ByteSpan(content);
    wire_ = Encode(m, Dialect::kNim);
  }
  const Bytes& Next() {
    char id[17];
    std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(next_++));
    std::memcpy(wire_.data() + 2, id, 16);
    return wire_;
  }
  Bytes NextCopy() { return Next(); }

 private:
  Bytes wire_;
  uint64_t next_;
};

std::shared_ptr<ChannelLog> MakeLog(int backend, const std::string& tag) {
  if (backend == 0) return std::shared_ptr<ChannelLog>(*MemoryChannelLog::Create(Options()));
  auto log = SqliteChannelLog::Open(TempDb(tag), Options());
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    std::abort();
  }
  return std::shared_ptr<ChannelLog>(std::move(*log));
}

const char* BackendName(int backend) { return backend == 0 ? "memory" : "sqlite"; }

// A log of `channels` channels holding `entries` messages each.
std::shared_ptr<ChannelLog> Filled(int backend, const std::string& tag, int channels, int entries,
                                   size_t content_bytes) {
  auto log = MakeLog(backend, tag);
  for (int c = 0; c < channels; ++c) {
    MessageFactory factory("channel-" + std::to_string(c), content_bytes);
    std::vector<Bytes> wires;
    for (int i = 0; i < entries; ++i) wires.push_back(factory.NextCopy());
    std::vector<AppendInput> inputs;
    for (const Bytes& w : wires) inputs.push_back({w, {}});
    if (!log->Append(inputs, kNow).ok()) std::abort();
  }
  return log;
}

SyncRequest CursorsAtHead(ChannelLog& log, int channels, uint64_t behind) {
  SyncRequest request;
  for (int c = 0; c < channels; ++c) {
    ChannelId id = "channel-" + std::to_string(c);
    ChannelMeta meta = **log.Meta(id);
    request.channels.push_back({id, Cursor{meta.epoch, meta.head_seq - behind}});
  }
  return request;
}

void BM_SyncUpToDate(benchmark::State& state) {
  int backend = static_cast<int>(state.range(0));
  state.SetLabel(BackendName(backend));
  auto log = Filled(backend, "uptodate", 10, 50, 200);
  auto service = std::move(*LogService::Create(log));
  SyncRequest request = CursorsAtHead(*log, 10, 0);
  for (auto _ : state) {
    auto answer = service->Sync(request);
    benchmark::DoNotOptimize(answer);
  }
  if (service->counters().up_to_date != 10 * static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every channel was up to date");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SyncUpToDate)->Arg(0)->Arg(1);

void BM_SyncDeltaPage(benchmark::State& state) {
  int backend = static_cast<int>(state.range(0));
  state.SetLabel(BackendName(backend));
  auto log = Filled(backend, "delta", 1, 1000, 1000);
  auto service = std::move(*LogService::Create(log));
  SyncRequest request = CursorsAtHead(*log, 1, 500);
  request.max_entries = 100;
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto answer = service->Sync(request);
    const auto& r = std::get<SyncResponse>(answer).channels[0];
    if (r.entries.size() != 100) state.SkipWithError("page is not 100 entries");
    bytes += r.entries.back().payload.size() * r.entries.size();
    benchmark::DoNotOptimize(answer);
  }
  state.SetItemsProcessed(state.iterations() * 100);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_SyncDeltaPage)->Arg(0)->Arg(1);

void BM_HandleSyncUpToDate(benchmark::State& state) {
  int backend = static_cast<int>(state.range(0));
  state.SetLabel(BackendName(backend));
  auto log = Filled(backend, "wire_uptodate", 10, 50, 200);
  auto service = std::move(*LogService::Create(log));
  const Bytes request = EncodeSyncRequest(CursorsAtHead(*log, 10, 0));
  size_t reply_bytes = 0;
  for (auto _ : state) {
    Bytes reply = service->HandleSync(request);
    reply_bytes = reply.size();
    benchmark::DoNotOptimize(reply);
  }
  if (service->counters().up_to_date != 10 * static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every channel was up to date");
  }
  state.counters["request_bytes"] = static_cast<double>(request.size());
  state.counters["reply_bytes"] = static_cast<double>(reply_bytes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HandleSyncUpToDate)->Arg(0)->Arg(1);

void BM_HandleSyncDeltaPage(benchmark::State& state) {
  int backend = static_cast<int>(state.range(0));
  state.SetLabel(BackendName(backend));
  auto log = Filled(backend, "wire_delta", 1, 1000, 1000);
  auto service = std::move(*LogService::Create(log));
  SyncRequest typed = CursorsAtHead(*log, 1, 500);
  typed.max_entries = 100;
  const Bytes request = EncodeSyncRequest(typed);
  size_t reply_bytes = 0;
  for (auto _ : state) {
    Bytes reply = service->HandleSync(request);
    reply_bytes = reply.size();
    benchmark::DoNotOptimize(reply);
  }
  if (service->counters().entries_served != 100 * static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("pages were not 100 entries");
  }
  state.counters["reply_bytes"] = static_cast<double>(reply_bytes);
  state.SetItemsProcessed(state.iterations() * 100);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(reply_bytes));
}
BENCHMARK(BM_HandleSyncDeltaPage)->Arg(0)->Arg(1);

void BM_SqliteAppend(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  auto log = MakeLog(1, "append" + std::to_string(batch));
  MessageFactory factory("channel-0", 1000);
  std::vector<Bytes> wires(batch);
  std::vector<AppendInput> inputs(batch);
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) {
      wires[i] = factory.Next();
      inputs[i] = AppendInput{wires[i], {}};
    }
    auto results = log->Append(inputs, kNow);
    if (!results.ok() || (*results)[0].disposition != AppendDisposition::kAppended) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
}
BENCHMARK(BM_SqliteAppend)->Arg(1)->Arg(10)->Arg(100);

#ifdef SDS_WITH_POSTGRES
// Ids never seen by the database before: the run's clock in the top 24 bits,
// a factory number in the next 8, a counter below.
uint64_t FreshIds() {
  static const uint64_t run =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()) &
      0xFFFFFF;
  static std::atomic<uint64_t> factory{0};
  return run << 40 | (factory++ & 0xFF) << 32;
}

std::unique_ptr<PostgresChannelLog> OpenPostgres(benchmark::State& state) {
  const char* conninfo = std::getenv("SDS_BENCH_POSTGRES");
  if (conninfo == nullptr || *conninfo == '\0') {
    state.SkipWithError("set SDS_BENCH_POSTGRES to the libpq conninfo of a scratch database");
    return nullptr;
  }
  auto log = PostgresChannelLog::Open(conninfo, Options());
  if (!log.ok()) {
    state.SkipWithError(log.status().ToString().c_str());
    return nullptr;
  }
  return std::move(*log);
}

// Appends batches of `batch` messages from `factory` until the state ends.
void AppendBatches(benchmark::State& state, ChannelLog& log, MessageFactory& factory,
                   size_t batch) {
  std::vector<Bytes> wires(batch);
  std::vector<AppendInput> inputs(batch);
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) {
      wires[i] = factory.Next();
      inputs[i] = AppendInput{wires[i], {}};
    }
    auto results = log.Append(inputs, kNow);
    if (!results.ok() || (*results)[0].disposition != AppendDisposition::kAppended) {
      state.SkipWithError(results.ok() ? "not appended" : results.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
}

void BM_PostgresAppend(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  auto log = OpenPostgres(state);
  if (log == nullptr) return;
  MessageFactory factory("pg-single-" + std::to_string(batch), 1000, FreshIds());
  AppendBatches(state, *log, factory, batch);
}
BENCHMARK(BM_PostgresAppend)->Arg(1)->Arg(10)->Arg(100)->UseRealTime();

void BM_PostgresAppendNodes(benchmark::State& state) {
  const bool shared = state.range(0) != 0;
  auto log = OpenPostgres(state);
  if (log == nullptr) return;
  MessageFactory factory(
      shared ? std::string("pg-shared") : "pg-node-" + std::to_string(state.thread_index()), 1000,
      FreshIds());
  AppendBatches(state, *log, factory, 10);
}
BENCHMARK(BM_PostgresAppendNodes)->Arg(0)->Arg(1)->Threads(4)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
