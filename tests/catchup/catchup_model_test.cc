// Model-based randomized test of catch-up: a real channel log (memory and
// SQLite) behind a LogService, with random appends, duplicate rebroadcasts,
// retention, restarts and restores; many clients (engine + MemoryStore +
// driver) with random offline periods (some longer than retention), lossy
// live relay, and crashes at every step of the client algorithm.
//
// A crash discards the client's engine and driver and rebuilds both from its
// Store. It is injected before a request is answered (the answer is lost),
// after the page is applied but before its writes are durable (the commit
// fails, then the crash), and after the effects but before the cursor write
// (the cursor write fails, then the crash). The application's own record of
// what it was delivered lives in the same store as the engine's state: on a
// crash, deliveries the rebuilt engine does not know are forgotten with it.
//
// Oracle, per client:
//   - nothing delivered twice;
//   - every stored cursor covers only durable state: each log entry of the
//     cursor's epoch up to cursor.seq is known to an engine rebuilt from the
//     client's Store, unless a gap event excused it (I5);
//   - at the end, after everyone caught up: the delivered ids are exactly the
//     retained ids minus the ranges the gap events named (plus, inside those
//     ranges, only what was fetched as a dependency or got live), and
//     nothing outside the log was delivered.
//
// Fixed seeds run in CI; SDS_CATCHUP_MODEL_SEEDS=<n> runs n more locally.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "sds/catchup.h"
#include "sds/log_service.h"
#include "sds/memory_channel_log.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_channel_log.h"
#include "store/store_test_util.h"
#include "tests/catchup/scripted_store.h"

namespace sds::catchup {
namespace {

using Rng = std::mt19937_64;
const std::vector<ChannelId> kChannels = {"c1", "c2"};
constexpr uint64_t kRetainedEntries = 40;

Timestamp T(int64_t s) { return TimestampFromUnixMillis(1'700'000'000'000 + s * 1000); }

// The store node: a log, maybe restarted or restored, behind a LogService.
class Node {
 public:
  Node(bool sqlite, uint64_t seed) : sqlite_(sqlite), entropy_state_(seed) {}
  Status Open() {
    ChannelLogOptions options;
    options.entropy = [this](std::span<uint8_t> out) {
      for (auto& b : out) b = static_cast<uint8_t>(entropy_state_() >> 24);
    };
    options.store_id = ToBytes("model-store");
    options.retention.max_age = Duration(0);
    options.retention.max_entries_per_channel = kRetainedEntries;
    if (sqlite_) {
      service_.reset();
      log_.reset();
      auto log = SqliteChannelLog::Open(db_.path(), options);
      if (!log.ok()) return log.status();
      log_ = std::shared_ptr<ChannelLog>(std::move(*log));
    } else if (!log_) {
      auto log = MemoryChannelLog::Create(options);
      if (!log.ok()) return log.status();
      log_ = std::shared_ptr<ChannelLog>(std::move(*log));
    }
    auto service = LogService::Create(log_);
    if (!service.ok()) return service.status();
    service_ = std::move(*service);
    return Status::Ok();
  }
  // A restore of an older copy: the memory log goes back to its last
  // backup; both logs then mint new epochs.
  Status Restore() {
    if (!sqlite_ && backup_) {
      log_ = std::shared_ptr<ChannelLog>(std::move(backup_));
      auto service = LogService::Create(log_);
      if (!service.ok()) return service.status();
      service_ = std::move(*service);
    }
    return log_->MarkRestored();
  }
  void Backup() {
    if (!sqlite_) backup_ = static_cast<MemoryChannelLog&>(*log_).Clone();
  }
  ChannelLog& log() { return *log_; }
  LogService& service() { return *service_; }

 private:
  bool sqlite_;
  std::mt19937_64 entropy_state_;
  testing_store::TempDb db_;
  std::shared_ptr<ChannelLog> log_;
  std::unique_ptr<MemoryChannelLog> backup_;
  std::unique_ptr<LogService> service_;
};

struct ModelClient {
  testing::Client c;
  bool online = true;
  int64_t offline_until = 0;
  std::multiset<MessageId> delivered;
  std::vector<HistoryGap> gaps;
  std::set<MessageId> excused_ids;  // irretrievable or poison
  int crashes = 0;
  std::string last_retry;

  void Drain() {
    for (Event& e : c.engine->TakeEvents()) {
      if (auto* ready = std::get_if<MessageReady>(&e)) delivered.insert(ready->message_id);
    }
    for (CatchUpEvent& e : c.driver->TakeEvents()) {
      if (auto* gap = std::get_if<HistoryGap>(&e)) gaps.push_back(*gap);
      if (auto* lost = std::get_if<Irretrievable>(&e)) {
        excused_ids.insert(lost->message_ids.begin(), lost->message_ids.end());
      }
      if (auto* poison = std::get_if<PoisonEntry>(&e)) excused_ids.insert(poison->message_id);
      if (auto* retry = std::get_if<RetryScheduled>(&e)) last_retry = retry->status.ToString();
    }
  }
  // The crash: memory is gone; what the application recorded goes with the
  // engine state it was not durable with.
  void Crash() {
    ++crashes;
    c.store->ClearFailures();
    ASSERT_TRUE(c.Rebuild().ok());
    // Delivered durably = in the rebuilt history (it holds every message of
    // these runs); a message only buffered there is delivered again later.
    std::set<MessageId> durable;
    for (const ChannelId& ch : kChannels) {
      for (const MessageId& id : c.engine->History(ch)) durable.insert(id);
    }
    for (auto it = delivered.begin(); it != delivered.end();) {
      it = durable.count(*it) ? std::next(it) : delivered.erase(it);
    }
  }
  // Whether a gap event excused (epoch, seq) on `channel`.
  bool Excused(const ChannelId& channel, const Epoch& epoch, uint64_t seq) const {
    for (const HistoryGap& g : gaps) {
      if (g.channel_id != channel || g.epoch != epoch) continue;
      uint64_t from = g.had_cursor && g.had_cursor->epoch == epoch ? g.had_cursor->seq : 0;
      if (seq > from && seq < g.first_seq) return true;
    }
    return false;
  }
};

struct ModelRun {
  uint64_t seed;
  bool sqlite;
  int steps;
  int clients;
};

void RunModel(const ModelRun& run) {
  SCOPED_TRACE("seed " + std::to_string(run.seed) + (run.sqlite ? " sqlite" : " memory"));
  Rng rng(run.seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; };
  Node node(run.sqlite, run.seed);
  ASSERT_TRUE(node.Open().ok());

  std::vector<std::unique_ptr<ReliabilityManager>> senders;
  for (int i = 0; i < 2; ++i) {
    senders.push_back(
        *ReliabilityManager::Create(testing::SmallConfig("sender" + std::to_string(i))));
  }
  std::vector<SharedBytes> published;
  std::set<MessageId> published_ids;

  std::vector<std::unique_ptr<ModelClient>> clients;
  for (int i = 0; i < run.clients; ++i) {
    auto m = std::make_unique<ModelClient>();
    m->c.config = testing::SmallConfig("client" + std::to_string(i));
    m->c.catchup = testing::DefaultCatchUp(kChannels);
    m->c.catchup.store_id = ToBytes("model-store");
    m->c.catchup.max_entries = 1 + static_cast<uint32_t>(rng() % 8);
    m->c.catchup.snapshot_entries = 1 + static_cast<uint32_t>(rng() % 12);
    m->c.catchup.ids_only = i % 3 == 2;
    uint64_t jitter_seed = rng();
    m->c.catchup.random = [s = jitter_seed]() mutable {
      return s = s * 6364136223846793005ULL + 1;
    };
    ASSERT_TRUE(m->c.Rebuild().ok());
    clients.push_back(std::move(m));
  }

  // One exchange with the node, with crash injection. Returns false when
  // the driver had nothing to send.
  auto exchange = [&](ModelClient& m, Timestamp now, bool allow_crash) -> bool {
    auto request = m.c.driver->TakeRequest();
    if (!request) return false;
    int fault = allow_crash ? static_cast<int>(rng() % 40) : 99;
    if (fault == 0) {  // crash before the answer arrives
      m.Crash();
      return true;
    }
    // (No injected CommitOp failure here: MemoryStore applies writes at once,
    // so a failed commit would leave a partial group no atomic store leaves;
    // fault 4 below is the crash before the page's writes are durable.)
    if (fault == 2) m.c.store->SetFailing(StoreOperation::kSaveCatchUpCursor, true);
    if (fault == 4) {  // the engine's own writes fail
      m.c.store->SetFailing(StoreOperation::kSaveChannelMeta, true);
      m.c.store->SetFailing(StoreOperation::kUpdateHistory, true);
    }
    if (fault == 3) {  // transport failure
      m.c.driver->OnTransportFailure(request->request_id, "lost", now);
      return true;
    }
    // Bytes both ways: the driver's encoder, the service's bytes API, the
    // driver's decoder.
    Bytes up = request->Encode();
    Bytes down;
    switch (request->kind) {
      case RequestKind::kSync:
        down = node.service().HandleSync(up);
        break;
      case RequestKind::kSnapshot:
        down = node.service().HandleSnapshot(up);
        break;
      case RequestKind::kFetch:
        down = node.service().HandleFetch(up);
        break;
    }
    Status handled = m.c.driver->OnResponse(request->request_id, down, now);
    if (!allow_crash && !handled.ok()) m.last_retry = handled.ToString();
    m.Drain();
    if (fault == 1 || fault == 2 || fault == 4)
      m.Crash();  // after apply, before durable / before cursor
    return true;
  };

  auto check_cursors = [&](ModelClient& m) {
    auto rows = m.c.store->LoadCatchUpCursors(ToBytes("model-store"));
    ASSERT_TRUE(rows.ok());
    if (rows->empty()) return;
    auto probe = *ReliabilityManager::Create(m.c.config, m.c.store);
    for (const auto& row : *rows) {
      auto cursor = DecodeStoredCursor(row.cursor);
      ASSERT_TRUE(cursor.ok());
      ASSERT_TRUE(probe->EnsureChannel(row.channel_id).ok());
      ASSERT_TRUE(node.log()
                      .Read([&](ReadView& view) -> Status {
                        const ChannelMeta* meta = view.Find(row.channel_id);
                        if (!meta || meta->epoch != cursor->cursor.epoch) return Status::Ok();
                        std::vector<Entry> entries;
                        ReadLimits limits;
                        limits.max_entries = 100000;
                        limits.max_bytes = uint64_t{1} << 40;
                        SDS_RETURN_IF_ERROR(
                            view.ReadForward(row.channel_id, meta->low_seq, limits, entries));
                        for (const Entry& e : entries) {
                          if (e.seq > cursor->cursor.seq) break;
                          if (m.Excused(row.channel_id, meta->epoch, e.seq)) continue;
                          if (m.excused_ids.count(e.message_id)) continue;
                          EXPECT_TRUE(probe->IsKnown(row.channel_id, e.message_id))
                              << "cursor " << cursor->cursor.seq << " covers seq " << e.seq
                              << " which is not durable";
                        }
                        return Status::Ok();
                      })
                      .ok());
    }
  };

  int64_t t = 0;
  for (int step = 0; step < run.steps; ++step) {
    t += 1;
    Timestamp now = T(t);
    // The group writes; the store logs it; online clients hear it over a
    // lossy relay.
    if (chance(0.5)) {
      auto& sender = *senders[rng() % senders.size()];
      const ChannelId& ch = kChannels[rng() % kChannels.size()];
      MessageId id = "m" + std::to_string(published.size());
      auto wire = sender.Wrap(ch, ToBytes("content of " + id), id, now);
      ASSERT_TRUE(wire.ok());
      // The other sender hears it (so causal histories interleave).
      for (auto& other : senders) {
        if (other.get() != &sender) (void)other->Unwrap(*wire, now);
      }
      ASSERT_TRUE(node.log().AppendOne(*wire, now).ok());
      published.push_back(*wire);
      published_ids.insert(id);
      for (auto& m : clients) {
        if (m->online && chance(0.6)) {
          (void)m->c.engine->Unwrap(*wire, now);
          m->Drain();
        }
      }
    }
    if (!published.empty() && chance(0.05)) {  // rebroadcast / second relay path
      ASSERT_TRUE(node.log().AppendOne(published[rng() % published.size()], now).ok());
    }
    if (chance(0.004)) {  // restore from a backup: same content, new history names
      node.Backup();
      ASSERT_TRUE(node.Restore().ok());
    }
    if (chance(0.01)) {  // restart (SQLite reopens its file)
      ASSERT_TRUE(node.Open().ok());
    }

    for (auto& mp : clients) {
      ModelClient& m = *mp;
      if (m.online && chance(0.01)) {
        m.online = false;
        m.c.driver->OnDisconnected(now);
        // Some offline periods outlast retention by far.
        m.offline_until = t + (chance(0.3) ? 200 + static_cast<int64_t>(rng() % 300)
                                           : static_cast<int64_t>(rng() % 60));
      } else if (!m.online && t >= m.offline_until) {
        m.online = true;
        m.c.driver->OnConnected(now);
      }
      if (!m.online) continue;
      m.c.driver->Tick(now);
      for (int i = 0; i < 20 && exchange(m, now, true); ++i) m.c.driver->Tick(now);
      m.Drain();
    }
    if (step % 50 == 0) {
      for (auto& m : clients) check_cursors(*m);
    }
  }

  // Everyone online, no more faults: catch up to the head.
  for (auto& m : clients) {
    if (!m->online) m->c.driver->OnConnected(T(t));
    m->online = true;
  }
  for (int round = 0; round < 6; ++round) {
    t += 31 * 60;  // past any backoff
    for (auto& m : clients) {
      m->c.driver->Tick(T(t));
      for (int i = 0; i < 10000 && exchange(*m, T(t), false); ++i) m->c.driver->Tick(T(t));
      m->Drain();
    }
  }

  for (size_t i = 0; i < clients.size(); ++i) {
    ModelClient& m = *clients[i];
    SCOPED_TRACE("client " + std::to_string(i) + " (" + std::to_string(m.crashes) + " crashes)");
    EXPECT_TRUE(m.c.driver->Idle()) << m.last_retry;
    check_cursors(m);
    // Nothing twice, nothing unknown.
    for (const MessageId& id : m.delivered) {
      EXPECT_EQ(m.delivered.count(id), 1u) << id;
      EXPECT_TRUE(published_ids.count(id)) << id;
    }
    // Every retained entry outside the gaps is delivered; the cursor is at head.
    ASSERT_TRUE(node.log()
                    .Read([&](ReadView& view) -> Status {
                      for (const ChannelId& ch : kChannels) {
                        const ChannelMeta* meta = view.Find(ch);
                        if (!meta) continue;
                        auto cursor = m.c.driver->CursorOf(ch);
                        EXPECT_TRUE(cursor.has_value());
                        if (cursor) {
                          EXPECT_EQ(cursor->epoch, meta->epoch) << ch;
                          EXPECT_EQ(cursor->seq, meta->head_seq) << ch;
                        }
                        std::vector<Entry> entries;
                        ReadLimits limits;
                        limits.max_entries = 100000;
                        limits.max_bytes = uint64_t{1} << 40;
                        SDS_RETURN_IF_ERROR(view.ReadForward(ch, meta->low_seq, limits, entries));
                        // A late arrival (a rebroadcast of a message older than
                        // retention gets a fresh seq) may wait for predecessors
                        // no store holds any more: SDS-R's job, not catch-up's.
                        std::set<MessageId> retained, buffered;
                        for (const Entry& e : entries) retained.insert(e.message_id);
                        for (const MessageId& id : m.c.engine->IncomingBuffer(ch)) {
                          buffered.insert(id);
                        }
                        bool unreachable = false;
                        for (const HistoryEntry& dep : m.c.engine->PendingDependencies(ch)) {
                          unreachable = unreachable || retained.count(dep.message_id) == 0;
                        }
                        for (const Entry& e : entries) {
                          if (m.Excused(ch, meta->epoch, e.seq)) continue;
                          if (m.excused_ids.count(e.message_id)) continue;
                          if (unreachable && buffered.count(e.message_id)) continue;
                          EXPECT_EQ(m.delivered.count(e.message_id), 1u)
                              << ch << " seq " << e.seq << " id " << e.message_id
                              << (m.c.engine->IsKnown(ch, e.message_id) ? " (known" : " (unknown")
                              << (buffered.count(e.message_id) ? ", buffered)" : ")");
                        }
                      }
                      return Status::Ok();
                    })
                    .ok());
  }
}

std::vector<ModelRun> Runs(bool sqlite) {
  std::vector<ModelRun> runs;
  for (uint64_t seed : {1, 2, 3}) runs.push_back({seed, sqlite, sqlite ? 400 : 1200, 5});
  if (const char* more = std::getenv("SDS_CATCHUP_MODEL_SEEDS")) {
    int n = std::atoi(more);
    for (int i = 0; i < n; ++i) runs.push_back({1000 + static_cast<uint64_t>(i), sqlite, 2000, 8});
  }
  return runs;
}

TEST(CatchUpModelTest, MemoryLog) {
  for (const ModelRun& run : Runs(false)) RunModel(run);
}

TEST(CatchUpModelTest, SqliteLog) {
  for (const ModelRun& run : Runs(true)) RunModel(run);
}

}  // namespace
}  // namespace sds::catchup
