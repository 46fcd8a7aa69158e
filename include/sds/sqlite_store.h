// SqliteStore: the embedded Store, one SQLite database file.
//
//   auto store = sds::SqliteStore::Open("/path/app-sds.db");
//   if (!store.ok()) ...   // kPersistence: not ours, corrupt, locked, newer schema
//   auto manager = sds::ReliabilityManager::Create(config, std::move(*store));
//
// - WAL journal, exclusive locking (one process, one manager per file: a
//   second opener gets "locked"); synchronous=NORMAL by default, so a
//   committed operation survives the process being killed, and FULL with
//   Options::sync_full to survive power loss as well (an fsync per operation).
// - Every engine operation's writes (meta delta, history batch, hints) are one
//   transaction; a failure rolls all of them back.
// - A message body is stored once per channel and message id, however many of
//   history, outgoing buffer, incoming buffer and repair buffer refer to it,
//   and deleted with the last reference. An operation writes only what it
//   changed, so its cost does not grow with the buffers.
// - Versioned schema (table sds_schema) with forward migrations; a file from
//   a newer schema is refused, never modified.
#ifndef SDS_SQLITE_STORE_H_
#define SDS_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "sds/store.h"

namespace sds {

class SqliteStore : public Store {
 public:
  struct Options {
    bool sync_full = false;  // PRAGMA synchronous=FULL: durable across power loss too
    int busy_timeout_ms = 0;
  };
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 2;

  // Opens (creating if needed) the database at `path`. kPersistence with a
  // message saying why when the file is not an sds store, is corrupt, is
  // locked by another connection, or has a newer schema.
  static Result<std::shared_ptr<SqliteStore>> Open(const std::string& path, Options options);
  static Result<std::shared_ptr<SqliteStore>> Open(const std::string& path) {
    return Open(path, Options{});
  }
  ~SqliteStore() override;

  Result<ChannelData> LoadChannel(const ChannelId& channel_id) override;
  Status SaveChannelMeta(const ChannelId& channel_id, const ChannelMetaDelta& delta) override;
  Status UpdateHistory(const ChannelId& channel_id, const HistoryUpdate& update) override;
  Status DropChannel(const ChannelId& channel_id) override;
  Result<std::vector<ChannelId>> ListChannels() override;
  Status SetRetrievalHint(const ChannelId& channel_id, const MessageId& message_id,
                          ByteSpan hint) override;
  Status SaveCatchUpCursor(ByteSpan store_id, const ChannelId& channel_id,
                           ByteSpan cursor) override;
  Result<std::vector<StoredCatchUpCursor>> LoadCatchUpCursors(ByteSpan store_id) override;
  void BeginOp() override;
  Status CommitOp() override;

  // Replaces the channel's stored state (e.g. state exported by nim-sds).
  Status ImportChannel(const ChannelId& channel_id, const ChannelData& data);
  // "ok" or the problems PRAGMA integrity_check reports.
  Result<std::string> IntegrityCheck();

  class Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sds

#endif  // SDS_SQLITE_STORE_H_
