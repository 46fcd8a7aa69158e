// CatchUpDriver against a scripted store: one test per rule of the client
// algorithm (include/sds/catchup.h).
#include "sds/catchup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "catchup/response_checks.h"
#include "tests/catchup/scripted_store.h"
#include "tests/testutil/engine.h"

namespace sds::catchup {
namespace {

using testing::Client;
using testing::DefaultCatchUp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScriptedStore;
using testing::SmallConfig;
using testutil::kT0;

const ChannelId kA = "a";
const ChannelId kB = "b";
const ChannelId kC = "c";

template <typename T>
std::vector<T> EventsOf(const std::vector<CatchUpEvent>& events) {
  std::vector<T> out;
  for (const CatchUpEvent& e : events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

class CatchUpDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sender_ = *ReliabilityManager::Create(SmallConfig("sender"));
    client_.config = SmallConfig("client");
    client_.catchup = DefaultCatchUp({kA});
  }
  // The sender writes `n` messages on `channel`; the store logs them.
  std::vector<MessageId> Publish(const ChannelId& channel, int n) {
    std::vector<MessageId> ids;
    for (int i = 0; i < n; ++i) {
      MessageId id = channel + "-m" + std::to_string(next_id_++);
      auto wire = sender_->Wrap(channel, ToBytes("content " + id), id, kT0);
      EXPECT_TRUE(wire.ok());
      store_.Append(channel, *wire);
      ids.push_back(id);
    }
    return ids;
  }
  void Start() { ASSERT_TRUE(client_.Rebuild().ok()); }
  std::vector<CatchUpEvent> Run(Timestamp now) {
    testing::Pump(*client_.driver, store_, now);
    client_.Drain();
    return client_.driver->TakeEvents();
  }
  std::optional<StoredCursor> StoredCursorOf(const ChannelId& channel) {
    auto rows = client_.store->LoadCatchUpCursors(client_.catchup.store_id);
    EXPECT_TRUE(rows.ok());
    for (const auto& row : *rows) {
      if (row.channel_id == channel) return *DecodeStoredCursor(row.cursor);
    }
    return std::nullopt;
  }

  std::unique_ptr<ReliabilityManager> sender_;
  ScriptedStore store_;
  Client client_;
  int next_id_ = 1;
};

TEST_F(CatchUpDriverTest, InitialLoadIsAGapEventThenDeltasFollowEveryInterval) {
  auto first = Publish(kA, 5);
  Start();
  auto events = Run(kT0);
  auto gaps = EventsOf<HistoryGap>(events);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_TRUE(gaps[0].initial_load);
  EXPECT_EQ(gaps[0].reason, ColdReason::kNoCursor);
  EXPECT_EQ(gaps[0].first_seq, 1u);
  EXPECT_EQ(client_.delivered, first);
  ASSERT_TRUE(client_.driver->CursorOf(kA).has_value());
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 5u);
  EXPECT_EQ(StoredCursorOf(kA)->cursor.seq, 5u);
  EXPECT_EQ(client_.driver->NextDeadline(), kT0 + std::chrono::seconds(30));

  auto more = Publish(kA, 3);
  // Nothing is asked before the interval.
  EXPECT_EQ(testing::Pump(*client_.driver, store_, kT0 + std::chrono::seconds(29)), 0);
  events = Run(kT0 + std::chrono::seconds(30));
  EXPECT_TRUE(EventsOf<HistoryGap>(events).empty());
  EXPECT_EQ(store_.syncs.back().channels[0].cursor->seq, 5u);
  client_.delivered.erase(client_.delivered.begin(), client_.delivered.begin() + 5);
  EXPECT_EQ(client_.delivered, more);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 8u);
  EXPECT_EQ(client_.driver->stats().delta_pages, 1u);
}

TEST_F(CatchUpDriverTest, CursorSurvivesARestartAndResumesWithADelta) {
  Publish(kA, 4);
  Start();
  Run(kT0);
  Publish(kA, 2);
  ASSERT_TRUE(client_.Rebuild().ok());  // crash: only the Store survives
  client_.delivered.clear();
  auto events = Run(kT0 + std::chrono::seconds(1));
  EXPECT_TRUE(EventsOf<HistoryGap>(events).empty());
  EXPECT_EQ(client_.delivered.size(), 2u);
  EXPECT_EQ(client_.driver->stats().cold_starts, 0u);
}

TEST_F(CatchUpDriverTest, HasMoreAsksTheNextPageAtOnce) {
  Publish(kA, 3);
  client_.catchup.max_entries = 2;
  Start();
  Run(kT0);
  auto more = Publish(kA, 7);
  client_.delivered.clear();
  store_.syncs.clear();
  Run(kT0 + std::chrono::seconds(30));
  EXPECT_EQ(client_.delivered, more);
  EXPECT_EQ(store_.syncs.size(), 4u);  // 2 + 2 + 2 + 1, no time passing in between
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 10u);
}

TEST_F(CatchUpDriverTest, ColdChannelsShareOneSnapshotRequest) {
  client_.catchup = DefaultCatchUp({kA, kB, kC});
  Publish(kA, 2);
  Publish(kB, 2);
  Publish(kC, 2);
  Start();
  auto events = Run(kT0);
  ASSERT_EQ(store_.snapshots.size(), 1u);
  EXPECT_EQ(store_.snapshots[0].channel_ids.size(), 3u);
  EXPECT_EQ(EventsOf<HistoryGap>(events).size(), 3u);
  EXPECT_EQ(client_.delivered.size(), 6u);
}

TEST_F(CatchUpDriverTest, GapEventSaysWhatWasSkippedAndWhatIsBackfillable) {
  client_.catchup.snapshot_entries = 3;
  Publish(kA, 2);
  Start();
  Run(kT0);
  Publish(kA, 10);  // seqs 3..12
  store_.Retain(kA, 5);
  auto events = Run(kT0 + std::chrono::seconds(30));
  auto gaps = EventsOf<HistoryGap>(events);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_FALSE(gaps[0].initial_load);
  EXPECT_EQ(gaps[0].reason, ColdReason::kBehindRetention);
  ASSERT_TRUE(gaps[0].had_cursor.has_value());
  EXPECT_EQ(gaps[0].had_cursor->seq, 2u);
  EXPECT_EQ(gaps[0].first_seq, 10u);
  EXPECT_EQ(gaps[0].low_seq, 5u);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 12u);
}

TEST_F(CatchUpDriverTest, RestoredStoreIsAnEpochMismatchAndAGap) {
  Publish(kA, 4);
  Start();
  Run(kT0);
  store_.Restore(kA, 2);
  Publish(kA, 1);
  auto events = Run(kT0 + std::chrono::seconds(30));
  auto gaps = EventsOf<HistoryGap>(events);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].reason, ColdReason::kEpochMismatch);
  EXPECT_EQ(client_.driver->CursorOf(kA)->epoch, store_.logs[kA].epoch);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 3u);
}

// The client's own end-to-end checks of a DELTA: each violation is a cold start.
struct DeltaTamper {
  const char* name;
  std::function<void(ChannelResult&)> tamper;
  const char* detail;
};

class DeltaContinuityTest : public CatchUpDriverTest,
                            public ::testing::WithParamInterface<DeltaTamper> {};

TEST_P(DeltaContinuityTest, BrokenDeltaIsTreatedAsAColdStart) {
  Publish(kA, 3);
  Start();
  Run(kT0);
  Publish(kA, 4);
  bool tampered = false;
  store_.tamper_sync = [&](SyncResponse& r) {
    if (tampered || r.channels[0].status != SyncStatus::kDelta) return;
    tampered = true;
    GetParam().tamper(r.channels[0]);
  };
  size_t before = client_.delivered.size();
  auto events = Run(kT0 + std::chrono::seconds(30));
  auto gaps = EventsOf<HistoryGap>(events);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].reason, ColdReason::kNone);
  EXPECT_THAT(gaps[0].detail, HasSubstr(GetParam().detail));
  // The snapshot delivered what the broken page carried, once.
  EXPECT_EQ(client_.delivered.size(), before + 4);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 7u);
  std::set<MessageId> unique(client_.delivered.begin(), client_.delivered.end());
  EXPECT_EQ(unique.size(), client_.delivered.size());
}

INSTANTIATE_TEST_SUITE_P(
    Violations, DeltaContinuityTest,
    ::testing::Values(DeltaTamper{"OtherEpoch",
                                  [](ChannelResult& r) { r.epoch = testing::MakeEpoch(99); },
                                  "epoch"},
                      DeltaTamper{"NotAtCursorPlusOne",
                                  [](ChannelResult& r) {
                                    r.from_seq += 1;
                                    r.entries.erase(r.entries.begin());
                                  },
                                  "cursor is at 3"},
                      DeltaTamper{"Hole",
                                  [](ChannelResult& r) {
                                    r.entries.erase(r.entries.begin() + 1);
                                    r.to_seq -= 0;
                                  },
                                  "not dense"},
                      DeltaTamper{"Decreasing",
                                  [](ChannelResult& r) { std::swap(r.entries[0], r.entries[1]); },
                                  "dense and ascending"},
                      DeltaTamper{"BeyondHead", [](ChannelResult& r) { r.head_seq = r.to_seq - 1; },
                                  "beyond head_seq"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(CatchUpDriverTest, UpToDateThatDoesNotMatchTheCursorIsAColdStart) {
  Publish(kA, 3);
  Start();
  Run(kT0);
  Publish(kA, 2);
  bool tampered = false;
  store_.tamper_sync = [&](SyncResponse& r) {
    if (tampered) return;
    tampered = true;
    ChannelResult& c = r.channels[0];
    c.status = SyncStatus::kUpToDate;  // a silent skip of seqs 4 and 5
    c.entries.clear();
  };
  auto events = Run(kT0 + std::chrono::seconds(30));
  auto gaps = EventsOf<HistoryGap>(events);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_THAT(gaps[0].detail, HasSubstr("UP_TO_DATE with head_seq 5, cursor is at 3"));
  EXPECT_EQ(client_.delivered.size(), 5u);
}

TEST_F(CatchUpDriverTest, UnknownChannelKeepsTheCursorAndSaysSo) {
  client_.catchup = DefaultCatchUp({kA, kB});
  Publish(kA, 2);
  Publish(kB, 2);
  Start();
  Run(kT0);
  store_.logs.erase(kB);
  Publish(kA, 1);
  auto events = Run(kT0 + std::chrono::seconds(30));
  auto unknown = EventsOf<UnknownChannel>(events);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].channel_id, kB);
  EXPECT_EQ(client_.driver->CursorOf(kB)->seq, 2u);
  EXPECT_EQ(StoredCursorOf(kB)->cursor.seq, 2u);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 3u);
  EXPECT_TRUE(client_.driver->Idle());
}

TEST_F(CatchUpDriverTest, PoisonEntryIsReportedAndNeverStallsTheChannel) {
  Publish(kA, 2);
  Start();
  Run(kT0);
  Publish(kA, 1);
  store_.AppendRaw(store_.logs[kA], "poison", ToBytes("not an sds message"));
  // An SDS message of another channel is poison too: it must not be applied.
  auto other = sender_->Wrap("elsewhere", ToBytes("x"), "foreign", kT0);
  store_.AppendRaw(store_.logs[kA], "foreign", other->ToBytes());
  auto last = Publish(kA, 1);
  auto events = Run(kT0 + std::chrono::seconds(30));
  auto poison = EventsOf<PoisonEntry>(events);
  ASSERT_EQ(poison.size(), 2u);
  EXPECT_EQ(poison[0].seq, 4u);
  EXPECT_EQ(poison[0].message_id, "poison");
  EXPECT_EQ(poison[1].seq, 5u);
  EXPECT_THAT(poison[1].status.message(), HasSubstr("belongs to channel elsewhere"));
  EXPECT_FALSE(client_.engine->HasChannel("elsewhere"));
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 6u);
  EXPECT_EQ(client_.delivered.back(), last[0]);
  EXPECT_EQ(client_.driver->stats().poison, 2u);
}

// ---- Dependencies after a snapshot ----------------------------------------

TEST_F(CatchUpDriverTest, SnapshotDependenciesAreFetchedOrMarkedSoSdsRStaysQuiet) {
  client_.catchup.snapshot_entries = 5;
  auto ids = Publish(kA, 30);  // each lists up to 10 predecessors
  store_.Retain(kA, 21);       // 1..20 are gone; 21..25 are retained outside K
  Start();
  auto events = Run(kT0);
  ASSERT_EQ(store_.fetches.size(), 1u);
  auto fetched = EventsOf<Fetched>(events);
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_THAT(fetched[0].seqs, ElementsAre(21, 22, 23, 24, 25));
  auto lost = EventsOf<Irretrievable>(events);
  ASSERT_FALSE(lost.empty());
  std::set<MessageId> marked;
  for (const auto& l : lost) marked.insert(l.message_ids.begin(), l.message_ids.end());
  // Exactly the retained-away predecessors that something waited for.
  for (const MessageId& id : marked) {
    EXPECT_LT(std::find(ids.begin(), ids.end(), id) - ids.begin(), 20) << id;
  }
  EXPECT_TRUE(client_.engine->IncomingBuffer(kA).empty());
  EXPECT_EQ(client_.delivered.size(), 10u);  // 21..30
  EXPECT_FALSE(StoredCursorOf(kA)->dependencies_pending);

  // An hour of engine time: not one SDS-R repair request goes out.
  auto& state = testutil::State(*client_.engine, kA);
  EXPECT_TRUE(state.outgoing_repair.empty());
  int repair_requests = 0;
  for (int minute = 0; minute < 60; ++minute) {
    Timestamp now = kT0 + std::chrono::minutes(minute);
    client_.engine->Tick(now);
    auto sync = client_.engine->MakeSyncMessage(kA, "sync", now);
    ASSERT_TRUE(sync.ok());
    repair_requests += static_cast<int>(testutil::Decoded(*sync).repair_request.size());
    for (const Event& e : client_.engine->TakeEvents()) {
      if (const auto* s = std::get_if<SyncMessageReady>(&e)) {
        repair_requests += static_cast<int>(testutil::Decoded(s->wire).repair_request.size());
      }
    }
  }
  EXPECT_EQ(repair_requests, 0);
}

TEST_F(CatchUpDriverTest, DependencyStepResumesAfterACrash) {
  client_.catchup.snapshot_entries = 5;
  Publish(kA, 20);
  store_.Retain(kA, 11);
  Start();
  // The Fetch is lost with the process: only the snapshot was applied.
  client_.driver->Tick(kT0);
  auto sync = client_.driver->TakeRequest();
  ASSERT_TRUE(
      client_.driver
          ->OnSyncAnswer(sync->request_id, store_.Answer(std::get<SyncRequest>(sync->request)), kT0)
          .ok());
  auto snap = client_.driver->TakeRequest();
  ASSERT_TRUE(client_.driver
                  ->OnSnapshotAnswer(snap->request_id,
                                     store_.Answer(std::get<SnapshotRequest>(snap->request)), kT0)
                  .ok());
  auto fetch = client_.driver->TakeRequest();
  ASSERT_TRUE(fetch.has_value());
  EXPECT_EQ(fetch->kind, RequestKind::kFetch);
  EXPECT_TRUE(StoredCursorOf(kA)->dependencies_pending);

  ASSERT_TRUE(client_.Rebuild().ok());
  EXPECT_FALSE(client_.engine->IncomingBuffer(kA).empty());
  store_.fetches.clear();
  Run(kT0 + std::chrono::seconds(1));
  EXPECT_EQ(store_.fetches.size(), 1u);
  EXPECT_TRUE(client_.engine->IncomingBuffer(kA).empty());
  EXPECT_FALSE(StoredCursorOf(kA)->dependencies_pending);
}

// ---- Ids-only -----------------------------------------------------------------

TEST_F(CatchUpDriverTest, IdsOnlyFetchesOnlyWhatTheEngineLacks) {
  client_.catchup.ids_only = true;
  Publish(kA, 1);
  Start();
  Run(kT0);
  // 10 messages; the client got 9 of them live over relay.
  std::vector<MessageId> ids;
  for (int i = 0; i < 10; ++i) {
    MessageId id = "live" + std::to_string(i);
    auto wire = sender_->Wrap(kA, ToBytes("c"), id, kT0);
    store_.Append(kA, *wire);
    if (i != 6) {
      ASSERT_TRUE(client_.engine->Unwrap(*wire, kT0).ok());
    }
    ids.push_back(id);
  }
  client_.Drain();
  store_.fetches.clear();
  Run(kT0 + std::chrono::seconds(30));
  ASSERT_EQ(store_.fetches.size(), 1u);
  EXPECT_THAT(store_.fetches[0].message_ids, ElementsAre("live6"));
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 11u);
  EXPECT_TRUE(client_.engine->IncomingBuffer(kA).empty());
  std::set<MessageId> unique(client_.delivered.begin(), client_.delivered.end());
  EXPECT_EQ(unique.size(), client_.delivered.size());
  EXPECT_EQ(unique.size(), 11u);
}

// ---- Persistence ------------------------------------------------------------

struct FailingOp {
  const char* name;
  StoreOperation op;
};
class CursorDurabilityTest : public CatchUpDriverTest,
                             public ::testing::WithParamInterface<FailingOp> {};

TEST_P(CursorDurabilityTest, CursorNeverMovesAheadOfDurableStateAndRecovers) {
  auto first = Publish(kA, 3);
  Start();
  Run(kT0);
  auto more = Publish(kA, 4);
  client_.store->SetFailing(GetParam().op, true);
  Timestamp now = kT0 + std::chrono::seconds(30);
  auto events = Run(now);
  EXPECT_FALSE(EventsOf<CursorNotSaved>(events).empty());
  EXPECT_FALSE(EventsOf<RetryScheduled>(events).empty());
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 3u);
  EXPECT_EQ(StoredCursorOf(kA)->cursor.seq, 3u);
  // Retries keep failing without moving anything.
  for (int i = 0; i < 5; ++i) {
    now = client_.driver->NextDeadline();
    Run(now);
    EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 3u);
    EXPECT_EQ(StoredCursorOf(kA)->cursor.seq, 3u);
  }
  // A crash now: the stored cursor covers only what the store holds (I5).
  client_.store->ClearFailures();
  ASSERT_TRUE(client_.Rebuild().ok());
  uint64_t stored = StoredCursorOf(kA)->cursor.seq;
  for (const auto& [seq, entry] : store_.logs[kA].entries) {
    if (seq <= stored) {
      EXPECT_TRUE(client_.engine->IsKnown(kA, entry.message_id)) << seq;
    }
  }
  Run(now + std::chrono::seconds(1));
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 7u);
  EXPECT_EQ(StoredCursorOf(kA)->cursor.seq, 7u);
  // Nothing lost: every message reached the application.
  std::set<MessageId> got(client_.delivered.begin(), client_.delivered.end());
  for (const auto& id : first) EXPECT_TRUE(got.count(id)) << id;
  for (const auto& id : more) EXPECT_TRUE(got.count(id)) << id;
  for (const auto& id : more) EXPECT_TRUE(client_.engine->IsKnown(kA, id)) << id;
}

TEST_P(CursorDurabilityTest, WithoutACrashTheSamePageIsFetchedAgainAfterRecovery) {
  Publish(kA, 3);
  Start();
  Run(kT0);
  Publish(kA, 4);
  client_.store->SetFailing(GetParam().op, true);
  Timestamp now = kT0 + std::chrono::seconds(30);
  Run(now);
  client_.store->ClearFailures();
  store_.syncs.clear();
  Run(client_.driver->NextDeadline());
  ASSERT_FALSE(store_.syncs.empty());
  EXPECT_EQ(store_.syncs[0].channels[0].cursor->seq, 3u);  // the same page again
  EXPECT_EQ(StoredCursorOf(kA)->cursor.seq, 7u);
  std::set<MessageId> unique(client_.delivered.begin(), client_.delivered.end());
  EXPECT_EQ(unique.size(), 7u);
  EXPECT_EQ(client_.delivered.size(), 7u);  // duplicates absorbed by the engine
}

INSTANTIATE_TEST_SUITE_P(
    EveryWrite, CursorDurabilityTest,
    ::testing::Values(FailingOp{"SaveChannelMeta", StoreOperation::kSaveChannelMeta},
                      FailingOp{"UpdateHistory", StoreOperation::kUpdateHistory},
                      FailingOp{"SaveCatchUpCursor", StoreOperation::kSaveCatchUpCursor},
                      FailingOp{"CommitOp", StoreOperation::kCommitOp}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(CatchUpDriverTest, OnePageIsOneStoreGroup) {
  Publish(kA, 1);
  Start();
  Run(kT0);
  Publish(kA, 50);
  size_t commits = client_.store->CallCount(StoreOperation::kCommitOp);
  size_t histories = client_.store->CallCount(StoreOperation::kUpdateHistory);
  Run(kT0 + std::chrono::seconds(30));
  EXPECT_EQ(client_.store->CallCount(StoreOperation::kCommitOp) - commits, 1u);
  EXPECT_EQ(client_.store->CallCount(StoreOperation::kUpdateHistory) - histories, 1u);
  EXPECT_EQ(client_.engine->History(kA).size(), 51u);
}

TEST_F(CatchUpDriverTest, LoadingCursorsFailsClearly) {
  client_.store->SetFailing(StoreOperation::kLoadCatchUpCursors, true);
  Status status = client_.Rebuild();
  EXPECT_EQ(status.code(), ErrorCode::kPersistence);
  EXPECT_THAT(status.message(), HasSubstr("loading catch-up cursors"));
}

TEST(StoredCursorTest, RoundTripsAndRejectsGarbage) {
  StoredCursor c{Cursor{testing::MakeEpoch(7), 0x0102030405060708ULL}, true};
  auto back = DecodeStoredCursor(EncodeStoredCursor(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cursor, c.cursor);
  EXPECT_TRUE(back->dependencies_pending);
  Bytes bad = EncodeStoredCursor(c);
  bad[0] = 2;
  EXPECT_EQ(DecodeStoredCursor(bad).status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_FALSE(DecodeStoredCursor(Bytes(3, 1)).ok());
}

// ---- Config -------------------------------------------------------------------

TEST(CatchUpConfigTest, PageSizeAndSnapshotKStayInsideTheDuplicateWindow) {
  Config engine;
  engine.max_message_history = 50;
  CatchUpConfig c = DefaultCatchUp({kA});
  c.max_entries = 50;
  c.snapshot_entries = 50;
  EXPECT_TRUE(ValidateCatchUpConfig(c, engine).ok());
  c.max_entries = 51;
  EXPECT_THAT(ValidateCatchUpConfig(c, engine).message(), HasSubstr("I6"));
  c.max_entries = 10;
  c.snapshot_entries = 51;
  EXPECT_THAT(ValidateCatchUpConfig(c, engine).message(), HasSubstr("snapshot_entries"));
  c.snapshot_entries = 10;
  c.random = nullptr;
  EXPECT_THAT(ValidateCatchUpConfig(c, engine).message(), HasSubstr("random"));
  c = DefaultCatchUp({kA, kA});
  EXPECT_THAT(ValidateCatchUpConfig(c, engine).message(), HasSubstr("twice"));
  c = DefaultCatchUp({});
  EXPECT_FALSE(ValidateCatchUpConfig(c, engine).ok());
  c = DefaultCatchUp({kA});
  c.store_id.clear();
  EXPECT_FALSE(ValidateCatchUpConfig(c, engine).ok());
}

}  // namespace
}  // namespace sds::catchup
