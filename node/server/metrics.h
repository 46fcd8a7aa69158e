// NodeMetrics: the node's own counters, rendered with the log service's and
// the log's state in Prometheus text format (GET /v1/metrics).
#ifndef SDS_NODE_SERVER_METRICS_H_
#define SDS_NODE_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "sds/channel_log.h"
#include "sds/log_service.h"

namespace sds::node {

class NodeMetrics {
 public:
  // One request answered: `endpoint` is a route name ("sync", ...) or
  // "unknown"; `status` its HTTP status.
  void CountRequest(const std::string& endpoint, unsigned status);
  void AddBytesOut(uint64_t bytes) { bytes_out_ += bytes; }
  void ObserveAppend(std::chrono::nanoseconds latency, size_t messages);
  void CountAppended(uint64_t n) { appended_ += n; }
  void CountRejected(uint64_t n) { rejected_ += n; }
  void CountRateLimited() { ++rate_limited_; }
  void CountConnectionRejected() { ++connections_rejected_; }
  void CountSlowSubscriber() { ++slow_subscribers_; }
  void CountLiveFrames(uint64_t n) { live_frames_ += n; }
  // Append notifications from other nodes on the same database, and
  // reconnections of the listener that receives them.
  void CountRelayNotifications(uint64_t n) { relay_notifications_ += n; }
  void CountRelayReconnect() { ++relay_reconnects_; }
  void ConnectionOpened() { ++connections_; }
  void ConnectionClosed() { --connections_; }
  void SubscriberAdded() { ++subscribers_; }
  void SubscriberRemoved() { --subscribers_; }

  int64_t connections() const { return connections_; }
  int64_t subscribers() const { return subscribers_; }
  uint64_t slow_subscribers() const { return slow_subscribers_; }
  uint64_t rate_limited() const { return rate_limited_; }
  uint64_t requests(const std::string& endpoint, unsigned status) const;

  // The whole exposition; `log` supplies head/low per channel (at most
  // `max_channels` of them, the rest summed up).
  std::string Render(const catchup::LogServiceCounters& service, catchup::ChannelLog& log,
                     size_t max_channels = 1000) const;

  // Append latency histogram bucket bounds, in seconds.
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0};

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, uint64_t> requests_;
  std::array<uint64_t, kLatencyBuckets.size() + 1> latency_counts_{};
  double latency_sum_s_ = 0;
  uint64_t latency_count_ = 0;

  std::atomic<uint64_t> bytes_out_{0};
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> rate_limited_{0};
  std::atomic<uint64_t> connections_rejected_{0};
  std::atomic<uint64_t> slow_subscribers_{0};
  std::atomic<uint64_t> live_frames_{0};
  std::atomic<uint64_t> relay_notifications_{0};
  std::atomic<uint64_t> relay_reconnects_{0};
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> subscribers_{0};
};

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_METRICS_H_
