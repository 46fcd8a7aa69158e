// Appends and retention racing with Sync on every backend: each response
// still satisfies I4 (from one view: dense, from_seq = cursor + 1, entries
// within [low, head], and entry seq s is the message appended s-th).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "log_test_util.h"
#include "sds/log_service.h"

namespace sds::catchup::testing {
namespace {

class LogConcurrencyTest : public BackendTest {};

TEST_P(LogConcurrencyTest, SyncStaysConsistentWhileAppendsAndRetentionRun) {
  ChannelLogOptions options = Options();
  options.retention.max_entries_per_channel = 50;
  Open(options);
  AppendN(*log_, 1);
  auto service = std::move(*LogService::Create(log_));
  const Epoch epoch = MustMeta(*log_).epoch;
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::atomic<uint64_t> deltas{0}, behind{0}, syncs{0};

  std::thread writer([&] {
    for (int batch = 0; batch < 200; ++batch) {
      // Interleave without sleeping: each batch waits for a reader's Sync.
      while (syncs.load() < static_cast<uint64_t>(batch)) std::this_thread::yield();
      std::vector<Bytes> wires;
      for (int i = 0; i < 3; ++i) {
        int n = 2 + batch * 3 + i;
        wires.push_back(ContentMessage("m" + std::to_string(n), "ch", n));
      }
      MustAppend(*log_, wires);
      if (batch % 10 == 0) {
        EXPECT_TRUE(log_->ApplyRetention(kT0).ok());
      }
    }
    done = true;
  });
  auto reader = [&](uint64_t lag) {
    uint64_t cursor = 0;
    while (!done) {
      SyncRequest request;
      request.channels = {{"ch", Cursor{epoch, cursor}}};
      request.max_entries = 7;
      auto answer = service->Sync(request);
      ++syncs;
      if (!std::holds_alternative<SyncResponse>(answer)) {
        ++violations;
        continue;
      }
      const ChannelResult& r = std::get<SyncResponse>(answer).channels.at(0);
      if (r.status == SyncStatus::kColdStartRequired) {
        if (r.reason != ColdReason::kBehindRetention || cursor + 1 >= r.low_seq) ++violations;
        ++behind;
        cursor = r.head_seq - std::min(r.head_seq, lag);
        continue;
      }
      if (r.status != SyncStatus::kDelta) {
        if (r.status != SyncStatus::kUpToDate || r.epoch != kNoEpoch) ++violations;
        continue;
      }
      ++deltas;
      bool ok = r.from_seq == cursor + 1 && !r.entries.empty() && r.to_seq <= r.head_seq &&
                r.from_seq >= r.low_seq && r.has_more == (r.to_seq < r.head_seq) &&
                r.head_seq + 1 - r.low_seq <= 50;
      for (size_t i = 0; ok && i < r.entries.size(); ++i) {
        const Entry& e = r.entries[i];
        ok = e.seq == r.from_seq + i && e.message_id == "m" + std::to_string(e.seq) &&
             e.payload == ContentMessage(e.message_id, "ch", static_cast<LamportTime>(e.seq));
      }
      if (!ok || r.to_seq != r.entries.back().seq) ++violations;
      cursor = r.to_seq;
    }
  };
  std::thread fast(reader, 0), slow(reader, 200);
  writer.join();
  fast.join();
  slow.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(deltas.load(), 0u);
  ChannelMeta meta = MustMeta(*log_);
  EXPECT_EQ(meta.head_seq, 601u);
  EXPECT_EQ(meta.retained_count, 50u);
}

INSTANTIATE_TEST_SUITE_P(Backends, LogConcurrencyTest, ::testing::ValuesIn(Backends()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace sds::catchup::testing
