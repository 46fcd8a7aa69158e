// sds_store_bench: what persistence costs.
//
//   BM_WrapUnwrap/<store>   alice wraps, bob unwraps and answers, alice unwraps
//                           the answer (which acknowledges): ops/s and bytes on
//                           disk per delivered message, MemoryStore vs SqliteStore.
//   --flat [N]              wraps N (default 5000) messages nobody acknowledges
//                           with SqliteStore and prints time and bytes written
//                           per wrap for the first and last hundred: persistence
//                           must not grow with the outgoing buffer.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"

namespace {

sds::Timestamp At(int64_t ms) { return sds::TimestampFromUnixMillis(ms); }

std::string TempDb(const char* tag) {
  std::string path =
      (std::filesystem::temp_directory_path() /
       (std::string("sds_store_bench_") + tag + "_" + std::to_string(getpid()) + ".db"))
          .string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

uint64_t FileBytes(const std::string& db) {
  uint64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(db + suffix, ec);
    if (!ec) total += size;
  }
  return total;
}

// Bytes this process has written to storage so far (/proc/self/io write_bytes,
// falling back to wchar when the kernel does not account block I/O).
uint64_t WrittenBytes() {
  FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return 0;
  char key[64];
  unsigned long long value = 0, wchar = 0, write_bytes = 0;
  while (std::fscanf(f, "%63s %llu", key, &value) == 2) {
    if (std::strcmp(key, "wchar:") == 0) wchar = value;
    if (std::strcmp(key, "write_bytes:") == 0) write_bytes = value;
  }
  std::fclose(f);
  return write_bytes != 0 ? write_bytes : wchar;
}

void BM_WrapUnwrap(benchmark::State& state) {
  const bool sqlite = state.range(0) == 1;
  std::string path = TempDb("wrapunwrap");
  std::shared_ptr<sds::Store> store;
  if (sqlite) {
    store = sds::SqliteStore::Open(path).value();
  } else {
    store = std::make_shared<sds::MemoryStore>();
  }
  sds::Config config;
  config.participant_id = "alice";
  config.channel_admission = sds::ChannelAdmission::kAny;  // receivers join on the first message
  auto alice = sds::ReliabilityManager::Create(config, store).value();
  config.participant_id = "bob";
  auto bob = sds::ReliabilityManager::Create(config).value();
  int64_t n = 0, now = 1'700'000'000'000;
  const sds::Bytes content = sds::ToBytes("a chat message of moderate length, forty-odd bytes");
  for (auto _ : state) {
    ++now;
    auto wire = alice->Wrap("ch", content, "a" + std::to_string(n), At(now));
    (void)bob->Unwrap(*wire, At(now));
    auto reply = bob->Wrap("ch", content, "b" + std::to_string(n), At(now));
    (void)alice->Unwrap(*reply, At(now));
    alice->TakeEvents();
    bob->TakeEvents();
    ++n;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(sqlite ? "sqlite" : "memory");
  if (sqlite) {
    // Two messages per iteration enter alice's history (hers and bob's).
    state.counters["disk_bytes_per_delivered"] =
        static_cast<double>(FileBytes(path)) / static_cast<double>(2 * n);
  }
  alice.reset();
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}
BENCHMARK(BM_WrapUnwrap)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

int FlatReport(int count) {
  std::string path = TempDb("flat");
  auto store = sds::SqliteStore::Open(path).value();
  sds::Config config;
  config.participant_id = "alice";
  config.max_message_history = static_cast<size_t>(count) + 10;
  config.limits.max_outgoing_buffer = static_cast<size_t>(count) + 10;
  auto alice = sds::ReliabilityManager::Create(config, store).value();
  const sds::Bytes content = sds::ToBytes("unacknowledged message");
  std::vector<double> micros(static_cast<size_t>(count));
  std::vector<uint64_t> written(static_cast<size_t>(count)), disk(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    uint64_t before_written = WrittenBytes(), before_disk = FileBytes(path);
    auto start = std::chrono::steady_clock::now();
    auto wire = alice->Wrap("ch", content, "m" + std::to_string(i), At(1'700'000'000'000 + i));
    auto end = std::chrono::steady_clock::now();
    if (!wire.ok()) return 1;
    micros[static_cast<size_t>(i)] = std::chrono::duration<double, std::micro>(end - start).count();
    written[static_cast<size_t>(i)] = WrittenBytes() - before_written;
    disk[static_cast<size_t>(i)] = FileBytes(path) - before_disk;
  }
  auto avg = [&](auto& v, int from) {
    double sum = 0;
    for (int i = from; i < from + 100; ++i) sum += static_cast<double>(v[static_cast<size_t>(i)]);
    return sum / 100;
  };
  std::printf("SqliteStore, %d wraps nobody acknowledges (outgoing buffer grows to %zu)\n", count,
              alice->OutgoingBuffer("ch").size());
  std::printf("%-16s %14s %18s %18s\n", "wraps", "us/wrap", "bytes written/wrap", "db growth/wrap");
  std::printf("%-16s %14.1f %18.0f %18.0f\n", "first 100", avg(micros, 0), avg(written, 0),
              avg(disk, 0));
  std::printf("%-16s %14.1f %18.0f %18.0f\n", ("last 100"), avg(micros, count - 100),
              avg(written, count - 100), avg(disk, count - 100));
  std::printf("database: %.1f MB for %d messages (%.0f bytes/message)\n",
              static_cast<double>(FileBytes(path)) / 1e6, count,
              static_cast<double>(FileBytes(path)) / count);
  alice.reset();
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--flat") == 0) {
    return FlatReport(argc > 2 ? std::stoi(argv[2]) : 5000);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
