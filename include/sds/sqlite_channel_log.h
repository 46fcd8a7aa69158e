// SqliteChannelLog: a ChannelLog in one SQLite database file, the store
// node's embedded default.
//
//   auto log = sds::catchup::SqliteChannelLog::Open("/var/lib/sds/log.db",
//                                                   {.entropy = RandomBytes});
//   if (!log.ok()) ...  // kPersistence: not a database, not a channel log,
//                       // a newer schema, locked by another process
//
// - WAL journal, exclusive locking (one process per file: a second opener
//   gets "locked"); synchronous=NORMAL by default, so a committed append
//   survives the process being killed, and FULL with Options::sync_full to
//   survive power loss as well (an fsync per append batch).
// - One transaction per Append batch: entries, head_seq and the retention it
//   triggers commit together, so head_seq is durable with the entry it names
//   and a failure stores nothing. Entries are unique on (channel,
//   message_id) and indexed on (channel, seq).
// - Versioned schema (table sds_log_schema) with forward migrations; a file
//   from a newer schema, or any other SQLite file (another application_id,
//   e.g. a participant's SqliteStore), is refused and never modified.
// - A restart (the same file reopened) keeps every epoch, head and low.
//
// Restoring an older copy: Backup() writes a consistent copy of the live
// database (SQLite's online backup) whose instance marker says "backup".
// Opening such a copy re-mints every channel's epoch (restored_at_open()),
// then marks the file live, so participants whose cursors came from the newer
// history get EPOCH_MISMATCH instead of entries that reuse their seqs. A copy
// made any other way (cp of a stopped store, a filesystem snapshot) cannot be
// told from a restart: after putting one back the operator calls
// MarkRestored() once before serving.
//
// Threads: the log owns one connection; every call (reads included) holds an
// internal mutex, so it may be shared by threads, which are served one at a
// time. Channel metadata is cached in memory (loaded at open, updated after
// each commit), so a Sync that finds every channel up to date reads no table.
#ifndef SDS_SQLITE_CHANNEL_LOG_H_
#define SDS_SQLITE_CHANNEL_LOG_H_

#include <memory>
#include <string>

#include "sds/channel_log.h"

namespace sds::catchup {

class SqliteChannelLog : public ChannelLog {
 public:
  struct Options {
    bool sync_full = false;  // PRAGMA synchronous=FULL: durable across power loss too
    int busy_timeout_ms = 0;
  };
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 1;

  // Opens (creating if needed) the log at `path`. kInvalidArgument for bad
  // options; kPersistence with a message saying why when the file is not a
  // database, not a channel log, corrupt, locked, or from a newer schema.
  static Result<std::unique_ptr<SqliteChannelLog>> Open(const std::string& path,
                                                        ChannelLogOptions options,
                                                        Options sqlite_options);
  static Result<std::unique_ptr<SqliteChannelLog>> Open(const std::string& path,
                                                        ChannelLogOptions options) {
    return Open(path, std::move(options), Options{});
  }
  ~SqliteChannelLog() override;

  Result<std::vector<AppendResult>> Append(std::span<const AppendInput> inputs,
                                           Timestamp now) override;
  Result<uint64_t> ApplyRetention(Timestamp now) override;
  Status Read(const std::function<Status(ReadView&)>& body) override;
  Result<std::vector<ChannelMeta>> Channels() override;
  Status MarkRestored() override;
  Status Import(const ChannelId& channel_id, std::span<const AppendInput> messages,
                Timestamp now) override;
  Status Truncate(const ChannelId& channel_id, uint64_t keep_through_seq) override;
  Status DropChannel(const ChannelId& channel_id) override;

  // Writes a consistent copy of the log to `dest_path` (which must not be an
  // open log), marked as a backup: opening it later re-mints every epoch.
  Status Backup(const std::string& dest_path);
  // True when this open found a backup copy and re-minted every epoch.
  bool restored_at_open() const;
  // "ok" or the problems PRAGMA integrity_check reports.
  Result<std::string> IntegrityCheck();

  class Impl;

 private:
  explicit SqliteChannelLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sds::catchup

#endif  // SDS_SQLITE_CHANNEL_LOG_H_
