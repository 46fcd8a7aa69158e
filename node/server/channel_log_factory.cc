#include "channel_log_factory.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

#include "sds/memory_channel_log.h"
#ifdef SDS_WITH_POSTGRES
#include "sds/postgres_channel_log.h"
#endif
#include "sds/sqlite_channel_log.h"

namespace sds::node {

catchup::EntropySource SystemEntropy() {
  return [](std::span<uint8_t> out) {
    size_t filled = 0;
    while (filled < out.size()) {
      const ssize_t n = getrandom(out.data() + filled, out.size() - filled, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::abort();  // no entropy: an epoch must never be guessable or repeated
      }
      filled += static_cast<size_t>(n);
    }
  };
}

catchup::RetentionPolicy RetentionFrom(const StorageConfig& s) {
  catchup::RetentionPolicy policy;
  policy.max_age = std::chrono::duration_cast<Duration>(
      std::chrono::seconds(static_cast<int64_t>(s.retention_max_age_s)));
  policy.max_entries_per_channel = s.retention_max_entries;
  policy.max_bytes_per_channel = s.retention_max_bytes;
  policy.max_bytes_total = s.retention_max_bytes_total;
  return policy;
}

Result<std::shared_ptr<catchup::ChannelLog>> OpenChannelLog(const StorageConfig& storage,
                                                            catchup::EntropySource entropy) {
  catchup::ChannelLogOptions options;
  options.entropy = entropy ? std::move(entropy) : SystemEntropy();
  options.retention = RetentionFrom(storage);
  if (storage.memory) {
    auto log = catchup::MemoryChannelLog::Create(std::move(options));
    if (!log.ok()) return log.status();
    return std::shared_ptr<catchup::ChannelLog>(std::move(*log));
  }
  if (!storage.postgres.empty()) {
#ifdef SDS_WITH_POSTGRES
    auto log = catchup::PostgresChannelLog::Open(storage.postgres, std::move(options));
    if (!log.ok()) return log.status();
    return std::shared_ptr<catchup::ChannelLog>(std::move(*log));
#else
    return Status(ErrorCode::kInvalidArgument, "built without PostgreSQL (SDS_WITH_POSTGRES=OFF)");
#endif
  }
  catchup::SqliteChannelLog::Options sqlite;
  sqlite.sync_full = storage.sync_full;
  auto log = catchup::SqliteChannelLog::Open(storage.database, std::move(options), sqlite);
  if (!log.ok()) return log.status();
  return std::shared_ptr<catchup::ChannelLog>(std::move(*log));
}

std::string DescribeStorage(const StorageConfig& storage) {
  if (storage.memory) return "memory";
  if (!storage.postgres.empty()) {
#ifdef SDS_WITH_POSTGRES
    return "postgres:" + catchup::PostgresChannelLog::DescribeConninfo(storage.postgres);
#else
    return "postgres:(unsupported build)";
#endif
  }
  return "sqlite:" + storage.database;
}

}  // namespace sds::node
