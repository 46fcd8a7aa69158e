// Backend factory of the parameterized suites (log_test_util.h).
#include "log_test_util.h"

#include "sds/sqlite_channel_log.h"
#ifdef SDS_WITH_POSTGRES
#include "postgres_test_server.h"
#include "sds/postgres_channel_log.h"
#endif

namespace sds::catchup::testing {

std::vector<std::string> Backends() {
#ifdef SDS_WITH_POSTGRES
  return {"memory", "sqlite", "postgres"};
#else
  return {"memory", "sqlite"};
#endif
}

namespace {

std::shared_ptr<ChannelLog> Keep(Result<std::unique_ptr<ChannelLog>> log) {
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::shared_ptr<ChannelLog>(std::move(*log)) : nullptr;
}

template <typename T>
Result<std::unique_ptr<ChannelLog>> Up(Result<std::unique_ptr<T>> log) {
  if (!log.ok()) return log.status();
  return std::unique_ptr<ChannelLog>(std::move(*log));
}

}  // namespace

void BackendTest::SetUp() {
#ifdef SDS_WITH_POSTGRES
  if (GetParam() == "postgres") {
    std::string error;
    ASSERT_NE(PostgresTestServer::Shared(&error), nullptr)
        << "no PostgreSQL test server: " << error;
  }
#endif
}

std::shared_ptr<ChannelLog> BackendTest::Open(ChannelLogOptions options) {
  log_.reset();
  if (GetParam() == "memory") {
    log_ = Keep(Up(MemoryChannelLog::Create(std::move(options))));
    return log_;
  }
#ifdef SDS_WITH_POSTGRES
  if (GetParam() == "postgres") {
    std::string error;
    PostgresTestServer* server = PostgresTestServer::Shared(&error);
    if (server == nullptr) {
      ADD_FAILURE() << "no PostgreSQL test server: " << error;
      return nullptr;
    }
    conninfo_ = server->CreateDatabase(&error);
    if (conninfo_.empty()) {
      ADD_FAILURE() << error;
      return nullptr;
    }
    log_ = Keep(Up(PostgresChannelLog::Open(conninfo_, std::move(options))));
    return log_;
  }
#endif
  paths_.push_back(std::make_unique<TempPath>("log.db"));
  log_ = Keep(Up(SqliteChannelLog::Open(path(), std::move(options))));
  return log_;
}

std::shared_ptr<ChannelLog> BackendTest::Reopen(ChannelLogOptions options) {
  if (!persistent()) {
    ADD_FAILURE() << "backend " << GetParam() << " cannot be reopened";
    return log_;
  }
  log_.reset();
#ifdef SDS_WITH_POSTGRES
  if (GetParam() == "postgres") {
    log_ = Keep(Up(PostgresChannelLog::Open(conninfo_, std::move(options))));
    return log_;
  }
#endif
  log_ = Keep(Up(SqliteChannelLog::Open(path(), std::move(options))));
  return log_;
}

}  // namespace sds::catchup::testing
