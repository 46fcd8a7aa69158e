// Encode and decode cost of the two catch-up answers that dominate a store's
// work: the UP_TO_DATE keep-alive (every participant, every 30 s, for all of
// its channels) and a full DELTA page. The "wire_bytes" counter is the size of
// one encoded answer.
//
//   sds_catchup_bench --benchmark_filter=UpToDate   # keep-alive size and cost
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "sds/catchup_protocol.h"

namespace {

using namespace sds::catchup;  // NOLINT: a benchmark over one header

std::string SixteenByteId(const char* prefix, int index) {
  std::string id = std::string(prefix) + std::to_string(index);
  id.resize(16, '-');
  return id;
}

// The channels a participant follows, all at the head.
SyncResponse UpToDateAnswer(int channels) {
  SyncResponse response;
  response.store_id = sds::ToBytes(SixteenByteId("store-", 1));
  for (int i = 0; i < channels; ++i) {
    ChannelResult result;
    result.channel_id = SixteenByteId("channel-", i);
    result.status = SyncStatus::kUpToDate;
    response.channels.push_back(result);
  }
  return response;
}

// One channel's page: `entries` entries of `payload_bytes` each, deep into a
// long log (seqs and Lamport values of realistic varint length).
SyncResponse DeltaAnswer(int entries, size_t payload_bytes) {
  ChannelResult result;
  result.channel_id = SixteenByteId("channel-", 0);
  result.status = SyncStatus::kDelta;
  for (size_t i = 0; i < result.epoch.size(); ++i) result.epoch[i] = static_cast<uint8_t>(i + 1);
  result.low_seq = 1'000'000;
  result.from_seq = 2'000'001;
  result.to_seq = result.from_seq + static_cast<uint64_t>(entries) - 1;
  result.head_seq = result.to_seq + 500;
  result.has_more = true;
  for (int i = 0; i < entries; ++i) {
    Entry entry;
    entry.seq = result.from_seq + static_cast<uint64_t>(i);
    entry.message_id = "msg-" + std::to_string(entry.seq) + "-0123456789abcdef0123456789";
    entry.lamport = 1'764'000'000'000 + i;
    entry.payload.assign(payload_bytes, static_cast<uint8_t>(i));
    result.entries.push_back(std::move(entry));
  }
  SyncResponse response;
  response.store_id = sds::ToBytes(SixteenByteId("store-", 1));
  response.channels.push_back(std::move(result));
  return response;
}

void BM_EncodeUpToDate(benchmark::State& state) {
  const SyncResponse response = UpToDateAnswer(static_cast<int>(state.range(0)));
  size_t size = 0;
  for (auto _ : state) {
    sds::Bytes wire = EncodeSyncResponse(response);
    size = wire.size();
    benchmark::DoNotOptimize(wire);
  }
  state.counters["wire_bytes"] = static_cast<double>(size);
}
BENCHMARK(BM_EncodeUpToDate)->Arg(10);

void BM_DecodeUpToDate(benchmark::State& state) {
  const sds::Bytes wire = EncodeSyncResponse(UpToDateAnswer(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    auto answer = DecodeSyncResponse(wire);
    if (!answer.ok()) state.SkipWithError(answer.status().ToString().c_str());
    benchmark::DoNotOptimize(answer);
  }
  state.counters["wire_bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_DecodeUpToDate)->Arg(10);

void BM_EncodeDeltaPage(benchmark::State& state) {
  const SyncResponse response =
      DeltaAnswer(static_cast<int>(state.range(0)), static_cast<size_t>(state.range(1)));
  size_t size = 0;
  for (auto _ : state) {
    sds::Bytes wire = EncodeSyncResponse(response);
    size = wire.size();
    benchmark::DoNotOptimize(wire);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.counters["wire_bytes"] = static_cast<double>(size);
}
BENCHMARK(BM_EncodeDeltaPage)->Args({100, 1024});

void BM_DecodeDeltaPage(benchmark::State& state) {
  const sds::Bytes wire = EncodeSyncResponse(
      DeltaAnswer(static_cast<int>(state.range(0)), static_cast<size_t>(state.range(1))));
  for (auto _ : state) {
    auto answer = DecodeSyncResponse(wire);
    if (!answer.ok()) state.SkipWithError(answer.status().ToString().c_str());
    benchmark::DoNotOptimize(answer);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
  state.counters["wire_bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_DecodeDeltaPage)->Args({100, 1024});

}  // namespace

BENCHMARK_MAIN();
