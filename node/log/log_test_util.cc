// Backend factory of the parameterized suites (log_test_util.h).
#include "log_test_util.h"

#include "sds/sqlite_channel_log.h"

namespace sds::catchup::testing {

std::vector<std::string> Backends() { return {"memory", "sqlite"}; }

std::shared_ptr<ChannelLog> BackendTest::Open(ChannelLogOptions options) {
  log_.reset();
  if (GetParam() == "memory") {
    auto log = MemoryChannelLog::Create(std::move(options));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (log.ok()) log_ = std::shared_ptr<ChannelLog>(std::move(*log));
    return log_;
  }
  paths_.push_back(std::make_unique<TempPath>("log.db"));
  auto log = SqliteChannelLog::Open(path(), std::move(options));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (log.ok()) log_ = std::shared_ptr<ChannelLog>(std::move(*log));
  return log_;
}

std::shared_ptr<ChannelLog> BackendTest::Reopen(ChannelLogOptions options) {
  if (!persistent()) {
    ADD_FAILURE() << "backend " << GetParam() << " cannot be reopened";
    return log_;
  }
  log_.reset();
  auto log = SqliteChannelLog::Open(path(), std::move(options));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (log.ok()) log_ = std::shared_ptr<ChannelLog>(std::move(*log));
  return log_;
}

}  // namespace sds::catchup::testing
