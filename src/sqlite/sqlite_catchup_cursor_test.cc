// SqliteStore's catch-up cursors (schema 2): saved per (store_id, channel),
// written in the transaction of the effects they cover, dropped with the
// channel, and a schema 1 file upgrades in place.
#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sds/catchup.h"
#include "sds/sqlite_store.h"
#include "store/store_test_util.h"
#include "tests/catchup/scripted_store.h"

namespace sds {
namespace {

using ::testing::ElementsAre;
using testing_store::TempDb;

void ExecSql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

std::vector<std::string> Rows(Store& store, const std::string& store_id) {
  auto rows = store.LoadCatchUpCursors(ToBytes(store_id));
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<std::string> out;
  for (const auto& r : *rows) out.push_back(r.channel_id + "=" + ToString(r.cursor));
  return out;
}

TEST(SqliteCatchUpCursorTest, SavedPerStoreAndChannelAndSurviveReopening) {
  TempDb db;
  {
    auto store = *SqliteStore::Open(db.path());
    ASSERT_TRUE(store->SaveCatchUpCursor(ToBytes("s1"), "b", ToBytes("1")).ok());
    ASSERT_TRUE(store->SaveCatchUpCursor(ToBytes("s1"), "a", ToBytes("2")).ok());
    ASSERT_TRUE(store->SaveCatchUpCursor(ToBytes("s2"), "a", ToBytes("3")).ok());
    ASSERT_TRUE(store->SaveCatchUpCursor(ToBytes("s1"), "b", ToBytes("4")).ok());  // replaces
  }
  auto store = *SqliteStore::Open(db.path());
  EXPECT_THAT(Rows(*store, "s1"), ElementsAre("a=2", "b=4"));
  EXPECT_THAT(Rows(*store, "s2"), ElementsAre("a=3"));
  ASSERT_TRUE(store->DropChannel("a").ok());
  EXPECT_THAT(Rows(*store, "s1"), ElementsAre("b=4"));
  EXPECT_TRUE(Rows(*store, "s2").empty());
}

TEST(SqliteCatchUpCursorTest, ASchemaOneFileUpgradesAndKeepsItsChannels) {
  TempDb db;
  {
    auto store = *SqliteStore::Open(db.path());
    ChannelMetaDelta delta;
    delta.lamport = 42;
    ASSERT_TRUE(store->SaveChannelMeta("ch", delta).ok());
  }
  // What a schema 1 build left behind: no cursors table, version 1.
  ExecSql(db.path(),
          "DROP INDEX catchup_cursors_by_channel; DROP TABLE catchup_cursors;"
          " UPDATE sds_schema SET version=1");
  auto store = SqliteStore::Open(db.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->LoadChannel("ch")->meta.lamport, 42);
  EXPECT_TRUE(Rows(**store, "s").empty());
  EXPECT_TRUE((*store)->SaveCatchUpCursor(ToBytes("s"), "ch", ToBytes("c")).ok());
  EXPECT_THAT(Rows(**store, "s"), ElementsAre("ch=c"));
}

// A page whose history write fails rolls back the cursor of its group.
TEST(SqliteCatchUpCursorTest, CursorRollsBackWithTheEffectsItCovers) {
  using namespace catchup;
  TempDb db;
  auto sqlite = *SqliteStore::Open(db.path());
  auto faulty = std::make_shared<testing_store::FaultyStore>(sqlite);
  catchup::testing::ScriptedStore log;
  auto sender = *ReliabilityManager::Create(catchup::testing::SmallConfig("sender"));
  auto publish = [&](int n, int base) {
    for (int i = 0; i < n; ++i) {
      MessageId id = "m" + std::to_string(base + i);
      log.Append("a", *sender->Wrap("a", ToBytes("x"), id, TimestampFromUnixMillis(1700000000000)));
    }
  };
  publish(3, 0);
  auto engine = *ReliabilityManager::Create(catchup::testing::SmallConfig("c"), faulty);
  auto driver = *CatchUpDriver::Create(*engine, catchup::testing::DefaultCatchUp({"a"}));
  catchup::testing::Pump(*driver, log, TimestampFromUnixMillis(1700000000000));
  publish(2, 3);
  faulty->SetFailing(StoreOperation::kUpdateHistory, true);
  catchup::testing::Pump(*driver, log,
                         TimestampFromUnixMillis(1700000000000) + std::chrono::seconds(30));
  auto rows = sqlite->LoadCatchUpCursors(ToBytes("store-1"));
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(DecodeStoredCursor(rows->at(0).cursor)->cursor.seq, 3u);
  EXPECT_EQ(sqlite->LoadChannel("a")->message_history.size(), 3u);
  faulty->ClearFailures();
  catchup::testing::Pump(*driver, log, driver->NextDeadline());
  rows = sqlite->LoadCatchUpCursors(ToBytes("store-1"));
  EXPECT_EQ(DecodeStoredCursor(rows->at(0).cursor)->cursor.seq, 5u);
  EXPECT_EQ(sqlite->LoadChannel("a")->message_history.size(), 5u);
}

}  // namespace
}  // namespace sds
