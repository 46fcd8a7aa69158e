// Node: everything sds-node does per request, without sockets: the router of
// the HTTP API under /v1/, publish with in-process fan-out (Hub), the rate
// limiter and the metrics. Server (server.h) feeds it requests parsed by
// Beast; the fuzz target and unit tests call Handle() directly.
//
//   POST /v1/sync | snapshot | fetch | backfill   catchup.proto messages
//   POST /v1/publish                               node.proto PublishRequest
//   GET  /v1/subscribe (WebSocket upgrade)         see ws_session.h
//   GET  /v1/healthz                               "ok" (503 while draining)
//   GET  /v1/metrics                               Prometheus text
//
// Bodies: Content-Type application/x-protobuf (also application/protobuf,
// application/octet-stream) or application/json (the proto3 JSON mapping,
// node_messages.h). The answer is JSON when Accept asks for
// application/json, or the body was JSON and Accept does not ask for
// protobuf. Errors: 400 undecodable or unsupported version, 404 unknown
// path, 405 wrong method, 413 over a limit, 415 other content types, 422 a
// publish none of whose messages could be stored, 429 rate limited, 500 the
// log failed; the body is a ServiceError (protobuf envelope or
// {"error":{...}}) saying what was wrong. A rejected request changes nothing.
#ifndef SDS_NODE_SERVER_NODE_H_
#define SDS_NODE_SERVER_NODE_H_

#include <atomic>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "hub.h"
#include "metrics.h"
#include "node_config.h"
#include "node_messages.h"
#include "rate_limiter.h"
#include "sds/log_service.h"

namespace sds::node {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class Node {
 public:
  using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

  // kInvalidArgument for a bad config.
  static Result<std::unique_ptr<Node>> Create(const NodeConfig& config,
                                              std::shared_ptr<catchup::ChannelLog> log);
  ~Node();

  // Answers one request from `client` (its address, for the rate limiter).
  HttpResponse Handle(const HttpRequest& request, const std::string& client);

  // Takes a rate-limit token for `client`; false: answer 429.
  bool AllowRequest(const std::string& client);
  HttpResponse RateLimited(const std::string& client, unsigned version, bool keep_alive);
  // An error answer outside the router (e.g. a parse failure in Server).
  HttpResponse Error(unsigned status, catchup::ServiceErrorCode code, const std::string& message,
                     unsigned version, bool json);

  // Appends the request's messages in one batch and fans the appended ones
  // out to the channel's subscribers, in seq order (publishes are serialised
  // so that live batches leave in the order the log assigned seqs).
  Result<PublishResponse> Publish(const PublishRequest& request);

  // Another node on the same database appended to `channel_id`, whose head
  // is now `head_seq` (a PostgreSQL notification): fans out to this node's
  // subscribers what it has not fanned out yet, read from the log. Heads at
  // or below what this node already fanned out (its own appends) do nothing.
  void RelayAppended(const ChannelId& channel_id, uint64_t head_seq);
  // After notifications may have been lost (the listener reconnected): every
  // channel's head from the log, relayed as above.
  void RelayAllChannels();

  void set_draining() { draining_ = true; }
  void set_clock(SteadyClock clock) { clock_ = std::move(clock); }

  const NodeConfig& config() const { return config_; }
  catchup::LogService& service() { return *service_; }
  catchup::ChannelLog& log() { return *log_; }
  Hub& hub() { return hub_; }
  NodeMetrics& metrics() { return metrics_; }

 private:
  Node(const NodeConfig& config, std::shared_ptr<catchup::ChannelLog> log,
       std::unique_ptr<catchup::LogService> service);
  HttpResponse Route(const HttpRequest& request, const std::string& endpoint,
                     const std::string& client);
  HttpResponse HandlePublish(const HttpRequest& request, bool json_in, bool json_out);
  template <typename Request, typename Response>
  HttpResponse HandleCatchup(
      const HttpRequest& request, bool json_in, bool json_out,
      Bytes (catchup::LogService::*handle_bytes)(ByteSpan),
      Result<Request> (*decode)(ByteSpan, const catchup::ProtocolLimits&),
      Result<Request> (*from_json)(const nlohmann::json&, const catchup::ProtocolLimits&),
      catchup::Answer<Response> (catchup::LogService::*answer)(const Request&),
      Bytes (*encode)(const Response&));
  HttpResponse Reply(unsigned status, std::string body, const char* content_type, unsigned version);
  // Reads seqs first..last of `channel` and delivers them to its subscribers;
  // publish_mutex_ held, so live batches leave in seq order.
  void FanOutLocked(const ChannelId& channel, uint64_t first, uint64_t last);
  // The first seq up to `last` of `channel` this node has not fanned out,
  // at most a page (max_entries_per_page) before `last`; above `last` when
  // everything up to it went out. publish_mutex_ held.
  uint64_t FirstNotFannedOut(const ChannelId& channel, uint64_t last) const;

  NodeConfig config_;
  std::shared_ptr<catchup::ChannelLog> log_;
  std::unique_ptr<catchup::LogService> service_;
  Hub hub_;
  NodeMetrics metrics_;
  RateLimiter limiter_;
  PublishLimits publish_limits_;
  SteadyClock clock_;
  std::mutex publish_mutex_;
  // Per channel, the highest seq handed to the hub (own appends and relayed
  // ones), under publish_mutex_.
  std::unordered_map<ChannelId, uint64_t> fanned_out_;
  std::atomic<bool> draining_{false};
};

// Beast 1.74 speaks boost::string_view.
inline std::string_view ToStd(boost::beast::string_view s) { return {s.data(), s.size()}; }

// Content types the router speaks.
inline constexpr const char* kProtobufType = "application/x-protobuf";
inline constexpr const char* kJsonType = "application/json";

// Builds the log service configuration the node's limits ask for.
catchup::LogServiceConfig ServiceConfigFrom(const NodeConfig& config);

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_NODE_H_
