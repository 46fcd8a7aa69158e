// SqliteStore specifics: refusing files that are not ours, corrupt, locked or
// from a newer schema; one stored copy per message body; integrity.
#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "sds/codec.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"
#include "store/store_test_util.h"

namespace sds {
namespace {

using ::testing::HasSubstr;
using testing_store::TempDb;

void Exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

int64_t Count(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t n = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

TEST(SqliteStoreTest, RefusesAFileThatIsNotADatabase) {
  TempDb db;
  std::ofstream(db.path()) << std::string(8192, 'x');
  auto store = SqliteStore::Open(db.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kPersistence);
  EXPECT_THAT(store.status().message(), HasSubstr("not a database"));
}

TEST(SqliteStoreTest, RefusesADatabaseThatIsNotOurs) {
  TempDb db;
  Exec(db.path(), "CREATE TABLE contacts(name TEXT)");
  auto store = SqliteStore::Open(db.path());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("not an sds store"));
}

TEST(SqliteStoreTest, RefusesANewerSchemaWithoutTouchingIt) {
  TempDb db;
  ASSERT_TRUE(SqliteStore::Open(db.path()).ok());
  Exec(db.path(), "UPDATE sds_schema SET version=99");
  auto store = SqliteStore::Open(db.path());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("newer sds (schema version 99"));
  EXPECT_EQ(Count(db.path(), "SELECT version FROM sds_schema"), 99);
}

TEST(SqliteStoreTest, RefusesADatabaseLockedByAnotherStore) {
  TempDb db;
  auto first = SqliteStore::Open(db.path());
  ASSERT_TRUE(first.ok());
  auto second = SqliteStore::Open(db.path());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("locked"));
  first->reset();
  EXPECT_TRUE(SqliteStore::Open(db.path()).ok());
}

TEST(SqliteStoreTest, ReportsACorruptFile) {
  TempDb db;
  {
    auto store = SqliteStore::Open(db.path()).value();
    ChannelMetaDelta delta;
    delta.lamport = 1;
    ASSERT_TRUE(store->SaveChannelMeta("ch", delta).ok());
  }
  // Keep the header, overwrite the pages after it.
  {
    std::fstream f(db.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    std::string junk(20000, '\xa5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto store = SqliteStore::Open(db.path());
  if (store.ok()) {
    auto check = (*store)->IntegrityCheck();
    EXPECT_TRUE(!check.ok() || *check != "ok");
  } else {
    EXPECT_EQ(store.status().code(), ErrorCode::kPersistence);
    EXPECT_THAT(store.status().message(),
                ::testing::AnyOf(HasSubstr("corrupt"), HasSubstr("not a database")));
  }
}

TEST(SqliteStoreTest, StoresEachMessageBodyOnceAndFreesItWithTheLastReference) {
  TempDb db;
  {
    auto store = SqliteStore::Open(db.path()).value();
    Config config;
    config.participant_id = "alice";
    auto m = ReliabilityManager::Create(config, store).value();
    auto wire = m->Wrap("ch", ToBytes("x"), "m1", TimestampFromUnixMillis(1000));
    ASSERT_TRUE(wire.ok());
    // m1 is in the history and the outgoing buffer: one body.
  }
  EXPECT_EQ(Count(db.path(), "SELECT count(*) FROM bodies"), 1);
  EXPECT_EQ(Count(db.path(), "SELECT count(*) FROM history"), 1);
  EXPECT_EQ(Count(db.path(), "SELECT count(*) FROM outgoing"), 1);
  {
    auto store = SqliteStore::Open(db.path()).value();
    HistoryUpdate evict;
    evict.evict = {"m1"};
    ASSERT_TRUE(store->UpdateHistory("ch", evict).ok());  // still referenced by outgoing
    ChannelMetaDelta delta;
    ASSERT_TRUE(store->SaveChannelMeta("ch", delta).ok());
    EXPECT_EQ(store->LoadChannel("ch")->meta.outgoing.size(), 1u);
    delta.outgoing_remove = {"m1"};
    ASSERT_TRUE(store->SaveChannelMeta("ch", delta).ok());
    auto check = store->IntegrityCheck();
    ASSERT_TRUE(check.ok());
    EXPECT_EQ(*check, "ok");
  }
  EXPECT_EQ(Count(db.path(), "SELECT count(*) FROM bodies"), 0);
}

TEST(SqliteStoreTest, UsesWalAndAVersionedSchema) {
  TempDb db;
  ASSERT_TRUE(SqliteStore::Open(db.path()).ok());
  EXPECT_EQ(Count(db.path(), "SELECT version FROM sds_schema"), SqliteStore::kSchemaVersion);
  EXPECT_EQ(Count(db.path(), "PRAGMA application_id"), 0x53445331);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

}  // namespace
}  // namespace sds
