// Backend factory of the parameterized suites (log_test_util.h).
#include "log_test_util.h"

namespace sds::catchup::testing {

std::vector<std::string> Backends() { return {"memory"}; }

std::shared_ptr<ChannelLog> BackendTest::Open(ChannelLogOptions options) {
  log_.reset();
  auto log = MemoryChannelLog::Create(std::move(options));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return nullptr;
  log_ = std::shared_ptr<ChannelLog>(std::move(*log));
  return log_;
}

std::shared_ptr<ChannelLog> BackendTest::Reopen(ChannelLogOptions options) {
  (void)options;
  ADD_FAILURE() << "backend " << GetParam() << " cannot be reopened";
  return log_;
}

}  // namespace sds::catchup::testing
