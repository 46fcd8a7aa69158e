// PostgresChannelLog: a ChannelLog in a PostgreSQL database, for deployments
// where several store nodes (processes, hosts) share one database.
//
//   auto log = sds::catchup::PostgresChannelLog::Open(
//       "host=/run/postgresql dbname=sds", {.entropy = RandomBytes});
//   if (!log.ok()) ...  // kPersistence: cannot connect, a newer schema,
//                       // another store_id than configured
//
// Same semantics as SqliteChannelLog (channel_log.h), with the database as the
// single source of truth:
// - Seqs are assigned in the database. Every write transaction locks the row
//   of each channel it touches (SELECT ... FOR UPDATE, in channel-name order),
//   so appends from any number of nodes and connections to one channel are
//   serialised there: seqs stay dense per channel and epoch, never collide and
//   never leave holes. A transaction aborted by a serialization failure or a
//   deadlock (SQLSTATE 40001, 40P01) is retried, up to
//   Options::max_retries times.
// - One transaction per Append batch: entries, head_seq, retention (which
//   moves low_seq) and the notification commit together. The global byte cap
//   (max_bytes_total) is applied at append to the channels no other node is
//   writing at that instant (they trim themselves), so it can be exceeded by
//   the batches in flight until they commit; ApplyRetention enforces it
//   exactly.
// - No metadata is cached between calls (another node may have written): each
//   Read() runs in one REPEATABLE READ, READ ONLY transaction, so everything a
//   view returns comes from one snapshot (I4).
// - store_id names the deployment, i.e. the database: minted by the first
//   node that opens it (or the configured one) and persisted. A node
//   configured with another store_id than the database holds is refused.
// - Versioned schema (table sds_log_schema), created or migrated on open under
//   an advisory lock (several nodes may start at once); a database from a
//   newer schema is refused and never modified.
//
// Live notification across nodes. Each commit that moves a channel's head or
// replaces its history (Append, Import, Truncate, MarkRestored) sends NOTIFY
// on kNotifyChannel, one per changed channel, with the payload
//   "<head_seq> <channel id in lowercase hex>"
// which PostgreSQL delivers to the listeners of the same database only once
// the transaction has committed (a batch of duplicates sends none). The
// payload limit (8000 bytes) bounds channel ids at 3979 bytes; the
// decoder's default id limit (DecodeLimits::max_id_bytes, 256) is far below.
// PostgresAppendListener (below) receives them.
//
// Connection failures. A call that finds the connection broken, or breaks it,
// returns kPersistence saying so; the transaction it was in is rolled back by
// the server, so nothing is half-written. The next call reconnects. When the
// connection breaks during COMMIT the outcome is unknown to the caller: an
// Append may then be retried safely, since appends are idempotent by
// (channel, message id).
//
// Threads: the log owns one connection; every call holds an internal mutex,
// so it may be shared by threads, which are served one at a time. For
// parallelism open several logs (connections).
#ifndef SDS_POSTGRES_CHANNEL_LOG_H_
#define SDS_POSTGRES_CHANNEL_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sds/channel_log.h"

struct pg_conn;  // libpq's PGconn

namespace sds::catchup {

// The NOTIFY channel of every PostgresChannelLog.
inline constexpr const char* kNotifyChannel = "sds_log_append";

class PostgresChannelLog : public ChannelLog {
 public:
  struct Options {
    // Retries of a transaction aborted by a serialization failure or deadlock.
    int max_retries = 16;
    // libpq connect_timeout (seconds) of the first connection and of every
    // reconnection; 0 waits as long as the operating system does.
    int connect_timeout_s = 10;
  };
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 1;

  // Connects with the libpq connection string `conninfo` (key=value pairs or
  // a postgresql:// URI) and creates or migrates the schema. kInvalidArgument
  // for bad options or a store_id other than the database's; kPersistence
  // when the server cannot be reached or the schema is newer than this build.
  static Result<std::unique_ptr<PostgresChannelLog>> Open(const std::string& conninfo,
                                                          ChannelLogOptions options,
                                                          Options postgres_options);
  static Result<std::unique_ptr<PostgresChannelLog>> Open(const std::string& conninfo,
                                                          ChannelLogOptions options) {
    return Open(conninfo, std::move(options), Options{});
  }
  ~PostgresChannelLog() override;

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

  // How many transactions were retried after a serialization failure or a
  // deadlock since Open (for tests and metrics).
  uint64_t retries() const;

  // `conninfo` as key=value pairs without the password, for logs; what libpq
  // cannot parse is described as "(unparsable connection string)", never
  // echoed (it may hold a password).
  static std::string DescribeConninfo(const std::string& conninfo);

  class Impl;

 private:
  explicit PostgresChannelLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// PostgresAppendListener: its own connection that LISTENs on kNotifyChannel
// and hands each notification to a callback as (channel, head_seq).
//
// Wiring into an event loop (e.g. Asio): wait until socket() is readable
// (boost::asio::posix::stream_descriptor on a dup() of it, async_wait(read)),
// then call Drain(); repeat. Drain() does not wait for notifications; only
// reconnecting (a blocking connect, bounded by connect_timeout in the
// conninfo) takes time. Without an event loop, Wait(timeout) polls the
// socket. A server that goes away makes the socket readable (end of stream),
// so the next Drain() notices at once; when it cannot reconnect, socket() is
// -1 and the caller retries Drain() from a timer.
//
// Notifications carry no history: a listener that was disconnected may have
// missed some. Drain() reconnects a broken connection (and LISTENs again)
// itself; when it did, DrainResult::resubscribed is true and the consumer
// should treat every channel as possibly changed (re-read heads with
// ChannelLog::Channels()). socket() may be another descriptor after that, or
// -1 while disconnected.
//
// Not thread-safe: one thread (the event loop's) uses a listener.
class PostgresAppendListener {
 public:
  using Callback = std::function<void(const ChannelId& channel_id, uint64_t head_seq)>;
  struct DrainResult {
    size_t notifications = 0;   // delivered to the callback by this call
    bool resubscribed = false;  // reconnected: some notifications may be lost
  };

  // Connects and LISTENs. kPersistence when the server cannot be reached.
  static Result<std::unique_ptr<PostgresAppendListener>> Open(const std::string& conninfo);
  ~PostgresAppendListener();
  PostgresAppendListener(const PostgresAppendListener&) = delete;
  PostgresAppendListener& operator=(const PostgresAppendListener&) = delete;

  // The connection's socket, to wait on for readability; -1 when disconnected.
  int socket() const;
  // Reads what has arrived and calls `callback` once per notification, in
  // the order of the commits. A payload that does not parse is skipped and
  // counted in malformed(). kPersistence when the connection is broken and
  // reconnecting failed (the next call tries again).
  Result<DrainResult> Drain(const Callback& callback);
  // Waits up to `timeout` for the socket to become readable. Ok also on
  // timeout; kPersistence when disconnected.
  Status Wait(std::chrono::milliseconds timeout);
  uint64_t malformed() const { return malformed_; }

 private:
  PostgresAppendListener() = default;
  Status Connect();
  void Deliver(const Callback& callback, DrainResult& result);
  ::pg_conn* conn_ = nullptr;
  std::string conninfo_;
  uint64_t malformed_ = 0;
};

}  // namespace sds::catchup

#endif  // SDS_POSTGRES_CHANNEL_LOG_H_
