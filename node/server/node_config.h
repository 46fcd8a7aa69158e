// NodeConfig: every setting of sds-node, with the defaults `sds-node --help`
// documents. Flags and the optional config file (--config, TOML or INI, the
// same names without dashes) both land here through AddNodeFlags().
#ifndef SDS_NODE_SERVER_NODE_CONFIG_H_
#define SDS_NODE_SERVER_NODE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "sds/status.h"

namespace CLI {
class App;
}

namespace sds::node {

struct StorageConfig {
  // SQLite file of the channel log (created if missing).
  std::string database = "sds-node.db";
  // Keep the log in memory (tests, demos): lost with the process.
  bool memory = false;
  // libpq connection string (key=value pairs or a postgresql:// URI) of a
  // PostgreSQL database holding the log instead of SQLite. Several nodes on
  // one database serve the same channels: seqs are assigned there, appends
  // on any node reach the subscribers of every node (LISTEN/NOTIFY), and
  // clients keep their cursors when they move between nodes.
  std::string postgres;
  // SQLite synchronous=FULL: an appended message survives power loss too.
  bool sync_full = false;
  // Retention; 0 disables a limit.
  uint64_t retention_max_age_s = 48 * 3600;
  uint64_t retention_max_entries = 10000;              // per channel
  uint64_t retention_max_bytes = uint64_t{256} << 20;  // payload bytes per channel
  uint64_t retention_max_bytes_total = uint64_t{4} << 30;
};

struct LimitsConfig {
  size_t max_body_bytes = 1 << 20;         // one HTTP request body / WebSocket message
  size_t max_header_bytes = 8 << 10;       // HTTP request line + headers
  uint32_t max_entries_per_page = 1000;    // Sync page, Snapshot K, Backfill limit (<= 1000)
  size_t max_channels_per_request = 1000;  // Sync, Snapshot, subscribe
  size_t max_messages_per_publish = 1000;
  size_t max_connections = 1024;  // HTTP and WebSocket together
  size_t max_subscribers_per_channel = 1000;
  size_t max_subscriptions_per_connection = 1000;
  size_t max_subscriber_queue_frames = 256;             // per WebSocket subscriber
  size_t max_subscriber_queue_bytes = size_t{8} << 20;  // per WebSocket subscriber
  // A subscriber whose queue overflowed gets a close frame; if it does not read
  // it within this time its socket is closed.
  uint32_t slow_subscriber_grace_ms = 2000;
  uint32_t http_idle_timeout_s = 30;  // a keep-alive connection without a request
  uint32_t ws_idle_timeout_s = 300;   // a WebSocket without traffic (pings are sent)
  // Token bucket per client address over HTTP requests and WebSocket upgrades;
  // rate 0 disables it.
  double rate_limit_per_s = 500;
  double rate_limit_burst = 1000;
  size_t rate_limit_max_clients = 100000;  // addresses tracked at once
};

struct NodeConfig {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8080;               // 0: an ephemeral port (see Server::port())
  unsigned threads = 0;               // 0: one per core
  uint32_t shutdown_grace_ms = 5000;  // in-flight work gets this long on SIGTERM
  std::string log_level = "info";     // trace, debug, info, warn, error, off
  StorageConfig storage;
  LimitsConfig limits;
};

// Registers every flag (and --config) on `app`, bound to `config`.
void AddNodeFlags(CLI::App& app, NodeConfig& config);

// kInvalidArgument naming the first setting out of range.
Status Validate(const NodeConfig& config);

// The number of I/O threads `config` asks for (threads, or the core count).
unsigned ThreadCount(const NodeConfig& config);

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_NODE_CONFIG_H_
