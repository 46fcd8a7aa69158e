// sds-node: a store node for SDS catch-up and live relay (node/server/node.h).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "channel_log_factory.h"
#ifdef SDS_WITH_POSTGRES
#include "append_relay.h"
#endif
#include "node.h"
#include "server.h"

int main(int argc, char** argv) {
  sds::node::NodeConfig config;
  CLI::App app{
      "sds-node: keeps a log per SDS channel and serves catch-up (Sync, Snapshot, Fetch, "
      "Backfill), publish and live WebSocket subscriptions over HTTP on one port."};
  sds::node::AddNodeFlags(app, config);
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_logger_mt("sds-node");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  if (sds::Status valid = sds::node::Validate(config); !valid.ok()) {
    spdlog::error("event=bad_config error=\"{}\"", valid.message());
    return 2;
  }

  // SIGTERM and SIGINT are taken by sigwait below: block them before any
  // thread starts, so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto log = sds::node::OpenChannelLog(config.storage);
  if (!log.ok()) {
    spdlog::error("event=open_log_failed storage={} error=\"{}\"",
                  sds::node::DescribeStorage(config.storage), log.status().ToString());
    return 1;
  }
  auto node = sds::node::Node::Create(config, *log);
  if (!node.ok()) {
    spdlog::error("event=bad_config error=\"{}\"", node.status().ToString());
    return 2;
  }
  std::shared_ptr<sds::node::Node> shared_node = std::move(*node);
#ifdef SDS_WITH_POSTGRES
  // Several nodes on one database: what the others append reaches our
  // subscribers through this listener.
  std::unique_ptr<sds::node::AppendRelay> relay;
  if (!config.storage.postgres.empty()) {
    auto started = sds::node::AppendRelay::Start(config.storage.postgres, shared_node);
    if (!started.ok()) {
      spdlog::error("event=append_listener_failed error=\"{}\"", started.status().ToString());
      return 1;
    }
    relay = std::move(*started);
  }
#endif
  auto server = sds::node::Server::Start(shared_node);
  if (!server.ok()) {
    spdlog::error("event=listen_failed error=\"{}\"", server.status().ToString());
    return 1;
  }
  spdlog::info("event=listening address={} port={} threads={} storage={}", config.listen_address,
               (*server)->port(), sds::node::ThreadCount(config),
               sds::node::DescribeStorage(config.storage));
  // For scripts and tests started with --port 0: the port on stdout.
  std::printf("listening on %s:%u\n", config.listen_address.c_str(), (*server)->port());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("event=shutdown signal={}", received == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Stop();
  server->reset();
#ifdef SDS_WITH_POSTGRES
  relay.reset();
#endif
  shared_node.reset();
  log->reset();  // the database is closed here
  spdlog::info("event=stopped");
  spdlog::shutdown();
  return 0;
}
