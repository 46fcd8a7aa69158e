// sds_timer_bench: the cost of Tick and NextDeadline against the number of
// channels. Every channel holds an unacknowledged message and SDS-R requests
// for a few missing messages, none of them due: an idle Tick must cost the
// same for 10 channels as for 10,000 (the engine keeps its deadlines in an
// ordered index), and a Tick with one channel due must cost that channel.
//
//   build/release/bench/sds_timer_bench --benchmark_counters_tabular=true
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "sds/codec.h"
#include "sds/config.h"
#include "sds/reliability_manager.h"

namespace sds {
namespace {

const Timestamp kT0 = TimestampFromUnixMillis(1'700'000'000'000);

std::unique_ptr<ReliabilityManager> ManyChannels(int64_t channels) {
  Config config;
  config.participant_id = "alice";
  config.channel_admission = ChannelAdmission::kAny;
  config.bloom_filter_capacity = 100;  // timers do not depend on the filter; memory does
  config.limits.max_channels = static_cast<size_t>(channels);
  config.limits.max_remote_channels = static_cast<size_t>(channels);
  config.sync_message_interval = std::chrono::hours{1};
  auto created = ReliabilityManager::Create(config);
  if (!created.ok()) std::abort();
  ReliabilityManager& m = **created;
  const Bytes content = {'h', 'i'};
  for (int64_t c = 0; c < channels; ++c) {
    const ChannelId channel = "channel-" + std::to_string(c);
    const Timestamp at = kT0 + std::chrono::milliseconds{c};  // deadlines spread out
    if (!m.Wrap(channel, content, "a-" + std::to_string(c), at).ok()) std::abort();
    // A peer's message revealing five losses: five SDS-R requests, 30-300 s out.
    Message message;
    message.message_id = "b-" + std::to_string(c);
    message.channel_id = channel;
    message.sender_id = "bob";
    message.lamport_timestamp = 1;
    std::vector<std::string> missing;
    for (int i = 0; i < 5; ++i)
      missing.push_back("lost-" + std::to_string(c) + "-" + std::to_string(i));
    for (const std::string& id : missing)
      message.causal_history.push_back(HistoryEntry{id, {}, "bob"});
    message.content = ByteSpan(content);
    const Bytes wire = Encode(message, Dialect::kNim);
    if (!m.Unwrap(wire, at).ok()) std::abort();
  }
  m.TakeEvents();
  return std::move(*created);
}

void BM_IdleTick(benchmark::State& state) {
  auto m = ManyChannels(state.range(0));
  const Timestamp now = kT0 + std::chrono::seconds{20};  // nothing due before 30 s
  for (auto _ : state) benchmark::DoNotOptimize(m->Tick(now));
  if (m->PendingEventCount() != 0) state.SkipWithError("an idle tick produced events");
  state.counters["channels"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_IdleTick)->RangeMultiplier(10)->Range(10, 10'000)->Unit(benchmark::kNanosecond);

void BM_NextDeadline(benchmark::State& state) {
  auto m = ManyChannels(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(m->NextDeadline());
  state.counters["channels"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_NextDeadline)->RangeMultiplier(10)->Range(10, 10'000)->Unit(benchmark::kNanosecond);

// One channel's message is due per Tick (each resend moves it 60 s on).
void BM_TickOneDue(benchmark::State& state) {
  auto m = ManyChannels(state.range(0));
  Timestamp now = m->NextDeadline();
  for (auto _ : state) {
    now = m->Tick(now);
    state.PauseTiming();
    m->TakeEvents();
    state.ResumeTiming();
  }
  state.counters["channels"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_TickOneDue)->RangeMultiplier(10)->Range(10, 10'000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sds

BENCHMARK_MAIN();
