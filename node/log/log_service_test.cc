// LogService answers, run on every backend: the server rule's boundary table,
// pagination, ids-only, Snapshot, Fetch, Backfill, request checks, counters.
#include "sds/log_service.h"

#include <gtest/gtest.h>

#include "log_test_util.h"

namespace sds::catchup::testing {
namespace {

class LogServiceTest : public BackendTest {
 protected:
  // A log "ch" with seqs 5..10 retained (count cap 6) and an emptied "empty".
  void SetUpBoundaryLog() {
    ChannelLogOptions options = Options();
    options.retention.max_entries_per_channel = 6;
    options.retention.max_age = std::chrono::hours(1);
    Open(options);
    AppendN(*log_, 10, "ch", "m", kT0 + std::chrono::hours(5));
    AppendN(*log_, 3, "empty", "e", kT0);
    ASSERT_TRUE(log_->ApplyRetention(kT0 + std::chrono::hours(3)).ok());
    ChannelMeta ch = MustMeta(*log_);
    ASSERT_EQ(ch.low_seq, 5u);
    ASSERT_EQ(ch.head_seq, 10u);
    ChannelMeta empty = MustMeta(*log_, "empty");
    ASSERT_EQ(empty.low_seq, 4u);
    ASSERT_EQ(empty.head_seq, 3u);
  }

  LogService& Service(LogServiceConfig config = {}) {
    auto service = LogService::Create(log_, std::move(config));
    EXPECT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);
    return *service_;
  }

  Epoch EpochOf(const ChannelId& channel = "ch") { return MustMeta(*log_, channel).epoch; }

  template <typename T>
  static T MustOk(Answer<T> answer) {
    if (auto* error = std::get_if<ServiceError>(&answer)) {
      ADD_FAILURE() << "ServiceError " << static_cast<int>(error->code) << ": " << error->message;
      return T{};
    }
    return std::get<T>(std::move(answer));
  }
  template <typename T>
  static ServiceError MustFail(Answer<T> answer) {
    if (auto* error = std::get_if<ServiceError>(&answer)) return *error;
    ADD_FAILURE() << "expected a ServiceError";
    return ServiceError{};
  }

  ChannelResult SyncOne(const ChannelId& channel, std::optional<Cursor> cursor,
                        uint32_t max_entries = 100) {
    SyncRequest request;
    request.channels.push_back({channel, cursor});
    request.max_entries = max_entries;
    SyncResponse response = MustOk(service_->Sync(request));
    EXPECT_EQ(response.channels.size(), 1u);
    return response.channels.empty() ? ChannelResult{} : response.channels[0];
  }

  std::unique_ptr<LogService> service_;
};

std::vector<uint64_t> Seqs(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.seq);
  return out;
}

// Every DELTA answer satisfies I4: from_seq = cursor + 1, dense, within
// [low, head], to_seq the last entry, has_more exactly when to_seq < head.
void ExpectWellFormedDelta(const ChannelResult& r, uint64_t cursor_seq) {
  ASSERT_EQ(r.status, SyncStatus::kDelta);
  EXPECT_EQ(r.from_seq, cursor_seq + 1);
  EXPECT_EQ(r.to_seq, r.from_seq + r.entries.size() - 1);
  for (size_t i = 0; i < r.entries.size(); ++i) EXPECT_EQ(r.entries[i].seq, r.from_seq + i);
  if (!r.entries.empty()) {
    EXPECT_GE(r.entries.front().seq, r.low_seq);
  }
  EXPECT_LE(r.to_seq, r.head_seq);
  EXPECT_EQ(r.has_more, r.to_seq < r.head_seq);
}

TEST_P(LogServiceTest, ServerRuleBoundaryTable) {
  SetUpBoundaryLog();
  Service();
  const Epoch epoch = EpochOf(), empty_epoch = EpochOf("empty");
  Epoch wrong = epoch;
  wrong[0] ^= 1;
  struct Case {
    const char* name;
    ChannelId channel;
    std::optional<Cursor> cursor;
    SyncStatus status;
    ColdReason reason;
    uint64_t from_seq;  // DELTA only
  };
  const std::vector<Case> cases = {
      {"low-2", "ch", Cursor{epoch, 3}, SyncStatus::kColdStartRequired,
       ColdReason::kBehindRetention, 0},
      {"low-1", "ch", Cursor{epoch, 4}, SyncStatus::kDelta, ColdReason::kNone, 5},
      {"low", "ch", Cursor{epoch, 5}, SyncStatus::kDelta, ColdReason::kNone, 6},
      {"head-1", "ch", Cursor{epoch, 9}, SyncStatus::kDelta, ColdReason::kNone, 10},
      {"head", "ch", Cursor{epoch, 10}, SyncStatus::kUpToDate, ColdReason::kNone, 0},
      {"head+1", "ch", Cursor{epoch, 11}, SyncStatus::kColdStartRequired, ColdReason::kAheadOfHead,
       0},
      {"seq 0", "ch", Cursor{epoch, 0}, SyncStatus::kColdStartRequired,
       ColdReason::kBehindRetention, 0},
      {"wrong epoch at head", "ch", Cursor{wrong, 10}, SyncStatus::kColdStartRequired,
       ColdReason::kEpochMismatch, 0},
      {"wrong epoch behind", "ch", Cursor{wrong, 1}, SyncStatus::kColdStartRequired,
       ColdReason::kEpochMismatch, 0},
      {"no cursor", "ch", std::nullopt, SyncStatus::kColdStartRequired, ColdReason::kNoCursor, 0},
      {"empty log at head", "empty", Cursor{empty_epoch, 3}, SyncStatus::kUpToDate,
       ColdReason::kNone, 0},
      {"empty log behind", "empty", Cursor{empty_epoch, 2}, SyncStatus::kColdStartRequired,
       ColdReason::kBehindRetention, 0},
      {"empty log ahead", "empty", Cursor{empty_epoch, 4}, SyncStatus::kColdStartRequired,
       ColdReason::kAheadOfHead, 0},
      {"empty log no cursor", "empty", std::nullopt, SyncStatus::kColdStartRequired,
       ColdReason::kNoCursor, 0},
      {"unknown channel with cursor", "nope", Cursor{epoch, 10}, SyncStatus::kUnknownChannel,
       ColdReason::kNone, 0},
      {"unknown channel no cursor", "nope", std::nullopt, SyncStatus::kUnknownChannel,
       ColdReason::kNone, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ChannelResult r = SyncOne(c.channel, c.cursor);
    EXPECT_EQ(r.channel_id, c.channel);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.reason, c.reason);
    if (c.status == SyncStatus::kUnknownChannel) {
      EXPECT_EQ(r.epoch, Epoch{});
      EXPECT_TRUE(r.entries.empty());
      continue;
    }
    if (c.status == SyncStatus::kUpToDate) {
      EXPECT_EQ(r.epoch, kNoEpoch) << "UP_TO_DATE carries no body";
      EXPECT_EQ(r.low_seq, 0u);
      EXPECT_EQ(r.head_seq, 0u);
      EXPECT_TRUE(r.entries.empty());
      continue;
    }
    EXPECT_EQ(r.epoch, EpochOf(c.channel));
    EXPECT_EQ(r.low_seq, MustMeta(*log_, c.channel).low_seq);
    EXPECT_EQ(r.head_seq, MustMeta(*log_, c.channel).head_seq);
    if (c.status == SyncStatus::kDelta) {
      ExpectWellFormedDelta(r, c.cursor->seq);
      EXPECT_EQ(r.from_seq, c.from_seq);
      EXPECT_EQ(r.to_seq, 10u);
      EXPECT_FALSE(r.has_more);
      EXPECT_EQ(r.entries.back().payload, ContentMessage("m10", "ch", 10));
    } else {
      EXPECT_TRUE(r.entries.empty());
      EXPECT_FALSE(r.has_more);
    }
  }
}

TEST_P(LogServiceTest, FreshLogFromSeqZeroIsADelta) {
  Open();
  AppendN(*log_, 3);
  Service();
  ChannelResult r = SyncOne("ch", Cursor{EpochOf(), 0});
  ExpectWellFormedDelta(r, 0);
  EXPECT_EQ(Seqs(r.entries), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_P(LogServiceTest, OneRequestAnswersEveryChannelInOrder) {
  SetUpBoundaryLog();
  Service();
  SyncRequest request;
  request.channels = {{"nope", std::nullopt},
                      {"ch", Cursor{EpochOf(), 8}},
                      {"empty", Cursor{EpochOf("empty"), 3}},
                      {"x", std::nullopt}};
  SyncResponse response = MustOk(service_->Sync(request));
  EXPECT_EQ(response.store_id, log_->store_id());
  ASSERT_EQ(response.channels.size(), 4u);
  EXPECT_EQ(response.channels[0].status, SyncStatus::kUnknownChannel);
  EXPECT_EQ(response.channels[1].status, SyncStatus::kDelta);
  EXPECT_EQ(Seqs(response.channels[1].entries), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(response.channels[2].status, SyncStatus::kUpToDate);
  EXPECT_EQ(response.channels[3].status, SyncStatus::kUnknownChannel);
  EXPECT_EQ(response.channels[3].channel_id, "x");
}

TEST_P(LogServiceTest, PagesAreBoundedByEntriesAndFollowedToTheHead) {
  Open();
  AppendN(*log_, 25);
  Service();
  Cursor cursor{EpochOf(), 0};
  std::vector<uint64_t> seen;
  int pages = 0;
  while (true) {
    ChannelResult r = SyncOne("ch", cursor, 10);
    if (r.status == SyncStatus::kUpToDate) break;
    ExpectWellFormedDelta(r, cursor.seq);
    EXPECT_LE(r.entries.size(), 10u);
    for (const Entry& e : r.entries) seen.push_back(e.seq);
    cursor.seq = r.to_seq;
    ++pages;
    ASSERT_LT(pages, 10);
    if (!r.has_more) {
      EXPECT_EQ(r.to_seq, 25u);
    }
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST_P(LogServiceTest, ByteCapAndAnOversizedEntryStillReturned) {
  Open();
  AppendN(*log_, 6, "ch", "m", kT0, 1000);
  Service();
  uint64_t size = MustMeta(*log_).retained_bytes / 6;
  SyncRequest request;
  request.channels = {{"ch", Cursor{EpochOf(), 0}}};
  request.max_bytes = 3 * size;
  SyncResponse response = MustOk(service_->Sync(request));
  ChannelResult r = response.channels[0];
  ExpectWellFormedDelta(r, 0);
  EXPECT_EQ(r.entries.size(), 3u);
  EXPECT_TRUE(r.has_more);
  request.max_bytes = 10;  // smaller than any entry
  r = MustOk(service_->Sync(request)).channels[0];
  ExpectWellFormedDelta(r, 0);
  EXPECT_EQ(r.entries.size(), 1u) << "at least one entry, so an oversized one cannot stall";
  EXPECT_TRUE(r.has_more);
}

TEST_P(LogServiceTest, BudgetIsOverTheWholeResponse) {
  Open();
  AppendN(*log_, 5, "a");
  AppendN(*log_, 5, "b");
  AppendN(*log_, 5, "c");
  Service();
  SyncRequest request;
  request.channels = {{"a", Cursor{EpochOf("a"), 0}},
                      {"b", Cursor{EpochOf("b"), 2}},
                      {"c", Cursor{EpochOf("c"), 0}}};
  request.max_entries = 7;
  SyncResponse response = MustOk(service_->Sync(request));
  ASSERT_EQ(response.channels.size(), 3u);
  ExpectWellFormedDelta(response.channels[0], 0);
  EXPECT_EQ(response.channels[0].entries.size(), 5u);
  ExpectWellFormedDelta(response.channels[1], 2);
  EXPECT_EQ(Seqs(response.channels[1].entries), (std::vector<uint64_t>{3, 4}));
  EXPECT_TRUE(response.channels[1].has_more);
  // Budget spent: a further DELTA still carries exactly one entry.
  ExpectWellFormedDelta(response.channels[2], 0);
  EXPECT_EQ(Seqs(response.channels[2].entries), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(response.channels[2].has_more);
}

TEST_P(LogServiceTest, RequestBudgetsAreCappedAndZeroMeansDefault) {
  Open();
  AppendN(*log_, 30);
  LogServiceConfig config;
  config.default_max_entries = 7;
  config.max_entries_cap = 12;
  Service(config);
  EXPECT_EQ(SyncOne("ch", Cursor{EpochOf(), 0}, 0).entries.size(), 7u);
  EXPECT_EQ(SyncOne("ch", Cursor{EpochOf(), 0}, 1000).entries.size(), 12u);
  EXPECT_EQ(SyncOne("ch", Cursor{EpochOf(), 0}, 3).entries.size(), 3u);
}

TEST_P(LogServiceTest, IdsOnlyReturnsIdsWithoutPayloads) {
  Open();
  AppendN(*log_, 5, "ch", "m", kT0, 1000);
  Service();
  SyncRequest request;
  request.channels = {{"ch", Cursor{EpochOf(), 1}}};
  request.ids_only = true;
  request.max_bytes = 1;  // payload bytes: none in ids-only mode
  ChannelResult r = MustOk(service_->Sync(request)).channels[0];
  ExpectWellFormedDelta(r, 1);
  ASSERT_EQ(r.entries.size(), 4u);
  for (const Entry& e : r.entries) {
    EXPECT_TRUE(e.payload.empty());
    EXPECT_EQ(e.message_id, "m" + std::to_string(e.seq));
    EXPECT_EQ(e.lamport, static_cast<LamportTime>(e.seq));
  }
}

// ---- Snapshot --------------------------------------------------------------

TEST_P(LogServiceTest, SnapshotGivesTheLastKAndAnExactCursorForManyChannels) {
  SetUpBoundaryLog();
  AppendN(*log_, 2, "small", "s", kT0 + std::chrono::hours(5));
  Service();
  SnapshotRequest request;
  request.channel_ids = {"ch", "nope", "empty", "small"};
  request.entries_per_channel = 3;
  SnapshotResponse response = MustOk(service_->Snapshot(request));
  EXPECT_EQ(response.store_id, log_->store_id());
  EXPECT_EQ(response.unknown_channel_ids, (std::vector<ChannelId>{"nope"}));
  ASSERT_EQ(response.channels.size(), 3u);
  const ChannelSnapshot& ch = response.channels[0];
  EXPECT_EQ(ch.channel_id, "ch");
  EXPECT_EQ(ch.epoch, EpochOf());
  EXPECT_EQ(ch.snapshot_seq, 10u);
  EXPECT_EQ(ch.low_seq, 5u);
  EXPECT_EQ(Seqs(ch.entries), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(ch.entries[0].payload, ContentMessage("m8", "ch", 8));
  EXPECT_EQ(ch.max_lamport, 10);
  EXPECT_EQ(ch.retained_count, 6u);
  const ChannelSnapshot& empty = response.channels[1];
  EXPECT_EQ(empty.snapshot_seq, 3u);
  EXPECT_EQ(empty.low_seq, 4u);
  EXPECT_TRUE(empty.entries.empty());
  EXPECT_EQ(empty.retained_count, 0u);
  EXPECT_EQ(Seqs(response.channels[2].entries), (std::vector<uint64_t>{1, 2}));
  // The snapshot cursor is exact: a Sync from it is up to date.
  EXPECT_EQ(SyncOne("ch", Cursor{ch.epoch, ch.snapshot_seq}).status, SyncStatus::kUpToDate);
}

TEST_P(LogServiceTest, SnapshotKIsCappedAndBoundedInBytes) {
  Open();
  AppendN(*log_, 20, "a", "m", kT0, 1000);
  AppendN(*log_, 20, "b", "m", kT0, 1000);
  uint64_t size = ContentMessage("m20", "a", 20, 1000).size();  // as m10..m20
  LogServiceConfig config;
  config.max_snapshot_entries = 5;
  config.default_snapshot_entries = 5;
  config.max_snapshot_bytes = 7 * size;
  Service(config);
  SnapshotRequest request;
  request.channel_ids = {"a", "b"};
  request.entries_per_channel = 100;
  SnapshotResponse response = MustOk(service_->Snapshot(request));
  EXPECT_EQ(Seqs(response.channels[0].entries), (std::vector<uint64_t>{16, 17, 18, 19, 20}));
  EXPECT_EQ(Seqs(response.channels[1].entries), (std::vector<uint64_t>{19, 20}));
  EXPECT_EQ(response.channels[1].snapshot_seq, 20u) << "the cursor does not shrink with entries";
  request.entries_per_channel = 0;  // the default
  config.default_snapshot_entries = 3;
  Service(config);
  response = MustOk(service_->Snapshot(request));
  EXPECT_EQ(Seqs(response.channels[0].entries), (std::vector<uint64_t>{18, 19, 20}));
  EXPECT_EQ(response.channels[0].snapshot_seq, 20u);
}

// ---- Fetch -----------------------------------------------------------------

TEST_P(LogServiceTest, FetchByIdAndHintListsWhatIsMissing) {
  Open();
  std::vector<Bytes> wires;
  std::vector<Bytes> hints;
  for (int i = 1; i <= 5; ++i) {
    wires.push_back(ContentMessage("m" + std::to_string(i), "ch", i));
    hints.push_back(ToBytes("hint-" + std::to_string(i)));
  }
  std::vector<AppendInput> inputs;
  for (int i = 0; i < 5; ++i) inputs.push_back({wires[i], hints[i]});
  ASSERT_TRUE(log_->Append(inputs, kT0).ok());
  Service();
  FetchRequest request;
  request.channel_id = "ch";
  request.message_ids = {"m4", "gone", "m2"};
  request.retrieval_hints = {ToBytes("hint-2"), ToBytes("hint-1"), ToBytes("nohint")};
  FetchResponse response = MustOk(service_->Fetch(request));
  EXPECT_EQ(response.epoch, EpochOf());
  EXPECT_EQ(Seqs(response.entries), (std::vector<uint64_t>{1, 2, 4})) << "deduplicated, ascending";
  EXPECT_EQ(response.entries[2].payload, wires[3]);
  EXPECT_EQ(response.missing_ids, (std::vector<MessageId>{"gone"}));
  EXPECT_EQ(response.missing_hints, (std::vector<Bytes>{ToBytes("nohint")}));

  request.channel_id = "nope";
  response = MustOk(service_->Fetch(request));
  EXPECT_TRUE(response.entries.empty());
  EXPECT_EQ(response.missing_ids.size(), 3u);
  EXPECT_EQ(response.missing_hints.size(), 3u);
}

TEST_P(LogServiceTest, FetchLeavesOutWhatDoesNotFitButNeverListsItMissing) {
  Open();
  AppendN(*log_, 4, "ch", "m", kT0, 1000);
  uint64_t size = MustMeta(*log_).retained_bytes / 4;
  LogServiceConfig config;
  config.max_fetch_bytes = 2 * size;
  Service(config);
  FetchRequest request;
  request.channel_id = "ch";
  request.message_ids = {"m1", "m2", "m3", "m4"};
  FetchResponse response = MustOk(service_->Fetch(request));
  EXPECT_EQ(Seqs(response.entries), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(response.missing_ids.empty());
}

// ---- Backfill --------------------------------------------------------------

TEST_P(LogServiceTest, BackfillWalksBackToLowSeq) {
  SetUpBoundaryLog();
  Service();
  BackfillRequest request;
  request.channel_id = "ch";
  request.epoch = EpochOf();
  request.before_seq = 9;
  request.limit = 2;
  BackfillResponse response = MustOk(service_->Backfill(request));
  EXPECT_EQ(response.status, SyncStatus::kDelta);
  EXPECT_EQ(response.epoch, EpochOf());
  EXPECT_EQ(response.low_seq, 5u);
  EXPECT_EQ(Seqs(response.entries), (std::vector<uint64_t>{7, 8}));
  EXPECT_FALSE(response.reached_low);
  request.before_seq = 7;
  response = MustOk(service_->Backfill(request));
  EXPECT_EQ(Seqs(response.entries), (std::vector<uint64_t>{5, 6}));
  EXPECT_TRUE(response.reached_low);
  request.before_seq = 5;
  response = MustOk(service_->Backfill(request));
  EXPECT_TRUE(response.entries.empty());
  EXPECT_TRUE(response.reached_low);
  request.before_seq = 100;  // past the head: ends at the head
  request.limit = 0;         // the default
  response = MustOk(service_->Backfill(request));
  EXPECT_EQ(Seqs(response.entries), (std::vector<uint64_t>{5, 6, 7, 8, 9, 10}));
  EXPECT_TRUE(response.reached_low);

  Epoch wrong = request.epoch;
  wrong[15] ^= 0x80;
  request.epoch = wrong;
  response = MustOk(service_->Backfill(request));
  EXPECT_EQ(response.status, SyncStatus::kColdStartRequired);
  EXPECT_EQ(response.epoch, EpochOf());
  EXPECT_TRUE(response.entries.empty());
  request.channel_id = "nope";
  EXPECT_EQ(MustOk(service_->Backfill(request)).status, SyncStatus::kUnknownChannel);
}

TEST_P(LogServiceTest, BackfillIsBoundedInBytesWithAtLeastOne) {
  Open();
  AppendN(*log_, 5, "ch", "m", kT0, 1000);
  LogServiceConfig config;
  config.max_backfill_bytes = 10;
  Service(config);
  BackfillRequest request{kProtocolVersion, "ch", EpochOf(), 6, 100};
  BackfillResponse response = MustOk(service_->Backfill(request));
  EXPECT_EQ(Seqs(response.entries), (std::vector<uint64_t>{5}));
  EXPECT_FALSE(response.reached_low);
}

// ---- Continuity across operations ---------------------------------------------

TEST_P(LogServiceTest, RestoreTruncateAndImportAnswerEpochMismatch) {
  Open();
  AppendN(*log_, 5);
  Service();
  Cursor cursor{EpochOf(), 5};
  ASSERT_EQ(SyncOne("ch", cursor).status, SyncStatus::kUpToDate);
  ASSERT_TRUE(log_->MarkRestored().ok());
  ChannelResult r = SyncOne("ch", cursor);
  EXPECT_EQ(r.status, SyncStatus::kColdStartRequired);
  EXPECT_EQ(r.reason, ColdReason::kEpochMismatch);
  cursor.epoch = r.epoch;
  ASSERT_TRUE(log_->Truncate("ch", 3).ok());
  EXPECT_EQ(SyncOne("ch", cursor).reason, ColdReason::kEpochMismatch);
  EXPECT_EQ(service_->counters().cold_starts.epoch_mismatch, 2u);
}

// ---- Request checks and counters ------------------------------------------------

TEST_P(LogServiceTest, BadRequestsAreAnsweredWithServiceErrors) {
  Open();
  AppendN(*log_, 2);
  LogServiceConfig config;
  config.max_channels_per_request = 3;
  config.max_fetch_ids = 2;
  Service(config);
  SyncRequest sync;
  sync.protocol_version = 2;
  ServiceError version = MustFail(service_->Sync(sync));
  EXPECT_EQ(version.code, ServiceErrorCode::kUnsupportedVersion);
  EXPECT_EQ(version.supported_version, kProtocolVersion);
  sync.protocol_version = kProtocolVersion;
  sync.channels = {{"a", {}}, {"b", {}}, {"c", {}}, {"d", {}}};
  EXPECT_EQ(MustFail(service_->Sync(sync)).code, ServiceErrorCode::kTooLarge);
  sync.channels = {{"a", {}}, {"b", {}}, {"a", {}}};
  ServiceError dup = MustFail(service_->Sync(sync));
  EXPECT_EQ(dup.code, ServiceErrorCode::kBadRequest);
  EXPECT_NE(dup.message.find("'a'"), std::string::npos) << dup.message;

  SnapshotRequest snapshot;
  snapshot.protocol_version = 0;
  EXPECT_EQ(MustFail(service_->Snapshot(snapshot)).code, ServiceErrorCode::kUnsupportedVersion);
  snapshot.protocol_version = kProtocolVersion;
  snapshot.channel_ids = {"x", "x"};
  EXPECT_EQ(MustFail(service_->Snapshot(snapshot)).code, ServiceErrorCode::kBadRequest);
  snapshot.channel_ids = {"a", "b", "c", "d"};
  EXPECT_EQ(MustFail(service_->Snapshot(snapshot)).code, ServiceErrorCode::kTooLarge);

  FetchRequest fetch;
  fetch.channel_id = "ch";
  fetch.message_ids = {"m1", "m2"};
  fetch.retrieval_hints = {ToBytes("h")};
  EXPECT_EQ(MustFail(service_->Fetch(fetch)).code, ServiceErrorCode::kTooLarge);
  BackfillRequest backfill;
  backfill.protocol_version = 7;
  EXPECT_EQ(MustFail(service_->Backfill(backfill)).code, ServiceErrorCode::kUnsupportedVersion);

  LogServiceCounters c = service_->counters();
  EXPECT_EQ(c.sync.unsupported_version, 1u);
  EXPECT_EQ(c.sync.too_large, 1u);
  EXPECT_EQ(c.sync.bad_request, 1u);
  EXPECT_EQ(c.sync.ok, 0u);
  EXPECT_EQ(c.snapshot.total(), 3u);
  EXPECT_EQ(c.fetch.too_large, 1u);
  EXPECT_EQ(c.backfill.unsupported_version, 1u);
}

TEST_P(LogServiceTest, CountersTallyOutcomesAndColdStartsByReason) {
  SetUpBoundaryLog();
  std::vector<std::string> logged;
  LogServiceConfig config;
  config.log = [&](LogLevel level, std::string_view message) {
    if (level == LogLevel::kWarning) logged.emplace_back(message);
  };
  Service(config);
  Epoch epoch = EpochOf(), wrong = epoch;
  wrong[3] ^= 4;
  SyncRequest request;
  request.channels = {{"ch", Cursor{epoch, 3}},
                      {"empty", std::nullopt},
                      {"nope", std::nullopt},
                      {"x", std::nullopt}};
  MustOk(service_->Sync(request));
  request.channels = {{"ch", Cursor{epoch, 11}}, {"empty", Cursor{EpochOf("empty"), 3}}};
  MustOk(service_->Sync(request));
  request.channels = {{"ch", Cursor{wrong, 8}}};
  MustOk(service_->Sync(request));
  request.channels = {{"ch", Cursor{epoch, 8}}};
  MustOk(service_->Sync(request));
  LogServiceCounters c = service_->counters();
  EXPECT_EQ(c.sync.ok, 4u);
  EXPECT_EQ(c.cold_starts.behind_retention, 1u);
  EXPECT_EQ(c.cold_starts.no_cursor, 1u);
  EXPECT_EQ(c.cold_starts.ahead_of_head, 1u);
  EXPECT_EQ(c.cold_starts.epoch_mismatch, 1u);
  EXPECT_EQ(c.cold_starts.total(), 4u);
  EXPECT_EQ(c.unknown_channel, 2u);
  EXPECT_EQ(c.up_to_date, 1u);
  EXPECT_EQ(c.delta, 1u);
  EXPECT_EQ(c.entries_served, 2u);
  EXPECT_EQ(c.payload_bytes_served,
            ContentMessage("m9", "ch", 9).size() + ContentMessage("m10", "ch", 10).size());
  ASSERT_EQ(logged.size(), 1u) << "a cursor ahead of head is logged server-side";
  EXPECT_NE(logged[0].find("11 > head_seq 10"), std::string::npos) << logged[0];
}

TEST(LogServiceConfigTest, CapsAboveTheHardLimitsAreRefused) {
  auto log = MemoryChannelLog::Create(Options());
  ASSERT_TRUE(log.ok());
  std::shared_ptr<ChannelLog> shared(std::move(*log));
  LogServiceConfig config;
  config.max_entries_cap = 1001;
  EXPECT_EQ(LogService::Create(shared, config).status().code(), ErrorCode::kInvalidArgument);
  config = {};
  config.max_snapshot_entries = 0;
  EXPECT_EQ(LogService::Create(shared, config).status().code(), ErrorCode::kInvalidArgument);
  config = {};
  config.default_max_entries = 200;
  config.max_entries_cap = 100;
  EXPECT_EQ(LogService::Create(shared, config).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(LogService::Create(nullptr).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(LogService::Create(shared).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, LogServiceTest, ::testing::ValuesIn(Backends()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace sds::catchup::testing
