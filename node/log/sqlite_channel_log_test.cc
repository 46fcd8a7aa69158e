// What only the SQLite log has: restarts, restores of older copies, and
// files it must refuse.
#include "sds/sqlite_channel_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "log_test_util.h"
#include "sds/log_service.h"

namespace sds::catchup::testing {
namespace {

std::unique_ptr<SqliteChannelLog> MustOpen(const std::string& path,
                                           ChannelLogOptions options = Options()) {
  auto log = SqliteChannelLog::Open(path, std::move(options));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(*log) : nullptr;
}

Status OpenStatus(const std::string& path) {
  auto log = SqliteChannelLog::Open(path, Options());
  return log.ok() ? Status::Ok() : log.status();
}

void Sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

std::shared_ptr<LogService> ServiceOn(std::shared_ptr<ChannelLog> log) {
  auto service = LogService::Create(std::move(log));
  EXPECT_TRUE(service.ok());
  return std::shared_ptr<LogService>(std::move(*service));
}

ChannelResult SyncOne(LogService& service, const ChannelId& channel, std::optional<Cursor> cursor) {
  SyncRequest request;
  request.channels.push_back({channel, cursor});
  auto answer = service.Sync(request);
  EXPECT_TRUE(std::holds_alternative<SyncResponse>(answer));
  if (!std::holds_alternative<SyncResponse>(answer)) return {};
  return std::get<SyncResponse>(answer).channels.at(0);
}

TEST(SqliteChannelLogTest, RestartKeepsEpochHeadLowAndOldCursorsGetDelta) {
  TempPath path("restart.db");
  ChannelLogOptions options = Options();
  options.retention.max_entries_per_channel = 5;
  Bytes store_id;
  ChannelMeta before, quiet_before;
  Cursor cursor;
  {
    std::shared_ptr<ChannelLog> log = MustOpen(path.str(), options);
    Bytes hinted = ContentMessage("hinted", "quiet");
    ASSERT_TRUE(log->AppendOne(hinted, kT0, ToBytes("hash")).ok());
    AppendN(*log, 8);
    before = MustMeta(*log);
    quiet_before = MustMeta(*log, "quiet");
    ASSERT_EQ(before.low_seq, 4u);
    store_id = log->store_id();
    auto service = ServiceOn(log);
    ChannelResult r = SyncOne(*service, "ch", Cursor{before.epoch, 5});
    ASSERT_EQ(r.status, SyncStatus::kDelta);
    cursor = Cursor{before.epoch, 6};  // a participant that applied up to 6
  }
  // Another entropy source: nothing may be minted again on a plain restart.
  std::shared_ptr<SqliteChannelLog> reopened = MustOpen(path.str(), Options(1234));
  ASSERT_NE(reopened, nullptr);
  EXPECT_FALSE(reopened->restored_at_open());
  EXPECT_EQ(reopened->store_id(), store_id);
  EXPECT_EQ(MustMeta(*reopened), before);
  EXPECT_EQ(MustMeta(*reopened, "quiet"), quiet_before);
  auto service = ServiceOn(reopened);
  ChannelResult r = SyncOne(*service, "ch", cursor);
  ASSERT_EQ(r.status, SyncStatus::kDelta);
  EXPECT_EQ(r.from_seq, 7u);
  EXPECT_EQ(r.to_seq, 8u);
  EXPECT_EQ(r.entries[1].payload, ContentMessage("m8", "ch", 8));
  EXPECT_EQ(service->counters().cold_starts.total(), 0u);
  // Idempotence survives the restart; seqs continue.
  auto results =
      MustAppend(*reopened, {ContentMessage("m8", "ch", 8), ContentMessage("m9", "ch", 9)});
  EXPECT_EQ(results[0].disposition, AppendDisposition::kDuplicate);
  EXPECT_EQ(results[0].seq, 8u);
  EXPECT_EQ(results[1].seq, 9u);
  FetchRequest fetch;
  fetch.channel_id = "quiet";
  fetch.retrieval_hints = {ToBytes("hash")};
  auto fetched = std::get<FetchResponse>(service->Fetch(fetch));
  ASSERT_EQ(fetched.entries.size(), 1u);
  EXPECT_EQ(fetched.entries[0].message_id, "hinted");
  auto integrity = reopened->IntegrityCheck();
  ASSERT_TRUE(integrity.ok());
  EXPECT_EQ(*integrity, "ok");
}

TEST(SqliteChannelLogTest, RestoringABackupMintsNewEpochsAndCursorsGetEpochMismatch) {
  TempPath path("live.db"), backup("backup.db");
  Cursor old_cursor, new_cursor;
  {
    std::shared_ptr<SqliteChannelLog> log = MustOpen(path.str());
    AppendN(*log, 3);
    old_cursor = Cursor{MustMeta(*log).epoch, 3};
    ASSERT_TRUE(log->Backup(backup.str()).ok());
    AppendN(*log, 4, "ch", "after");  // seqs 4..7, then the store is lost
    new_cursor = Cursor{MustMeta(*log).epoch, 7};
    EXPECT_FALSE(log->restored_at_open());
  }
  // The backup is put back: seqs 4.. will name other entries from now on.
  std::shared_ptr<SqliteChannelLog> restored = MustOpen(backup.str(), Options(55));
  ASSERT_NE(restored, nullptr);
  EXPECT_TRUE(restored->restored_at_open());
  ChannelMeta meta = MustMeta(*restored);
  EXPECT_EQ(meta.head_seq, 3u);
  EXPECT_NE(meta.epoch, old_cursor.epoch);
  auto service = ServiceOn(restored);
  for (const Cursor& cursor : {old_cursor, new_cursor}) {
    ChannelResult r = SyncOne(*service, "ch", cursor);
    EXPECT_EQ(r.status, SyncStatus::kColdStartRequired);
    EXPECT_EQ(r.reason, ColdReason::kEpochMismatch);
  }
  AppendN(*restored, 1, "ch", "elsewhere");
  Epoch restored_epoch = MustMeta(*restored).epoch;
  restored.reset();
  service.reset();
  // Opened again, it is live: a restart, not another restore.
  std::shared_ptr<SqliteChannelLog> again = MustOpen(backup.str(), Options(56));
  EXPECT_FALSE(again->restored_at_open());
  EXPECT_EQ(MustMeta(*again).epoch, restored_epoch);
  EXPECT_EQ(MustMeta(*again).head_seq, 4u);
}

TEST(SqliteChannelLogTest, MarkRestoredIsDurable) {
  TempPath path("mark.db");
  Epoch before, after;
  {
    auto log = MustOpen(path.str());
    AppendN(*log, 2);
    before = MustMeta(*log).epoch;
    ASSERT_TRUE(log->MarkRestored().ok());
    after = MustMeta(*log).epoch;
    ASSERT_NE(after, before);
  }
  auto log = MustOpen(path.str());
  EXPECT_EQ(MustMeta(*log).epoch, after);
}

TEST(SqliteChannelLogTest, ConfiguredStoreIdIsPersistedAndMintedOneIsKept) {
  TempPath path("id.db");
  Bytes minted;
  {
    auto log = MustOpen(path.str());
    minted = log->store_id();
    EXPECT_EQ(minted.size(), 16u);
  }
  EXPECT_EQ(MustOpen(path.str(), Options(3))->store_id(), minted);
  ChannelLogOptions options = Options();
  options.store_id = ToBytes("deployment-a");
  EXPECT_EQ(MustOpen(path.str(), options)->store_id(), ToBytes("deployment-a"));
  EXPECT_EQ(MustOpen(path.str(), Options(4))->store_id(), ToBytes("deployment-a"));
}

TEST(SqliteChannelLogTest, RefusesFilesThatAreNotItsOwn) {
  TempPath garbage("garbage.db");
  {
    std::ofstream out(garbage.str(), std::ios::binary);
    out << std::string(8192, 'x');
  }
  Status s = OpenStatus(garbage.str());
  EXPECT_EQ(s.code(), ErrorCode::kPersistence);
  EXPECT_NE(s.message().find("not a database"), std::string::npos) << s.ToString();

  TempPath foreign("foreign.db");
  Sql(foreign.str(), "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
  s = OpenStatus(foreign.str());
  EXPECT_EQ(s.code(), ErrorCode::kPersistence);
  EXPECT_NE(s.message().find("not an sds channel log"), std::string::npos) << s.ToString();

  TempPath participant("participant.db");
  Sql(participant.str(), "PRAGMA application_id=1396986673; CREATE TABLE sds_schema(version);");
  s = OpenStatus(participant.str());
  EXPECT_NE(s.message().find("participant's SqliteStore"), std::string::npos) << s.ToString();

  TempPath newer("newer.db");
  { ASSERT_NE(MustOpen(newer.str()), nullptr); }
  Sql(newer.str(), "UPDATE sds_log_schema SET version=99;");
  s = OpenStatus(newer.str());
  EXPECT_EQ(s.code(), ErrorCode::kPersistence);
  EXPECT_NE(s.message().find("newer sds"), std::string::npos) << s.ToString();
  Sql(newer.str(), "UPDATE sds_log_schema SET version=1;");
  EXPECT_TRUE(OpenStatus(newer.str()).ok()) << "a refused file was modified";

  TempPath broken("broken.db");
  {
    auto log = MustOpen(broken.str());
    AppendN(*log, 2);
  }
  Sql(broken.str(), "UPDATE channels SET low_seq=5;");
  s = OpenStatus(broken.str());
  EXPECT_NE(s.message().find("corrupt channel log"), std::string::npos) << s.ToString();

  EXPECT_EQ(OpenStatus("/nonexistent-dir/x/log.db").code(), ErrorCode::kPersistence);
}

TEST(SqliteChannelLogTest, SecondOpenerIsToldTheFileIsLocked) {
  TempPath path("locked.db");
  auto first = MustOpen(path.str());
  ASSERT_NE(first, nullptr);
  Status s = OpenStatus(path.str());
  EXPECT_EQ(s.code(), ErrorCode::kPersistence);
  EXPECT_NE(s.message().find("locked"), std::string::npos) << s.ToString();
}

TEST(SqliteChannelLogTest, EmptyFileBecomesANewLog) {
  TempPath path("empty.db");
  { std::ofstream out(path.str()); }
  auto log = MustOpen(path.str());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(AppendN(*log, 2), (std::vector<uint64_t>{1, 2}));
}

TEST(SqliteChannelLogTest, AFailedBatchStoresNothingAndTheLogCarriesOn) {
  TempPath path("fail.db");
  { AppendN(*MustOpen(path.str()), 2); }
  // A storage failure in the middle of a batch, injected with a trigger.
  Sql(path.str(),
      "CREATE TRIGGER poison BEFORE INSERT ON entries WHEN NEW.message_id = CAST('poison' AS BLOB)"
      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  auto log = MustOpen(path.str());
  ChannelMeta before = MustMeta(*log);
  std::vector<Bytes> wires = {ContentMessage("m3", "ch", 3), ContentMessage("new", "fresh"),
                              ContentMessage("poison", "ch", 4), ContentMessage("m5", "ch", 5)};
  std::vector<AppendInput> inputs;
  for (const Bytes& w : wires) inputs.push_back({w, {}});
  auto results = log->Append(inputs, kT0);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), ErrorCode::kPersistence);
  EXPECT_NE(results.status().message().find("injected failure"), std::string::npos)
      << results.status().ToString();
  EXPECT_EQ(MustMeta(*log), before) << "the cache ran ahead of the file";
  auto fresh = log->Meta("fresh");
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->has_value()) << "a channel created by the failed batch survived";
  // The same messages without the poison: seqs continue densely from the head.
  inputs.erase(inputs.begin() + 2);
  results = log->Append(inputs, kT0);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  EXPECT_EQ((*results)[0].seq, 3u);
  EXPECT_EQ((*results)[1].seq, 1u);
  EXPECT_EQ((*results)[2].seq, 4u);
  log.reset();
  EXPECT_EQ(MustMeta(*MustOpen(path.str())).head_seq, 4u);
}

TEST(SqliteChannelLogTest, RetentionAndTruncationSurviveARestart) {
  TempPath path("retained.db");
  ChannelMeta a, b;
  {
    ChannelLogOptions options = Options();
    options.retention.max_entries_per_channel = 3;
    auto log = MustOpen(path.str(), options);
    AppendN(*log, 6, "a");
    AppendN(*log, 6, "b");
    ASSERT_TRUE(log->Truncate("b", 4).ok());
    a = MustMeta(*log, "a");
    b = MustMeta(*log, "b");
    EXPECT_EQ(a.low_seq, 4u);
    EXPECT_EQ(b.head_seq, 4u);
    EXPECT_EQ(b.retained_count, 1u);
  }
  auto log = MustOpen(path.str());
  EXPECT_EQ(MustMeta(*log, "a"), a);
  EXPECT_EQ(MustMeta(*log, "b"), b);
}

}  // namespace
}  // namespace sds::catchup::testing
