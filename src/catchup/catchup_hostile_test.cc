// A hostile or broken store: every bad answer is a typed refusal with a clear
// message, nothing of it is applied, and the driver retries with backoff and
// jitter on virtual time. Also the bytes API end to end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "sds/catchup.h"
#include "tests/catchup/scripted_store.h"
#include "tests/testutil/engine.h"

namespace sds::catchup {
namespace {

using testing::Client;
using testing::DefaultCatchUp;
using ::testing::HasSubstr;
using testing::ScriptedStore;
using testing::SmallConfig;
using testutil::kT0;

const ChannelId kA = "a";

template <typename T>
std::vector<T> EventsOf(const std::vector<CatchUpEvent>& events) {
  std::vector<T> out;
  for (const CatchUpEvent& e : events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

class HostileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sender_ = *ReliabilityManager::Create(SmallConfig("sender"));
    client_.config = SmallConfig("client");
    client_.catchup = DefaultCatchUp({kA});
  }
  void Publish(int n) {
    for (int i = 0; i < n; ++i) {
      MessageId id = "m" + std::to_string(next_++);
      store_.Append(kA, *sender_->Wrap(kA, ToBytes("content"), id, kT0));
    }
  }
  // A client at seq 3, with 4 more entries waiting in the store.
  void Prepare() {
    Publish(3);
    ASSERT_TRUE(client_.Rebuild().ok());
    testing::Pump(*client_.driver, store_, kT0);
    client_.Drain();
    client_.driver->TakeEvents();
    Publish(4);
  }
  std::unique_ptr<ReliabilityManager> sender_;
  ScriptedStore store_;
  Client client_;
  int next_ = 1;
};

// Sends what the driver asks and hands back the store's answer through
// `answer`, which may tamper with it; returns the handler's status.
template <typename Fn>
Status ExchangeOnce(CatchUpDriver& driver, ScriptedStore& store, Timestamp now, Fn&& tamper) {
  driver.Tick(now);
  auto request = driver.TakeRequest();
  if (!request) return Status(ErrorCode::kInternal, "no request");
  if (auto* sync = std::get_if<SyncRequest>(&request->request)) {
    SyncResponse r = store.Answer(*sync);
    tamper(r);
    return driver.OnSyncAnswer(request->request_id, r, now);
  }
  if (auto* snap = std::get_if<SnapshotRequest>(&request->request)) {
    SnapshotResponse r = store.Answer(*snap);
    tamper(r);
    return driver.OnSnapshotAnswer(request->request_id, r, now);
  }
  FetchResponse r = store.Answer(std::get<FetchRequest>(request->request));
  tamper(r);
  return driver.OnFetchAnswer(request->request_id, r, now);
}

struct SyncTamper {
  const char* name;
  std::function<void(SyncResponse&)> tamper;
  const char* message;
};
class SyncViolationTest : public HostileStoreTest,
                          public ::testing::WithParamInterface<SyncTamper> {};

TEST_P(SyncViolationTest, RefusedWholeNothingAppliedThenRetried) {
  Prepare();
  Timestamp now = kT0 + std::chrono::seconds(30);
  Status status = ExchangeOnce(*client_.driver, store_, now, [&](auto& r) {
    if constexpr (std::is_same_v<std::decay_t<decltype(r)>, SyncResponse>) GetParam().tamper(r);
  });
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(GetParam().message));
  client_.Drain();
  EXPECT_EQ(client_.delivered.size(), 3u);  // nothing of the bad answer applied
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 3u);
  auto events = client_.driver->TakeEvents();
  ASSERT_EQ(EventsOf<ResponseRejected>(events).size(), 1u);
  auto retries = EventsOf<RetryScheduled>(events);
  ASSERT_EQ(retries.size(), 1u);
  EXPECT_GE(retries[0].retry_at, now + std::chrono::milliseconds(500));
  // Nothing is asked before the backoff ends; then an honest answer lands.
  EXPECT_EQ(testing::Pump(*client_.driver, store_, retries[0].retry_at - Duration(1)), 0);
  testing::Pump(*client_.driver, store_, retries[0].retry_at);
  client_.Drain();
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 7u);
  EXPECT_EQ(client_.delivered.size(), 7u);
}

INSTANTIATE_TEST_SUITE_P(
    Violations, SyncViolationTest,
    ::testing::Values(
        SyncTamper{"OtherStore", [](SyncResponse& r) { r.store_id = ToBytes("evil"); },
                   "another store"},
        SyncTamper{"ChannelNotAsked",
                   [](SyncResponse& r) {
                     ChannelResult extra;
                     extra.channel_id = "intruder";
                     extra.status = SyncStatus::kUpToDate;
                     r.channels.push_back(extra);
                   },
                   "intruder, which was not asked"},
        SyncTamper{"ChannelTwice", [](SyncResponse& r) { r.channels.push_back(r.channels[0]); },
                   "answered twice"},
        SyncTamper{"ChannelMissing", [](SyncResponse& r) { r.channels.clear(); },
                   "no result for channel a"},
        SyncTamper{"TooManyEntries",
                   [](SyncResponse& r) {
                     auto& c = r.channels[0];
                     while (c.entries.size() < 101) c.entries.push_back(c.entries[0]);
                   },
                   "more than the 100 asked for"},
        SyncTamper{"EntriesWhenNotDelta",
                   [](SyncResponse& r) { r.channels[0].status = SyncStatus::kUnknownChannel; },
                   "not DELTA"},
        SyncTamper{
            "OversizedPayload",
            [](SyncResponse& r) { r.channels[0].entries[0].payload.assign((1 << 20) + 1, 0); },
            "exceeds max_payload_bytes"},
        SyncTamper{"NoProgress",
                   [](SyncResponse& r) {
                     auto& c = r.channels[0];
                     c.entries.clear();
                     c.to_seq = c.from_seq - 1;
                     c.has_more = true;
                   },
                   "no progress"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

struct SnapshotTamper {
  const char* name;
  std::function<void(SnapshotResponse&)> tamper;
  const char* message;
};
class SnapshotViolationTest : public HostileStoreTest,
                              public ::testing::WithParamInterface<SnapshotTamper> {};

TEST_P(SnapshotViolationTest, RefusedWholeAndTheChannelStaysCold) {
  Publish(5);
  ASSERT_TRUE(client_.Rebuild().ok());
  auto no_tamper = [](auto&) {};
  ASSERT_TRUE(ExchangeOnce(*client_.driver, store_, kT0, no_tamper).ok());  // Sync: cold
  Status status = ExchangeOnce(*client_.driver, store_, kT0, [&](auto& r) {
    if constexpr (std::is_same_v<std::decay_t<decltype(r)>, SnapshotResponse>) {
      GetParam().tamper(r);
    }
  });
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(GetParam().message));
  client_.Drain();
  EXPECT_TRUE(client_.delivered.empty());
  EXPECT_FALSE(client_.driver->CursorOf(kA).has_value());
  auto events = client_.driver->TakeEvents();
  EXPECT_TRUE(EventsOf<HistoryGap>(events).empty());
  // The retry asks the snapshot again and succeeds.
  testing::Pump(*client_.driver, store_, client_.driver->NextDeadline());
  client_.Drain();
  EXPECT_EQ(client_.delivered.size(), 5u);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 5u);
}

INSTANTIATE_TEST_SUITE_P(
    Violations, SnapshotViolationTest,
    ::testing::Values(
        SnapshotTamper{"SnapshotSeqBelowEntries",
                       [](SnapshotResponse& r) { r.channels[0].snapshot_seq = 3; },
                       "above snapshot_seq 3"},
        SnapshotTamper{"MoreThanK",
                       [](SnapshotResponse& r) {
                         auto& s = r.channels[0];
                         while (s.entries.size() <= 100) s.entries.push_back(s.entries.back());
                       },
                       "more than K"},
        SnapshotTamper{"NotDense",
                       [](SnapshotResponse& r) {
                         r.channels[0].entries.erase(r.channels[0].entries.begin() + 2);
                       },
                       "not dense"},
        SnapshotTamper{"BelowLowSeq", [](SnapshotResponse& r) { r.channels[0].low_seq = 3; },
                       "below low_seq"},
        SnapshotTamper{"NotEndingAtSnapshotSeq",
                       [](SnapshotResponse& r) { r.channels[0].snapshot_seq = 9; },
                       "is not the last entry's seq"},
        SnapshotTamper{"ChannelNotAsked",
                       [](SnapshotResponse& r) { r.unknown_channel_ids.push_back("x"); },
                       "not asked"},
        SnapshotTamper{"NoAnswer", [](SnapshotResponse& r) { r.channels.clear(); },
                       "no answer for channel a"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(HostileStoreTest, FetchOfIdsNotAskedIsRefused) {
  client_.catchup.snapshot_entries = 2;
  Publish(6);
  ASSERT_TRUE(client_.Rebuild().ok());
  auto no_tamper = [](auto&) {};
  ASSERT_TRUE(ExchangeOnce(*client_.driver, store_, kT0, no_tamper).ok());  // Sync
  ASSERT_TRUE(ExchangeOnce(*client_.driver, store_, kT0, no_tamper).ok());  // Snapshot
  Status status = ExchangeOnce(*client_.driver, store_, kT0, [&](auto& r) {
    if constexpr (std::is_same_v<std::decay_t<decltype(r)>, FetchResponse>) {
      Entry stray = store_.logs[kA].entries.at(6);
      r.entries.push_back(stray);
    }
  });
  EXPECT_THAT(status.message(), HasSubstr("was not asked for"));
}

TEST_F(HostileStoreTest, AnswerForARequestNotOutstandingChangesNothing) {
  Prepare();
  client_.driver->Tick(kT0 + std::chrono::seconds(30));
  auto request = client_.driver->TakeRequest();
  ASSERT_TRUE(request.has_value());
  SyncResponse r = store_.Answer(std::get<SyncRequest>(request->request));
  Status wrong_id = client_.driver->OnSyncAnswer(request->request_id + 7, r, kT0);
  EXPECT_EQ(wrong_id.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(wrong_id.message(), HasSubstr("is outstanding"));
  Status wrong_kind =
      client_.driver->OnSnapshotAnswer(request->request_id, SnapshotResponse{}, kT0);
  EXPECT_THAT(wrong_kind.message(), HasSubstr("is a Sync, not a Snapshot"));
  EXPECT_TRUE(client_.driver->TakeEvents().empty());
  // The real answer is still accepted.
  EXPECT_TRUE(client_.driver->OnSyncAnswer(request->request_id, r, kT0).ok());
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 7u);
  // And a late duplicate of it is not applied twice.
  EXPECT_EQ(client_.driver->OnSyncAnswer(request->request_id, r, kT0).code(),
            ErrorCode::kInvalidArgument);
}

// ---- Bytes --------------------------------------------------------------------

// Runs the driver against the store through the wire encoding.
int PumpBytes(CatchUpDriver& driver, ScriptedStore& store, Timestamp now,
              size_t* bytes_up = nullptr, size_t* bytes_down = nullptr) {
  int n = 0;
  driver.Tick(now);
  while (auto request = driver.TakeRequest()) {
    ++n;
    Bytes up = request->Encode();
    Bytes down;
    if (auto* sync = std::get_if<SyncRequest>(&request->request)) {
      auto decoded = DecodeSyncRequest(up);
      EXPECT_TRUE(decoded.ok());
      down = EncodeSyncResponse(store.Answer(*decoded));
      (void)sync;
    } else if (std::holds_alternative<SnapshotRequest>(request->request)) {
      down = EncodeSnapshotResponse(store.Answer(*DecodeSnapshotRequest(up)));
    } else {
      down = EncodeFetchResponse(store.Answer(*DecodeFetchRequest(up)));
    }
    if (bytes_up) *bytes_up += up.size();
    if (bytes_down) *bytes_down += down.size();
    EXPECT_TRUE(driver.OnResponse(request->request_id, down, now).ok());
    driver.Tick(now);
  }
  return n;
}

TEST_F(HostileStoreTest, BytesInBytesOutCatchesUp) {
  client_.catchup.snapshot_entries = 3;
  Publish(10);
  ASSERT_TRUE(client_.Rebuild().ok());
  PumpBytes(*client_.driver, store_, kT0);
  Publish(5);
  PumpBytes(*client_.driver, store_, kT0 + std::chrono::seconds(30));
  client_.Drain();
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 15u);
  EXPECT_GE(client_.delivered.size(), 8u);  // 3 of the snapshot, their fetched deps, 5 deltas
}

TEST_F(HostileStoreTest, UndecodableOrOversizedBytesAreRefused) {
  Prepare();
  client_.driver->Tick(kT0 + std::chrono::seconds(30));
  auto request = client_.driver->TakeRequest();
  Bytes garbage = {0xff, 0xff, 0xff};
  Status status = client_.driver->OnResponse(request->request_id, garbage, kT0);
  EXPECT_NE(status.code(), ErrorCode::kOk);
  EXPECT_THAT(status.message(), HasSubstr("Sync response"));
  auto events = client_.driver->TakeEvents();
  EXPECT_EQ(EventsOf<ResponseRejected>(events).size(), 1u);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 3u);

  client_.catchup.limits.max_response_bytes = 64;
  ASSERT_TRUE(client_.Rebuild().ok());
  client_.driver->Tick(kT0);
  request = client_.driver->TakeRequest();
  Bytes big = EncodeSyncResponse(store_.Answer(std::get<SyncRequest>(request->request)));
  ASSERT_GT(big.size(), 64u);
  status = client_.driver->OnResponse(request->request_id, big, kT0);
  EXPECT_EQ(status.code(), ErrorCode::kDecodeLimitExceeded);
}

// ---- Backoff ------------------------------------------------------------------

TEST_F(HostileStoreTest, TransportFailuresBackOffExponentiallyWithJitterUpToTheCap) {
  Prepare();
  client_.catchup.initial_backoff = std::chrono::seconds(1);
  client_.catchup.max_backoff = std::chrono::seconds(16);
  ASSERT_TRUE(client_.Rebuild().ok());
  Timestamp now = kT0;
  std::set<int64_t> distinct;
  for (int attempt = 1; attempt <= 8; ++attempt) {
    client_.driver->Tick(now);
    auto request = client_.driver->TakeRequest();
    ASSERT_TRUE(request.has_value()) << attempt;
    client_.driver->OnTransportFailure(request->request_id, "connection reset", now);
    auto retries = EventsOf<RetryScheduled>(client_.driver->TakeEvents());
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_EQ(retries[0].attempt, attempt);
    int64_t full = std::min<int64_t>(1000LL << (attempt - 1), 16000);
    int64_t delay = (retries[0].retry_at - now).count();
    EXPECT_GE(delay, full / 2) << attempt;
    EXPECT_LE(delay, full) << attempt;
    distinct.insert(delay * 100 / full);
    EXPECT_EQ(client_.driver->NextDeadline(), retries[0].retry_at);
    // Nothing goes out before the retry time.
    client_.driver->Tick(retries[0].retry_at - Duration(1));
    EXPECT_FALSE(client_.driver->TakeRequest().has_value());
    now = retries[0].retry_at;
  }
  EXPECT_GT(distinct.size(), 2u);  // the jitter is drawn, not fixed
  // Success resets the backoff.
  testing::Pump(*client_.driver, store_, now);
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 7u);
}

TEST_F(HostileStoreTest, BusyStoreIsRetriedNoSoonerThanRetryAfter) {
  Prepare();
  Timestamp now = kT0 + std::chrono::seconds(30);
  client_.driver->Tick(now);
  auto request = client_.driver->TakeRequest();
  ServiceError busy{ServiceErrorCode::kBusy, "too many clients", 45'000};
  Status status = client_.driver->OnSyncAnswer(request->request_id, busy, now);
  EXPECT_THAT(status.message(), HasSubstr("too many clients"));
  auto retries = EventsOf<RetryScheduled>(client_.driver->TakeEvents());
  ASSERT_EQ(retries.size(), 1u);
  EXPECT_EQ(retries[0].retry_at, now + std::chrono::seconds(45));
  client_.driver->Tick(now + std::chrono::seconds(44));
  EXPECT_FALSE(client_.driver->TakeRequest().has_value());
  testing::Pump(*client_.driver, store_, now + std::chrono::seconds(45));
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 7u);
}

TEST_F(HostileStoreTest, UnansweredRequestTimesOut) {
  Prepare();
  Timestamp now = kT0 + std::chrono::seconds(30);
  client_.driver->Tick(now);
  auto request = client_.driver->TakeRequest();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(client_.driver->NextDeadline(), now + client_.catchup.request_timeout);
  client_.driver->Tick(now + client_.catchup.request_timeout);
  auto retries = EventsOf<RetryScheduled>(client_.driver->TakeEvents());
  ASSERT_EQ(retries.size(), 1u);
  EXPECT_THAT(retries[0].status.message(), HasSubstr("timed out"));
  // The late answer is no longer accepted.
  SyncResponse late = store_.Answer(std::get<SyncRequest>(request->request));
  EXPECT_FALSE(client_.driver->OnSyncAnswer(request->request_id, late, now).ok());
}

TEST_F(HostileStoreTest, ReconnectStartsARoundAtOnceAndDisconnectSendsNothing) {
  Prepare();
  client_.driver->OnDisconnected(kT0 + std::chrono::seconds(1));
  EXPECT_EQ(client_.driver->Tick(kT0 + std::chrono::seconds(60)), kNoDeadline);
  EXPECT_FALSE(client_.driver->TakeRequest().has_value());
  client_.driver->OnConnected(kT0 + std::chrono::seconds(61));
  testing::Pump(*client_.driver, store_, kT0 + std::chrono::seconds(61));
  EXPECT_EQ(client_.driver->CursorOf(kA)->seq, 7u);
}

}  // namespace
}  // namespace sds::catchup
