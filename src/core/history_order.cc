// The order of the local log (the history), Config::history_order: delivery
// order (the default, as nim-sds keeps it), or Lamport timestamp then
// ascending message id, as the specification requires ("insert the ID into
// the local log by Lamport order", "Resolve Conflicts") and @waku/sds does.
// The order decides which ids the causal history carries (the last
// max_causal_history) and which one leaves first when the history is full
// (the first). Delivery order is the default because a message that arrives
// late keeps being advertised: under Lamport order it falls outside the
// causal history window at once, and peers that missed it as well may never
// learn that it exists (the simulator's lossy scenarios lose messages under
// SDS-R that delivery order delivers).
#include <algorithm>
#include <tuple>

#include "core/reliability_manager_impl.h"

namespace sds {

using internal::ChannelState;

namespace {

bool LamportThenIdBefore(const ChannelState::HistoryMap::value_type* a,
                         const ChannelState::HistoryMap::value_type* b) {
  return std::tie(a->second.lamport_timestamp, a->first) <
         std::tie(b->second.lamport_timestamp, b->first);
}

}  // namespace

void ReliabilityManager::Impl::InsertInHistoryOrder(ChannelState& channel,
                                                    ChannelState::HistoryMap::value_type* entry) {
  auto& order = channel.history_order;
  if (config_.history_order == HistoryOrder::kDelivery) {
    order.push_back(entry);
    return;
  }
  // Messages mostly arrive in Lamport order: search from the back.
  auto position = order.end();
  while (position != order.begin() && LamportThenIdBefore(entry, *std::prev(position))) {
    --position;
  }
  order.insert(position, entry);
}

void ReliabilityManager::Impl::SortLoadedHistory(ChannelState& channel) {
  if (config_.history_order == HistoryOrder::kDelivery) return;
  std::stable_sort(channel.history_order.begin(), channel.history_order.end(), LamportThenIdBefore);
}

}  // namespace sds
