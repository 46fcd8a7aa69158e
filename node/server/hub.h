// Hub: who is subscribed to which channel, and the in-process fan-out of the
// node's own appends to them (the log is the truth: a subscriber that misses
// a live batch catches up from the log by its cursor).
//
// Deliver() copies the channel's subscribers under the lock and calls them
// without it; a subscriber's OnLive must not block (a WebSocket session posts
// the batch to its strand and queues it within its bounds).
#ifndef SDS_NODE_SERVER_HUB_H_
#define SDS_NODE_SERVER_HUB_H_

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sds/catchup_protocol.h"
#include "sds/status.h"

namespace sds::node {

// Entries just appended to one channel, dense and ascending, with the JSON
// frame every subscriber that needs all of them can send as is.
struct LiveBatch {
  ChannelId channel_id;
  catchup::Epoch epoch{};
  std::vector<catchup::Entry> entries;
  std::shared_ptr<const std::string> frame;
};

class LiveSink {
 public:
  virtual ~LiveSink() = default;
  virtual void OnLive(std::shared_ptr<const LiveBatch> batch) = 0;
};

class Hub {
 public:
  explicit Hub(size_t max_subscribers_per_channel)
      : max_per_channel_(max_subscribers_per_channel) {}

  // kInvalidArgument when the channel has max_subscribers_per_channel already.
  Status Add(const ChannelId& channel_id, const std::shared_ptr<LiveSink>& sink);
  void Remove(const ChannelId& channel_id, const LiveSink* sink);
  bool HasSubscribers(const ChannelId& channel_id) const;
  size_t subscribers(const ChannelId& channel_id) const;
  void Deliver(const std::shared_ptr<const LiveBatch>& batch);

 private:
  struct Subscriber {
    const LiveSink* key;
    std::weak_ptr<LiveSink> sink;
  };
  const size_t max_per_channel_;
  mutable std::mutex mutex_;
  std::unordered_map<ChannelId, std::vector<Subscriber>> channels_;
};

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_HUB_H_
