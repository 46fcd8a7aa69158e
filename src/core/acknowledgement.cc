// Acknowledgement review: a peer's message acknowledges ours by listing them
// in its causal history or, after bloom_ack_threshold hits, in its bloom filter.
#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "core/reliability_manager_impl.h"

namespace sds {

using internal::ChannelState;

void ReliabilityManager::Impl::ReviewAcknowledgements(ChannelState& channel,
                                                      const DecodedMessage& decoded) {
  if (channel.outgoing.empty()) return;
  const Message& message = decoded.message;

  std::optional<PeerBloomView> bloom;
  if (message.bloom_filter && !message.bloom_filter->empty()) {
    auto view = decoded.dialect == Dialect::kNim
                    ? PeerBloomView::ParseNim(*message.bloom_filter, BloomLimits())
                    : PeerBloomView::ParseSpec(*message.bloom_filter, spec_bloom_params_);
    if (view.ok()) bloom = std::move(*view);
  }
  std::unordered_set<std::string_view> listed;
  listed.reserve(message.causal_history.size());
  for (const HistoryEntry& entry : message.causal_history) listed.insert(entry.message_id);

  for (auto it = channel.outgoing.begin(); it != channel.outgoing.end();) {
    bool acknowledged = listed.count(it->message_id) != 0;
    if (!acknowledged && bloom) {
      const BloomKey& key = bloom->dialect() == Dialect::kNim ? it->nim_key : it->spec_key;
      const bool counted = std::find(it->bloom_hit_by.begin(), it->bloom_hit_by.end(),
                                     message.message_id) != it->bloom_hit_by.end();
      if (!counted && bloom->Contains(key)) {
        // Hits are counted per distinct message: the same sync received
        // twice is one peer's one statement, not two.
        it->bloom_hit_by.push_back(message.message_id);
        ++it->bloom_hits;
        TouchOutgoing(channel, it->message_id);
        if (it->bloom_hits >= config_.bloom_ack_threshold) {
          acknowledged = true;
        } else {
          events_.push_back(
              MessagePossiblyAcknowledged{channel.channel_id, it->message_id, it->bloom_hits});
        }
      }
    }
    if (acknowledged) {
      events_.push_back(MessageAcknowledged{channel.channel_id, it->message_id});
      TouchOutgoing(channel, it->message_id);
      channel.outgoing_index.erase(it->message_id);
      it = channel.outgoing.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace sds
