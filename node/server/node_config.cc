#include "node_config.h"

#include <CLI/CLI.hpp>
#include <thread>

#include "sds/log_service.h"

namespace sds::node {

void AddNodeFlags(CLI::App& app, NodeConfig& c) {
  app.set_config("--config", "", "Read flags from this TOML/INI file (keys are the flag names)");
  app.add_option("--listen", c.listen_address, "Address to listen on")->capture_default_str();
  app.add_option("--port", c.port, "TCP port for HTTP and WebSocket (0: ephemeral)")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "I/O threads (0: one per core)")->capture_default_str();
  app.add_option("--shutdown-grace-ms", c.shutdown_grace_ms,
                 "On SIGTERM/SIGINT, how long in-flight requests may take to finish")
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();

  StorageConfig& s = c.storage;
  app.add_option("--database", s.database, "SQLite file of the channel log")->capture_default_str();
  app.add_flag("--memory", s.memory, "Keep the log in memory (lost on exit; for tests)");
  app.add_option("--postgres", s.postgres,
                 "PostgreSQL connection string (libpq key=value or postgresql:// URI): keep "
                 "the log there, shared with every node on the same database");
  app.add_flag("--sync-full", s.sync_full, "SQLite synchronous=FULL (durable across power loss)");
  app.add_option("--retention-max-age-s", s.retention_max_age_s,
                 "Drop entries older than this (0: never)")
      ->capture_default_str();
  app.add_option("--retention-max-entries", s.retention_max_entries,
                 "Entries kept per channel (0: unlimited)")
      ->capture_default_str();
  app.add_option("--retention-max-bytes", s.retention_max_bytes,
                 "Payload bytes kept per channel (0: unlimited)")
      ->capture_default_str();
  app.add_option("--retention-max-bytes-total", s.retention_max_bytes_total,
                 "Payload bytes kept over all channels (0: unlimited)")
      ->capture_default_str();

  LimitsConfig& l = c.limits;
  app.add_option("--max-body-bytes", l.max_body_bytes,
                 "Largest HTTP request body or WebSocket message (413 above)")
      ->capture_default_str();
  app.add_option("--max-header-bytes", l.max_header_bytes, "Largest HTTP request header block")
      ->capture_default_str();
  app.add_option("--max-entries-per-page", l.max_entries_per_page,
                 "Most entries in a Sync page, a Snapshot channel or a Backfill (1..1000)")
      ->capture_default_str();
  app.add_option("--max-channels-per-request", l.max_channels_per_request,
                 "Most channels in a Sync, Snapshot or subscribe request")
      ->capture_default_str();
  app.add_option("--max-messages-per-publish", l.max_messages_per_publish,
                 "Most messages in one publish request")
      ->capture_default_str();
  app.add_option("--max-connections", l.max_connections,
                 "Open connections (HTTP and WebSocket); more get 503")
      ->capture_default_str();
  app.add_option("--max-subscribers-per-channel", l.max_subscribers_per_channel,
                 "WebSocket subscribers of one channel")
      ->capture_default_str();
  app.add_option("--max-subscriptions-per-connection", l.max_subscriptions_per_connection,
                 "Channels one WebSocket may subscribe to")
      ->capture_default_str();
  app.add_option("--max-subscriber-queue-frames", l.max_subscriber_queue_frames,
                 "Frames queued for one subscriber before it is disconnected as slow")
      ->capture_default_str();
  app.add_option("--max-subscriber-queue-bytes", l.max_subscriber_queue_bytes,
                 "Bytes queued for one subscriber before it is disconnected as slow")
      ->capture_default_str();
  app.add_option("--slow-subscriber-grace-ms", l.slow_subscriber_grace_ms,
                 "How long a slow subscriber has to read its close frame")
      ->capture_default_str();
  app.add_option("--http-idle-timeout-s", l.http_idle_timeout_s,
                 "Close a keep-alive HTTP connection idle this long")
      ->capture_default_str();
  app.add_option("--ws-idle-timeout-s", l.ws_idle_timeout_s,
                 "Close a WebSocket silent this long (pings keep live ones open)")
      ->capture_default_str();
  app.add_option("--rate-limit-per-s", l.rate_limit_per_s,
                 "Requests per second per client address (token bucket; 0: no limit); 429 above")
      ->capture_default_str();
  app.add_option("--rate-limit-burst", l.rate_limit_burst, "Token bucket size per client address")
      ->capture_default_str();
  app.add_option("--rate-limit-max-clients", l.rate_limit_max_clients,
                 "Client addresses the rate limiter tracks at once")
      ->capture_default_str();
}

Status Validate(const NodeConfig& c) {
  auto bad = [](const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); };
  const LimitsConfig& l = c.limits;
  if (l.max_body_bytes == 0 || l.max_body_bytes > (size_t{64} << 20))
    return bad("--max-body-bytes must be in 1..67108864");
  if (l.max_header_bytes < 512) return bad("--max-header-bytes must be at least 512");
  if (l.max_entries_per_page == 0 ||
      l.max_entries_per_page > catchup::LogServiceConfig::kMaxEntriesLimit)
    return bad("--max-entries-per-page must be in 1..1000");
  if (l.max_channels_per_request == 0) return bad("--max-channels-per-request must be positive");
  if (l.max_messages_per_publish == 0) return bad("--max-messages-per-publish must be positive");
  if (l.max_connections == 0) return bad("--max-connections must be positive");
  if (l.max_subscribers_per_channel == 0)
    return bad("--max-subscribers-per-channel must be positive");
  if (l.max_subscriptions_per_connection == 0)
    return bad("--max-subscriptions-per-connection must be positive");
  if (l.max_subscriber_queue_frames == 0 || l.max_subscriber_queue_bytes == 0)
    return bad("--max-subscriber-queue-frames and -bytes must be positive");
  if (l.http_idle_timeout_s == 0 || l.ws_idle_timeout_s == 0)
    return bad("idle timeouts must be positive");
  if (l.rate_limit_per_s < 0 || l.rate_limit_burst < 1)
    return bad("--rate-limit-per-s must be >= 0 and --rate-limit-burst >= 1");
  if (l.rate_limit_max_clients == 0) return bad("--rate-limit-max-clients must be positive");
  if (!c.storage.memory && c.storage.database.empty()) return bad("--database is empty");
  if (!c.storage.postgres.empty()) {
#ifndef SDS_WITH_POSTGRES
    return bad("--postgres: this sds-node was built without PostgreSQL (SDS_WITH_POSTGRES=OFF)");
#endif
    if (c.storage.memory) return bad("--postgres and --memory exclude each other");
    if (c.storage.sync_full)
      return bad("--sync-full is a SQLite setting; PostgreSQL commits durably");
  }
  return Status::Ok();
}

unsigned ThreadCount(const NodeConfig& config) {
  if (config.threads != 0) return config.threads;
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

}  // namespace sds::node
