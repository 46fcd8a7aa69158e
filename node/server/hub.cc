#include "hub.h"

#include <algorithm>

namespace sds::node {

Status Hub::Add(const ChannelId& channel_id, const std::shared_ptr<LiveSink>& sink) {
  std::lock_guard lock(mutex_);
  auto& list = channels_[channel_id];
  if (list.size() >= max_per_channel_) {
    if (list.empty()) channels_.erase(channel_id);
    return Status(ErrorCode::kInvalidArgument,
                  "channel has " + std::to_string(max_per_channel_) +
                      " subscribers already (--max-subscribers-per-channel)");
  }
  list.push_back({sink.get(), sink});
  return Status::Ok();
}

void Hub::Remove(const ChannelId& channel_id, const LiveSink* sink) {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) return;
  std::erase_if(it->second, [&](const Subscriber& s) { return s.key == sink; });
  if (it->second.empty()) channels_.erase(it);
}

bool Hub::HasSubscribers(const ChannelId& channel_id) const {
  std::lock_guard lock(mutex_);
  return channels_.contains(channel_id);
}

size_t Hub::subscribers(const ChannelId& channel_id) const {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel_id);
  return it == channels_.end() ? 0 : it->second.size();
}

void Hub::Deliver(const std::shared_ptr<const LiveBatch>& batch) {
  std::vector<std::shared_ptr<LiveSink>> sinks;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(batch->channel_id);
    if (it == channels_.end()) return;
    for (const Subscriber& s : it->second) {
      if (auto sink = s.sink.lock()) sinks.push_back(std::move(sink));
    }
  }
  for (const auto& sink : sinks) sink->OnLive(batch);
}

}  // namespace sds::node
